//! The domain model: users, groups, memberships, group calls in event-time order, and the
//! trait history of every group (and every user, from identify calls).
//!
//! Built once by [`ModelBuilder`] from [`Batch`]es; afterwards every question (a group's members,
//! a user's groups, a trait's history, a group's current traits) is answered from indexes,
//! without rescanning the input.

pub mod batch;
mod build;
pub mod flatten;
mod fold;
pub mod intern;
mod known;
mod order;
mod phases;
pub mod snapshot;
pub(crate) mod table;

use std::ops::Range;
use std::path::PathBuf;

pub use batch::{Batch, LocalTables, Origin, Problem, ProblemKind};
pub use build::ModelBuilder;
pub use flatten::display_value;
pub use intern::{Interner, Sym};
pub use known::KnownSnapshots;

use crate::event::EventTime;

/// "No symbol" in the builder's dense tables.
const NONE: u32 = u32::MAX;

/// Index of a group in [`Model::groups`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(pub u32);

/// Index of a user in [`Model::users`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u32);

/// Index of a group call in [`Model::calls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u32);

/// Index of an identify call in [`Model::identifies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentifyId(pub u32);

/// What kind of input a source is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// Newline-delimited JSON, possibly gzip-compressed.
    Jsonl {
        /// Whether the file is gzip.
        gzip: bool,
    },
    /// One JSON document (an array of events or a batch body).
    Document {
        /// Whether the file is gzip.
        gzip: bool,
    },
    /// Standard input, kept in memory so raw calls can be shown.
    Stdin,
    /// groupscope's own SQLite store.
    Store,
    /// A warehouse-shaped SQLite database (`groups` / `identifies` tables).
    Warehouse,
}

impl SourceKind {
    /// A short label for status lines.
    pub fn label(&self) -> &'static str {
        match self {
            SourceKind::Jsonl { gzip: false } => "JSONL",
            SourceKind::Jsonl { gzip: true } => "JSONL (gzip)",
            SourceKind::Document { gzip: false } => "JSON document",
            SourceKind::Document { gzip: true } => "JSON document (gzip)",
            SourceKind::Stdin => "stdin",
            SourceKind::Store => "groupscope store",
            SourceKind::Warehouse => "warehouse database",
        }
    }
}

/// One input the model was built from.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// The path as given (`-` for stdin).
    pub path: PathBuf,
    /// What it is.
    pub kind: SourceKind,
    /// The bytes of stdin, kept so raw calls can be shown again (a `Vec`, so that keeping it
    /// costs no second copy of up to [`crate::source::MAX_STDIN_BYTES`]).
    pub memory: Option<std::sync::Arc<Vec<u8>>>,
}

/// How a call reached the model, beyond its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallMark {
    /// Read from an input.
    #[default]
    Loaded,
    /// Composed in groupscope and accepted by a data plane.
    Sent,
    /// Composed in groupscope and saved locally, never sent.
    Local,
}

/// A group call, resolved to its group and user.
#[derive(Debug, Clone, Copy)]
pub struct GroupCall {
    /// The group it was about.
    pub group: GroupId,
    /// The user that sent it.
    pub user: UserId,
    /// Event time (the spec's `timestamp` rules), with the sender's UTC offset.
    pub time: EventTime,
    /// `receivedAt` in UTC ms (`i64::MIN` when absent).
    pub received_ms: i64,
    /// The traits it carried, as a snapshot index.
    pub snapshot: u32,
    /// Where its raw JSON is.
    pub origin: Origin,
    /// Whether groupscope sent it.
    pub mark: CallMark,
}

/// An identify call, resolved to its user.
#[derive(Debug, Clone, Copy)]
pub struct IdentifyCall {
    /// The user it identified.
    pub user: UserId,
    /// Event time.
    pub time: EventTime,
    /// `receivedAt` in UTC ms (`i64::MIN` when absent).
    pub received_ms: i64,
    /// Root `traits` merged with `context.traits`, as a snapshot index.
    pub snapshot: u32,
    /// Where its raw JSON is.
    pub origin: Origin,
}

/// A user: keyed by `userId`, else by `anonymousId`.
#[derive(Debug, Clone)]
pub struct User {
    /// `userId`, when the user was ever identified.
    pub user_id: Option<Sym>,
    /// Every `anonymousId` seen for this user.
    pub anonymous_ids: Vec<Sym>,
    /// Its memberships, as indexes into [`Model::memberships`].
    pub memberships: Vec<u32>,
    /// Its identify calls.
    pub identifies: Range<u32>,
    /// Current user traits from identify calls, sorted by key.
    pub traits: Vec<TraitEntry>,
}

/// A group, keyed by `groupId`.
#[derive(Debug, Clone)]
pub struct Group {
    /// `groupId`.
    pub id: Sym,
    /// Its calls, oldest first, in [`Model::calls`].
    pub calls: Range<u32>,
    /// Its memberships in [`Model::memberships`].
    pub members: Range<u32>,
    /// Current traits (the merge of all calls, last write wins), sorted by key.
    pub traits: Vec<TraitEntry>,
    /// The time of the last trait change.
    pub last_change: Option<EventTime>,
}

/// One current trait of a group (or user) and where its history is.
#[derive(Debug, Clone)]
pub struct TraitEntry {
    /// Dotted key (`address.city`).
    pub key: Sym,
    /// Current value as compact JSON text.
    pub value: Sym,
    /// Its changes, oldest first, in [`Model::changes`] (or [`Model::user_changes`]).
    pub changes: Range<u32>,
}

/// One change of one trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraitChange {
    /// The call that made it (a [`CallId`] for groups, an [`IdentifyId`] for users).
    pub call: u32,
    /// The value before, `None` when the trait was not set yet.
    pub old: Option<Sym>,
    /// The value after, as compact JSON text (`null` when set to null).
    pub new: Sym,
}

/// A user's membership of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// The group.
    pub group: GroupId,
    /// The user.
    pub user: UserId,
    /// Time of the first call linking them.
    pub first_seen: EventTime,
    /// Time of the last call linking them.
    pub last_seen: EventTime,
    /// Number of calls.
    pub calls: u32,
}

/// Counts of what was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Lines (or rows) read.
    pub lines: u64,
    /// Events kept, after de-duplication.
    pub events: u64,
    /// Group calls kept.
    pub group: u64,
    /// Identify calls kept.
    pub identify: u64,
    /// Other events (track, page, …) counted.
    pub other: u64,
    /// Events dropped because their `messageId` was seen before.
    pub duplicates: u64,
    /// Problems found (bad lines or bad events).
    pub problems: u64,
    /// Distinct lines with at least one problem.
    pub bad_lines: u64,
}

/// The model of everything loaded.
#[derive(Debug, Default)]
pub struct Model {
    strings: Interner,
    sources: Vec<SourceInfo>,
    snapshots: snapshot::SnapshotStore,
    users: Vec<User>,
    groups: Vec<Group>,
    calls: Vec<GroupCall>,
    identifies: Vec<IdentifyCall>,
    memberships: Vec<Membership>,
    changes: Vec<TraitChange>,
    user_changes: Vec<TraitChange>,
    problems: Vec<Problem>,
    counts: Counts,
    time_range: Option<(EventTime, EventTime)>,
}

/// How many problems are kept with full detail; the rest are only counted.
pub const KEPT_PROBLEMS: usize = 10_000;

impl Model {
    /// The text of a symbol.
    pub fn str(&self, sym: Sym) -> &str {
        self.strings.get(sym)
    }

    /// The symbol of `text`, if the model holds it.
    pub fn sym(&self, text: &str) -> Option<Sym> {
        self.strings.lookup(text)
    }

    /// How many strings are interned; every [`Sym`] is below it.
    pub fn string_count(&self) -> usize {
        self.strings.len()
    }

    /// Every interned string back to back, and each symbol's `(start, len)` in it, in symbol
    /// order (the starts ascend): search reads them all front to back at once.
    pub fn string_table(&self) -> (&str, &[(u32, u32)]) {
        self.strings.table()
    }

    /// The inputs the model was built from.
    pub fn sources(&self) -> &[SourceInfo] {
        &self.sources
    }

    /// Counts of what was read.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The first problems found (at most [`KEPT_PROBLEMS`]), in input order.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Earliest and latest event time seen.
    pub fn time_range(&self) -> Option<(EventTime, EventTime)> {
        self.time_range
    }

    /// All groups, sorted by `groupId`.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// All users, sorted by `userId` (anonymous-only users by `anonymousId`, after).
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// All group calls, by group and then in event-time order.
    pub fn calls(&self) -> &[GroupCall] {
        &self.calls
    }

    /// All identify calls, by user and then in event-time order.
    pub fn identifies(&self) -> &[IdentifyCall] {
        &self.identifies
    }

    /// All memberships, by group and then user.
    pub fn memberships(&self) -> &[Membership] {
        &self.memberships
    }

    /// One group.
    pub fn group(&self, id: GroupId) -> &Group {
        &self.groups[id.0 as usize]
    }

    /// One user.
    pub fn user(&self, id: UserId) -> &User {
        &self.users[id.0 as usize]
    }

    /// One group call.
    pub fn call(&self, id: CallId) -> &GroupCall {
        &self.calls[id.0 as usize]
    }

    /// One identify call.
    pub fn identify(&self, id: IdentifyId) -> &IdentifyCall {
        &self.identifies[id.0 as usize]
    }

    /// The group with this `groupId`.
    pub fn find_group(&self, group_id: &str) -> Option<GroupId> {
        let sym = self.strings.lookup(group_id)?;
        self.groups
            .binary_search_by(|g| self.str(g.id).cmp(self.str(sym)))
            .ok()
            .map(|i| GroupId(i as u32))
    }

    /// The user with this `userId` or `anonymousId`.
    pub fn find_user(&self, id: &str) -> Option<UserId> {
        let sym = self.strings.lookup(id)?;
        self.users
            .iter()
            .position(|u| u.user_id == Some(sym) || u.anonymous_ids.contains(&sym))
            .map(|i| UserId(i as u32))
    }

    /// The id a user is shown by: `userId`, else its first `anonymousId`.
    pub fn user_label(&self, id: UserId) -> &str {
        let u = self.user(id);
        match (u.user_id, u.anonymous_ids.first()) {
            (Some(s), _) => self.str(s),
            (None, Some(&a)) => self.str(a),
            (None, None) => "",
        }
    }

    /// A group's calls, oldest first, with their ids.
    pub fn group_calls(
        &self,
        id: GroupId,
    ) -> impl DoubleEndedIterator<Item = (CallId, &GroupCall)> + ExactSizeIterator {
        let r = self.group(id).calls.clone();
        r.map(|i| (CallId(i), &self.calls[i as usize]))
    }

    /// A group's members.
    pub fn members(&self, id: GroupId) -> &[Membership] {
        let r = &self.group(id).members;
        &self.memberships[r.start as usize..r.end as usize]
    }

    /// A user's memberships.
    pub fn user_groups(&self, id: UserId) -> impl ExactSizeIterator<Item = &Membership> {
        self.user(id)
            .memberships
            .iter()
            .map(|&i| &self.memberships[i as usize])
    }

    /// A user's identify calls, oldest first.
    pub fn user_identifies(
        &self,
        id: UserId,
    ) -> impl DoubleEndedIterator<Item = (IdentifyId, &IdentifyCall)> {
        let r = self.user(id).identifies.clone();
        r.map(|i| (IdentifyId(i), &self.identifies[i as usize]))
    }

    /// The group's `name` trait, if it has one that is a string.
    pub fn group_name(&self, id: GroupId) -> Option<String> {
        let key = self.strings.lookup("name")?;
        let t = self.group(id).traits.iter().find(|t| t.key == key)?;
        let v = self.str(t.value);
        v.starts_with('"').then(|| display_value(v).into_owned())
    }

    /// The current value of one group trait, as compact JSON.
    pub fn group_trait(&self, id: GroupId, key: &str) -> Option<&str> {
        let key = self.strings.lookup(key)?;
        let t = self.group(id).traits.iter().find(|t| t.key == key)?;
        Some(self.str(t.value))
    }

    /// The change history of one trait of a group, oldest first.
    pub fn trait_history(&self, id: GroupId, key: &str) -> &[TraitChange] {
        let Some(key) = self.strings.lookup(key) else {
            return &[];
        };
        match self.group(id).traits.iter().find(|t| t.key == key) {
            Some(t) => &self.changes[t.changes.start as usize..t.changes.end as usize],
            None => &[],
        }
    }

    /// The changes of a trait entry of a group.
    pub fn entry_changes(&self, entry: &TraitEntry) -> &[TraitChange] {
        &self.changes[entry.changes.start as usize..entry.changes.end as usize]
    }

    /// The changes of a trait entry of a user.
    pub fn user_entry_changes(&self, entry: &TraitEntry) -> &[TraitChange] {
        &self.user_changes[entry.changes.start as usize..entry.changes.end as usize]
    }

    /// The traits a call carried, flattened: `(key, JSON value)`.
    pub fn snapshot(&self, snapshot: u32) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.snapshots
            .leaves(snapshot)
            .map(|&(k, v)| (self.str(k), self.str(v)))
    }

    /// How many distinct trait snapshots the model holds.
    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }

    /// Approximate heap bytes used by the model.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.strings.heap_bytes()
            + self.calls.capacity() * size_of::<GroupCall>()
            + self.identifies.capacity() * size_of::<IdentifyCall>()
            + self.memberships.capacity() * size_of::<Membership>()
            + (self.changes.capacity() + self.user_changes.capacity()) * size_of::<TraitChange>()
            + self.snapshots.heap_bytes()
            + self
                .groups
                .iter()
                .map(|g| size_of::<Group>() + g.traits.capacity() * size_of::<TraitEntry>())
                .sum::<usize>()
            + self
                .users
                .iter()
                .map(|u| {
                    size_of::<User>()
                        + u.traits.capacity() * size_of::<TraitEntry>()
                        + u.anonymous_ids.capacity() * 4
                        + u.memberships.capacity() * 4
                })
                .sum::<usize>()
    }
}

/// Where an event came from, for people: `file:line`, or the database row.
pub fn origin_label(sources: &[SourceInfo], origin: Origin) -> String {
    let Some(src) = sources.get(origin.source as usize) else {
        return format!("source {}", origin.source);
    };
    match src.kind {
        SourceKind::Store => format!("{} row {}", src.path.display(), origin.offset),
        SourceKind::Warehouse => format!(
            "{} {} row {}",
            src.path.display(),
            if origin.len == 1 {
                "identifies"
            } else {
                "groups"
            },
            origin.offset
        ),
        _ => format!("{}:{}", src.path.display(), origin.line),
    }
}

/// Where a problem was found, for people: `file:line` (or `file` when the whole input failed).
pub fn problem_label(sources: &[SourceInfo], problem: &Problem) -> String {
    let path = sources
        .get(problem.source as usize)
        .map(|s| s.path.display().to_string())
        .unwrap_or_default();
    match sources.get(problem.source as usize).map(|s| &s.kind) {
        Some(SourceKind::Store | SourceKind::Warehouse) => format!("{path} row {}", problem.line),
        _ if problem.line == 0 => path,
        _ => format!("{path}:{}", problem.line),
    }
}
