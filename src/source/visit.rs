//! Visiting every event of some inputs one at a time, in input order, on the calling thread:
//! what `import` and the database loaders need (the model loader of text files has its own
//! parallel path in [`super::jsonl`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use super::pipeline::{self, Chunk, Feed, RowPacker};
use super::warehouse;
use super::{Detected, LoadError, detect, expand_paths};
use crate::event::{EventError, MAX_LINE_BYTES, WireEvent, parse_text};
use crate::model::SourceKind;
use crate::store::{self, Store};

/// Where a visited event (or problem) sits in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A line of a text input (1-based) and the byte offset of the event's text.
    Line {
        /// Line number.
        line: u64,
        /// Byte offset of the event in the (decompressed) input.
        offset: u64,
    },
    /// A row of a database table.
    Row {
        /// The table: 0 = `events` or `groups`, 1 = `identifies`.
        table: u8,
        /// The row id.
        rowid: i64,
    },
}

/// What a visitor is told about.
pub enum Visit<'a> {
    /// A new input starts.
    Source {
        /// Its path (`-` for stdin).
        path: &'a Path,
        /// What it is.
        kind: &'a SourceKind,
    },
    /// One event.
    Event {
        /// Where it is.
        place: Place,
        /// The parsed event (borrowing its raw text).
        event: &'a WireEvent<'a>,
        /// For store rows: how the call got there.
        store_origin: Option<store::Origin>,
    },
    /// A bad line or event.
    Problem {
        /// Where it is (line 0: the input as a whole).
        place: Place,
        /// Why.
        why: String,
    },
}

/// Visits every event of every path, in order. Stops early when `f` breaks.
pub fn visit(
    paths: &[PathBuf],
    f: &mut dyn FnMut(Visit<'_>) -> ControlFlow<()>,
) -> Result<(), LoadError> {
    for path in expand_paths(paths)? {
        if visit_one(&path, f)?.is_break() {
            break;
        }
    }
    Ok(())
}

fn visit_one(
    path: &Path,
    f: &mut dyn FnMut(Visit<'_>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LoadError> {
    let unreadable = |source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    let mut stdin = None;
    let mut file = None;
    let reader: &mut dyn Read = if path.as_os_str() == "-" {
        stdin.insert(io::stdin().lock())
    } else {
        file.insert(File::open(path).map_err(unreadable)?)
    };
    let mut head = BufReader::with_capacity(1 << 16, reader);
    let kind = detect(head.fill_buf().map_err(unreadable)?);
    match kind {
        Detected::Sqlite => {
            drop(head);
            // Not closed plainly: that would drop this process's locks on the database.
            if let Some(db) = file.take() {
                crate::store::release_file(db);
            }
            visit_sqlite(path, f)
        }
        Detected::Unknown => Err(LoadError::Unrecognised {
            path: path.to_path_buf(),
            start: String::from_utf8_lossy(&head.buffer()[..head.buffer().len().min(16)])
                .escape_debug()
                .to_string(),
        }),
        Detected::Gzip => {
            let mut gz = BufReader::with_capacity(1 << 16, MultiGzDecoder::new(head));
            let inner = detect(gz.fill_buf().unwrap_or(&[]));
            visit_text(path, &mut gz, inner, true, f)
        }
        inner => visit_text(path, &mut head, inner, false, f),
    }
}

fn visit_text(
    path: &Path,
    reader: &mut dyn BufRead,
    kind: Detected,
    gzip: bool,
    f: &mut dyn FnMut(Visit<'_>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LoadError> {
    let source_kind = if kind == Detected::JsonDocument {
        SourceKind::Document { gzip }
    } else {
        SourceKind::Jsonl { gzip }
    };
    if f(Visit::Source {
        path,
        kind: &source_kind,
    })
    .is_break()
    {
        return Ok(ControlFlow::Break(()));
    }
    if kind == Detected::JsonDocument {
        let mut data = Vec::new();
        match super::read_document(reader, &mut data) {
            Ok(super::Document::Whole) => {}
            Ok(super::Document::TooLong(bytes)) => {
                return Ok(f(Visit::Problem {
                    place: Place::Line { line: 1, offset: 0 },
                    why: EventError::TooLong(bytes, MAX_LINE_BYTES).to_string(),
                }));
            }
            Err(e) => {
                let why = format!("reading stopped: {e}");
                return Ok(f(Visit::Problem {
                    place: Place::Line { line: 0, offset: 0 },
                    why,
                }));
            }
        }
        let mut flow = ControlFlow::Continue(());
        parse_text(&data, &mut |r| {
            if flow.is_break() {
                return;
            }
            flow = emit(&data, 0, 1, r, f);
        });
        return Ok(flow);
    }
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = match reader
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => return Ok(ControlFlow::Continue(())),
            Ok(n) => n,
            Err(e) => {
                let why = if e.kind() == io::ErrorKind::UnexpectedEof {
                    "the input ends early (truncated gzip?); the lines before were read".to_string()
                } else {
                    format!("reading stopped: {e}")
                };
                return Ok(f(Visit::Problem {
                    place: Place::Line {
                        line: line_no,
                        offset,
                    },
                    why,
                }));
            }
        };
        line_no += 1;
        let start = offset;
        offset += n as u64;
        if n > MAX_LINE_BYTES && line.last() != Some(&b'\n') {
            // Skip the rest of the oversized line without holding it.
            // The size reported excludes the newline, as the loader's does.
            let mut skipped = n;
            let mut newline = 0;
            while let Ok(buf) = reader.fill_buf() {
                if buf.is_empty() {
                    break;
                }
                match memchr::memchr(b'\n', buf) {
                    Some(i) => {
                        reader.consume(i + 1);
                        skipped += i;
                        newline = 1;
                        break;
                    }
                    None => {
                        let len = buf.len();
                        reader.consume(len);
                        skipped += len;
                    }
                }
            }
            offset = start + (skipped + newline) as u64;
            let why = EventError::TooLong(skipped, MAX_LINE_BYTES).to_string();
            if f(Visit::Problem {
                place: Place::Line {
                    line: line_no,
                    offset: start,
                },
                why,
            })
            .is_break()
            {
                return Ok(ControlFlow::Break(()));
            }
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let mut flow = ControlFlow::Continue(());
        parse_text(text, &mut |r| {
            if flow.is_break() {
                return;
            }
            flow = emit(text, start, line_no, r, f);
        });
        if flow.is_break() {
            return Ok(flow);
        }
    }
}

fn emit(
    text: &[u8],
    base: u64,
    line: u64,
    result: Result<WireEvent<'_>, EventError>,
    f: &mut dyn FnMut(Visit<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    match result {
        Ok(event) => {
            let offset =
                base + (event.raw.as_ptr() as usize).saturating_sub(text.as_ptr() as usize) as u64;
            f(Visit::Event {
                place: Place::Line { line, offset },
                event: &event,
                store_origin: None,
            })
        }
        Err(e) => f(Visit::Problem {
            place: Place::Line { line, offset: base },
            why: e.to_string(),
        }),
    }
}

fn visit_rows(
    raw: &str,
    place: Place,
    store_origin: Option<store::Origin>,
    f: &mut dyn FnMut(Visit<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut flow = ControlFlow::Continue(());
    parse_text(raw.as_bytes(), &mut |r| {
        if flow.is_break() {
            return;
        }
        flow = match r {
            Ok(event) => f(Visit::Event {
                place,
                event: &event,
                store_origin,
            }),
            Err(e) => f(Visit::Problem {
                place,
                why: e.to_string(),
            }),
        };
    });
    flow
}

fn visit_sqlite(
    path: &Path,
    f: &mut dyn FnMut(Visit<'_>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LoadError> {
    let db_error = |message: String| database_error(path, message);
    if Store::is_store(path) {
        let store = Store::open_read_only(path).map_err(|e| db_error(e.to_string()))?;
        if f(Visit::Source {
            path,
            kind: &SourceKind::Store,
        })
        .is_break()
        {
            return Ok(ControlFlow::Break(()));
        }
        let mut flow = ControlFlow::Continue(());
        store
            .for_each_event_until(|rowid, raw, origin| {
                flow = visit_rows(raw, Place::Row { table: 0, rowid }, Some(origin), f);
                flow
            })
            .map_err(|e| db_error(e.to_string()))?;
        return Ok(flow);
    }
    if warehouse::is_warehouse(path) {
        if f(Visit::Source {
            path,
            kind: &SourceKind::Warehouse,
        })
        .is_break()
        {
            return Ok(ControlFlow::Break(()));
        }
        let mut flow = ControlFlow::Continue(());
        warehouse::read_warehouse_until(path, |row| {
            let table = u8::from(row.table.eq_ignore_ascii_case("identifies"));
            flow = visit_rows(
                row.json,
                Place::Row {
                    table,
                    rowid: row.rowid,
                },
                None,
                f,
            );
            flow
        })
        .map_err(|e| db_error(e.to_string()))?;
        return Ok(flow);
    }
    Err(db_error(
        "is an SQLite database, but neither a groupscope store nor a warehouse database with a `groups` table".into(),
    ))
}

/// A database error about `path`. The store's and the warehouse reader's messages name the
/// path already; it is not said twice ("s.db: s.db: the store is locked…").
fn database_error(path: &Path, message: String) -> LoadError {
    let prefix = format!("{}: ", path.display());
    let message = match message.strip_prefix(&prefix) {
        Some(rest) => rest.to_owned(),
        None => message,
    };
    LoadError::Database {
        path: path.to_path_buf(),
        message,
    }
}

/// What kind of database `path` is (a store or a warehouse); an error for any other.
pub(crate) fn database_kind(path: &Path) -> Result<SourceKind, LoadError> {
    if Store::is_store(path) {
        Ok(SourceKind::Store)
    } else if warehouse::is_warehouse(path) {
        Ok(SourceKind::Warehouse)
    } else {
        Err(LoadError::Database {
            path: path.to_path_buf(),
            message: "is an SQLite database, but neither a groupscope store nor a warehouse database with a `groups` table".into(),
        })
    }
}

/// Streams the event rows of a database of `kind` into chunks, in row order. For a store,
/// `rows` is told about how many are coming (see [`store_rows`]) before the first is sent.
pub(crate) fn read_rows(
    path: &Path,
    kind: &SourceKind,
    feed: &mut Feed<'_>,
    rows: Option<&AtomicU64>,
) -> Result<(), LoadError> {
    let db_error = |message: String| database_error(path, message);
    let mut packer = RowPacker::new(feed);
    if *kind == SourceKind::Store {
        let store = Store::open_read_only(path).map_err(|e| db_error(e.to_string()))?;
        if let (Some(rows), Some(n)) = (rows, store_rows(&store)) {
            rows.store(n, Ordering::Release);
        }
        // With each row's layout: the model loader reads a row from it without parsing.
        store
            .for_each_stored_event_until(|row| {
                packer.push(row.rowid, 0, Some(row.origin), row.raw, row.layout)
            })
            .map_err(|e| db_error(e.to_string()))?;
    } else {
        warehouse::read_warehouse_until(path, |row| {
            let table = u8::from(row.table.eq_ignore_ascii_case("identifies"));
            packer.push(row.rowid, table, None, row.json.as_bytes(), None)
        })
        .map_err(|e| db_error(e.to_string()))?;
    }
    let _ = packer.flush();
    Ok(())
}

/// About how many rows a read of `store` gives: its last event id, but no more than the file
/// could hold (ids can be set by hand; an event's row takes more than 256 bytes, and a file of
/// smaller rows is only underestimated). A hint for sizing, so any failure gives `None`.
fn store_rows(store: &Store) -> Option<u64> {
    const MIN_ROW_BYTES: u64 = 256;
    let last = store.last_event_id().ok()?;
    Some(last.min(std::fs::metadata(store.path()).ok()?.len() / MIN_ROW_BYTES))
}

/// What [`visit_parallel`] hands the calling thread.
pub enum Step<'a, T> {
    /// A new input starts.
    Source {
        /// Its path (`-` for stdin).
        path: &'a Path,
        /// What it is.
        kind: &'a SourceKind,
    },
    /// What the workers made of the next piece of the input.
    Parsed {
        /// The piece's events, as collected by `on_worker`.
        value: T,
        /// Lines of the input before this piece: a [`Place::Line`] the worker saw counts from
        /// 1 at the piece's first line, so its line in the input is `line_base + line` (line 0,
        /// the input as a whole, stays 0).
        line_base: u64,
    },
}

/// Events visited in one piece of input before [`visit_parallel`] hands them on, for inputs
/// read on the calling thread.
const EVENTS_PER_PIECE: usize = 4096;

/// [`visit`] on several threads: every event and problem is seen by `on_worker` (on a worker
/// thread, into a `T` per piece of input), and `f` gets the pieces in input order on the
/// calling thread, where a slow consumer (a database writer) holds the readers back. JSONL
/// files (plain or gzip) and databases are parsed in parallel; stdin and one-document inputs
/// on the calling thread (then lines are absolute and `line_base` is 0).
pub fn visit_parallel<T: Default + Send>(
    paths: &[PathBuf],
    threads: usize,
    cancel: &AtomicBool,
    on_worker: &(dyn Fn(&mut T, Visit<'_>) + Sync),
    f: &mut dyn FnMut(Step<'_, T>) -> ControlFlow<()>,
) -> Result<(), LoadError> {
    let work = |_: &mut (), chunk: &Chunk| {
        let mut value = T::default();
        let lines = chunk.visit(&mut |v| on_worker(&mut value, v));
        (value, lines)
    };
    let workers = || vec![(); threads.max(1)];
    for path in expand_paths(paths)? {
        if cancel.load(Ordering::Relaxed) {
            return Err(LoadError::Cancelled);
        }
        let unreadable = |source| LoadError::Unreadable {
            path: path.clone(),
            source,
        };
        let flow = if path.as_os_str() == "-" {
            visit_serial(&path, on_worker, f)?
        } else {
            let mut head =
                BufReader::with_capacity(1 << 16, File::open(&path).map_err(unreadable)?);
            match detect(head.fill_buf().map_err(unreadable)?) {
                Detected::Sqlite => {
                    // Not closed plainly: that would drop this process's locks on it.
                    crate::store::release_file(head.into_inner());
                    let kind = database_kind(&path)?;
                    let start = Step::Source {
                        path: &path,
                        kind: &kind,
                    };
                    if f(start).is_break() {
                        return Ok(());
                    }
                    let read = |feed: &mut Feed<'_>| read_rows(&path, &kind, feed, None);
                    pipeline::run(workers(), cancel, read, &work, &mut |value, line_base| {
                        f(Step::Parsed { value, line_base })
                    })?;
                    ControlFlow::Continue(())
                }
                Detected::JsonLines | Detected::Empty => {
                    let kind = SourceKind::Jsonl { gzip: false };
                    if f(Step::Source {
                        path: &path,
                        kind: &kind,
                    })
                    .is_break()
                    {
                        return Ok(());
                    }
                    // A plain file's lines are read through a map when it can be made.
                    let map = super::mapped::map_for_lines(head.get_ref());
                    let counted = AtomicU64::new(0);
                    let read = |feed: &mut Feed<'_>| match map {
                        Some(map) => super::mapped::read_mapped(map, &counted, feed),
                        None => pipeline::read_lines(&mut head, feed),
                    };
                    pipeline::run(workers(), cancel, read, &work, &mut |value, line_base| {
                        f(Step::Parsed { value, line_base })
                    });
                    ControlFlow::Continue(())
                }
                Detected::Gzip => {
                    let mut gz = BufReader::with_capacity(1 << 16, MultiGzDecoder::new(head));
                    let inner = detect(gz.fill_buf().unwrap_or(&[]));
                    if inner == Detected::JsonDocument {
                        drop(gz);
                        visit_serial(&path, on_worker, f)?
                    } else {
                        let kind = SourceKind::Jsonl { gzip: true };
                        if f(Step::Source {
                            path: &path,
                            kind: &kind,
                        })
                        .is_break()
                        {
                            return Ok(());
                        }
                        let read = |feed: &mut Feed<'_>| pipeline::read_lines(&mut gz, feed);
                        pipeline::run(workers(), cancel, read, &work, &mut |value, line_base| {
                            f(Step::Parsed { value, line_base })
                        });
                        ControlFlow::Continue(())
                    }
                }
                Detected::JsonDocument | Detected::Unknown => {
                    drop(head);
                    visit_serial(&path, on_worker, f)?
                }
            }
        };
        if flow.is_break() || cancel.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(())
}

/// One input of [`visit_parallel`] read on the calling thread, in pieces of
/// [`EVENTS_PER_PIECE`].
fn visit_serial<T: Default>(
    path: &Path,
    on_worker: &(dyn Fn(&mut T, Visit<'_>) + Sync),
    f: &mut dyn FnMut(Step<'_, T>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, LoadError> {
    let mut value = T::default();
    let mut seen = 0usize;
    let mut flow = visit_one(path, &mut |v| {
        if let Visit::Source { path, kind } = v {
            return f(Step::Source { path, kind });
        }
        on_worker(&mut value, v);
        seen += 1;
        if seen.is_multiple_of(EVENTS_PER_PIECE) {
            let value = std::mem::take(&mut value);
            return f(Step::Parsed {
                value,
                line_base: 0,
            });
        }
        ControlFlow::Continue(())
    })?;
    if flow.is_continue() && !seen.is_multiple_of(EVENTS_PER_PIECE) {
        flow = f(Step::Parsed {
            value,
            line_base: 0,
        });
    }
    Ok(flow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_hint_is_the_last_event_id_within_what_the_file_could_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = Store::open(&path).unwrap();
        let raws: Vec<String> = (0..5).map(|i| format!(r#"{{"a":{i}}}"#)).collect();
        let events = raws.iter().map(|raw| store::NewEvent {
            message_id: None,
            kind: "group",
            user_id: Some("u"),
            anonymous_id: None,
            group_id: Some("g"),
            event_ms: None,
            received_ms: None,
            origin: store::Origin::Imported,
            source: "t.jsonl",
            raw,
            layout: None,
        });
        store.import(events).unwrap();
        drop(store);
        let read_only = |path: &Path| Store::open_read_only(path).unwrap();
        assert_eq!(store_rows(&read_only(&path)), Some(5));

        // An id set far beyond the rows there are.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE events SET id = 4611686018427387904 WHERE id = 5",
            [],
        )
        .unwrap();
        drop(conn);
        let size = std::fs::metadata(&path).unwrap().len();
        assert_eq!(store_rows(&read_only(&path)), Some(size / 256));
    }

    #[test]
    fn a_database_error_names_the_path_once() {
        let path = Path::new("/x/s.db");
        let locked = database_error(
            path,
            "/x/s.db: the store is locked by another program".into(),
        );
        assert_eq!(
            locked.to_string(),
            "/x/s.db: the store is locked by another program"
        );
        let other = database_error(path, "is an SQLite database, but not ours".into());
        assert_eq!(
            other.to_string(),
            "/x/s.db: is an SQLite database, but not ours"
        );
    }
}
