//! What each kind of row says. Built only for the rows in the window.

use crate::model::{GroupId, Model, UserId, display_value};

use super::Node;
use crate::ui::text::{Piece, TextLine, Tone, data, safe, ui};

/// Trait names RudderStack reserves for groups (see the spec, §1.2). Nested `address.*` keys
/// count as reserved too.
pub const RESERVED_GROUP_TRAITS: [&str; 12] = [
    "id",
    "name",
    "email",
    "phone",
    "address",
    "industry",
    "createdAt",
    "description",
    "employees",
    "plan",
    "website",
    "avatar",
];

/// Whether a (dotted) group trait key is one RudderStack reserves.
pub fn is_reserved(key: &str) -> bool {
    let head = key.split('.').next().unwrap_or(key);
    RESERVED_GROUP_TRAITS.contains(&head) && (head == "address" || head == key)
}

/// Where a trait sorts: reserved traits in the spec's order (address parts together), then
/// custom traits by key.
pub fn trait_rank(key: &str) -> (usize, &str) {
    let head = key.split('.').next().unwrap_or(key);
    let rank = match RESERVED_GROUP_TRAITS.iter().position(|r| *r == head) {
        Some(i) if is_reserved(key) => i,
        _ => RESERVED_GROUP_TRAITS.len(),
    };
    (rank, key)
}

/// The indexes of a group's traits in display order (see [`trait_rank`]).
pub fn trait_order(model: &Model, g: GroupId) -> Vec<u32> {
    let traits = &model.group(g).traits;
    let mut order: Vec<u32> = (0..traits.len() as u32).collect();
    order.sort_by_key(|&i| trait_rank(model.str(traits[i as usize].key)));
    order
}

/// Where a call came from, short enough for a table column: the file name and line, or the
/// row of a database.
pub fn short_origin(model: &Model, origin: crate::model::Origin) -> String {
    let full = crate::model::origin_label(model.sources(), origin);
    let Some(src) = model.sources().get(origin.source as usize) else {
        return safe(&full).into_owned();
    };
    let name = src
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| src.path.display().to_string());
    let short = match src.kind {
        crate::model::SourceKind::Store | crate::model::SourceKind::Warehouse => full
            .rsplit_once(' ')
            .map_or(full.clone(), |(_, row)| format!("row {row}")),
        _ => format!("{name}:{}", origin.line),
    };
    safe(&short).into_owned()
}

/// How a call composed in groupscope is marked (`None` for a loaded call): the long form for a
/// call's own row and detail, the short one beside a trait change. A symbol and words, so the
/// mark reads without colour.
pub fn mark_label(mark: crate::model::CallMark, long: bool) -> Option<&'static str> {
    use crate::model::CallMark;
    match (mark, long) {
        (CallMark::Loaded, _) => None,
        (CallMark::Sent, true) => Some("↑ sent by groupscope"),
        (CallMark::Sent, false) => Some("↑ sent"),
        (CallMark::Local, true) => Some("⌂ local, never sent"),
        (CallMark::Local, false) => Some("⌂ local"),
    }
}

/// `n thing` or `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A group as `name  id`, or just the id when it has no name.
pub fn group_title(model: &Model, g: GroupId) -> TextLine {
    let id = model.str(model.group(g).id);
    match model.group_name(g) {
        Some(name) => vec![
            data(&name, Tone::Plain),
            ui("  ", Tone::Plain),
            data(id, Tone::Dim),
        ],
        None => vec![data(id, Tone::Plain)],
    }
}

/// A user as its id, with the anonymousId where it differs.
pub fn user_title(model: &Model, u: UserId) -> TextLine {
    let user = model.user(u);
    let mut out = vec![data(model.user_label(u), Tone::Plain)];
    match user.user_id {
        Some(_) => {
            if let Some(&a) = user.anonymous_ids.first() {
                out.push(ui("  ", Tone::Plain));
                out.push(data(model.str(a), Tone::Dim));
                if user.anonymous_ids.len() > 1 {
                    out.push(ui(format!(" +{}", user.anonymous_ids.len() - 1), Tone::Dim));
                }
            }
        }
        None => out.push(ui("  (anonymous)", Tone::Dim)),
    }
    out
}

/// A value as shown in one cell: strings without quotes, made safe.
pub fn value_text(json: &str) -> String {
    safe(&display_value(json)).into_owned()
}

/// The text of a row for `node`.
pub fn label(model: &Model, node: Node) -> TextLine {
    let dim = |s: String| ui(s, Tone::Dim);
    match node {
        Node::User(u) => {
            let mut out = user_title(model, u);
            let n = model.user(u).memberships.len();
            out.push(dim(format!("  · {}", plural(n, "group", "groups"))));
            out
        }
        Node::UserGroup(u, g) => {
            let mut out = group_title(model, g);
            if let Some(ms) = model.user_groups(u).find(|m| m.group == g) {
                out.push(dim(format!(
                    "  · {} → {}",
                    ms.first_seen.to_short(),
                    ms.last_seen.to_short()
                )));
            }
            out
        }
        Node::Group(g) => {
            let group = model.group(g);
            let mut out = group_title(model, g);
            out.push(dim(format!(
                "  · {} · {}",
                plural(group.members.len(), "member", "members"),
                plural(group.calls.len(), "call", "calls")
            )));
            out
        }
        Node::Members(g) => vec![
            ui("Members", Tone::Heading),
            dim(format!(" ({})", model.group(g).members.len())),
        ],
        Node::Traits(g) => vec![
            ui("Traits", Tone::Heading),
            dim(format!(" ({})", model.group(g).traits.len())),
        ],
        Node::Calls(g) => vec![
            ui("Calls", Tone::Heading),
            dim(format!(" ({}, newest first)", model.group(g).calls.len())),
        ],
        Node::Member(g, u) => {
            let mut out = user_title(model, u);
            if let Some(ms) = model.members(g).iter().find(|m| m.user == u) {
                out.push(dim(format!(
                    "  · {} · last {}",
                    plural(ms.calls as usize, "call", "calls"),
                    ms.last_seen.to_short()
                )));
            }
            out
        }
        Node::Trait(g, e) => {
            let Some(t) = model.group(g).traits.get(e as usize) else {
                return vec![];
            };
            let key = model.str(t.key);
            let tone = if is_reserved(key) {
                Tone::Reserved
            } else {
                Tone::Custom
            };
            vec![
                data(key, tone),
                ui(" = ", Tone::Dim),
                Piece {
                    text: value_text(model.str(t.value)),
                    tone: Tone::Plain,
                },
                dim(format!(
                    "  · {}",
                    plural(t.changes.len(), "change", "changes")
                )),
            ]
        }
        Node::Change(g, e, c) => {
            let Some(t) = model.group(g).traits.get(e as usize) else {
                return vec![];
            };
            let Some(change) = model.entry_changes(t).get(c as usize) else {
                return vec![];
            };
            let call = model.call(crate::model::CallId(change.call));
            let old = change
                .old
                .map(|o| value_text(model.str(o)))
                .unwrap_or_else(|| "(unset)".into());
            vec![
                dim(call.time.to_short()),
                ui("  ", Tone::Plain),
                Piece {
                    text: old,
                    tone: Tone::Old,
                },
                ui(" → ", Tone::Dim),
                Piece {
                    text: value_text(model.str(change.new)),
                    tone: Tone::New,
                },
                dim("  by ".into()),
                data(model.user_label(call.user), Tone::Plain),
            ]
            .into_iter()
            .chain(mark_label(call.mark, false).map(|m| ui(format!("  {m}"), Tone::Warning)))
            .collect()
        }
        Node::Call(id) => {
            let call = model.call(id);
            let mut out = vec![
                dim(call.time.to_short()),
                ui("  ", Tone::Plain),
                data(model.user_label(call.user), Tone::Plain),
                dim(format!(
                    "  · {}",
                    plural(model.snapshot(call.snapshot).len(), "trait", "traits")
                )),
            ];
            if let Some(mark) = mark_label(call.mark, true) {
                out.push(ui(format!("  {mark}"), Tone::Warning));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::testdata::model;
    use crate::ui::text::plain;

    #[test]
    fn reserved_keys() {
        assert!(is_reserved("plan"));
        assert!(is_reserved("address.city"));
        assert!(!is_reserved("plan.tier"));
        assert!(!is_reserved("tier_note"));
    }

    #[test]
    fn labels_read_well() {
        let m = model();
        let acme = m.find_group("g-acme").unwrap();
        let alice = m.find_user("alice").unwrap();
        let carol = m.find_user("anon-c").unwrap();
        assert_eq!(
            plain(&label(&m, Node::Group(acme))),
            "Acme Inc  g-acme  · 2 members · 3 calls"
        );
        assert_eq!(
            plain(&label(&m, Node::User(alice))),
            "alice  anon-a  · 1 group"
        );
        assert_eq!(
            plain(&label(&m, Node::User(carol))),
            "anon-c  (anonymous)  · 1 group"
        );
        let plan = m
            .group(acme)
            .traits
            .iter()
            .position(|e| m.str(e.key) == "plan")
            .unwrap() as u32;
        assert_eq!(
            plain(&label(&m, Node::Trait(acme, plan))),
            "plan = enterprise  · 3 changes"
        );
        assert_eq!(
            plain(&label(&m, Node::Change(acme, plan, 0))),
            "2024-01-02 09:00:00  (unset) → free  by alice"
        );
        assert_eq!(
            plain(&label(&m, Node::Change(acme, plan, 2))),
            "2024-03-05 16:45:00  pro → enterprise  by alice"
        );
    }
}
