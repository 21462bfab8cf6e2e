//! End to end: composing in the real binary, in a real terminal (tmux). On the bundled sample,
//! with a store in a temporary directory and the data plane pointing at a scripted loopback
//! server, it opens Brightwave Health, presses `e`, changes the plan, sends, and sees the new
//! call in the plan's history on screen; the server got it with the right auth and body. Then a
//! simulated crash: the terminal is killed while a draft is open, and the draft is there after
//! a restart.
//!
//! Skipped, with a message, when tmux is not installed (`.ci/run` installs it).

#[path = "support/http_server.rs"]
mod http_server;
#[path = "support/tmux.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_server::{Reply, ScriptedServer};
use tmux::{Tmux, tmux_available};

const KEY: &str = "2Qw3eRt5yU7iO9pAsDfGhJkL1zX";
/// base64("2Qw3eRt5yU7iO9pAsDfGhJkL1zX:")
const AUTH: &str = "Basic MlF3M2VSdDV5VTdpTzlwQXNEZkdoSmtMMXpYOg==";

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.jsonl")
}

fn explorer(store: &Path) -> String {
    format!(
        "{} --store {} {}; echo groupscope-exited-$?",
        env!("CARGO_BIN_EXE_groupscope"),
        store.display(),
        sample().display()
    )
}

#[test]
fn change_a_plan_send_it_and_see_it_in_the_history() {
    if !tmux_available() {
        eprintln!("skipping e2e_compose_tmux: tmux is not installed (.ci/run installs it)");
        return;
    }
    let server = ScriptedServer::start(vec![Reply::ok()]);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
    };
    tmux.session(
        dir.path(),
        &[
            format!("RUDDERSTACK_DATA_PLANE_URL={}", server.url()),
            format!("RUDDERSTACK_WRITE_KEY={KEY}"),
        ],
    );
    tmux.send(&[&explorer(&store), "Enter"]);
    let first = tmux.wait_for("2 Groups (5)");
    // Groups sort by name: Brightwave Health is selected.
    assert!(first.contains("▶ ▸ Brightwave Health"), "{first}");

    tmux.send(&["e"]);
    let form = tmux.wait_for("Compose group call");
    assert!(form.contains(&format!("→ {}", server.url())), "{form}");
    assert!(form.contains("plan          enterprise"), "{form}");
    // From name to plan: email, phone, industry, employees, plan.
    tmux.send(&["Tab", "Tab", "Tab", "Tab", "Tab", "C-u"]);
    tmux.type_text("growth");
    tmux.wait_for("plan          growth");
    tmux.send(&["C-s"]);

    // The call is in the tree at once: the plan's history ends with it, marked as sent.
    let history = tmux.wait_for("enterprise → growth");
    assert!(
        history.contains("↑ sent: the data plane accepted the call"),
        "{history}"
    );
    assert!(
        history.contains("plan  (reserved trait) of Brightwave Health  acct_brightwave"),
        "{history}"
    );
    assert!(history.contains("now growth"), "{history}");
    let row = history
        .lines()
        .find(|l| l.contains("enterprise → growth"))
        .expect("the new row");
    assert!(
        row.contains("↑ 20") && row.contains("usr_ada") && row.contains("↑ sent"),
        "{row}"
    );

    // The server got exactly that call, with the write key as Basic auth.
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let r = &requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/v1/group"));
    assert_eq!(r.header("authorization"), Some(AUTH));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("anonymousid"),
        Some("e52e7e2b-b3ea-4a85-8d3a-2972c0052396")
    );
    let body = r.json();
    assert_eq!(body["type"], "group");
    assert_eq!(body["groupId"], "acct_brightwave");
    assert_eq!(body["userId"], "usr_ada");
    assert_eq!(body["traits"]["plan"], "growth");
    assert_eq!(body["traits"]["name"], "Brightwave Health");
    assert_eq!(body["traits"]["address"]["city"], "Boston");
    assert_eq!(body["context"]["library"]["name"], "groupscope");
    assert!(!r.body_text().contains(KEY), "the key is never in the body");

    tmux.send(&["q"]);
    tmux.wait_for("groupscope-exited-0");
}

#[test]
fn a_draft_survives_the_terminal_being_killed() {
    if !tmux_available() {
        eprintln!("skipping e2e_compose_tmux: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store.db");
    let tmux = Tmux {
        socket: dir.path().join("tmux.sock"),
    };
    tmux.session(dir.path(), &[]);
    tmux.send(&[&explorer(&store), "Enter"]);
    tmux.wait_for("2 Groups (5)");
    tmux.send(&["c"]);
    tmux.wait_for("Compose group call");
    tmux.type_text("usr_restart");
    tmux.send(&["Tab", "Tab"]);
    tmux.type_text("acct_restart");
    tmux.wait_for("groupId       acct_restart");
    // The draft writer saves within its debounce; then the terminal goes away at once.
    std::thread::sleep(Duration::from_millis(1000));
    let out = tmux.run(&["kill-session", "-t", "e2e"]);
    assert!(out.status.success(), "kill-session: {out:?}");
    drop(tmux);

    // A fresh tmux server: the old one may still be shutting down on its socket.
    let tmux = Tmux {
        socket: dir.path().join("tmux2.sock"),
    };
    tmux.session(dir.path(), &[]);
    tmux.send(&[&explorer(&store), "Enter"]);
    let start = tmux.wait_for("2 Groups (5)");
    assert!(start.contains("1 saved draft: c reopens it"), "{start}");
    tmux.send(&["c"]);
    let form = tmux.wait_for("groupId       acct_restart");
    assert!(form.contains("userId        usr_restart"), "{form}");
    assert!(form.contains("reopened your draft"), "{form}");
    tmux.send(&["Escape", "q"]);
    tmux.wait_for("groupscope-exited-0");
}
