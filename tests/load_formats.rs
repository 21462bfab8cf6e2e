//! Loading every input format over generated data, checked against the generator's own counts
//! and against a slow, obviously-correct model built from `serde_json::Value`s.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use common::{generate, generate_with_counts, groupscope, stats_json};
use groupscope::model::{CallId, Model};
use groupscope::source::{LoadOptions, load};
use serde_json::Value;

fn sum_kinds(counts: &Value, prefix: &str) -> u64 {
    counts
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum()
}

fn load_paths(paths: &[&Path]) -> Model {
    let paths: Vec<_> = paths.iter().map(|p| p.to_path_buf()).collect();
    load(&paths, &LoadOptions::default(), &mut |_| {}).expect("load")
}

#[test]
fn damaged_jsonl_counts_match_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let Some((path, counts)) = generate_with_counts(
        dir.path(),
        "damaged.jsonl",
        &[
            "--events",
            "6000",
            "--bad-fraction",
            "0.05",
            "--identify-fraction",
            "0.1",
            "--seed",
            "11",
        ],
    ) else {
        return;
    };
    let s = stats_json(&[&path]);
    assert_eq!(s["lines"], 6000);
    assert_eq!(s["bad_lines"].as_u64().unwrap(), sum_kinds(&counts, "bad:"));
    // Every edge case is a group call that must be accepted.
    assert_eq!(
        s["group_calls"].as_u64().unwrap(),
        counts["group"].as_u64().unwrap() + sum_kinds(&counts, "edge:")
    );
    assert_eq!(s["identify_calls"], counts["identify"]);
    assert_eq!(s["other_events"], counts["track"]);
    // Problems name file:line and why.
    let first = &s["first_problems"][0];
    assert!(
        first["at"].as_str().unwrap().contains("damaged.jsonl:"),
        "{first}"
    );
    assert!(!first["why"].as_str().unwrap().is_empty());

    let strict = groupscope(&["stats", "--strict", path.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn gzip_and_plain_give_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--events",
        "3000",
        "--identify-fraction",
        "0.1",
        "--seed",
        "5",
    ];
    let Some(plain) = generate(dir.path(), "ev.jsonl", &args) else {
        return;
    };
    let mut gz_args = args.to_vec();
    gz_args.extend(["--format", "jsonl.gz"]);
    let gz = generate(dir.path(), "ev.jsonl.gz", &gz_args).unwrap();
    let a = load_paths(&[&plain]);
    let b = load_paths(&[&gz]);
    assert_eq!(a.counts(), b.counts());
    assert_eq!(summary(&a), summary(&b));
    // Raw calls read back from the gzip equal those from the plain file.
    let call = a.calls()[a.calls().len() / 2];
    let from_plain = groupscope::source::read_raw(a.sources(), call.origin).unwrap();
    let call_b = b.calls()[b.calls().len() / 2];
    let from_gz = groupscope::source::read_raw(b.sources(), call_b.origin).unwrap();
    assert_eq!(from_plain, from_gz);
    let v: Value = serde_json::from_str(&from_plain).unwrap();
    assert_eq!(v["type"], "group");
}

#[test]
fn arrays_batches_gateway_lines_directories_and_stdin_agree() {
    let dir = tempfile::tempdir().unwrap();
    let Some(plain) = generate(
        dir.path(),
        "ev.jsonl",
        &[
            "--events",
            "1200",
            "--identify-fraction",
            "0.1",
            "--seed",
            "9",
        ],
    ) else {
        return;
    };
    let text = std::fs::read_to_string(&plain).unwrap();
    let events: Vec<&str> = text.lines().collect();
    let reference = load_paths(&[&plain]);

    // One JSON array, pretty-printed over many lines.
    let array = dir.path().join("array.json");
    std::fs::write(&array, format!("[\n  {}\n]\n", events.join(",\n  "))).unwrap();
    // SDK batch bodies, 50 events a line.
    let batches = dir.path().join("batches.jsonl");
    let mut f = std::fs::File::create(&batches).unwrap();
    for chunk in events.chunks(50) {
        writeln!(
            f,
            "{{\"batch\":[{}],\"sentAt\":\"2024-01-01T00:00:00Z\"}}",
            chunk.join(",")
        )
        .unwrap();
    }
    // Gateway-backup lines, whose events sit in payload.batch next to a write key.
    let gateway = dir.path().join("gw.jsonl");
    let mut f = std::fs::File::create(&gateway).unwrap();
    for chunk in events.chunks(7) {
        writeln!(
            f,
            "{{\"userId\":\"a<<>>b<<>>c\",\"payload\":{{\"batch\":[{}],\"requestIP\":\"10.0.0.1\",\"writeKey\":\"2TopSecretWriteKey\",\"receivedAt\":\"2024-01-01T00:00:00Z\"}},\"createdAt\":\"2024-01-01T00:00:00Z\",\"messageId\":\"\"}}",
            chunk.join(",")
        )
        .unwrap();
    }
    // A directory tree of three files.
    let tree = dir.path().join("rudder-logs");
    std::fs::create_dir_all(tree.join("src1/2024-01-02")).unwrap();
    std::fs::create_dir_all(tree.join("src1/2024-01-01")).unwrap();
    let third = events.len() / 3;
    std::fs::write(
        tree.join("src1/2024-01-01/a.json"),
        events[..third].join("\n"),
    )
    .unwrap();
    std::fs::write(
        tree.join("src1/2024-01-01/b.json"),
        events[third..2 * third].join("\n"),
    )
    .unwrap();
    std::fs::write(
        tree.join("src1/2024-01-02/c.json"),
        events[2 * third..].join("\n"),
    )
    .unwrap();

    for path in [&array, &batches, &gateway, &tree] {
        let m = load_paths(&[path]);
        assert_eq!(
            m.counts().events,
            reference.counts().events,
            "{}",
            path.display()
        );
        assert_eq!(m.counts().bad_lines, 0, "{}", path.display());
        assert_eq!(summary(&m), summary(&reference), "{}", path.display());
    }

    // The gateway lines' raw calls never contain the write key.
    let m = load_paths(&[&gateway]);
    for c in m.calls().iter().take(50) {
        let raw = groupscope::source::read_raw(m.sources(), c.origin).unwrap();
        assert!(!raw.contains("2TopSecretWriteKey"));
        assert!(raw.starts_with('{') && raw.contains("\"groupId\""));
    }
    // Array elements get their own line numbers.
    let m = load_paths(&[&array]);
    assert_eq!(
        m.calls().iter().map(|c| c.origin.line).max(),
        Some(events.len() as u32 + 1)
    );

    // stdin
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(["stats", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["events"].as_u64().unwrap(), reference.counts().events);
}

#[test]
fn duplicated_message_ids_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(plain) = generate(dir.path(), "ev.jsonl", &["--events", "800", "--seed", "3"]) else {
        return;
    };
    let s = stats_json(&[&plain, &plain]);
    assert_eq!(s["events"], 800);
    assert_eq!(s["duplicates"], 800);
    assert_eq!(s["lines"], 1600);
}

/// Per group: calls, members and current traits, as plain data for comparisons.
fn summary(m: &Model) -> BTreeMap<String, (usize, usize, BTreeMap<String, String>)> {
    m.groups()
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let id = groupscope::model::GroupId(i as u32);
            let traits = g
                .traits
                .iter()
                .map(|t| (m.str(t.key).to_string(), m.str(t.value).to_string()))
                .collect();
            (
                m.str(g.id).to_string(),
                (g.calls.len(), m.members(id).len(), traits),
            )
        })
        .collect()
}

/// A call in the reference fold: time, receivedAt, input order, flat traits.
type RefCall = (i64, i64, usize, Vec<(String, String)>);

/// The obviously-correct path: every call as a `Value`, sorted with the spec's rules, folded
/// key by key. It must agree with the model on current traits and every change.
#[test]
fn model_agrees_with_a_slow_reference_fold() {
    let dir = tempfile::tempdir().unwrap();
    let Some(plain) = generate(
        dir.path(),
        "ev.jsonl",
        &[
            "--events",
            "5000",
            "--identify-fraction",
            "0.05",
            "--seed",
            "21",
            "--groups",
            "30",
        ],
    ) else {
        return;
    };
    let model = load_paths(&[&plain]);
    let text = std::fs::read_to_string(&plain).unwrap();
    // groupId → [(time, receivedAt, input order, flat traits, userId-or-anon)]
    let mut calls: BTreeMap<String, Vec<RefCall>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] != "group" {
            continue;
        }
        let ms = |k: &str| {
            v[k].as_str()
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.timestamp_millis())
        };
        let time = ms("timestamp").unwrap();
        let recv = ms("receivedAt").unwrap_or(i64::MIN);
        let mut flat = Vec::new();
        flatten("", &v["traits"], &mut flat);
        calls
            .entry(v["groupId"].as_str().unwrap().to_string())
            .or_default()
            .push((time, recv, i, flat));
    }
    assert_eq!(calls.len(), model.groups().len());
    for (gid, mut list) in calls {
        list.sort_by_key(|c| (c.0, c.1, c.2));
        let mut current: BTreeMap<String, String> = BTreeMap::new();
        let mut changes: BTreeMap<String, Vec<(i64, Option<String>, String)>> = BTreeMap::new();
        for (time, _, _, flat) in &list {
            for (k, v) in flat {
                let old = current.get(k).cloned();
                if old.as_deref() != Some(v.as_str()) {
                    changes
                        .entry(k.clone())
                        .or_default()
                        .push((*time, old, v.clone()));
                    current.insert(k.clone(), v.clone());
                }
            }
        }
        let g = model.find_group(&gid).unwrap();
        let got: BTreeMap<String, String> = model
            .group(g)
            .traits
            .iter()
            .map(|t| (model.str(t.key).to_string(), model.str(t.value).to_string()))
            .collect();
        assert_eq!(got, current, "current traits of {gid}");
        for (key, want) in changes {
            let got: Vec<(i64, Option<String>, String)> = model
                .trait_history(g, &key)
                .iter()
                .map(|c| {
                    (
                        model.call(CallId(c.call)).time.utc_ms,
                        c.old.map(|o| model.str(o).to_string()),
                        model.str(c.new).to_string(),
                    )
                })
                .collect();
            assert_eq!(got, want, "history of {gid}.{key}");
        }
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    if let Value::Object(map) = v {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(m) if !m.is_empty() => flatten(&key, v, out),
                _ => out.push((key, v.to_string())),
            }
        }
    }
}
