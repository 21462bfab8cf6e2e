//! The store's schema: an ordered list of migrations, the version kept in `PRAGMA user_version`,
//! and an `application_id` that tells our file apart from any other SQLite database (a warehouse
//! mirror has neither).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// `PRAGMA application_id` of a groupscope store: "GSCP" in ASCII.
pub const APPLICATION_ID: i32 = 0x4753_4350;

/// Migration `i` brings the schema from version `i` to version `i + 1`. Append, never edit:
/// a released migration has already run on users' files.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// The oldest version a read-only open accepts: V2 only added nullable columns, which a reader
/// of an older file takes as NULL (every row then re-parses its `raw`), so browsing an old store
/// needs no write.
pub const READABLE_FROM: i32 = 1;

/// The indexes on `events`. The importer drops them all before a bulk insert into an empty table
/// and rebuilds them when it commits (building an index once is several times faster than updating
/// it row by row, above all the unique one on random messageIds), so this list must always hold
/// the current definitions: a migration that changes an index updates it here too (a test checks
/// that they match the migrated schema).
pub const EVENT_INDEXES: &[(&str, &str)] = &[
    (
        "events_message_id",
        "CREATE UNIQUE INDEX IF NOT EXISTS events_message_id ON events(message_id) \
         WHERE message_id IS NOT NULL",
    ),
    (
        "events_group_id",
        "CREATE INDEX IF NOT EXISTS events_group_id ON events(group_id)",
    ),
    (
        "events_user_id",
        "CREATE INDEX IF NOT EXISTS events_user_id ON events(user_id)",
    ),
    (
        "events_kind",
        "CREATE INDEX IF NOT EXISTS events_kind ON events(kind)",
    ),
];

/// Version 1. No table has a column for a write key, on purpose: the key lives only in the
/// config (or the environment) and is added to the request at send time, never stored here.
/// `outbox.payload` is the event body alone, not the HTTP request.
const V1: &str = "
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    message_id    TEXT,
    kind          TEXT NOT NULL,
    user_id       TEXT,
    anonymous_id  TEXT,
    group_id      TEXT,
    event_ms      INTEGER,
    received_ms   INTEGER,
    origin        TEXT NOT NULL CHECK (origin IN ('imported', 'sent', 'local')),
    source        TEXT NOT NULL,
    raw           TEXT NOT NULL CHECK (raw <> ''),
    imported_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_message_id ON events(message_id) WHERE message_id IS NOT NULL;
CREATE INDEX events_group_id ON events(group_id);
CREATE INDEX events_user_id ON events(user_id);
CREATE INDEX events_kind ON events(kind);

CREATE TABLE drafts (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    message_id       TEXT NOT NULL UNIQUE,
    payload          TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_ms       INTEGER NOT NULL,
    last_attempt_ms  INTEGER
);
";

/// Version 2: `layout`, what reopening needs to rebuild a row's event without parsing `raw`
/// again: the kind, the event and received times (with the event time's UTC offset) and where
/// the ids, `traits` and `context.traits` sit in `raw`, in the compact encoding of
/// [`super::layout`]. NULL (every V1 row; an event stored compacted, or whose ids are escaped)
/// means "parse `raw`". One column, not one per field: reopening reads every row, and each
/// extra column costs SQLite and rusqlite a few hundred instructions a row.
const V2: &str = "ALTER TABLE events ADD COLUMN layout BLOB;";

/// What a file looks like before we touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// No tables at all: a new file, ours to create.
    Empty,
    /// A groupscope store at this schema version.
    Store(i32),
    /// Some other database (a warehouse mirror, another program's file).
    Foreign(&'static str),
}

/// Reads the application id, version and tables without writing anything.
pub fn inspect(conn: &Connection) -> rusqlite::Result<Shape> {
    let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let tables: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        [],
        |r| r.get(0),
    )?;
    let has_events = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'",
            [],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(if app == APPLICATION_ID && version >= 1 && has_events {
        Shape::Store(version)
    } else if app == 0 && version == 0 && tables == 0 {
        Shape::Empty
    } else if app != APPLICATION_ID {
        Shape::Foreign(if app != 0 {
            "it belongs to another application"
        } else {
            "it has tables but none of groupscope's"
        })
    } else {
        Shape::Foreign("it has groupscope's id but no events table")
    })
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one immediate transaction (so two processes
/// opening the same new file cannot both migrate it). Returns the version found before.
///
/// The caller has already checked with [`inspect`] that the file is empty or ours and not newer.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<i32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again inside the write lock: another process may have migrated meanwhile.
    let found: i32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let start = usize::try_from(found).unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(start) {
        tx.execute_batch(sql)?;
        // PRAGMA takes no parameters; the values are our own integers.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    if start < MIGRATIONS.len() {
        tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))?;
    }
    tx.commit()?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_an_empty_database_sets_version_and_application_id() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(inspect(&conn).unwrap(), Shape::Empty);
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(inspect(&conn).unwrap(), Shape::Store(SCHEMA_VERSION));
        // A second run finds the current version and changes nothing.
        assert_eq!(migrate(&mut conn).unwrap(), SCHEMA_VERSION);
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(tables, ["drafts", "events", "outbox"]);
    }

    #[test]
    fn the_rebuild_list_matches_the_migrated_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let indexes = |conn: &Connection| -> Vec<(String, String)> {
            conn.prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' \
                 ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
        };
        let migrated = indexes(&conn);
        let mut listed: Vec<&str> = EVENT_INDEXES.iter().map(|(name, _)| *name).collect();
        listed.sort_unstable();
        let names: Vec<&str> = migrated.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, listed);
        for (name, _) in EVENT_INDEXES {
            conn.execute_batch(&format!("DROP INDEX {name}")).unwrap();
        }
        for (_, create) in EVENT_INDEXES {
            conn.execute_batch(create).unwrap();
        }
        // Same definitions, up to whitespace and IF NOT EXISTS.
        let normal = |sql: &str| {
            sql.replace("IF NOT EXISTS ", "")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        let rebuilt = indexes(&conn);
        for ((name, before), (_, after)) in migrated.iter().zip(&rebuilt) {
            assert_eq!(normal(before), normal(after), "{name}");
        }
    }

    #[test]
    fn a_warehouse_shaped_database_is_foreign() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE groups (id TEXT, group_id TEXT)")
            .unwrap();
        assert!(matches!(inspect(&conn).unwrap(), Shape::Foreign(_)));
    }

    #[test]
    fn version_1_rows_keep_their_values_and_get_a_null_layout() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(V1).unwrap();
        conn.execute_batch(&format!(
            "PRAGMA user_version = 1; PRAGMA application_id = {APPLICATION_ID};
             INSERT INTO events (kind, origin, source, raw, imported_at)
             VALUES ('group', 'imported', 'a.jsonl', '{{}}', 7);"
        ))
        .unwrap();
        assert_eq!(inspect(&conn).unwrap(), Shape::Store(1));
        assert_eq!(migrate(&mut conn).unwrap(), 1);
        assert_eq!(inspect(&conn).unwrap(), Shape::Store(2));
        let row: (String, i64, Option<Vec<u8>>) = conn
            .query_row("SELECT raw, imported_at, layout FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(row, ("{}".to_string(), 7, None));
    }

    #[test]
    fn no_column_is_named_like_a_write_key() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        for table in ["events", "drafts", "outbox"] {
            let mut stmt = conn
                .prepare(&format!("PRAGMA table_info({table})"))
                .unwrap();
            let names: Vec<String> = stmt
                .query_map([], |r| r.get(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for name in names {
                assert!(!name.contains("key"), "{table}.{name}");
            }
        }
    }
}
