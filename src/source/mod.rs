//! source (work in progress).

pub mod warehouse;
