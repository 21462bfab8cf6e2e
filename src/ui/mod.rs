//! Terminal UI infrastructure: actions and the key table, themes, the terminal guard, safe
//! display of untrusted text, the clipboard seam, the help overlay and the pane trait.
//! The explorer's panes build on these; nothing here knows about groups or users.
//!
//! The explorer itself: [`app`] (state and update), [`tree`] (the lazily flattened tree pane),
//! [`detail`], [`search`], [`status`] and [`run`] (the event loop). Composing: [`compose`] (the
//! form), [`outbox`] (the outbox and drafts view) and [`jobs`] (their background work).

pub mod action;
pub mod clipboard;
pub mod component;
pub mod help;
pub mod keymap;
pub mod sanitize;
pub mod terminal;
pub mod theme;

pub mod app;
pub mod compose;
pub mod detail;
pub mod jobs;
pub mod outbox;
pub mod run;
pub mod search;
pub mod status;
pub mod text;
pub mod tree;

#[cfg(test)]
mod compose_screens;
#[cfg(test)]
mod screens;
#[cfg(test)]
mod screenshot;
#[cfg(test)]
mod scripted;
#[cfg(test)]
mod scripted_compose;
#[cfg(test)]
mod scripted_load;
#[cfg(test)]
mod send_answers;
#[cfg(test)]
mod testdata;
