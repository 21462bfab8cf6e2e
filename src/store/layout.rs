//! Rows that reopen without parsing (schema V2): a row's `layout` says what the parser found in
//! its `raw` text (the kind, the times, and where the ids and traits are), so reopening a store
//! slices `raw` instead of parsing it again.
//!
//! The encoding is compact because every row carries it: a version byte ([`LAYOUT`]), the
//! kind, a byte of flags saying which parts follow, then the event time (zigzag varint UTC ms
//! and offset minutes), `receivedAt` (zigzag varint, relative to the event time when there is
//! one) and the byte ranges (varint start and length) of `messageId`, `userId`, `anonymousId`,
//! `groupId`, `traits` and `context.traits` that are present.
//!
//! A layout is only written when every part is a slice of `raw` itself (an id with escapes is
//! not), and only trusted when it decodes completely and every range lies inside `raw` on
//! character boundaries, with the traits ranges looking like objects. Any other row (a V1 row,
//! a damaged layout) is parsed as before.

use std::fmt;
use std::ops::ControlFlow;

use rusqlite::types::ValueRef;

use super::{NewEvent, Origin, Store, StoreError};
use crate::event::{EventKind, EventTime, WireEvent, parse_text};
use crate::model::batch::EventParts;

/// The layout version this build writes and trusts. A change to the encoding or to what the
/// parser reports for an event needs a new value, so rows stored under the old one are parsed.
pub const LAYOUT: u8 = 1;

/// The longest encoding: 3 bytes, the time (10 + 3), the received time (10), 6 ranges (10 each).
const MAX_BYTES: usize = 96;

/// Flag bits, in encoding order.
const HAS_TIME: u8 = 1;
const HAS_RECEIVED: u8 = 2;
/// The first range's bit; the ranges follow in [`Ranges`] order.
const FIRST_RANGE: u8 = 4;

/// The text parts of an event whose ranges a layout keeps, in encoding order.
type Ranges<'a> = [Option<&'a str>; 6];

/// A row's `layout` value, encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawLayout {
    bytes: [u8; MAX_BYTES],
    len: u8,
}

impl fmt::Debug for RawLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawLayout({:02x?})", self.as_bytes())
    }
}

impl RawLayout {
    /// The layout of a parsed event, relative to its own text `event.raw` (which must be what
    /// is stored as `raw`); `None` when a part is not a slice of that text (an id with escapes).
    pub fn of(event: &WireEvent<'_>) -> Option<RawLayout> {
        let raw = event.raw;
        let ranges: Ranges<'_> = [
            event.message_id.as_deref(),
            event.user_id.as_deref(),
            event.anonymous_id.as_deref(),
            event.group_id.as_deref(),
            event.traits.map(|t| t.get()),
            event.context_traits.map(|t| t.get()),
        ];
        let time = event.times.event_time();
        let received = event.times.received_at.map(|t| t.utc_ms);
        let mut out = RawLayout {
            bytes: [0; MAX_BYTES],
            len: 0,
        };
        let mut flags = u8::from(time.is_some()) * HAS_TIME;
        flags |= u8::from(received.is_some()) * HAS_RECEIVED;
        for (i, part) in ranges.iter().enumerate() {
            if part.is_some() {
                flags |= FIRST_RANGE << i;
            }
        }
        out.push(LAYOUT);
        out.push(kind_code(event.kind));
        out.push(flags);
        if let Some(t) = time {
            out.zigzag(t.utc_ms);
            out.zigzag(i64::from(t.offset_min));
        }
        if let Some(r) = received {
            out.zigzag(r.wrapping_sub(time.map_or(0, |t| t.utc_ms)));
        }
        for part in ranges.into_iter().flatten() {
            // A pointer difference: the parser hands out slices of the text it was given.
            let start = (part.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
            if start.checked_add(part.len())? > raw.len() {
                return None;
            }
            out.varint(start as u64);
            out.varint(part.len() as u64);
        }
        Some(out)
    }

    /// The layout of an event whose columns were set some other way (a composed call): parses
    /// `e.raw` and returns its layout only when it is one event whose parse gives exactly the
    /// columns of `e`, so that the row reads the same whether it is parsed or not.
    pub fn checked(e: &NewEvent<'_>) -> Option<RawLayout> {
        let mut found = None;
        let mut events = 0;
        parse_text(e.raw.as_bytes(), &mut |result| {
            events += 1;
            let Ok(ev) = result else { return };
            let same = std::ptr::eq(ev.raw, e.raw)
                && kind_name(ev.kind) == e.kind
                && ev.message_id.as_deref() == e.message_id
                && ev.user_id.as_deref() == e.user_id
                && ev.anonymous_id.as_deref() == e.anonymous_id
                && ev.group_id.as_deref() == e.group_id
                && ev.times.event_time().map(|t| t.utc_ms) == e.event_ms
                && ev.times.received_at.map(|t| t.utc_ms) == e.received_ms;
            if same {
                found = RawLayout::of(&ev);
            }
        });
        found.filter(|_| events == 1)
    }

    /// The encoded bytes, as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    fn push(&mut self, b: u8) {
        // MAX_BYTES holds the longest encoding, so this never drops a byte.
        if let Some(slot) = self.bytes.get_mut(usize::from(self.len)) {
            *slot = b;
            self.len += 1;
        }
    }

    fn varint(&mut self, mut v: u64) {
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.push(low);
                return;
            }
            self.push(low | 0x80);
        }
    }

    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
}

/// The `kind` column's value for an event kind.
pub fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Group => "group",
        EventKind::Identify => "identify",
        EventKind::Other => "other",
    }
}

fn kind_code(kind: EventKind) -> u8 {
    match kind {
        EventKind::Group => 0,
        EventKind::Identify => 1,
        EventKind::Other => 2,
    }
}

/// Reads an encoded layout front to back; every read is `None` past the end.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }
}

/// The event a row's layout describes, its text parts sliced from `raw`; `None` when the
/// layout is not one this build wrote for this text (then the row is parsed).
///
/// Only the parts are checked to be UTF-8 (each starts and ends on a character boundary, or
/// its check fails): the rest of the text, most of it, is not read here.
pub fn decode<'a, R: AsRef<[u8]> + ?Sized>(layout: &[u8], raw: &'a R) -> Option<EventParts<'a>> {
    let raw: &'a [u8] = raw.as_ref();
    let mut r = Reader {
        bytes: layout,
        at: 0,
    };
    if r.byte()? != LAYOUT {
        return None;
    }
    let kind = match r.byte()? {
        0 => EventKind::Group,
        1 => EventKind::Identify,
        2 => EventKind::Other,
        _ => return None,
    };
    let flags = r.byte()?;
    let time = if flags & HAS_TIME != 0 {
        let utc_ms = r.zigzag()?;
        let offset_min = i16::try_from(r.zigzag()?).ok()?;
        Some(EventTime { utc_ms, offset_min })
    } else {
        None
    };
    let received_ms = if flags & HAS_RECEIVED != 0 {
        Some(r.zigzag()?.wrapping_add(time.map_or(0, |t| t.utc_ms)))
    } else {
        None
    };
    // The whole row in one SIMD pass: cheaper than a pass per part (std's validator takes
    // the short ones, a call each), and a range that cuts a character fails `get`.
    let text = simdutf8::basic::from_utf8(raw).ok()?;
    let mut parts: Ranges<'a> = [None; 6];
    for (i, part) in parts.iter_mut().enumerate() {
        if flags & (FIRST_RANGE << i) != 0 {
            let start = usize::try_from(r.varint()?).ok()?;
            let len = usize::try_from(r.varint()?).ok()?;
            *part = Some(text.get(start..start.checked_add(len)?)?);
        }
    }
    let [
        message_id,
        user_id,
        anonymous_id,
        group_id,
        traits,
        context_traits,
    ] = parts;
    let object =
        |t: Option<&str>| t.is_none_or(|t| t.len() >= 2 && t.starts_with('{') && t.ends_with('}'));
    if r.at != layout.len() || !object(traits) || !object(context_traits) {
        return None;
    }
    Some(EventParts {
        kind,
        message_id,
        user_id,
        anonymous_id,
        group_id,
        time,
        received_ms,
        traits,
        context_traits,
    })
}

/// One row of the `events` table as reopening reads it.
#[derive(Debug, Clone, Copy)]
pub struct StoredRow<'a> {
    /// Its row id.
    pub rowid: i64,
    /// How it got there.
    pub origin: Origin,
    /// Its whole JSON text, unchecked.
    pub raw: &'a [u8],
    /// Its `layout`, unchecked (`None` on a V1 store or a row stored without one).
    pub layout: Option<&'a [u8]>,
}

impl Store {
    /// Calls `f` for every event in rowid order with its raw text and layout. Stops when `f`
    /// says so; returns whether every row was visited.
    pub fn for_each_stored_event_until(
        &self,
        mut f: impl FnMut(StoredRow<'_>) -> ControlFlow<()>,
    ) -> Result<bool, StoreError> {
        let fail = |e| self.fail(e);
        let version: i32 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail)?;
        // A read-only open of a V1 store has no `layout` column (and cannot add one).
        let sql = if version >= 2 {
            "SELECT id, raw, origin, layout FROM events ORDER BY id"
        } else {
            "SELECT id, raw, origin, NULL FROM events ORDER BY id"
        };
        let mut stmt = self.conn.prepare(sql).map_err(fail)?;
        let mut rows = stmt.query([]).map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            let rowid: i64 = row.get(0).map_err(fail)?;
            let raw = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_bytes()?))
                .map_err(fail)?;
            let origin = match row.get_ref(2).map_err(fail)? {
                ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(Origin::parse),
                _ => None,
            }
            // The CHECK constraint makes any other value impossible in a file we wrote.
            .unwrap_or(Origin::Imported);
            let layout = match row.get_ref(3).map_err(fail)? {
                ValueRef::Blob(b) => Some(b),
                _ => None,
            };
            if f(StoredRow {
                rowid,
                origin,
                raw,
                layout,
            })
            .is_break()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TimeFields;

    /// The one event of `text`.
    fn parse_one(text: &str, f: impl FnOnce(&WireEvent<'_>)) {
        let mut f = Some(f);
        parse_text(text.as_bytes(), &mut |r| {
            if let Some(f) = f.take() {
                f(&r.unwrap());
            }
        });
    }

    /// What the model would take from the parsed event.
    fn parts_of(ev: &WireEvent<'_>) -> String {
        format!("{:?}", EventParts::of(ev))
    }

    const IDENTIFY: &str = r#"{"type":"identify","messageId":" m1 ","anonymousId":"a-é","userId":"u1","traits":{"a":1},"context":{"traits":{"b":{"c":2}}},"originalTimestamp":"2024-01-01T10:00:00+05:30","sentAt":"2024-01-01T04:30:01Z","receivedAt":"2024-01-01T04:30:02.5Z"}"#;

    #[test]
    fn a_layout_reads_back_as_the_parsed_event() {
        for text in [
            IDENTIFY,
            r#"{"type":"group","groupId":"g","userId":"u","traits":{"plan":"pro"},"timestamp":"1969-12-31T23:59:59-01:00"}"#,
            r#"{"type":"track","userId":"u"}"#,
            r#"{"type":"group","groupId":"g","anonymousId":"a","receivedAt":"2024-01-01T00:00:00Z"}"#,
        ] {
            parse_one(text, |ev| {
                let layout = RawLayout::of(ev).unwrap();
                let back = decode(layout.as_bytes(), text).unwrap();
                assert_eq!(format!("{back:?}"), parts_of(ev), "{text}");
            });
        }
    }

    #[test]
    fn extreme_times_and_every_range_fit() {
        let raw = r#"{"m":"m","u":"u","a":"a","g":"g","t":{"x":1},"c":{"y":2}}"#;
        let slice = |from: &str| -> &str {
            let at = raw.find(from).unwrap();
            &raw[at..at + from.len()]
        };
        // Borrowed from `raw` (a `&RawValue` is a slice of its input), as the parser's are.
        let traits: &serde_json::value::RawValue =
            serde_json::from_str(slice(r#"{"x":1}"#)).unwrap();
        let context: &serde_json::value::RawValue =
            serde_json::from_str(slice(r#"{"y":2}"#)).unwrap();
        for (utc_ms, received) in [(i64::MIN, i64::MAX), (i64::MAX, i64::MIN), (0, 0)] {
            let ev = WireEvent {
                kind: EventKind::Identify,
                message_id: Some(slice("\"m\"")[1..2].into()),
                user_id: Some(slice("\"u\"")[1..2].into()),
                anonymous_id: Some(slice("\"a\"")[1..2].into()),
                group_id: Some(slice("\"g\"")[1..2].into()),
                traits: Some(traits),
                context_traits: Some(context),
                times: TimeFields {
                    timestamp: Some(EventTime {
                        utc_ms,
                        offset_min: i16::MIN,
                    }),
                    received_at: Some(EventTime::from_utc_ms(received)),
                    ..TimeFields::default()
                },
                raw,
            };
            let layout = RawLayout::of(&ev).unwrap();
            let back = decode(layout.as_bytes(), raw).unwrap();
            assert_eq!(
                back.time.map(|t| (t.utc_ms, t.offset_min)),
                Some((utc_ms, i16::MIN))
            );
            assert_eq!(back.received_ms, Some(received));
            assert_eq!(back.group_id, Some("g"));
            assert_eq!(back.traits, Some(r#"{"x":1}"#));
            assert_eq!(back.context_traits, Some(r#"{"y":2}"#));
            assert!(layout.as_bytes().len() < MAX_BYTES);
        }
    }

    #[test]
    fn parts_that_are_not_slices_of_the_text_get_no_layout() {
        for text in [
            r#"{"type":"group","groupId":"g\"1","userId":"u","traits":{}}"#,
            r#"{"type":"group","groupId":7,"userId":"u"}"#,
        ] {
            parse_one(text, |ev| assert_eq!(RawLayout::of(ev), None, "{text}"));
        }
    }

    #[test]
    fn a_layout_that_does_not_fit_its_text_is_refused() {
        let mut layout = None;
        parse_one(IDENTIFY, |ev| layout = RawLayout::of(ev));
        let good = layout.unwrap().as_bytes().to_vec();
        assert!(decode(&good, IDENTIFY).is_some());
        // Every shorter prefix, one byte more, another version or kind.
        for n in 0..good.len() {
            assert!(decode(&good[..n], IDENTIFY).is_none(), "cut at {n}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(decode(&longer, IDENTIFY).is_none());
        for (at, value) in [(0, LAYOUT + 1), (1, 3)] {
            let mut other = good.clone();
            other[at] = value;
            assert!(decode(&other, IDENTIFY).is_none());
        }
        // A shorter text: the ranges run past its end.
        assert!(decode(&good, &IDENTIFY[..IDENTIFY.len() / 2]).is_none());
        // Ranges into a text of another shape: mid-character, or traits that are no object.
        let hand = |ranges: &[(u64, u64)], flags: u8| {
            let mut l = RawLayout {
                bytes: [0; MAX_BYTES],
                len: 0,
            };
            l.push(LAYOUT);
            l.push(kind_code(EventKind::Group));
            l.push(flags);
            for &(start, len) in ranges {
                l.varint(start);
                l.varint(len);
            }
            l
        };
        let text = r#"{"g":"é","traits":{"a":1}}"#;
        let group = FIRST_RANGE << 3;
        let traits = FIRST_RANGE << 4;
        assert!(decode(hand(&[(6, 2)], group).as_bytes(), text).is_some());
        assert!(decode(hand(&[(6, 1)], group).as_bytes(), text).is_none());
        assert!(decode(hand(&[(19, 7)], traits).as_bytes(), text).is_some());
        assert!(decode(hand(&[(19, 6)], traits).as_bytes(), text).is_none());
        assert!(decode(hand(&[(20, 6)], traits).as_bytes(), text).is_none());
        assert!(decode(hand(&[(19, u64::MAX)], traits).as_bytes(), text).is_none());
        // A row that is not UTF-8 somewhere outside the ranges is refused too (it is then
        // parsed, which says where).
        let mut broken = text.as_bytes().to_vec();
        broken.push(0xff);
        assert!(decode(hand(&[(6, 2)], group).as_bytes(), &broken[..]).is_none());
        // A varint longer than 64 bits.
        let mut long = hand(&[], group);
        for _ in 0..11 {
            long.push(0xff);
        }
        assert!(decode(long.as_bytes(), text).is_none());
    }

    #[test]
    fn a_composed_call_gets_a_layout_only_when_its_columns_match_the_parse() {
        let raw = r#"{"type":"group","messageId":"c1","userId":"u","groupId":"g","traits":{"p":1},"timestamp":"2030-01-01T00:00:00+01:00"}"#;
        let columns = NewEvent {
            message_id: Some("c1"),
            kind: "group",
            user_id: Some("u"),
            anonymous_id: None,
            group_id: Some("g"),
            event_ms: Some(1_893_452_400_000),
            received_ms: None,
            origin: Origin::Local,
            source: "groupscope",
            raw,
            layout: None,
        };
        let layout = RawLayout::checked(&columns).unwrap();
        let back = decode(layout.as_bytes(), raw).unwrap();
        assert_eq!(back.time.map(|t| t.offset_min), Some(60));
        assert_eq!(back.traits, Some(r#"{"p":1}"#));
        let other_time = NewEvent {
            event_ms: Some(0),
            ..columns
        };
        assert_eq!(RawLayout::checked(&other_time), None);
        let batch = r#"{"batch":[{"type":"group","groupId":"g","userId":"u"},{"type":"group","groupId":"g","userId":"u"}]}"#;
        let two = NewEvent {
            message_id: None,
            event_ms: None,
            raw: batch,
            ..columns
        };
        assert_eq!(RawLayout::checked(&two), None);
    }
}
