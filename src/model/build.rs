//! [`ModelBuilder`]: merges [`Batch`]es in input order, then resolves users, orders calls and
//! folds trait histories.

use std::collections::{HashMap, HashSet};

use super::batch::{Batch, KnownSnapshots, LocalEvent};
use super::intern::{Interner, Sym};
use super::snapshot::SnapshotStore;
use super::table::{MessageSet, prefetch_item};
use super::{
    CallMark, Counts, Group, GroupCall, GroupId, IdentifyCall, KEPT_PROBLEMS, Model, Problem,
    SourceInfo, UserId,
};
use crate::event::{EventKind, EventTime};

use super::NONE;
use super::fold::{Fold, MemberScratch, fold_users, run_end};
use super::order::{resolve_users, sort_order};

/// How one lineage of local ids maps to global ones.
#[derive(Debug, Default)]
struct Mapping {
    strings: Vec<Sym>,
    members: Vec<u32>,
    snapshots: Vec<u32>,
}

/// Builds a [`Model`] from batches merged in input order.
#[derive(Debug, Default)]
pub struct ModelBuilder {
    strings: Interner,
    sources: Vec<SourceInfo>,
    snapshots: SnapshotStore,
    known: std::sync::Arc<KnownSnapshots>,
    lineages: HashMap<u64, Mapping>,
    /// The messageIds seen, by hash.
    messages: MessageSet,
    /// Group calls in input order; `group` holds the groupId's symbol until `finish`.
    calls: Vec<GroupCall>,
    /// `(userId, anonymousId)` symbols of each call (`NONE` when absent).
    call_people: Vec<(u32, u32)>,
    identifies: Vec<IdentifyCall>,
    identify_people: Vec<(u32, u32)>,
    /// anonymousId symbol → the first userId symbol seen with it.
    links: Vec<u32>,
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

    /// Kept for callers that pass it to [`Batch`] methods; it no longer changes anything.
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

    /// Forgets how a worker's tables map to global ids, once its last batch is merged.
    pub fn forget_tables(&mut self, lineage: u64) {
        self.lineages.remove(&lineage);
    }

    /// Merges a batch of loaded events. Batches must come in input order.
    pub fn add_batch(&mut self, batch: Batch) {
        self.add_marked_batch(batch, CallMark::Loaded);
    }

    /// Merges a batch whose calls all carry `mark`.
    pub fn add_marked_batch(&mut self, batch: Batch, mark: CallMark) {
        self.counts.lines += batch.lines;
        let mut map = if batch.standalone {
            Mapping::default()
        } else {
            self.lineages.remove(&batch.lineage).unwrap_or_default()
        };
        // What the batch's tables learned, in the order they learned it.
        for (i, s) in batch.new_strings.iter().enumerate() {
            if let Some(ahead) = batch.new_strings.get(i + 8) {
                self.strings.prefetch(ahead.hash);
            }
            let text = batch
                .text
                .get(s.start as usize..(s.start + s.len) as usize)
                .unwrap_or("");
            map.strings.push(self.strings.intern_hashed(s.hash, text));
        }
        let global =
            |map: &Mapping, s: Sym| map.strings.get(s.0 as usize).copied().unwrap_or_default();
        for (i, m) in batch.new_members.iter().enumerate() {
            let ahead = batch.new_members.get(i + 8).map(|m| m.hash);
            self.snapshots.prefetch(ahead, None);
            let leaves = &batch.leaves[m.start as usize..(m.start + m.len) as usize];
            let id = self.snapshots.member(m.hash, || {
                leaves
                    .iter()
                    .map(|&(k, v)| (global(&map, k), global(&map, v)))
                    .collect()
            });
            map.members.push(id);
        }
        for (i, s) in batch.new_snapshots.iter().enumerate() {
            let ahead = batch.new_snapshots.get(i + 8).map(|s| s.hash);
            self.snapshots.prefetch(None, ahead);
            let members = &batch.snapshot_members[s.start as usize..(s.start + s.len) as usize];
            let id = self.snapshots.snapshot(s.hash, || {
                members
                    .iter()
                    .map(|&m| map.members.get(m as usize).copied().unwrap_or_default())
                    .collect()
            });
            map.snapshots.push(id);
        }
        if self.links.len() < self.strings.len() {
            self.links.resize(self.strings.len(), NONE);
        }
        // What an event reads at random is asked for a few events ahead: its messageId's line
        // of the set and its anonymousId's link, and before that, the global ids of its
        // local ones (the link's address depends on them).
        const AHEAD: usize = 8;
        let local = |s: Option<Sym>| s.map_or(usize::MAX, |s| s.0 as usize);
        for (i, ev) in batch.events.iter().enumerate() {
            if let Some(e) = batch.events.get(i + 2 * AHEAD) {
                prefetch_item(&map.strings, local(e.anonymous_id));
            }
            if let Some(e) = batch.events.get(i + AHEAD) {
                if let Some(m) = e.message {
                    self.messages.prefetch(MessageSet::key(m));
                }
                if e.user_id.is_some()
                    && let Some(&anonymous) = map.strings.get(local(e.anonymous_id))
                {
                    prefetch_item(&self.links, anonymous.0 as usize);
                }
            }
            self.add_event(ev, &map, mark);
        }
        if !batch.standalone {
            self.lineages.insert(batch.lineage, map);
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

    fn add_event(&mut self, ev: &LocalEvent, map: &Mapping, mark: CallMark) {
        if let Some(m) = ev.message
            && !self.messages.insert(MessageSet::key(m))
        {
            self.counts.duplicates += 1;
            return;
        }
        self.counts.events += 1;
        let sym = |s: Option<Sym>| {
            s.map_or(NONE, |s| {
                map.strings.get(s.0 as usize).map_or(NONE, |g| g.0)
            })
        };
        let user_id = sym(ev.user_id);
        let anonymous_id = sym(ev.anonymous_id);
        if user_id != NONE
            && let Some(link) = self.links.get_mut(anonymous_id as usize)
            && *link == NONE
        {
            *link = user_id;
        }
        if let Some(t) = ev.time {
            self.time_range = Some(match self.time_range {
                None => (t, t),
                Some((lo, hi)) => (lo.min(t), hi.max(t)),
            });
        }
        // No usable time at all: order by receipt, then input order.
        let time = ev.time.unwrap_or_default();
        let snapshot = ev
            .snapshot
            .map_or(0, |s| map.snapshots.get(s as usize).copied().unwrap_or(0));
        match ev.kind {
            EventKind::Group => {
                self.counts.group += 1;
                let group = sym(ev.group_id);
                self.calls.push(GroupCall {
                    group: GroupId(if group == NONE { 0 } else { group }),
                    user: UserId(0),
                    time,
                    received_ms: ev.received_ms,
                    snapshot,
                    origin: ev.origin,
                    mark,
                });
                self.call_people.push((user_id, anonymous_id));
            }
            EventKind::Identify => {
                self.counts.identify += 1;
                self.identifies.push(IdentifyCall {
                    user: UserId(0),
                    time,
                    received_ms: ev.received_ms,
                    snapshot,
                    origin: ev.origin,
                });
                self.identify_people.push((user_id, anonymous_id));
            }
            EventKind::Other => self.counts.other += 1,
        }
    }

    /// The model of everything merged so far, leaving the builder as it is: exactly what
    /// [`ModelBuilder::finish`] would give if the input ended here (a prefix of the final
    /// model). Costs about as much as finishing that many events, so build it only to show it.
    pub fn partial(&self) -> Model {
        ModelBuilder {
            strings: self.strings.clone(),
            sources: self.sources.clone(),
            snapshots: self.snapshots.sealed_copy(),
            known: self.known.clone(),
            lineages: HashMap::new(),
            messages: MessageSet::default(),
            calls: self.calls.clone(),
            call_people: self.call_people.clone(),
            identifies: self.identifies.clone(),
            identify_people: self.identify_people.clone(),
            links: self.links.clone(),
            problems: self.problems.clone(),
            problem_lines: HashSet::new(),
            counts: self.counts,
            time_range: self.time_range,
        }
        .finish()
    }

    /// Resolves users, orders calls, folds histories and returns the finished model.
    pub fn finish(self) -> Model {
        let ModelBuilder {
            strings,
            sources,
            mut snapshots,
            mut calls,
            call_people,
            mut identifies,
            identify_people,
            mut links,
            problems,
            counts,
            time_range,
            messages,
            lineages,
            ..
        } = self;
        let mut phases = super::phases::Phases::start("finish");
        drop(messages);
        drop(lineages);
        calls.shrink_to_fit();
        identifies.shrink_to_fit();
        snapshots.seal();
        links.resize(strings.len(), NONE);

        // Users resolve on a second thread while the calls are ordered here: the two read the
        // same symbols and write nothing in common.
        let (mut users, call_users, identify_users, calls, order) = std::thread::scope(|scope| {
            let resolve = scope.spawn(|| {
                let mut phases = super::phases::Phases::start("finish");
                let resolved = resolve_users(&strings, &links, &call_people, &identify_people);
                phases.mark("users (second thread)");
                resolved
            });
            // Groups sorted by id text; `group_slot` maps a symbol to one.
            let mut group_slot = vec![NONE; strings.len()];
            let mut group_ids: Vec<Sym> = Vec::new();
            for c in &calls {
                if group_slot[c.group.0 as usize] == NONE {
                    group_slot[c.group.0 as usize] = 0;
                    group_ids.push(Sym(c.group.0));
                }
            }
            group_ids.sort_unstable_by(|a, b| strings.get(*a).cmp(strings.get(*b)));
            for (i, g) in group_ids.iter().enumerate() {
                group_slot[g.0 as usize] = i as u32;
            }
            for c in &mut calls {
                c.group = GroupId(group_slot[c.group.0 as usize]);
            }
            drop(group_slot);
            phases.mark("groups");
            // Calls by group, then time, then receipt; ties keep input order.
            let order = sort_order(
                &calls,
                group_ids.len(),
                |c| c.group.0,
                |c| (c.time.utc_ms, c.received_ms),
            );
            phases.mark("sort");
            // A panic there is a bug in the resolution; raise it here rather than hide it.
            let (users, call_users, identify_users) = match resolve.join() {
                Ok(resolved) => resolved,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (users, call_users, identify_users, (calls, group_ids), order)
        });
        let (calls, group_ids) = calls;
        drop(call_people);
        drop(identify_people);
        drop(links);
        let calls: Vec<GroupCall> = order
            .iter()
            .map(|&i| {
                let mut c = calls[i as usize];
                c.user = UserId(call_users[i as usize]);
                c
            })
            .collect();
        drop(order);
        drop(call_users);
        for (c, &u) in identifies.iter_mut().zip(&identify_users) {
            c.user = UserId(u);
        }
        drop(identify_users);
        phases.mark("gather");

        let mut changes = Vec::new();
        let mut memberships = Vec::new();
        let mut groups = Vec::with_capacity(group_ids.len());
        // Users' identify traits fold on a second thread while the groups fold here: the two
        // read the same snapshots and write nothing in common.
        let sorted_identifies = std::thread::scope(|scope| {
            let user_fold = scope.spawn(|| {
                let mut phases = super::phases::Phases::start("finish");
                let order = sort_order(
                    &identifies,
                    users.len(),
                    |c| c.user.0,
                    |c| (c.time.utc_ms, c.received_ms),
                );
                let identifies: Vec<IdentifyCall> =
                    order.iter().map(|&i| identifies[i as usize]).collect();
                let folded = fold_users(&identifies, &snapshots, &strings);
                phases.mark("user fold (second thread)");
                (identifies, folded)
            });
            let mut fold = Fold::new(strings.len());
            let mut members = MemberScratch::new(users.len());
            let mut start = 0usize;
            for (gi, &gsym) in group_ids.iter().enumerate() {
                let end = run_end(&calls, start, |c| c.group.0 as usize == gi);
                let (traits, last_change) = fold.run(
                    calls[start..end]
                        .iter()
                        .enumerate()
                        .map(|(i, c)| ((start + i) as u32, c.snapshot, c.time)),
                    &snapshots,
                    &mut changes,
                    &strings,
                );
                let members_start = memberships.len();
                members.collect(GroupId(gi as u32), &calls[start..end], &mut memberships);
                groups.push(Group {
                    id: gsym,
                    calls: start as u32..end as u32,
                    members: members_start as u32..memberships.len() as u32,
                    traits,
                    last_change,
                });
                start = end;
            }
            drop(fold);
            // A panic there is a bug in the fold; raise it here rather than hide it.
            match user_fold.join() {
                Ok(folded) => folded,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        let (identifies, (user_traits, mut user_changes)) = sorted_identifies;
        phases.mark("fold");
        // Sized first: one allocation per user instead of a few growths.
        let mut per_user = vec![0u32; users.len()];
        for m in &memberships {
            per_user[m.user.0 as usize] += 1;
        }
        for (u, &n) in users.iter_mut().zip(&per_user) {
            u.memberships.reserve_exact(n as usize);
        }
        drop(per_user);
        for (i, m) in memberships.iter().enumerate() {
            users[m.user.0 as usize].memberships.push(i as u32);
        }
        for (user, identifies, traits) in user_traits {
            let u = &mut users[user.0 as usize];
            u.identifies = identifies;
            u.traits = traits;
        }
        changes.shrink_to_fit();
        user_changes.shrink_to_fit();
        phases.mark("memberships");

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

#[cfg(test)]
mod tests {
    use super::*;

    fn build(lines: &[&str], batches: usize) -> Model {
        let mut b = ModelBuilder::new();
        let per = lines.len().div_ceil(batches.max(1));
        let mut tables = super::super::batch::LocalTables::new();
        for chunk in lines.chunks(per.max(1)) {
            let mut batch = Batch::with_tables(tables);
            batch.parse_lines(chunk.join("\n").as_bytes(), 0, 1, 0, &KnownSnapshots);
            tables = batch.take_tables();
            b.add_batch(batch);
        }
        b.finish()
    }

    #[test]
    fn histories_fold_per_leaf_with_nulls_and_partial_updates() {
        let lines = [
            r#"{"type":"group","userId":"u1","groupId":"g","timestamp":"2023-01-01T00:00:01Z","traits":{"plan":"free","address":{"city":"A","zip":"1"}}}"#,
            r#"{"type":"group","userId":"u2","groupId":"g","timestamp":"2023-01-01T00:00:02Z","traits":{"address":{"city":"B"}}}"#,
            r#"{"type":"group","userId":"u1","groupId":"g","timestamp":"2023-01-01T00:00:03Z","traits":{"plan":"free"}}"#,
            r#"{"type":"group","userId":"u1","groupId":"g","timestamp":"2023-01-01T00:00:04Z","traits":{"plan":null,"plan":"pro"}}"#,
            r#"{"type":"group","userId":"u1","groupId":"g","timestamp":"2023-01-01T00:00:05Z","traits":{"plan":null}}"#,
        ];
        for batches in [1, 2, 5] {
            let m = build(&lines, batches);
            let g = m.find_group("g").unwrap();
            let current: Vec<(&str, &str)> = m
                .group(g)
                .traits
                .iter()
                .map(|t| (m.str(t.key), m.str(t.value)))
                .collect();
            assert_eq!(
                current,
                vec![
                    ("address.city", "\"B\""),
                    ("address.zip", "\"1\""),
                    ("plan", "null")
                ]
            );
            let plan: Vec<(Option<&str>, &str)> = m
                .trait_history(g, "plan")
                .iter()
                .map(|c| (c.old.map(|o| m.str(o)), m.str(c.new)))
                .collect();
            assert_eq!(
                plan,
                vec![
                    (None, "\"free\""),
                    (Some("\"free\""), "\"pro\""),
                    (Some("\"pro\""), "null")
                ]
            );
            assert_eq!(m.trait_history(g, "address.city").len(), 2);
            let members: Vec<u32> = m.members(g).iter().map(|x| x.calls).collect();
            assert_eq!(members, vec![4, 1]);
            assert_eq!(m.snapshot_count(), 5);
            let first: Vec<(&str, &str)> = m.snapshot(m.calls()[0].snapshot).collect();
            assert_eq!(
                first,
                vec![
                    ("address.city", "\"A\""),
                    ("address.zip", "\"1\""),
                    ("plan", "\"free\"")
                ]
            );
        }
    }

    #[test]
    fn anonymous_calls_join_the_user_an_event_linked_later() {
        let lines = [
            r#"{"type":"group","anonymousId":"a1","groupId":"g","timestamp":"2023-01-01T00:00:01Z"}"#,
            r#"{"type":"track","anonymousId":"a1","userId":"u1","timestamp":"2023-01-01T00:00:02Z"}"#,
            r#"{"type":"group","anonymousId":"a2","groupId":"g","timestamp":"2023-01-01T00:00:03Z"}"#,
        ];
        let m = build(&lines, 2);
        assert_eq!(m.users().len(), 2);
        let u1 = m.find_user("u1").unwrap();
        assert_eq!(m.user_label(u1), "u1");
        assert_eq!(m.user(u1).anonymous_ids.len(), 1);
        let g = m.find_group("g").unwrap();
        assert_eq!(m.members(g).len(), 2);
        assert_eq!(m.calls()[0].user, u1);
    }
}
