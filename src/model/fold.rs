//! Folding time-ordered calls into current traits, trait histories and memberships.

use std::ops::Range;

use super::intern::{Interner, Sym};
use super::snapshot::SnapshotStore;
use super::{
    Group, GroupCall, GroupId, IdentifyCall, Membership, NONE, TraitChange, TraitEntry, UserId,
};
use crate::event::EventTime;

/// The end of the run of `items` from `start` on for which `same` holds (items are sorted by
/// the key `same` tests, so a run is contiguous).
pub(super) fn run_end<T>(items: &[T], start: usize, same: impl Fn(&T) -> bool) -> usize {
    items
        .get(start..)
        .and_then(|rest| rest.iter().position(|item| !same(item)))
        .map_or(items.len(), |n| start + n)
}

/// One user's folded identify traits: the user, its identify calls, its traits.
type UserTraits = (UserId, std::ops::Range<u32>, Vec<TraitEntry>);

/// Each user's identify traits: `(user, its identifies, traits)` and the changes they index.
pub(super) fn fold_users(
    identifies: &[IdentifyCall],
    snapshots: &SnapshotStore,
    strings: &Interner,
) -> (Vec<UserTraits>, Vec<TraitChange>) {
    let mut fold = Fold::new(strings.len());
    let mut changes = Vec::new();
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < identifies.len() {
        let user = identifies[start].user;
        let end = run_end(identifies, start, |c| c.user == user);
        let (traits, _) = fold.run(
            identifies[start..end]
                .iter()
                .enumerate()
                .map(|(i, c)| ((start + i) as u32, c.snapshot, c.time)),
            snapshots,
            &mut changes,
            strings,
        );
        out.push((user, start as u32..end as u32, traits));
        start = end;
    }
    (out, changes)
}

/// What the group fold reads, shared by the threads that fold runs of groups.
pub(super) struct GroupFolder<'a> {
    /// Each group's `groupId`, in group order.
    pub(super) group_ids: &'a [Sym],
    /// `starts[g]..starts[g + 1]` are group g's calls.
    pub(super) starts: &'a [u32],
    /// The user of each call, by its input index.
    pub(super) call_users: &'a [u32],
    /// The calls' traits.
    pub(super) snapshots: &'a SnapshotStore,
    /// The text of symbols, to sort trait keys.
    pub(super) strings: &'a Interner,
}

/// Folded groups, with ranges into their own changes and memberships.
#[derive(Default)]
pub(super) struct GroupsFolded {
    /// The groups, in group order.
    pub(super) groups: Vec<Group>,
    /// Their trait changes.
    pub(super) changes: Vec<TraitChange>,
    /// Their memberships.
    pub(super) memberships: Vec<Membership>,
}

impl GroupFolder<'_> {
    /// Folds the groups of `run`, whose calls `calls` are (time-ordered, at their input
    /// indexes `order`), first giving each call its user.
    pub(super) fn fold(
        &self,
        run: Range<usize>,
        calls: &mut [GroupCall],
        order: &[u32],
        scratch: &mut (Fold, MemberScratch),
    ) -> GroupsFolded {
        let (fold, members) = scratch;
        let mut out = GroupsFolded::default();
        let base = self.starts[run.start];
        for g in run {
            let (start, end) = (self.starts[g], self.starts[g + 1]);
            let at = (start - base) as usize..(end - base) as usize;
            let calls = &mut calls[at.clone()];
            for (c, &i) in calls.iter_mut().zip(&order[at]) {
                c.user = UserId(self.call_users[i as usize]);
            }
            let (traits, last_change) = fold.run(
                calls
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (start + i as u32, c.snapshot, c.time)),
                self.snapshots,
                &mut out.changes,
                self.strings,
            );
            let members_start = out.memberships.len() as u32;
            members.collect(GroupId(g as u32), calls, &mut out.memberships);
            out.groups.push(Group {
                id: self.group_ids[g],
                calls: start..end,
                members: members_start..out.memberships.len() as u32,
                traits,
                last_change,
            });
        }
        out
    }
}

/// Folded runs of groups, in group order, joined into one, their ranges moved to match.
pub(super) fn join_folded(mut parts: Vec<GroupsFolded>) -> GroupsFolded {
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut all = GroupsFolded {
        groups: Vec::with_capacity(parts.iter().map(|p| p.groups.len()).sum()),
        changes: Vec::with_capacity(parts.iter().map(|p| p.changes.len()).sum()),
        memberships: Vec::with_capacity(parts.iter().map(|p| p.memberships.len()).sum()),
    };
    for part in parts {
        let changes = all.changes.len() as u32;
        let members = all.memberships.len() as u32;
        all.groups.extend(part.groups.into_iter().map(|mut g| {
            g.members = g.members.start + members..g.members.end + members;
            for t in &mut g.traits {
                t.changes = t.changes.start + changes..t.changes.end + changes;
            }
            g
        }));
        all.changes.extend_from_slice(&part.changes);
        all.memberships.extend_from_slice(&part.memberships);
    }
    all
}

/// Folds time-ordered runs of calls into current traits and their changes, with dense tables
/// indexed by key symbol (reset after each run) instead of a map per run.
pub(super) struct Fold {
    /// Current value symbol per key symbol (`NONE`: not set yet in this run).
    current: Vec<u32>,
    /// Position of a key in this run's sorted key list.
    rank: Vec<u32>,
    /// Keys set in this run.
    keys: Vec<u32>,
    /// This run's changes, with their key, in time order.
    pending: Vec<(u32, TraitChange)>,
}

impl Fold {
    pub(super) fn new(symbols: usize) -> Self {
        Fold {
            current: vec![NONE; symbols],
            rank: vec![0; symbols],
            keys: Vec::new(),
            pending: Vec::new(),
        }
    }

    /// Folds one run of `(call, snapshot, time)`, appending its changes to `changes` grouped
    /// by key. Returns the traits sorted by key and the time of the last change.
    pub(super) fn run(
        &mut self,
        calls: impl Iterator<Item = (u32, u32, EventTime)>,
        snapshots: &SnapshotStore,
        changes: &mut Vec<TraitChange>,
        strings: &Interner,
    ) -> (Vec<TraitEntry>, Option<EventTime>) {
        let mut previous: Option<u32> = None;
        let mut last_change = None;
        for (call, snapshot, time) in calls {
            // The same traits as the call before cannot change anything.
            if previous == Some(snapshot) {
                continue;
            }
            previous = Some(snapshot);
            for &(key, value) in snapshots.leaves(snapshot) {
                let Some(slot) = self.current.get_mut(key.0 as usize) else {
                    continue;
                };
                if *slot == value.0 {
                    continue;
                }
                let old = if *slot == NONE {
                    self.keys.push(key.0);
                    None
                } else {
                    Some(Sym(*slot))
                };
                *slot = value.0;
                self.pending.push((
                    key.0,
                    TraitChange {
                        call,
                        old,
                        new: value,
                    },
                ));
                last_change = Some(time);
            }
        }
        self.keys
            .sort_unstable_by(|a, b| strings.get(Sym(*a)).cmp(strings.get(Sym(*b))));
        for (i, &k) in self.keys.iter().enumerate() {
            self.rank[k as usize] = i as u32;
        }
        // Stable: each key's changes stay in time order.
        let rank = &self.rank;
        self.pending.sort_by_key(|&(k, _)| rank[k as usize]);
        let mut traits = Vec::with_capacity(self.keys.len());
        let mut pending = self.pending.iter().peekable();
        for &k in &self.keys {
            let start = changes.len() as u32;
            while let Some(&&(pk, change)) = pending.peek() {
                if pk != k {
                    break;
                }
                changes.push(change);
                pending.next();
            }
            traits.push(TraitEntry {
                key: Sym(k),
                value: Sym(self.current[k as usize]),
                changes: start..changes.len() as u32,
            });
            self.current[k as usize] = NONE;
        }
        self.keys.clear();
        self.pending.clear();
        (traits, last_change)
    }
}

/// Collects a group's memberships with a dense table indexed by user.
pub(super) struct MemberScratch {
    slot: Vec<u32>,
}

impl MemberScratch {
    pub(super) fn new(users: usize) -> Self {
        MemberScratch {
            slot: vec![NONE; users],
        }
    }

    /// Appends the memberships of one group's calls (sorted by user).
    pub(super) fn collect(
        &mut self,
        group: GroupId,
        calls: &[GroupCall],
        out: &mut Vec<Membership>,
    ) {
        let first = out.len();
        for c in calls {
            let slot = &mut self.slot[c.user.0 as usize];
            if *slot == NONE {
                *slot = out.len() as u32;
                out.push(Membership {
                    group,
                    user: c.user,
                    first_seen: c.time,
                    last_seen: c.time,
                    calls: 1,
                });
            } else {
                let m = &mut out[*slot as usize];
                m.first_seen = m.first_seen.min(c.time);
                m.last_seen = m.last_seen.max(c.time);
                m.calls += 1;
            }
        }
        for m in &out[first..] {
            self.slot[m.user.0 as usize] = NONE;
        }
        out[first..].sort_unstable_by_key(|m| m.user);
    }
}
