//! [`KnownSnapshots`]: the snapshots the builder has already merged, published to the workers
//! so that a worker does not learn again what another worker taught the model.
//!
//! Each worker keeps its own tables ([`super::LocalTables`]), so with two workers a group's
//! traits were flattened and looked up twice, once by each (on 1M events, a third more work
//! in `push_hashed`). The builder now publishes every snapshot it merges (hash and global id)
//! here; a worker whose own table misses asks this index before flattening, and on a hit the
//! event names the global snapshot directly. The model cannot change: a global id exists only
//! for a snapshot already merged, and the builder would have mapped the same hash to it.
//!
//! The index is written by the builder alone and read by the workers without locks: a slot's
//! hash is stored before its id (with release ordering), and a reader that sees the id (with
//! acquire ordering) sees the hash. A reader racing an insert may miss it, which only costs the
//! old way. When half full, the builder copies the index into one twice the size and swaps it
//! in; workers pick up the current index at the start of each chunk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::intern::TextHash;
use super::table::prefetch_item;

/// The first index the builder fills holds this many slots (it doubles as it publishes).
const FIRST_SLOTS: usize = 1 << 12;

/// Global snapshot ids as a worker's event carries them: this bit set, to tell them from the
/// worker's local ids.
pub(crate) const GLOBAL: u32 = 1 << 31;

/// One slot: the hash's low 64 bits, then its next 32 bits and the id plus one (0: empty).
#[derive(Debug, Default)]
struct Slot {
    low: AtomicU64,
    rest: AtomicU64,
}

/// An insert-only hash index from snapshot hash to global id.
#[derive(Debug)]
pub(crate) struct SnapshotIndex {
    slots: Box<[Slot]>,
}

impl SnapshotIndex {
    fn with_slots(n: usize) -> Self {
        SnapshotIndex {
            slots: (0..n).map(|_| Slot::default()).collect(),
        }
    }

    #[inline(always)]
    fn home(&self, low: u64) -> usize {
        (low as usize) & (self.slots.len() - 1)
    }

    /// The global id of the snapshot with `hash`, if the builder has published it.
    #[inline]
    pub(crate) fn get(&self, hash: TextHash) -> Option<u32> {
        let (low, high) = (hash as u64, (hash >> 64) as u32);
        let mask = self.slots.len() - 1;
        let mut i = self.home(low);
        loop {
            let rest = self.slots[i].rest.load(Ordering::Acquire);
            if rest == 0 {
                return None;
            }
            if (rest >> 32) as u32 == high && self.slots[i].low.load(Ordering::Relaxed) == low {
                return Some(rest as u32 - 1);
            }
            i = (i + 1) & mask;
        }
    }

    /// Asks for the line `hash` would go in, without waiting.
    #[inline(always)]
    fn prefetch(&self, hash: TextHash) {
        prefetch_item(&self.slots, self.home(hash as u64));
    }

    /// Adds `hash → id`; only the builder calls this, for hashes not yet present.
    fn insert(&self, low: u64, rest: u64) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(low);
        while self.slots[i].rest.load(Ordering::Relaxed) != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i].low.store(low, Ordering::Relaxed);
        self.slots[i].rest.store(rest, Ordering::Release);
    }
}

/// The snapshots a builder has merged, shared with the workers that feed it.
#[derive(Debug)]
pub struct KnownSnapshots {
    current: Mutex<Arc<SnapshotIndex>>,
}

impl Default for KnownSnapshots {
    fn default() -> Self {
        KnownSnapshots {
            // One empty slot until the builder publishes: a load on one thread never does.
            current: Mutex::new(Arc::new(SnapshotIndex::with_slots(1))),
        }
    }
}

impl KnownSnapshots {
    /// The index as it is now (later publications may land in a newer one).
    pub(crate) fn current(&self) -> Arc<SnapshotIndex> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<SnapshotIndex>> {
        // The guarded value is an `Arc` swapped whole, never left half-written.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The builder's side of [`KnownSnapshots`]: it alone publishes, and counts what it published.
#[derive(Debug, Default)]
pub(crate) struct Publisher {
    known: Arc<KnownSnapshots>,
    index: Option<Arc<SnapshotIndex>>,
    len: usize,
}

impl Publisher {
    /// The shared set, for the workers.
    pub(crate) fn known(&self) -> Arc<KnownSnapshots> {
        self.known.clone()
    }

    /// Whether anything has been published.
    pub(crate) fn started(&self) -> bool {
        self.index.is_some()
    }

    /// Asks for the line a later [`Publisher::publish`] of `hash` writes (its inserts land
    /// at random in an index of megabytes).
    #[inline]
    pub(crate) fn prefetch(&self, hash: TextHash) {
        if let Some(index) = &self.index {
            index.prefetch(hash);
        }
    }

    /// Publishes a snapshot the builder has just added as `id`.
    pub(crate) fn publish(&mut self, hash: TextHash, id: u32) {
        if id >= GLOBAL - 1 {
            return;
        }
        let index = self.index.get_or_insert_with(|| self.known.current());
        if (self.len + 1) * 2 > index.slots.len() {
            let bigger = SnapshotIndex::with_slots((index.slots.len() * 2).max(FIRST_SLOTS));
            for s in index.slots.iter() {
                let rest = s.rest.load(Ordering::Relaxed);
                if rest != 0 {
                    bigger.insert(s.low.load(Ordering::Relaxed), rest);
                }
            }
            let bigger = Arc::new(bigger);
            *self.known.lock() = bigger.clone();
            *index = bigger;
        }
        let rest = u64::from((hash >> 64) as u32) << 32 | u64::from(id + 1);
        index.insert(hash as u64, rest);
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_snapshots_are_found_across_growth() {
        let mut p = Publisher::default();
        let known = p.known();
        let hash = |i: u64| {
            u128::from(i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                | u128::from(i.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)) << 64
        };
        p.publish(hash(0), 0);
        let early = known.current();
        for i in 1..20_000u64 {
            p.publish(hash(i), i as u32);
        }
        let now = known.current();
        for i in 0..20_000u64 {
            assert_eq!(now.get(hash(i)), Some(i as u32));
        }
        assert_eq!(now.get(hash(20_000)), None);
        // A worker still holding the first index sees what was published before it grew.
        assert_eq!(early.get(hash(0)), Some(0));
        // Same low bits, other high bits: not the same snapshot.
        assert_eq!(now.get(hash(1) ^ 1 << 70), None);
    }

    #[test]
    fn ids_that_would_collide_with_the_tag_are_not_published() {
        let mut p = Publisher::default();
        p.publish(5, GLOBAL - 1);
        assert_eq!(p.known().current().get(5), None);
    }
}
