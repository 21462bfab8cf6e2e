//! The orders `finish` puts things in: calls sorted by group and time, users resolved and
//! sorted by id; and how its two threads share the work (`join`, `Shared`, `chunks`, `cut`).

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

use super::intern::{Interner, Sym};
use super::table::prefetch_item;
use super::{GroupCall, GroupId, NONE, User};

/// Runs `here` on this thread and, when `split`, `there` on a second one (else after `here`),
/// and returns both results. A panic on the second thread is a bug; it is raised here.
pub(super) fn join<A, B: Send>(
    split: bool,
    here: impl FnOnce() -> A,
    there: impl FnOnce() -> B + Send,
) -> (A, B) {
    if !split {
        let a = here();
        return (a, there());
    }
    std::thread::scope(|scope| {
        let other = scope.spawn(there);
        let a = here();
        match other.join() {
            Ok(b) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Pieces of work both threads take from, in order, until none is left.
pub(super) struct Shared<I>(Mutex<I>);

impl<I: Iterator> Shared<I> {
    /// Shares `work`.
    pub(super) fn new(work: I) -> Self {
        Shared(Mutex::new(work))
    }

    /// The next piece, if any is left.
    pub(super) fn take(&self) -> Option<I::Item> {
        // A thread that panicked while taking left the iterator as it was; the panic is
        // raised by `join`.
        self.0.lock().unwrap_or_else(PoisonError::into_inner).next()
    }
}

/// Buckets `0..starts.len() - 1` cut into at most `parts` runs of about equal item counts
/// (`starts[b]..starts[b + 1]` are bucket b's items), for threads to share.
pub(super) fn chunks(starts: &[u32], parts: usize) -> Vec<Range<usize>> {
    let buckets = starts.len().saturating_sub(1);
    let total = u64::from(starts.last().copied().unwrap_or(0));
    let parts = parts.max(1) as u64;
    let mut out = Vec::new();
    let mut from = 0;
    for k in 1..=parts {
        // The first bucket that starts at or after k/parts of the items (the last: all).
        let to = if k == parts {
            buckets
        } else {
            starts[..buckets].partition_point(|&s| u64::from(s) * parts < total * k)
        };
        if to > from {
            out.push(from..to);
            from = to;
        }
    }
    out
}

/// `items`, which hold the items of buckets `runs[0].start..`, cut into the items of each run
/// (`starts[b]..starts[b + 1]` are bucket b's items).
pub(super) fn cut<'a, T>(
    mut items: &'a mut [T],
    starts: &[u32],
    runs: &[Range<usize>],
) -> Vec<&'a mut [T]> {
    runs.iter()
        .map(|r| {
            let len = (starts[r.end] - starts[r.start]) as usize;
            let (run, rest) = std::mem::take(&mut items).split_at_mut(len);
            items = rest;
            run
        })
        .collect()
}

/// The groups in `calls`, sorted by id text, with the calls bucketed by group:
/// `order[starts[g]..starts[g + 1]]` are group g's calls' indexes, in input order.
pub(super) fn group_buckets(
    strings: &Interner,
    calls: &[GroupCall],
) -> (Vec<Sym>, Vec<u32>, Vec<u32>) {
    // Groups in first-seen order, their sizes, and each call's group in that order: a second
    // pass reads these 4 bytes a call instead of the whole calls again.
    let mut seen = vec![NONE; strings.len()];
    let mut first_seen: Vec<Sym> = Vec::new();
    let mut sizes: Vec<u32> = Vec::new();
    let mut of_call: Vec<u32> = Vec::with_capacity(calls.len());
    for c in calls {
        let g = &mut seen[c.group.0 as usize];
        if *g == NONE {
            *g = first_seen.len() as u32;
            first_seen.push(Sym(c.group.0));
            sizes.push(0);
        }
        sizes[*g as usize] += 1;
        of_call.push(*g);
    }
    drop(seen);
    let mut by_text: Vec<u32> = (0..first_seen.len() as u32).collect();
    by_text.sort_unstable_by(|&a, &b| {
        strings
            .get(first_seen[a as usize])
            .cmp(strings.get(first_seen[b as usize]))
    });
    let mut rank = vec![0u32; first_seen.len()];
    let mut starts = Vec::with_capacity(first_seen.len() + 1);
    starts.push(0u32);
    for (r, &g) in by_text.iter().enumerate() {
        rank[g as usize] = r as u32;
        starts.push(starts[r] + sizes[g as usize]);
    }
    let mut next = starts.clone();
    let mut order = vec![0u32; calls.len()];
    for (i, &g) in of_call.iter().enumerate() {
        let b = &mut next[rank[g as usize] as usize];
        order[*b as usize] = i as u32;
        *b += 1;
    }
    let group_ids = by_text.iter().map(|&g| first_seen[g as usize]).collect();
    (group_ids, starts, order)
}

/// Sorts group `group`'s call indexes `order` by time, then receipt (ties keep input order,
/// as the indexes rise), and writes the calls in that order to `out`, with their group.
/// `scratch` holds the keys beside the indexes, so the sort stays in cache; reading the keys
/// brings the bucket's calls into cache for the writes.
pub(super) fn gather_group(
    group: u32,
    calls: &[GroupCall],
    order: &mut [u32],
    out: &mut [MaybeUninit<GroupCall>],
    scratch: &mut Vec<((i64, i64), u32)>,
) {
    // The reads go to scattered calls: each is asked for a few calls ahead.
    const AHEAD: usize = 8;
    scratch.clear();
    scratch.extend(order.iter().enumerate().map(|(k, &i)| {
        if let Some(&next) = order.get(k + AHEAD) {
            prefetch_item(calls, next as usize);
        }
        let c = &calls[i as usize];
        ((c.time.utc_ms, c.received_ms), i)
    }));
    if !scratch.is_sorted() {
        scratch.sort_unstable();
    }
    for ((slot, i), &(_, j)) in out.iter_mut().zip(order.iter_mut()).zip(scratch.iter()) {
        *i = j;
        slot.write(GroupCall {
            group: GroupId(group),
            ..calls[j as usize]
        });
    }
}

/// The order that sorts `items` by `bucket` (below `buckets`), then by `key`, keeping input
/// order for ties, as indexes into `items`: a counting sort of `(key, index)` pairs by bucket,
/// then a sort of each bucket's pairs (skipped when the bucket is already in order, as exports
/// mostly are). The pairs sit side by side, so sorting a bucket never leaves the cache (an
/// index sort that read each item's key through its index missed it on every comparison).
/// Callers gather the items in this order into a new vector: the gather's reads are
/// independent, so the memory system overlaps their misses.
pub(super) fn sort_order<T, K: Ord + Copy + Default>(
    items: &[T],
    buckets: usize,
    bucket: impl Fn(&T) -> u32,
    key: impl Fn(&T) -> K,
) -> Vec<u32> {
    let mut starts = vec![0u32; buckets + 1];
    for item in items.iter() {
        starts[bucket(item) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut pairs: Vec<(K, u32)> = vec![(K::default(), 0); items.len()];
    let mut next = starts.clone();
    for (i, item) in items.iter().enumerate() {
        let b = bucket(item) as usize;
        pairs[next[b] as usize] = (key(item), i as u32);
        next[b] += 1;
    }
    drop(next);
    for w in starts.windows(2) {
        let run = &mut pairs[w[0] as usize..w[1] as usize];
        // Indexes rise within a bucket, so comparing whole pairs keeps input order for ties.
        if !run.is_sorted() {
            run.sort_unstable();
        }
    }
    pairs.into_iter().map(|(_, i)| i).collect()
}

/// Users keyed by userId, else by the userId an event linked the anonymousId to, else by the
/// anonymousId; identified users first, each part sorted by its id text. Returns them with the
/// user of each group call and of each identify call.
pub(super) fn resolve_users(
    strings: &Interner,
    links: &[u32],
    call_people: &[(u32, u32)],
    identify_people: &[(u32, u32)],
) -> (Vec<User>, Vec<u32>, Vec<u32>) {
    let user_key = |(u, a): (u32, u32)| -> (u32, bool) {
        if u != NONE {
            (u, true)
        } else if a != NONE {
            match links.get(a as usize).copied().unwrap_or(NONE) {
                NONE => (a, false),
                linked => (linked, true),
            }
        } else {
            (0, false)
        }
    };
    // `user_slot[sym]` is the user a key symbol names.
    let mut user_slot = vec![NONE; strings.len()];
    let mut ordered: Vec<(u32, bool)> = Vec::new();
    for &p in call_people.iter().chain(identify_people.iter()) {
        let (k, identified) = user_key(p);
        if user_slot[k as usize] == NONE {
            user_slot[k as usize] = 0;
            ordered.push((k, identified));
        }
    }
    // Keys are distinct, so an unstable sort gives the one order.
    ordered.sort_unstable_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| strings.get(Sym(a.0)).cmp(strings.get(Sym(b.0))))
    });
    for (i, &(k, _)) in ordered.iter().enumerate() {
        user_slot[k as usize] = i as u32;
    }
    let mut users: Vec<User> = ordered
        .iter()
        .map(|&(k, identified)| User {
            user_id: identified.then_some(Sym(k)),
            anonymous_ids: if identified { Vec::new() } else { vec![Sym(k)] },
            memberships: Vec::new(),
            identifies: 0..0,
            traits: Vec::new(),
        })
        .collect();
    drop(ordered);
    for &p in call_people.iter().chain(identify_people.iter()) {
        let (k, identified) = user_key(p);
        if identified && p.1 != NONE {
            let u = &mut users[user_slot[k as usize] as usize];
            if !u.anonymous_ids.contains(&Sym(p.1)) {
                u.anonymous_ids.push(Sym(p.1));
            }
        }
    }
    let of = |people: &[(u32, u32)]| -> Vec<u32> {
        people
            .iter()
            .map(|&p| user_slot[user_key(p).0 as usize])
            .collect()
    };
    let call_users = of(call_people);
    let identify_users = of(identify_people);
    (users, call_users, identify_users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sort_order_is_a_stable_sort_by_bucket_then_key() {
        let items: Vec<(u32, i64, usize)> = (0..500)
            .map(|i| ((i * 7 % 5) as u32, (i * 13 % 11) as i64, i))
            .collect();
        let mut want = items.clone();
        want.sort_by_key(|&(b, k, _)| (b, k));
        let order = sort_order(&items, 5, |x| x.0, |x| x.1);
        let sorted: Vec<_> = order.iter().map(|&i| items[i as usize]).collect();
        assert_eq!(sorted, want);
        let empty: Vec<(u32, i64, usize)> = Vec::new();
        assert!(sort_order(&empty, 0, |x| x.0, |x| x.1).is_empty());
    }
}
