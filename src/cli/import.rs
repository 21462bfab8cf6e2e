//! `groupscope import`: add events to the store, all of one import or none.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{Common, EXIT_BAD_INPUT};
use crate::event::{EventKind, WireEvent};
use crate::source::visit::{Place, Visit, visit};
use crate::store::{self, NewEvent, Store};

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

/// Runs `import`.
pub fn run(args: &ImportArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let path = store_path(common)?;
    let mut store = Store::open(&path)?;
    let mut importer = store.begin_import()?;
    let mut problems: Vec<String> = Vec::new();
    let mut bad = 0u64;
    let mut source_name = String::new();
    let mut failure: Option<anyhow::Error> = None;
    let mut compact = String::new();
    visit(&args.paths, &mut |v| {
        match v {
            Visit::Source { path, .. } => source_name = path.display().to_string(),
            Visit::Event { event, .. } => {
                if let Err(e) = importer.add(&new_event(event, &source_name, &mut compact)) {
                    failure = Some(e.into());
                    return ControlFlow::Break(());
                }
            }
            Visit::Problem { place, why } => {
                bad += 1;
                if problems.len() < SHOWN_PROBLEMS {
                    problems.push(format!("{}: {why}", place_label(&source_name, place)));
                }
            }
        }
        ControlFlow::Continue(())
    })?;
    if let Some(e) = failure {
        // Dropping the importer rolls the whole import back.
        return Err(e.context("the import was rolled back; the store is as it was"));
    }
    let summary = importer.finish()?;
    println!(
        "imported {} events into {} ({} duplicates skipped, {} bad lines or events skipped)",
        summary.inserted,
        path.display(),
        summary.duplicates,
        bad
    );
    for p in &problems {
        println!("  {p}");
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

fn place_label(source: &str, place: Place) -> String {
    match place {
        Place::Line { line: 0, .. } => source.to_string(),
        Place::Line { line, .. } => format!("{source}:{line}"),
        Place::Row { rowid, .. } => format!("{source} row {rowid}"),
    }
}

/// The store row for one event. Events spread over several lines (from a pretty-printed
/// document) are stored compacted, one line each.
fn new_event<'a>(
    event: &'a WireEvent<'a>,
    source: &'a str,
    compact: &'a mut String,
) -> NewEvent<'a> {
    let raw: &str = if event.raw.contains('\n') {
        *compact = serde_json::from_str::<serde_json::Value>(event.raw)
            .map(|v| v.to_string())
            .unwrap_or_else(|_| event.raw.replace('\n', " "));
        compact.as_str()
    } else {
        event.raw
    };
    let times = event.times;
    NewEvent {
        message_id: event.message_id.as_deref(),
        kind: match event.kind {
            EventKind::Group => "group",
            EventKind::Identify => "identify",
            EventKind::Other => "other",
        },
        user_id: event.user_id.as_deref(),
        anonymous_id: event.anonymous_id.as_deref(),
        group_id: event.group_id.as_deref(),
        event_ms: times.event_time().map(|t| t.utc_ms),
        received_ms: times.received_at.map(|t| t.utc_ms),
        origin: store::Origin::Imported,
        source,
        raw,
    }
}
