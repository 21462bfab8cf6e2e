//! Reading newline-delimited JSON fast: one thread reads chunks that end on a line boundary,
//! worker threads parse them into [`Batch`]es, and the caller merges the batches in order
//! (the pipeline is in [`super::pipeline`]).

use std::io::Read;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use memmap2::Mmap;

use super::pipeline::{self, Chunk, Feed};
use crate::event::{EventError, MAX_LINE_BYTES};
use crate::model::{Batch, KnownSnapshots, LocalTables, ModelBuilder, Problem, ProblemKind};

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
    let read = |feed: &mut Feed<'_>| pipeline::read_lines(reader, feed);
    let size = SizeHint::unknown();
    load_chunks(read, size, source, builder, threads, cancel, on_batch);
}

/// Like [`load_lines`], for a file mapped by [`super::mapped::map_for_lines`]; `read` counts
/// the bytes handed to the workers (for progress).
pub(crate) fn load_mapped(
    map: Arc<Mmap>,
    read: &AtomicU64,
    source: u16,
    builder: &mut ModelBuilder,
    threads: usize,
    cancel: &AtomicBool,
    on_batch: &mut dyn FnMut(&ModelBuilder),
) {
    let size = SizeHint::of(map.len() as u64);
    let read = |feed: &mut Feed<'_>| super::mapped::read_mapped(map, read, feed);
    load_chunks(read, size, source, builder, threads, cancel, on_batch);
}

/// Runs the pipeline with `read` as its reader (of lines).
fn load_chunks(
    read: impl FnOnce(&mut Feed<'_>) + Send,
    mut size: SizeHint,
    source: u16,
    builder: &mut ModelBuilder,
    threads: usize,
    cancel: &AtomicBool,
    on_batch: &mut dyn FnMut(&ModelBuilder),
) {
    let known = builder.known_snapshots();
    let tables: Vec<Option<LocalTables>> = (0..threads.max(1))
        .map(|_| Some(LocalTables::new()))
        .collect();
    let lineages: Vec<u64> = tables.iter().flatten().map(LocalTables::lineage).collect();
    let work = |tables: &mut Option<LocalTables>, chunk: &Chunk| {
        let mut batch = Batch::with_tables(tables.take().unwrap_or_default());
        parse_chunk(&mut batch, chunk, source, &known);
        *tables = Some(batch.take_tables());
        let lines = batch.lines;
        (batch, lines)
    };
    pipeline::run(
        tables,
        cancel,
        read,
        &work,
        // Line numbers become absolute here.
        &mut |mut batch: Batch, line_base| {
            batch.shift_lines(line_base);
            size.merged(&batch, builder);
            builder.add_batch(batch);
            on_batch(builder);
            ControlFlow::Continue(())
        },
    );
    for lineage in lineages {
        builder.forget_tables(lineage);
    }
}

/// Tells the builder how many events are coming (see [`ModelBuilder::expect_events`]) once a
/// sixteenth of an input of known size has been merged: enough to know its events' size.
#[derive(Debug)]
struct SizeHint {
    /// The input's size in bytes; 0 when unknown or already told.
    total: u64,
    bytes: u64,
    events: u64,
}

impl SizeHint {
    fn of(total: u64) -> Self {
        SizeHint {
            total,
            bytes: 0,
            events: 0,
        }
    }

    fn unknown() -> Self {
        SizeHint::of(0)
    }

    /// Counts `batch`, about to be merged into `builder`.
    fn merged(&mut self, batch: &Batch, builder: &mut ModelBuilder) {
        if self.total == 0 {
            return;
        }
        self.bytes += batch.bytes;
        self.events += batch.events.len() as u64;
        if self.bytes > 0 && self.bytes >= self.total / 16 {
            let rest = self.total.saturating_sub(self.bytes);
            let more = u128::from(self.events) * u128::from(rest) / u128::from(self.bytes);
            builder.expect_events(usize::try_from(more).unwrap_or(usize::MAX));
            self.total = 0;
        }
    }
}

/// Parses one chunk of lines into `batch`, lines numbered from 1.
fn parse_chunk(batch: &mut Batch, chunk: &Chunk, source: u16, known: &KnownSnapshots) {
    if let Some((text, offset)) = chunk.lines() {
        batch.parse_lines(text, source, 1, offset, known);
        return;
    }
    match chunk {
        // Parsed above.
        Chunk::Lines { .. } | Chunk::Mapped { .. } => {}
        Chunk::Oversized { bytes, .. } => {
            batch.lines = 1;
            batch.push_problem(Problem {
                source,
                line: 1,
                error: ProblemKind::Event(EventError::TooLong(*bytes, MAX_LINE_BYTES)),
            });
        }
        Chunk::Failed { why, .. } => batch.push_problem(Problem {
            source,
            line: 0,
            error: ProblemKind::Input(why.clone()),
        }),
        // Rows come from databases, which this loader does not read.
        Chunk::Rows { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` loaded with read() and through a map of a file holding it.
    fn load(text: &[u8], threads: usize) -> [crate::model::Model; 2] {
        let cancel = AtomicBool::new(false);
        let mut read = ModelBuilder::new();
        let mut r: &[u8] = text;
        load_lines(&mut r, 0, &mut read, threads, &cancel, &mut |_| {});
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, text).unwrap();
        let map = super::super::mapped::map_for_lines(file.as_file()).unwrap();
        let mut mapped = ModelBuilder::new();
        let bytes = AtomicU64::new(0);
        load_mapped(map, &bytes, 0, &mut mapped, threads, &cancel, &mut |_| {});
        assert_eq!(bytes.into_inner() as usize, text.len());
        [read.finish(), mapped.finish()]
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
        let [one, mapped_one] = load(text.as_bytes(), 1);
        let [four, mapped_four] = load(text.as_bytes(), 4);
        for m in [&one, &four, &mapped_one, &mapped_four] {
            assert_eq!(m.counts().group, n as u64);
            assert_eq!(m.counts().bad_lines, 1);
            assert_eq!(m.problems()[0].line, 30_002);
            assert_eq!(m.groups().len(), 3);
            let last = m.calls().iter().max_by_key(|c| c.origin.line).unwrap();
            assert_eq!(last.origin.line as usize, n + 1);
            assert_eq!(
                last.origin.offset as usize + last.origin.len as usize + 1,
                text.len()
            );
        }
    }

    #[test]
    fn a_known_size_tells_the_builder_how_many_events_are_coming() {
        let text: String = (0..100).map(line).collect();
        let mut batch = Batch::default();
        batch.parse_lines(text.as_bytes(), 0, 1, 0, &KnownSnapshots::default());
        let mut builder = ModelBuilder::new();
        let before = builder.message_room();
        let mut size = SizeHint::of(text.len() as u64 * 32);
        // A thirty-second of the input says too little; a sixteenth is enough.
        size.merged(&batch, &mut builder);
        assert_eq!(builder.message_room(), before);
        size.merged(&batch, &mut builder);
        let room = builder.message_room();
        assert!((3_000..6_000).contains(&room), "{room}");
        assert!(builder.call_room() >= 3_000, "{}", builder.call_room());
        // Told once: later batches change nothing.
        size.merged(&batch, &mut builder);
        assert_eq!(builder.message_room(), room);
        // A stream of unknown size tells nothing.
        let mut builder = ModelBuilder::new();
        SizeHint::unknown().merged(&batch, &mut builder);
        assert_eq!(builder.message_room(), before);
    }

    #[test]
    fn oversized_lines_are_skipped_and_reported() {
        let mut text = line(1);
        text.push_str(&"x".repeat(MAX_LINE_BYTES + 10));
        text.push('\n');
        text.push_str(&line(2));
        for m in load(text.as_bytes(), 2) {
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
}
