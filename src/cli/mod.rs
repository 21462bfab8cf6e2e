//! The command line: argument parsing and the headless commands.

pub mod explore;
mod history;
pub mod import;
pub mod send;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::model::Model;
use crate::source::{self, LoadOptions};

/// Exit code: it ran, but some input was bad and `--strict` was asked for.
pub const EXIT_BAD_INPUT: u8 = 1;
/// Exit code: usage error or unreadable input.
pub const EXIT_USAGE: u8 = 2;

/// Explore and compose RudderStack group calls.
#[derive(Debug, Parser)]
#[command(name = "groupscope", version, about, long_about = None)]
pub struct Cli {
    /// What to do; with none, open the explorer on PATHS.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Inputs to open: JSONL (plain or gzip), JSON arrays, SDK batch bodies, directories,
    /// groupscope stores or warehouse SQLite databases; `-` reads stdin.
    pub paths: Vec<PathBuf>,
    /// Options shared by every command.
    #[command(flatten)]
    pub common: Common,
    /// Explorer: don't capture the mouse, so the terminal's own text selection works
    /// (overrides `mouse` in the config).
    #[arg(long)]
    pub no_mouse: bool,
    /// Explorer: colour theme, overriding the config (`NO_COLOR` still wins).
    #[arg(long, value_name = "THEME", value_parser = ["dark", "light"])]
    pub theme: Option<String>,
    /// Explorer: where composed calls are sent.
    #[command(flatten)]
    pub plane: send::PlaneArgs,
}

/// Options shared by every command.
#[derive(Debug, Args, Clone)]
pub struct Common {
    /// The groupscope store [env: GROUPSCOPE_STORE] [default: the platform data directory].
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Parser threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count what the inputs hold: events by type, users, groups, memberships, bad lines.
    Stats(stats::StatsArgs),
    /// Show a group's current traits, members and the change history of its traits.
    History(history::HistoryArgs),
    /// Add events to the store (one transaction: all of an import or none of it).
    Import(import::ImportArgs),
    /// Compose one group call and send it to a data plane (or print it with --dry-run).
    Send(send::SendArgs),
    /// List, retry or drop calls waiting in the outbox.
    Outbox(send::OutboxArgs),
}

/// Parses the arguments, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    let result = match cli.command {
        Some(Command::Stats(args)) => stats::run(&args, &cli.common),
        Some(Command::History(args)) => history::run(&args, &cli.common),
        Some(Command::Import(args)) => import::run(&args, &cli.common),
        Some(Command::Send(args)) => send::run_send(&args, &cli.common),
        Some(Command::Outbox(args)) => send::run_outbox(&args, &cli.common),
        None => explore::run_explorer(
            cli.paths,
            &cli.common,
            &explore::ExploreArgs {
                no_mouse: cli.no_mouse,
                theme: cli.theme.as_deref(),
                plane: &cli.plane,
            },
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("groupscope: {}", describe(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Loads the inputs, with a progress line on stderr when it is a terminal and the load is slow.
pub fn load_model(paths: &[PathBuf], common: &Common) -> anyhow::Result<Model> {
    if paths.is_empty() {
        anyhow::bail!("no input given: name a JSONL file, a directory, a store or `-` for stdin");
    }
    let mut options = LoadOptions::default();
    if let Some(t) = common.threads {
        options.threads = t.max(1);
    }
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let started = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    let mut shown = false;
    let model = source::load(paths, &options, &mut |p| {
        if show && started.elapsed().as_millis() > 300 && last.elapsed().as_millis() > 100 {
            last = std::time::Instant::now();
            shown = true;
            let pct = p
                .bytes_total
                .filter(|&t| t > 0)
                .map(|t| format!(" {:>3}%", p.bytes_done * 100 / t))
                .unwrap_or_default();
            eprint!(
                "\r\x1b[2Kloading {}{} · {} events · {} problems",
                p.path.display(),
                pct,
                p.events,
                p.problems
            );
        }
    });
    if shown {
        eprint!("\r\x1b[2K");
    }
    Ok(model?)
}

/// Text from event data or a server, made safe to print to a terminal: control characters,
/// escape sequences and bidi overrides are shown escaped (see [`crate::ui::sanitize`]).
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    crate::ui::sanitize::display_safe(text)
}

/// JSON text for a terminal: every character a terminal could act on (C1 controls, DEL, bidi
/// overrides, which JSON allows raw inside strings) becomes a `\u` escape. The JSON value is
/// unchanged; the newlines of pretty-printing are kept.
pub fn json_safe(json: String) -> String {
    use crate::ui::sanitize::is_unsafe_char;
    if !json.chars().any(|c| c != '\n' && is_unsafe_char(c)) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if c != '\n' && is_unsafe_char(c) {
            // Every unsafe character is in the Basic Multilingual Plane: one escape each.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// Where an event came from, for people: `file:line`, or the table and row id.
pub fn origin_label(model: &Model, origin: crate::model::Origin) -> String {
    crate::model::origin_label(model.sources(), origin)
}

/// One sentence for an error and its causes, skipping causes its message already includes
/// (typed errors often print their source themselves).
pub fn describe(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_for_a_terminal_keeps_its_value() {
        let value =
            serde_json::json!({"k\u{202e}": "a\u{1b}]0;x\u{7}b\u{9b}31m\u{7f}", "n": [1, 2]});
        let text = json_safe(serde_json::to_string_pretty(&value).unwrap());
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::ui::sanitize::is_unsafe_char(c))
        );
        assert!(text.contains("\\u202e") && text.contains("\\u009b") && text.contains("\\u007f"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            value
        );
        assert_eq!(json_safe("{\n  \"a\": 1\n}".into()), "{\n  \"a\": 1\n}");
        assert_eq!(safe("g\u{1b}[31m"), "g\\u{1b}[31m");
    }
}
