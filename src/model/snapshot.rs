//! Trait snapshots, stored once each as lists of shared members.
//!
//! A call's `traits` is a snapshot; a snapshot is a list of members (one per top-level key,
//! sorted by key), and a member is the flattened leaves of one `(key, value)`. Calls of one group
//! repeat the same members in many combinations (partial updates), so members are stored once
//! and snapshots are short lists of member ids.

use super::intern::{Sym, TextHash};
use super::table::HashTable;

/// Where a snapshot's members are, and how many leaves they hold together.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
    leaves: u32,
}

/// Every distinct snapshot and member, with their leaves.
#[derive(Debug, Default)]
pub struct SnapshotStore {
    index: HashTable,
    member_index: HashTable,
    spans: Vec<Span>,
    member_ids: Vec<u32>,
    members: Vec<(u32, u32)>,
    leaves: Vec<(Sym, Sym)>,
}

impl SnapshotStore {
    /// The member with this hash, adding it with `leaves` (called only when new) if unknown.
    pub(crate) fn member(
        &mut self,
        hash: TextHash,
        leaves: impl FnOnce() -> Vec<(Sym, Sym)>,
    ) -> u32 {
        if let Some(id) = self.member_index.get(hash) {
            return id;
        }
        let id = self.members.len() as u32;
        let start = self.leaves.len() as u32;
        self.leaves.extend(leaves());
        self.members.push((start, self.leaves.len() as u32 - start));
        self.member_index.insert(hash, id);
        id
    }

    /// The snapshot with this hash, adding it with `members` (called only when new) if unknown.
    pub(crate) fn snapshot(&mut self, hash: TextHash, members: impl FnOnce() -> Vec<u32>) -> u32 {
        if let Some(id) = self.index.get(hash) {
            return id;
        }
        let id = self.spans.len() as u32;
        let start = self.member_ids.len() as u32;
        let mut leaves = 0u32;
        for m in members() {
            leaves += self.members.get(m as usize).map_or(0, |&(_, n)| n);
            self.member_ids.push(m);
        }
        self.spans.push(Span {
            start,
            len: self.member_ids.len() as u32 - start,
            leaves,
        });
        self.index.insert(hash, id);
        id
    }

    /// Asks for the index lines a later [`SnapshotStore::member`] and
    /// [`SnapshotStore::snapshot`] of these hashes read.
    pub(crate) fn prefetch(&self, member: Option<TextHash>, snapshot: Option<TextHash>) {
        if let Some(h) = member {
            self.member_index.prefetch(h);
        }
        if let Some(h) = snapshot {
            self.index.prefetch(h);
        }
    }

    /// Drops the lookup tables once nothing more will be added.
    pub(crate) fn seal(&mut self) {
        self.index = HashTable::default();
        self.member_index = HashTable::default();
        self.member_ids.shrink_to_fit();
        self.members.shrink_to_fit();
        self.leaves.shrink_to_fit();
        self.spans.shrink_to_fit();
    }

    /// A sealed copy (without the lookup tables), for a model of what was read so far.
    pub(crate) fn sealed_copy(&self) -> SnapshotStore {
        SnapshotStore {
            index: HashTable::default(),
            member_index: HashTable::default(),
            spans: self.spans.clone(),
            member_ids: self.member_ids.clone(),
            members: self.members.clone(),
            leaves: self.leaves.clone(),
        }
    }

    /// Every snapshot's hash (the 96 bits its index keeps) and id.
    pub(crate) fn hashes(&self) -> impl Iterator<Item = (TextHash, u32)> + '_ {
        self.index.entries()
    }

    /// How many snapshots there are.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The flattened `(key, value)` leaves of a snapshot, in order (empty for an unknown id).
    pub fn leaves(&self, snapshot: u32) -> Leaves<'_> {
        let span = self
            .spans
            .get(snapshot as usize)
            .copied()
            .unwrap_or_default();
        let ids = &self.member_ids[span.start as usize..(span.start + span.len) as usize];
        Leaves {
            store: self,
            ids,
            current: [].iter(),
            left: span.leaves as usize,
        }
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.spans.capacity() * 12
            + self.member_ids.capacity() * 4
            + self.members.capacity() * 8
            + self.leaves.capacity() * 8
            + (self.index.capacity() + self.member_index.capacity()) * 20
    }
}

/// The leaves of one snapshot, member after member.
#[derive(Debug, Clone)]
pub struct Leaves<'a> {
    store: &'a SnapshotStore,
    ids: &'a [u32],
    current: std::slice::Iter<'a, (Sym, Sym)>,
    left: usize,
}

impl<'a> Iterator for Leaves<'a> {
    type Item = &'a (Sym, Sym);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(leaf) = self.current.next() {
                self.left -= 1;
                return Some(leaf);
            }
            let (&first, rest) = self.ids.split_first()?;
            self.ids = rest;
            let (start, len) = self.store.members.get(first as usize).copied()?;
            self.current = self.store.leaves[start as usize..(start + len) as usize].iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Leaves<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_share_members_and_list_their_leaves() {
        let mut store = SnapshotStore::default();
        let (k1, v1, k2, v2, v3) = (Sym(1), Sym(2), Sym(3), Sym(4), Sym(5));
        let a = store.member(10, || vec![(k1, v1)]);
        let b = store.member(11, || vec![(k2, v2), (k2, v3)]);
        assert_eq!(store.member(10, || unreachable!()), a);
        let s1 = store.snapshot(100, || vec![a, b]);
        let s2 = store.snapshot(101, || vec![b]);
        let empty = store.snapshot(102, Vec::new);
        assert_eq!(store.snapshot(100, || unreachable!()), s1);
        let all: Vec<_> = store.leaves(s1).copied().collect();
        assert_eq!(all, vec![(k1, v1), (k2, v2), (k2, v3)]);
        assert_eq!(store.leaves(s1).len(), 3);
        assert_eq!(store.leaves(s2).len(), 2);
        assert_eq!(store.leaves(empty).count(), 0);
        assert_eq!(store.leaves(99).count(), 0);
        assert_eq!(store.len(), 3);
        store.seal();
        assert_eq!(
            store.leaves(s2).copied().collect::<Vec<_>>(),
            vec![(k2, v2), (k2, v3)]
        );
    }
}
