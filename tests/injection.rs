//! Terminal injection through the headless commands: event data (ids, names, trait keys and
//! values) and server answers carrying escape sequences — window title, OSC 52 clipboard
//! writes, colours (7- and 8-bit CSI), BEL, bidi overrides — are printed escaped, never raw.
//! The explorer's own drawing is covered with the explorer; the strings are the same as in
//! `ui::sanitize`'s tests.

#[path = "support/http_server.rs"]
mod http_server;

use std::path::Path;
use std::process::{Command, Output};

use groupscope::ui::sanitize::is_unsafe_char;
use http_server::{Reply, ScriptedServer, closed_port_url};

/// The attacks: set the title, write the clipboard, recolour, ring, reorder text.
const INJECTIONS: [&str; 8] = [
    "\u{1b}]0;pwned\u{7}",
    "\u{1b}]52;c;Y3VybCBldmlsfHNo\u{7}",
    "\u{1b}]52;c;AA==\u{1b}\\",
    "\u{1b}[31mred\u{1b}[0m",
    "\u{9b}31m",
    "admin\u{202e}txt.exe",
    "a\u{2066}b\u{2069}c\u{200f}\u{61c}",
    "nul\u{0}del\u{7f}\u{7}bell\u{2028}",
];

/// Every injection in every place an event can carry text, as one JSONL file.
fn hostile_events() -> String {
    let mut lines = Vec::new();
    for (i, bad) in INJECTIONS.iter().enumerate() {
        let event = serde_json::json!({
            "type": "group",
            "messageId": format!("inj-{i}{bad}"),
            "userId": format!("user{bad}"),
            "anonymousId": format!("anon{bad}"),
            "groupId": format!("acct{bad}"),
            "traits": {
                "name": format!("Evil {bad} Inc"),
                format!("key{bad}"): format!("value{bad}"),
                "nested": {format!("k{bad}"): [bad]},
            },
            "timestamp": "2024-01-01T00:00:00Z",
        });
        lines.push(event.to_string());
        // A second call changes a trait, so every history has a change with an old value.
        let mut later = event.clone();
        later["messageId"] = format!("inj-{i}-later").into();
        later["traits"]["name"] = format!("Still {bad}").into();
        later["timestamp"] = "2024-02-01T00:00:00Z".into();
        lines.push(later.to_string());
        let identify = serde_json::json!({
            "type": "identify", "messageId": format!("id-{i}"), "userId": format!("user{bad}"),
            "traits": {"email": format!("{bad}@x.io")}, "context": {"traits": {format!("c{bad}"): bad}},
        });
        lines.push(identify.to_string());
    }
    lines.join("\n") + "\n"
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(args)
        .env_remove("GROUPSCOPE_STORE")
        .env("GROUPSCOPE_CONFIG", "/nonexistent/groupscope-config.toml")
        .env_remove("RUDDERSTACK_DATA_PLANE_URL")
        .env_remove("RUDDERSTACK_WRITE_KEY")
        .output()
        .unwrap()
}

/// Nothing a terminal would act on: no control character but the line break, no C1, no bidi.
#[track_caller]
fn assert_inert(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| c != '\n' && is_unsafe_char(c))
        .collect();
    assert!(bad.is_empty(), "{what} prints {bad:?} raw:\n{text}");
}

fn assert_output_inert(what: &str, out: &Output) {
    assert_inert(&format!("{what} (stdout)"), &out.stdout);
    assert_inert(&format!("{what} (stderr)"), &out.stderr);
}

#[test]
fn stats_history_and_import_print_event_data_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile.jsonl");
    std::fs::write(&input, hostile_events()).unwrap();
    let p = input.to_str().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();

    let stats = run(&["stats", "--json", p]);
    assert!(stats.status.success());
    let v: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(v["groups"], INJECTIONS.len());
    for args in [
        &["stats", p][..],
        &["stats", "--json", p],
        &["import", p, "--store", s],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        assert_output_inert(&format!("{args:?}"), &out);
    }
    // A NUL cannot be passed on a command line; that group is only in the stats above.
    for bad in INJECTIONS.iter().filter(|b| !b.contains('\0')) {
        let group = format!("acct{bad}");
        for source in [p, s] {
            for json in [false, true] {
                let mut args = vec!["history", source, "--group", &group];
                if json {
                    args.push("--json");
                }
                let out = run(&args);
                assert!(out.status.success(), "{args:?}: {out:?}");
                assert_output_inert(&format!("history of {group:?} (json {json})"), &out);
                if json {
                    // Escaped, yet the same JSON value: the data survives for scripts.
                    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                    assert_eq!(v["group"], group.as_str());
                    assert_eq!(v["name"], format!("Still {bad}").as_str());
                    assert_eq!(
                        v["current_traits"][format!("key{bad}")],
                        format!("value{bad}").as_str()
                    );
                } else {
                    // The escape is visible as text.
                    let text = String::from_utf8_lossy(&out.stdout);
                    let shown = groupscope::ui::sanitize::display_safe(bad);
                    assert!(text.contains(shown.as_ref()), "{text}");
                }
            }
        }
    }
}

#[test]
fn send_and_outbox_print_hostile_ids_and_server_answers_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let s = store.to_str().unwrap();
    let bad = INJECTIONS.concat().replace('\0', "");
    let group = format!("acct{bad}");
    let name = format!("name={bad}");
    let base = [
        "send",
        "--group-id",
        &group,
        "--user-id",
        "usr_1",
        "--trait",
        &name,
        "--store",
        s,
        "--attempts",
        "2",
    ];
    let dry = {
        let mut a = base.to_vec();
        a.push("--dry-run");
        run(&a)
    };
    assert!(dry.status.success());
    assert_output_inert("send --dry-run", &dry);

    // A server whose answers carry the attacks too.
    let server = ScriptedServer::start(vec![
        Reply::status(503, &bad),
        Reply::status(400, &format!("bad request {bad}")),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(base)
        .env("RUDDERSTACK_DATA_PLANE_URL", server.url())
        .env("RUDDERSTACK_WRITE_KEY", "2InJeCtIoNkEy")
        .env("GROUPSCOPE_CONFIG", dir.path().join("none.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_output_inert("send to a hostile server", &out);

    let closed = Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(base)
        .env("RUDDERSTACK_DATA_PLANE_URL", closed_port_url())
        .env("RUDDERSTACK_WRITE_KEY", "2InJeCtIoNkEy")
        .env("GROUPSCOPE_CONFIG", dir.path().join("none.toml"))
        .output()
        .unwrap();
    assert_output_inert("send to a closed port", &closed);

    for args in [
        &["outbox", "list", "--store", s][..],
        &["outbox", "list", "--json", "--store", s],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        assert_output_inert(&format!("{args:?}"), &out);
    }
    assert!(Path::new(&store).exists());
}
