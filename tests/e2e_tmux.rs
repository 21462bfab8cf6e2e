//! End to end: the real binary in a real terminal (tmux), on a small JSONL file. It navigates to
//! a group's `plan` history, reads the screen, quits with `q`, and checks that the terminal was
//! given back (the shell's text is visible again, the alternate screen is off).
//!
//! Skipped, with a message, when tmux is not installed (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const EVENTS: &str = concat!(
    r#"{"type":"group","messageId":"e1","userId":"alice","groupId":"acct_1","timestamp":"2024-01-02T09:00:00Z","traits":{"name":"Acme Inc","plan":"free","seats":3}}"#,
    "\n",
    r#"{"type":"group","messageId":"e2","userId":"bob","groupId":"acct_1","timestamp":"2024-02-01T12:30:00Z","traits":{"plan":"pro"}}"#,
    "\n",
    r#"{"type":"group","messageId":"e3","userId":"carol","groupId":"acct_1","timestamp":"2024-03-05T16:45:00Z","traits":{"plan":"enterprise","seats":25}}"#,
    "\n",
);

/// One tmux server on a private socket, killed when dropped (also when a check fails).
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn send(&self, keys: &[&str]) {
        for key in keys {
            let out = self.run(&["send-keys", "-t", "e2e", key]);
            assert!(out.status.success(), "send-keys {key}: {out:?}");
            // Let the explorer draw between keys, as a person would.
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "e2e"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (up to 15 s) until the screen contains `text`; returns the screen.
    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "timed out waiting for {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn start(dir: &Path) -> Tmux {
    let tmux = Tmux {
        socket: dir.join("tmux.sock"),
    };
    // A bare shell with a known prompt and a private HOME (so no user config is read).
    let home = dir.display().to_string();
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        "-s",
        "e2e",
        "env",
        "-i",
        &format!("HOME={home}"),
        &format!("XDG_CONFIG_HOME={home}/config"),
        &format!("XDG_DATA_HOME={home}/data"),
        "TERM=xterm-256color",
        "PATH=/usr/bin:/bin",
        "PS1=e2e$ ",
        "sh",
    ]);
    assert!(out.status.success(), "tmux new-session: {out:?}");
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
