//! How a warehouse table's columns become an event's JSON: a [`Plan`] is laid out once per
//! table from its column names, then writes every row into one reused buffer (no `Value` tree
//! per row). The mapping rules are described on the parent module.

use rusqlite::Row;
use rusqlite::types::ValueRef;

/// How one table's columns become an event: built once per table, used for every row.
#[derive(Debug)]
pub(super) struct Plan {
    event_type: &'static str,
    /// Column index (0-based, before the leading rowid) of `rudder_event`.
    rudder_event: Option<usize>,
    root: Obj,
}

/// A JSON object whose members come from columns.
#[derive(Debug, Default)]
struct Obj {
    /// Written even with no member (a group call's `traits`).
    always: bool,
    fields: Vec<Field>,
}

#[derive(Debug)]
struct Field {
    key: String,
    /// `"key":`, escaped once.
    prefix: String,
    node: Node,
}

#[derive(Debug)]
enum Node {
    Leaf { col: usize, boolean: bool },
    Obj(Obj),
}

/// The envelope columns, in the order their fields are written.
const ENVELOPE: [(&str, &str); 9] = [
    ("id", "messageId"),
    ("user_id", "userId"),
    ("anonymous_id", "anonymousId"),
    ("group_id", "groupId"),
    ("channel", "channel"),
    ("sent_at", "sentAt"),
    ("original_timestamp", "originalTimestamp"),
    ("timestamp", "timestamp"),
    ("received_at", "receivedAt"),
];

impl Plan {
    /// Reads the table's columns and lays out its events.
    pub(super) fn build(
        conn: &rusqlite::Connection,
        table: &str,
        event_type: &'static str,
    ) -> rusqlite::Result<Plan> {
        let mut stmt = conn.prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns: Vec<(String, String)> = stmt
            .query_map([table], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?)))?
            .map(|c| c.map(|(name, ty)| (name, ty.unwrap_or_default())))
            .collect::<rusqlite::Result<_>>()?;
        Ok(Plan::from_columns(&columns, event_type))
    }

    /// Lays out the event for these `(name, declared type)` columns.
    fn from_columns(columns: &[(String, String)], event_type: &'static str) -> Plan {
        let user_traits = event_type == "identify";
        let mut envelope: [Option<usize>; ENVELOPE.len()] = [None; ENVELOPE.len()];
        let mut context = Obj::default();
        let mut traits = Obj {
            always: event_type == "group",
            fields: Vec::new(),
        };
        let mut rudder_event = None;
        for (col, (name, decl)) in columns.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            let leaf = || Node::Leaf {
                col,
                boolean: decl.eq_ignore_ascii_case("boolean") || decl.eq_ignore_ascii_case("bool"),
            };
            let slot = ENVELOPE
                .iter()
                .position(|(column, _)| *column == lower)
                .filter(|_| lower != "group_id" || event_type == "group");
            if let Some(i) = slot {
                envelope[i] = Some(col);
            } else if lower == "rudder_event" {
                rudder_event = Some(col);
            } else if lower == "uuid_ts" || lower == "loaded_at" {
                // Load-time metadata, not part of the call.
            } else if let Some(rest) = lower.strip_prefix("context_").filter(|r| !r.is_empty()) {
                let path = match rest {
                    "library_name" => vec!["library".to_owned(), "name".to_owned()],
                    "library_version" => vec!["library".to_owned(), "version".to_owned()],
                    _ => match rest.strip_prefix("traits_").filter(|r| !r.is_empty()) {
                        Some(t) => std::iter::once("traits".to_owned())
                            .chain(trait_path(t, true))
                            .collect(),
                        None => vec![rest.to_owned()],
                    },
                };
                insert(&mut context, &path, rest, leaf());
            } else {
                insert(
                    &mut traits,
                    &trait_path(&lower, user_traits),
                    &lower,
                    leaf(),
                );
            }
        }
        let mut root = Obj::default();
        for (i, (_, field)) in ENVELOPE.iter().enumerate() {
            if let Some(col) = envelope[i] {
                // Envelope values keep their type, never read as booleans.
                root.fields.push(Field::new(
                    field,
                    Node::Leaf {
                        col,
                        boolean: false,
                    },
                ));
            }
        }
        root.fields.push(Field::new("context", Node::Obj(context)));
        root.fields.push(Field::new("traits", Node::Obj(traits)));
        Plan {
            event_type,
            rudder_event,
            root,
        }
    }

    /// Writes the row's event into `out` (cleared first). True when it is the row's own
    /// `rudder_event` text rather than a rebuild. `row` is `SELECT rowid, *`.
    pub(super) fn render(&self, row: &Row<'_>, out: &mut String) -> rusqlite::Result<bool> {
        out.clear();
        if let Some(col) = self.rudder_event
            && let ValueRef::Text(text) = row.get_ref(col + 1)?
        {
            let text = utf8(text);
            let text = text.trim();
            if !text.is_empty() {
                out.push_str(text);
                return Ok(true);
            }
        }
        out.push_str("{\"type\":");
        push_json_str(out, self.event_type);
        write_fields(&self.root.fields, row, out, true)?;
        out.push('}');
        Ok(false)
    }
}

impl Field {
    fn new(key: &str, node: Node) -> Field {
        let mut prefix = String::with_capacity(key.len() + 3);
        push_json_str(&mut prefix, key);
        prefix.push(':');
        Field {
            key: key.to_owned(),
            prefix,
            node,
        }
    }
}

/// Where a snake_case trait column goes under `traits` (or `context.traits`): reserved traits get
/// their spec spelling back, everything else stays as it is.
fn trait_path(name: &str, user_traits: bool) -> Vec<String> {
    let address = name.strip_prefix("address_").and_then(|part| match part {
        "street" | "city" | "state" | "country" => Some(part),
        "postal_code" => Some("postalCode"),
        _ => None,
    });
    if let Some(part) = address {
        return vec!["address".to_owned(), part.to_owned()];
    }
    let key = match name {
        "created_at" => "createdAt",
        "first_name" if user_traits => "firstName",
        "last_name" if user_traits => "lastName",
        other => other,
    };
    vec![key.to_owned()]
}

/// Adds a column at `path`; if that clashes with another column (`address` next to
/// `address_city`), it goes in flat under its own `fallback` name; if even that clashes, the
/// column is left out.
fn insert(obj: &mut Obj, path: &[String], fallback: &str, leaf: Node) {
    if let Err(leaf) = try_insert(obj, path, leaf) {
        let _ = try_insert(obj, &[fallback.to_owned()], leaf);
    }
}

fn try_insert(obj: &mut Obj, path: &[String], leaf: Node) -> Result<(), Node> {
    let Some((first, rest)) = path.split_first() else {
        return Err(leaf);
    };
    let existing = obj.fields.iter().position(|f| f.key == *first);
    if rest.is_empty() {
        if existing.is_some() {
            return Err(leaf);
        }
        obj.fields.push(Field::new(first, leaf));
        return Ok(());
    }
    let index = existing.unwrap_or_else(|| {
        obj.fields
            .push(Field::new(first, Node::Obj(Obj::default())));
        obj.fields.len() - 1
    });
    match &mut obj.fields[index].node {
        Node::Obj(child) => try_insert(child, rest, leaf),
        Node::Leaf { .. } => Err(leaf),
    }
}

/// Writes the members with a value, each preceded by a comma when `any` (something already
/// written in this object). Returns whether anything is written now.
fn write_fields(
    fields: &[Field],
    row: &Row<'_>,
    out: &mut String,
    mut any: bool,
) -> rusqlite::Result<bool> {
    for field in fields {
        let mark = out.len();
        if any {
            out.push(',');
        }
        out.push_str(&field.prefix);
        let wrote = match &field.node {
            Node::Leaf { col, boolean } => push_value(out, row.get_ref(col + 1)?, *boolean),
            Node::Obj(obj) => write_obj(obj, row, out)?,
        };
        if wrote {
            any = true;
        } else {
            out.truncate(mark);
        }
    }
    Ok(any)
}

/// Writes `{…}`, or nothing when no member has a value (unless the object is `always` shown).
fn write_obj(obj: &Obj, row: &Row<'_>, out: &mut String) -> rusqlite::Result<bool> {
    let start = out.len();
    out.push('{');
    if write_fields(&obj.fields, row, out, false)? || obj.always {
        out.push('}');
        Ok(true)
    } else {
        out.truncate(start);
        Ok(false)
    }
}

/// Writes one SQLite value as JSON; false (nothing written) for NULL and non-finite reals.
fn push_value(out: &mut String, value: ValueRef<'_>, boolean: bool) -> bool {
    use std::fmt::Write;
    match value {
        ValueRef::Null => return false,
        ValueRef::Integer(i) if boolean => out.push_str(if i != 0 { "true" } else { "false" }),
        ValueRef::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        // Debug keeps a `.0` on whole numbers (so a float stays a float) and is valid JSON
        // for every finite value (`1e300`, `1e-7`).
        ValueRef::Real(r) if r.is_finite() => {
            let _ = write!(out, "{r:?}");
        }
        ValueRef::Real(_) => return false,
        ValueRef::Text(text) => push_json_str(out, &utf8(text)),
        ValueRef::Blob(bytes) => {
            use base64::Engine;
            push_json_str(
                out,
                &base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
    }
    true
}

/// SQLite text as `&str`: borrowed when valid UTF-8 (the `from_utf8` fast path), else repaired.
fn utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    // Most values need no escape: a branch-free scan (vectorised) lets them be copied whole.
    let clean = !text.bytes().fold(false, |dirty, b| {
        dirty | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if clean {
        out.push_str(text);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            use std::fmt::Write;
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}
