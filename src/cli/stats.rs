//! `groupscope stats`: counts of what the inputs hold.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use super::{Common, EXIT_BAD_INPUT, json_safe, load_model, safe};
use crate::model::{Model, problem_label};

/// Arguments of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Inputs (files, directories, stores, `-` for stdin).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print one JSON object for scripts.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 1 when any line or event was bad.
    #[arg(long)]
    pub strict: bool,
}

/// How many problems the text report lists.
const SHOWN_PROBLEMS: usize = 10;

/// Runs `stats`.
pub fn run(args: &StatsArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let model = load_model(&args.paths, common)?;
    if args.json {
        println!(
            "{}",
            json_safe(serde_json::to_string_pretty(&stats_json(&model))?)
        );
    } else {
        print!("{}", stats_text(&model));
    }
    let bad = model.counts().bad_lines > 0;
    // The process ends next: freeing a big model piece by piece would only cost time.
    std::mem::forget(model);
    Ok(if args.strict && bad {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}

/// The stats as one JSON object with plain top-level names.
pub fn stats_json(model: &Model) -> serde_json::Value {
    let c = model.counts();
    json!({
        "sources": model.sources().iter().map(|s| json!({
            "path": s.path.display().to_string(),
            "kind": s.kind.label(),
        })).collect::<Vec<_>>(),
        "lines": c.lines,
        "events": c.events,
        "group_calls": c.group,
        "identify_calls": c.identify,
        "other_events": c.other,
        "duplicates": c.duplicates,
        "users": model.users().len(),
        "groups": model.groups().len(),
        "memberships": model.memberships().len(),
        "bad_lines": c.bad_lines,
        "problems": c.problems,
        "first_problems": model.problems().iter().take(100).map(|p| json!({
            "at": problem_label(model.sources(), p),
            "why": p.error.to_string(),
        })).collect::<Vec<_>>(),
        "time_range": model.time_range().map(|(a, b)| json!({
            "first": a.to_rfc3339(),
            "last": b.to_rfc3339(),
        })),
    })
}

/// The stats as a short text report.
pub fn stats_text(model: &Model) -> String {
    use std::fmt::Write;
    let c = model.counts();
    let mut out = String::new();
    let sources: Vec<String> = model
        .sources()
        .iter()
        .map(|s| {
            format!(
                "{} ({})",
                safe(&s.path.display().to_string()),
                s.kind.label()
            )
        })
        .collect();
    let _ = writeln!(out, "sources      {}", sources.join(", "));
    let _ = writeln!(out, "lines        {}", c.lines);
    let _ = writeln!(
        out,
        "events       {} (group {}, identify {}, other {})",
        c.events, c.group, c.identify, c.other
    );
    if c.duplicates > 0 {
        let _ = writeln!(
            out,
            "duplicates   {} (same messageId, counted once)",
            c.duplicates
        );
    }
    let _ = writeln!(out, "users        {}", model.users().len());
    let _ = writeln!(out, "groups       {}", model.groups().len());
    let _ = writeln!(out, "memberships  {}", model.memberships().len());
    if let Some((a, b)) = model.time_range() {
        let _ = writeln!(out, "time range   {} … {}", a.to_rfc3339(), b.to_rfc3339());
    }
    let _ = writeln!(out, "bad lines    {}", c.bad_lines);
    if std::env::var_os("GROUPSCOPE_DEBUG").is_some() {
        let _ = writeln!(
            out,
            "model        {} snapshots, {} strings-ish, ~{} MB heap",
            model.snapshot_count(),
            model.calls().len(),
            model.heap_bytes() >> 20
        );
    }
    for p in model.problems().iter().take(SHOWN_PROBLEMS) {
        let line = format!("{}: {}", problem_label(model.sources(), p), p.error);
        let _ = writeln!(out, "  {}", safe(&line));
    }
    if c.problems as usize > SHOWN_PROBLEMS {
        let _ = writeln!(
            out,
            "  … and {} more (use --json for the first 100)",
            c.problems as usize - SHOWN_PROBLEMS
        );
    }
    out
}
