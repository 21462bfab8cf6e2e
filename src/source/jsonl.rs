//! Reading newline-delimited JSON fast: one thread reads chunks that end on a line boundary,
//! worker threads parse them into [`Batch`]es, and the caller merges the batches in order.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::event::{EventError, MAX_LINE_BYTES};
use crate::model::{Batch, KnownSnapshots, ModelBuilder, Problem, ProblemKind};

/// Bytes handed to a worker at a time (a chunk grows to hold one long line).
const CHUNK_BYTES: usize = 4 << 20;

/// A piece of input for a worker.
enum Chunk {
    /// Whole lines; `offset` is the byte offset of the first one.
    Lines { data: Vec<u8>, offset: u64 },
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
    std::thread::scope(|scope| {
        scope.spawn(move || read_chunks(reader, &chunk_tx, cancel));
        for _ in 0..threads {
            let rx = chunk_rx.clone();
            let tx = batch_tx.clone();
            let known = known.clone();
            scope.spawn(move || worker(&rx, &tx, source, &known));
        }
        drop(batch_tx);
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
}

fn worker(
    rx: &Mutex<mpsc::Receiver<(usize, Chunk)>>,
    tx: &mpsc::Sender<(usize, Batch)>,
    source: u16,
    known: &KnownSnapshots,
) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((index, chunk)) = next else { return };
        let mut batch = Batch::new();
        match chunk {
            Chunk::Lines { data, offset } => batch.parse_lines(&data, source, 1, offset, known),
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
        if tx.send((index, batch)).is_err() {
            return;
        }
    }
}

/// Splits the input into chunks of whole lines. A line longer than [`MAX_LINE_BYTES`] is
/// skipped without being held in memory.
fn read_chunks(
    reader: &mut (dyn Read + Send),
    tx: &mpsc::SyncSender<(usize, Chunk)>,
    cancel: &AtomicBool,
) {
    let mut index = 0usize;
    let mut send = |chunk: Chunk| {
        let ok = tx.send((index, chunk)).is_ok();
        index += 1;
        ok
    };
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
    let mut offset = 0u64; // offset of buf[0] in the input
    let mut skipping: Option<usize> = None; // bytes of an oversized line skipped so far
    loop {
        if cancel.load(Ordering::Relaxed) {
            return;
        }
        let want = CHUNK_BYTES.max(buf.len() + CHUNK_BYTES / 4);
        let old_len = buf.len();
        buf.resize(want, 0);
        let n = match read_some(reader, &mut buf[old_len..]) {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(old_len);
                if !buf.is_empty() {
                    let data = std::mem::take(&mut buf);
                    if !send(Chunk::Lines { data, offset }) {
                        return;
                    }
                }
                send(Chunk::Failed(read_error(&e)));
                return;
            }
        };
        buf.truncate(old_len + n);
        if let Some(skipped) = skipping {
            match memchr::memchr(b'\n', &buf) {
                Some(nl) => {
                    let total = skipped + nl;
                    offset += nl as u64 + 1;
                    buf.drain(..=nl);
                    skipping = None;
                    if !send(Chunk::Oversized { bytes: total }) {
                        return;
                    }
                }
                None if n == 0 => {
                    send(Chunk::Oversized {
                        bytes: skipped + buf.len(),
                    });
                    return;
                }
                None => {
                    skipping = Some(skipped + buf.len());
                    offset += buf.len() as u64;
                    buf.clear();
                    continue;
                }
            }
        }
        if n == 0 {
            if !buf.is_empty() {
                send(Chunk::Lines { data: buf, offset });
            }
            return;
        }
        match memchr::memrchr(b'\n', &buf) {
            Some(nl) if buf.len() >= CHUNK_BYTES || nl + 1 == buf.len() => {
                let rest = buf.split_off(nl + 1);
                let data = std::mem::replace(&mut buf, rest);
                let len = data.len() as u64;
                if !send(Chunk::Lines { data, offset }) {
                    return;
                }
                offset += len;
            }
            Some(_) => {}
            None if buf.len() > MAX_LINE_BYTES => {
                skipping = Some(buf.len());
                offset += buf.len() as u64;
                buf.clear();
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
