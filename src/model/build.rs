//! [`ModelBuilder`]: merges [`Batch`]es in input order, then resolves users, orders calls and
//! folds trait histories.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use super::batch::{Batch, KnownSnapshots, LocalEvent};
use super::intern::{HashedMap, Interner, PassThroughHasher, Sym, TextHash};
use super::{
    CallMark, Counts, Group, GroupCall, GroupId, IdentifyCall, KEPT_PROBLEMS, Membership, Model,
    Problem, SourceInfo, TraitChange, TraitEntry, User, UserId,
};
use crate::event::{EventKind, EventTime};

/// A group or identify call before users are resolved.
#[derive(Debug, Clone, Copy)]
struct PendingCall {
    // Input order is the order of the vector itself (sorts below are stable).
    user_id: Option<Sym>,
    anonymous_id: Option<Sym>,
    group_id: Sym,
    time: EventTime,
    received_ms: i64,
    snapshot: u32,
    origin: super::Origin,
    mark: CallMark,
}

/// Builds a [`Model`] from batches merged in input order.
#[derive(Debug, Default)]
pub struct ModelBuilder {
    strings: Interner,
    sources: Vec<SourceInfo>,
    snapshots: Vec<Box<[(Sym, Sym)]>>,
    snapshot_index: HashedMap<u32>,
    known: std::sync::Arc<KnownSnapshots>,
    messages: HashSet<TextHash, BuildHasherDefault<PassThroughHasher>>,
    group_calls: Vec<PendingCall>,
    identify_calls: Vec<PendingCall>,
    /// anonymousId → the first userId seen with it.
    links: HashMap<Sym, Sym>,
    problems: Vec<Problem>,
    problem_lines: HashSet<(u16, u64)>,
    counts: Counts,
    time_range: Option<(EventTime, EventTime)>,
}

impl ModelBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        ModelBuilder::default()
    }

    /// The snapshots already merged, shared with workers so they skip flattening them again.
    pub fn known_snapshots(&self) -> std::sync::Arc<KnownSnapshots> {
        self.known.clone()
    }

    /// Registers an input and returns its index for [`super::Origin::source`].
    pub fn add_source(&mut self, info: SourceInfo) -> u16 {
        self.sources.push(info);
        (self.sources.len() - 1) as u16
    }

    /// Counts so far (for progress reports).
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Merges a batch of loaded events. Batches must come in input order.
    pub fn add_batch(&mut self, batch: Batch) {
        self.add_marked_batch(batch, CallMark::Loaded);
    }

    /// Merges a batch whose calls all carry `mark`.
    pub fn add_marked_batch(&mut self, batch: Batch, mark: CallMark) {
        self.counts.lines += batch.lines;
        // Local symbols → global symbols.
        let syms: Vec<Sym> = (0..batch.strings.len() as u32)
            .map(|i| {
                let local = Sym(i);
                self.strings
                    .intern_hashed(batch.strings.hash_of(local), batch.strings.get(local))
            })
            .collect();
        let map = |s: Sym| syms[s.0 as usize];
        let mut new_known = Vec::new();
        let snaps: Vec<u32> = batch
            .snapshots
            .iter()
            .map(|s| {
                if let Some(&g) = self.snapshot_index.get(&s.hash) {
                    return g;
                }
                let pairs: Box<[(Sym, Sym)]> = s
                    .pairs
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .map(|&(k, v)| (map(k), map(v)))
                    .collect();
                let g = self.snapshots.len() as u32;
                self.snapshots.push(pairs);
                self.snapshot_index.insert(s.hash, g);
                new_known.push(s.hash);
                g
            })
            .collect();
        if let Ok(mut known) = self.known.0.write() {
            for h in new_known {
                known.insert(h, ());
            }
        }
        for ev in &batch.events {
            self.add_event(ev, &map, &snaps, mark);
        }
        for p in batch.problems {
            self.counts.problems += 1;
            if self.problem_lines.insert((p.source, p.line)) {
                self.counts.bad_lines += 1;
            }
            if self.problems.len() < KEPT_PROBLEMS {
                self.problems.push(p);
            }
        }
    }

    fn add_event(
        &mut self,
        ev: &LocalEvent,
        map: &dyn Fn(Sym) -> Sym,
        snaps: &[u32],
        mark: CallMark,
    ) {
        if let Some(m) = ev.message
            && !self.messages.insert(m)
        {
            self.counts.duplicates += 1;
            return;
        }
        self.counts.events += 1;
        let user_id = ev.user_id.map(map);
        let anonymous_id = ev.anonymous_id.map(map);
        if let (Some(u), Some(a)) = (user_id, anonymous_id) {
            self.links.entry(a).or_insert(u);
        }
        if let Some(t) = ev.time {
            self.time_range = Some(match self.time_range {
                None => (t, t),
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
            });
        }
        let pending = |group_id: Sym| PendingCall {
            user_id,
            anonymous_id,
            group_id,
            // No usable time at all: order by receipt, then input order.
            time: ev.time.unwrap_or_default(),
            received_ms: ev.received_ms,
            snapshot: ev.snapshot.map_or(0, |s| snaps[s as usize]),
            origin: ev.origin,
            mark,
        };
        match ev.kind {
            EventKind::Group => {
                self.counts.group += 1;
                let g = ev.group_id.map(map).unwrap_or_default();
                self.group_calls.push(pending(g));
            }
            EventKind::Identify => {
                self.counts.identify += 1;
                self.identify_calls.push(pending(Sym::default()));
            }
            EventKind::Other => self.counts.other += 1,
        }
    }

    /// Resolves users, orders calls, folds histories and returns the finished model.
    pub fn finish(self) -> Model {
        let ModelBuilder {
            strings,
            sources,
            snapshots,
            group_calls,
            identify_calls,
            links,
            problems,
            counts,
            time_range,
            messages,
            ..
        } = self;
        drop(messages);
        const NONE: u32 = u32::MAX;

        // Users: keyed by userId, else by the userId an event linked the anonymousId to,
        // else by the anonymousId. `user_slot[sym]` is the user a key symbol names.
        let user_key = |c: &PendingCall| -> (Sym, bool) {
            match (c.user_id, c.anonymous_id) {
                (Some(u), _) => (u, true),
                (None, Some(a)) => match links.get(&a) {
                    Some(&u) => (u, true),
                    None => (a, false),
                },
                (None, None) => (Sym::default(), false),
            }
        };
        let mut user_slot = vec![NONE; strings.len()];
        let mut ordered: Vec<(Sym, bool)> = Vec::new();
        for c in group_calls.iter().chain(identify_calls.iter()) {
            let (k, identified) = user_key(c);
            if user_slot[k.0 as usize] == NONE {
                user_slot[k.0 as usize] = 0;
                ordered.push((k, identified));
            }
        }
        // Identified users first, each part sorted by its id text.
        ordered.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| strings.get(a.0).cmp(strings.get(b.0)))
        });
        for (i, (k, _)) in ordered.iter().enumerate() {
            user_slot[k.0 as usize] = i as u32;
        }
        let user_of = |c: &PendingCall| UserId(user_slot[user_key(c).0.0 as usize]);
        let mut users: Vec<User> = ordered
            .iter()
            .map(|&(k, identified)| User {
                user_id: identified.then_some(k),
                anonymous_ids: if identified { Vec::new() } else { vec![k] },
                memberships: Vec::new(),
                identifies: 0..0,
                traits: Vec::new(),
            })
            .collect();
        for c in group_calls.iter().chain(identify_calls.iter()) {
            if let (Some(a), (_, true)) = (c.anonymous_id, user_key(c)) {
                let u = &mut users[user_of(c).0 as usize];
                if !u.anonymous_ids.contains(&a) {
                    u.anonymous_ids.push(a);
                }
            }
        }

        // Groups sorted by id text.
        let mut group_slot = vec![NONE; strings.len()];
        let mut group_ids: Vec<Sym> = Vec::new();
        for c in &group_calls {
            if group_slot[c.group_id.0 as usize] == NONE {
                group_slot[c.group_id.0 as usize] = 0;
                group_ids.push(c.group_id);
            }
        }
        group_ids.sort_unstable_by(|a, b| strings.get(*a).cmp(strings.get(*b)));
        for (i, g) in group_ids.iter().enumerate() {
            group_slot[g.0 as usize] = i as u32;
        }

        // Calls by group, then time, then receipt; a stable sort keeps input order for ties.
        let mut calls: Vec<GroupCall> = group_calls
            .iter()
            .map(|c| GroupCall {
                group: GroupId(group_slot[c.group_id.0 as usize]),
                user: user_of(c),
                time: c.time,
                received_ms: c.received_ms,
                snapshot: c.snapshot,
                origin: c.origin,
                mark: c.mark,
            })
            .collect();
        drop(group_calls);
        calls.sort_by_key(|c| (c.group, c.time.utc_ms, c.received_ms));
        let mut identifies: Vec<IdentifyCall> = identify_calls
            .iter()
            .map(|c| IdentifyCall {
                user: user_of(c),
                time: c.time,
                received_ms: c.received_ms,
                snapshot: c.snapshot,
                origin: c.origin,
            })
            .collect();
        drop(identify_calls);
        drop(user_slot);
        drop(group_slot);
        identifies.sort_by_key(|c| (c.user, c.time.utc_ms, c.received_ms));

        let mut changes = Vec::new();
        let mut memberships = Vec::new();
        let mut groups = Vec::with_capacity(group_ids.len());
        let mut start = 0usize;
        for (gi, &gsym) in group_ids.iter().enumerate() {
            let mut end = start;
            while end < calls.len() && calls[end].group.0 as usize == gi {
                end += 1;
            }
            let range = start..end;
            let folded = fold_traits(
                calls[range.clone()]
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ((start + i) as u32, c.snapshot, c.time)),
                &snapshots,
                &mut changes,
                &strings,
            );
            let members_start = memberships.len();
            collect_members(GroupId(gi as u32), &calls[range.clone()], &mut memberships);
            groups.push(Group {
                id: gsym,
                calls: range.start as u32..range.end as u32,
                members: members_start as u32..memberships.len() as u32,
                traits: folded.0,
                last_change: folded.1,
            });
            start = end;
        }
        for (i, m) in memberships.iter().enumerate() {
            users[m.user.0 as usize].memberships.push(i as u32);
        }

        let mut user_changes = Vec::new();
        let mut start = 0usize;
        while start < identifies.len() {
            let user = identifies[start].user;
            let mut end = start;
            while end < identifies.len() && identifies[end].user == user {
                end += 1;
            }
            let (traits, _) = fold_traits(
                identifies[start..end]
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ((start + i) as u32, c.snapshot, c.time)),
                &snapshots,
                &mut user_changes,
                &strings,
            );
            let u = &mut users[user.0 as usize];
            u.identifies = start as u32..end as u32;
            u.traits = traits;
            start = end;
        }

        Model {
            strings,
            sources,
            snapshots,
            users,
            groups,
            calls,
            identifies,
            memberships,
            changes,
            user_changes,
            problems,
            counts,
            time_range,
        }
    }
}

/// Folds a time-ordered run of calls into current traits and their changes (appended to
/// `changes`, grouped by key). Returns the traits sorted by key and the last change time.
fn fold_traits(
    calls: impl Iterator<Item = (u32, u32, EventTime)>,
    snapshots: &[Box<[(Sym, Sym)]>],
    changes: &mut Vec<TraitChange>,
    strings: &Interner,
) -> (Vec<TraitEntry>, Option<EventTime>) {
    // key → (current value, its changes in time order)
    let mut state: HashMap<Sym, (Sym, Vec<TraitChange>)> = HashMap::new();
    let mut previous: Option<u32> = None;
    let mut last_change = None;
    for (call, snapshot, time) in calls {
        // The same traits as the call before cannot change anything.
        if previous == Some(snapshot) {
            continue;
        }
        previous = Some(snapshot);
        let pairs = snapshots
            .get(snapshot as usize)
            .map(|s| &s[..])
            .unwrap_or(&[]);
        for &(key, value) in pairs {
            match state.get_mut(&key) {
                Some((current, _)) if *current == value => {}
                Some((current, list)) => {
                    list.push(TraitChange {
                        call,
                        old: Some(*current),
                        new: value,
                    });
                    *current = value;
                    last_change = Some(time);
                }
                None => {
                    state.insert(
                        key,
                        (
                            value,
                            vec![TraitChange {
                                call,
                                old: None,
                                new: value,
                            }],
                        ),
                    );
                    last_change = Some(time);
                }
            }
        }
    }
    let mut entries: Vec<(Sym, Sym, Vec<TraitChange>)> =
        state.into_iter().map(|(k, (v, l))| (k, v, l)).collect();
    entries.sort_unstable_by(|a, b| strings.get(a.0).cmp(strings.get(b.0)));
    let traits = entries
        .into_iter()
        .map(|(key, value, list)| {
            let start = changes.len() as u32;
            changes.extend(list);
            TraitEntry {
                key,
                value,
                changes: start..changes.len() as u32,
            }
        })
        .collect();
    (traits, last_change)
}

/// Appends the memberships of one group's calls (sorted by user).
fn collect_members(group: GroupId, calls: &[GroupCall], out: &mut Vec<Membership>) {
    let mut by_user: HashMap<UserId, Membership> = HashMap::new();
    for c in calls {
        by_user
            .entry(c.user)
            .and_modify(|m| {
                m.first_seen = m.first_seen.min(c.time);
                m.last_seen = m.last_seen.max(c.time);
                m.calls += 1;
            })
            .or_insert(Membership {
                group,
                user: c.user,
                first_seen: c.time,
                last_seen: c.time,
                calls: 1,
            });
    }
    let mut list: Vec<Membership> = by_user.into_values().collect();
    list.sort_unstable_by_key(|m| m.user);
    out.extend(list);
}
