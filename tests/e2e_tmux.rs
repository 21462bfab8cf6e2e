//! End to end: the real binary in a real terminal (tmux), on a small JSONL file. It navigates to
//! a group's `plan` history, reads the screen, quits with `q`, and checks that the terminal was
//! given back (the shell's text is visible again, the alternate screen is off).
//!
//! Skipped, with a message, when tmux is not installed (`.ci/run` installs it).

#[path = "support/tmux.rs"]
mod tmux;

use std::path::Path;

use tmux::{Tmux, tmux_available};

const EVENTS: &str = concat!(
    r#"{"type":"group","messageId":"e1","userId":"alice","groupId":"acct_1","timestamp":"2024-01-02T09:00:00Z","traits":{"name":"Acme Inc","plan":"free","seats":3}}"#,
    "\n",
    r#"{"type":"group","messageId":"e2","userId":"bob","groupId":"acct_1","timestamp":"2024-02-01T12:30:00Z","traits":{"plan":"pro"}}"#,
    "\n",
    r#"{"type":"group","messageId":"e3","userId":"carol","groupId":"acct_1","timestamp":"2024-03-05T16:45:00Z","traits":{"plan":"enterprise","seats":25}}"#,
    "\n",
);

/// Starts a bare shell in tmux with a private HOME.
fn start(dir: &Path) -> Tmux {
    let tmux = Tmux::new(dir);
    tmux.session(dir, &[]);
    tmux
}

#[test]
fn navigate_to_a_plan_history_then_quit_and_restore_the_terminal() {
    if !tmux_available() {
        eprintln!("skipping e2e_tmux: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, EVENTS).expect("write events");
    let tmux = start(dir.path());
    tmux.wait_for("e2e$");

    let bin = env!("CARGO_BIN_EXE_groupscope");
    let command = format!("{bin} {}; echo groupscope-exited-$?", file.display());
    tmux.send(&[&command, "Enter"]);
    let first = tmux.wait_for("2 Groups (1)");
    assert!(first.contains("Acme Inc  acct_1"), "{first}");
    assert!(
        first.contains("3 group calls · 3 users · 1 groups"),
        "{first}"
    );

    // Open the group, go to Traits, open them (name, plan, then custom seats), pick plan.
    tmux.send(&["Enter", "j", "j", "Enter", "j", "j"]);
    let history = tmux.wait_for("Trait plan");
    for expected in [
        "plan  (reserved trait) of Acme Inc  acct_1",
        "now enterprise",
        "History (3 changes, oldest first)",
        "(unset) → free",
        "free → pro",
        "pro → enterprise",
        "events.jsonl:2",
    ] {
        assert!(
            history.contains(expected),
            "{expected:?} missing:\n{history}"
        );
    }
    let bob = history
        .lines()
        .find(|l| l.contains("free → pro"))
        .expect("the free → pro row");
    assert!(
        bob.contains("2024-02-01 12:30:00") && bob.contains("bob"),
        "{bob}"
    );

    // Open the history and select the last change: its raw call is read and shown.
    tmux.send(&["Enter", "j", "j", "j"]);
    let raw = tmux.wait_for("\"messageId\": \"e3\"");
    assert!(raw.contains("from "), "{raw}");

    tmux.send(&["q"]);
    let after = tmux.wait_for("groupscope-exited-0");
    // The shell's own text is back and nothing of the explorer is left on screen.
    assert!(after.contains("e2e$"), "{after}");
    assert!(
        after.contains("events.jsonl; echo groupscope-exited-$?"),
        "{after}"
    );
    assert!(
        !after.contains("Trait plan") && !after.contains('┌'),
        "{after}"
    );
    let alt = tmux.run(&["display-message", "-p", "-t", "e2e", "#{alternate_on}"]);
    assert_eq!(String::from_utf8_lossy(&alt.stdout).trim(), "0");
    // Mouse capture is off again too.
    let mouse = tmux.run(&["display-message", "-p", "-t", "e2e", "#{mouse_any_flag}"]);
    assert_eq!(String::from_utf8_lossy(&mouse.stdout).trim(), "0");
}
