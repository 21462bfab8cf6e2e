//! `groupscope import`: add events to the store, all of one import or none.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;

use super::{Common, EXIT_BAD_INPUT};
use crate::event::{EventKind, WireEvent};
use crate::source::LoadOptions;
use crate::source::visit::{Place, Step, Visit, visit_parallel};
use crate::store::layout::kind_name;
use crate::store::{self, NewEvent, RawLayout, Store};

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Inputs (files, directories, `-` for stdin, warehouse databases).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Exit with code 1 when any line or event was bad (they are skipped either way).
    #[arg(long)]
    pub strict: bool,
}

/// How many problems the summary lists.
const SHOWN_PROBLEMS: usize = 10;

/// The store path: `--store`, else `$GROUPSCOPE_STORE`, else the platform data directory.
pub fn store_path(common: &Common) -> anyhow::Result<PathBuf> {
    match &common.store {
        Some(p) => Ok(p.clone()),
        None => store::default_path()
            .ok_or_else(|| anyhow::anyhow!("no store path: set --store, GROUPSCOPE_STORE or HOME")),
    }
}

/// Runs `import`: workers parse the inputs (see [`visit_parallel`]) while this thread writes
/// the rows, in input order, into one transaction.
pub fn run(args: &ImportArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let path = store_path(common)?;
    let mut store = Store::open(&path)?;
    let mut importer = store.begin_import()?;
    let mut problems: Vec<String> = Vec::new();
    let mut bad = 0u64;
    let mut source_name = String::new();
    let mut failure: Option<anyhow::Error> = None;
    let threads = common
        .threads
        .unwrap_or_else(|| LoadOptions::default().threads);
    let cancel = AtomicBool::new(false);
    let on_worker = |rows: &mut Rows, v: Visit<'_>| match v {
        Visit::Event { event, .. } => rows.push(event),
        Visit::Problem { place, why } => rows.problems.push((place, why)),
        Visit::Source { .. } => {}
    };
    visit_parallel(&args.paths, threads, &cancel, &on_worker, &mut |step| {
        match step {
            Step::Source { path, .. } => source_name = path.display().to_string(),
            Step::Parsed { value, line_base } => {
                for row in &value.rows {
                    if let Err(e) = importer.add(&value.event(row, &source_name)) {
                        failure = Some(e.into());
                        return ControlFlow::Break(());
                    }
                }
                for (place, why) in value.problems {
                    bad += 1;
                    if problems.len() < SHOWN_PROBLEMS {
                        let place = shifted(place, line_base);
                        problems.push(format!("{}: {why}", place_label(&source_name, place)));
                    }
                }
            }
        }
        ControlFlow::Continue(())
    })?;
    if let Some(e) = failure {
        // Dropping the importer rolls the whole import back.
        return Err(e.context("the import was rolled back; the store is as it was"));
    }
    let rows_done = started.elapsed();
    let summary = importer.finish()?;
    if std::env::var_os("GROUPSCOPE_DEBUG").is_some() {
        eprintln!(
            "groupscope: rows {:.3}s, indexes and commit {:.3}s",
            rows_done.as_secs_f64(),
            (started.elapsed() - rows_done).as_secs_f64()
        );
    }
    println!(
        "imported {} events into {} ({} duplicates skipped, {} bad lines or events skipped)",
        summary.inserted,
        path.display(),
        summary.duplicates,
        bad
    );
    for p in &problems {
        println!("  {}", super::safe(p));
    }
    if bad as usize > problems.len() {
        println!("  … and {} more", bad as usize - problems.len());
    }
    Ok(if args.strict && bad > 0 {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}

/// A place with its line made absolute (line 0, the input as a whole, stays 0).
fn shifted(place: Place, line_base: u64) -> Place {
    match place {
        Place::Line { line, offset } if line > 0 => Place::Line {
            line: line + line_base,
            offset,
        },
        other => other,
    }
}

fn place_label(source: &str, place: Place) -> String {
    match place {
        Place::Line { line: 0, .. } => source.to_string(),
        Place::Line { line, .. } => format!("{source}:{line}"),
        Place::Row { rowid, .. } => format!("{source} row {rowid}"),
    }
}

/// A piece of text in [`Rows::text`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
}

/// One event ready for the store, its text in [`Rows::text`].
#[derive(Debug, Clone, Copy)]
struct Row {
    message_id: Option<Span>,
    kind: EventKind,
    user_id: Option<Span>,
    anonymous_id: Option<Span>,
    group_id: Option<Span>,
    event_ms: Option<i64>,
    received_ms: Option<i64>,
    raw: Span,
    /// `None` when the raw text was compacted (its ranges are no longer the parser's).
    layout: Option<RawLayout>,
}

/// Events of one piece of input, parsed on a worker, with their text back to back (so the
/// writer gets owned data without an allocation per event), and the problems found.
#[derive(Debug, Default)]
struct Rows {
    text: String,
    rows: Vec<Row>,
    problems: Vec<(Place, String)>,
}

impl Rows {
    /// Keeps one parsed event. Events spread over several lines (from a pretty-printed
    /// document) are stored compacted, one line each.
    fn push(&mut self, event: &WireEvent<'_>) {
        let (raw, layout) = if event.raw.contains('\n') {
            let compact = serde_json::from_str::<serde_json::Value>(event.raw)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| event.raw.replace('\n', " "));
            (self.span(&compact), None)
        } else {
            (self.span(event.raw), RawLayout::of(event))
        };
        let times = event.times;
        let row = Row {
            message_id: event.message_id.as_deref().map(|s| self.span(s)),
            kind: event.kind,
            user_id: event.user_id.as_deref().map(|s| self.span(s)),
            anonymous_id: event.anonymous_id.as_deref().map(|s| self.span(s)),
            group_id: event.group_id.as_deref().map(|s| self.span(s)),
            event_ms: times.event_time().map(|t| t.utc_ms),
            received_ms: times.received_at.map(|t| t.utc_ms),
            raw,
            layout,
        };
        self.rows.push(row);
    }

    fn span(&mut self, text: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(text);
        Span {
            start,
            len: text.len(),
        }
    }

    fn get(&self, span: Span) -> &str {
        self.text
            .get(span.start..span.start + span.len)
            .unwrap_or("")
    }

    /// The store row for one of the events.
    fn event<'a>(&'a self, row: &Row, source: &'a str) -> NewEvent<'a> {
        NewEvent {
            message_id: row.message_id.map(|s| self.get(s)),
            kind: kind_name(row.kind),
            user_id: row.user_id.map(|s| self.get(s)),
            anonymous_id: row.anonymous_id.map(|s| self.get(s)),
            group_id: row.group_id.map(|s| self.get(s)),
            event_ms: row.event_ms,
            received_ms: row.received_ms,
            origin: store::Origin::Imported,
            source,
            raw: self.get(row.raw),
            layout: row.layout,
        }
    }
}
