//! End to end: a panic in the explorer gives the terminal back. The debug binary has a fault
//! trigger (`GROUPSCOPE_FAULT`, compiled into debug builds only, see `src/ui/run.rs`): it panics
//! on the first key, on the UI thread or on a worker thread. In a real terminal (tmux) the
//! explorer opens `assets/sample.jsonl` with mouse capture on, a key is pressed, and then the
//! pane must be back to what the shell had: the normal screen, a visible cursor, no mouse
//! tracking, the shell prompt with the readable crash note on it, and the tty in cooked mode
//! with echo (checked by running `stty` at the prompt).
//!
//! Skipped, with a message, when tmux is not installed (`.ci/run` installs it).

#[path = "support/tmux.rs"]
mod tmux;

use std::path::Path;

use tmux::{Tmux, tmux_available};

/// One tmux format variable of the pane.
fn pane_flag(tmux: &Tmux, name: &str) -> String {
    let out = tmux.run(&[
        "display-message",
        "-p",
        "-t",
        "e2e",
        &format!("#{{{name}}}"),
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The pane's terminal modes that a TUI changes, by tmux's names.
const MODES: [&str; 6] = [
    "alternate_on",
    "cursor_flag",
    "mouse_any_flag",
    "mouse_button_flag",
    "mouse_standard_flag",
    "mouse_sgr_flag",
];

fn modes(tmux: &Tmux) -> Vec<(&'static str, String)> {
    MODES.iter().map(|m| (*m, pane_flag(tmux, m))).collect()
}

/// Runs the explorer on the sample with `fault`, presses a key, and checks everything the
/// shell had is back. Returns the screen after the shell's `stty` check.
fn crash_and_check(fault: &str, exit_code: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sample.jsonl");
    let tmux = Tmux::new(dir.path());
    tmux.session(dir.path(), &[format!("GROUPSCOPE_FAULT={fault}")]);

    let bin = env!("CARGO_BIN_EXE_groupscope");
    let command = format!("{bin} {}; echo groupscope-exited-$?", sample.display());
    tmux.send(&[&command, "Enter"]);
    let explorer = tmux.wait_for("2 Groups (5)");
    assert!(explorer.contains("acct_brightwave"), "{explorer}");
    // The explorer really did switch the modes the crash must undo (so this test can fail).
    let during = modes(&tmux);
    assert_eq!(
        during,
        vec![
            ("alternate_on", "1".to_owned()),
            ("cursor_flag", "0".to_owned()),
            // crossterm asks for all motion (1003), which tmux records as "any".
            ("mouse_any_flag", "1".to_owned()),
            ("mouse_button_flag", "0".to_owned()),
            ("mouse_standard_flag", "0".to_owned()),
            ("mouse_sgr_flag", "1".to_owned()),
        ],
        "modes while the explorer runs"
    );

    tmux.send(&["j"]);
    let after = tmux.wait_for(&format!("groupscope-exited-{exit_code}\ne2e$"));
    let back = modes(&tmux);
    assert!(
        back.iter()
            .all(|(m, v)| v == if *m == "cursor_flag" { "1" } else { "0" }),
        "modes after the crash: {back:?}\n{after}"
    );
    // The readable note, on the normal screen, with the panic's message and place.
    let note = format!(
        "groupscope hit a bug and stopped: fault injected by GROUPSCOPE_FAULT={fault} (at src/ui/run.rs:"
    );
    assert!(after.contains(&note), "{after}");
    assert!(
        after.contains("Your drafts and unsent calls are kept in the store"),
        "{after}"
    );
    assert!(after.contains("Please report this"), "{after}");
    // The usual details follow the note.
    assert!(after.contains("panicked at src/ui/run.rs:"), "{after}");
    // Nothing of the explorer is left (the shell's own screen is back) and the prompt is.
    assert!(
        !after.contains("Groups (") && !after.contains('┌'),
        "{after}"
    );
    assert!(after.trim_end().ends_with("e2e$"), "{after}");

    // Cooked mode: the shell reads a line only when the tty does line editing (icanon) and
    // maps Enter to a newline; what is typed is echoed.
    tmux.type_text(
        r#"printf 'TTY=%s\n' "$(stty -a | tr ' ;' '\n\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\n' ,)""#,
    );
    tmux.send(&["Enter"]);
    let stty = tmux.wait_for("TTY=");
    assert!(
        stty.contains("printf 'TTY=%s"),
        "typed text is echoed:\n{stty}"
    );
    let line = stty
        .lines()
        .find(|l| l.starts_with("TTY="))
        .expect("the stty line");
    assert_eq!(line.trim(), "TTY=icanon,echo,", "{stty}");
    stty
}

#[test]
fn a_panic_on_the_ui_thread_restores_the_terminal_and_says_what_happened() {
    if !tmux_available() {
        eprintln!("skipping e2e_panic: tmux is not installed (.ci/run installs it)");
        return;
    }
    // A panic on the UI thread ends the process with Rust's panic exit code.
    crash_and_check("panic-on-key", "101");
}

#[test]
fn a_panic_on_a_worker_thread_restores_the_terminal_and_stops_the_explorer() {
    if !tmux_available() {
        eprintln!("skipping e2e_panic: tmux is not installed (.ci/run installs it)");
        return;
    }
    // The loop sees the worker's panic and stops instead of drawing over the note.
    let screen = crash_and_check("panic-in-worker", "2");
    assert!(
        screen.contains("thread 'fault'") && screen.contains("panicked at src/ui/run.rs:"),
        "{screen}"
    );
    assert!(
        screen.contains("groupscope: stopped after a background thread panicked"),
        "{screen}"
    );
}
