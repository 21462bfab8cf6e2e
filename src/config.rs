//! Configuration file (work in progress).
