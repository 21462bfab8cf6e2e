//! The `events` table: bulk import in one transaction, streaming reads in rowid order.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use std::ops::ControlFlow;

use rusqlite::{Connection, OptionalExtension, Statement, Transaction, params};

use xxhash_rust::xxh3::xxh3_128;

use super::layout::RawLayout;
use super::schema::EVENT_INDEXES;
use super::{Store, StoreError};
use crate::model::intern::PassThroughHasher;

/// Where a stored event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Read from a file, a dump or a warehouse.
    Imported,
    /// Composed here and accepted by a data plane.
    Sent,
    /// Composed here and kept without sending.
    Local,
}

impl Origin {
    /// The value kept in the `origin` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Imported => "imported",
            Origin::Sent => "sent",
            Origin::Local => "local",
        }
    }

    /// The inverse of [`Origin::as_str`].
    pub fn parse(text: &str) -> Option<Origin> {
        match text {
            "imported" => Some(Origin::Imported),
            "sent" => Some(Origin::Sent),
            "local" => Some(Origin::Local),
            _ => None,
        }
    }
}

/// One event to store, borrowed from the text it was parsed from.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// `messageId`; events that share one are stored once. `None` is always stored.
    pub message_id: Option<&'a str>,
    /// `group`, `identify` or `other`.
    pub kind: &'a str,
    /// `userId`.
    pub user_id: Option<&'a str>,
    /// `anonymousId`.
    pub anonymous_id: Option<&'a str>,
    /// `groupId`.
    pub group_id: Option<&'a str>,
    /// The event time (spec §2.3), UTC milliseconds.
    pub event_ms: Option<i64>,
    /// `receivedAt`, UTC milliseconds.
    pub received_ms: Option<i64>,
    /// Where it came from.
    pub origin: Origin,
    /// The file (or table) it was read from.
    pub source: &'a str,
    /// The event's whole JSON text; must not be empty.
    pub raw: &'a str,
    /// What parsing `raw` found, so reopening need not parse it again (schema V2); `None`
    /// makes reopening parse the row.
    pub layout: Option<RawLayout>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Rows added.
    pub inserted: u64,
    /// Events skipped because their `messageId` was already stored (or seen earlier in this import).
    pub duplicates: u64,
}

/// Not `INSERT OR IGNORE`: that would also silently skip rows breaking a NOT NULL or CHECK
/// constraint (and count them as duplicates). This ignores a repeated messageId only.
const INSERT_EVENT: &str = "INSERT INTO events (message_id, kind, user_id, anonymous_id, \
     group_id, event_ms, received_ms, origin, source, raw, imported_at, layout) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
     ON CONFLICT (message_id) WHERE message_id IS NOT NULL DO NOTHING";

/// Inserts one event unless its messageId is already stored; true when a row was added.
pub(super) fn insert_event(
    tx: &Transaction<'_>,
    e: &NewEvent<'_>,
    imported_at: i64,
) -> rusqlite::Result<bool> {
    insert_with(tx, INSERT_EVENT, e, imported_at)
}

/// A plain insert, for bulk mode where the unique index is gone and duplicates are caught in
/// memory (an `ON CONFLICT` target needs the index).
const INSERT_EVENT_BULK: &str = "INSERT INTO events (message_id, kind, user_id, anonymous_id, \
     group_id, event_ms, received_ms, origin, source, raw, imported_at, layout) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

fn insert_with(
    tx: &Transaction<'_>,
    sql: &str,
    e: &NewEvent<'_>,
    imported_at: i64,
) -> rusqlite::Result<bool> {
    // Cached: one prepare for the whole transaction, then a hash lookup per row.
    let mut stmt = tx.prepare_cached(sql)?;
    execute_insert(&mut stmt, e, imported_at)
}

/// Runs a prepared insert of one event; true when a row was added.
fn execute_insert(
    stmt: &mut rusqlite::Statement<'_>,
    e: &NewEvent<'_>,
    imported_at: i64,
) -> rusqlite::Result<bool> {
    let changed = stmt.execute(params![
        e.message_id,
        e.kind,
        e.user_id,
        e.anonymous_id,
        e.group_id,
        e.event_ms,
        e.received_ms,
        e.origin.as_str(),
        e.source,
        e.raw,
        imported_at,
        e.layout.as_ref().map(RawLayout::as_bytes),
    ])?;
    Ok(changed > 0)
}

/// An import in progress: one transaction. [`Importer::finish`] commits it; dropping it (an
/// error, a cancelled load, a panic) rolls everything back, and a killed process leaves the
/// store as it was because the transaction never committed.
///
/// Use it when events arrive through a callback (as [`crate::event::parse_text`] hands them out);
/// [`Store::import`] wraps it for an iterator.
#[derive(Debug)]
pub struct Importer<'s> {
    conn: &'s Connection,
    /// The insert, prepared once for the whole import.
    insert: Statement<'s>,
    /// The `source` and `origin` bound to `insert` now: the same for a whole input, so they
    /// are bound again only when they change (binding a text costs as much as a short column).
    bound: Option<(String, Origin)>,
    /// The transaction is open: dropping the importer rolls it back.
    open: bool,
    path: &'s std::path::Path,
    imported_at: i64,
    /// Bulk mode (the table was empty): the indexes are dropped, and these are the 128-bit
    /// hashes of the messageIds added so far (already uniform: the set does not hash them
    /// again). Two different ids colliding is a ~1e-26 chance per million rows, accepted for
    /// not holding every id as a String.
    bulk_seen: Option<HashSet<u128, BuildHasherDefault<PassThroughHasher>>>,
    /// The first import into a new file runs in rollback-journal mode (see
    /// [`Store::begin_import`]); the store goes back to WAL when the import ends either way.
    direct: bool,
    summary: ImportSummary,
}

/// In bulk mode SQLite's CHECK constraints are switched off for the import (the `origin IN
/// (…)` check builds a temporary table for every row, a third of an insert's cost), and the
/// importer checks the same things itself: the origin comes from [`Origin`], so only an empty
/// `raw` can break them.
const EMPTY_RAW: &str = "an event's raw JSON must not be empty";

impl Importer<'_> {
    /// Adds one event; `Ok(false)` when its `messageId` is already stored.
    pub fn add(&mut self, event: &NewEvent<'_>) -> Result<bool, StoreError> {
        let fail = |e| StoreError::from_sqlite(self.path, e);
        if !self.open {
            return Err(StoreError::Invalid("the import is already finished"));
        }
        let new = match &mut self.bulk_seen {
            Some(seen) => {
                if event.raw.is_empty() {
                    return Err(StoreError::Invalid(EMPTY_RAW));
                }
                event
                    .message_id
                    .is_none_or(|id| seen.insert(xxh3_128(id.as_bytes())))
            }
            None => true,
        };
        let inserted = new && self.execute(event).map_err(fail)?;
        if inserted {
            self.summary.inserted += 1;
        } else {
            self.summary.duplicates += 1;
        }
        Ok(inserted)
    }

    /// Runs the prepared insert for one event; true when a row was added.
    fn execute(&mut self, e: &NewEvent<'_>) -> rusqlite::Result<bool> {
        let stmt = &mut self.insert;
        let same = |(source, origin): &(String, Origin)| source == e.source && *origin == e.origin;
        if !self.bound.as_ref().is_some_and(same) {
            stmt.raw_bind_parameter(8, e.origin.as_str())?;
            stmt.raw_bind_parameter(9, e.source)?;
            stmt.raw_bind_parameter(11, self.imported_at)?;
            self.bound = Some((e.source.to_owned(), e.origin));
        }
        stmt.raw_bind_parameter(1, e.message_id)?;
        stmt.raw_bind_parameter(2, e.kind)?;
        stmt.raw_bind_parameter(3, e.user_id)?;
        stmt.raw_bind_parameter(4, e.anonymous_id)?;
        stmt.raw_bind_parameter(5, e.group_id)?;
        stmt.raw_bind_parameter(6, e.event_ms)?;
        stmt.raw_bind_parameter(7, e.received_ms)?;
        stmt.raw_bind_parameter(10, e.raw)?;
        stmt.raw_bind_parameter(12, e.layout.as_ref().map(RawLayout::as_bytes))?;
        Ok(stmt.raw_execute()? > 0)
    }

    /// Counts so far.
    pub fn summary(&self) -> ImportSummary {
        self.summary
    }

    /// Rebuilds any dropped index and commits.
    pub fn finish(mut self) -> Result<ImportSummary, StoreError> {
        let fail = |e| StoreError::from_sqlite(self.path, e);
        if self.bulk_seen.is_some() {
            checks(self.conn, true).map_err(fail)?;
            for (_, create) in EVENT_INDEXES {
                self.conn.execute_batch(create).map_err(fail)?;
            }
        }
        self.conn.execute_batch("COMMIT").map_err(fail)?;
        self.open = false;
        if self.direct {
            self.direct = false;
            back_to_wal(self.conn);
        }
        Ok(self.summary)
    }
}

impl Drop for Importer<'_> {
    /// An unfinished import rolls back; the connection gets its CHECK constraints back.
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if self.bulk_seen.is_some() {
            let _ = checks(self.conn, true);
        }
        if self.direct {
            back_to_wal(self.conn);
        }
    }
}

/// Leaves WAL for a rollback journal that syncs fully; true when the connection is now in
/// rollback mode (another connection to the file makes SQLite refuse: the import then just
/// stays in WAL).
fn rollback_journal(conn: &Connection) -> bool {
    let mode = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap_or_default();
    if !mode.eq_ignore_ascii_case("delete") {
        return false;
    }
    // In rollback mode only FULL is proof against a power cut at the wrong moment.
    if conn.pragma_update(None, "synchronous", "FULL").is_err() {
        back_to_wal(conn);
        return false;
    }
    true
}

/// Puts the store back in the WAL mode (and sync level) [`Store::open`] sets. A failure leaves a
/// committed, consistent store in rollback mode, which the next open puts back in WAL: nothing
/// to report.
fn back_to_wal(conn: &Connection) {
    let _ = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0));
    let _ = conn.pragma_update(None, "synchronous", "NORMAL");
    // Open the WAL now, as any WAL store has one while a connection is open.
    let _ = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    });
}

/// Switches SQLite's CHECK constraints on or off for this connection.
fn checks(conn: &rusqlite::Connection, on: bool) -> rusqlite::Result<()> {
    conn.pragma_update(None, "ignore_check_constraints", !on)
}

impl Store {
    /// Starts an import. Into an empty table the indexes are dropped now and rebuilt by
    /// [`Importer::finish`], inside the same transaction (a first import of a million events
    /// is then mostly sequential writes).
    pub fn begin_import(&mut self) -> Result<Importer<'_>, StoreError> {
        self.writable()?;
        let imported_at = self.now_ms();
        let fresh = std::mem::take(&mut self.fresh);
        let path = self.path.as_path();
        let conn = &self.conn;
        let fail = |e| StoreError::from_sqlite(path, e);
        // The first import into a file this open created writes straight into the database file
        // through a rollback journal instead of through the WAL: every page it adds lies past the
        // file's end at the start, and SQLite journals only pages that existed then, so the
        // journal stays a few pages long while a crash still leaves the file as it was (the hot
        // journal puts those pages back and cuts the file to its old length), and the commit
        // syncs the file (synchronous = FULL). Through the WAL the same rows were written twice
        // (WAL frames, then the checkpoint copying them into the file) and checksummed: about
        // a fifth of a million-event import. The price: in rollback mode a reader waits for the
        // writer's lock, so another process opening this brand-new store during its first
        // import waits (then reports it locked) instead of seeing it empty; there is nothing in
        // it to browse yet, and WAL is back on when the import ends, so readers of every later
        // import are never blocked. A second connection that already has the file open makes
        // SQLite refuse the switch, and the import then goes through the WAL as before.
        let direct = fresh && rollback_journal(conn);
        // Immediate: take the write lock now (waiting up to the busy timeout), not at the first
        // insert where a conflict could no longer be retried. The importer holds the
        // transaction itself (not a `Transaction`) so that it can keep its insert prepared.
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            if direct {
                back_to_wal(conn);
            }
            return Err(fail(e));
        }
        let rollback = |e| {
            let _ = conn.execute_batch("ROLLBACK");
            if direct {
                back_to_wal(conn);
            }
            fail(e)
        };
        let empty = conn
            .query_row("SELECT 1 FROM events LIMIT 1", [], |_| Ok(()))
            .optional()
            .map_err(rollback)?
            .is_none();
        if empty {
            for (name, _) in EVENT_INDEXES {
                conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                    .map_err(rollback)?;
            }
            checks(conn, false).map_err(rollback)?;
        }
        let sql = if empty {
            INSERT_EVENT_BULK
        } else {
            INSERT_EVENT
        };
        let insert = match conn.prepare(sql) {
            Ok(stmt) => stmt,
            Err(e) => {
                let _ = checks(conn, true);
                return Err(rollback(e));
            }
        };
        Ok(Importer {
            conn,
            insert,
            open: true,
            path,
            imported_at,
            bound: None,
            bulk_seen: empty.then(HashSet::default),
            direct,
            summary: ImportSummary::default(),
        })
    }

    /// Stores many events in one transaction: all of them or, on any error, none.
    pub fn import<'a>(
        &mut self,
        events: impl IntoIterator<Item = NewEvent<'a>>,
    ) -> Result<ImportSummary, StoreError> {
        let mut importer = self.begin_import()?;
        for event in events {
            importer.add(&event)?;
        }
        importer.finish()
    }

    /// Calls `f(rowid, raw, origin)` for every event in rowid (insertion) order, one row at a
    /// time: nothing is collected.
    pub fn for_each_event(&self, mut f: impl FnMut(i64, &str, Origin)) -> Result<(), StoreError> {
        self.for_each_event_until(|rowid, raw, origin| {
            f(rowid, raw, origin);
            ControlFlow::Continue(())
        })
        .map(|_| ())
    }

    /// [`Store::for_each_event`] that stops when `f` says so (a cancelled load). Returns whether
    /// every row was visited.
    pub fn for_each_event_until(
        &self,
        mut f: impl FnMut(i64, &str, Origin) -> ControlFlow<()>,
    ) -> Result<bool, StoreError> {
        let fail = |e| self.fail(e);
        let mut stmt = self
            .conn
            .prepare("SELECT id, raw, origin FROM events ORDER BY id")
            .map_err(fail)?;
        let mut rows = stmt.query([]).map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            let rowid: i64 = row.get(0).map_err(fail)?;
            // Borrowed straight from SQLite's row buffer: no String per event.
            let raw = row.get_ref(1).and_then(|v| Ok(v.as_str()?)).map_err(fail)?;
            let origin_text = row.get_ref(2).and_then(|v| Ok(v.as_str()?)).map_err(fail)?;
            // The CHECK constraint makes any other value impossible in a file we wrote.
            let origin = Origin::parse(origin_text).unwrap_or(Origin::Imported);
            if f(rowid, raw, origin).is_break() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The raw JSON of one event, for showing the call behind a row.
    pub fn raw_event(&self, rowid: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT raw FROM events WHERE id = ?1", [rowid], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.fail(e))
    }

    /// The highest event id, 0 when there are none: about how many events are stored, at
    /// once (`count_events` reads the whole table).
    pub fn last_event_id(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.fail(e))
    }

    /// How many events are stored.
    pub fn count_events(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM events", [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| self.fail(e))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod speed;
