//! Reads a warehouse-shaped SQLite database (RudderStack's `groups` and `identifies` tables,
//! spec §5) and rebuilds every row as the JSON text of a `group` or `identify` call, so the rest
//! of groupscope parses it like any other input.
//!
//! The file is opened read-only with `query_only` on; nothing here ever writes to it.
//!
//! **The rebuild is lossy (spec §5.4)** unless the row has a `rudder_event` column, which is
//! then used verbatim:
//! - camelCase is lost: trait keys come back snake_case, except the reserved ones restored below;
//! - nesting is lost: `settings_limits_seats` stays one flat key (only `address_*` is re-nested);
//! - arrays come back as strings holding JSON (`"tags":"[\"a\",\"b\"]"`), as the warehouse
//!   stored them;
//! - a trait named `id` (or any reserved column name) was dropped by the warehouse for good;
//! - empty strings, `null` and `[]` values were never stored, so they are missing;
//! - `request_ip`, `rudderId`, `integrations` are not columns; `context_*` keys other than
//!   `library` and `traits` stay flat (`context.user_agent`, not `context.userAgent`).
//!
//! Mapping of columns (names compared lower-cased, so an UPPERCASE Snowflake mirror reads too):
//! - `id`→`messageId`, `user_id`, `anonymous_id`, `group_id` (groups only), `channel`,
//!   `sent_at`, `original_timestamp`, `timestamp`, `received_at` → their camelCase fields;
//! - `context_library_{name,version}` → `context.library`, `context_traits_X` → `context.traits`,
//!   other `context_X` → `context.X`;
//! - `uuid_ts`, `loaded_at` are load metadata and dropped;
//! - every other non-null column is a trait (`traits`): `address_{street,city,state,postal_code,
//!   country}` → `address.{…, postalCode, …}`, `created_at` → `createdAt`; for user traits
//!   (`identifies` and `context.traits`) also `first_name`/`last_name` → `firstName`/`lastName`.
//!
//! Values keep their SQLite types (integer, real, text); an integer in a column declared
//! `BOOLEAN` becomes `true`/`false`, a blob becomes a base64 string.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::store::LeasedConnection;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

mod plan;
#[cfg(test)]
mod tests;

use plan::Plan;

/// The tables read, and the event type each holds.
const TABLES: [(&str, &str); 2] = [("groups", "group"), ("identifies", "identify")];

/// How long to wait for another program's lock before reporting the file as locked.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// One rebuilt row.
#[derive(Debug, Clone, Copy)]
pub struct WarehouseRow<'a> {
    /// `groups` or `identifies`, as spelled in the file.
    pub table: &'a str,
    /// The row's rowid, for [`warehouse_row_json`].
    pub rowid: i64,
    /// The event's JSON text (the `rudder_event` column's text when the row has one).
    pub json: &'a str,
}

/// What a read found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarehouseSummary {
    /// Rows read from `groups`.
    pub groups: u64,
    /// Rows read from `identifies`.
    pub identifies: u64,
    /// Of those, rows whose `rudder_event` column was used instead of a rebuild.
    pub from_rudder_event: u64,
    /// False when the callback stopped the read early.
    pub complete: bool,
}

/// One table the reader will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseTable {
    /// The table's name as spelled in the file.
    pub name: String,
    /// `group` or `identify`.
    pub event_type: &'static str,
    /// The largest rowid (about the row count, cheap to get), for progress.
    pub max_rowid: i64,
}

/// Why a warehouse file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// No file at that path.
    #[error("{}: no such file", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// Another program holds a lock longer than the busy timeout.
    #[error("{}: the database is locked by another program; try again when it is done", path.display())]
    Locked {
        /// The path.
        path: PathBuf,
    },
    /// Not an SQLite file.
    #[error("{}: not an SQLite database", path.display())]
    NotSqlite {
        /// The path.
        path: PathBuf,
    },
    /// SQLite reports the file as damaged.
    #[error("{}: the database is damaged ({detail})", path.display())]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// SQLite's message.
        detail: String,
    },
    /// An SQLite file without a `groups` table that has a `group_id` column.
    #[error("{}: not a warehouse database (no groups table with a group_id column)", path.display())]
    NotAWarehouse {
        /// The path.
        path: PathBuf,
    },
    /// [`warehouse_row_json`] was asked for a table that is not read.
    #[error("{}: no table {table:?} to read (only groups and identifies)", path.display())]
    NoSuchTable {
        /// The path.
        path: PathBuf,
        /// The name asked for.
        table: String,
    },
    /// [`warehouse_row_json`] was asked for a missing row.
    #[error("{}: {table} has no row {rowid}", path.display())]
    NoSuchRow {
        /// The path.
        path: PathBuf,
        /// The table.
        table: String,
        /// The rowid asked for.
        rowid: i64,
    },
    /// Any other SQLite error.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
}

impl WarehouseError {
    fn from_sqlite(path: &Path, source: rusqlite::Error) -> WarehouseError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                WarehouseError::Locked { path }
            }
            Some(ErrorCode::NotADatabase) => WarehouseError::NotSqlite { path },
            Some(ErrorCode::DatabaseCorrupt) => WarehouseError::Corrupt {
                path,
                detail: source.to_string(),
            },
            _ => WarehouseError::Sqlite { path, source },
        }
    }
}

/// True when `path` is an SQLite file with a `groups` table holding a `group_id` column.
pub fn is_warehouse(path: impl AsRef<Path>) -> bool {
    inspect_warehouse(path).is_ok()
}

/// The tables [`read_warehouse`] will read, with their sizes; errors as [`read_warehouse`].
pub fn inspect_warehouse(path: impl AsRef<Path>) -> Result<Vec<WarehouseTable>, WarehouseError> {
    let path = path.as_ref();
    let conn = open(path, BUSY_TIMEOUT)?;
    let fail = |e| WarehouseError::from_sqlite(path, e);
    let mut out = Vec::new();
    for (name, event_type) in find_tables(&conn, path)? {
        let sql = format!("SELECT coalesce(max(rowid), 0) FROM {}", quote(&name));
        let max_rowid = conn.query_row(&sql, [], |r| r.get(0)).map_err(fail)?;
        out.push(WarehouseTable {
            name,
            event_type,
            max_rowid,
        });
    }
    Ok(out)
}

/// Calls `f` with every row of `groups`, then of `identifies`, rebuilt as event JSON, one row
/// at a time in rowid order (one reused buffer: nothing is collected).
pub fn read_warehouse(
    path: impl AsRef<Path>,
    mut f: impl FnMut(WarehouseRow<'_>),
) -> Result<WarehouseSummary, WarehouseError> {
    read_warehouse_until(path, |row| {
        f(row);
        ControlFlow::Continue(())
    })
}

/// [`read_warehouse`] that stops when `f` says so (a cancelled load).
pub fn read_warehouse_until(
    path: impl AsRef<Path>,
    f: impl FnMut(WarehouseRow<'_>) -> ControlFlow<()>,
) -> Result<WarehouseSummary, WarehouseError> {
    read_with_timeout(path.as_ref(), BUSY_TIMEOUT, f)
}

fn read_with_timeout(
    path: &Path,
    timeout: Duration,
    mut f: impl FnMut(WarehouseRow<'_>) -> ControlFlow<()>,
) -> Result<WarehouseSummary, WarehouseError> {
    let conn = open(path, timeout)?;
    let fail = |e| WarehouseError::from_sqlite(path, e);
    let mut summary = WarehouseSummary::default();
    let mut json = String::with_capacity(4096);
    for (name, event_type) in find_tables(&conn, path)? {
        let plan = Plan::build(&conn, &name, event_type).map_err(fail)?;
        let sql = format!("SELECT rowid, * FROM {} ORDER BY rowid", quote(&name));
        let mut stmt = conn.prepare(&sql).map_err(fail)?;
        let mut rows = stmt.query([]).map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            let rowid: i64 = row.get(0).map_err(fail)?;
            if plan.render(row, &mut json).map_err(fail)? {
                summary.from_rudder_event += 1;
            }
            match event_type {
                "group" => summary.groups += 1,
                _ => summary.identifies += 1,
            }
            let flow = f(WarehouseRow {
                table: &name,
                rowid,
                json: &json,
            });
            if flow.is_break() {
                return Ok(summary);
            }
        }
    }
    summary.complete = true;
    Ok(summary)
}

/// The event JSON of one row, as [`read_warehouse`] builds it (to show the call behind a row).
pub fn warehouse_row_json(
    path: impl AsRef<Path>,
    table: &str,
    rowid: i64,
) -> Result<String, WarehouseError> {
    let path = path.as_ref();
    let conn = open(path, BUSY_TIMEOUT)?;
    let fail = |e| WarehouseError::from_sqlite(path, e);
    let (name, event_type) = find_tables(&conn, path)?
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(table))
        .ok_or_else(|| WarehouseError::NoSuchTable {
            path: path.into(),
            table: table.into(),
        })?;
    let plan = Plan::build(&conn, &name, event_type).map_err(fail)?;
    let sql = format!("SELECT rowid, * FROM {} WHERE rowid = ?1", quote(&name));
    let mut json = String::new();
    let found = conn
        .query_row(&sql, [rowid], |row| plan.render(row, &mut json))
        .optional()
        .map_err(fail)?;
    match found {
        Some(_) => Ok(json),
        None => Err(WarehouseError::NoSuchRow {
            path: path.into(),
            table: name,
            rowid,
        }),
    }
}

/// Opens read-only, refusing writes at the statement level too.
///
/// A WAL-mode file that nothing has open (no `-wal` file beside it) is opened as immutable:
/// a plain read-only open of a WAL database creates `-wal` and `-shm` files beside it and
/// leaves them there, and fails outright in a directory it may not write.
fn open(path: &Path, timeout: Duration) -> Result<LeasedConnection, WarehouseError> {
    if !path.is_file() {
        return Err(WarehouseError::NotFound { path: path.into() });
    }
    let fail = |e| WarehouseError::from_sqlite(path, e);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = LeasedConnection::open(path, || match immutable_uri(path) {
        Some(uri) => Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI),
        None => Connection::open_with_flags(path, flags),
    })
    .map_err(fail)?;
    conn.busy_timeout(timeout).map_err(fail)?;
    conn.pragma_update(None, "query_only", true).map_err(fail)?;
    Ok(conn)
}

/// `file:…?immutable=1` for a WAL-mode SQLite file without a `-wal` file beside it (so all its
/// data is in the file itself), else `None`.
fn immutable_uri(path: &Path) -> Option<String> {
    let mut header = [0u8; 20];
    // Not a plain open and close: that would drop this process's locks on the file.
    let read = crate::store::read_head(path, &mut header).ok()?;
    if read < header.len() {
        return None;
    }
    // Bytes 18 and 19 are the write and read format versions: 2 means WAL.
    if !header.starts_with(b"SQLite format 3\0") || header[18] != 2 {
        return None;
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if Path::new(&wal).exists() || !cfg!(unix) {
        return None;
    }
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    Some(uri)
}

/// `groups` (required, with `group_id`) and `identifies` (if present), as spelled in the file.
fn find_tables(
    conn: &Connection,
    path: &Path,
) -> Result<Vec<(String, &'static str)>, WarehouseError> {
    let fail = |e| WarehouseError::from_sqlite(path, e);
    let mut found = Vec::new();
    for (wanted, event_type) in TABLES {
        let name: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND lower(name) = ?1",
                [wanted],
                |r| r.get(0),
            )
            .optional()
            .map_err(fail)?;
        if let Some(name) = name {
            found.push((name, event_type));
        }
    }
    let groups_ok = match found.first() {
        Some((name, "group")) => conn
            .query_row(
                "SELECT 1 FROM pragma_table_info(?1) WHERE lower(name) = 'group_id'",
                [name],
                |_| Ok(()),
            )
            .optional()
            .map_err(fail)?
            .is_some(),
        _ => false,
    };
    if groups_ok {
        Ok(found)
    } else {
        Err(WarehouseError::NotAWarehouse { path: path.into() })
    }
}

/// An SQL identifier in double quotes.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
