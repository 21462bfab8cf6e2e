use super::*;

pub(crate) fn ev<'a>(message_id: Option<&'a str>, raw: &'a str) -> NewEvent<'a> {
    NewEvent {
        message_id,
        kind: "group",
        user_id: Some("u1"),
        anonymous_id: None,
        group_id: Some("g1"),
        event_ms: Some(1_700_000_000_000),
        received_ms: Some(1_700_000_000_500),
        origin: Origin::Imported,
        source: "events.jsonl",
        raw,
        layout: None,
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    (dir, store)
}

fn all(store: &Store) -> Vec<(i64, String, Origin)> {
    let mut out = Vec::new();
    store
        .for_each_event(|id, raw, origin| out.push((id, raw.to_owned(), origin)))
        .unwrap();
    out
}

#[test]
fn the_last_event_id_says_about_how_many_are_stored() {
    let (_dir, mut store) = store();
    assert_eq!(store.last_event_id().unwrap(), 0);
    store
        .import([ev(Some("m1"), r#"{"a":1}"#), ev(None, r#"{"a":2}"#)])
        .unwrap();
    assert_eq!(store.last_event_id().unwrap(), 2);
    assert_eq!(store.count_events().unwrap(), 2);
}

#[test]
fn duplicates_by_message_id_are_counted_and_missing_ids_always_kept() {
    let (_dir, mut store) = store();
    let first = store
        .import([
            ev(Some("m1"), r#"{"a":1}"#),
            ev(Some("m2"), r#"{"a":2}"#),
            ev(Some("m1"), r#"{"a":"dup"}"#),
            ev(None, r#"{"a":3}"#),
            ev(None, r#"{"a":3}"#),
        ])
        .unwrap();
    assert_eq!(
        first,
        ImportSummary {
            inserted: 4,
            duplicates: 1
        }
    );
    let second = store
        .import([
            ev(Some("m2"), r#"{"a":"again"}"#),
            ev(Some("m3"), r#"{"a":4}"#),
        ])
        .unwrap();
    assert_eq!(
        second,
        ImportSummary {
            inserted: 1,
            duplicates: 1
        }
    );
    let raws: Vec<String> = all(&store).into_iter().map(|(_, raw, _)| raw).collect();
    assert_eq!(
        raws,
        [
            r#"{"a":1}"#,
            r#"{"a":2}"#,
            r#"{"a":3}"#,
            r#"{"a":3}"#,
            r#"{"a":4}"#
        ]
    );
    assert_eq!(store.count_events().unwrap(), 5);
}

#[test]
fn a_failing_row_rolls_back_the_whole_import() {
    let (_dir, mut store) = store();
    store
        .import([ev(Some("m0"), r#"{"before":true}"#)])
        .unwrap();
    // An empty raw breaks the CHECK constraint in the middle of the batch.
    let err = store
        .import([
            ev(Some("m1"), r#"{"a":1}"#),
            ev(Some("m2"), ""),
            ev(Some("m3"), r#"{"a":3}"#),
        ])
        .unwrap_err();
    assert!(matches!(err, StoreError::Sqlite { .. }), "{err:?}");
    assert_eq!(all(&store).len(), 1);
    // Nothing half-done lingers: the same ids import cleanly afterwards.
    let ok = store.import([ev(Some("m1"), r#"{"a":1}"#)]).unwrap();
    assert_eq!(ok.inserted, 1);
}

#[test]
fn a_failing_first_import_keeps_the_indexes() {
    let (_dir, mut store) = store();
    assert!(store.import([ev(Some("m1"), "")]).is_err());
    let indexes: i64 = store
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 4, "message_id + group_id + user_id + kind");
}

#[test]
fn a_first_import_checks_rows_itself_and_gives_the_checks_back() {
    let (_dir, mut store) = store();
    let mut importer = store.begin_import().unwrap();
    assert!(importer.add(&ev(Some("m1"), "{}")).unwrap());
    assert!(matches!(
        importer.add(&ev(Some("m2"), "")),
        Err(StoreError::Invalid(_))
    ));
    drop(importer);
    assert_eq!(store.count_events().unwrap(), 0);
    let on: bool = store
        .conn
        .query_row("PRAGMA ignore_check_constraints", [], |r| r.get(0))
        .unwrap();
    assert!(!on, "checks are back after a rolled-back import");
    store.import([ev(Some("m1"), "{}")]).unwrap();
    let on: bool = store
        .conn
        .query_row("PRAGMA ignore_check_constraints", [], |r| r.get(0))
        .unwrap();
    assert!(!on, "checks are back after a finished import");
    // Now SQLite checks again.
    assert!(matches!(
        store.import([ev(Some("m9"), "")]),
        Err(StoreError::Sqlite { .. })
    ));
}

#[test]
fn a_panic_mid_import_rolls_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let result = std::panic::catch_unwind(|| {
        let mut store = Store::open(&path).unwrap();
        let events = (0..10).map(|i| {
            assert!(i < 5, "source died");
            ev(None, r#"{"x":1}"#)
        });
        store.import(events)
    });
    assert!(result.is_err());
    assert_eq!(Store::open(&path).unwrap().count_events().unwrap(), 0);
}

#[test]
fn columns_are_stored_and_rows_read_back_by_id() {
    let (_dir, mut store) = store();
    store.set_clock(|| 42);
    store
        .import([ev(Some("m1"), r#"{"type":"group"}"#)])
        .unwrap();
    let row: (
        String,
        String,
        Option<String>,
        String,
        i64,
        i64,
        i64,
        String,
    ) = store
        .conn
        .query_row(
            "SELECT message_id, kind, user_id, group_id, event_ms, received_ms, imported_at, \
             source FROM events",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(
        row,
        (
            "m1".into(),
            "group".into(),
            Some("u1".into()),
            "g1".into(),
            1_700_000_000_000,
            1_700_000_000_500,
            42,
            "events.jsonl".into()
        )
    );
    let (id, _, origin) = all(&store)[0].clone();
    assert_eq!(origin, Origin::Imported);
    assert_eq!(
        store.raw_event(id).unwrap().as_deref(),
        Some(r#"{"type":"group"}"#)
    );
    assert_eq!(store.raw_event(id + 1).unwrap(), None);
}

#[test]
fn each_row_keeps_its_own_source_and_origin() {
    let (_dir, mut store) = store();
    store.set_clock(|| 9);
    let sent = |raw| NewEvent {
        origin: Origin::Sent,
        ..ev(None, raw)
    };
    let other = |raw| NewEvent {
        source: "b.jsonl",
        ..ev(None, raw)
    };
    store
        .import([
            ev(None, "{}"),
            other("{}"),
            other("{}"),
            sent("{}"),
            ev(None, "{}"),
        ])
        .unwrap();
    let rows: Vec<(String, String, i64)> = store
        .conn
        .prepare("SELECT source, origin, imported_at FROM events ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want = [
        ("events.jsonl", "imported"),
        ("b.jsonl", "imported"),
        ("b.jsonl", "imported"),
        ("events.jsonl", "sent"),
        ("events.jsonl", "imported"),
    ];
    let got: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|(s, o, t)| (s.as_str(), o.as_str(), *t))
        .collect();
    let want: Vec<(&str, &str, i64)> = want.iter().map(|(s, o)| (*s, *o, 9)).collect();
    assert_eq!(got, want);
}

#[test]
fn the_importer_counts_as_it_goes_and_stops_early_without_a_trace() {
    let (_dir, mut store) = store();
    let mut importer = store.begin_import().unwrap();
    assert!(importer.add(&ev(Some("a"), "{}")).unwrap());
    assert!(!importer.add(&ev(Some("a"), "{}")).unwrap());
    assert_eq!(
        importer.summary(),
        ImportSummary {
            inserted: 1,
            duplicates: 1
        }
    );
    drop(importer); // cancelled
    assert_eq!(store.count_events().unwrap(), 0);

    store.import((0..3).map(|_| ev(None, "{}"))).unwrap();
    let mut seen = 0;
    let complete = store
        .for_each_event_until(|_, _, _| {
            seen += 1;
            if seen == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert!(!complete);
    assert_eq!(seen, 2);
}

fn journal_mode(store: &Store) -> String {
    store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_first_import_into_a_new_file_bypasses_the_wal_and_leaves_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = Store::open(&path).unwrap();
    let importer = store.begin_import().unwrap();
    assert!(importer.direct);
    let mode: String = importer
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    drop(importer); // rolled back: WAL again, and the next import may still go direct
    assert_eq!(journal_mode(&store), "wal");
    assert_eq!(store.count_events().unwrap(), 0);

    let mut store = Store::open(&path).unwrap();
    let first = store
        .import([ev(Some("m1"), "{}"), ev(Some("m1"), "{}"), ev(None, "{}")])
        .unwrap();
    assert_eq!(first.inserted, 2);
    assert_eq!(journal_mode(&store), "wal");
    let sync: i64 = store
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL, as Store::open sets it");
    assert!(!dir.path().join("store.db-journal").exists());
    assert!(dir.path().join("store.db-wal").exists());
    // The store was no longer new: this import runs in WAL like any other.
    let importer = store.begin_import().unwrap();
    assert!(!importer.direct);
    importer.finish().unwrap();
    drop(store);
    // An existing store opened again is not new either.
    let mut store = Store::open(&path).unwrap();
    assert!(!store.begin_import().unwrap().direct);
    assert_eq!(store.count_events().unwrap(), 2);
}

#[test]
fn a_new_store_another_connection_holds_open_imports_through_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = Store::open(&path).unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    assert_eq!(reader.count_events().unwrap(), 0);
    let mut importer = store.begin_import().unwrap();
    assert!(!importer.direct, "the other connection keeps the WAL on");
    importer.add(&ev(Some("m1"), "{}")).unwrap();
    assert_eq!(reader.count_events().unwrap(), 0);
    importer.finish().unwrap();
    assert_eq!(reader.count_events().unwrap(), 1);
}

#[test]
fn a_reader_and_an_importer_do_not_lock_each_other_out() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut writer = Store::open(&path).unwrap();
    writer.import([ev(Some("m1"), "{}")]).unwrap();
    let reader = Store::open_read_only(&path).unwrap();
    let mut importer = writer.begin_import().unwrap();
    importer.add(&ev(Some("m2"), "{}")).unwrap();
    // The reader sees the last commit while the import is open.
    assert_eq!(reader.count_events().unwrap(), 1);
    importer.finish().unwrap();
    assert_eq!(reader.count_events().unwrap(), 2);
}
