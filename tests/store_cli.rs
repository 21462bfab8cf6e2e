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
