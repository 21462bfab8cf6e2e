//! A [`Batch`]: the events of one piece of input (a chunk of lines, a document, some rows), in
//! compact form with ids interned locally, ready for the [`super::ModelBuilder`] to merge.
//!
//! Batches are built on worker threads; only merging them is sequential. A worker keeps its
//! [`LocalTables`] from one batch to the next, so a string, trait member or snapshot it has seen
//! before costs one hash lookup; each batch carries only what the tables learned since the
//! worker's previous batch, and the builder maps those local ids to global ones in input order
//! (so the model does not depend on how many threads read it).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::xxh3_128_with_seed;

use super::flatten::{FlatTraits, FlattenError};
use super::intern::{Sym, TextHash, text_hash};
use super::known::{KnownSnapshots, SnapshotIndex};
use super::table::{HashTable, MessageSet};
use crate::event::{EventError, EventKind, EventTime, WireEvent, parse_text_unchecked, recheck};

/// Where an event came from, precisely enough to read its raw JSON again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    /// Index into the model's sources.
    pub source: u16,
    /// 1-based line number in a text source; 0 for database rows.
    pub line: u32,
    /// Byte offset of the event's text in the (decompressed) source, or the row id.
    pub offset: u64,
    /// Length of the event's text in bytes (0 for database rows).
    pub len: u32,
}

/// A skipped event or line, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index into the model's sources.
    pub source: u16,
    /// 1-based line, or the row id for database sources.
    pub line: u64,
    /// Why it was skipped.
    pub error: ProblemKind,
}

/// Why something was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// The event itself was bad.
    #[error(transparent)]
    Event(#[from] EventError),
    /// Its traits could not be read.
    #[error(transparent)]
    Traits(#[from] FlattenError),
    /// The input stopped early or could not be read further.
    #[error("{0}")]
    Input(String),
}

/// Where the next [`LocalTables`] lineage number comes from.
static LINEAGES: AtomicU64 = AtomicU64::new(1);

/// A worker's own tables of what it has read so far (strings, trait members, snapshots by
/// hash), kept from one batch to the next so that repeats cost one lookup.
#[derive(Debug)]
pub struct LocalTables {
    /// Names these tables for the builder, which maps their ids to global ones.
    pub(crate) lineage: u64,
    strings: HashTable,
    members: HashTable,
    member_leaves: Vec<u32>,
    /// Snapshots by hash: local ids, or global ones (tagged [`super::known::GLOBAL`]) found
    /// in `known`.
    snapshots: HashTable,
    /// Snapshots learned here (the next local id).
    learned_snapshots: u32,
    /// The builder's published snapshots, as of the start of this chunk.
    known: Option<Arc<SnapshotIndex>>,
}

impl Default for LocalTables {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalTables {
    /// Empty tables with a new lineage.
    pub fn new() -> Self {
        LocalTables {
            lineage: LINEAGES.fetch_add(1, Ordering::Relaxed),
            strings: HashTable::default(),
            members: HashTable::default(),
            member_leaves: Vec::new(),
            snapshots: HashTable::default(),
            learned_snapshots: 0,
            known: None,
        }
    }

    /// Their lineage, for [`super::ModelBuilder::forget_tables`].
    pub fn lineage(&self) -> u64 {
        self.lineage
    }
}

/// A string the tables learned in this batch: its hash and where its text is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewString {
    pub hash: TextHash,
    pub start: u32,
    pub len: u32,
}

/// A trait member (one top-level key and its value, flattened) learned in this batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewMember {
    pub hash: TextHash,
    pub start: u32,
    pub len: u32,
}

/// A snapshot learned in this batch: its member ids in [`Batch::snapshot_members`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewSnapshot {
    pub hash: TextHash,
    pub start: u32,
    pub len: u32,
}

/// One event in compact form, ids as local symbols.
#[derive(Debug, Clone)]
pub(crate) struct LocalEvent {
    pub kind: EventKind,
    /// The messageId's key in the builder's duplicate check ([`super::table::MessageSet::key`]).
    pub message: Option<u64>,
    pub user_id: Option<Sym>,
    pub anonymous_id: Option<Sym>,
    pub group_id: Option<Sym>,
    pub time: Option<EventTime>,
    pub received_ms: i64,
    pub snapshot: Option<u32>,
    pub origin: Origin,
}

/// What the model keeps of one event, borrowed: a [`WireEvent`]'s fields after the time rules,
/// with `traits` and `context.traits` as their JSON text.
#[derive(Debug, Clone, Copy)]
pub struct EventParts<'a> {
    /// Group, identify or other.
    pub kind: EventKind,
    /// `messageId`, trimmed.
    pub message_id: Option<&'a str>,
    /// `userId`.
    pub user_id: Option<&'a str>,
    /// `anonymousId`.
    pub anonymous_id: Option<&'a str>,
    /// `groupId`.
    pub group_id: Option<&'a str>,
    /// The event time ([`crate::event::TimeFields::event_time`]).
    pub time: Option<EventTime>,
    /// `receivedAt`, UTC milliseconds.
    pub received_ms: Option<i64>,
    /// The root `traits` object's text.
    pub traits: Option<&'a str>,
    /// `context.traits`' text.
    pub context_traits: Option<&'a str>,
}

impl<'a> EventParts<'a> {
    /// The parts of a parsed event, borrowed from its text; `None` when a part is not in the
    /// text as it is (an id sent as a number, or with escapes, which the event owns).
    pub fn borrowed(ev: &WireEvent<'a>) -> Option<Self> {
        fn text<'a>(field: &Option<Cow<'a, str>>) -> Option<Option<&'a str>> {
            match field {
                None => Some(None),
                Some(Cow::Borrowed(s)) => Some(Some(s)),
                Some(Cow::Owned(_)) => None,
            }
        }
        let ids = [
            text(&ev.message_id)?,
            text(&ev.user_id)?,
            text(&ev.anonymous_id)?,
            text(&ev.group_id)?,
        ];
        Some(Self::with_ids(ev, ids))
    }

    /// The parts of a parsed event.
    pub fn of(ev: &'a WireEvent<'a>) -> Self {
        let ids = [
            ev.message_id.as_deref(),
            ev.user_id.as_deref(),
            ev.anonymous_id.as_deref(),
            ev.group_id.as_deref(),
        ];
        Self::with_ids(ev, ids)
    }

    /// The parts of `ev` with its messageId, userId, anonymousId and groupId as given.
    fn with_ids(ev: &WireEvent<'a>, ids: [Option<&'a str>; 4]) -> Self {
        let [message_id, user_id, anonymous_id, group_id] = ids;
        EventParts {
            kind: ev.kind,
            message_id,
            user_id,
            anonymous_id,
            group_id,
            time: ev.times.event_time(),
            received_ms: ev.times.received_at.map(|t| t.utc_ms),
            traits: ev.traits.map(|t| t.get()),
            context_traits: ev.context_traits.map(|t| t.get()),
        }
    }
}

/// The compact result of reading some input.
#[derive(Debug)]
pub struct Batch {
    tables: LocalTables,
    /// The lineage of the tables the local ids below belong to.
    pub(crate) lineage: u64,
    /// True when the tables live only as long as this batch (not a worker's).
    pub(crate) standalone: bool,
    pub(crate) new_strings: Vec<NewString>,
    pub(crate) text: String,
    pub(crate) new_members: Vec<NewMember>,
    pub(crate) leaves: Vec<(Sym, Sym)>,
    pub(crate) new_snapshots: Vec<NewSnapshot>,
    pub(crate) snapshot_members: Vec<u32>,
    pub(crate) events: Vec<LocalEvent>,
    pub(crate) problems: Vec<Problem>,
    /// Lines (or rows) read.
    pub lines: u64,
    /// Bytes of text parsed (lines and documents).
    pub bytes: u64,
    scratch: FlatTraits,
    /// Room for one call's trait members, kept from call to call (see [`snapshot::reuse`]).
    spare_members: Vec<(&'static str, &'static str)>,
    /// Room for the same members with their sort keys.
    spare_keyed: Vec<(u64, &'static str, &'static str)>,
    /// Room for the members' hashes.
    spare_hashes: Vec<TextHash>,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

/// Events parsed before their table lookups: enough that the lines asked for by
/// [`EventHashes::prefetch`] arrive while the next ones are parsed, few enough that they are
/// still in the cache when used.
const AHEAD: usize = 8;

/// How far ahead of the line being parsed its text is asked for: a page, since the hardware
/// prefetchers stop at page boundaries and a mapped file's pages lie anywhere in memory (line
/// splitting waited on each new page: memchr 3.6% of samples on the 1M file, 1.0% with this).
pub(crate) const PREFETCH_TEXT: usize = 4096;

/// A parsed event (or problem) waiting for its table lookups.
struct Parsed<'a> {
    item: Result<(Held<'a>, Origin, EventHashes), EventError>,
    /// The group call's traits are unchecked (see [`parse_text_unchecked`]).
    unchecked: bool,
    source: u16,
    line_no: u64,
}

/// A parsed event as it waits: the parts the model keeps, borrowed from the text, which move
/// at a fraction of the whole event's size (events are moved twice on the way, and the moves
/// showed in the profile); or, when a part is not in the text as it is (an id sent as a
/// number, or with escapes), the whole event.
enum Held<'a> {
    Parts { parts: EventParts<'a>, raw: &'a str },
    Whole(Box<WireEvent<'a>>),
}

impl<'a> Held<'a> {
    /// Holds `event`.
    fn of(event: WireEvent<'a>) -> Self {
        match EventParts::borrowed(&event) {
            Some(parts) => Held::Parts {
                parts,
                raw: event.raw,
            },
            None => Held::Whole(Box::new(event)),
        }
    }

    /// Calls `f` with the event's parts (worked out again for a whole event: rare).
    #[inline(always)]
    fn with_parts<R>(&self, f: impl FnOnce(&EventParts<'_>) -> R) -> R {
        match self {
            Held::Parts { parts, .. } => f(parts),
            Held::Whole(event) => f(&EventParts::of(event)),
        }
    }

    /// The event's exact text.
    fn raw(&self) -> &'a str {
        match self {
            Held::Parts { raw, .. } => raw,
            Held::Whole(event) => event.raw,
        }
    }
}

/// The hashes an event is looked up by (0 for what it lacks).
#[derive(Debug, Clone, Copy, Default)]
pub struct EventHashes {
    user_id: TextHash,
    anonymous_id: TextHash,
    group_id: TextHash,
    /// The snapshot key: the group call's traits text, or an identify call's root and
    /// context traits together.
    traits: TextHash,
}

impl EventHashes {
    fn of(ev: &EventParts<'_>) -> Self {
        let id = |t: Option<&str>| t.map_or(0, |s| text_hash(s.as_bytes()));
        let traits = match ev.kind {
            EventKind::Group => text_hash(ev.traits.unwrap_or("{}").as_bytes()),
            EventKind::Identify => user_traits_hash(ev.traits, ev.context_traits),
            EventKind::Other => 0,
        };
        EventHashes {
            user_id: id(ev.user_id),
            anonymous_id: id(ev.anonymous_id),
            group_id: id(ev.group_id),
            traits,
        }
    }

    /// Asks for the table lines these hashes will be looked up in.
    fn prefetch(&self, tables: &LocalTables) {
        for h in [self.user_id, self.anonymous_id, self.group_id] {
            if h != 0 {
                tables.strings.prefetch(h);
            }
        }
        if self.traits != 0 {
            tables.snapshots.prefetch(self.traits);
        }
    }
}

/// The snapshot key of an identify call's traits: root and context traits, kept apart.
fn user_traits_hash(root: Option<&str>, context: Option<&str>) -> TextHash {
    let mut key = Vec::with_capacity(2 + root.map_or(0, str::len) + context.map_or(0, str::len));
    key.extend_from_slice(root.unwrap_or("").as_bytes());
    key.push(0);
    key.extend_from_slice(context.unwrap_or("").as_bytes());
    xxh3_128_with_seed(&key, SEED_USER)
}

/// Hash seeds that keep the kinds of hashed text apart.
const SEED_WHOLE: u64 = 1;
const SEED_USER: u64 = 2;

impl Batch {
    /// An empty batch with tables of its own.
    pub fn new() -> Self {
        let mut b = Self::with_tables(LocalTables::new());
        b.standalone = true;
        b
    }

    /// An empty batch that extends a worker's tables; take them back with
    /// [`Batch::take_tables`] before handing the batch to the builder.
    pub fn with_tables(tables: LocalTables) -> Self {
        Batch {
            lineage: tables.lineage,
            tables,
            standalone: false,
            new_strings: Vec::new(),
            text: String::new(),
            new_members: Vec::new(),
            leaves: Vec::new(),
            new_snapshots: Vec::new(),
            snapshot_members: Vec::new(),
            events: Vec::new(),
            problems: Vec::new(),
            lines: 0,
            bytes: 0,
            scratch: FlatTraits::new(),
            spare_members: Vec::new(),
            spare_keyed: Vec::new(),
            spare_hashes: Vec::new(),
        }
    }

    /// Gives the worker's tables back (the batch keeps what it learned).
    pub fn take_tables(&mut self) -> LocalTables {
        let empty = LocalTables {
            lineage: self.lineage,
            strings: HashTable::default(),
            members: HashTable::default(),
            member_leaves: Vec::new(),
            snapshots: HashTable::default(),
            learned_snapshots: 0,
            known: None,
        };
        std::mem::replace(&mut self.tables, empty)
    }

    /// Lets this batch use the snapshots the builder has published so far.
    pub fn know(&mut self, known: &KnownSnapshots) {
        self.tables.known = Some(known.current());
    }

    /// Parses newline-separated text. `first_line` is the 1-based number of its first line and
    /// `base_offset` its byte offset in the source.
    pub fn parse_lines(
        &mut self,
        text: &[u8],
        source: u16,
        first_line: u64,
        base_offset: u64,
        known: &KnownSnapshots,
    ) {
        self.know(known);
        self.bytes += text.len() as u64;
        // Real exports run about 1 KB an event: grow once or twice, not a dozen times.
        self.events.reserve(text.len() / 512 + 16);
        // And about one new string a kilobyte: most events bring an anonymousId (36 bytes)
        // not seen before.
        self.new_strings.reserve(text.len() / 1024 + 16);
        self.text.reserve(text.len() / 1024 * 40);
        let mut ahead: Vec<Parsed<'_>> = Vec::with_capacity(AHEAD + 4);
        let mut line_no = first_line;
        let mut start = 0usize;
        let mut fetched = 0usize;
        let mut lines = memchr::memchr_iter(b'\n', text);
        loop {
            let end = lines.next();
            let stop = end.unwrap_or(text.len());
            if end.is_none() && start >= text.len() {
                break;
            }
            let line = &text[start..stop];
            super::table::prefetch_bytes(text, &mut fetched, stop + PREFETCH_TEXT);
            self.lines += 1;
            self.parse_ahead(
                line,
                base_offset + start as u64,
                source,
                line_no,
                &mut ahead,
            );
            if ahead.len() >= AHEAD {
                self.push_parsed(&mut ahead);
            }
            line_no += 1;
            match end {
                Some(e) => start = e + 1,
                None => break,
            }
        }
        self.push_parsed(&mut ahead);
    }

    /// Parses one whole JSON document (an array of events, or one batch body); line numbers
    /// are worked out from the offsets.
    pub fn parse_document(&mut self, text: &[u8], source: u16, known: &KnownSnapshots) {
        self.lines += 1;
        self.bytes += text.len() as u64;
        self.parse_one(text, 0, source, 1, known);
        // Events carry offsets; turn them into line numbers in one pass.
        let mut order: Vec<usize> = (0..self.events.len()).collect();
        order.sort_by_key(|&i| self.events[i].origin.offset);
        let mut line = 1u64;
        let mut pos = 0usize;
        for i in order {
            let off = self.events[i].origin.offset as usize;
            if off > pos && off <= text.len() {
                line += memchr::memchr_iter(b'\n', &text[pos..off]).count() as u64;
                pos = off;
            }
            self.events[i].origin.line = line.min(u64::from(u32::MAX)) as u32;
        }
    }

    /// Parses one line (or document) and records its events and problems.
    fn parse_one(
        &mut self,
        line: &[u8],
        line_offset: u64,
        source: u16,
        line_no: u64,
        _known: &KnownSnapshots,
    ) {
        let mut parsed = Vec::new();
        self.parse_ahead(line, line_offset, source, line_no, &mut parsed);
        self.push_parsed(&mut parsed);
    }

    /// Parses one line (or document) into `out`, hashing each event's ids and traits and
    /// asking for the table lines they will be looked up in (pushed later by
    /// [`Batch::push_parsed`], by which time those lines have mostly arrived).
    fn parse_ahead<'a>(
        &self,
        line: &'a [u8],
        line_offset: u64,
        source: u16,
        line_no: u64,
        out: &mut Vec<Parsed<'a>>,
    ) {
        let text_start = line.as_ptr() as usize;
        parse_text_unchecked(line, &mut |result, unchecked| {
            let line = line_no.min(u64::from(u32::MAX)) as u32;
            let item = match result {
                Ok(event) => {
                    let offset = line_offset + (event.raw.as_ptr() as usize - text_start) as u64;
                    let origin = Origin {
                        source,
                        line,
                        offset,
                        len: event.raw.len() as u32,
                    };
                    let held = Held::of(event);
                    let hashes = held.with_parts(EventHashes::of);
                    hashes.prefetch(&self.tables);
                    Ok((held, origin, hashes))
                }
                Err(e) => Err(e),
            };
            out.push(Parsed {
                item,
                unchecked,
                source,
                line_no,
            });
        });
    }

    /// Records the events and problems in `parsed`, in order, and empties it.
    fn push_parsed(&mut self, parsed: &mut Vec<Parsed<'_>>) {
        for p in parsed.drain(..) {
            let error: ProblemKind = match p.item {
                Ok((held, origin, hashes)) => {
                    let pushed = held
                        .with_parts(|parts| self.push_hashed(parts, origin, &hashes, !p.unchecked));
                    match pushed {
                        Ok(()) => continue,
                        // Unchecked traits that fail are first asked whether the line is
                        // JSON at all, so the problem reads as `parse_text` would put it.
                        Err(e) => match p.unchecked.then(|| recheck(held.raw())) {
                            Some(Err(not_json)) => not_json.into(),
                            _ => e.into(),
                        },
                    }
                }
                Err(e) => e.into(),
            };
            self.problems.push(Problem {
                source: p.source,
                line: p.line_no,
                error,
            });
        }
    }

    /// Adds one parsed event. Fails only when its traits cannot be read.
    pub fn push_event(
        &mut self,
        ev: &WireEvent<'_>,
        origin: Origin,
        _known: &KnownSnapshots,
    ) -> Result<(), FlattenError> {
        self.push_parts(&EventParts::of(ev), origin)
    }

    /// Adds one event given by its parts (a store row read without parsing its text). Fails
    /// only when its traits cannot be read.
    pub fn push_parts(&mut self, ev: &EventParts<'_>, origin: Origin) -> Result<(), FlattenError> {
        self.push_hashed(ev, origin, &EventHashes::of(ev), true)
    }

    /// Hashes an event that will be pushed a few events later with
    /// [`Batch::push_parts_hashed`], asking for the table lines it will be looked up in.
    pub fn hash_ahead(&self, ev: &EventParts<'_>) -> EventHashes {
        let hashes = EventHashes::of(ev);
        hashes.prefetch(&self.tables);
        hashes
    }

    /// [`Batch::push_parts`] with the hashes [`Batch::hash_ahead`] gave.
    pub fn push_parts_hashed(
        &mut self,
        ev: &EventParts<'_>,
        origin: Origin,
        hashes: &EventHashes,
    ) -> Result<(), FlattenError> {
        self.push_hashed(ev, origin, hashes, true)
    }

    /// [`Batch::push_event`] with the event's hashes already worked out; `checked` is false
    /// for a group call whose traits text nothing has checked yet.
    fn push_hashed(
        &mut self,
        ev: &EventParts<'_>,
        origin: Origin,
        hashes: &EventHashes,
        checked: bool,
    ) -> Result<(), FlattenError> {
        let snapshot = match ev.kind {
            EventKind::Group => Some(self.group_snapshot(ev.traits, hashes.traits, checked)?),
            EventKind::Identify => {
                Some(self.user_snapshot(ev.traits, ev.context_traits, hashes.traits)?)
            }
            EventKind::Other => None,
        };
        let user_id = ev.user_id.map(|s| self.intern_hashed(hashes.user_id, s));
        let anonymous_id = ev
            .anonymous_id
            .map(|s| self.intern_hashed(hashes.anonymous_id, s));
        let group_id = ev.group_id.map(|s| self.intern_hashed(hashes.group_id, s));
        self.events.push(LocalEvent {
            kind: ev.kind,
            message: ev.message_id.map(MessageSet::key),
            user_id,
            anonymous_id,
            group_id,
            time: ev.time,
            received_ms: ev.received_ms.unwrap_or(i64::MIN),
            snapshot,
            origin,
        });
        Ok(())
    }

    /// Adds `delta` to every line number (batches are parsed with chunk-relative lines).
    pub fn shift_lines(&mut self, delta: u64) {
        if delta == 0 {
            return;
        }
        for e in &mut self.events {
            e.origin.line = (u64::from(e.origin.line) + delta).min(u64::from(u32::MAX)) as u32;
        }
        for p in &mut self.problems {
            p.line += delta;
        }
    }

    /// Records a problem found outside the parser (a read error, an oversized line).
    pub fn push_problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// The local symbol of a string, learning it if new.
    fn intern(&mut self, text: &str) -> Sym {
        self.intern_hashed(text_hash(text.as_bytes()), text)
    }

    /// [`Batch::intern`] with the text's hash already worked out.
    fn intern_hashed(&mut self, hash: TextHash, text: &str) -> Sym {
        if let Some(id) = self.tables.strings.get(hash) {
            return Sym(id);
        }
        let id = self.tables.strings.len() as u32;
        self.tables.strings.insert(hash, id);
        self.new_strings.push(NewString {
            hash,
            start: self.text.len() as u32,
            len: text.len() as u32,
        });
        self.text.push_str(text);
        Sym(id)
    }
}

mod snapshot;

#[cfg(test)]
mod tests;
