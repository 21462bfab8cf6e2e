//! End to end: the explorer open on a store while `groupscope import` writes to it. A store is
//! made from one file, the explorer opens it in a real terminal (tmux), and then several
//! imports run one after another in other processes while the refresh key (`r`) is pressed
//! over and over. The screen is read after every press: it never says "locked" or "busy", and
//! whatever it shows is a whole number of imports (never half of one). After a last refresh the
//! new groups are counted in the tree and in the status bar, and a group only the last import
//! holds is found with `/` search.
//!
//! This test found loads in one process breaking each other's SQLite locks (a refresh showed
//! 34 calls of an import of 10,000); `tests/concurrent.rs` checks the fix at the library level.
//!
//! Skipped, with a message, when tmux is not installed (`.ci/run` installs it).

#[path = "support/tmux.rs"]
mod tmux;

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tmux::{Tmux, tmux_available};

/// Calls in the first file (three groups).
const FIRST: usize = 300;
/// Imports while the explorer is open, one new group each.
const IMPORTS: usize = 5;
/// Calls per import: big enough that an import takes a good part of a second in a debug build,
/// so refreshes land while it writes.
const PER_IMPORT: usize = 10_000;

/// A JSONL file of `calls` group calls, call `i` to the group `group(i)` names.
fn write_calls(path: &Path, tag: &str, calls: usize, group: impl Fn(usize) -> String) {
    let mut text = String::with_capacity(calls * 160);
    for i in 0..calls {
        text.push_str(&format!(
            r#"{{"type":"group","messageId":"{tag}-{i}","userId":"u{}","groupId":"{}","traits":{{"n":{i}}},"timestamp":"2024-03-01T00:00:{:02}Z"}}"#,
            i % 40,
            group(i),
            i % 60
        ));
        text.push('\n');
    }
    std::fs::write(path, text).expect("write calls");
}

fn import(input: &Path, store: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .arg("import")
        .arg(input)
        .arg("--store")
        .arg(store)
        .env_remove("GROUPSCOPE_STORE")
        .output()
        .expect("run import");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "import failed: {said}");
    said
}

/// The number in the tree's `2 Groups (N)` tab, when the tree is shown.
fn groups_shown(screen: &str) -> Option<usize> {
    let rest = &screen[screen.find("2 Groups (")? + "2 Groups (".len()..];
    rest[..rest.find(')')?].parse().ok()
}

/// The number before ` group calls` in the status bar (`120,300`), when a load has finished.
fn calls_shown(screen: &str) -> Option<usize> {
    let end = screen.find(" group calls")?;
    let start = screen[..end]
        .rfind(|c: char| !c.is_ascii_digit() && c != ',')
        .map_or(0, |i| i + 1);
    screen[start..end].replace(',', "").parse().ok()
}

/// Waits until a load has finished (the status bar counts calls again) and returns how many of
/// the imports it shows; every screen read on the way must be free of lock errors.
fn refreshed(tmux: &Tmux) -> usize {
    let started = Instant::now();
    loop {
        let screen = tmux.screen();
        assert_not_locked(&screen);
        if let Some(imports) = imports_shown(&screen) {
            return imports;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the refresh never finished:\n{screen}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// How many imports a finished load shows: each is one new group and PER_IMPORT calls, and
/// the tree and the status bar must agree on a whole number of them.
fn imports_shown(screen: &str) -> Option<usize> {
    let (groups, calls) = (groups_shown(screen)?, calls_shown(screen)?);
    let imports = groups - 3;
    assert_eq!(
        calls,
        FIRST + imports * PER_IMPORT,
        "the tree and the status bar show part of an import:\n{screen}"
    );
    Some(imports)
}

fn assert_not_locked(screen: &str) {
    let lower = screen.to_lowercase();
    assert!(
        !lower.contains("locked") && !lower.contains("busy"),
        "the explorer shows a lock error:\n{screen}"
    );
}

#[test]
fn refreshing_while_imports_write_never_shows_a_lock_and_shows_the_new_data() {
    if !tmux_available() {
        eprintln!("skipping e2e_import_tmux: tmux is not installed (.ci/run installs it)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("s.db");
    let first = dir.path().join("a.jsonl");
    write_calls(&first, "a", FIRST, |i| format!("acct_a{}", i % 3));
    assert!(import(&first, &store).contains(&format!("imported {FIRST} events")));
    let inputs: Vec<_> = (1..=IMPORTS)
        .map(|n| {
            let path = dir.path().join(format!("b{n}.jsonl"));
            write_calls(&path, &format!("b{n}"), PER_IMPORT, |_| {
                format!("acct_b{n}")
            });
            path
        })
        .collect();

    let tmux = Tmux::new(dir.path());
    tmux.session(dir.path(), &[]);
    let bin = env!("CARGO_BIN_EXE_groupscope");
    tmux.send(&[
        &format!("{bin} {}; echo groupscope-exited-$?", store.display()),
        "Enter",
    ]);
    let opened = tmux.wait_for("2 Groups (3)");
    assert_eq!(calls_shown(&opened), Some(FIRST), "{opened}");

    // Each import runs in another process while `r` is pressed again and again; after it
    // exits, one more refresh must show it.
    let mut during = 0;
    let mut seen = Vec::new();
    for (n, input) in (1..=IMPORTS).zip(&inputs) {
        let mut child = Command::new(bin)
            .arg("import")
            .arg(input)
            .arg("--store")
            .arg(&store)
            .env_remove("GROUPSCOPE_STORE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start import");
        // Refresh as fast as keys go (a new load replaces one still running), so loads start
        // all through the import, its commit included; every fourth load is waited for.
        while child.try_wait().expect("import status").is_none() {
            tmux.send(&["r"]);
            during += 1;
            let screen = tmux.screen();
            assert_not_locked(&screen);
            let shown = if during % 4 == 0 {
                Some(refreshed(&tmux))
            } else {
                imports_shown(&screen)
            };
            if let Some(shown) = shown {
                // Before or after the import's commit, never part of it.
                assert!(shown == n - 1 || shown == n, "import {n}: {shown} shown");
                seen.push(shown);
            }
        }
        let out = child.wait_with_output().expect("import output");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "import {n}: {out:?}");
        assert!(
            said.contains(&format!("imported {PER_IMPORT} events")),
            "{said}"
        );
        tmux.send(&["r"]);
        let screen = tmux.wait_for(&format!("2 Groups ({})", 3 + n));
        assert_not_locked(&screen);
        assert_eq!(refreshed(&tmux), n);
    }
    eprintln!("{during} refreshes while {IMPORTS} imports ran; imports shown: {seen:?}");
    assert!(during >= IMPORTS, "refreshes ran while the imports did");
    let last = tmux.screen();
    assert_eq!(
        calls_shown(&last),
        Some(FIRST + IMPORTS * PER_IMPORT),
        "{last}"
    );

    // The group only the last import holds is found by search.
    tmux.send(&["/"]);
    tmux.type_text(&format!("acct_b{IMPORTS}"));
    tmux.send(&["Enter"]);
    let found = tmux.wait_for(&format!("Group acct_b{IMPORTS}"));
    assert_not_locked(&found);

    tmux.send(&["q"]);
    let after = tmux.wait_for("groupscope-exited-0");
    assert_not_locked(&after);
}
