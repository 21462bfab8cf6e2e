//! groupscope: load RudderStack group calls into users, groups and trait histories, browse them
//! in a terminal, and compose new calls.
//!
//! Data flows one way: [`source`] reads inputs and hands [`event::WireEvent`]s to the
//! [`model`] builder; the [`store`] keeps events, drafts and the outbox in SQLite; [`send`] talks
//! to a data plane; [`ui`] draws the model and never does I/O on its own thread.

pub mod alloc;
pub mod cli;
pub mod compose;
pub mod config;
pub mod event;
pub mod model;
pub mod send;
pub mod source;
pub mod store;
pub mod ui;
