//! [`HashTable`]: the workers' map from a [`TextHash`] to a local id, built for lookups that
//! miss the cache.
//!
//! A worker's tables hold a few hundred thousand entries on a 1M-event export, far more than
//! the caches, so nearly every lookup waits on memory. This table keeps one 16-byte slot per
//! entry (four to a cache line, open addressing with linear probing), so a lookup touches one
//! line, and it can [`HashTable::prefetch`] that line: the worker hashes a few events ahead and
//! asks for their lines before it needs them, overlapping the waits instead of taking them one
//! by one.
//!
//! Slots keep 96 of the hash's 128 bits; two different texts agreeing on all 96 is as unlikely
//! as it needs to be (below 10⁻¹⁸ for a million entries), and the builder still interns by the
//! full hash.

use super::intern::TextHash;

/// Marks an empty slot (ids stay far below it).
const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct Slot {
    low: u64,
    high: u32,
    value: u32,
}

const VACANT: Slot = Slot {
    low: 0,
    high: 0,
    value: EMPTY,
};

/// A map from [`TextHash`] to `u32`, open addressing, at most half full.
#[derive(Debug, Clone)]
pub(crate) struct HashTable {
    slots: Vec<Slot>,
    len: usize,
}

impl Default for HashTable {
    fn default() -> Self {
        HashTable {
            slots: vec![VACANT; 16],
            len: 0,
        }
    }
}

/// The parts of a hash a slot compares.
#[inline(always)]
fn split(hash: TextHash) -> (u64, u32) {
    (hash as u64, (hash >> 64) as u32)
}

impl HashTable {
    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    #[inline(always)]
    fn home(&self, low: u64) -> usize {
        // xxh3's low bits are uniform; the length is a power of two.
        (low as usize) & (self.slots.len() - 1)
    }

    /// The value for `hash`, if present.
    #[inline]
    pub(crate) fn get(&self, hash: TextHash) -> Option<u32> {
        let (low, high) = split(hash);
        let mask = self.slots.len() - 1;
        let mut i = self.home(low);
        loop {
            let s = self.slots[i];
            if s.value == EMPTY {
                return None;
            }
            if s.low == low && s.high == high {
                return Some(s.value);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `hash → value`; `hash` must not be present (callers look it up first).
    pub(crate) fn insert(&mut self, hash: TextHash, value: u32) {
        debug_assert!(value != EMPTY);
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let (low, high) = split(hash);
        self.place(Slot { low, high, value });
        self.len += 1;
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut i = self.home(slot.low);
        while self.slots[i].value != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = slot;
    }

    fn grow(&mut self) {
        let bigger = vec![VACANT; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        for s in old {
            if s.value != EMPTY {
                self.place(s);
            }
        }
    }

    /// Every entry, as its hash (the 96 bits kept) and value, in no particular order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (TextHash, u32)> + '_ {
        self.slots.iter().filter(|s| s.value != EMPTY).map(|s| {
            (
                TextHash::from(s.low) | TextHash::from(s.high) << 64,
                s.value,
            )
        })
    }

    /// Asks the memory system for the line `hash` would be looked up in, without waiting.
    #[inline(always)]
    pub(crate) fn prefetch(&self, hash: TextHash) {
        let slot = &self.slots[self.home(hash as u64)];
        prefetch_line(std::ptr::from_ref(slot).cast());
    }
}

/// A set of 64-bit hashes (of messageIds) for the builder's duplicate check, 8 bytes a slot,
/// at most half full, with [`MessageSet::prefetch`] like [`HashTable`]'s. A false duplicate
/// needs about 4·10⁹ distinct messages to become likely.
#[derive(Debug, Clone)]
pub(crate) struct MessageSet {
    /// 0 marks an empty slot; a real 0 is remembered in `zero`.
    slots: Vec<u64>,
    len: usize,
    zero: bool,
}

impl Default for MessageSet {
    fn default() -> Self {
        MessageSet {
            slots: vec![0; 16],
            len: 0,
            zero: false,
        }
    }
}

impl MessageSet {
    /// The key of a messageId: 64 bits of hash, all the set keeps.
    #[inline(always)]
    pub(crate) fn key(message_id: &str) -> u64 {
        xxhash_rust::xxh3::xxh3_64(message_id.as_bytes())
    }

    /// Adds `key`; says whether it was new.
    pub(crate) fn insert(&mut self, key: u64) -> bool {
        if key == 0 {
            return !std::mem::replace(&mut self.zero, true);
        }
        let mask = self.slots.len() - 1;
        let mut i = (key as usize) & mask;
        loop {
            match self.slots[i] {
                0 => break,
                k if k == key => return false,
                _ => i = (i + 1) & mask,
            }
        }
        self.slots[i] = key;
        self.len += 1;
        if self.len * 2 > self.slots.len() {
            self.rehash_into(vec![0; self.slots.len() * 2]);
        }
        true
    }

    /// Slots allocated.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Makes room for `more` keys beyond those held, so that adding them moves nothing. Only a
    /// hint: room the system will not give is not taken.
    pub(crate) fn reserve(&mut self, more: usize) {
        let want = (self.len.saturating_add(more))
            .checked_mul(2)
            .and_then(usize::checked_next_power_of_two);
        let Some(want) = want.filter(|&w| w > self.slots.len()) else {
            return;
        };
        let mut slots = Vec::new();
        if slots.try_reserve_exact(want).is_ok() {
            slots.extend(std::iter::repeat_n(0, want));
            self.rehash_into(slots);
        }
    }

    /// Moves every key into `slots`, all empty (their count a power of two).
    fn rehash_into(&mut self, slots: Vec<u64>) {
        let old = std::mem::replace(&mut self.slots, slots);
        let mask = self.slots.len() - 1;
        for k in old.into_iter().filter(|&k| k != 0) {
            let mut i = (k as usize) & mask;
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = k;
        }
    }

    /// Asks for the line `key` would be looked up in, without waiting.
    #[inline(always)]
    pub(crate) fn prefetch(&self, key: u64) {
        let slot = &self.slots[(key as usize) & (self.slots.len() - 1)];
        prefetch_line(std::ptr::from_ref(slot).cast());
    }
}

/// Asks for the cache line of `items[i]` (nothing when out of range), without waiting.
#[inline(always)]
pub(crate) fn prefetch_item<T>(items: &[T], i: usize) {
    if let Some(item) = items.get(i) {
        prefetch_line(std::ptr::from_ref(item).cast());
    }
}

/// Asks for the cache lines of `bytes[*fetched..upto]` (within `bytes`) and moves `fetched`
/// on: for reading a buffer front to back a page or so ahead of use, since the hardware
/// prefetchers stop at page boundaries.
#[inline]
pub(crate) fn prefetch_bytes(bytes: &[u8], fetched: &mut usize, upto: usize) {
    let upto = upto.min(bytes.len());
    while *fetched < upto {
        prefetch_item(bytes, *fetched);
        *fetched += 64;
    }
}

/// Asks for the cache line at `p` ahead of its use.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn prefetch_line(p: *const i8) {
    use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
    // SAFETY: a prefetch is only a hint; it never faults or changes memory, whatever the
    // address (and this one is a live slot of the table). SSE is part of x86_64.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p) }
}

/// Asks for the cache line at `p` ahead of its use.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn prefetch_line(_: *const i8) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::intern::text_hash;

    #[test]
    fn finds_what_was_inserted_through_growth() {
        let mut t = HashTable::default();
        for i in 0..10_000u32 {
            let h = text_hash(format!("id {i}").as_bytes());
            assert_eq!(t.get(h), None);
            t.insert(h, i);
            t.prefetch(h);
        }
        assert_eq!(t.len(), 10_000);
        for i in 0..10_000u32 {
            assert_eq!(t.get(text_hash(format!("id {i}").as_bytes())), Some(i));
        }
        assert_eq!(t.get(text_hash(b"never")), None);
    }

    #[test]
    fn message_sets_say_what_is_new() {
        let mut set = MessageSet::default();
        for k in 0..5_000u64 {
            let key = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            set.prefetch(key);
            assert!(set.insert(key), "{k}");
        }
        for k in 0..5_000u64 {
            assert!(!set.insert(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)), "{k}");
        }
        assert!(set.insert(MessageSet::key("other")));
    }

    #[test]
    fn a_reserved_message_set_keeps_its_keys_and_does_not_grow_again() {
        let key = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut set = MessageSet::default();
        for k in 0..1_000 {
            assert!(set.insert(key(k)));
        }
        set.reserve(9_000);
        let slots = set.slots.len();
        assert!(slots >= 20_000, "{slots}");
        for k in 0..10_000 {
            assert_eq!(set.insert(key(k)), k >= 1_000, "{k}");
        }
        assert_eq!((set.len, set.slots.len()), (10_000, slots));
        // Reserving less than is held, or more than the system gives, changes nothing.
        set.reserve(0);
        set.reserve(usize::MAX);
        set.reserve(1 << 60);
        assert_eq!(set.slots.len(), slots);
        assert!(!set.insert(key(5)));
    }

    #[test]
    fn colliding_home_slots_probe_on() {
        let mut t = HashTable::default();
        // Same low bits (same home slot), different high bits.
        let a: TextHash = 5 | (1u128 << 64);
        let b: TextHash = 5 | (2u128 << 64);
        let c: TextHash = 5 | (3u128 << 64);
        t.insert(a, 1);
        t.insert(b, 2);
        assert_eq!((t.get(a), t.get(b), t.get(c)), (Some(1), Some(2), None));
    }
}
