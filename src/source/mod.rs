//! Inputs: what a path holds (detected by content), loading it into the model, and reading one
//! event's raw JSON back when it is shown.

mod detect;
mod jsonl;
mod mapped;
mod pipeline;
mod raw;
mod stdin;
mod stored;
pub mod visit;
pub mod warehouse;

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use std::ops::ControlFlow;

use crate::model::{
    Batch, LocalTables, Model, ModelBuilder, Problem, ProblemKind, SourceInfo, SourceKind,
};

pub use detect::{Detected, detect, expand_paths};
pub use jsonl::load_lines;
pub use raw::{RawError, read_raw};
pub use stdin::MAX_STDIN_BYTES;

/// Why an input could not be loaded at all (bad lines inside an input are not errors).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The content is none of the formats groupscope reads.
    #[error("{path} is not JSONL, a JSON array, gzip or SQLite (it starts with {start:?})")]
    Unrecognised {
        /// The path.
        path: PathBuf,
        /// Its first bytes, escaped.
        start: String,
    },
    /// A SQLite file that is neither a groupscope store nor a warehouse database.
    #[error("{path}: {message}")]
    Database {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The load was cancelled.
    #[error("loading was cancelled")]
    Cancelled,
}

/// Progress of a load, reported often while it runs.
#[derive(Debug, Clone, Default)]
pub struct LoadProgress {
    /// Index of the input being read.
    pub source: usize,
    /// How many inputs there are.
    pub sources: usize,
    /// The input being read.
    pub path: PathBuf,
    /// Bytes of it read so far (compressed bytes for gzip).
    pub bytes_done: u64,
    /// Its size, when known.
    pub bytes_total: Option<u64>,
    /// Events kept so far, over all inputs.
    pub events: u64,
    /// Problems found so far.
    pub problems: u64,
}

/// How to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Parser threads (default: the number of cores).
    pub threads: usize,
    /// Set to stop a load early.
    pub cancel: Arc<AtomicBool>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Loads every path into one model. Bad lines are reported in the model, not as errors; an
/// unreadable or unrecognised path stops the load with one clear error.
pub fn load(
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &mut dyn FnMut(&LoadProgress),
) -> Result<Model, LoadError> {
    let mut builder = ModelBuilder::new();
    let started = std::time::Instant::now();
    load_into(&mut builder, paths, options, progress)?;
    let read = started.elapsed();
    let model = builder.finish();
    if std::env::var_os("GROUPSCOPE_DEBUG").is_some() {
        eprintln!(
            "groupscope: read {:.3}s, finish {:.3}s",
            read.as_secs_f64(),
            (started.elapsed() - read).as_secs_f64()
        );
    }
    Ok(model)
}

/// Events read before the first partial model is offered; each next one waits for
/// [`PARTIAL_GROWTH`] times as many, so building them all costs about one more `finish`.
pub const PARTIAL_FIRST: u64 = 50_000;
/// How much the input read grows between two partial models.
pub const PARTIAL_GROWTH: u64 = 4;

/// Like [`load`], and while it runs offers the builder to `on_partial` after about
/// [`PARTIAL_FIRST`] events, then each time the events read have grown [`PARTIAL_GROWTH`]-fold
/// (50k, 200k, 800k, …), so the explorer can show the tree filling as data arrives:
/// [`ModelBuilder::partial`] makes the model of everything read so far, a prefix of the final
/// model (build it only when it will be shown). Returning `Break` stops the offers.
pub fn load_progressive(
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &mut dyn FnMut(&LoadProgress),
    on_partial: &mut dyn FnMut(&ModelBuilder) -> ControlFlow<()>,
) -> Result<Model, LoadError> {
    let schedule = (PARTIAL_FIRST, PARTIAL_GROWTH);
    load_with_partials(paths, options, progress, on_partial, schedule)
}

/// [`load_progressive`] with the schedule as `(first, growth)`.
fn load_with_partials(
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &mut dyn FnMut(&LoadProgress),
    on_partial: &mut dyn FnMut(&ModelBuilder) -> ControlFlow<()>,
    schedule: (u64, u64),
) -> Result<Model, LoadError> {
    let mut builder = ModelBuilder::new();
    partials_into(&mut builder, paths, options, progress, on_partial, schedule)?;
    Ok(builder.finish())
}

/// Like [`load_progressive`], adding to an existing builder and leaving it unfinished, so more
/// (the explorer's composed calls) can join before the model is made.
pub fn load_progressive_into(
    builder: &mut ModelBuilder,
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &mut dyn FnMut(&LoadProgress),
    on_partial: &mut dyn FnMut(&ModelBuilder) -> ControlFlow<()>,
) -> Result<(), LoadError> {
    let schedule = (PARTIAL_FIRST, PARTIAL_GROWTH);
    partials_into(builder, paths, options, progress, on_partial, schedule)
}

fn partials_into(
    builder: &mut ModelBuilder,
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &mut dyn FnMut(&LoadProgress),
    on_partial: &mut dyn FnMut(&ModelBuilder) -> ControlFlow<()>,
    (first, growth): (u64, u64),
) -> Result<(), LoadError> {
    let mut next = first;
    let mut offering = true;
    load_sources(builder, paths, options, &mut |p, b| {
        progress(p);
        let events = b.counts().events;
        if offering && events >= next {
            offering = on_partial(b).is_continue();
            while next <= events {
                next = next.saturating_mul(growth.max(2));
            }
        }
    })
}

/// Progress as the loaders report it: with the builder, for partial models.
type Progress<'a> = dyn FnMut(&LoadProgress, &ModelBuilder) + 'a;

/// Like [`load`], adding to an existing builder.
pub fn load_into(
    builder: &mut ModelBuilder,
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &mut dyn FnMut(&LoadProgress),
) -> Result<(), LoadError> {
    load_sources(builder, paths, options, &mut |p, _| progress(p))
}

fn load_sources(
    builder: &mut ModelBuilder,
    paths: &[PathBuf],
    options: &LoadOptions,
    progress: &mut Progress<'_>,
) -> Result<(), LoadError> {
    let files = expand_paths(paths)?;
    let mut report = LoadProgress {
        sources: files.len(),
        ..LoadProgress::default()
    };
    for (i, path) in files.iter().enumerate() {
        if options.cancel.load(Ordering::Relaxed) {
            return Err(LoadError::Cancelled);
        }
        report.source = i;
        report.path = path.clone();
        report.bytes_done = 0;
        report.bytes_total = None;
        progress(&report, builder);
        load_one(builder, path, options, &mut report, progress)?;
        if options.cancel.load(Ordering::Relaxed) {
            return Err(LoadError::Cancelled);
        }
    }
    Ok(())
}

/// Counts bytes read, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn load_one(
    builder: &mut ModelBuilder,
    path: &Path,
    options: &LoadOptions,
    report: &mut LoadProgress,
    progress: &mut Progress<'_>,
) -> Result<(), LoadError> {
    let unreadable = |source| LoadError::Unreadable {
        path: path.to_path_buf(),
        source,
    };
    if path.as_os_str() == "-" {
        let stdin = stdin::read_stdin(io::stdin().lock(), MAX_STDIN_BYTES).map_err(unreadable)?;
        return load_memory(builder, path, stdin, options, report, progress);
    }
    let mut file = File::open(path).map_err(unreadable)?;
    report.bytes_total = file.metadata().ok().map(|m| m.len());
    let mut head = [0u8; 4096];
    let n = read_head(&mut file, &mut head).map_err(unreadable)?;
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    match detect(&head[..n]) {
        Detected::Sqlite => {
            // Closing it plainly could drop the locks of another thread's connection to the
            // same database (a refresh while the last load still reads it).
            crate::store::release_file(file);
            load_sqlite(builder, path, options, report, progress)
        }
        Detected::Unknown => Err(LoadError::Unrecognised {
            path: path.to_path_buf(),
            start: String::from_utf8_lossy(&head[..n.min(16)])
                .escape_debug()
                .to_string(),
        }),
        Detected::Empty => {
            builder.add_source(SourceInfo {
                path: path.to_path_buf(),
                kind: SourceKind::Jsonl { gzip: false },
                memory: None,
            });
            Ok(())
        }
        Detected::Gzip => {
            let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let counting = Counting {
                inner: BufReader::with_capacity(1 << 16, file),
                count: count.clone(),
            };
            let mut gz = BufReader::with_capacity(1 << 16, MultiGzDecoder::new(counting));
            let inner = detect(gz.fill_buf_safe());
            load_text(
                builder, path, &mut gz, None, inner, true, options, &count, report, progress,
            )
        }
        kind @ (Detected::JsonDocument | Detected::JsonLines) => {
            let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
            // Lines of a plain file are read through a map when it can be made (a document
            // is read whole anyway).
            let map = match kind {
                Detected::JsonLines => mapped::map_for_lines(&file),
                _ => None,
            };
            let mut counting = Counting {
                inner: file,
                count: count.clone(),
            };
            load_text(
                builder,
                path,
                &mut counting,
                map,
                kind,
                false,
                options,
                &count,
                report,
                progress,
            )
        }
    }
}

/// `fill_buf` that treats a read error as "nothing to peek" (the load reports it later).
trait FillBufSafe {
    fn fill_buf_safe(&mut self) -> &[u8];
}

impl<R: Read> FillBufSafe for BufReader<R> {
    fn fill_buf_safe(&mut self) -> &[u8] {
        use std::io::BufRead;
        match self.fill_buf() {
            Ok(_) => self.buffer(),
            Err(_) => &[],
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn load_text(
    builder: &mut ModelBuilder,
    path: &Path,
    reader: &mut (dyn Read + Send),
    map: Option<Arc<memmap2::Mmap>>,
    kind: Detected,
    gzip: bool,
    options: &LoadOptions,
    count: &std::sync::atomic::AtomicU64,
    report: &mut LoadProgress,
    progress: &mut Progress<'_>,
) -> Result<(), LoadError> {
    if kind == Detected::JsonDocument {
        let source = builder.add_source(SourceInfo {
            path: path.to_path_buf(),
            kind: SourceKind::Document { gzip },
            memory: None,
        });
        let mut data = Vec::new();
        let mut batch = Batch::new();
        match read_document(reader, &mut data) {
            Ok(Document::Whole) => batch.parse_document(&data, source, &builder.known_snapshots()),
            Ok(Document::TooLong(bytes)) => {
                batch.lines = 1;
                batch.push_problem(crate::model::Problem {
                    source,
                    line: 1,
                    error: crate::model::ProblemKind::Event(crate::event::EventError::TooLong(
                        bytes,
                        crate::event::MAX_LINE_BYTES,
                    )),
                });
            }
            Err(e) => batch.push_problem(crate::model::Problem {
                source,
                line: 0,
                error: crate::model::ProblemKind::Input(format!("reading stopped: {e}")),
            }),
        }
        builder.add_batch(batch);
        report.bytes_done = count.load(Ordering::Relaxed);
        report.events = builder.counts().events;
        report.problems = builder.counts().problems;
        progress(report, builder);
        return Ok(());
    }
    let source = builder.add_source(SourceInfo {
        path: path.to_path_buf(),
        kind: SourceKind::Jsonl { gzip },
        memory: None,
    });
    let on_batch = &mut |b: &ModelBuilder| {
        report.bytes_done = count.load(Ordering::Relaxed);
        report.events = b.counts().events;
        report.problems = b.counts().problems;
        progress(report, b);
    };
    let (threads, cancel) = (options.threads, &options.cancel);
    match map {
        Some(map) => jsonl::load_mapped(map, count, source, builder, threads, cancel, on_batch),
        None => load_lines(reader, source, builder, threads, cancel, on_batch),
    }
    Ok(())
}

/// What [`read_document`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    /// The whole document is in the buffer.
    Whole,
    /// The document is this many bytes, over [`crate::event::MAX_LINE_BYTES`]: the buffer
    /// holds nothing and the rest was read through without being kept.
    TooLong(usize),
}

/// Reads a one-document input into `data`, up to the parser's size limit. A bigger one (a
/// gzip bomb inflating to gigabytes) is counted while streaming, never held in memory.
pub(crate) fn read_document(reader: &mut dyn Read, data: &mut Vec<u8>) -> io::Result<Document> {
    let limit = crate::event::MAX_LINE_BYTES;
    reader.take(limit as u64 + 1).read_to_end(data)?;
    if data.len() <= limit {
        return Ok(Document::Whole);
    }
    let kept = data.len() as u64;
    *data = Vec::new();
    let rest = io::copy(reader, &mut io::sink())?;
    Ok(Document::TooLong(
        usize::try_from(kept + rest).unwrap_or(usize::MAX),
    ))
}

fn load_memory(
    builder: &mut ModelBuilder,
    path: &Path,
    stdin: stdin::StdinData,
    options: &LoadOptions,
    report: &mut LoadProgress,
    progress: &mut Progress<'_>,
) -> Result<(), LoadError> {
    // stdin is kept in memory (inflated) so its raw events can be shown again.
    let data = Arc::new(stdin.data);
    report.bytes_total = Some(data.len() as u64);
    let kind = detect(&data);
    if matches!(kind, Detected::Sqlite | Detected::Unknown) {
        return Err(LoadError::Unrecognised {
            path: path.to_path_buf(),
            start: String::from_utf8_lossy(&data[..data.len().min(16)])
                .escape_debug()
                .to_string(),
        });
    }
    let source = builder.add_source(SourceInfo {
        path: path.to_path_buf(),
        kind: SourceKind::Stdin,
        memory: Some(data.clone()),
    });
    if let Some(why) = stdin.stopped {
        // First, so the explorer's status bar (which shows the first problem) says it.
        let mut batch = Batch::new();
        batch.push_problem(Problem {
            source,
            line: 0,
            error: ProblemKind::Input(why),
        });
        builder.add_batch(batch);
    }
    if kind == Detected::JsonDocument {
        let mut batch = Batch::new();
        batch.parse_document(&data, source, &builder.known_snapshots());
        builder.add_batch(batch);
    } else {
        let mut reader: &[u8] = &data;
        load_lines(
            &mut reader,
            source,
            builder,
            options.threads,
            &options.cancel,
            &mut |_| {},
        );
    }
    report.bytes_done = data.len() as u64;
    report.events = builder.counts().events;
    report.problems = builder.counts().problems;
    progress(report, builder);
    Ok(())
}

/// Reads a database (a store or a warehouse) into the model: one thread steps through the rows
/// and packs them into chunks, the workers parse them (as the JSONL loader does) and the
/// batches are merged in row order. Row ids become the calls' origins; store rows keep their
/// sent/local marks.
fn load_sqlite(
    builder: &mut ModelBuilder,
    path: &Path,
    options: &LoadOptions,
    report: &mut LoadProgress,
    progress: &mut Progress<'_>,
) -> Result<(), LoadError> {
    let kind = visit::database_kind(path)?;
    let source = builder.add_source(SourceInfo {
        path: path.to_path_buf(),
        kind: kind.clone(),
        memory: None,
    });
    let known = builder.known_snapshots();
    let tables: Vec<Option<LocalTables>> = (0..options.threads.max(1))
        .map(|_| Some(LocalTables::new()))
        .collect();
    let lineages: Vec<u64> = tables.iter().flatten().map(LocalTables::lineage).collect();
    let work = |tables: &mut Option<LocalTables>, chunk: &pipeline::Chunk| {
        let batches = stored::parse_rows(tables, chunk, source, &known);
        let rows = batches.iter().map(|(b, _)| b.lines).sum();
        (batches, rows)
    };
    // The reader's own connection says how many rows are coming, before it sends the first.
    let coming = AtomicU64::new(0);
    let read = |feed: &mut pipeline::Feed<'_>| visit::read_rows(path, &kind, feed, Some(&coming));
    let result = pipeline::run(tables, &options.cancel, read, &work, &mut |batches, _| {
        let rows = coming.swap(0, Ordering::Acquire);
        if rows > 0 {
            builder.expect_events(usize::try_from(rows).unwrap_or(usize::MAX));
        }
        for (batch, mark) in batches {
            builder.add_marked_batch(batch, mark);
        }
        report.events = builder.counts().events;
        report.problems = builder.counts().problems;
        progress(report, builder);
        ControlFlow::Continue(())
    });
    for lineage in lineages {
        builder.forget_tables(lineage);
    }
    result
}

fn read_head(file: &mut File, head: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests;
