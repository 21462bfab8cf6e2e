//! The wire format: one JSON text (a line, a batch body, a gateway-backup line or an array)
//! becomes zero or more [`WireEvent`]s that borrow from the text.
//!
//! Nothing here builds a `serde_json::Value` per event: envelopes are typed, borrowed structs and
//! `traits` stay raw text until the model needs them.

pub mod time;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::value::RawValue;

pub use time::{EventTime, TimeFields};

/// What kind of call an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `group`: links a user to a group and sets group traits.
    Group,
    /// `identify`: sets user traits.
    Identify,
    /// `track`, `page`, `screen`, `alias`, anything else: counted, not modelled.
    Other,
}

/// One event, borrowed from the text it was found in.
#[derive(Debug, Clone)]
pub struct WireEvent<'a> {
    /// Group, identify or other.
    pub kind: EventKind,
    /// `messageId`, trimmed; `None` when missing or blank.
    pub message_id: Option<Cow<'a, str>>,
    /// `userId` (a number is kept as its text).
    pub user_id: Option<Cow<'a, str>>,
    /// `anonymousId`.
    pub anonymous_id: Option<Cow<'a, str>>,
    /// `groupId` (a number is kept as its text); always set on a group call.
    pub group_id: Option<Cow<'a, str>>,
    /// Root `traits`, checked to be an object.
    pub traits: Option<&'a RawValue>,
    /// `context.traits` of an identify call (user traits), checked to be an object.
    pub context_traits: Option<&'a RawValue>,
    /// The time fields, parsed.
    pub times: TimeFields,
    /// The exact text of this event.
    pub raw: &'a str,
}

impl WireEvent<'_> {
    /// The byte offset of this event inside `text`, which must be the text it was parsed from.
    pub fn offset_in(&self, text: &str) -> usize {
        (self.raw.as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
    }
}

/// Why an event (or a whole line) was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A blank line.
    #[error("empty line")]
    Empty,
    /// Bytes that are not UTF-8.
    #[error("invalid UTF-8 at byte {0}")]
    InvalidUtf8(usize),
    /// Text that is not JSON (truncated, garbage, too deep).
    #[error("not valid JSON: {0}")]
    Json(String),
    /// JSON that is not an event object.
    #[error("not an event: the JSON is {0}, not an object")]
    NotObject(&'static str),
    /// A group call without `groupId`.
    #[error("group call has no groupId")]
    NoGroupId,
    /// A group or identify call without either id.
    #[error("{0} call has neither userId nor anonymousId")]
    NoUserId(&'static str),
    /// `traits` of the wrong type.
    #[error("traits is {0}, not an object")]
    TraitsNotObject(&'static str),
    /// A `{"batch": …}` body whose `batch` is not an array.
    #[error("batch is {0}, not an array")]
    BatchNotArray(&'static str),
    /// A line over the size limit.
    #[error("line is {0} bytes, over the limit of {1} bytes")]
    TooLong(usize, usize),
    /// One element of a batch or array.
    #[error("event {index} of the batch: {error}")]
    InBatch {
        /// Zero-based position in the batch.
        index: usize,
        /// What was wrong with it.
        error: Box<EventError>,
    },
}

/// Lines longer than this are reported, not parsed (a 100 KB trait value is fine; 16 MB is not).
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Parses one JSON text (normally a line) and hands every event or problem to `sink`, in order.
///
/// Accepts a bare event, an SDK body `{"batch":[…]}`, a gateway-backup line whose events sit in
/// `payload.batch` (its write key is never read), or a JSON array of events. A leading BOM, and
/// trailing `\r` and whitespace, are ignored.
pub fn parse_text<'a>(bytes: &'a [u8], sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>)) {
    if bytes.len() > MAX_LINE_BYTES {
        sink(Err(EventError::TooLong(bytes.len(), MAX_LINE_BYTES)));
        return;
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            sink(Err(EventError::InvalidUtf8(e.valid_up_to())));
            return;
        }
    };
    let text = text.trim();
    match text.as_bytes().first() {
        None => sink(Err(EventError::Empty)),
        Some(b'{') => parse_object(text, sink),
        Some(b'[') => match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => parse_items(&items, sink),
            Err(e) => sink(Err(json_error(&e))),
        },
        Some(_) => sink(Err(match serde_json::from_str::<&RawValue>(text) {
            Ok(v) => EventError::NotObject(json_type(v)),
            Err(e) => json_error(&e),
        })),
    }
}

fn parse_object<'a>(text: &'a str, sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>)) {
    let env: Envelope<'a> = match serde_json::from_str(text) {
        Ok(env) => env,
        Err(e) => return sink(Err(json_error(&e))),
    };
    if let Some(batch) = env.batch {
        return parse_batch(batch, sink);
    }
    if let Some(payload) = env.payload {
        // Gateway-backup line: only `payload.batch` is read, never `payload.writeKey`. A map,
        // not a struct: a repeated key must not make it unreadable and so an event.
        if let Ok(members) =
            serde_json::from_str::<BTreeMap<Cow<'_, str>, &'a RawValue>>(payload.get())
            && (members.contains_key("batch") || members.contains_key("writeKey"))
        {
            // Without a usable batch the line itself must not become an event: its raw text
            // (stored by `import`, shown as the raw call) holds the write key.
            return match members.get("batch").filter(|b| b.get() != "null") {
                Some(batch) => parse_batch(batch, sink),
                None => sink(Err(EventError::BatchNotArray("null or missing"))),
            };
        }
    }
    sink(env.into_event(text));
}

fn parse_batch<'a>(batch: &'a RawValue, sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>)) {
    match serde_json::from_str::<Vec<&'a RawValue>>(batch.get()) {
        Ok(items) => parse_items(&items, sink),
        Err(_) => sink(Err(EventError::BatchNotArray(json_type(batch)))),
    }
}

fn parse_items<'a>(
    items: &[&'a RawValue],
    sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>),
) {
    for (index, item) in items.iter().enumerate() {
        let text = item.get();
        let result = if text.starts_with('{') {
            serde_json::from_str::<Envelope<'a>>(text)
                .map_err(|e| json_error(&e))
                .and_then(|env| env.into_event(text))
        } else {
            Err(EventError::NotObject(json_type(item)))
        };
        sink(result.map_err(|error| EventError::InBatch {
            index,
            error: Box::new(error),
        }));
    }
}

/// A short name for the JSON type of a raw value, for messages.
pub fn json_type(v: &RawValue) -> &'static str {
    match v.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn json_error(e: &serde_json::Error) -> EventError {
    EventError::Json(e.to_string())
}

/// The fields of an event that groupscope reads; everything else is skipped by serde.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Text<'a>>,
    #[serde(rename = "messageId", borrow, default)]
    message_id: Option<Text<'a>>,
    #[serde(rename = "userId", borrow, default)]
    user_id: Option<Text<'a>>,
    #[serde(rename = "anonymousId", borrow, default)]
    anonymous_id: Option<Text<'a>>,
    #[serde(rename = "groupId", borrow, default)]
    group_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    traits: Option<&'a RawValue>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<Text<'a>>,
    #[serde(rename = "originalTimestamp", borrow, default)]
    original_timestamp: Option<Text<'a>>,
    #[serde(rename = "sentAt", borrow, default)]
    sent_at: Option<Text<'a>>,
    #[serde(rename = "receivedAt", borrow, default)]
    received_at: Option<Text<'a>>,
    #[serde(borrow, default)]
    batch: Option<&'a RawValue>,
    #[serde(borrow, default)]
    payload: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct ContextTraits<'a> {
    #[serde(borrow, default)]
    traits: Option<&'a RawValue>,
}

impl<'a> Envelope<'a> {
    fn into_event(self, raw: &'a str) -> Result<WireEvent<'a>, EventError> {
        let group_id = non_blank(self.group_id);
        let kind = match self.kind.as_ref().map(|k| k.0.as_ref()) {
            Some("group") => EventKind::Group,
            Some("identify") => EventKind::Identify,
            // A body posted to /v1/group carries no type; the gateway sets it from the path.
            None if group_id.is_some() => EventKind::Group,
            _ => EventKind::Other,
        };
        let user_id = non_blank(self.user_id);
        let anonymous_id = non_blank(self.anonymous_id);
        let mut context_traits = None;
        match kind {
            EventKind::Group => {
                if group_id.is_none() {
                    return Err(EventError::NoGroupId);
                }
                if user_id.is_none() && anonymous_id.is_none() {
                    return Err(EventError::NoUserId("group"));
                }
            }
            EventKind::Identify => {
                if user_id.is_none() && anonymous_id.is_none() {
                    return Err(EventError::NoUserId("identify"));
                }
                context_traits = self
                    .context
                    .filter(|c| c.get().starts_with('{'))
                    .and_then(|c| serde_json::from_str::<ContextTraits<'a>>(c.get()).ok())
                    .and_then(|c| c.traits)
                    .filter(|t| t.get().starts_with('{'));
            }
            EventKind::Other => {}
        }
        let traits = match self.traits {
            Some(t) if t.get().starts_with('{') => Some(t),
            Some(t) if t.get() == "null" => None,
            Some(t) if kind == EventKind::Other => {
                let _ = t;
                None
            }
            Some(t) => return Err(EventError::TraitsNotObject(json_type(t))),
            None => None,
        };
        let time = |t: Option<Text<'_>>| t.and_then(|t| EventTime::parse(&t.0));
        Ok(WireEvent {
            kind,
            message_id: non_blank(self.message_id),
            user_id,
            anonymous_id,
            group_id,
            traits,
            context_traits,
            times: TimeFields {
                timestamp: time(self.timestamp),
                received_at: time(self.received_at),
                sent_at: time(self.sent_at),
                original_timestamp: time(self.original_timestamp),
            },
            raw,
        })
    }
}

/// Trims an id as the gateway does; blank is missing.
fn non_blank(t: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    let t = t?.0;
    let trimmed = t.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.len() == t.len() {
        return Some(t);
    }
    Some(match t {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    })
}

/// A string field that borrows when it can; a number (as SDKs send ids) is kept as its text.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a number")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Result<WireEvent<'_>, EventError>> {
        let mut out = Vec::new();
        parse_text(text.as_bytes(), &mut |r| out.push(r));
        out
    }

    fn one(text: &str) -> Result<WireEvent<'_>, EventError> {
        let mut all = parse(text);
        assert_eq!(all.len(), 1, "{text}");
        all.remove(0)
    }

    #[test]
    fn a_group_call() {
        let line = r#"{"type":"group","messageId":" m1 ","userId":"u1","anonymousId":"a1","groupId":"g1","traits":{"plan":"pro"},"timestamp":"2023-01-01T00:00:00.000Z"}"#;
        let ev = one(line).unwrap();
        assert_eq!(ev.kind, EventKind::Group);
        assert_eq!(ev.message_id.as_deref(), Some("m1"));
        assert_eq!(ev.user_id.as_deref(), Some("u1"));
        assert_eq!(ev.group_id.as_deref(), Some("g1"));
        assert_eq!(ev.traits.unwrap().get(), r#"{"plan":"pro"}"#);
        assert_eq!(ev.times.event_time().unwrap().utc_ms, 1_672_531_200_000);
        assert_eq!(ev.raw, line);
    }

    #[test]
    fn numeric_group_id_is_kept_as_text() {
        let ev = one(r#"{"type":"group","userId":7,"groupId":12345}"#).unwrap();
        assert_eq!(ev.group_id.as_deref(), Some("12345"));
        assert_eq!(ev.user_id.as_deref(), Some("7"));
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let ev = one(r#"{"type":"group","userId":"a\"b","groupId":"g\u00e9"}"#).unwrap();
        assert_eq!(ev.user_id.as_deref(), Some("a\"b"));
        assert_eq!(ev.group_id.as_deref(), Some("gé"));
    }

    #[test]
    fn bom_and_crlf_are_accepted() {
        let ev = one("\u{feff}{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\"}\r").unwrap();
        assert_eq!(ev.group_id.as_deref(), Some("g"));
    }

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(one("").unwrap_err(), EventError::Empty);
        assert_eq!(one("   ").unwrap_err(), EventError::Empty);
        assert_eq!(one("42").unwrap_err(), EventError::NotObject("a number"));
        assert_eq!(
            one("\"group\"").unwrap_err(),
            EventError::NotObject("a string")
        );
        assert_eq!(one("null").unwrap_err(), EventError::NotObject("null"));
        assert!(
            matches!(one(r#"{"type":"gro"#).unwrap_err(), EventError::Json(m) if m.contains("EOF"))
        );
        assert_eq!(
            one(r#"{"type":"group","userId":"u"}"#).unwrap_err(),
            EventError::NoGroupId
        );
        assert_eq!(
            one(r#"{"type":"group","groupId":"g"}"#).unwrap_err(),
            EventError::NoUserId("group")
        );
        assert_eq!(
            one(r#"{"type":"group","userId":"u","groupId":"g","traits":[{}]}"#).unwrap_err(),
            EventError::TraitsNotObject("an array")
        );
        let bad_utf8 = b"{\"type\":\"group\",\"userId\":\"\xff\"}";
        let mut out = Vec::new();
        parse_text(bad_utf8, &mut |r| out.push(r.map(|_| ())));
        assert_eq!(out, vec![Err(EventError::InvalidUtf8(26))]);
    }

    #[test]
    fn blank_group_id_is_missing() {
        assert_eq!(
            one(r#"{"type":"group","userId":"u","groupId":"  "}"#).unwrap_err(),
            EventError::NoGroupId
        );
    }

    #[test]
    fn batch_bodies_and_arrays() {
        let text = r#"{"batch":[{"type":"group","userId":"u","groupId":"g1"},7,{"type":"track","event":"x"}],"sentAt":"2023-01-01T00:00:00Z"}"#;
        let all = parse(text);
        assert_eq!(all.len(), 3);
        let first = all[0].as_ref().unwrap();
        assert_eq!(first.raw, r#"{"type":"group","userId":"u","groupId":"g1"}"#);
        assert_eq!(first.offset_in(text), 10);
        assert_eq!(
            all[1].as_ref().unwrap_err(),
            &EventError::InBatch {
                index: 1,
                error: Box::new(EventError::NotObject("a number"))
            }
        );
        assert_eq!(all[2].as_ref().unwrap().kind, EventKind::Other);

        let arr = parse(
            r#"[{"type":"identify","userId":"u"},{"type":"group","userId":"u","groupId":"g"}]"#,
        );
        assert_eq!(arr.len(), 2);
        assert!(arr.iter().all(|r| r.is_ok()));
    }

    #[test]
    fn gateway_backup_lines_yield_their_events_not_the_key() {
        let text = r#"{"userId":"h<<>>a<<>>u","payload":{"batch":[{"type":"group","anonymousId":"a","groupId":"g"}],"requestIP":"1.2.3.4","writeKey":"SECRETKEY","receivedAt":"2023-01-01T00:00:00Z"},"createdAt":"2023-01-01T00:00:00Z","messageId":""}"#;
        let all = parse(text);
        assert_eq!(all.len(), 1);
        let ev = all[0].as_ref().unwrap();
        assert_eq!(ev.anonymous_id.as_deref(), Some("a"));
        assert!(!ev.raw.contains("SECRETKEY"));
    }

    #[test]
    fn identify_reads_context_traits() {
        let ev = one(
            r#"{"type":"identify","userId":"u","traits":{"a":1},"context":{"traits":{"a":2}}}"#,
        )
        .unwrap();
        assert_eq!(ev.kind, EventKind::Identify);
        assert_eq!(ev.traits.unwrap().get(), r#"{"a":1}"#);
        assert_eq!(ev.context_traits.unwrap().get(), r#"{"a":2}"#);
    }

    #[test]
    fn untyped_body_with_group_id_is_a_group_call() {
        let ev = one(r#"{"userId":"u","groupId":"g"}"#).unwrap();
        assert_eq!(ev.kind, EventKind::Group);
    }

    #[test]
    fn deep_nesting_does_not_crash() {
        // Deep values inside traits stay raw here; the model rejects them when it flattens.
        let deep_traits = format!(
            r#"{{"type":"group","userId":"u","groupId":"g","traits":{{"x":{}{}}}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(one(&deep_traits).is_ok());
        let deep_envelope = format!(r#"{{"type":{}{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
        assert!(one(&deep_envelope).is_err());
    }
}
