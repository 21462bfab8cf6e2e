//! `groupscope send` and `groupscope outbox` end to end: the real binary, a real store, and a
//! scripted data plane on 127.0.0.1.

mod common;
#[path = "support/http_server.rs"]
mod http_server;

use std::path::Path;
use std::process::{Command, Output};

use http_server::{Reply, ScriptedServer, closed_port_url};

const KEY: &str = "2SecretWriteKeyForTests9";

fn run(store: &Path, url: &str, args: &[&str]) -> Output {
    common::send_command(store, url, KEY, args)
        .output()
        .expect("run groupscope")
}

use common::output_text as text;

const SEND: [&str; 9] = [
    "send",
    "--group-id",
    "acct_brightwave",
    "--user-id",
    "usr_ada",
    "--trait",
    "plan=business",
    "--trait",
    "employees=42",
];

#[test]
fn dry_run_prints_the_payload_and_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let mut args = SEND.to_vec();
    args.extend([
        "--trait",
        "address.city=Berlin",
        "--trait",
        "vip=true",
        "--dry-run",
    ]);
    let out = run(&store, "http://127.0.0.1:9", &args);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["type"], "group");
    assert_eq!(v["traits"]["employees"], 42);
    assert_eq!(v["traits"]["vip"], true);
    assert_eq!(v["traits"]["address"]["city"], "Berlin");
    assert_eq!(v["context"]["library"]["name"], "groupscope");
    assert_eq!(v["channel"], "server");
    assert!(!text(&out).contains(KEY));
    assert!(!store.exists(), "a dry run writes nothing");
}

#[test]
fn an_accepted_call_is_stored_as_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let server = ScriptedServer::start(vec![Reply::ok()]);
    let out = run(&store, &server.url(), &SEND);
    assert!(out.status.success(), "{}", text(&out));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/group");
    assert!(
        reqs[0]
            .header("authorization")
            .unwrap()
            .starts_with("Basic ")
    );
    let body = reqs[0].json();
    assert_eq!(body["traits"]["plan"], "business");
    // The sent call is in the store and in the model built from it.
    let stats = common::stats_json(&[&store]);
    assert_eq!(stats["group_calls"], 1);
    let raw = std::fs::read(&store).unwrap();
    assert!(
        !String::from_utf8_lossy(&raw).contains(KEY),
        "the store never holds the key"
    );
}

#[test]
fn failures_wait_in_the_outbox_and_go_out_on_retry() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let server =
        ScriptedServer::start(vec![Reply::status(500, "boom"), Reply::status(503, "busy")]);
    let mut args = SEND.to_vec();
    args.extend(["--attempts", "2"]);
    let out = run(&store, &server.url(), &args);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(text(&out).contains("kept in the outbox"), "{}", text(&out));
    let first = server.requests();
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].json()["messageId"], first[1].json()["messageId"]);

    let list = run(&store, &server.url(), &["outbox", "list", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1);
    assert_eq!(entries[0]["attempts"], 2);
    assert_eq!(entries[0]["message_id"], first[0].json()["messageId"]);

    // The data plane is down: still nothing lost.
    let down = run(
        &store,
        &closed_port_url(),
        &["outbox", "retry", "--attempts", "1"],
    );
    assert_eq!(down.status.code(), Some(4), "{}", text(&down));

    server.push_replies([Reply::ok()]);
    let retry = run(&store, &server.url(), &["outbox", "retry"]);
    assert!(retry.status.success(), "{}", text(&retry));
    let all = server.requests();
    assert_eq!(
        all.last().unwrap().json()["messageId"],
        first[0].json()["messageId"],
        "a retry is the same event"
    );
    let list = run(&store, &server.url(), &["outbox", "list", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(entries.as_array().unwrap().is_empty());
    assert_eq!(common::stats_json(&[&store])["group_calls"], 1);
}

#[test]
fn a_rejected_call_says_why_and_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let server = ScriptedServer::start(vec![Reply::status(401, "invalid write key")]);
    let out = run(&store, &server.url(), &SEND);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("401") && t.contains("invalid write key"), "{t}");
    assert!(!t.contains(KEY));
    assert_eq!(server.requests().len(), 1, "a 401 is not retried");
    let list = run(&store, &server.url(), &["outbox", "list"]);
    assert!(String::from_utf8_lossy(&list.stdout).contains("HTTP 401"));
    let dropped = run(&store, &server.url(), &["outbox", "drop", "--all"]);
    assert!(String::from_utf8_lossy(&dropped.stdout).contains("dropped 1 call"));
}

#[test]
fn invalid_calls_are_refused_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let out = run(
        &store,
        "http://127.0.0.1:9",
        &[
            "send",
            "--group-id",
            "g",
            "--user-id",
            "u",
            "--trait",
            "employees=\"many\"",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("employees"), "{}", text(&out));
}

#[test]
fn local_calls_are_kept_without_a_data_plane() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let out = Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args([
            "send",
            "--group-id",
            "g1",
            "--anonymous-id",
            "anon-1",
            "--local",
            "--store",
        ])
        .arg(&store)
        .env_remove("RUDDERSTACK_DATA_PLANE_URL")
        .env_remove("RUDDERSTACK_WRITE_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(common::stats_json(&[&store])["group_calls"], 1);
}
