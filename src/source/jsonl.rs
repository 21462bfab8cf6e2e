//! Reading newline-delimited JSON fast: one thread reads chunks that end on a line boundary,
//! worker threads parse them into [`Batch`]es, and the caller merges the batches in order.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::event::{EventError, MAX_LINE_BYTES};
use crate::model::{Batch, KnownSnapshots, LocalTables, ModelBuilder, Problem, ProblemKind};

/// Bytes handed to a worker at a time (a chunk grows to hold one long line).
const CHUNK_BYTES: usize = 2 << 20;

/// A piece of input for a worker.
enum Chunk {
    /// Whole lines in `data[..len]`; `offset` is the byte offset of the first one. The buffer
    /// goes back to the reader when parsed, so it is zeroed only once.
    Lines {
        data: Vec<u8>,
        len: usize,
        offset: u64,
    },
    /// One line that was too long to keep, skipped by the reader.
    Oversized { bytes: usize },
    /// The input could not be read further (a truncated gzip, an I/O error).
    Failed(String),
}

/// Reads `reader` to the end, parsing lines on `threads` workers and merging each batch into
/// `builder` in input order. `on_batch` is called after each merge (for progress).
pub fn load_lines(
    reader: &mut (dyn Read + Send),
    source: u16,
    builder: &mut ModelBuilder,
    threads: usize,
    cancel: &AtomicBool,
    on_batch: &mut dyn FnMut(&ModelBuilder),
) {
    let threads = threads.max(1);
    let known = builder.known_snapshots();
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<(usize, Chunk)>(threads * 2);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    let (batch_tx, batch_rx) = mpsc::channel::<(usize, Batch)>();
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let tables: Vec<LocalTables> = (0..threads).map(|_| LocalTables::new()).collect();
    let lineages: Vec<u64> = tables.iter().map(LocalTables::lineage).collect();
    std::thread::scope(|scope| {
        scope.spawn(move || read_chunks(reader, &chunk_tx, &free_rx, cancel));
        for tables in tables {
            let rx = chunk_rx.clone();
            let tx = batch_tx.clone();
            let free = free_tx.clone();
            let known = known.clone();
            scope.spawn(move || worker(&rx, &tx, &free, tables, source, &known));
        }
        drop(batch_tx);
        drop(free_tx);
        // Merge in chunk order; line numbers become absolute here.
        let mut pending: BTreeMap<usize, Batch> = BTreeMap::new();
        let mut next = 0usize;
        let mut line_base = 0u64;
        for (index, batch) in batch_rx {
            pending.insert(index, batch);
            while let Some(mut batch) = pending.remove(&next) {
                let lines = batch.lines;
                batch.shift_lines(line_base);
                line_base += lines;
                builder.add_batch(batch);
                next += 1;
                on_batch(builder);
            }
        }
    });
    for lineage in lineages {
        builder.forget_tables(lineage);
    }
}

fn worker(
    rx: &Mutex<mpsc::Receiver<(usize, Chunk)>>,
    tx: &mpsc::Sender<(usize, Batch)>,
    free: &mpsc::Sender<Vec<u8>>,
    mut tables: LocalTables,
    source: u16,
    known: &KnownSnapshots,
) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((index, chunk)) = next else { return };
        let mut batch = Batch::with_tables(tables);
        match chunk {
            Chunk::Lines { data, len, offset } => {
                batch.parse_lines(&data[..len], source, 1, offset, known);
                // The reader may have stopped; then the buffer is simply dropped.
                let _ = free.send(data);
            }
            Chunk::Oversized { bytes } => {
                batch.lines = 1;
                batch.push_problem(Problem {
                    source,
                    line: 1,
                    error: ProblemKind::Event(EventError::TooLong(bytes, MAX_LINE_BYTES)),
                });
            }
            Chunk::Failed(why) => batch.push_problem(Problem {
                source,
                line: 0,
                error: ProblemKind::Input(why),
            }),
        }
        tables = batch.take_tables();
        if tx.send((index, batch)).is_err() {
            return;
        }
    }
}

/// Splits the input into chunks of whole lines. A line longer than [`MAX_LINE_BYTES`] is
/// skipped without being held in memory. Buffers come back from the workers on `free`.
fn read_chunks(
    reader: &mut (dyn Read + Send),
    tx: &mpsc::SyncSender<(usize, Chunk)>,
    free: &mpsc::Receiver<Vec<u8>>,
    cancel: &AtomicBool,
) {
    let mut index = 0usize;
    let mut send = |chunk: Chunk| {
        let ok = tx.send((index, chunk)).is_ok();
        index += 1;
        ok
    };
    // A recycled buffer if one is back, else a new one; at least `size` long.
    let fresh = |size: usize| {
        let mut b = free.try_recv().unwrap_or_default();
        if b.len() < size {
            b.resize(size, 0);
        }
        b
    };
    let mut buf: Vec<u8> = fresh(CHUNK_BYTES);
    let mut filled = 0usize; // buf[..filled] holds input
    let mut offset = 0u64; // offset of buf[0] in the input
    let mut skipping: Option<usize> = None; // bytes of an oversized line skipped so far
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let want = CHUNK_BYTES.max(filled + CHUNK_BYTES / 4);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let n = match read_some(reader, &mut buf[filled..want]) {
            Ok(n) => n,
            Err(e) => {
                if filled > 0 {
                    let data = std::mem::take(&mut buf);
                    if !send(Chunk::Lines {
                        data,
                        len: filled,
                        offset,
                    }) {
                        return;
                    }
                }
                send(Chunk::Failed(read_error(&e)));
                return;
            }
        };
        filled += n;
        if let Some(skipped) = skipping {
            match memchr::memchr(b'\n', &buf[..filled]) {
                Some(nl) => {
                    let total = skipped + nl;
                    offset += nl as u64 + 1;
                    buf.copy_within(nl + 1..filled, 0);
                    filled -= nl + 1;
                    skipping = None;
                    if !send(Chunk::Oversized { bytes: total }) {
                        return;
                    }
                }
                None if n == 0 => {
                    send(Chunk::Oversized {
                        bytes: skipped + filled,
                    });
                    return;
                }
                None => {
                    skipping = Some(skipped + filled);
                    offset += filled as u64;
                    filled = 0;
                    continue;
                }
            }
        }
        if n == 0 {
            if filled > 0 {
                send(Chunk::Lines {
                    data: buf,
                    len: filled,
                    offset,
                });
            }
            return;
        }
        match memchr::memrchr(b'\n', &buf[..filled]) {
            Some(nl) if filled >= CHUNK_BYTES || nl + 1 == filled => {
                let rest = filled - (nl + 1);
                let mut next = fresh(CHUNK_BYTES.max(rest + CHUNK_BYTES / 4));
                next[..rest].copy_from_slice(&buf[nl + 1..filled]);
                let data = std::mem::replace(&mut buf, next);
                let len = nl + 1;
                if !send(Chunk::Lines { data, len, offset }) {
                    return;
                }
                offset += len as u64;
                filled = rest;
            }
            Some(_) => {}
            None if filled > MAX_LINE_BYTES => {
                skipping = Some(filled);
                offset += filled as u64;
                filled = 0;
            }
            None => {}
        }
    }
}

/// Fills as much of `buf` as the reader gives before EOF (short reads are common on pipes).
fn read_some(reader: &mut (dyn Read + Send), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if filled > 0 => {
                // Hand over what was read; the error comes again on the next call.
                let _ = e;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_error(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "the input ends early (truncated gzip?); the lines before were read".into()
        }
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            format!("the input is corrupt from here on ({e}); the lines before were read")
        }
        _ => format!("reading stopped: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &[u8], threads: usize) -> crate::model::Model {
        let mut b = ModelBuilder::new();
        let mut r: &[u8] = text;
        load_lines(
            &mut r,
            0,
            &mut b,
            threads,
            &AtomicBool::new(false),
            &mut |_| {},
        );
        b.finish()
    }

    fn line(i: usize) -> String {
        format!(
            "{{\"type\":\"group\",\"messageId\":\"m{i}\",\"userId\":\"u{}\",\"groupId\":\"g{}\",\"traits\":{{\"n\":{}}},\"timestamp\":\"2023-01-01T00:00:{:02}.000Z\"}}\n",
            i % 7,
            i % 3,
            i / 10,
            i % 60
        )
    }

    #[test]
    fn many_chunks_merge_in_order_with_absolute_lines() {
        let mut text = String::new();
        let n = 40_000; // ~6 MB: more than one chunk
        for i in 0..n {
            text.push_str(&line(i));
            if i == 30_000 {
                text.push_str("garbage\n");
            }
        }
        let one = load(text.as_bytes(), 1);
        let four = load(text.as_bytes(), 4);
        for m in [&one, &four] {
            assert_eq!(m.counts().group, n as u64);
            assert_eq!(m.counts().bad_lines, 1);
            assert_eq!(m.problems()[0].line, 30_002);
            assert_eq!(m.groups().len(), 3);
        }
        let last = one.calls().iter().max_by_key(|c| c.origin.line).unwrap();
        assert_eq!(last.origin.line as usize, n + 1);
        assert_eq!(
            last.origin.offset as usize + last.origin.len as usize + 1,
            text.len()
        );
    }

    #[test]
    fn oversized_lines_are_skipped_and_reported() {
        let mut text = line(1);
        text.push_str(&"x".repeat(MAX_LINE_BYTES + 10));
        text.push('\n');
        text.push_str(&line(2));
        let m = load(text.as_bytes(), 2);
        assert_eq!(m.counts().group, 2);
        assert_eq!(m.problems().len(), 1);
        assert_eq!(m.problems()[0].line, 2);
        assert!(m.problems()[0].error.to_string().contains("over the limit"));
        let second = m.calls().iter().find(|c| c.origin.line == 3).unwrap();
        assert_eq!(
            second.origin.offset as usize,
            line(1).len() + MAX_LINE_BYTES + 11
        );
    }
}
