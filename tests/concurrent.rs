//! The explorer reading a store while `import` writes to it: readers on one thread, imports on
//! another, and a second process importing too. No reader may see "database is locked", and
//! every read sees a whole number of imports, never fewer than the read before. Loads that
//! overlap in one process (the explorer's refresh starts a new load while the last one still
//! runs) must not break each other's locks either (see `groupscope::store::lease`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use groupscope::source::{LoadOptions, load};
use groupscope::store::{NewEvent, Origin, Store};

const PER_IMPORT: usize = 2_000;
const IMPORTS: usize = 8;

fn raw(batch: usize, i: usize) -> String {
    format!(
        r#"{{"type":"group","messageId":"b{batch}-{i}","userId":"u{}","groupId":"g{}","traits":{{"n":{i}}},"timestamp":"2024-01-01T00:00:00.000Z"}}"#,
        i % 31,
        i % 7
    )
}

/// One import of `PER_IMPORT` group calls through the store's importer (one transaction).
fn import_batch(store: &mut Store, batch: usize) {
    let raws: Vec<String> = (0..PER_IMPORT).map(|i| raw(batch, i)).collect();
    let ids: Vec<String> = (0..PER_IMPORT).map(|i| format!("b{batch}-{i}")).collect();
    let users: Vec<String> = (0..PER_IMPORT).map(|i| format!("u{}", i % 31)).collect();
    let groups: Vec<String> = (0..PER_IMPORT).map(|i| format!("g{}", i % 7)).collect();
    let summary = store
        .import((0..PER_IMPORT).map(|i| NewEvent {
            message_id: Some(&ids[i]),
            kind: "group",
            user_id: Some(&users[i]),
            anonymous_id: None,
            group_id: Some(&groups[i]),
            event_ms: Some(1_704_067_200_000),
            received_ms: None,
            origin: Origin::Imported,
            source: "concurrent.jsonl",
            raw: &raws[i],
            layout: None,
        }))
        .unwrap();
    assert_eq!(summary.inserted, PER_IMPORT as u64);
}

/// Reads the store in a loop until `stop`, the two ways the explorer does: a read-only open
/// with a count, and a whole model load (its "refresh"). Returns every count seen, in order.
fn reader(path: PathBuf, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut seen = Vec::new();
    loop {
        // A round that starts after `stop` (set once the writer is done) sees the final state.
        let last_round = stop.load(Ordering::SeqCst);
        for _ in 0..10 {
            let store = Store::open_read_only(&path)
                .unwrap_or_else(|e| panic!("read-only open during an import: {e}"));
            seen.push(
                store
                    .count_events()
                    .unwrap_or_else(|e| panic!("count during an import: {e}")),
            );
        }
        let model = load(
            std::slice::from_ref(&path),
            &LoadOptions {
                threads: 1,
                ..LoadOptions::default()
            },
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("load during an import: {e}"));
        assert_eq!(model.counts().problems, 0);
        // One model is one snapshot: its calls and its events agree.
        assert_eq!(model.counts().group, model.calls().len() as u64);
        seen.push(model.counts().events);
        if last_round {
            return seen;
        }
    }
}

fn assert_consistent(seen: &[u64], total: u64) {
    assert!(!seen.is_empty());
    for pair in seen.windows(2) {
        assert!(
            pair[0] <= pair[1],
            "a later read saw fewer events: {seen:?}"
        );
    }
    for &n in seen {
        assert_eq!(
            n % PER_IMPORT as u64,
            0,
            "a read saw part of an import: {seen:?}"
        );
        assert!(n <= total);
    }
}

fn new_store(dir: &Path) -> PathBuf {
    let path = dir.join("store.db");
    let mut store = Store::open(&path).unwrap();
    import_batch(&mut store, 0);
    path
}

#[test]
fn readers_never_see_a_lock_or_half_an_import_while_another_thread_imports() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (path, stop) = (path.clone(), stop.clone());
            thread::spawn(move || reader(path, stop))
        })
        .collect();
    let writer = {
        let path = path.clone();
        thread::spawn(move || {
            let mut store = Store::open(&path).unwrap();
            for batch in 1..=IMPORTS {
                import_batch(&mut store, batch);
                thread::sleep(Duration::from_millis(20));
            }
        })
    };
    writer.join().unwrap();
    stop.store(true, Ordering::SeqCst);
    let total = ((IMPORTS + 1) * PER_IMPORT) as u64;
    for r in readers {
        let seen = r.join().unwrap();
        assert_consistent(&seen, total);
        assert_eq!(*seen.last().unwrap(), total, "{seen:?}");
        eprintln!(
            "reader: {} reads, counts from {} to {}",
            seen.len(),
            seen[0],
            seen.last().unwrap()
        );
    }
}

#[test]
fn readers_keep_reading_while_the_import_command_writes_in_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = new_store(dir.path());
    let input = dir.path().join("more.jsonl");
    let text: String = (0..PER_IMPORT).map(|i| raw(99, i) + "\n").collect();
    std::fs::write(&input, text).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reading = {
        let (path, stop) = (path.clone(), stop.clone());
        thread::spawn(move || reader(path, stop))
    };
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .arg("import")
        .arg(&input)
        .arg("--store")
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let seen = reading.join().unwrap();
    assert_consistent(&seen, 2 * PER_IMPORT as u64);
    assert_eq!(*seen.last().unwrap(), 2 * PER_IMPORT as u64);
    eprintln!("{} reads during a {took:?} import", seen.len());
}

#[test]
fn a_new_store_whose_writer_is_still_open_is_recognised() {
    // Until the first checkpoint, a new store's first page (with its application id) is only in
    // the WAL: a reader must still see a store, not a foreign database.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut writer = Store::open(&path).unwrap();
    import_batch(&mut writer, 0);
    assert!(dir.path().join("store.db-wal").exists());
    assert!(Store::is_store(&path));
    let model = load(
        std::slice::from_ref(&path),
        &LoadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(model.counts().group, PER_IMPORT as u64);
    assert_eq!(
        model.sources()[0].kind,
        groupscope::model::SourceKind::Store
    );
    drop(writer);
}

#[test]
fn overlapping_loads_in_one_process_see_whole_imports_from_another_process() {
    // What the explorer does when `r` is pressed again and again during an import: a new load
    // every 60 ms, the one before cancelled half the time and otherwise left to finish. Each
    // load's format check used to open and close the store, dropping the other loads' POSIX
    // locks; the importing process could then checkpoint under a reader, which saw part of an
    // import (10,050 of 2 imports' 20,000 calls).
    const BIG: usize = 6_000;
    const BIG_IMPORTS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let path = new_store(dir.path());
    let (tx, rx) = std::sync::mpsc::channel::<u64>();
    let mut loads = Vec::new();
    for batch in 1..=BIG_IMPORTS {
        let input = dir.path().join(format!("big{batch}.jsonl"));
        let text: String = (0..BIG).map(|i| raw(100 + batch, i) + "\n").collect();
        std::fs::write(&input, text).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_groupscope"))
            .arg("import")
            .arg(&input)
            .arg("--store")
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut previous: Option<Arc<AtomicBool>> = None;
        while child.try_wait().unwrap().is_none() {
            if let Some(cancel) = previous.take()
                && loads.len() % 2 == 0
            {
                cancel.store(true, Ordering::Relaxed);
            }
            let options = LoadOptions::default();
            previous = Some(options.cancel.clone());
            let (path, tx) = (path.clone(), tx.clone());
            loads.push(thread::spawn(move || {
                let loaded = load(std::slice::from_ref(&path), &options, &mut |_| {});
                match loaded {
                    Ok(model) => {
                        assert_eq!(model.counts().problems, 0);
                        let _ = tx.send(model.counts().group);
                    }
                    Err(groupscope::source::LoadError::Cancelled) => {}
                    Err(e) => panic!("load during an import: {e}"),
                }
            }));
            thread::sleep(Duration::from_millis(60));
        }
        assert!(child.wait().unwrap().success());
    }
    let started = loads.len();
    for l in loads {
        l.join().unwrap();
    }
    drop(tx);
    let seen: Vec<u64> = rx.iter().collect();
    eprintln!("{started} loads started, {} finished: {seen:?}", seen.len());
    assert!(!seen.is_empty());
    for n in &seen {
        assert_eq!(
            (n - PER_IMPORT as u64) % BIG as u64,
            0,
            "a load saw part of an import: {seen:?}"
        );
    }
}
