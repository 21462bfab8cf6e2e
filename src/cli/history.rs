//! `groupscope history`: a group's current traits, members and trait changes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Map, Value, json};

use super::{Common, EXIT_USAGE, json_safe, load_model, origin_label, safe};
use crate::model::{GroupId, Model, TraitChange, TraitEntry, display_value};

/// Arguments of `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Inputs (files, directories, stores, `-` for stdin).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The group's `groupId`.
    #[arg(long, value_name = "ID")]
    pub group: String,
    /// Only this trait (dotted for nested ones: `address.city`).
    #[arg(long = "trait", value_name = "KEY")]
    pub trait_key: Option<String>,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Runs `history`.
pub fn run(args: &HistoryArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let model = load_model(&args.paths, common)?;
    let Some(group) = model.find_group(&args.group) else {
        eprintln!(
            "groupscope: no group with groupId {:?} in the input ({} groups)",
            args.group,
            model.groups().len()
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    };
    let entries: Vec<&TraitEntry> = model
        .group(group)
        .traits
        .iter()
        .filter(|t| {
            args.trait_key
                .as_deref()
                .is_none_or(|k| model.str(t.key) == k)
        })
        .collect();
    if let (Some(k), true) = (&args.trait_key, entries.is_empty()) {
        eprintln!("groupscope: group {:?} has no trait {k:?}", args.group);
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if args.json {
        println!(
            "{}",
            json_safe(serde_json::to_string_pretty(&history_json(
                &model, group, &entries
            ))?)
        );
    } else {
        print!("{}", history_text(&model, group, &entries));
    }
    Ok(ExitCode::SUCCESS)
}

fn change_json(model: &Model, change: &TraitChange) -> Value {
    let call = model.call(crate::model::CallId(change.call));
    json!({
        "time": call.time.to_rfc3339(),
        "old": change.old.map(|o| json_value(model.str(o))),
        "new": json_value(model.str(change.new)),
        "user": model.user_label(call.user),
        "source": origin_label(model, call.origin),
    })
}

fn json_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The history as JSON.
pub fn history_json(model: &Model, group: GroupId, entries: &[&TraitEntry]) -> Value {
    let g = model.group(group);
    let current: Map<String, Value> = g
        .traits
        .iter()
        .map(|t| (model.str(t.key).to_string(), json_value(model.str(t.value))))
        .collect();
    let history: Map<String, Value> = entries
        .iter()
        .map(|t| {
            let list: Vec<Value> = model
                .entry_changes(t)
                .iter()
                .map(|c| change_json(model, c))
                .collect();
            (model.str(t.key).to_string(), Value::Array(list))
        })
        .collect();
    json!({
        "group": model.str(g.id),
        "name": model.group_name(group),
        "calls": g.calls.len(),
        "current_traits": current,
        "members": model.members(group).iter().map(|m| json!({
            "user": model.user_label(m.user),
            "user_id": model.user(m.user).user_id.map(|s| model.str(s)),
            "anonymous_ids": model.user(m.user).anonymous_ids.iter().map(|&a| model.str(a)).collect::<Vec<_>>(),
            "first_seen": m.first_seen.to_rfc3339(),
            "last_seen": m.last_seen.to_rfc3339(),
            "calls": m.calls,
        })).collect::<Vec<_>>(),
        "history": history,
    })
}

/// The history as text. Every id, key and value comes from event data and is printed through
/// [`safe`], so an escape sequence in it is shown, not run by the terminal.
pub fn history_text(model: &Model, group: GroupId, entries: &[&TraitEntry]) -> String {
    use std::fmt::Write;
    let g = model.group(group);
    let mut out = String::new();
    let name = model.group_name(group).unwrap_or_default();
    let _ = writeln!(
        out,
        "group {} \"{}\": {} calls, {} members",
        safe(model.str(g.id)),
        safe(&name),
        g.calls.len(),
        g.members.len()
    );
    let keys: Vec<String> = g
        .traits
        .iter()
        .map(|t| safe(model.str(t.key)).into_owned())
        .collect();
    let width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let _ = writeln!(out, "\ncurrent traits");
    for (t, key) in g.traits.iter().zip(&keys) {
        let _ = writeln!(
            out,
            "  {key:width$}  {}",
            safe(&display_value(model.str(t.value)))
        );
    }
    let _ = writeln!(out, "\nmembers");
    for m in model.members(group) {
        let _ = writeln!(
            out,
            "  {}  first {}  last {}  {} calls",
            safe(model.user_label(m.user)),
            m.first_seen.to_short(),
            m.last_seen.to_short(),
            m.calls
        );
    }
    for t in entries {
        let _ = writeln!(out, "\nhistory of {}", safe(model.str(t.key)));
        for c in model.entry_changes(t) {
            let call = model.call(crate::model::CallId(c.call));
            let old = c
                .old
                .map(|o| display_value(model.str(o)).into_owned())
                .unwrap_or_else(|| "(unset)".into());
            let _ = writeln!(
                out,
                "  {}  {} → {}  by {}  ({})",
                call.time.to_short(),
                safe(&old),
                safe(&display_value(model.str(c.new))),
                safe(model.user_label(call.user)),
                safe(&origin_label(model, call.origin))
            );
        }
    }
    out
}
