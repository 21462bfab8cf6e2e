//! What every fuzz target checks, shared with `tests/fuzz_regressions.rs` (which runs the seeds
//! and every input that ever failed through the same checks in `cargo test`). Each function
//! takes the fuzzer's bytes and panics when a promise is broken.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use groupscope::cli::json_safe;
use groupscope::compose::{Draft, MAX_EVENT_BYTES};
use groupscope::event::{
    EventError, EventKind, EventTime, parse_text, parse_text_unchecked, recheck,
};
use groupscope::model::display_value;
use groupscope::model::flatten::{FlatTraits, flatten_traits, flatten_user_traits};
use groupscope::send::{Outcome, Payload, Response, classify, classify_response, clean_message};
use groupscope::source::warehouse::{read_warehouse, warehouse_row_json};
use groupscope::source::{LoadOptions, load, read_raw};
use groupscope::ui::sanitize::{display_safe, is_unsafe_char};

/// Any bytes as JSONL: every line through the parser, every event's traits through the
/// flattener, as loading does; every event keeps the parser's promises.
pub fn parse_line(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        parse_text(line, &mut |r| {
            let Ok(ev) = r else { return };
            assert!(ev.raw.starts_with('{'));
            match ev.kind {
                EventKind::Group => {
                    assert!(ev.group_id.is_some());
                    assert!(ev.user_id.is_some() || ev.anonymous_id.is_some());
                    let mut out = FlatTraits::new();
                    if flatten_traits(ev.traits.map_or("{}", |t| t.get()), &mut out).is_ok() {
                        for (_, value) in out.iter() {
                            let _ = display_value(value);
                        }
                    }
                }
                EventKind::Identify => {
                    let _ = flatten_user_traits(
                        ev.traits.map(|t| t.get()),
                        ev.context_traits.map(|t| t.get()),
                    );
                }
                EventKind::Other => {}
            }
            let _ = ev.times.event_time();
        });
        unchecked_agrees(line);
    }
}

/// The parse that leaves a group call's traits unchecked gives `parse_text`'s answers: an
/// unchecked call whose traits are JSON is the same event; otherwise `recheck` gives the
/// line's error.
pub fn unchecked_agrees(line: &[u8]) {
    let mut checked = Vec::new();
    parse_text(line, &mut |r| checked.push(r.map(|ev| format!("{ev:?}"))));
    let mut unchecked = Vec::new();
    parse_text_unchecked(line, &mut |r, left_unchecked| {
        unchecked.push(match r {
            Ok(ev) if left_unchecked => {
                assert_eq!(ev.kind, EventKind::Group);
                let traits = ev.traits.map_or("{}", |t| t.get());
                if serde_json::from_str::<serde_json::Value>(traits).is_ok() {
                    Ok(format!("{ev:?}"))
                } else {
                    Err(recheck(ev.raw).expect_err("a line whose traits are not JSON fails"))
                }
            }
            r => r.map(|ev| format!("{ev:?}")),
        });
    });
    assert_eq!(unchecked, checked);
}

const KEY: &str = "FuZzWrItEkEy";

/// Any bytes as the inside of a list of events, wrapped (by the first byte) as an SDK batch
/// body, a gateway-backup line, a gateway payload's members, or a JSON array. One result per
/// element when the items form a list, and no event's raw text ever holds the write key.
pub fn parse_batch(data: &[u8]) {
    let Some((&how, rest)) = data.split_first() else {
        return;
    };
    let Ok(items) = std::str::from_utf8(rest) else {
        return;
    };
    if items.contains(KEY) {
        return;
    }
    let text = match how % 4 {
        0 => format!(r#"{{"batch":[{items}],"sentAt":"2024-01-01T00:00:00Z"}}"#),
        1 => format!(
            r#"{{"userId":"a<<>>b<<>>c","payload":{{"batch":[{items}],"writeKey":"{KEY}"}},"messageId":""}}"#
        ),
        2 => format!(r#"{{"userId":"x","payload":{{{items},"writeKey":"{KEY}"}}}}"#),
        _ => format!("[{items}]"),
    };
    let as_list = format!("[{items}]");
    let list: Option<Vec<&serde_json::value::RawValue>> = serde_json::from_str(&as_list).ok();
    let mut results = 0usize;
    parse_text(text.as_bytes(), &mut |r| {
        results += 1;
        match r {
            Ok(ev) => assert!(!ev.raw.contains(KEY), "{}", ev.raw),
            Err(EventError::InBatch { index, .. }) => assert!(index < results),
            Err(_) => {}
        }
    });
    if let (Some(list), 0 | 1 | 3) = (&list, how % 4) {
        assert_eq!(results, list.len(), "{text}");
    }
}

/// Any text as a timestamp: what parses prints and parses back to the same instant.
pub fn event_time(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(t) = EventTime::parse(text) else {
        return;
    };
    let printed = t.to_rfc3339();
    let _ = t.to_short();
    if t.to_datetime().is_some() {
        let again = EventTime::parse(&printed);
        assert_eq!(again, Some(t), "{text:?} printed as {printed}");
    }
}

/// A scratch path for this process, in memory when /dev/shm exists.
fn scratch(name: &str) -> PathBuf {
    let dir = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let thread = format!("{:?}", std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    dir.join(format!(
        "groupscope-fuzz-{name}-{}-{thread}",
        std::process::id()
    ))
}

fn remove_with_side_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    for side in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(side);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Any bytes as a file given to groupscope: content detection, gzip, JSONL, one-document JSON,
/// SQLite (store and warehouse readers), then every loaded call's raw JSON read back. Loading
/// may refuse the file, never panic.
pub fn load_file(data: &[u8]) {
    let path = scratch("load");
    remove_with_side_files(&path);
    std::fs::write(&path, data).expect("write the scratch file");
    let options = LoadOptions {
        threads: 1,
        ..LoadOptions::default()
    };
    if let Ok(model) = load(std::slice::from_ref(&path), &options, &mut |_| {}) {
        for call in model.calls() {
            let _ = read_raw(model.sources(), call.origin);
        }
        for call in model.identifies() {
            let _ = read_raw(model.sources(), call.origin);
        }
        for g in 0..model.groups().len() {
            let id = groupscope::model::GroupId(g as u32);
            let _ = model.group_name(id);
            for t in &model.group(id).traits {
                let _ = model.entry_changes(t);
            }
        }
    }
    remove_with_side_files(&path);
}

const NAMES: [&str; 16] = [
    "id",
    "user_id",
    "anonymous_id",
    "group_id",
    "timestamp",
    "context_traits_email",
    "context_library_name",
    "address_city",
    "address",
    "created_at",
    "first_name",
    "rudder_event",
    "uuid_ts",
    "context_",
    "name",
    "plan",
];
const TYPES: [&str; 6] = ["TEXT", "INTEGER", "REAL", "BOOLEAN", "BLOB", ""];

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn le8(bytes: &[u8]) -> [u8; 8] {
    let mut b = [0u8; 8];
    for (i, x) in bytes.iter().take(8).enumerate() {
        b[i] = *x;
    }
    b
}

/// Fuzz bytes as a warehouse table (pieces split at 0xFF: a header of (name, type) byte
/// pairs, then rows of values split at 0xFE, each a type byte and its bytes), written to
/// SQLite and read back: every row rebuilds into a JSON object (or is its own `rudder_event`
/// text) that the parser takes, and reads back the same alone.
pub fn warehouse(data: &[u8]) {
    use rusqlite::types::Value;
    let parts: Vec<&[u8]> = data.split(|&b| b == 0xff).collect();
    let Some((header, rows)) = parts.split_first() else {
        return;
    };
    let mut columns: Vec<(String, &str)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for pair in header.chunks(2).take(12) {
        let name = match pair[0] as usize {
            n if n < NAMES.len() * 8 => NAMES[n % NAMES.len()].to_owned(),
            n => format!("c{n}_{}", String::from_utf8_lossy(&pair[1..])),
        };
        let name = name.replace('\0', "");
        let ty = TYPES[*pair.get(1).unwrap_or(&0) as usize % TYPES.len()];
        if !name.is_empty() && seen.insert(name.to_lowercase()) {
            columns.push((name, ty));
        }
    }
    if seen.insert("group_id".into()) {
        columns.push(("group_id".into(), "TEXT"));
    }
    let path = scratch("wh");
    remove_with_side_files(&path);
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;")
        .unwrap();
    let cols: Vec<String> = columns
        .iter()
        .map(|(n, t)| format!("{} {t}", quote(n)))
        .collect();
    conn.execute_batch(&format!("CREATE TABLE groups ({})", cols.join(", ")))
        .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let marks = vec!["?"; columns.len()].join(", ");
        let mut insert = tx
            .prepare(&format!("INSERT INTO groups VALUES ({marks})"))
            .unwrap();
        for row in rows.iter().take(16) {
            let mut values: Vec<Value> = row
                .split(|&b| b == 0xfe)
                .map(|v| match v.split_first() {
                    None => Value::Null,
                    Some((t, rest)) => match t % 5 {
                        0 => Value::Null,
                        1 => Value::Integer(i64::from_le_bytes(le8(rest))),
                        2 => Value::Real(f64::from_le_bytes(le8(rest))),
                        3 => Value::Text(String::from_utf8_lossy(rest).into_owned()),
                        _ => Value::Blob(rest.to_vec()),
                    },
                })
                .collect();
            values.resize(columns.len(), Value::Null);
            insert.execute(rusqlite::params_from_iter(values)).unwrap();
        }
    }
    tx.commit().unwrap();
    drop(conn);

    let mut rows_seen = Vec::new();
    let summary = read_warehouse(&path, |row| {
        let mut results = 0;
        parse_text(row.json.as_bytes(), &mut |_| results += 1);
        let object = serde_json::from_str::<serde_json::Value>(row.json)
            .map(|v| v.is_object())
            .unwrap_or(false);
        rows_seen.push((row.rowid, row.json.to_owned(), object, results));
    })
    .expect("a table made here is read");
    assert!(summary.complete);
    let has_rudder_event = columns
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("rudder_event"));
    for (rowid, json, object, results) in rows_seen {
        assert!(object || has_rudder_event, "not a JSON object: {json}");
        assert!(results >= 1 || json.trim_start().starts_with('['), "{json}");
        assert_eq!(warehouse_row_json(&path, "groups", rowid).unwrap(), json);
    }
    remove_with_side_files(&path);
}

/// Ten bytes of clock (UTC ms and offset), then any JSON as a saved draft: validation never
/// panics, and a draft that validates becomes an event of at most 32 KB that the parser reads
/// as a group call and that can be sent.
pub fn draft(data: &[u8]) {
    if data.len() < 10 {
        return;
    }
    let (clock, json) = data.split_at(10);
    let Ok(draft) = serde_json::from_slice::<Draft>(json) else {
        return;
    };
    let utc_ms = i64::from_le_bytes(le8(clock)) % 253_402_300_799_000;
    let offset_min = i16::from_le_bytes([clock[8], clock[9]]) % (24 * 60);
    let now = EventTime { utc_ms, offset_min };
    let issues = draft.validate();
    for issue in &issues {
        let _ = issue.to_string();
    }
    match draft.to_event(now) {
        Ok(event) => {
            assert!(issues.iter().all(|i| !i.is_error()));
            let bytes = serde_json::to_vec(&event).unwrap();
            assert!(bytes.len() <= MAX_EVENT_BYTES, "{} bytes", bytes.len());
            let mut kinds = Vec::new();
            parse_text(&bytes, &mut |r| kinds.push(r.map(|e| e.kind)));
            assert_eq!(
                kinds,
                vec![Ok(EventKind::Group)],
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            Payload::from_events(std::slice::from_ref(&event))
                .expect("an accepted event is sendable");
        }
        Err(refused) => assert!(!refused.is_empty() && refused.iter().all(|i| i.is_error())),
    }
    let _ = draft.traits();
}

/// Two bytes of status, then a body (and, after a NUL, a redirect target): classification puts
/// every status in its class and passes no control character on to the screen.
pub fn classify_answer(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let status = u16::from_le_bytes([data[0], data[1]]);
    let text = String::from_utf8_lossy(&data[2..]);
    let (body, location) = match text.split_once('\u{0}') {
        Some((b, l)) => (b.to_owned(), Some(l.to_owned())),
        None => (text.into_owned(), None),
    };
    let cleaned = clean_message(&body);
    assert!(cleaned.chars().count() <= 301);
    assert!(!cleaned.chars().any(char::is_control));
    match classify(status, &body) {
        Outcome::Accepted { .. } => assert!((200..300).contains(&status)),
        Outcome::Rejected { meaning, .. } => {
            assert!((300..500).contains(&status) && status != 429);
            assert!(!meaning.chars().any(char::is_control));
        }
        Outcome::Retryable { reason } => {
            assert!(status == 429 || !(200..500).contains(&status));
            assert!(!reason.chars().any(char::is_control));
        }
        Outcome::Failed { .. } => panic!("an HTTP answer is never Failed"),
    }
    if let Outcome::Rejected { meaning, .. } = classify_response(&Response {
        status,
        body,
        location,
    }) {
        assert!(!meaning.chars().any(char::is_control));
    }
}

/// Text for the terminal: `display_safe` of any string leaves nothing a terminal acts on, and
/// `json_safe` of any JSON value's text leaves nothing either while meaning the same.
pub fn terminal(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    assert!(!display_safe(&text).chars().any(is_unsafe_char));
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        for pretty in [false, true] {
            let json = if pretty {
                serde_json::to_string_pretty(&value)
            } else {
                serde_json::to_string(&value)
            }
            .unwrap();
            // Compared with the same text parsed: only escapes differ between the two.
            let plain: serde_json::Value = serde_json::from_str(&json).unwrap();
            let safe = json_safe(json);
            assert!(!safe.chars().any(|c| c != '\n' && is_unsafe_char(c)));
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(&safe).unwrap(),
                plain
            );
        }
    }
}
