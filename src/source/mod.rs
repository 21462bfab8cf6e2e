//! source (work in progress).
