//! send (work in progress).
