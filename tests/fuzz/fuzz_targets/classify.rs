//! Fuzz target `classify`: the checks are in `../checks.rs` (see there), shared with the
//! regression tests in `tests/fuzz_regressions.rs`.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::classify_answer(data));
