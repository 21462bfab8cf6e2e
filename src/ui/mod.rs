//! Terminal UI infrastructure: actions and the key table, themes, the terminal guard, safe
//! display of untrusted text, the clipboard seam, the help overlay and the pane trait.

pub mod action;
pub mod clipboard;
pub mod component;
pub mod help;
pub mod keymap;
pub mod sanitize;
pub mod terminal;
pub mod theme;

pub mod app;
pub mod detail;
pub mod search;
pub mod status;
pub mod text;
pub mod tree;

#[cfg(test)]
mod testdata;
