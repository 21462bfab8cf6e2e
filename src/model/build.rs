//! [`ModelBuilder`]: merges [`Batch`]es in input order, then resolves users, orders calls and
//! folds trait histories.

use std::collections::{HashMap, HashSet};

use super::batch::{Batch, LocalEvent};
use super::intern::{Interner, Sym};
use super::known::{GLOBAL, KnownSnapshots, Publisher};
use super::snapshot::SnapshotStore;
use super::table::{MessageSet, prefetch_item};
use super::{
    CallMark, Counts, GroupCall, GroupId, IdentifyCall, KEPT_PROBLEMS, Model, Problem, SourceInfo,
    UserId,
};
use crate::event::{EventKind, EventTime};

use super::NONE;
use super::fold::{Fold, GroupFolder, GroupsFolded, MemberScratch, fold_users, join_folded};
use super::order::{
    Shared, chunks, cut, gather_group, group_buckets, join, resolve_users, sort_order,
};

/// Below this many calls (group and identify) `finish` stays on one thread: a second would
/// cost more than it saves.
const SPLIT_FROM: usize = 50_000;

/// How many runs of groups (of about equal call counts) the two threads share.
const SPLIT_PARTS: usize = 32;

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
    /// The snapshots merged so far, published for the workers.
    known: Publisher,
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

    /// The snapshots this builder has merged, for the workers parsing batches for it (see
    /// [`KnownSnapshots`]).
    pub fn known_snapshots(&self) -> std::sync::Arc<KnownSnapshots> {
        self.known.known()
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

    /// Makes room for about `more` further events, when the input's size says how many are
    /// coming: growing the messageId set step by step moves every key at each doubling, and
    /// growing the call lists copies them while they are small enough to live on the heap.
    /// The calls are shared out as among the events merged so far (all group calls before
    /// any); room reserved and never used is never touched, so it costs no memory.
    pub fn expect_events(&mut self, more: usize) {
        self.messages.reserve(more);
        let share = |n: u64, all: u64| {
            usize::try_from(u128::from(n) * more as u128 / u128::from(all.max(1))).unwrap_or(more)
        };
        let (group, identify) = match self.counts.events {
            0 => (more, 0),
            all => (
                share(self.counts.group, all),
                share(self.counts.identify, all),
            ),
        };
        // Only a hint: where the room cannot be had, the lists grow as they would have.
        let _ = self.calls.try_reserve(group);
        let _ = self.call_people.try_reserve(group);
        let _ = self.identifies.try_reserve(identify);
        let _ = self.identify_people.try_reserve(identify);
    }

    /// Room in the messageId set (see [`ModelBuilder::expect_events`]).
    #[cfg(test)]
    pub(crate) fn message_room(&self) -> usize {
        self.messages.capacity() / 2
    }

    /// Room in the group call list.
    #[cfg(test)]
    pub(crate) fn call_room(&self) -> usize {
        self.calls.capacity()
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
        // Publishing only pays when another worker's tables can use it: from the first batch
        // of a second lineage on, with the snapshots merged before it.
        let publishing = !self.lineages.is_empty();
        if publishing && !self.known.started() {
            for (hash, id) in self.snapshots.hashes() {
                self.known.publish(hash, id);
            }
        }
        for (i, s) in batch.new_snapshots.iter().enumerate() {
            let ahead = batch.new_snapshots.get(i + 8).map(|s| s.hash);
            self.snapshots.prefetch(None, ahead);
            if let (true, Some(hash)) = (publishing, ahead) {
                self.known.prefetch(hash);
            }
            let members = &batch.snapshot_members[s.start as usize..(s.start + s.len) as usize];
            let before = self.snapshots.len();
            let id = self.snapshots.snapshot(s.hash, || {
                members
                    .iter()
                    .map(|&m| map.members.get(m as usize).copied().unwrap_or_default())
                    .collect()
            });
            if id as usize == before && publishing {
                self.known.publish(s.hash, id);
            }
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
                    self.messages.prefetch(m);
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
            && !self.messages.insert(m)
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
        // A worker names a snapshot the builder had already published by its global id.
        let snapshot = ev.snapshot.map_or(0, |s| match s & GLOBAL {
            0 => map.snapshots.get(s as usize).copied().unwrap_or(0),
            _ => s & !GLOBAL,
        });
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
            known: Publisher::default(),
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
        self.finish_split(SPLIT_FROM)
    }

    /// [`ModelBuilder::finish`], on two threads from `split_from` calls on.
    fn finish_split(self, split_from: usize) -> Model {
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

        let split = calls.len() + identifies.len() >= split_from;
        let parts = if split { SPLIT_PARTS } else { 1 };
        let (group_ids, starts, mut order) = group_buckets(&strings, &calls);
        let runs = chunks(&starts, parts);
        phases.mark("groups");

        // The calls are sorted by group, then time, then receipt, into `sorted`, a run of
        // groups at a time by both threads; the second first resolves users (the two read the
        // same symbols and write nothing in common).
        let people = (links, call_people, identify_people);
        let mut sorted: Vec<GroupCall> = Vec::with_capacity(calls.len());
        let work = Shared::new(
            runs.iter()
                .cloned()
                .zip(cut(&mut order, &starts, &runs))
                .zip(cut(sorted.spare_capacity_mut(), &starts, &runs)),
        );
        let gather = || {
            let mut scratch = Vec::new();
            while let Some(((run, order), out)) = work.take() {
                let base = starts[run.start];
                for g in run {
                    let at = (starts[g] - base) as usize..(starts[g + 1] - base) as usize;
                    let (order, out) = (&mut order[at.clone()], &mut out[at]);
                    gather_group(g as u32, &calls, order, out, &mut scratch);
                }
            }
        };
        let here = || {
            gather();
            phases.mark("gather");
        };
        let ((), (mut users, call_users, identifies)) = join(split, here, || {
            let mut phases = super::phases::Phases::start("finish");
            // Taken here, to be freed as soon as they are read (the gather is the peak).
            let (links, call_people, identify_people) = people;
            let mut identifies = identifies;
            let (users, call_users, identify_users) =
                resolve_users(&strings, &links, &call_people, &identify_people);
            drop((links, call_people, identify_people));
            for (c, &u) in identifies.iter_mut().zip(&identify_users) {
                c.user = UserId(u);
            }
            phases.mark("users (second thread)");
            gather();
            (users, call_users, identifies)
        });
        drop(work);
        assert_eq!(starts.last().copied().unwrap_or(0) as usize, calls.len());
        // SAFETY: `runs` covers every group and `cut` gives each run its calls' slots, so
        // `sorted`'s spare capacity was cut into pieces that together hold `calls.len()` slots;
        // both threads took pieces until none was left, and `gather_group` writes every slot
        // of its piece (its order and output have the same length). A panic on either thread
        // is raised by `join` before this line.
        unsafe { sorted.set_len(calls.len()) };
        drop(calls);
        let mut calls = sorted;
        phases.mark("wait for the second thread");

        // Both threads fold runs of groups, each with its own tables; the second first folds
        // the users' identify traits.
        let folder = GroupFolder {
            group_ids: &group_ids,
            starts: &starts,
            call_users: &call_users,
            snapshots: &snapshots,
            strings: &strings,
        };
        let work = Shared::new(
            runs.iter()
                .cloned()
                .enumerate()
                .zip(cut(&mut calls, &starts, &runs))
                .zip(cut(&mut order, &starts, &runs)),
        );
        let fold_runs = || {
            let mut scratch = (Fold::new(strings.len()), MemberScratch::new(users.len()));
            let mut done = Vec::new();
            while let Some((((k, run), calls), order)) = work.take() {
                done.push((k, folder.fold(run, calls, order, &mut scratch)));
            }
            done
        };
        let here = || {
            let done = fold_runs();
            phases.mark("fold");
            done
        };
        let (mut done, (theirs, identifies, (user_traits, mut user_changes))) =
            join(split, here, || {
                let mut phases = super::phases::Phases::start("finish");
                let unsorted = identifies;
                let order = sort_order(
                    &unsorted,
                    users.len(),
                    |c| c.user.0,
                    |c| (c.time.utc_ms, c.received_ms),
                );
                let identifies: Vec<IdentifyCall> =
                    order.iter().map(|&i| unsorted[i as usize]).collect();
                drop((order, unsorted));
                let folded = fold_users(&identifies, &snapshots, &strings);
                phases.mark("user fold (second thread)");
                (fold_runs(), identifies, folded)
            });
        drop(work);
        done.extend(theirs);
        done.sort_unstable_by_key(|&(k, _)| k);
        let GroupsFolded {
            groups,
            mut changes,
            memberships,
        } = join_folded(done.into_iter().map(|(_, part)| part).collect());
        drop(order);
        drop(call_users);
        phases.mark("wait and join");
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
            batch.parse_lines(
                chunk.join("\n").as_bytes(),
                0,
                1,
                0,
                &KnownSnapshots::default(),
            );
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

    #[test]
    fn two_threads_build_the_model_one_builds() {
        // Many groups of uneven sizes, ties in time, calls without a time, anonymous users
        // that an event links later, identifies with changing traits.
        let mut lines = Vec::new();
        for i in 0..600u32 {
            let group = (i * i) % 97;
            let person = match i % 5 {
                0 => format!(r#""anonymousId":"a{}""#, i % 29),
                1 => format!(r#""anonymousId":"a{}","userId":"u{}""#, i % 23, i % 11),
                _ => format!(r#""userId":"u{}""#, i % 13),
            };
            let time = if i % 17 == 0 {
                String::new()
            } else {
                format!(r#","timestamp":"2023-01-01T00:00:0{}Z""#, i % 7)
            };
            let kind = if i % 9 == 0 { "identify" } else { "group" };
            lines.push(format!(
                r#"{{"type":"{kind}",{person},"groupId":"g{group}"{time},"traits":{{"plan":"p{}","seats":{}}}}}"#,
                i % 3,
                i % 4
            ));
        }
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let finish = |split_from: usize| {
            let mut b = ModelBuilder::new();
            let mut batch = Batch::with_tables(super::super::batch::LocalTables::new());
            batch.parse_lines(
                lines.join("\n").as_bytes(),
                0,
                1,
                0,
                &KnownSnapshots::default(),
            );
            b.add_batch(batch);
            b.finish_split(split_from)
        };
        let one = finish(usize::MAX);
        let two = finish(0);
        assert_eq!(one.groups().len(), 49);
        assert_eq!(one.users().len(), 19);
        let anonymous = one.users().iter().filter(|u| u.user_id.is_none()).count();
        assert_eq!(anonymous, 6);
        assert_eq!(one.changes.len(), 865);
        assert_eq!(one.user_changes.len(), 70);
        assert_eq!(one.memberships().len(), 399);
        assert_eq!(format!("{one:?}"), format!("{two:?}"));
    }

    #[test]
    fn snapshots_another_worker_taught_the_builder_are_named_by_global_id() {
        let lines: Vec<String> = (0..80)
            .map(|i| match i % 8 {
                7 => format!(
                    r#"{{"type":"identify","userId":"u{}","traits":{{"tier":"t{}"}}}}"#,
                    i % 5,
                    i % 2
                ),
                _ => format!(
                    r#"{{"type":"group","userId":"u{}","groupId":"g{}","timestamp":"2023-01-01T00:00:{:02}Z","traits":{{"plan":"p{}","seats":{}}}}}"#,
                    i % 7,
                    i % 5,
                    i % 60,
                    i % 3,
                    i % 4
                ),
            })
            .collect();
        // Two workers' tables take chunks in turn, as the pipeline's workers do.
        let build = |share: bool| {
            let mut b = ModelBuilder::new();
            let mut workers = [
                super::super::batch::LocalTables::new(),
                super::super::batch::LocalTables::new(),
            ];
            let mut global = 0;
            for (k, chunk) in lines.chunks(10).enumerate() {
                let tables = std::mem::take(&mut workers[k % 2]);
                let mut batch = Batch::with_tables(tables);
                let known = match share {
                    true => b.known_snapshots(),
                    false => std::sync::Arc::new(KnownSnapshots::default()),
                };
                batch.parse_lines(chunk.join("\n").as_bytes(), 0, 1, 0, &known);
                global += batch
                    .events
                    .iter()
                    .filter(|e| e.snapshot.is_some_and(|s| s & GLOBAL != 0))
                    .count();
                workers[k % 2] = batch.take_tables();
                b.add_batch(batch);
            }
            (format!("{:?}", b.finish()), global)
        };
        let (shared, global) = build(true);
        let (alone, none) = build(false);
        assert!(
            global > 0,
            "the second worker reused published snapshots ({global})"
        );
        assert_eq!(none, 0);
        assert_eq!(shared, alone);
    }
}
