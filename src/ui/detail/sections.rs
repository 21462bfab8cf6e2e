//! The sections of the detail pane: a group's traits, members and calls; a trait's history; a
//! user's groups and identify traits; a call's origin and raw JSON.

use crate::model::{CallId, GroupId, Model, UserId, origin_label};
use crate::ui::tree::label::{mark_label, plural, short_origin};

use super::{LIST_CAP, Raw, json};
use crate::ui::text::{Piece, TextLine, Tone, columns, data, fit, safe, ui};
use crate::ui::tree::label::{
    RESERVED_GROUP_TRAITS, group_title, is_reserved, user_title, value_text,
};

/// Widest key column in trait tables.
const KEY_WIDTH: usize = 28;
/// Widest `old → new` column in history tables before the user and call columns.
const CHANGE_WIDTH: usize = 44;

fn heading(text: impl Into<String>) -> TextLine {
    vec![ui(text, Tone::Heading)]
}

fn dim(text: impl Into<String>) -> Piece {
    ui(text, Tone::Dim)
}

fn more(shown: usize, total: usize, what: &str) -> Option<TextLine> {
    (total > shown).then(|| {
        vec![dim(format!(
            "  … {} more {what} (open them in the tree)",
            total - shown
        ))]
    })
}

/// A group: header, reserved traits (with address parts), custom traits, members, calls.
pub fn group_lines(model: &Model, g: GroupId) -> Vec<TextLine> {
    let group = model.group(g);
    let mut out = vec![group_title(model, g)];
    let last = group
        .last_change
        .map(|t| format!(" · last change {}", t.to_short()))
        .unwrap_or_default();
    out.push(vec![dim(format!(
        "{} · {}{last}",
        plural(group.members.len(), "member", "members"),
        plural(group.calls.len(), "call", "calls")
    ))]);

    let keys: Vec<(&str, &str)> = group
        .traits
        .iter()
        .map(|t| (model.str(t.key), model.str(t.value)))
        .collect();
    let width = keys
        .iter()
        .map(|(k, _)| columns(k) + 2)
        .max()
        .unwrap_or(0)
        .min(KEY_WIDTH);
    let row = |key: &str, shown: &str, value: &str, tone: Tone| -> TextLine {
        let _ = key;
        vec![
            ui("  ", Tone::Plain),
            Piece {
                text: fit(&safe(shown), width),
                tone,
            },
            ui(" ", Tone::Plain),
            Piece {
                text: value_text(value),
                tone: Tone::Plain,
            },
        ]
    };
    out.push(vec![]);
    out.push(vec![
        ui("Reserved traits", Tone::Heading),
        dim("  (named by the RudderStack spec)"),
    ]);
    let mut any = false;
    for name in RESERVED_GROUP_TRAITS {
        if name == "address" {
            let parts: Vec<&(&str, &str)> = keys
                .iter()
                .filter(|(k, _)| k.starts_with("address."))
                .collect();
            if !parts.is_empty() || keys.iter().any(|(k, _)| *k == "address") {
                any = true;
                out.push(vec![ui("  ", Tone::Plain), ui("address", Tone::Reserved)]);
            }
            if let Some((_, v)) = keys.iter().find(|(k, _)| *k == "address") {
                out.push(row("address", "  (value)", v, Tone::Reserved));
            }
            for (k, v) in parts {
                let part = format!("  {}", &k["address.".len()..]);
                out.push(row(k, &part, v, Tone::Reserved));
            }
        } else if let Some((k, v)) = keys.iter().find(|(k, _)| *k == name) {
            any = true;
            out.push(row(k, k, v, Tone::Reserved));
        }
    }
    if !any {
        out.push(vec![dim("  none")]);
    }
    out.push(vec![]);
    out.push(heading("Custom traits"));
    let custom: Vec<_> = keys.iter().filter(|(k, _)| !is_reserved(k)).collect();
    if custom.is_empty() {
        out.push(vec![dim("  none")]);
    }
    for (k, v) in custom {
        out.push(row(k, k, v, Tone::Custom));
    }

    let members = model.members(g);
    out.push(vec![]);
    out.push(heading(format!("Members ({})", members.len())));
    for ms in members.iter().take(LIST_CAP) {
        let mut line = vec![ui("  ", Tone::Plain)];
        line.extend(user_title(model, ms.user));
        line.push(dim(format!(
            "  · {} → {} · {}",
            ms.first_seen.to_short(),
            ms.last_seen.to_short(),
            plural(ms.calls as usize, "call", "calls")
        )));
        out.push(line);
    }
    out.extend(more(members.len().min(LIST_CAP), members.len(), "members"));

    let calls = model.group_calls(g);
    let total = calls.len();
    out.push(vec![]);
    out.push(heading(format!("Timeline ({total} calls, newest first)")));
    for (_, call) in calls.rev().take(LIST_CAP) {
        out.push(vec![
            ui("  ", Tone::Plain),
            dim(call.time.to_short()),
            ui("  ", Tone::Plain),
            data(model.user_label(call.user), Tone::Plain),
            dim(format!(
                "  · {} · {}",
                plural(model.snapshot(call.snapshot).len(), "trait", "traits"),
                short_origin(model, call.origin)
            )),
        ]);
    }
    out.extend(more(total.min(LIST_CAP), total, "calls"));
    out
}

/// Splits `old` and `new` into the common start, the changed middle and the common end, so
/// only what changed is highlighted.
pub fn diff_pieces(old: &str, new: &str) -> (Vec<Piece>, Vec<Piece>) {
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let side = |s: &[char], tone: Tone| -> Vec<Piece> {
        let parts = [
            (&s[..prefix], Tone::Plain),
            (&s[prefix..s.len() - suffix], tone),
            (&s[s.len() - suffix..], Tone::Plain),
        ];
        parts
            .into_iter()
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, t)| Piece {
                text: p.iter().collect(),
                tone: t,
            })
            .collect()
    };
    (side(&a, Tone::Old), side(&b, Tone::New))
}

/// A trait of a group: its current value and every change (`mark` points at one of them).
pub fn trait_lines(model: &Model, g: GroupId, e: u32, mark: Option<u32>) -> Vec<TextLine> {
    let Some(entry) = model.group(g).traits.get(e as usize) else {
        return vec![vec![dim("no such trait")]];
    };
    let key = model.str(entry.key);
    let changes = model.entry_changes(entry);
    let kind = if is_reserved(key) {
        "reserved trait"
    } else {
        "custom trait"
    };
    let mut out = vec![
        vec![
            data(
                key,
                if is_reserved(key) {
                    Tone::Reserved
                } else {
                    Tone::Custom
                },
            ),
            dim(format!("  ({kind}) of ")),
        ],
        vec![
            dim("now "),
            ui(value_text(model.str(entry.value)), Tone::Plain),
        ],
    ];
    out[0].extend(group_title(model, g));
    out.push(vec![]);
    out.push(heading(format!(
        "History ({}, oldest first)",
        plural(changes.len(), "change", "changes")
    )));
    let rows: Vec<(String, String, &crate::model::GroupCall, usize)> = changes
        .iter()
        .enumerate()
        .skip(changes.len().saturating_sub(LIST_CAP))
        .map(|(i, c)| {
            let old = c
                .old
                .map(|o| value_text(model.str(o)))
                .unwrap_or_else(|| "(unset)".into());
            (
                old,
                value_text(model.str(c.new)),
                model.call(CallId(c.call)),
                i,
            )
        })
        .collect();
    if changes.len() > LIST_CAP {
        out.push(vec![dim(format!(
            "  … {} earlier changes (open the trait in the tree)",
            changes.len() - LIST_CAP
        ))]);
    }
    let width = rows
        .iter()
        .map(|(o, n, _, _)| columns(o) + columns(n) + 3)
        .max()
        .unwrap_or(0)
        .min(CHANGE_WIDTH);
    let user_width = rows
        .iter()
        .map(|(_, _, c, _)| columns(model.user_label(c.user)))
        .max()
        .unwrap_or(0)
        .min(24);
    out.push(vec![dim(format!(
        "  {}  {}  {}  call",
        fit("time", 19),
        fit("old → new", width),
        fit("by", user_width)
    ))]);
    for (old, new, call, i) in rows {
        let marked = mark == Some(i as u32);
        // A composed call shows its mark up front too, where a narrow pane cannot cut it off.
        let lead = match (marked, call.mark) {
            (true, _) => "› ",
            (false, crate::model::CallMark::Sent) => "↑ ",
            (false, crate::model::CallMark::Local) => "⌂ ",
            (false, crate::model::CallMark::Loaded) => "  ",
        };
        let mut line = vec![
            ui(lead, Tone::Heading),
            dim(fit(&call.time.to_short(), 19)),
            ui("  ", Tone::Plain),
        ];
        let used = columns(&old) + columns(&new) + 3;
        if old == "(unset)" {
            line.push(dim(old));
            line.push(dim(" → "));
            line.push(Piece {
                text: new,
                tone: Tone::New,
            });
        } else {
            let (o, n) = diff_pieces(&old, &new);
            line.extend(o);
            line.push(dim(" → "));
            line.extend(n);
        }
        line.push(ui(" ".repeat(width.saturating_sub(used) + 2), Tone::Plain));
        line.push(Piece {
            text: fit(&safe(model.user_label(call.user)), user_width),
            tone: Tone::Plain,
        });
        line.push(dim(format!("  {}", short_origin(model, call.origin))));
        if let Some(mark) = mark_label(call.mark, false) {
            line.push(ui(format!("  {mark}"), Tone::Warning));
        }
        out.push(line);
    }
    out
}

/// A user: ids, groups, identify traits and their history.
pub fn user_lines(model: &Model, u: UserId) -> Vec<TextLine> {
    let user = model.user(u);
    let mut out = vec![user_title(model, u), vec![]];
    out.push(vec![
        dim("userId        "),
        match user.user_id {
            Some(s) => data(model.str(s), Tone::Plain),
            None => dim("(none: anonymous)"),
        },
    ]);
    let anon: Vec<String> = user
        .anonymous_ids
        .iter()
        .map(|&a| safe(model.str(a)).into_owned())
        .collect();
    out.push(vec![
        dim("anonymousIds  "),
        if anon.is_empty() {
            dim("none")
        } else {
            ui(anon.join(", "), Tone::Plain)
        },
    ]);

    out.push(vec![]);
    out.push(heading(format!("Groups ({})", user.memberships.len())));
    for ms in model.user_groups(u).take(LIST_CAP) {
        let mut line = vec![ui("  ", Tone::Plain)];
        line.extend(group_title(model, ms.group));
        line.push(dim(format!(
            "  · {} → {} · {}",
            ms.first_seen.to_short(),
            ms.last_seen.to_short(),
            plural(ms.calls as usize, "call", "calls")
        )));
        out.push(line);
    }
    let n = user.memberships.len();
    out.extend(more(n.min(LIST_CAP), n, "groups"));

    out.push(vec![]);
    out.push(heading(format!(
        "Identify traits ({}, from {} identify calls)",
        user.traits.len(),
        user.identifies.len()
    )));
    if user.traits.is_empty() {
        out.push(vec![dim("  none")]);
    }
    let width = user
        .traits
        .iter()
        .map(|t| columns(model.str(t.key)) + 2)
        .max()
        .unwrap_or(0)
        .min(KEY_WIDTH);
    for t in &user.traits {
        out.push(vec![
            ui("  ", Tone::Plain),
            Piece {
                text: fit(&safe(model.str(t.key)), width),
                tone: Tone::Custom,
            },
            ui(" ", Tone::Plain),
            ui(value_text(model.str(t.value)), Tone::Plain),
        ]);
    }
    if !user.traits.is_empty() {
        out.push(vec![]);
        out.push(heading("Identify trait history"));
    }
    for t in &user.traits {
        for c in model.user_entry_changes(t).iter().take(LIST_CAP) {
            let call = model.identify(crate::model::IdentifyId(c.call));
            let old = c
                .old
                .map(|o| value_text(model.str(o)))
                .unwrap_or_else(|| "(unset)".into());
            let mut line = vec![
                ui("  ", Tone::Plain),
                dim(call.time.to_short()),
                ui("  ", Tone::Plain),
                Piece {
                    text: fit(&safe(model.str(t.key)), width),
                    tone: Tone::Custom,
                },
                ui(" ", Tone::Plain),
            ];
            let (o, n) = diff_pieces(&old, &value_text(model.str(c.new)));
            line.extend(o);
            line.push(dim(" → "));
            line.extend(n);
            line.push(dim(format!("  {}", short_origin(model, call.origin))));
            out.push(line);
        }
    }
    out
}

/// A call: who, when, where from, and its raw JSON.
pub fn call_lines(model: &Model, id: CallId, raw: Option<&Raw>) -> Vec<TextLine> {
    let call = model.call(id);
    let mut out = vec![
        vec![
            ui("Call ", Tone::Heading),
            dim(format!("{} ", call.time.to_rfc3339())),
            dim("by "),
            data(model.user_label(call.user), Tone::Plain),
            dim(" to "),
        ],
        vec![
            dim("from "),
            data(&origin_label(model.sources(), call.origin), Tone::Plain),
        ],
        vec![],
    ];
    out[0].extend(group_title(model, call.group));
    if let Some(mark) = mark_label(call.mark, true) {
        out[1].push(ui(format!("  {mark}"), Tone::Warning));
    }
    match raw {
        Some(Raw::Loaded(text)) => out.extend(json::pretty(text)),
        Some(Raw::Failed(e)) => out.push(vec![
            ui("Cannot read the raw call: ", Tone::Error),
            data(e, Tone::Error),
        ]),
        Some(Raw::Loading) | None => out.push(vec![dim("reading the raw call…")]),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testdata::model;
    use crate::ui::text::plain;

    fn text(lines: &[TextLine]) -> Vec<String> {
        lines.iter().map(|l| plain(l)).collect()
    }

    #[test]
    fn diff_marks_only_the_changed_middle() {
        let (o, n) = diff_pieces("plan-pro-2023", "plan-team-2023");
        assert_eq!(plain(&o), "plan-pro-2023");
        assert_eq!(o[1], ui("pro", Tone::Old));
        assert_eq!(n[1], ui("team", Tone::New));
        assert_eq!(o[0].tone, Tone::Plain);
        let (o, n) = diff_pieces("12", "40");
        assert_eq!((o.len(), n.len()), (1, 1));
        assert_eq!(n[0].tone, Tone::New);
    }

    #[test]
    fn group_lists_reserved_first_with_address_parts() {
        let m = model();
        let acme = m.find_group("g-acme").unwrap();
        let t = text(&group_lines(&m, acme));
        let at = |s: &str| t.iter().position(|l| l.contains(s)).unwrap_or(usize::MAX);
        assert!(at("Reserved traits") < at("name ") && at("name ") < at("address"));
        assert!(at("address") < at("  city") && at("  city") < at("  country"));
        assert!(at("  country") < at("employees") && at("employees") < at("plan"));
        assert!(at("plan") < at("Custom traits") && at("Custom traits") < at("tier_note"));
        assert!(t[at("  city")].ends_with("Hamburg"), "{}", t[at("  city")]);
        assert!(at("Members (2)") < at("Timeline (3 calls"));
    }

    #[test]
    fn history_rows_show_time_change_user_and_call() {
        let m = model();
        let acme = m.find_group("g-acme").unwrap();
        let plan = m
            .group(acme)
            .traits
            .iter()
            .position(|e| m.str(e.key) == "plan")
            .unwrap() as u32;
        let t = text(&trait_lines(&m, acme, plan, Some(1)));
        assert_eq!(t[0], "plan  (reserved trait) of Acme Inc  g-acme");
        assert_eq!(t[1], "now enterprise");
        let rows: Vec<&String> = t.iter().filter(|l| l.contains("2024-")).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1].as_str(),
            "› 2024-02-01 12:30:00  free → pro        bob    events.jsonl:3"
        );
        assert!(rows[2].contains("pro → enterprise") && rows[2].ends_with("events.jsonl:5"));
    }

    #[test]
    fn user_shows_ids_groups_and_identify_history() {
        let m = model();
        let alice = m.find_user("alice").unwrap();
        let t = text(&user_lines(&m, alice));
        assert!(t.contains(&"anonymousIds  anon-a".to_string()), "{t:#?}");
        assert!(t.iter().any(|l| l.starts_with("  Acme Inc  g-acme")));
        assert!(
            t.iter()
                .any(|l| l.contains("email") && l.contains("(unset) → alice@acme.test"))
        );
    }
}
