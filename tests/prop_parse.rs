//! Property tests of the wire-format parser and the timestamp parser: arbitrary bytes,
//! arbitrary JSON, and arbitrary batch / gateway-backup / array wrappings never panic, and every
//! result is an event that obeys the parser's promises or a typed error; generated RFC 3339
//! times round-trip to the same instant.
//!
//! Case counts are set per block (see `config`): 10,000 for bytes, text and time strings, 5,000
//! RFC 3339 round trips, 3,000 JSON values and single events, 2,000 wrappings and gateway
//! lines; about 1.5 s in a debug build.

use std::borrow::Cow;

use chrono::{NaiveDate, TimeZone, Utc};
use groupscope::event::{EventError, EventKind, EventTime, WireEvent, parse_text};
use proptest::prelude::*;
use serde_json::{Map, Value};

// The fuzz targets' checks; `unchecked_agrees` compares the two parses.
#[path = "fuzz/checks.rs"]
mod checks;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Shrinking a big JSON value is slow and a failure is clear enough without it.
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    }
}

/// Parses and checks what every result promises; returns the results (events as raw text).
fn parse_checked(bytes: &[u8]) -> Vec<Result<String, EventError>> {
    let mut out = Vec::new();
    let range = bytes.as_ptr_range();
    parse_text(bytes, &mut |r: Result<WireEvent<'_>, EventError>| {
        out.push(r.map(|ev| {
            // The raw text is a slice of the input.
            let raw = ev.raw.as_bytes().as_ptr_range();
            assert!(range.start <= raw.start && raw.end <= range.end);
            assert!(ev.raw.starts_with('{'), "{}", ev.raw);
            assert!(ev.traits.is_none_or(|t| t.get().starts_with('{')));
            assert!(ev.context_traits.is_none_or(|t| t.get().starts_with('{')));
            let blank =
                |s: &Option<Cow<'_, str>>| s.as_deref().is_some_and(|s| s.trim().is_empty());
            assert!(!blank(&ev.user_id) && !blank(&ev.anonymous_id) && !blank(&ev.group_id));
            assert!(!blank(&ev.message_id));
            match ev.kind {
                EventKind::Group => {
                    assert!(ev.group_id.is_some());
                    assert!(ev.user_id.is_some() || ev.anonymous_id.is_some());
                }
                EventKind::Identify => {
                    assert!(ev.user_id.is_some() || ev.anonymous_id.is_some());
                }
                EventKind::Other => {}
            }
            ev.raw.to_owned()
        }));
    });
    for r in &out {
        if let Err(e) = r {
            assert!(!e.to_string().is_empty());
        }
    }
    checks::unchecked_agrees(bytes);
    out
}

/// Any JSON value, nested a few levels, with keys that are often the envelope's own.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        // Eighths: printed and parsed back exactly (serde_json's default float parsing is
        // not exact for every double, which is not what is tested here).
        (-1_000_000i64..1_000_000).prop_map(|n| Value::from(n as f64 / 8.0)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("group"),
            Just("identify"),
            Just("track"),
            Just(" "),
            Just("2024-01-01T00:00:00Z"),
            Just("2023-13-45T99:99:99+99:99"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "type", "messageId", "userId", "anonymousId", "groupId", "traits", "context",
            "timestamp", "originalTimestamp", "sentAt", "receivedAt", "batch", "payload",
            "writeKey",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,8}",
    ]
}

/// An id as SDKs send it: a string (sometimes blank), a number, or something wrong.
fn id() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[a-z0-9_-]{1,10}".prop_map(Value::String),
        1 => Just(Value::String("  ".into())),
        1 => any::<u32>().prop_map(Value::from),
        1 => json_value(),
    ]
}

/// An event-shaped object: the envelope fields with plausible and implausible values.
fn event() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(Some(Value::from("group"))),
            Just(Some(Value::from("identify"))),
            Just(Some(Value::from("track"))),
            Just(None),
            json_value().prop_map(Some),
        ],
        prop::option::of(id()),
        prop::option::of(id()),
        prop::option::of(id()),
        prop::option::of(id()),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
        prop::option::of(prop_oneof![
            Just(Value::from("2024-01-05T21:42:11.218+05:30")),
            json_value()
        ]),
    )
        .prop_map(
            |(kind, message, user, anon, group, traits, context, timestamp)| {
                let mut m = Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.to_owned(), v);
                    }
                };
                put("type", kind);
                put("messageId", message);
                put("userId", user);
                put("anonymousId", anon);
                put("groupId", group);
                put("traits", traits);
                put("context", context);
                put("timestamp", timestamp);
                Value::Object(m)
            },
        )
}

/// An empty array, or a batch (or gateway payload batch) that is an empty array: texts that
/// hold no event and so give no result at all.
fn holds_no_list_items(value: &Value) -> bool {
    let empty = |v: Option<&Value>| v.and_then(Value::as_array).is_some_and(Vec::is_empty);
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(m) => {
            empty(m.get("batch"))
                || (m.get("batch").is_none_or(Value::is_null)
                    && empty(m.get("payload").and_then(|p| p.get("batch"))))
        }
        _ => false,
    }
}

const KEY: &str = "PrOpTeStWrItEkEy";

/// How a list of events is wrapped into one text.
#[derive(Debug, Clone, Copy)]
enum Wrap {
    Batch,
    Gateway,
    Array,
}

fn wrap(how: Wrap, events: &[Value]) -> String {
    let list = Value::Array(events.to_vec());
    match how {
        Wrap::Batch => serde_json::json!({"batch": list, "sentAt": "2024-01-01T00:00:00Z"}),
        Wrap::Gateway => serde_json::json!({
            "userId": "a<<>>b<<>>c",
            "payload": {"batch": list, "writeKey": KEY, "requestIP": "10.0.0.1"},
            "createdAt": "2024-01-01T00:00:00Z",
            "messageId": "",
        }),
        Wrap::Array => list,
    }
    .to_string()
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let results = parse_checked(&bytes);
        prop_assert!(!results.is_empty(), "every text yields at least one result");
    }

    #[test]
    fn arbitrary_text_near_json_never_panics(text in r#"[\[\]{}":,0-9a-zA-Z \\.eE+-]{0,80}"#) {
        let results = parse_checked(text.as_bytes());
        prop_assert!(!results.is_empty());
    }
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn arbitrary_json_never_panics(value in json_value(), bom in any::<bool>(), crlf in any::<bool>()) {
        let mut text = String::new();
        if bom {
            text.push('\u{feff}');
        }
        text.push_str(&value.to_string());
        if crlf {
            text.push('\r');
        }
        let results = parse_checked(text.as_bytes());
        prop_assert!(!results.is_empty() || holds_no_list_items(&value), "{text}");
        if !matches!(value, Value::Object(_) | Value::Array(_)) {
            prop_assert!(matches!(results[0], Err(EventError::NotObject(_))), "{results:?}");
        }
    }

    #[test]
    fn a_single_event_gives_exactly_one_result(ev in event()) {
        let text = ev.to_string();
        let results = parse_checked(text.as_bytes());
        // Unless the event's own fields make it look like a batch or a gateway line.
        let wrapper = ev.get("batch").is_some_and(|b| !b.is_null())
            || ev.get("payload").is_some();
        if !wrapper {
            prop_assert_eq!(results.len(), 1);
            if let Ok(raw) = &results[0] {
                prop_assert_eq!(raw, &text);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(2_000))]

    /// A group call's traits, any JSON and then perhaps broken inside, read the same whether
    /// the scan checks them or leaves them unchecked (`parse_checked` compares the two).
    #[test]
    fn group_calls_with_any_traits_read_the_same_unchecked(
        traits in json_value(),
        edits in prop::collection::vec((0usize..4000, 0usize..10), 0..3),
    ) {
        let head = r#"{"type":"group","userId":"u","groupId":"g","traits":"#;
        let tail = r#","context":{"ip":"1.2.3.4"},"timestamp":"2024-01-01T00:00:00Z"}"#;
        let mut inside = traits.to_string().into_bytes();
        for (at, what) in edits {
            let at = at % (inside.len() + 1);
            match what {
                0 if at < inside.len() => {
                    inside.remove(at);
                }
                1 if at < inside.len() => inside[at] ^= 1 << (at % 7),
                _ => inside.insert(at, b",:\"{}[]0 t"[what % 10]),
            }
        }
        let mut line = head.as_bytes().to_vec();
        line.extend_from_slice(&inside);
        line.extend_from_slice(tail.as_bytes());
        let results = parse_checked(&line);
        prop_assert_eq!(results.len(), 1);
    }

    #[test]
    fn wrapped_events_give_one_result_each_and_never_the_key(
        events in prop::collection::vec(event(), 0..6),
        how in prop_oneof![Just(Wrap::Batch), Just(Wrap::Gateway), Just(Wrap::Array)],
        pretty in any::<bool>(),
    ) {
        let mut text = wrap(how, &events);
        if pretty {
            text = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&text).unwrap()).unwrap();
        }
        let results = parse_checked(text.as_bytes());
        prop_assert_eq!(results.len(), events.len());
        for (i, (r, ev)) in results.iter().zip(&events).enumerate() {
            match r {
                Ok(raw) => {
                    // Compared after the same parse (serde_json's float parsing is not exact).
                    let same: Value = serde_json::from_str(&ev.to_string()).unwrap();
                    prop_assert_eq!(serde_json::from_str::<Value>(raw).unwrap(), same);
                    prop_assert!(!raw.contains(KEY));
                }
                Err(EventError::InBatch { index, .. }) => prop_assert_eq!(*index, i),
                Err(other) => prop_assert!(false, "not an InBatch error: {other:?}"),
            }
        }
    }

    #[test]
    fn a_gateway_line_without_a_batch_is_never_an_event(payload in json_value()) {
        let mut payload = payload;
        if let Value::Object(m) = &mut payload {
            m.insert("writeKey".into(), KEY.into());
            if m.get("batch").is_some_and(Value::is_array) {
                m.remove("batch");
            }
        } else {
            payload = serde_json::json!({"writeKey": KEY});
        }
        let text = serde_json::json!({"userId": "x", "payload": payload}).to_string();
        for r in parse_checked(text.as_bytes()) {
            prop_assert!(r.is_err(), "{r:?}");
        }
    }
}

/// A valid RFC 3339 time as text, with the instant it names in UTC milliseconds.
fn rfc3339() -> impl Strategy<Value = (String, i64, i16)> {
    (
        1i32..=9999,
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..60,
        prop::option::of("[0-9]{1,9}"),
        prop_oneof![
            Just(None),
            ((0i32..=23), (0i32..=59), any::<bool>()).prop_map(Some)
        ],
        any::<bool>(),
    )
        .prop_filter_map(
            "a real date",
            |(y, mo, d, h, mi, s, frac, offset, lower_z)| {
                let date = NaiveDate::from_ymd_opt(y, mo, d)?;
                let local = date.and_hms_opt(h, mi, s)?;
                let millis: i64 = frac
                    .as_deref()
                    .map_or(0, |f| format!("{f:0<3}")[..3].parse().unwrap());
                let (zone, offset_min) = match offset {
                    None => (if lower_z { "z" } else { "Z" }.to_owned(), 0),
                    Some((oh, om, west)) => {
                        let m = oh * 60 + om;
                        (
                            format!("{}{oh:02}:{om:02}", if west { '-' } else { '+' }),
                            if west { -m } else { m },
                        )
                    }
                };
                let text = format!(
                    "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{}{zone}",
                    frac.map(|f| format!(".{f}")).unwrap_or_default()
                );
                let utc_ms = Utc.from_utc_datetime(&local).timestamp_millis() + millis
                    - i64::from(offset_min) * 60_000;
                Some((text, utc_ms, offset_min as i16))
            },
        )
}

proptest! {
    #![proptest_config(config(10_000))]

    #[test]
    fn any_string_parses_or_not_without_panicking(text in ".{0,40}") {
        if let Some(t) = EventTime::parse(&text) {
            // Whatever parses prints and parses back to the same instant.
            let again = EventTime::parse(&t.to_rfc3339());
            if t.to_datetime().is_some() {
                prop_assert_eq!(again.map(|a| a.utc_ms), Some(t.utc_ms));
            }
        }
    }

    #[test]
    fn timestamp_shaped_strings_never_panic(text in "[0-9+-]{4,7}-[0-9]{2}-[0-9]{2}[T ][0-9:.]{0,16}[Zz+-]?[0-9:]{0,6}") {
        let _ = EventTime::parse(&text);
    }
}

proptest! {
    #![proptest_config(config(5_000))]

    #[test]
    fn valid_rfc3339_round_trips_to_the_same_instant((text, utc_ms, offset_min) in rfc3339()) {
        let t = EventTime::parse(&text);
        prop_assert_eq!(t, Some(EventTime { utc_ms, offset_min }), "{}", text);
        let t = t.unwrap();
        let printed = t.to_rfc3339();
        prop_assert_eq!(EventTime::parse(&printed), Some(t), "{} -> {}", text, printed);
        // The short form keeps the sender's offset too.
        prop_assert!(t.to_short().starts_with(&printed[..10]));
    }
}
