//! The orders `finish` puts things in: calls sorted by group and time, users resolved and
//! sorted by id.

use super::intern::{Interner, Sym};
use super::{NONE, User};

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
