//! `groupscope import` into the store, reopening the store, and warehouse databases.

mod common;

use common::{asset, generate, groupscope, stats_json};
use groupscope::source::{LoadOptions, load, read_raw};

fn import(store: &std::path::Path, paths: &[&std::path::Path]) -> std::process::Output {
    let mut args = vec!["import".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    args.extend(["--store".to_string(), store.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    groupscope(&args)
}

#[test]
fn import_then_reopen_gives_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("data/store.db");
    let out = import(&store, &[&asset("sample.jsonl")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("imported 64 events"), "{said}");
    assert!(said.contains("1 duplicates skipped, 2 bad lines"), "{said}");
    assert!(
        said.contains("sample.jsonl:32: group call has no groupId"),
        "{said}"
    );

    let from_file = stats_json(&[&asset("sample.jsonl")]);
    let from_store = stats_json(&[&store]);
    for key in [
        "events",
        "group_calls",
        "identify_calls",
        "other_events",
        "users",
        "groups",
        "memberships",
    ] {
        assert_eq!(from_store[key], from_file[key], "{key}");
    }
    assert_eq!(from_store["sources"][0]["kind"], "groupscope store");

    // Importing again adds nothing.
    let again = import(&store, &[&asset("sample.jsonl")]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("imported 0 events"));
    assert_eq!(stats_json(&[&store])["events"], 64);

    // Raw calls come back from the store by row id.
    let m = load(
        std::slice::from_ref(&store),
        &LoadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let g = m.find_group("acct_brightwave").unwrap();
    let (_, call) = m.group_calls(g).next().unwrap();
    let raw = read_raw(m.sources(), call.origin).unwrap();
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(v["groupId"], "acct_brightwave");
}

#[test]
fn a_failed_import_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let zip = dir.path().join("x.zip");
    std::fs::write(&zip, b"PK\x03\x04 not an export").unwrap();
    let out = import(&store, &[&asset("sample.jsonl"), &zip]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not JSONL"));
    // The sample's events were read before the bad file, and rolled back with it.
    let s = stats_json(&[&store]);
    assert_eq!(s["events"], 0);
}

#[test]
fn warehouse_databases_rebuild_the_same_groups() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--events",
        "2000",
        "--identify-fraction",
        "0.1",
        "--seed",
        "4",
    ];
    let Some(jsonl) = generate(dir.path(), "ev.jsonl", &args) else {
        return;
    };
    let mut wh_args = args.to_vec();
    wh_args.extend(["--format", "warehouse-sqlite"]);
    let wh = generate(dir.path(), "ev.db", &wh_args).unwrap();
    let before = std::fs::read(&wh).unwrap();
    let a = stats_json(&[&jsonl]);
    let b = stats_json(&[&wh]);
    assert_eq!(b["sources"][0]["kind"], "warehouse database");
    for key in [
        "group_calls",
        "identify_calls",
        "users",
        "groups",
        "memberships",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(
        std::fs::read(&wh).unwrap(),
        before,
        "a foreign database is never modified"
    );

    let m = load(
        std::slice::from_ref(&wh),
        &LoadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let call = m.calls()[0];
    let raw = read_raw(m.sources(), call.origin).unwrap();
    assert!(raw.contains("\"type\":\"group\""), "{raw}");
    assert!(groupscope::model::origin_label(m.sources(), call.origin).contains("groups row"));
    // A warehouse database can be imported into the store too.
    let store = dir.path().join("store.db");
    assert!(import(&store, &[&wh]).status.success());
    assert_eq!(stats_json(&[&store])["group_calls"], a["group_calls"]);
}

/// A warehouse database made here (the generator-based test above needs python3), in the
/// given journal mode.
fn small_warehouse(path: &std::path::Path, journal_mode: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", journal_mode)
        .unwrap();
    conn.execute_batch(
        "CREATE TABLE groups (id TEXT, user_id TEXT, anonymous_id TEXT, group_id TEXT, \
             timestamp TEXT, name TEXT, plan TEXT, employees BIGINT);
         CREATE TABLE identifies (id TEXT, user_id TEXT, email TEXT, timestamp TEXT);
         INSERT INTO groups VALUES ('m1', 'u1', NULL, 'acct_1', '2024-01-01T00:00:00Z', 'One', 'free', 3);
         INSERT INTO groups VALUES ('m2', 'u2', 'a2', 'acct_1', '2024-02-01T00:00:00Z', NULL, 'pro', 5);
         INSERT INTO groups VALUES ('m3', 'u1', NULL, 'acct_2', '2024-03-01T00:00:00Z', 'Two', NULL, NULL);
         INSERT INTO identifies VALUES ('i1', 'u1', 'u1@example.com', '2024-01-01T00:00:00Z');",
    )
    .unwrap();
}

/// Bytes and mtime of the file, and the names in its directory.
fn fingerprint(path: &std::path::Path) -> (Vec<u8>, std::time::SystemTime, Vec<String>) {
    let mut names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (
        std::fs::read(path).unwrap(),
        std::fs::metadata(path).unwrap().modified().unwrap(),
        names,
    )
}

#[test]
fn a_warehouse_database_is_never_modified_by_any_command() {
    // The WAL file's name needs escaping in an SQLite URI.
    for (mode, name) in [("DELETE", "warehouse.db"), ("WAL", "ware house ?#%é.db")] {
        let dir = tempfile::tempdir().unwrap();
        let wh = dir.path().join(name);
        small_warehouse(&wh, mode);
        let f = std::fs::File::options().write(true).open(&wh).unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
        drop(f);
        let before = fingerprint(&wh);
        let store_dir = tempfile::tempdir().unwrap();
        let store = store_dir.path().join("s.db");
        let p = wh.to_str().unwrap();
        for args in [
            vec!["stats", "--json", p],
            vec!["history", p, "--group", "acct_1"],
            vec!["import", p, "--store", store.to_str().unwrap()],
        ] {
            let out = groupscope(&args);
            assert!(out.status.success(), "{mode} {args:?}: {out:?}");
        }
        let m = load(
            std::slice::from_ref(&wh),
            &LoadOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(m.calls().len(), 3);
        for call in m.calls() {
            assert!(
                read_raw(m.sources(), call.origin)
                    .unwrap()
                    .contains("acct_")
            );
        }
        assert_eq!(stats_json(&[&store])["group_calls"], 3, "{mode}");
        let after = fingerprint(&wh);
        assert!(after.0 == before.0, "{mode}: the bytes changed");
        assert_eq!(after.1, before.1, "{mode}: the mtime changed");
        assert_eq!(after.2, before.2, "{mode}: files appeared beside it");
    }
}

#[test]
fn a_warehouse_open_elsewhere_is_read_with_its_wal() {
    // While another program holds a WAL-mode warehouse open, its newest rows may be in the
    // `-wal` file only; they are read (the side files exist already, nothing new is created).
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("live.db");
    small_warehouse(&wh, "WAL");
    let writer = rusqlite::Connection::open(&wh).unwrap();
    writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    writer
        .execute_batch(
            "INSERT INTO groups VALUES ('m4', 'u4', NULL, 'acct_3', '2024-04-01T00:00:00Z', 'Three', 'pro', 9);",
        )
        .unwrap();
    assert!(dir.path().join("live.db-wal").exists());
    assert_eq!(stats_json(&[&wh])["group_calls"], 4);
    drop(writer);
}

/// Edge cases for reopening without parsing: batch bodies, escaped and numeric ids, padded
/// lines, offsets and derived event times, identify traits in `context`, escaped trait keys, a
/// repeated key, a trait error, and a pretty-printed document (stored compacted, so parsed).
const TRICKY_JSONL: &str = concat!(
    r#"{"type":"group","messageId":" m-pad ","userId":"u1","groupId":"g1","traits":{"plan":"pro","n":1},"timestamp":"2024-03-01T10:00:00+05:30"}"#,
    "\n",
    "  ",
    r#"{"type":"group","messageId":"m-ws","userId":42,"groupId":7,"traits":{"a\"b":{"c":[1,2]},"plan":"free","plan":"team"},"originalTimestamp":"2024-03-01T10:00:00-02:00","sentAt":"2024-03-01T10:00:05Z","receivedAt":"2024-03-01T12:00:09.5Z"}  "#,
    "\r\n",
    r#"{"batch":[{"type":"identify","messageId":"m-b1","userId":"u\u00e9","traits":{"email":"e@x"},"context":{"traits":{"name":"N","email":"ctx@x"}},"timestamp":"2024-03-02T00:00:00Z"},{"type":"group","messageId":"m-b2","anonymousId":"a1","groupId":"g\"2","timestamp":"2024-03-03T00:00:00Z"}]}"#,
    "\n",
    r#"{"type":"identify","messageId":"m-ctx","anonymousId":"a1","context":{"traits":{"plan":{"deep":true}}},"receivedAt":"2024-03-04T00:00:00Z"}"#,
    "\n",
    r#"{"type":"track","messageId":"m-t","userId":"u1","event":"x"}"#,
    "\n",
    r#"{"type":"group","messageId":"m-big","userId":"u2","groupId":"g1","traits":{"k":"v"},"timestamp":"2024-03-05"}"#,
    "\n",
    r#"{"type":"group","userId":"u3","groupId":"g3","traits":{"x":"no message id"}}"#,
    "\n",
);

/// The whole model as text, with the store's path (which differs between copies) taken out.
fn model_text(path: &std::path::Path) -> String {
    let m = load(&[path.to_path_buf()], &LoadOptions::default(), &mut |_| {}).unwrap();
    format!("{m:?}").replace(&format!("{:?}", path.display().to_string()), "STORE")
}

/// Runs SQL on a store file directly (what an older groupscope or damage would leave).
fn sql(path: &std::path::Path, statements: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(statements)
        .unwrap();
}

fn count(path: &std::path::Path, query: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(query, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn reopening_without_parsing_gives_the_same_model_as_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let tricky = dir.path().join("tricky.jsonl");
    std::fs::write(&tricky, TRICKY_JSONL).unwrap();
    let doc = dir.path().join("doc.json");
    std::fs::write(
        &doc,
        "[\n {\"type\":\"group\",\"messageId\":\"m-doc\",\"userId\":\"u1\",\"groupId\":\"g1\",\n  \"traits\":{\"plan\":\"doc\"}}\n]\n",
    )
    .unwrap();
    let store = dir.path().join("s.db");
    let out = import(&store, &[&asset("sample.jsonl"), &tricky, &doc]);
    assert!(out.status.success(), "{out:?}");
    // Composed calls, stored by the send path (kept local and marked sent).
    {
        let mut s = groupscope::store::Store::open(&store).unwrap();
        for (i, origin) in [
            (1, groupscope::store::Origin::Local),
            (2, groupscope::store::Origin::Sent),
        ] {
            let raw = format!(
                r#"{{"type":"group","messageId":"composed-{i}","userId":"usr_ada","groupId":"acct_brightwave","traits":{{"plan":"c{i}"}},"timestamp":"2030-01-01T00:00:0{i}+01:00"}}"#
            );
            let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
            let event = groupscope::send::dispatch::new_event(&v, &raw, origin);
            match origin {
                groupscope::store::Origin::Local => s.save_local(&event).unwrap(),
                _ => s.mark_sent(&event).unwrap(),
            };
        }
    }
    let rows = count(&store, "SELECT count(*) FROM events");
    // Parsed on reopening: the pretty-printed document's event (stored compacted), the two
    // events whose ids have escapes and the two with numeric ids (one in the sample).
    let parsed = count(&store, "SELECT count(*) FROM events WHERE layout IS NULL");
    assert_eq!(parsed, 5, "{rows} rows");
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM events WHERE origin <> 'imported' AND layout IS NOT NULL"
        ),
        2
    );
    let fast = model_text(&store);
    assert!(fast.contains("Sent") && fast.contains("Local"), "{fast}");

    // The same rows, every one parsed.
    let all_parsed = dir.path().join("all_parsed.db");
    std::fs::copy(&store, &all_parsed).unwrap();
    sql(&all_parsed, "UPDATE events SET layout = NULL");
    assert_eq!(model_text(&all_parsed), fast);

    // Damaged layouts (cut short, extra bytes, another version, empty, not a blob) are parsed.
    let damaged = dir.path().join("damaged.db");
    std::fs::copy(&store, &damaged).unwrap();
    sql(
        &damaged,
        "UPDATE events SET layout = substr(layout, 1, length(layout) - 1) WHERE id % 6 = 0;
         UPDATE events SET layout = layout || X'00' WHERE id % 6 = 1;
         UPDATE events SET layout = X'02' || substr(layout, 2) WHERE id % 6 = 2;
         UPDATE events SET layout = X'' WHERE id % 6 = 3;
         UPDATE events SET layout = 'text' WHERE id % 6 = 4;",
    );
    assert_eq!(model_text(&damaged), fast);
    // Another row's layout may fit this row's text well enough to be read: a wrong model, but
    // never a panic, and every row still counts.
    let swapped = dir.path().join("swapped.db");
    std::fs::copy(&store, &swapped).unwrap();
    sql(
        &swapped,
        "UPDATE events SET layout = (SELECT e.layout FROM events e WHERE e.id = events.id % 60 + 1);",
    );
    let m = load(
        std::slice::from_ref(&swapped),
        &LoadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(m.counts().lines, rows as u64);
}

#[test]
fn a_version_1_store_reads_the_same_before_and_after_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    assert!(import(&store, &[&asset("sample.jsonl")]).status.success());
    let fast = model_text(&store);
    // What groupscope before schema 2 wrote: the same V1 table, no V2 columns.
    let v1 = dir.path().join("v1.db");
    std::fs::copy(&store, &v1).unwrap();
    sql(
        &v1,
        "ALTER TABLE events DROP COLUMN layout; PRAGMA user_version = 1;",
    );
    // Read-only: no migration, every row parsed.
    assert_eq!(model_text(&v1), fast);
    assert_eq!(count(&v1, "PRAGMA user_version"), 1);
    // `import` migrates it; the old rows keep NULL layouts, the new ones get theirs.
    let tricky = dir.path().join("tricky.jsonl");
    std::fs::write(&tricky, TRICKY_JSONL).unwrap();
    assert!(import(&v1, &[&tricky]).status.success());
    assert_eq!(count(&v1, "PRAGMA user_version"), 2);
    assert_eq!(
        count(&v1, "SELECT count(*) FROM events WHERE layout IS NOT NULL"),
        5
    );
    let both = dir.path().join("both.db");
    assert!(
        import(&both, &[&asset("sample.jsonl"), &tricky])
            .status
            .success()
    );
    assert_eq!(model_text(&v1), model_text(&both));
}
