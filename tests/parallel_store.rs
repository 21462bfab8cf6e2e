//! The parallel paths into and out of the store: `import` parses on workers while one thread
//! writes, and reopening a store parses its rows on workers. Both must give exactly what the
//! one-thread paths give: the same rows in the same order, the same problem lines, the same
//! model, row ids as origins and sent/local marks on the right calls.

mod common;

use std::ops::ControlFlow;
use std::path::Path;

use common::{generate, groupscope, stats_json};
use groupscope::model::{CallMark, Model};
use groupscope::source::visit::{Place, Visit, visit};
use groupscope::source::{LoadOptions, load, read_raw};
use groupscope::store::{NewEvent, Origin, Store};

fn import(store: &Path, input: &Path, threads: &str) -> String {
    let out = groupscope(&[
        "import",
        &input.display().to_string(),
        "--store",
        &store.display().to_string(),
        "--threads",
        threads,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn load_with(path: &Path, threads: usize) -> Model {
    let options = LoadOptions {
        threads,
        ..LoadOptions::default()
    };
    load(&[path.to_path_buf()], &options, &mut |_| {}).unwrap()
}

/// Every stored row, in rowid order: (rowid, origin, raw).
fn rows(store: &Path) -> Vec<(i64, Origin, String)> {
    let store = Store::open_read_only(store).unwrap();
    let mut out = Vec::new();
    store
        .for_each_event(|id, raw, origin| out.push((id, origin, raw.to_owned())))
        .unwrap();
    out
}

/// A model's group calls as comparable text, in model order, with where each came from.
fn calls(m: &Model) -> Vec<(String, String, i64, u64, CallMark)> {
    m.calls()
        .iter()
        .map(|c| {
            (
                m.str(m.group(c.group).id).to_owned(),
                m.user_label(c.user).to_owned(),
                c.time.utc_ms,
                c.origin.offset,
                c.mark,
            )
        })
        .collect()
}

#[test]
fn parallel_import_and_reopen_match_the_one_thread_paths() {
    let dir = tempfile::tempdir().unwrap();
    // ~6 MB: several chunks of input and of rows, with damaged lines spread through it.
    let args = [
        "--events",
        "6000",
        "--identify-fraction",
        "0.1",
        "--seed",
        "9",
    ];
    let Some(clean) = generate(dir.path(), "clean.jsonl", &args) else {
        return;
    };
    // Damaged lines in the second and third chunks, where line numbers must be shifted.
    let text = std::fs::read_to_string(&clean).unwrap();
    let mut damaged = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 2500 || i == 5000 {
            damaged.push_str("{\"type\":\"group\",\"userId\":\"u\"}\nnot json\n");
        }
        damaged.push_str(line);
        damaged.push('\n');
    }
    let jsonl = dir.path().join("ev.jsonl");
    std::fs::write(&jsonl, damaged).unwrap();
    let one = dir.path().join("one.db");
    let many = dir.path().join("many.db");
    let said_one = import(&one, &jsonl, "1");
    let said_many = import(&many, &jsonl, "3");
    assert_eq!(
        said_one.replace(&one.display().to_string(), "STORE"),
        said_many.replace(&many.display().to_string(), "STORE")
    );

    // The problem lines name the same lines as a one-thread visit of the file.
    let mut expected = Vec::new();
    visit(std::slice::from_ref(&jsonl), &mut |v| {
        if let Visit::Problem {
            place: Place::Line { line, .. },
            why,
        } = v
            && expected.len() < 10
        {
            expected.push(format!("  {}:{line}: {why}", jsonl.display()));
        }
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(expected.len(), 4);
    assert!(
        expected[2].contains(":5003: group call has no groupId"),
        "{expected:?}"
    );
    let listed: Vec<&str> = said_many.lines().skip(1).take(expected.len()).collect();
    assert_eq!(listed, expected);

    // The same rows in the same order.
    let (a, b) = (rows(&one), rows(&many));
    assert_eq!(a.len(), b.len());
    assert!(a == b, "stores differ");

    // Mark a few calls sent or local, then reopen with one and with several workers.
    let mut store = Store::open(&many).unwrap();
    for (i, origin) in [(1, Origin::Sent), (2, Origin::Local), (3, Origin::Sent)] {
        let raw = format!(
            r#"{{"type":"group","messageId":"composed-{i}","userId":"composer","groupId":"composed-group","traits":{{"n":{i}}},"timestamp":"2030-01-01T00:00:0{i}Z"}}"#
        );
        let message_id = format!("composed-{i}");
        let event = NewEvent {
            message_id: Some(&message_id),
            kind: "group",
            user_id: Some("composer"),
            anonymous_id: None,
            group_id: Some("composed-group"),
            event_ms: None,
            received_ms: None,
            origin,
            source: "composer",
            raw: &raw,
            layout: None,
        };
        match origin {
            Origin::Local => store.save_local(&event).unwrap(),
            _ => store.mark_sent(&event).unwrap(),
        };
    }
    drop(store);
    let serial = load_with(&many, 1);
    let parallel = load_with(&many, 4);
    assert_eq!(calls(&serial), calls(&parallel));
    assert_eq!(serial.counts(), parallel.counts());
    assert_eq!(
        serial.problems().iter().map(|p| p.line).collect::<Vec<_>>(),
        parallel
            .problems()
            .iter()
            .map(|p| p.line)
            .collect::<Vec<_>>()
    );
    let g = parallel.find_group("composed-group").unwrap();
    let marks: Vec<CallMark> = parallel.group_calls(g).map(|(_, c)| c.mark).collect();
    assert_eq!(marks, [CallMark::Sent, CallMark::Local, CallMark::Sent]);
    let loaded = parallel
        .calls()
        .iter()
        .filter(|c| c.mark == CallMark::Loaded)
        .count() as u64;
    assert_eq!(loaded, parallel.counts().group - 3);

    // Origins are row ids: every call reads back as the row it came from.
    let by_id: std::collections::HashMap<i64, &str> =
        b.iter().map(|(id, _, raw)| (*id, raw.as_str())).collect();
    for c in parallel.calls().iter().step_by(97) {
        let raw = read_raw(parallel.sources(), c.origin).unwrap();
        assert_eq!(Some(&raw.as_str()), by_id.get(&(c.origin.offset as i64)));
    }

    // And the store holds what the file holds.
    let from_file = stats_json(&[&jsonl]);
    let from_store = stats_json(&[&one]);
    for key in [
        "group_calls",
        "identify_calls",
        "users",
        "groups",
        "memberships",
    ] {
        assert_eq!(from_file[key], from_store[key], "{key}");
    }
}
