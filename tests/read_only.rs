//! groupscope never modifies a file it was asked to open: a JSONL or gzip input keeps its bytes
//! and its mtime through `stats`, `history`, `import` and the explorer's load and raw reads, even
//! when the file itself is read-only, and nothing new appears beside it.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{asset, groupscope};
use groupscope::source::{LoadOptions, load, read_raw};

/// Bytes, mtime and the directory's listing, to compare before and after.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    bytes: Vec<u8>,
    modified: SystemTime,
    listing: Vec<PathBuf>,
}

fn snapshot(path: &Path) -> Snapshot {
    let mut listing: Vec<PathBuf> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    listing.sort();
    Snapshot {
        bytes: std::fs::read(path).unwrap(),
        modified: std::fs::metadata(path).unwrap().modified().unwrap(),
        listing,
    }
}

/// Puts `path` an hour in the past and makes it read-only, so a write would show either way
/// (the mtime matters when tests run as root, who may write a read-only file).
fn freeze(path: &Path) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(f);
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(path, perms).unwrap();
}

/// Runs every reading command on `input` (the store lives in another directory) and checks
/// that the input and its directory are exactly as before.
fn assert_untouched_by_every_command(input: &Path, group: &str) {
    freeze(input);
    let before = snapshot(input);
    let store_dir = tempfile::tempdir().unwrap();
    let store = store_dir.path().join("s.db");
    let p = input.to_str().unwrap();
    let runs = [
        vec!["stats", p],
        vec!["stats", "--json", p],
        vec!["history", p, "--group", group],
        vec!["history", p, "--group", group, "--json"],
        vec!["import", p, "--store", store.to_str().unwrap()],
    ];
    for args in &runs {
        let out = groupscope(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let model = load(&[input.to_path_buf()], &LoadOptions::default(), &mut |_| {}).unwrap();
    assert!(!model.calls().is_empty());
    for call in model.calls() {
        read_raw(model.sources(), call.origin).unwrap();
    }
    assert_eq!(snapshot(input), before, "{}", input.display());
}

#[test]
fn a_jsonl_input_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sample.jsonl");
    std::fs::copy(asset("sample.jsonl"), &input).unwrap();
    assert_untouched_by_every_command(&input, "acct_brightwave");
}

#[test]
fn a_gzip_input_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("sample.jsonl.gz");
    let text = std::fs::read(asset("sample.jsonl")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &text).unwrap();
    std::fs::write(&input, gz.finish().unwrap()).unwrap();
    assert_untouched_by_every_command(&input, "acct_brightwave");
}

#[test]
fn a_json_document_input_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("calls.json");
    std::fs::write(
        &input,
        "[\n  {\"type\":\"group\",\"messageId\":\"d1\",\"userId\":\"u\",\"groupId\":\"g\",\n   \"traits\":{\"plan\":\"pro\"}}\n]\n",
    )
    .unwrap();
    assert_untouched_by_every_command(&input, "g");
}
