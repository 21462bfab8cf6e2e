//! Terminal UI infrastructure: actions and the key table, themes, the terminal guard, safe
//! display of untrusted text, the clipboard seam, the help overlay and the pane trait.
//! The explorer's panes build on these; nothing here knows about groups or users.
//!
//! The explorer itself: [`app`] (state and update), [`tree`] (the lazily flattened tree pane),
//! [`detail`], [`search`], [`status`] and [`run`] (the event loop).

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
pub mod run;
pub mod search;
pub mod status;
pub mod text;
pub mod tree;

#[cfg(test)]
mod screens;
#[cfg(test)]
mod screenshot;
#[cfg(test)]
mod scripted;
#[cfg(test)]
mod testdata;
