//! Reading a database file's first bytes without breaking SQLite's locks.
//!
//! POSIX advisory locks belong to the process, and closing *any* descriptor of a file drops all
//! of the process's locks on it (<https://www.sqlite.org/howtocorrupt.html>, section 2.2). A
//! format check that opens a store, reads its header and closes it while another thread's
//! connection is reading the same store silently takes that reader's lock away: the importer
//! in another process may then checkpoint into the pages the reader is still reading, and the
//! reader sees part of a later import. (Found end to end: the explorer, refreshing while
//! `import` ran, showed a group with 34 of the 10,000 calls its import committed at once.)
//!
//! So every SQLite connection groupscope opens is a [`LeasedConnection`], which holds a lease on
//! its file while it is open, and a descriptor opened to peek at a file is given back with
//! [`release_file`]: closed at once when no connection of this process has the file open, else
//! kept until the last such connection is closed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::Connection;

/// A file, as the kernel knows it (device and inode): the identity POSIX locks are tied to.
type FileKey = (u64, u64);

/// Leases held per file, and the peeking descriptors waiting for them to end.
#[derive(Default)]
struct Registry {
    leases: HashMap<FileKey, usize>,
    parked: HashMap<FileKey, Vec<File>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// The registry; a panic elsewhere while it was held leaves it usable (it is only counts).
fn registry() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(unix)]
fn key_of(meta: &std::fs::Metadata) -> Option<FileKey> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

/// Elsewhere closing a handle does not drop another handle's locks: nothing to track.
#[cfg(not(unix))]
fn key_of(_meta: &std::fs::Metadata) -> Option<FileKey> {
    None
}

/// A connection's claim on its file while it is open.
#[derive(Debug)]
struct Lease {
    key: Option<FileKey>,
}

impl Lease {
    /// Takes a lease on the file at `path` (none if it cannot be found).
    fn take(path: &Path) -> Lease {
        let key = std::fs::metadata(path).ok().as_ref().and_then(key_of);
        if let Some(key) = key {
            *registry()
                .get_or_insert_with(Registry::default)
                .leases
                .entry(key)
                .or_default() += 1;
        }
        Lease { key }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut guard = registry();
        let Some(reg) = guard.as_mut() else { return };
        let left = reg.leases.get_mut(&key).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == Some(0) {
            reg.leases.remove(&key);
            // No connection of ours has the file open any more: closing is harmless now.
            reg.parked.remove(&key);
        }
    }
}

/// An SQLite connection that holds a lease on its file while it is open (see the module
/// docs). Dereferences to the [`Connection`].
#[derive(Debug)]
pub struct LeasedConnection {
    // Declared first, so dropped first: the connection is closed before the lease ends.
    conn: Connection,
    _lease: Lease,
}

impl LeasedConnection {
    /// Opens with `open` and leases the file at `path` (the file `open` opens; taken after it,
    /// so a store being created is leased too, and before any read takes a lock).
    pub fn open<E>(
        path: &Path,
        open: impl FnOnce() -> Result<Connection, E>,
    ) -> Result<LeasedConnection, E> {
        let conn = open()?;
        Ok(LeasedConnection {
            conn,
            _lease: Lease::take(path),
        })
    }
}

impl Deref for LeasedConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for LeasedConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Gives back a descriptor opened to look at a file that may be a database: closed now when
/// no connection of this process has the file open, else kept open until the last one closes.
pub fn release_file(file: File) {
    let Some(key) = file.metadata().ok().as_ref().and_then(key_of) else {
        return;
    };
    // Decided and done under the lock: a lease cannot start between the check and the close.
    let mut guard = registry();
    let reg = guard.get_or_insert_with(Registry::default);
    if reg.leases.get(&key).is_some_and(|&n| n > 0) {
        reg.parked.entry(key).or_default().push(file);
    } else {
        drop(file);
    }
}

/// Reads up to `buf.len()` bytes from the start of the file at `path` (fewer at its end), then
/// gives the descriptor back with [`release_file`].
pub fn read_head(path: &Path, buf: &mut [u8]) -> io::Result<usize> {
    let mut file = File::open(path)?;
    let mut filled = 0;
    let result = loop {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break Ok(filled),
            Ok(n) => {
                filled += n;
                if filled == buf.len() {
                    break Ok(filled);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    release_file(file);
    result
}

/// How many descriptors wait for leases on the file at `path` (tests).
#[cfg(test)]
fn parked(path: &Path) -> usize {
    let key = std::fs::metadata(path).ok().as_ref().and_then(key_of);
    let guard = registry();
    match (guard.as_ref(), key) {
        (Some(reg), Some(key)) => reg.parked.get(&key).map_or(0, Vec::len),
        _ => 0,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use rusqlite::OpenFlags;

    fn store(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
            .unwrap();
        path
    }

    #[test]
    fn a_peek_closes_at_once_when_no_connection_has_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = store(dir.path());
        let mut head = [0u8; 16];
        assert_eq!(read_head(&path, &mut head).unwrap(), 16);
        assert_eq!(&head, b"SQLite format 3\0");
        assert_eq!(parked(&path), 0);
    }

    #[test]
    fn a_peek_waits_for_the_open_connection_and_keeps_its_read_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = store(dir.path());
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY;
        let reader =
            LeasedConnection::open(&path, || Connection::open_with_flags(&path, flags)).unwrap();
        // A read transaction holds a shared lock on the file.
        reader.execute_batch("BEGIN; SELECT * FROM t;").unwrap();
        let mut head = [0u8; 100];
        read_head(&path, &mut head).unwrap();
        assert_eq!(parked(&path), 1, "closing now would drop the reader's lock");
        // tests/concurrent.rs checks what the lock is for, across processes.
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        assert_eq!(
            parked(&path),
            0,
            "the last connection closed: the peek closed too"
        );
    }
}
