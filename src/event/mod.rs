//! The wire format: one JSON text (a line, a batch body, a gateway-backup line or an array)
//! becomes zero or more [`WireEvent`]s that borrow from the text.
//!
//! Nothing here builds a `serde_json::Value` per event: envelopes are typed, borrowed structs and
//! `traits` stay raw text until the model needs them.

mod scan;
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
    match checked_text(bytes) {
        Ok(text) => parse_trimmed(text, sink),
        Err(e) => sink(Err(e)),
    }
}

/// Like [`parse_text`], except that a group call's `traits` may come unchecked: in a line
/// that is one event, the scan finds where `traits` ends without checking what is inside
/// (the biggest part of most lines) and hands the event on with `true`. Whoever takes such
/// an event must check its traits text before trusting it (a text equal to one checked before
/// needs nothing more), and when that check fails, ask [`recheck`] what [`parse_text`] would
/// have said of the line. Every other event and problem comes with `false`.
pub fn parse_text_unchecked<'a>(
    bytes: &'a [u8],
    sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>, bool),
) {
    match checked_text(bytes) {
        Ok(text) if text.starts_with('{') => parse_object_unchecked(text, sink),
        Ok(text) => parse_trimmed(text, &mut |r| sink(r, false)),
        Err(e) => sink(Err(e), false),
    }
}

/// What [`parse_text`] says of the line `raw` of an event that [`parse_text_unchecked`]
/// handed on unchecked: `Err` when the line is not JSON after all.
pub fn recheck(raw: &str) -> Result<(), EventError> {
    Envelope::read(raw).map(|_| ()).map_err(|e| json_error(&e))
}

/// A line's text: not too long, without a BOM, valid UTF-8, trimmed.
fn checked_text(bytes: &[u8]) -> Result<&str, EventError> {
    if bytes.len() > MAX_LINE_BYTES {
        return Err(EventError::TooLong(bytes.len(), MAX_LINE_BYTES));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // The SIMD validator only says yes or no; std's says where, for the message.
    match simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes)) {
        Ok(text) => Ok(trim(text)),
        Err(e) => Err(EventError::InvalidUtf8(e.valid_up_to())),
    }
}

/// [`parse_text`] of a checked, trimmed text.
fn parse_trimmed<'a>(text: &'a str, sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>)) {
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

/// [`parse_text_unchecked`] of an object.
fn parse_object_unchecked<'a>(
    text: &'a str,
    sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>, bool),
) {
    let mut f: [Option<&'a str>; 13] = [None; 13];
    if let Some(unchecked) = scan::object(text, envelope_field_unchecked, &mut f) {
        let env = Envelope::of_fields(&f);
        if unchecked == 0 {
            return envelope_events(text, env, &mut |r| sink(r, false));
        }
        if env.batch.is_none() && env.payload.is_none() {
            // Only a group call's traits are left unchecked (they are the snapshot the model
            // looks up); any other event's are checked now.
            let no_field = |_: &[u8]| None;
            match env.into_event(text) {
                Ok(ev) if ev.kind == EventKind::Group => return sink(Ok(ev), true),
                result if f[5].is_some_and(|t| scan::object(t, no_field, &mut []).is_some()) => {
                    return sink(result, false);
                }
                _ => {}
            }
        }
    }
    // Unsure, a batch body or traits that are not plainly valid: as `parse_text` does.
    parse_object(text, &mut |r| sink(r, false));
}

fn parse_object<'a>(text: &'a str, sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>)) {
    match Envelope::read(text) {
        Ok(env) => envelope_events(text, env, sink),
        Err(e) => sink(Err(json_error(&e))),
    }
}

/// The events of the object `text`, whose envelope is `env`.
fn envelope_events<'a>(
    text: &'a str,
    env: Envelope<'a>,
    sink: &mut dyn FnMut(Result<WireEvent<'a>, EventError>),
) {
    if let Some(batch) = env.batch {
        return parse_batch(batch, sink);
    }
    if let Some(payload) = env.payload {
        // Gateway-backup line: only `payload.batch` is read, never `payload.writeKey`.
        if let Some(batch) = gateway_batch(payload.get()) {
            // Without a usable batch the line itself must not become an event: its raw text
            // (stored by `import`, shown as the raw call) holds the write key.
            return match batch {
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
            Envelope::read(text)
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

/// The top-level members of a JSON object, as `(key, raw value)` text in order. Returns `false`
/// when the quick scan cannot vouch for them (a key with escapes, deep nesting, not one valid
/// object); the caller then reads the object with serde_json.
pub fn object_members<'a>(object: &'a str, out: &mut Vec<(&'a str, &'a str)>) -> bool {
    let start = out.len();
    let ok = scan::members(object, out).is_some();
    if !ok {
        out.truncate(start);
    }
    ok
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

/// For a gateway-backup payload (an object with a `batch` or a `writeKey` member): `Some` of its
/// batch (the last one; `None` inside when there is none or it is null). `None` when the payload
/// is something else. Members are read as a list, not a struct, so a repeated key cannot make the
/// payload unreadable and the line, write key and all, an event.
fn gateway_batch(payload: &str) -> Option<Option<&RawValue>> {
    let mut members = Vec::new();
    let (gateway, batch) = if object_members(payload, &mut members) {
        let gateway = members
            .iter()
            .any(|(k, _)| *k == "batch" || *k == "writeKey");
        let batch = members
            .iter()
            .rev()
            .find(|(k, _)| *k == "batch")
            .and_then(|(_, v)| raw_value(v));
        (gateway, batch)
    } else {
        // Keys with escapes, deep nesting or not one object: serde_json decides.
        let map: BTreeMap<Cow<'_, str>, &RawValue> = serde_json::from_str(payload).ok()?;
        let gateway = map.contains_key("batch") || map.contains_key("writeKey");
        (gateway, map.get("batch").copied())
    };
    gateway.then(|| batch.filter(|b| b.get() != "null"))
}

/// `context.traits` of an identify call.
fn read_context_traits(context: &str) -> Option<&RawValue> {
    let mut out = [None];
    let pick = |k: &[u8]| (k == b"traits").then_some((0, scan::Want::Raw));
    if scan::object(context, pick, &mut out).is_some() {
        return out[0].and_then(raw_value);
    }
    serde_json::from_str::<ContextTraits<'_>>(context)
        .ok()
        .and_then(|c| c.traits)
}

/// The envelope's fields in the order [`Envelope::read`] fills them.
fn envelope_field(key: &[u8]) -> Option<(usize, scan::Want)> {
    envelope_field_as::<false>(key)
}

/// [`envelope_field`], with `traits` left unchecked when it is a container (see
/// [`parse_text_unchecked`]).
#[inline(always)]
fn envelope_field_unchecked(key: &[u8]) -> Option<(usize, scan::Want)> {
    envelope_field_as::<true>(key)
}

/// [`envelope_field`], `traits` unchecked when `UNCHECKED`.
#[inline(always)]
fn envelope_field_as<const UNCHECKED: bool>(key: &[u8]) -> Option<(usize, scan::Want)> {
    use scan::Want::{Raw, Text, Unchecked};
    let traits = if UNCHECKED { Unchecked } else { Raw };
    // Every top-level key of every event comes through here: dispatch on the length, then
    // compare fixed-size arrays, which compile to a register compare instead of a memcmp call.
    fn is<const N: usize>(key: &[u8], name: &[u8; N]) -> bool {
        <&[u8; N]>::try_from(key).is_ok_and(|k| k == name)
    }
    let (slot, want) = match key.len() {
        4 if is(key, b"type") => (0, Text),
        5 if is(key, b"batch") => (11, Raw),
        6 if is(key, b"userId") => (2, Text),
        6 if is(key, b"traits") => (5, traits),
        6 if is(key, b"sentAt") => (9, Text),
        7 if is(key, b"groupId") => (4, Text),
        7 if is(key, b"context") => (6, Raw),
        7 if is(key, b"payload") => (12, Raw),
        9 if is(key, b"messageId") => (1, Text),
        9 if is(key, b"timestamp") => (7, Text),
        10 if is(key, b"receivedAt") => (10, Text),
        11 if is(key, b"anonymousId") => (3, Text),
        17 if is(key, b"originalTimestamp") => (8, Text),
        _ => return None,
    };
    Some((slot, want))
}

/// A borrowed [`RawValue`] for text already checked to be exactly one JSON value, without
/// parsing it again: serde_json's raw-value handshake (a one-entry map keyed by its private
/// token), spoken through serde's public traits. `None` if serde_json ever changes it.
fn raw_value(json: &str) -> Option<&RawValue> {
    use serde::de::value::{BorrowedStrDeserializer, Error};
    use serde::de::{DeserializeSeed, MapAccess};

    const TOKEN: &str = "$serde_json::private::RawValue";
    struct Handshake<'a>(&'a str);
    struct Entry<'a>(&'a str, bool);

    impl<'de> Deserializer<'de> for Handshake<'de> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.visit_map(Entry(self.0, false))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
            identifier ignored_any
        }
    }

    impl<'de> MapAccess<'de> for Entry<'de> {
        type Error = Error;
        fn next_key_seed<K: DeserializeSeed<'de>>(
            &mut self,
            seed: K,
        ) -> Result<Option<K::Value>, Error> {
            if self.1 {
                return Ok(None);
            }
            self.1 = true;
            seed.deserialize(BorrowedStrDeserializer::new(TOKEN))
                .map(Some)
        }
        fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
            seed.deserialize(BorrowedStrDeserializer::new(self.0))
        }
    }

    match <&RawValue>::deserialize(Handshake(json)) {
        Ok(raw) => Some(raw),
        Err(_) => serde_json::from_str(json).ok(),
    }
}

impl<'a> Envelope<'a> {
    /// Reads an envelope: the fast scan when it can vouch for the text, else serde_json.
    fn read(text: &'a str) -> Result<Envelope<'a>, serde_json::Error> {
        let mut f: [Option<&'a str>; 13] = [None; 13];
        if scan::object(text, envelope_field, &mut f).is_some() {
            return Ok(Envelope::of_fields(&f));
        }
        serde_json::from_str(text)
    }

    /// The envelope of the fields the scan filled, in [`envelope_field`]'s order.
    fn of_fields(f: &[Option<&'a str>; 13]) -> Envelope<'a> {
        let t = |s: Option<&'a str>| s.map(|s| Text(Cow::Borrowed(s)));
        let raw = |s: Option<&'a str>| s.and_then(raw_value);
        Envelope {
            kind: t(f[0]),
            message_id: t(f[1]),
            user_id: t(f[2]),
            anonymous_id: t(f[3]),
            group_id: t(f[4]),
            traits: raw(f[5]),
            context: raw(f[6]),
            timestamp: t(f[7]),
            original_timestamp: t(f[8]),
            sent_at: t(f[9]),
            received_at: t(f[10]),
            batch: raw(f[11]),
            payload: raw(f[12]),
        }
    }

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
                    .and_then(|c| read_context_traits(c.get()))
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
        let timestamp = time(self.timestamp);
        // The client's clocks only matter without a usable `timestamp` (spec §2.3); most
        // events have one, and parsing two more times per event is measurable.
        let (sent_at, original_timestamp) = match timestamp {
            Some(_) => (None, None),
            None => (time(self.sent_at), time(self.original_timestamp)),
        };
        Ok(WireEvent {
            kind,
            message_id: non_blank(self.message_id),
            user_id,
            anonymous_id,
            group_id,
            traits,
            context_traits,
            times: TimeFields {
                timestamp,
                received_at: time(self.received_at),
                sent_at,
                original_timestamp,
            },
            raw,
        })
    }
}

/// Trims an id as the gateway does; blank is missing.
fn non_blank(t: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    let t = t?.0;
    if !may_need_trim(&t) {
        return Some(t);
    }
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

/// Whether `text` might start or end with white space: nearly every line and id starts and ends
/// with a visible ASCII character, which spares decoding its ends to look for Unicode spaces.
fn may_need_trim(text: &str) -> bool {
    let visible = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
    !(visible(text.as_bytes().first()) && visible(text.as_bytes().last()))
}

/// [`str::trim`], quick when there is nothing to trim.
fn trim(text: &str) -> &str {
    if may_need_trim(text) {
        text.trim()
    } else {
        text
    }
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
    fn ids_are_trimmed_as_str_trim_does() {
        for id in [
            "u",
            "u1",
            " u",
            "u ",
            "\tu\n",
            "\u{a0}u",
            "u\u{3000}",
            "\u{1c}u",
            "\u{7f}",
            "é",
            "ué",
            "  ",
            "",
            "\u{85}",
        ] {
            let want = Some(id.trim()).filter(|t| !t.is_empty());
            let got = non_blank(Some(Text(Cow::Borrowed(id))));
            assert_eq!(got.as_deref(), want, "{id:?}");
        }
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

    /// The envelope's fields as plain data, for comparing the fast path with serde_json.
    fn view(e: &Envelope<'_>) -> Vec<Option<String>> {
        let t = |x: &Option<Text<'_>>| x.as_ref().map(|t| t.0.to_string());
        let r = |x: &Option<&RawValue>| x.map(|v| v.get().to_string());
        vec![
            t(&e.kind),
            t(&e.message_id),
            t(&e.user_id),
            t(&e.anonymous_id),
            t(&e.group_id),
            r(&e.traits),
            r(&e.context),
            t(&e.timestamp),
            t(&e.original_timestamp),
            t(&e.sent_at),
            t(&e.received_at),
            r(&e.batch),
            r(&e.payload),
        ]
    }

    #[test]
    fn every_envelope_field_has_its_slot() {
        use scan::Want::{Raw, Text};
        let fields = [
            ("type", 0, Text),
            ("messageId", 1, Text),
            ("userId", 2, Text),
            ("anonymousId", 3, Text),
            ("groupId", 4, Text),
            ("traits", 5, Raw),
            ("context", 6, Raw),
            ("timestamp", 7, Text),
            ("originalTimestamp", 8, Text),
            ("sentAt", 9, Text),
            ("receivedAt", 10, Text),
            ("batch", 11, Raw),
            ("payload", 12, Raw),
        ];
        for (name, slot, want) in fields {
            assert_eq!(
                envelope_field(name.as_bytes()),
                Some((slot, want)),
                "{name}"
            );
        }
        for other in [
            "",
            "Type",
            "user_id",
            "groupid",
            "traitsX",
            "channel",
            "integrations",
        ] {
            assert_eq!(envelope_field(other.as_bytes()), None, "{other}");
        }
    }

    /// The fast scan's answer, if it gives one, must be serde_json's answer.
    fn check_fast_path(text: &str) -> bool {
        let mut f = [None; 13];
        let fast = scan::object(text, envelope_field, &mut f).is_some();
        let slow = serde_json::from_str::<Envelope<'_>>(text);
        if fast {
            let read = Envelope::read(text).expect("fast path read");
            let slow =
                slow.unwrap_or_else(|e| panic!("serde rejects what the scan took: {e}: {text}"));
            assert_eq!(view(&read), view(&slow), "{text}");
        }
        fast
    }

    #[test]
    fn raw_values_borrow_without_copying() {
        let text = r#"{"a":[1,2]}"#;
        let raw = raw_value(text).unwrap();
        assert_eq!(raw.get(), text);
        assert_eq!(raw.get().as_ptr(), text.as_ptr());
    }

    #[test]
    fn the_fast_path_takes_ordinary_events() {
        let lines = [
            r#"{"type":"group","messageId":"m","anonymousId":"a","userId":"u","groupId":"g","traits":{"name":"Acme","n":1.5,"x":null,"a":{"b":[true,false]}},"context":{"library":{"name":"js"},"traits":{"e":"x@y"}},"integrations":{"All":true},"originalTimestamp":"2023-01-01T00:00:08.895Z","sentAt":"2023-01-01T00:00:09.499Z","receivedAt":"2023-01-01T00:00:09.216Z","timestamp":"2023-01-01T00:00:08.612Z"}"#,
            r#"{"type":"identify","userId":"u","context":{"traits":{"a":"\u00e9\n"}}, "x" : [ ] }"#,
            r#"{"batch":[{"type":"group"}],"sentAt":null}"#,
            "{}",
        ];
        for line in lines {
            assert!(check_fast_path(line), "{line}");
        }
        for line in [
            r#"{"type":"group","userId":7}"#,
            r#"{"type":"group","userId":"a\"b"}"#,
            r#"{"type":"group","type":"group"}"#,
        ] {
            assert!(!check_fast_path(line), "{line}");
            assert_eq!(parse(line).len(), 1);
        }
    }

    proptest::proptest! {
        // Failing seeds are kept under tests/ (the crate's top level stays as it is).
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 3000,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct(
                    "tests/proptest-regressions/event-fast-path.txt",
                ),
            )),
            ..proptest::prelude::ProptestConfig::default()
        })]
        #[test]
        fn fast_and_slow_envelopes_agree(
            fields in proptest::collection::vec((0usize..16, 0usize..14), 0..8),
            cuts in proptest::collection::vec((0usize..400, 0usize..11), 0..3),
        ) {
            const KEYS: [&str; 16] = [
                "type", "messageId", "userId", "anonymousId", "groupId", "traits", "context",
                "timestamp", "originalTimestamp", "sentAt", "receivedAt", "batch", "payload",
                "other", "ty\\u0070e", "",
            ];
            const VALUES: [&str; 14] = [
                r#""group""#, r#""a"b""#, "null", "12", "-0.5e3", "true", r#"{"a":{"b":[1,{}]}}"#,
                "[]", r#"{"traits":{"x":"y"}}"#, r#""2023-01-01T00:00:00Z""#, "{ }",
                r#"[{"type":"group","userId":"u","groupId":"g"}]"#, r#""é😀""#, r#"{"batch":[]}"#,
            ];
            let mut text = String::from("{");
            for (i, (k, v)) in fields.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(&format!("\"{}\": {}", KEYS[*k], VALUES[*v]));
            }
            text.push('}');
            let mut bytes = text.into_bytes();
            for (at, what) in cuts {
                let at = at % (bytes.len() + 1);
                let insert = b"{}[],:\" 1a\\"[what];
                if what % 3 == 0 && at < bytes.len() {
                    bytes.remove(at);
                } else {
                    bytes.insert(at, insert);
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes)
                && text.starts_with('{')
            {
                check_fast_path(text);
            }
        }
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

    #[test]
    fn unchecked_traits_come_only_with_group_calls_and_answers_stay_the_same() {
        let lines = [
            r#"{"type":"group","userId":"u","groupId":"g","traits":{"plan":"pro","n":[1,2]}}"#,
            r#"{"type":"group","userId":"u","groupId":"g","traits":{"plan":tru}}"#,
            r#"{"type":"group","userId":"u","groupId":"g","traits":{"a":1,,"b":2}}"#,
            r#"{"type":"group","userId":"u","groupId":"g","traits":{"a":[1}]}"#,
            r#"{"userId":"u","groupId":"g","traits":{"a\"b":1}}"#,
            r#"{"type":"group","userId":"u","groupId":"g","traits":[1,2]}"#,
            r#"{"type":"group","userId":"u","traits":{"plan":"pro"}}"#,
            r#"{"type":"group","userId":"u","groupId":"g"}"#,
            r#"{"type":"identify","userId":"u","traits":{"plan":"pro"}}"#,
            r#"{"type":"identify","userId":"u","traits":{"plan":tru}}"#,
            r#"{"type":"track","userId":"u","traits":{"x":[1,]}}"#,
            r#"{"type":"track","userId":"u","traits":{"x":1}}"#,
            r#"{"batch":[{"type":"group","userId":"u","groupId":"g","traits":{"a":1}}]}"#,
            r#"{"type":"group","userId":"u","groupId":"g","traits":{"a":1}} x"#,
            "not json",
            "",
        ];
        let mut flags = Vec::new();
        for line in lines {
            let mut checked = Vec::new();
            parse_text(line.as_bytes(), &mut |r| checked.push(r));
            let mut unchecked = Vec::new();
            parse_text_unchecked(line.as_bytes(), &mut |r, u| unchecked.push((r, u)));
            assert_eq!(checked.len(), unchecked.len(), "{line}");
            for (c, (u, flag)) in checked.into_iter().zip(unchecked) {
                flags.push(flag);
                if !flag {
                    assert_eq!(format!("{c:?}"), format!("{u:?}"), "{line}");
                    continue;
                }
                let u = u.expect("an unchecked event is a group call");
                assert_eq!(u.kind, EventKind::Group, "{line}");
                match c {
                    Ok(c) => assert_eq!(format!("{c:?}"), format!("{u:?}"), "{line}"),
                    // What the model's check of the traits would then learn.
                    Err(e) => assert_eq!(recheck(u.raw), Err(e), "{line}"),
                }
            }
        }
        let expected = [
            true, true, true, true, true, false, false, false, false, false, false, false, false,
            false, false, false,
        ];
        assert_eq!(flags, expected);
    }
}
