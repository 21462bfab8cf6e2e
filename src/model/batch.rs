//! A [`Batch`]: the events of one piece of input (a chunk of lines, a document, some rows), in
//! compact form with ids interned locally, ready for the [`super::ModelBuilder`] to merge.
//!
//! Batches are built on worker threads; only merging them is sequential.

use std::sync::RwLock;

use super::flatten::{FlattenError, flatten_traits, flatten_user_traits};
use super::intern::{HashedMap, Interner, Sym, TextHash, text_hash};
use crate::event::{EventError, EventKind, EventTime, WireEvent, parse_text};

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

/// Snapshots of traits that some batch already flattened and the builder holds, so other workers
/// need not flatten them again.
#[derive(Debug, Default)]
pub struct KnownSnapshots(pub(crate) RwLock<HashedMap<()>>);

impl KnownSnapshots {
    fn contains(&self, hash: TextHash) -> bool {
        self.0
            .read()
            .map(|m| m.contains_key(&hash))
            .unwrap_or(false)
    }
}

/// A traits snapshot as a batch saw it: its identity, and its pairs unless already known.
#[derive(Debug)]
pub(crate) struct LocalSnapshot {
    pub hash: TextHash,
    pub pairs: Option<Vec<(Sym, Sym)>>,
}

/// One event in compact form, ids as local symbols.
#[derive(Debug, Clone)]
pub(crate) struct LocalEvent {
    pub kind: EventKind,
    pub message: Option<TextHash>,
    pub user_id: Option<Sym>,
    pub anonymous_id: Option<Sym>,
    pub group_id: Option<Sym>,
    pub time: Option<EventTime>,
    pub received_ms: i64,
    pub snapshot: Option<u32>,
    pub origin: Origin,
}

/// The compact result of reading some input.
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) strings: Interner,
    pub(crate) snapshots: Vec<LocalSnapshot>,
    snapshot_index: HashedMap<u32>,
    pub(crate) events: Vec<LocalEvent>,
    pub(crate) problems: Vec<Problem>,
    /// Lines (or rows) read.
    pub lines: u64,
    scratch: Vec<(String, String)>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
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
        let mut line_no = first_line;
        let mut start = 0usize;
        let mut lines = memchr::memchr_iter(b'\n', text);
        loop {
            let end = lines.next();
            let stop = end.unwrap_or(text.len());
            if end.is_none() && start >= text.len() {
                break;
            }
            let line = &text[start..stop];
            self.lines += 1;
            self.parse_one(line, base_offset + start as u64, source, line_no, known);
            line_no += 1;
            match end {
                Some(e) => start = e + 1,
                None => break,
            }
        }
    }

    /// Parses one whole JSON document (an array of events, or one batch body); line numbers
    /// are worked out from the offsets.
    pub fn parse_document(&mut self, text: &[u8], source: u16, known: &KnownSnapshots) {
        self.lines += 1;
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
        known: &KnownSnapshots,
    ) {
        let mut found = Vec::new();
        parse_text(line, &mut |r| found.push(r));
        for result in found {
            match result {
                Ok(ev) => {
                    let text_start = line.as_ptr() as usize;
                    let offset = line_offset + (ev.raw.as_ptr() as usize - text_start) as u64;
                    let origin = Origin {
                        source,
                        line: line_no.min(u64::from(u32::MAX)) as u32,
                        offset,
                        len: ev.raw.len() as u32,
                    };
                    if let Err(e) = self.push_event(&ev, origin, known) {
                        self.problems.push(Problem {
                            source,
                            line: line_no,
                            error: e.into(),
                        });
                    }
                }
                Err(e) => self.problems.push(Problem {
                    source,
                    line: line_no,
                    error: e.into(),
                }),
            }
        }
    }

    /// Adds one parsed event. Fails only when its traits cannot be read.
    pub fn push_event(
        &mut self,
        ev: &WireEvent<'_>,
        origin: Origin,
        known: &KnownSnapshots,
    ) -> Result<(), FlattenError> {
        let snapshot = match ev.kind {
            EventKind::Group => Some(self.group_snapshot(ev.traits.map(|t| t.get()), known)?),
            EventKind::Identify => Some(self.user_snapshot(
                ev.traits.map(|t| t.get()),
                ev.context_traits.map(|t| t.get()),
                known,
            )?),
            EventKind::Other => None,
        };
        let mut sym =
            |s: &Option<std::borrow::Cow<'_, str>>| s.as_deref().map(|s| self.strings.intern(s));
        let user_id = sym(&ev.user_id);
        let anonymous_id = sym(&ev.anonymous_id);
        let group_id = sym(&ev.group_id);
        self.events.push(LocalEvent {
            kind: ev.kind,
            message: ev.message_id.as_deref().map(|m| text_hash(m.as_bytes())),
            user_id,
            anonymous_id,
            group_id,
            time: ev.times.event_time(),
            received_ms: ev.times.received_at.map_or(i64::MIN, |t| t.utc_ms),
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

    fn group_snapshot(
        &mut self,
        raw: Option<&str>,
        known: &KnownSnapshots,
    ) -> Result<u32, FlattenError> {
        let raw = raw.unwrap_or("{}");
        let hash = text_hash(raw.as_bytes());
        if let Some(&i) = self.snapshot_index.get(&hash) {
            return Ok(i);
        }
        let pairs = if known.contains(hash) {
            None
        } else {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.clear();
            let result = flatten_traits(raw, &mut scratch);
            let pairs = result.map(|()| self.intern_pairs(&scratch));
            self.scratch = scratch;
            Some(pairs?)
        };
        Ok(self.add_snapshot(hash, pairs))
    }

    fn user_snapshot(
        &mut self,
        root: Option<&str>,
        context: Option<&str>,
        known: &KnownSnapshots,
    ) -> Result<u32, FlattenError> {
        let mut key =
            Vec::with_capacity(2 + root.map_or(0, str::len) + context.map_or(0, str::len));
        key.extend_from_slice(root.unwrap_or("").as_bytes());
        key.push(0);
        key.extend_from_slice(context.unwrap_or("").as_bytes());
        let hash = text_hash(&key);
        if let Some(&i) = self.snapshot_index.get(&hash) {
            return Ok(i);
        }
        let pairs = if known.contains(hash) {
            None
        } else {
            let flat = flatten_user_traits(root, context)?;
            Some(self.intern_pairs(&flat))
        };
        Ok(self.add_snapshot(hash, pairs))
    }

    fn intern_pairs(&mut self, flat: &[(String, String)]) -> Vec<(Sym, Sym)> {
        flat.iter()
            .map(|(k, v)| (self.strings.intern(k), self.strings.intern(v)))
            .collect()
    }

    fn add_snapshot(&mut self, hash: TextHash, pairs: Option<Vec<(Sym, Sym)>>) -> u32 {
        let i = self.snapshots.len() as u32;
        self.snapshots.push(LocalSnapshot { hash, pairs });
        self.snapshot_index.insert(hash, i);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_numbers_offsets_and_problems() {
        let text = b"{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\",\"traits\":{\"a\":1}}\nnot json\n\n{\"type\":\"track\",\"userId\":\"u\"}";
        let mut b = Batch::new();
        b.parse_lines(text, 0, 10, 100, &KnownSnapshots::default());
        assert_eq!(b.lines, 4);
        assert_eq!(b.events.len(), 2);
        assert_eq!(b.events[0].origin.line, 10);
        assert_eq!(b.events[0].origin.offset, 100);
        assert_eq!(b.events[1].origin.line, 13);
        assert_eq!(b.events[1].origin.offset, 100 + text.len() as u64 - 29);
        let lines: Vec<u64> = b.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![11, 12]);
        assert_eq!(b.snapshots.len(), 1);
    }

    #[test]
    fn a_trailing_newline_is_not_an_empty_line() {
        let mut b = Batch::new();
        b.parse_lines(
            b"{\"type\":\"track\"}\n",
            0,
            1,
            0,
            &KnownSnapshots::default(),
        );
        assert_eq!(b.lines, 1);
        assert!(b.problems.is_empty());
    }

    #[test]
    fn documents_get_line_numbers_from_offsets() {
        let text = b"[\n {\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\"},\n\n {\"type\":\"group\",\"userId\":\"v\",\"groupId\":\"g\"}\n]";
        let mut b = Batch::new();
        b.parse_document(text, 0, &KnownSnapshots::default());
        let lines: Vec<u32> = b.events.iter().map(|e| e.origin.line).collect();
        assert_eq!(lines, vec![2, 4]);
    }
}
