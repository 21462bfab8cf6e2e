//! Crashes mid-write: `groupscope import` and `groupscope send` are killed with SIGKILL, and the
//! store must open, pass `PRAGMA integrity_check`, and hold all or none of each import; a call
//! being sent must still be in the outbox and go out again with the same messageId, once.
#![cfg(unix)]

mod common;
#[path = "support/http_server.rs"]
mod http_server;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use groupscope::store::Store;
use http_server::{Reply, ScriptedServer};
use rusqlite::{Connection, OpenFlags};

/// Events per import: about 9 MB of JSONL, about a second of importing in a debug build.
const EVENTS: usize = 50_000;

/// The text of run 0's import, made once.
fn template() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let mut out = String::with_capacity(EVENTS * 200);
        for i in 0..EVENTS {
            let kind = if i % 5 == 0 { "identify" } else { "group" };
            out.push_str(&format!(
                r#"{{"type":"{kind}","messageId":"r0-{i}","userId":"u{}","groupId":"g{}","traits":{{"plan":"{}","seats":{},"name":"Group {}"}},"timestamp":"2024-01-01T00:00:{:02}.000Z"}}"#,
                i % 997,
                i % 101,
                ["free", "pro", "team"][i % 3],
                i % 50,
                i % 101,
                i % 60
            ));
            out.push('\n');
        }
        out
    })
}

/// Writes one import's file; `run` makes its messageIds distinct from every other run's.
fn write_events(path: &Path, run: usize) {
    let text = template().replace("\"messageId\":\"r0-", &format!("\"messageId\":\"r{run}-"));
    std::fs::write(path, text).unwrap();
}

fn start_import(store: &Path, input: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .arg("import")
        .arg(input)
        .arg("--store")
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start groupscope import")
}

/// xorshift64*: the kill points are random but the same on every run of the test.
struct Rng(u64);

impl Rng {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What one killed run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunOutcome {
    /// Killed before the commit: the store is as it was.
    RolledBack,
    /// Killed after the commit (or it finished first): the whole import is there.
    Complete,
}

/// Opens the store as the explorer would and as SQLite's checker does, and returns the count.
fn check_store(store: &Path) -> u64 {
    // Read-only first: the explorer's open must cope with a WAL left by a killed writer.
    let read_only = Store::open_read_only(store).expect("the store opens read-only after a kill");
    let count = read_only.count_events().unwrap();
    drop(read_only);
    // Read-only as well: a writable connection would checkpoint the WAL on close, which is
    // the next import's business (and costs a sync per run).
    let conn = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let check: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(check, ["ok"], "integrity_check");
    // A first import drops the indexes inside its transaction; a kill must bring them back.
    let indexes: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 4, "the events indexes");
    let same: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(same as u64, count);
    count
}

/// Imports run `run`, kills it after `delay` and checks the store; `before` is its count.
fn killed_import(dir: &Path, store: &Path, run: usize, delay: Duration, before: u64) -> RunOutcome {
    let input = dir.join("input.jsonl");
    write_events(&input, run);
    let mut child = start_import(store, &input);
    std::thread::sleep(delay);
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(
        status.success() || status.signal() == Some(9),
        "run {run}: {status:?}"
    );
    let after = check_store(store);
    if after == before {
        RolledBack
    } else {
        assert_eq!(
            after,
            before + EVENTS as u64,
            "run {run} (killed after {delay:?}): all or none of the import"
        );
        Complete
    }
}

use RunOutcome::{Complete, RolledBack};

/// Times one whole import (the calibration for the kill points) and checks it.
fn timed_import(dir: &Path, store: &Path, run: usize) -> Duration {
    let input = dir.join("input.jsonl");
    write_events(&input, run);
    let started = Instant::now();
    let out = start_import(store, &input).wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    started.elapsed()
}

/// Prints what the runs found and checks that enough kills landed before the commit.
fn report(what: &str, calibration: Duration, outcomes: &[(Duration, RunOutcome)]) {
    let rolled_back = outcomes.iter().filter(|(_, o)| *o == RolledBack).count();
    eprintln!(
        "kill test, {what}: {} runs (an uninterrupted import took {calibration:?}): \
         {rolled_back} rolled back, {} complete",
        outcomes.len(),
        outcomes.len() - rolled_back,
    );
    for (delay, outcome) in outcomes {
        eprintln!("  killed after {delay:?}: {outcome:?}");
    }
    // The kill points are spread over the calibrated duration, so many land mid-import; the
    // machine's load varies, so only a quarter is required.
    assert!(
        rolled_back * 4 >= outcomes.len(),
        "too few kills landed mid-import: {outcomes:?}"
    );
}

#[test]
fn a_first_import_killed_at_random_points_leaves_an_empty_store() {
    // A first import into an empty store runs in bulk mode: the indexes are dropped and
    // rebuilt inside the same transaction, so a kill must bring them back too.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let calibration = timed_import(dir.path(), &dir.path().join("calibration.db"), 0);
    let mut outcomes = Vec::new();
    for run in 1..=6 {
        let store = dir.path().join(format!("fresh-{run}.db"));
        drop(Store::open(&store).unwrap());
        let delay = calibration.mul_f64(0.02 + 0.93 * rng.next_unit());
        outcomes.push((delay, killed_import(dir.path(), &store, run, delay, 0)));
    }
    report("first imports", calibration, &outcomes);
}

#[test]
fn an_import_into_a_full_store_killed_at_random_points_adds_all_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let store = dir.path().join("store.db");
    // The first import fills the store and times an import (the kills below hit imports into
    // a store that holds events: unique-index conflict checks instead of bulk mode).
    let calibration = timed_import(dir.path(), &store, 100);
    let mut count = check_store(&store);
    assert_eq!(count, EVENTS as u64);
    let mut outcomes = Vec::new();
    for run in 101..115 {
        let delay = calibration.mul_f64(0.02 + 0.93 * rng.next_unit());
        let outcome = killed_import(dir.path(), &store, run, delay, count);
        if outcome == Complete {
            count += EVENTS as u64;
        }
        outcomes.push((delay, outcome));
    }
    report("imports into a full store", calibration, &outcomes);
}

const KEY: &str = "2KiLlTeStWrItEkEy";

fn send_command(store: &Path, url: &str, args: &[&str]) -> Command {
    common::send_command(store, url, KEY, args)
}

fn run(store: &Path, url: &str, args: &[&str]) -> Output {
    send_command(store, url, args).output().unwrap()
}

const SEND: [&str; 7] = [
    "send",
    "--group-id",
    "acct_kill",
    "--user-id",
    "usr_kill",
    "--trait",
    "plan=pro",
];

/// Starts `send`, waits until the server has `requests` requests, then kills it.
fn kill_send_after_requests(store: &Path, server: &ScriptedServer, args: &[&str], requests: usize) {
    let mut child = send_command(store, &server.url(), args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while server.requests().len() < requests {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the send never reached the server"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let it settle into waiting (on the answer, or in the backoff sleep).
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "killed while sending");
}

/// After a killed send: the call waits in the outbox with the messageId the server saw, a
/// retry sends exactly the same bytes once, and a second retry sends nothing.
fn assert_resent_once(store: &Path, server: &ScriptedServer, seen: usize) {
    let first = server.requests()[0].clone();
    let message_id = first.json()["messageId"].as_str().unwrap().to_owned();
    let list = run(store, &server.url(), &["outbox", "list", "--json"]);
    assert!(list.status.success(), "{list:?}");
    let entries: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 1, "{entries}");
    assert_eq!(entries[0]["message_id"], message_id.as_str());
    assert_eq!(entries[0]["payload"], first.json());
    assert_eq!(
        Store::open_read_only(store)
            .unwrap()
            .count_events()
            .unwrap(),
        0
    );

    server.push_replies([Reply::ok()]);
    let retry = run(store, &server.url(), &["outbox", "retry"]);
    assert!(retry.status.success(), "{retry:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), seen + 1, "the retry sent it exactly once");
    let resent = requests.last().unwrap();
    assert_eq!(resent.json()["messageId"], message_id.as_str());
    assert_eq!(
        resent.body, first.body,
        "the same bytes as the first attempt"
    );

    let again = run(store, &server.url(), &["outbox", "retry"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 sent"));
    assert_eq!(server.requests().len(), seen + 1, "nothing is sent twice");
    let stored = Store::open_read_only(store).unwrap();
    assert_eq!(stored.count_events().unwrap(), 1);
    assert!(stored.outbox().unwrap().is_empty());
}

#[test]
fn a_send_killed_while_waiting_for_the_answer_is_resent_with_the_same_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let server = ScriptedServer::start(vec![Reply::ok().after(Duration::from_secs(20))]);
    kill_send_after_requests(&store, &server, &SEND, 1);
    assert_resent_once(&store, &server, 1);
}

#[test]
fn a_send_killed_between_retries_is_resent_with_the_same_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    // The first attempt fails; the kill lands in the backoff before the second.
    let server = ScriptedServer::start(vec![Reply::status(503, "busy")]);
    let mut args = SEND.to_vec();
    args.extend(["--attempts", "4"]);
    kill_send_after_requests(&store, &server, &args, 1);
    assert_resent_once(&store, &server, 1);
}
