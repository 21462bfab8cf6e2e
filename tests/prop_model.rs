//! Property tests of the model's trait folding and of the warehouse row mapper.
//!
//! - Arbitrary traits objects sent over a few calls to a few groups (and identify calls for a
//!   few users): the model's current traits, and the number of changes of each trait, equal a
//!   naive fold over the calls in event-time order (1,000 cases).
//! - Warehouse tables with arbitrary column names, declared types and values, written to
//!   SQLite in a tempdir: every row is rebuilt as a JSON object the parser accepts, plain
//!   columns come back as the traits they hold, and a single row reads back the same (200
//!   cases, each a new SQLite file).

use std::collections::BTreeMap;
use std::path::Path;

use groupscope::event::{EventError, parse_text};
use groupscope::model::Model;
use groupscope::source::warehouse::{read_warehouse, warehouse_row_json};
use groupscope::source::{LoadOptions, load};
use proptest::prelude::*;
use rusqlite::types::Value as Sql;
use serde_json::{Map, Value};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    }
}

/// Trait keys from a small set, so calls overwrite each other; sometimes dotted, sometimes odd.
fn trait_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["plan", "name", "seats", "address", "city", "tags", "x"])
            .prop_map(str::to_owned),
        1 => Just("a.b".to_owned()),
        1 => "[a-c]{1,2}",
        1 => ".{0,4}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-50i64..50).prop_map(Value::from),
        prop::sample::select(vec!["free", "pro", "team", "", "é", "a\"b"])
            .prop_map(|s| Value::String(s.into())),
        Just(Value::Array(vec![])),
        Just(serde_json::json!(["x", 1])),
        Just(Value::Object(Map::new())),
    ]
}

fn traits() -> impl Strategy<Value = Value> {
    leaf()
        .prop_recursive(3, 24, 4, |inner| {
            prop::collection::btree_map(trait_key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        })
        .prop_map(|v| match v {
            Value::Object(_) => v,
            other => serde_json::json!({ "v": other }),
        })
}

/// One call: group or identify, who, when (few distinct times, so ties happen), its traits.
#[derive(Debug, Clone)]
struct Call {
    group: Option<usize>,
    user: usize,
    day: Option<u32>,
    traits: Value,
    context_traits: Option<Value>,
}

fn call() -> impl Strategy<Value = Call> {
    (
        prop::option::weighted(0.8, 0usize..3),
        0usize..3,
        prop::option::weighted(0.9, 1u32..5),
        traits(),
        prop::option::of(traits()),
    )
        .prop_map(|(group, user, day, traits, context_traits)| Call {
            group,
            user,
            day,
            traits,
            context_traits,
        })
}

fn to_line(i: usize, c: &Call) -> String {
    let mut e = serde_json::json!({
        "messageId": format!("m{i}"),
        "userId": format!("u{}", c.user),
        "traits": c.traits,
    });
    match c.group {
        Some(g) => {
            e["type"] = "group".into();
            e["groupId"] = format!("g{g}").into();
        }
        None => {
            e["type"] = "identify".into();
            if let Some(ctx) = &c.context_traits {
                e["context"] = serde_json::json!({ "traits": ctx });
            }
        }
    }
    if let Some(d) = c.day {
        e["timestamp"] = format!("2024-01-0{d}T00:00:00.000Z").into();
    }
    e.to_string()
}

/// The flattening rule, written out plainly: non-empty objects nest as dotted keys (one dot per
/// level, even under an empty key), anything else is a value (as compact JSON).
fn naive_flatten(value: &Value, out: &mut Vec<(String, String)>) {
    fn walk(prefix: Option<&str>, value: &Value, out: &mut Vec<(String, String)>) {
        if let Value::Object(m) = value {
            for (k, v) in m {
                let key = match prefix {
                    None => k.clone(),
                    Some(p) => format!("{p}.{k}"),
                };
                match v {
                    Value::Object(inner) if !inner.is_empty() => walk(Some(&key), v, out),
                    leaf => out.push((key, leaf.to_string())),
                }
            }
        }
    }
    walk(None, value, out);
}

/// Current value and number of changes of every key, folding calls in time order (a stable
/// sort: equal times keep input order; a call with no time counts as the epoch).
type Folded = BTreeMap<String, (String, usize)>;

fn naive_fold<'a>(calls: impl Iterator<Item = (usize, &'a Call, Vec<(String, String)>)>) -> Folded {
    let mut ordered: Vec<_> = calls.collect();
    ordered.sort_by_key(|(_, c, _)| c.day.unwrap_or(0));
    let mut state: Folded = BTreeMap::new();
    for (_, _, pairs) in ordered {
        for (k, v) in pairs {
            match state.get_mut(&k) {
                Some((current, _)) if *current == v => {}
                Some((current, changes)) => {
                    *current = v;
                    *changes += 1;
                }
                None => {
                    state.insert(k, (v, 1));
                }
            }
        }
    }
    state
}

/// Loads the calls as one JSON array (the document reader: the JSONL reader's 4 MB chunk
/// buffer costs tens of milliseconds per load in a debug build), from one file reused by every
/// case in Cargo's scratch directory for tests.
fn load_model(calls: &[Call]) -> Model {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("prop_model_calls.json");
    let lines: Vec<String> = calls
        .iter()
        .enumerate()
        .map(|(i, c)| to_line(i, c))
        .collect();
    std::fs::write(&path, format!("[{}]", lines.join(",\n"))).unwrap();
    load(&[path], &LoadOptions::default(), &mut |_| {}).unwrap()
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn current_traits_and_changes_equal_a_naive_fold(calls in prop::collection::vec(call(), 0..12)) {
        let model = load_model(&calls);
        prop_assert_eq!(model.counts().problems, 0);
        prop_assert_eq!(model.counts().events, calls.len() as u64);
        // Keys that collide through dots ("a.b" and {"a":{"b"}}) can change twice in one call;
        // the change count is compared only without them.
        let dotted = calls.iter().any(|c| {
            let mut pairs = Vec::new();
            naive_flatten(&c.traits, &mut pairs);
            if let Some(ctx) = &c.context_traits {
                naive_flatten(ctx, &mut pairs);
            }
            pairs.iter().any(|(k, _)| k.contains('.'))
        });

        for g in 0..3 {
            let group_calls = calls.iter().enumerate().filter(|(_, c)| c.group == Some(g)).map(|(i, c)| {
                let mut pairs = Vec::new();
                naive_flatten(&c.traits, &mut pairs);
                (i, c, pairs)
            });
            let want = naive_fold(group_calls);
            let Some(id) = model.find_group(&format!("g{g}")) else {
                prop_assert!(calls.iter().all(|c| c.group != Some(g)));
                continue;
            };
            let got: Folded = model.group(id).traits.iter().map(|t| {
                (model.str(t.key).to_owned(), (model.str(t.value).to_owned(), model.entry_changes(t).len()))
            }).collect();
            if dotted {
                let values = |f: &Folded| f.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect::<Vec<_>>();
                prop_assert_eq!(values(&got), values(&want), "group g{}", g);
            } else {
                prop_assert_eq!(&got, &want, "group g{}", g);
            }
        }

        for u in 0..3 {
            // Identify: root traits, then context.traits over them.
            let identifies = calls.iter().enumerate().filter(|(_, c)| c.group.is_none() && c.user == u).map(|(i, c)| {
                let mut root = Vec::new();
                naive_flatten(&c.traits, &mut root);
                let mut merged: BTreeMap<String, String> = root.into_iter().collect();
                if let Some(ctx) = &c.context_traits {
                    let mut pairs = Vec::new();
                    naive_flatten(ctx, &mut pairs);
                    merged.extend(pairs);
                }
                (i, c, merged.into_iter().collect::<Vec<_>>())
            });
            let want = naive_fold(identifies);
            let Some(id) = model.find_user(&format!("u{u}")) else { continue };
            let got: Folded = model.user(id).traits.iter().map(|t| {
                (model.str(t.key).to_owned(), (model.str(t.value).to_owned(), model.user_entry_changes(t).len()))
            }).collect();
            let values = |f: &Folded| f.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect::<Vec<_>>();
            if dotted {
                prop_assert_eq!(values(&got), values(&want), "user u{}", u);
            } else {
                prop_assert_eq!(&got, &want, "user u{}", u);
            }
        }
    }
}

/// Column names: the warehouse's own, their upper-case spellings, prefixes that nest, and
/// arbitrary text (quotes, spaces, dots).
fn column_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "id", "user_id", "anonymous_id", "group_id", "channel", "sent_at", "timestamp",
            "received_at", "original_timestamp", "context_library_name", "context_traits_email",
            "context_traits_first_name", "context_ip", "context_", "context_traits_", "address",
            "address_city", "address_postal_code", "created_at", "first_name", "uuid_ts",
            "loaded_at", "rudder_event", "Name", "PLAN", "settings_limits_seats",
        ])
        .prop_map(str::to_owned),
        1 => "[A-Za-z_ .\"'-]{1,10}",
        1 => ".{1,6}",
    ]
}

fn declared_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "TEXT", "INTEGER", "REAL", "BOOLEAN", "bool", "BLOB", "", "DATETIME",
    ])
}

fn sql_value() -> impl Strategy<Value = Sql> {
    prop_oneof![
        2 => Just(Sql::Null),
        2 => any::<i64>().prop_map(Sql::Integer),
        1 => any::<f64>().prop_map(Sql::Real),
        3 => ".{0,12}".prop_map(Sql::Text),
        1 => Just(Sql::Text(r#" {"type":"group","userId":"u","groupId":"g"} "#.into())),
        1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(Sql::Blob),
    ]
}

/// One row: values for the extra columns, then the probes `zz_text`, `zz_int`, `zz_real` and
/// `zz_bool`, whose round trip is checked.
type Row = (Vec<Sql>, Option<String>, i64, Option<f64>, bool);

/// A table: extra columns (unique without regard to case, as SQLite wants) and its rows.
#[derive(Debug, Clone)]
struct Table {
    columns: Vec<(String, &'static str)>,
    rows: Vec<Row>,
}

fn table() -> impl Strategy<Value = Table> {
    prop::collection::vec((column_name(), declared_type()), 0..10).prop_flat_map(|cols| {
        let mut seen = std::collections::HashSet::new();
        let mut columns: Vec<(String, &'static str)> = cols
            .into_iter()
            // SQL text cannot carry a NUL; the probe columns are added by `write_table`.
            .filter(|(n, _)| {
                !n.contains('\0')
                    && !n.to_lowercase().starts_with("zz_")
                    && seen.insert(n.to_lowercase())
            })
            .collect();
        if seen.insert("group_id".into()) {
            columns.push(("group_id".into(), "TEXT"));
        }
        let width = columns.len();
        let row = (
            prop::collection::vec(sql_value(), width),
            prop::option::of(".{0,16}"),
            any::<i64>(),
            prop::option::of(any::<f64>().prop_filter("finite", |f| f.is_finite())),
            any::<bool>(),
        );
        (Just(columns), prop::collection::vec(row, 0..6))
            .prop_map(|(columns, rows)| Table { columns, rows })
    })
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn write_table(path: &Path, t: &Table, name: &str) {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    // A scratch file: no fsync per statement (that made this test wait on the disk).
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;")
        .unwrap();
    let tx = conn.transaction().unwrap();
    let conn = &*tx;
    let mut cols: Vec<String> = t
        .columns
        .iter()
        .map(|(n, ty)| format!("{} {ty}", quote(n)))
        .collect();
    cols.extend([
        "zz_text TEXT".to_owned(),
        "zz_int INTEGER".to_owned(),
        "zz_real REAL".to_owned(),
        "zz_bool BOOLEAN".to_owned(),
    ]);
    conn.execute_batch(&format!("CREATE TABLE {name} ({})", cols.join(", ")))
        .unwrap();
    let marks = vec!["?"; t.columns.len() + 4].join(", ");
    let mut insert = conn
        .prepare(&format!("INSERT INTO {name} VALUES ({marks})"))
        .unwrap();
    for (values, text, int, real, flag) in &t.rows {
        let mut all: Vec<Sql> = values.clone();
        all.push(text.clone().map_or(Sql::Null, Sql::Text));
        all.push(Sql::Integer(*int));
        all.push(real.map_or(Sql::Null, Sql::Real));
        all.push(Sql::Integer(i64::from(*flag)));
        insert.execute(rusqlite::params_from_iter(all)).unwrap();
    }
    drop(insert);
    tx.commit().unwrap();
}

proptest! {
    #![proptest_config(config(200))]

    #[test]
    fn warehouse_rows_become_events_the_parser_reads(t in table(), identifies in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wh.db");
        write_table(&path, &t, "groups");
        if identifies {
            let mut ids = t.clone();
            ids.columns.retain(|(n, _)| !n.eq_ignore_ascii_case("group_id"));
            for row in &mut ids.rows {
                let keep: Vec<Sql> = t.columns.iter().zip(&row.0)
                    .filter(|((n, _), _)| !n.eq_ignore_ascii_case("group_id"))
                    .map(|(_, v)| v.clone()).collect();
                row.0 = keep;
            }
            write_table(&path, &ids, "identifies");
        }
        let rudder_event = t.columns.iter().find(|(n, _)| n.eq_ignore_ascii_case("rudder_event"));
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mut rows = Vec::new();
        let summary = read_warehouse(&path, |r| rows.push((r.table.to_owned(), r.rowid, r.json.to_owned())))
            .unwrap();
        prop_assert!(summary.complete);
        let per_table = t.rows.len();
        prop_assert_eq!(rows.len(), per_table * (1 + usize::from(identifies)));
        for (n, (table, rowid, json)) in rows.iter().enumerate() {
            let source = &t.rows[n % per_table.max(1)];
            // What SQLite stored (its column affinity may have turned a number into text).
            let verbatim = rudder_event.and_then(|(name, _)| {
                let stored: Sql = conn
                    .query_row(&format!("SELECT {} FROM {table} WHERE rowid = ?1", quote(name)), [rowid], |r| r.get(0))
                    .unwrap();
                match stored {
                    Sql::Text(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                    _ => None,
                }
            });
            match verbatim {
                Some(text) => prop_assert_eq!(json, &text),
                None => {
                    let v: Value = serde_json::from_str(json)
                        .map_err(|e| TestCaseError::fail(format!("{e}: {json}")))?;
                    let kind = if table == "groups" { "group" } else { "identify" };
                    prop_assert_eq!(&v["type"], kind);
                    let traits = &v["traits"];
                    match &source.1 {
                        Some(text) => prop_assert_eq!(&traits["zz_text"], text.as_str()),
                        None => prop_assert!(traits.get("zz_text").is_none()),
                    }
                    prop_assert_eq!(&traits["zz_int"], source.2);
                    if let Some(r) = source.3 {
                        let got = traits["zz_real"].as_f64().unwrap();
                        // serde_json's default float parsing may be one unit in the last place off,
                        // which for a subnormal is far more than 1e-15 relative.
                        let ulps = 4.0 * f64::from_bits(1);
                        prop_assert!((got - r).abs() <= (r.abs() * 1e-15).max(ulps), "{got} vs {r}");
                    }
                    prop_assert_eq!(&traits["zz_bool"], source.4);
                }
            }
            // The parser takes every rebuilt row: an event or a typed reason.
            let mut results: Vec<Result<(), EventError>> = Vec::new();
            parse_text(json.as_bytes(), &mut |r| results.push(r.map(|_| ())));
            prop_assert!(!results.is_empty() || json.starts_with('['));
            // One row read alone is the same text.
            prop_assert_eq!(&warehouse_row_json(&path, table, *rowid).unwrap(), json);
        }
    }
}
