//! groupscope's own SQLite store: imported and sent events, drafts and the outbox.
//!
//! One file (see [`default_path`]), in WAL mode with a busy timeout so the TUI can browse while an
//! import runs in another process. The schema is versioned with `PRAGMA user_version` and marked
//! with `PRAGMA application_id`, so a warehouse mirror or any other database is never mistaken
//! for (or migrated into) a store.
//!
//! **The store never holds a write key.** No table has a column for one; the outbox keeps the
//! event body alone and the key is added to the request at send time.

mod events;
pub mod layout;
pub mod lease;
mod outbox;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags};

use schema::Shape;

pub use events::{ImportSummary, Importer, NewEvent, Origin};
pub use layout::{RawLayout, StoredRow};
pub use lease::{LeasedConnection, read_head, release_file};
pub use outbox::{MarkSent, OutboxEntry, StoredDraft};

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Anything that can go wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory or file could not be created or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// No store at that path (read-only opens never create one).
    #[error("{}: no such store", path.display())]
    NotFound {
        /// The path looked for.
        path: PathBuf,
    },
    /// Another program holds a lock longer than the busy timeout.
    #[error("{}: the store is locked by another program; try again when it is done", path.display())]
    Locked {
        /// The store's path.
        path: PathBuf,
    },
    /// The file is not an SQLite database at all.
    #[error("{}: not an SQLite database", path.display())]
    NotSqlite {
        /// The file's path.
        path: PathBuf,
    },
    /// SQLite reports the file as damaged.
    #[error("{}: the database is damaged ({detail})", path.display())]
    Corrupt {
        /// The file's path.
        path: PathBuf,
        /// SQLite's message.
        detail: String,
    },
    /// An SQLite database, but not a groupscope store (e.g. a warehouse mirror).
    #[error("{}: not a groupscope store: {why}", path.display())]
    NotAStore {
        /// The file's path.
        path: PathBuf,
        /// What gave it away.
        why: &'static str,
    },
    /// Written by a newer groupscope.
    #[error(
        "{}: schema version {found} is newer than this groupscope understands ({supported}); upgrade groupscope",
        path.display()
    )]
    NewerSchema {
        /// The file's path.
        path: PathBuf,
        /// The file's `user_version`.
        found: i32,
        /// [`schema::SCHEMA_VERSION`].
        supported: i32,
    },
    /// An older schema, and the store was opened read-only so it cannot be migrated.
    #[error(
        "{}: schema version {found} needs upgrading to {supported}; open it once without read-only",
        path.display()
    )]
    OlderSchema {
        /// The file's path.
        path: PathBuf,
        /// The file's `user_version`.
        found: i32,
        /// [`schema::SCHEMA_VERSION`].
        supported: i32,
    },
    /// A write was asked of a store opened read-only.
    #[error("{}: the store was opened read-only", path.display())]
    ReadOnly {
        /// The store's path.
        path: PathBuf,
    },
    /// A caller-side mistake, e.g. marking an event without a messageId as sent.
    #[error("{0}")]
    Invalid(&'static str),
    /// Any other SQLite error.
    #[error("{}: {source}", path.display())]
    Sqlite {
        /// The store's path.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Sorts an SQLite error into the variants a user can act on.
    fn from_sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            Some(ErrorCode::NotADatabase) => StoreError::NotSqlite { path },
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
                path,
                detail: source.to_string(),
            },
            _ => StoreError::Sqlite { path, source },
        }
    }
}

/// Milliseconds since the Unix epoch, the store's clock unless a test sets another.
fn system_clock() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An open store. Not `Sync`: one per thread (open another for a background job).
#[derive(Debug)]
pub struct Store {
    conn: LeasedConnection,
    path: PathBuf,
    read_only: bool,
    /// This open found the file empty (it made the schema): until its first import nobody has
    /// anything to read in it, so that import may bypass the WAL (see [`Store::begin_import`]).
    fresh: bool,
    clock: fn() -> i64,
}

impl Store {
    /// Opens the store at `path` for reading and writing, creating the directories, the file and
    /// the schema when missing and migrating an older schema. Refuses a database that is not a
    /// store (it is never written to) and a newer schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let fail = |e| StoreError::from_sqlite(path, e);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = LeasedConnection::open(path, || Connection::open_with_flags(path, flags))
            .map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        let shape = schema::inspect(&conn).map_err(fail)?;
        match shape {
            Shape::Foreign(why) => {
                return Err(StoreError::NotAStore {
                    path: path.into(),
                    why,
                });
            }
            Shape::Store(found) if found > schema::SCHEMA_VERSION => {
                return Err(newer(path, found));
            }
            Shape::Empty | Shape::Store(_) => {}
        }
        // 16 KiB pages: an import writes about half as many pages and WAL frames as with the
        // 4 KiB default (measured ~2x faster for 1 KB events). Only takes effect on a new file.
        if shape == Shape::Empty {
            conn.pragma_update(None, "page_size", 16_384)
                .map_err(fail)?;
        }
        // WAL: readers never block the importer and the importer never blocks readers.
        // NORMAL is durable enough in WAL mode: a power cut may lose the last commit, never
        // corrupt the file.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail)?;
        conn.pragma_update(None, "cache_size", -32_768)
            .map_err(fail)?;
        schema::migrate(&mut conn).map_err(fail)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            read_only: false,
            fresh: shape == Shape::Empty,
            clock: system_clock,
        })
    }

    /// Opens an existing store for browsing. Never creates, migrates or writes the file (SQLite may
    /// create the `-wal`/`-shm` side files of a WAL database); refuses a schema newer than ours
    /// or older than [`schema::READABLE_FROM`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(StoreError::NotFound { path: path.into() });
        }
        let fail = |e| StoreError::from_sqlite(path, e);
        let conn = open_query_only(path).map_err(fail)?;
        match schema::inspect(&conn).map_err(fail)? {
            Shape::Store(found) if found > schema::SCHEMA_VERSION => {
                return Err(newer(path, found));
            }
            Shape::Store(found) if found >= schema::READABLE_FROM => {}
            Shape::Store(found) => {
                return Err(StoreError::OlderSchema {
                    path: path.into(),
                    found,
                    supported: schema::SCHEMA_VERSION,
                });
            }
            Shape::Empty => {
                return Err(StoreError::NotAStore {
                    path: path.into(),
                    why: "the database is empty",
                });
            }
            Shape::Foreign(why) => {
                return Err(StoreError::NotAStore {
                    path: path.into(),
                    why,
                });
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            read_only: true,
            fresh: false,
            clock: system_clock,
        })
    }

    /// True when `path` is an SQLite file holding a groupscope store of any version (a warehouse
    /// mirror is not). Opens the file read-only; any error means "no".
    pub fn is_store(path: impl AsRef<Path>) -> bool {
        let path = path.as_ref();
        path.is_file()
            && has_our_application_id(path)
            && open_query_only(path)
                .and_then(|conn| schema::inspect(&conn))
                .is_ok_and(|shape| matches!(shape, Shape::Store(_)))
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this store was opened with [`Store::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Replaces the clock that stamps `imported_at`, `updated_ms` and outbox times (tests).
    pub fn set_clock(&mut self, clock: fn() -> i64) {
        self.clock = clock;
    }

    fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    /// Maps an SQLite error to a [`StoreError`] naming this store.
    fn fail(&self, e: rusqlite::Error) -> StoreError {
        StoreError::from_sqlite(&self.path, e)
    }

    /// Refuses writes on a read-only store with a clear error instead of SQLite's.
    fn writable(&self) -> Result<(), StoreError> {
        if self.read_only {
            Err(StoreError::ReadOnly {
                path: self.path.clone(),
            })
        } else {
            Ok(())
        }
    }
}

fn newer(path: &Path, found: i32) -> StoreError {
    StoreError::NewerSchema {
        path: path.into(),
        found,
        supported: schema::SCHEMA_VERSION,
    }
}

/// Whether the file may be a store, judged from its bytes so that a foreign database is not even
/// opened by SQLite (whose read-only open of a WAL database leaves `-wal` and `-shm` files beside
/// it): the header names groupscope in its application id, or it is a WAL database whose `-wal`
/// file exists (the newest first page, with the id, may still be there; the side files exist
/// already, so opening creates nothing).
fn has_our_application_id(path: &Path) -> bool {
    let mut header = [0u8; 72];
    // Through `read_head`: a plain open and close here would drop the locks of this process's
    // connections to the same store (see [`lease`]).
    let read = read_head(path, &mut header);
    if read.map_or(true, |n| n < header.len()) || !header.starts_with(b"SQLite format 3\0") {
        return false;
    }
    if header[68..72] == schema::APPLICATION_ID.to_be_bytes() {
        return true;
    }
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    header[18] == 2 && Path::new(&wal).exists()
}

/// A read-only connection that also refuses writes at the statement level.
fn open_query_only(path: &Path) -> rusqlite::Result<LeasedConnection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = LeasedConnection::open(path, || Connection::open_with_flags(path, flags))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Where the store lives: `$GROUPSCOPE_STORE`, else `$XDG_DATA_HOME/groupscope/store.db`, else
/// `~/.local/share/groupscope/store.db`. `None` only when not even `$HOME` is set.
pub fn default_path() -> Option<PathBuf> {
    default_path_from(|name| std::env::var_os(name))
}

/// [`default_path`] over any environment lookup, so tests need not touch the real environment.
pub fn default_path_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(path) = set("GROUPSCOPE_STORE") {
        return Some(path);
    }
    // The XDG spec says a relative value is invalid and must be ignored.
    let data_home = set("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .or_else(|| set("HOME").map(|home| home.join(".local").join("share")))?;
    Some(data_home.join("groupscope").join("store.db"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn default_path_follows_env_then_xdg_then_home() {
        let all = [
            ("GROUPSCOPE_STORE", "/tmp/s.db"),
            ("XDG_DATA_HOME", "/xdg"),
            ("HOME", "/home/u"),
        ];
        assert_eq!(default_path_from(env(&all)), Some("/tmp/s.db".into()));
        assert_eq!(
            default_path_from(env(&all[1..])),
            Some("/xdg/groupscope/store.db".into())
        );
        assert_eq!(
            default_path_from(env(&[("XDG_DATA_HOME", "rel"), ("HOME", "/home/u")])),
            Some("/home/u/.local/share/groupscope/store.db".into())
        );
        assert_eq!(
            default_path_from(env(&[("GROUPSCOPE_STORE", ""), ("HOME", "/h")])),
            Some("/h/.local/share/groupscope/store.db".into())
        );
        assert_eq!(default_path_from(env(&[])), None);
    }

    #[test]
    fn open_creates_directories_and_opening_twice_keeps_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/store.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let version: i32 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
        let mode: String = store
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let page: i64 = store
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        assert_eq!(page, 16_384);
        assert!(Store::is_store(&path));
    }

    #[test]
    fn a_newer_schema_is_refused_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        for result in [Store::open(&path), Store::open_read_only(&path)] {
            match result {
                Err(StoreError::NewerSchema { found: 99, .. }) => {}
                other => panic!("expected NewerSchema, got {other:?}"),
            }
        }
        assert!(Store::is_store(&path), "still recognised as a store");
    }

    #[test]
    fn foreign_and_non_sqlite_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let wh = dir.path().join("wh.db");
        let conn = Connection::open(&wh).unwrap();
        conn.execute_batch("CREATE TABLE groups (id TEXT, group_id TEXT)")
            .unwrap();
        drop(conn);
        let before = std::fs::read(&wh).unwrap();
        assert!(matches!(
            Store::open(&wh),
            Err(StoreError::NotAStore { .. })
        ));
        assert!(matches!(
            Store::open_read_only(&wh),
            Err(StoreError::NotAStore { .. })
        ));
        assert!(!Store::is_store(&wh));
        assert_eq!(std::fs::read(&wh).unwrap(), before);

        let text = dir.path().join("notes.txt");
        std::fs::write(
            &text,
            "this is not a database, just some words of text\n".repeat(20),
        )
        .unwrap();
        assert!(matches!(
            Store::open(&text),
            Err(StoreError::NotSqlite { .. })
        ));
        assert!(matches!(
            Store::open_read_only(&text),
            Err(StoreError::NotSqlite { .. })
        ));
        assert!(!Store::is_store(&text));

        let missing = dir.path().join("missing.db");
        assert!(matches!(
            Store::open_read_only(&missing),
            Err(StoreError::NotFound { .. })
        ));
        assert!(!missing.exists());
    }
}
