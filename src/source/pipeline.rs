//! The parallel reading pipeline shared by the loaders and `import`: one thread reads the input
//! into chunks (whole lines of text, or rows of a database), worker threads turn each chunk into
//! a result, and the calling thread takes the results in input order.
//!
//! Buffers go back from the workers to the reader, so a long input is read into a handful of
//! buffers that are zeroed once.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::ops::{ControlFlow, Range};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::visit::{Place, Visit};
use crate::event::{EventError, MAX_LINE_BYTES, parse_text};
use crate::store;

/// Bytes handed to a worker at a time (a chunk of lines grows to hold one long line).
pub(crate) const CHUNK_BYTES: usize = 2 << 20;

/// One database row in a [`Chunk::Rows`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRef {
    /// Where its JSON text starts in the chunk's data.
    pub start: u32,
    /// Its length.
    pub len: u32,
    /// The length of its store `layout`, right after the text (0: none).
    pub layout_len: u32,
    /// Its row id.
    pub rowid: i64,
    /// 0 = `events` or `groups`, 1 = `identifies`.
    pub table: u8,
    /// For store rows: how the call got there.
    pub origin: Option<store::Origin>,
}

/// A piece of input for a worker.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Whole lines in `data[..len]`; `offset` is the byte offset of the first one.
    Lines {
        data: Vec<u8>,
        len: usize,
        offset: u64,
    },
    /// Whole lines in `map[range]` of a mapped file; `range.start` is their offset.
    Mapped {
        map: Arc<memmap2::Mmap>,
        range: Range<usize>,
    },
    /// One line that was too long to keep, skipped by the reader.
    Oversized { bytes: usize, offset: u64 },
    /// The input could not be read further (a truncated gzip, an I/O error).
    Failed { why: String, offset: u64 },
    /// Database rows, their JSON text back to back in `data`.
    Rows { data: Vec<u8>, rows: Vec<RowRef> },
}

impl Chunk {
    /// Parses the chunk and tells `f` about every event and problem, in order. Line numbers
    /// in [`Place::Line`] count from 1 at the chunk's first line; offsets are absolute.
    /// Returns how many lines (or rows) the chunk held.
    pub(crate) fn visit(&self, f: &mut dyn FnMut(Visit<'_>)) -> u64 {
        if let Some((text, offset)) = self.lines() {
            return visit_lines(text, offset, f);
        }
        match self {
            // Visited above.
            Chunk::Lines { .. } | Chunk::Mapped { .. } => 0,
            Chunk::Oversized { bytes, offset } => {
                f(Visit::Problem {
                    place: Place::Line {
                        line: 1,
                        offset: *offset,
                    },
                    why: EventError::TooLong(*bytes, MAX_LINE_BYTES).to_string(),
                });
                1
            }
            Chunk::Failed { why, offset } => {
                f(Visit::Problem {
                    place: Place::Line {
                        line: 0,
                        offset: *offset,
                    },
                    why: why.clone(),
                });
                0
            }
            Chunk::Rows { data, rows } => {
                for r in rows {
                    r.visit(data, f);
                }
                rows.len() as u64
            }
        }
    }

    /// The whole lines a [`Chunk::Lines`] or [`Chunk::Mapped`] holds, and the offset of the
    /// first one in the input.
    pub(crate) fn lines(&self) -> Option<(&[u8], u64)> {
        match self {
            Chunk::Lines { data, len, offset } => Some((&data[..*len], *offset)),
            Chunk::Mapped { map, range } => Some((
                map.get(range.clone()).unwrap_or_default(),
                range.start as u64,
            )),
            _ => None,
        }
    }

    /// Hands the chunk's buffer back for reuse (a mapped chunk's pages back to the kernel).
    fn recycle(self, free: &mpsc::Sender<Vec<u8>>) {
        match self {
            Chunk::Lines { data, .. } | Chunk::Rows { data, .. } => {
                // The reader may have stopped; then the buffer is simply dropped.
                let _ = free.send(data);
            }
            Chunk::Mapped { map, range } => super::mapped::release(&map, range),
            Chunk::Oversized { .. } | Chunk::Failed { .. } => {}
        }
    }
}

impl RowRef {
    /// The row's JSON text in its chunk's data.
    pub(crate) fn text<'d>(&self, data: &'d [u8]) -> &'d [u8] {
        let start = self.start as usize;
        data.get(start..start + self.len as usize).unwrap_or(&[])
    }

    /// The row's store `layout` in its chunk's data, if it has one.
    pub(crate) fn layout<'d>(&self, data: &'d [u8]) -> Option<&'d [u8]> {
        let start = (self.start + self.len) as usize;
        (self.layout_len > 0).then(|| data.get(start..start + self.layout_len as usize))?
    }

    /// Parses the row's text and tells `f` about every event and problem in it.
    pub(crate) fn visit(&self, data: &[u8], f: &mut dyn FnMut(Visit<'_>)) {
        let place = Place::Row {
            table: self.table,
            rowid: self.rowid,
        };
        parse_text(self.text(data), &mut |result| match result {
            Ok(event) => f(Visit::Event {
                place,
                event: &event,
                store_origin: self.origin,
            }),
            Err(e) => f(Visit::Problem {
                place,
                why: e.to_string(),
            }),
        });
    }
}

/// Visits the lines of `text` (which starts at `base` in its input), numbered from 1.
fn visit_lines(text: &[u8], base: u64, f: &mut dyn FnMut(Visit<'_>)) -> u64 {
    let mut line_no = 0u64;
    let mut start = 0usize;
    let mut ends = memchr::memchr_iter(b'\n', text);
    loop {
        let end = ends.next();
        if end.is_none() && start >= text.len() {
            break;
        }
        let stop = end.unwrap_or(text.len());
        let line = &text[start..stop];
        line_no += 1;
        let line_offset = base + start as u64;
        parse_text(line, &mut |result| match result {
            Ok(event) => {
                let at = (event.raw.as_ptr() as usize).saturating_sub(line.as_ptr() as usize);
                f(Visit::Event {
                    place: Place::Line {
                        line: line_no,
                        offset: line_offset + at as u64,
                    },
                    event: &event,
                    store_origin: None,
                });
            }
            Err(e) => f(Visit::Problem {
                place: Place::Line {
                    line: line_no,
                    offset: line_offset,
                },
                why: e.to_string(),
            }),
        });
        match end {
            Some(e) => start = e + 1,
            None => break,
        }
    }
    line_no
}

/// The reader's side of the pipeline.
pub(crate) struct Feed<'a> {
    tx: mpsc::SyncSender<(usize, Chunk)>,
    free: mpsc::Receiver<Vec<u8>>,
    index: usize,
    stop: &'a AtomicBool,
    cancel: &'a AtomicBool,
}

impl Feed<'_> {
    /// Hands a chunk to the workers; false when nothing more is wanted.
    pub(crate) fn send(&mut self, chunk: Chunk) -> bool {
        if self.stopped() {
            return false;
        }
        let ok = self.tx.send((self.index, chunk)).is_ok();
        self.index += 1;
        ok
    }

    /// A buffer back from the workers, or a new empty one.
    pub(crate) fn recycled(&self) -> Vec<u8> {
        self.free.try_recv().unwrap_or_default()
    }

    /// Whether the load was cancelled or the consumer stopped early.
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed) || self.cancel.load(Ordering::Relaxed)
    }
}

/// Runs `read` on a thread of its own feeding chunks to one worker per entry of `states`;
/// `work` turns a chunk into a result and the number of lines (or rows) it held; `merge` gets
/// the results in input order with the number of lines before each. When `merge` breaks, the
/// reader and the workers stop soon after. Returns what `read` returned.
pub(crate) fn run<S: Send, T: Send, R: Send>(
    states: Vec<S>,
    cancel: &AtomicBool,
    read: impl FnOnce(&mut Feed<'_>) -> R + Send,
    work: &(dyn Fn(&mut S, &Chunk) -> (T, u64) + Sync),
    merge: &mut dyn FnMut(T, u64) -> ControlFlow<()>,
) -> R {
    let workers = states.len().max(1);
    let stop = AtomicBool::new(false);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<(usize, Chunk)>(workers * 2);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    // Bounded, so a slow consumer (a database writer) holds the reader back instead of
    // piling parsed chunks up in memory.
    let (done_tx, done_rx) = mpsc::sync_channel::<(usize, u64, T)>(workers * 2);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let stop = &stop;
        let reader = scope.spawn(move || {
            let mut feed = Feed {
                tx: chunk_tx,
                free: free_rx,
                index: 0,
                stop,
                cancel,
            };
            read(&mut feed)
        });
        for mut state in states {
            let rx = chunk_rx.clone();
            let tx = done_tx.clone();
            let free = free_tx.clone();
            scope.spawn(move || {
                loop {
                    let next = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok((index, chunk)) = next else { return };
                    let (value, lines) = work(&mut state, &chunk);
                    chunk.recycle(&free);
                    if tx.send((index, lines, value)).is_err() {
                        return;
                    }
                }
            });
        }
        // Only the workers hold the chunk receiver now: when they are gone, the reader's
        // next send fails and it stops.
        drop(chunk_rx);
        drop(done_tx);
        drop(free_tx);
        let mut pending: BTreeMap<usize, (u64, T)> = BTreeMap::new();
        let mut next = 0usize;
        let mut line_base = 0u64;
        'merge: for (index, lines, value) in done_rx {
            pending.insert(index, (lines, value));
            while let Some((lines, value)) = pending.remove(&next) {
                let base = line_base;
                line_base += lines;
                next += 1;
                if merge(value, base).is_break() {
                    stop.store(true, Ordering::Relaxed);
                    break 'merge;
                }
            }
        }
        match reader.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Where [`split_lines`] finds its input: a window of bytes not yet handed on, grown by
/// `fill` (read() into a buffer, or more of a mapped file), so both readers cut the input into
/// exactly the same chunks.
pub(crate) trait LineWindow {
    /// Grows the window to `want` bytes, or to the end of the input; how many bytes came.
    fn fill(&mut self, want: usize) -> io::Result<usize>;
    /// The window.
    fn window(&self) -> &[u8];
    /// Hands the window's first `len` bytes (at `offset` in the input) on as a chunk.
    fn take(&mut self, len: usize, offset: u64, feed: &Feed<'_>) -> Chunk;
    /// Drops the window's first `len` bytes (part of an oversized line).
    fn skip(&mut self, len: usize);
}

/// A [`LineWindow`] in a buffer filled by `read()`; buffers are recycled.
struct ReadWindow<'r> {
    reader: &'r mut (dyn Read + Send),
    buf: Vec<u8>,
    filled: usize,
}

impl LineWindow for ReadWindow<'_> {
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        let n = read_some(self.reader, &mut self.buf[self.filled..want])?;
        self.filled += n;
        Ok(n)
    }

    fn window(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    fn take(&mut self, len: usize, offset: u64, feed: &Feed<'_>) -> Chunk {
        let rest = self.filled - len;
        // A recycled buffer if one is back, else a new one; `fill` grows it as needed.
        let mut next = feed.recycled();
        if next.len() < rest {
            next.resize(CHUNK_BYTES.max(rest + CHUNK_BYTES / 4), 0);
        }
        next[..rest].copy_from_slice(&self.buf[len..self.filled]);
        let data = std::mem::replace(&mut self.buf, next);
        self.filled = rest;
        Chunk::Lines { data, len, offset }
    }

    fn skip(&mut self, len: usize) {
        self.buf.copy_within(len..self.filled, 0);
        self.filled -= len;
    }
}

/// Splits text into chunks of whole lines. A line longer than [`MAX_LINE_BYTES`] is skipped
/// without being held in memory.
pub(crate) fn read_lines(reader: &mut (dyn Read + Send), feed: &mut Feed<'_>) {
    let mut buf = feed.recycled();
    if buf.len() < CHUNK_BYTES {
        buf.resize(CHUNK_BYTES, 0);
    }
    let mut window = ReadWindow {
        reader,
        buf,
        filled: 0,
    };
    split_lines(&mut window, feed);
}

/// Cuts the input behind `w` into chunks of whole lines of about [`CHUNK_BYTES`] (a chunk
/// grows to hold one long line); a line longer than [`MAX_LINE_BYTES`] becomes a
/// [`Chunk::Oversized`] and a last line without a newline ends the last chunk.
pub(crate) fn split_lines(w: &mut dyn LineWindow, feed: &mut Feed<'_>) {
    let mut offset = 0u64; // offset of the window's first byte in the input
    let mut skipping: Option<(usize, u64)> = None; // an oversized line: bytes so far, start
    loop {
        if feed.stopped() {
            return;
        }
        let want = CHUNK_BYTES.max(w.window().len() + CHUNK_BYTES / 4);
        let n = match w.fill(want) {
            Ok(n) => n,
            Err(e) => {
                let filled = w.window().len();
                if filled > 0 {
                    let chunk = w.take(filled, offset, feed);
                    if !feed.send(chunk) {
                        return;
                    }
                }
                feed.send(Chunk::Failed {
                    why: read_error(&e),
                    offset: offset + filled as u64,
                });
                return;
            }
        };
        let filled = w.window().len();
        if let Some((skipped, start)) = skipping {
            match memchr::memchr(b'\n', w.window()) {
                Some(nl) => {
                    offset += nl as u64 + 1;
                    w.skip(nl + 1);
                    skipping = None;
                    let bytes = skipped + nl;
                    if !feed.send(Chunk::Oversized {
                        bytes,
                        offset: start,
                    }) {
                        return;
                    }
                }
                None if n == 0 => {
                    feed.send(Chunk::Oversized {
                        bytes: skipped + filled,
                        offset: start,
                    });
                    return;
                }
                None => {
                    skipping = Some((skipped + filled, start));
                    offset += filled as u64;
                    w.skip(filled);
                    continue;
                }
            }
        }
        let filled = w.window().len();
        if n == 0 {
            if filled > 0 {
                let chunk = w.take(filled, offset, feed);
                feed.send(chunk);
            }
            return;
        }
        match memchr::memrchr(b'\n', w.window()) {
            Some(nl) if filled >= CHUNK_BYTES || nl + 1 == filled => {
                let len = nl + 1;
                let chunk = w.take(len, offset, feed);
                if !feed.send(chunk) {
                    return;
                }
                offset += len as u64;
            }
            Some(_) => {}
            None if filled > MAX_LINE_BYTES => {
                skipping = Some((filled, offset));
                offset += filled as u64;
                w.skip(filled);
            }
            None => {}
        }
    }
}

/// Packs database rows into [`Chunk::Rows`]; `push` returns `Break` when the consumer stopped.
pub(crate) struct RowPacker<'f, 'a> {
    feed: &'f mut Feed<'a>,
    data: Vec<u8>,
    rows: Vec<RowRef>,
}

impl<'f, 'a> RowPacker<'f, 'a> {
    /// A packer feeding `feed`.
    pub(crate) fn new(feed: &'f mut Feed<'a>) -> Self {
        let mut data = feed.recycled();
        data.clear();
        RowPacker {
            feed,
            data,
            rows: Vec::new(),
        }
    }

    /// Adds one row (with its store `layout`, if any), sending the chunk when it is full.
    pub(crate) fn push(
        &mut self,
        rowid: i64,
        table: u8,
        origin: Option<store::Origin>,
        text: &[u8],
        layout: Option<&[u8]>,
    ) -> ControlFlow<()> {
        let layout = layout.unwrap_or_default();
        self.rows.push(RowRef {
            start: self.data.len() as u32,
            len: text.len() as u32,
            layout_len: layout.len() as u32,
            rowid,
            table,
            origin,
        });
        self.data.extend_from_slice(text);
        self.data.extend_from_slice(layout);
        if self.data.len() >= CHUNK_BYTES {
            self.flush()?;
        }
        if self.feed.stopped() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Sends what is packed.
    pub(crate) fn flush(&mut self) -> ControlFlow<()> {
        if self.rows.is_empty() {
            return ControlFlow::Continue(());
        }
        let mut next = self.feed.recycled();
        next.clear();
        let data = std::mem::replace(&mut self.data, next);
        let rows = std::mem::take(&mut self.rows);
        if self.feed.send(Chunk::Rows { data, rows }) {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
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
            // Hand over what was read; the error comes again on the next call.
            Err(_) if filled > 0 => break,
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
mod tests;
