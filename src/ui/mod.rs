//! ui (work in progress).
