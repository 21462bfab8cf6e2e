//! The fuzz targets' checks, run in `cargo test` on every committed seed
//! (`tests/fuzz/seeds/<target>`) and on every input that ever made a target fail
//! (`tests/fuzz/regressions/<target>`, named after what it found). The long fuzzing runs are
//! `tests/fuzz/run.sh`.

#[path = "fuzz/checks.rs"]
mod checks;

use std::path::Path;

/// The files of `tests/fuzz/<kind>/<target>`, sorted, with their names.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// Runs `check` on the seeds and regressions of `target`; returns how many inputs ran.
fn run(target: &str, check: fn(&[u8])) -> usize {
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        for (name, data) in inputs(kind, target) {
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "{target}: {kind}/{name} fails its check");
            count += 1;
        }
    }
    count
}

#[test]
fn parse_line() {
    assert!(run("parse_line", checks::parse_line) >= 3);
}

#[test]
fn parse_batch() {
    assert!(run("parse_batch", checks::parse_batch) >= 4);
}

#[test]
fn event_time() {
    assert!(run("event_time", checks::event_time) >= 8);
}

#[test]
fn load_file() {
    assert!(run("load_file", checks::load_file) >= 4);
}

#[test]
fn warehouse() {
    assert!(run("warehouse", checks::warehouse) >= 1);
}

#[test]
fn draft() {
    assert!(run("draft", checks::draft) >= 3);
}

#[test]
fn classify() {
    assert!(run("classify", checks::classify_answer) >= 8);
}

#[test]
fn terminal() {
    assert!(run("terminal", checks::terminal) >= 7);
}
