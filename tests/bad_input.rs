//! Every kind of bad input gets a clear message (file:line and why), is skipped and counted,
//! and loading goes on; an unreadable path is one sentence and exit code 2.

mod common;

use std::io::Write;

use common::{groupscope, stats_json};
use serde_json::Value;

const GOOD: &str = r#"{"type":"group","messageId":"m-good","userId":"u1","groupId":"g1","traits":{"plan":"pro"},"timestamp":"2024-01-01T00:00:00Z"}"#;

/// Writes `GOOD`, then `bad`, then a second good line; returns the stats.
fn stats_around(bad: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(GOOD.as_bytes()).unwrap();
    f.write_all(b"\n").unwrap();
    f.write_all(bad).unwrap();
    f.write_all(b"\n").unwrap();
    f.write_all(
        GOOD.replace("m-good", "m-good-2")
            .replace("\"pro\"", "\"enterprise\"")
            .as_bytes(),
    )
    .unwrap();
    f.write_all(b"\n").unwrap();
    stats_json(&[&path])
}

fn assert_skipped(bad: &[u8], why: &str) {
    let s = stats_around(bad);
    assert_eq!(
        s["group_calls"],
        2,
        "both good lines load around {:?}",
        String::from_utf8_lossy(bad)
    );
    assert_eq!(s["bad_lines"], 1);
    let p = &s["first_problems"][0];
    assert!(p["at"].as_str().unwrap().ends_with("in.jsonl:2"), "{p}");
    assert!(
        p["why"].as_str().unwrap().contains(why),
        "{p} should say {why:?}"
    );
}

fn assert_accepted(line: &[u8], groups: u64) {
    let s = stats_around(line);
    assert_eq!(s["bad_lines"], 0, "{s}");
    assert_eq!(s["group_calls"], 3);
    assert_eq!(s["groups"], groups);
}

#[test]
fn bad_lines_are_reported_and_skipped() {
    assert_skipped(
        b"{\"type\":\"group\",\"userId\":\"u\",\"gro",
        "not valid JSON",
    );
    assert_skipped(b"this is not json", "not valid JSON");
    assert_skipped(b"[1,2,3]", "not an object");
    assert_skipped(b"42", "not an object");
    assert_skipped(b"", "empty line");
    assert_skipped(br#"{"type":"group","userId":"u"}"#, "no groupId");
    assert_skipped(
        br#"{"type":"group","groupId":"g"}"#,
        "neither userId nor anonymousId",
    );
    assert_skipped(
        br#"{"type":"group","userId":"u","groupId":"g","traits":[{"a":1}]}"#,
        "traits is an array",
    );
    assert_skipped(
        br#"{"type":"group","userId":"u","groupId":"g","traits":"x"}"#,
        "traits is a string",
    );
    assert_skipped(
        b"{\"type\":\"group\",\"userId\":\"\xff\xfe\",\"groupId\":\"g\"}",
        "invalid UTF-8",
    );
    let deep = format!(
        r#"{{"type":"group","userId":"u","groupId":"g","traits":{{"x":{}1{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_skipped(deep.as_bytes(), "traits could not be read");
}

#[test]
fn edge_cases_are_accepted() {
    let bom = format!("\u{feff}{}", GOOD.replace("m-good", "m-bom"));
    assert_accepted(bom.as_bytes(), 1);
    let crlf = format!("{}\r", GOOD.replace("m-good", "m-crlf"));
    assert_accepted(crlf.as_bytes(), 1);
    let long = format!(
        r#"{{"type":"group","messageId":"m-long","userId":"u1","groupId":"g1","traits":{{"description":"{}"}}}}"#,
        "é".repeat(50_000)
    );
    assert_accepted(long.as_bytes(), 1);
    assert_accepted(
        br#"{"type":"group","messageId":"m-num","userId":"u1","groupId":4242}"#,
        2,
    );
}

#[test]
fn an_oversized_line_is_skipped_without_stopping() {
    let huge = format!(
        r#"{{"type":"group","pad":"{}"}}"#,
        "x".repeat(17 * 1024 * 1024)
    );
    assert_skipped(huge.as_bytes(), "over the limit");
}

#[test]
fn a_truncated_gzip_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&GOOD.replace("m-good", &format!("m-{i}")));
        text.push('\n');
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let path = dir.path().join("cut.jsonl.gz");
    std::fs::write(&path, &gz[..gz.len() * 2 / 3]).unwrap();
    let s = stats_json(&[&path]);
    let calls = s["group_calls"].as_u64().unwrap();
    assert!(calls > 0 && calls < 2000, "{s}");
    // The cut-off last line is one problem, the early end of the input another.
    let whys: Vec<&str> = s["first_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["why"].as_str().unwrap())
        .collect();
    assert!(whys.iter().any(|w| w.contains("truncated gzip")), "{s}");
    assert!(whys.len() <= 2, "{s}");
}

#[test]
fn unreadable_or_foreign_paths_exit_2_with_one_sentence() {
    let missing = groupscope(&["stats", "/definitely/not/here.jsonl"]);
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("cannot read /definitely/not/here.jsonl"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("x.zip");
    std::fs::write(&zip, b"PK\x03\x04binary").unwrap();
    let out = groupscope(&["stats", zip.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not JSONL"));

    let usage = groupscope(&["stats"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn an_empty_file_is_an_empty_model() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.jsonl");
    std::fs::write(&path, b"").unwrap();
    let s = stats_json(&[&path]);
    assert_eq!(s["events"], 0);
    assert_eq!(s["bad_lines"], 0);
}
