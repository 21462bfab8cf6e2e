//! How a [`Batch`] turns a call's traits into a snapshot: a group call's top-level members,
//! each flattened once and looked up by hash; an identify call's root and context traits merged
//! into one member.

use xxhash_rust::xxh3::{xxh3_64, xxh3_128_with_seed};

use super::{Batch, NewMember, NewSnapshot, SEED_WHOLE};
use crate::event::object_members;
use crate::model::flatten::{
    FlatTraits, FlattenError, MAX_TRAITS_PER_CALL, flatten_member, flatten_traits,
    flatten_user_traits,
};
use crate::model::intern::TextHash;
use crate::model::known::GLOBAL;

impl Batch {
    /// A member made of the given leaves, learning it if new.
    fn member_of_leaves(&mut self, hash: TextHash, flat: &FlatTraits) -> u32 {
        if let Some(id) = self.tables.members.get(hash) {
            return id;
        }
        let start = self.leaves.len() as u32;
        for (k, v) in flat.iter() {
            let pair = (self.intern(k), self.intern(v));
            self.leaves.push(pair);
        }
        let id = self.tables.members.len() as u32;
        self.tables.members.insert(hash, id);
        self.tables.member_leaves.push(flat.len() as u32);
        self.new_members.push(NewMember {
            hash,
            start,
            len: flat.len() as u32,
        });
        id
    }

    /// A snapshot another worker already taught the builder: its global id, tagged, and
    /// remembered here so that the next call finds it in this worker's own table.
    fn known_snapshot(&mut self, hash: TextHash) -> Option<u32> {
        let id = self.tables.known.as_ref()?.get(hash)? | GLOBAL;
        self.tables.snapshots.insert(hash, id);
        Some(id)
    }

    fn add_snapshot(&mut self, hash: TextHash, start: usize) -> u32 {
        let id = self.tables.learned_snapshots;
        self.tables.learned_snapshots += 1;
        self.tables.snapshots.insert(hash, id);
        self.new_snapshots.push(NewSnapshot {
            hash,
            start: start as u32,
            len: (self.snapshot_members.len() - start) as u32,
        });
        id
    }

    /// A group call's traits as a local snapshot: its top-level members, sorted by key (the
    /// last of a repeated key wins, as in a JSON object read into a map), each flattened once.
    /// Unless `checked`, nothing has checked that `raw` is JSON: a snapshot found by its hash
    /// was made from the same text, checked then; a new one is checked here.
    pub(super) fn group_snapshot(
        &mut self,
        raw: Option<&str>,
        hash: TextHash,
        checked: bool,
    ) -> Result<u32, FlattenError> {
        let raw = raw.unwrap_or("{}");
        if let Some(id) = self.tables.snapshots.get(hash) {
            return Ok(id);
        }
        if let Some(id) = self.known_snapshot(hash) {
            return Ok(id);
        }
        // Two small vectors per call add up over a million calls: their room is kept.
        let mut members: Vec<(&str, &str)> = reuse(std::mem::take(&mut self.spare_members));
        // The scan of the members checks them (it answers only for valid JSON).
        if !object_members(raw, &mut members) {
            self.spare_members = reuse(members);
            if !checked && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(raw) {
                return Err(FlattenError::Json(e.to_string()));
            }
            return self.whole_snapshot(raw, hash);
        }
        let mut keyed: Vec<(u64, &str, &str)> = reuse(std::mem::take(&mut self.spare_keyed));
        keyed.extend(members.iter().map(|&(k, v)| (key_prefix(k), k, v)));
        self.spare_members = reuse(members);
        // Stable, so the last of a repeated key stays last; the first eight bytes of each key,
        // compared as a number, decide nearly every comparison without a call to memcmp.
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        let result = self.snapshot_of_members(raw, hash, &keyed);
        self.spare_keyed = reuse(keyed);
        result
    }

    /// [`Batch::group_snapshot`] for members sorted by key.
    fn snapshot_of_members(
        &mut self,
        raw: &str,
        hash: TextHash,
        members: &[(u64, &str, &str)],
    ) -> Result<u32, FlattenError> {
        // Every member's table line is asked for before the first is looked up, so that
        // their cache misses overlap instead of coming one after another.
        let mut hashes = std::mem::take(&mut self.spare_hashes);
        hashes.clear();
        for &(_, key, value) in members {
            let member_hash = xxh3_128_with_seed(value.as_bytes(), xxh3_64(key.as_bytes()));
            self.tables.members.prefetch(member_hash);
            hashes.push(member_hash);
        }
        let result = self.snapshot_of_hashed(raw, hash, members, &hashes);
        self.spare_hashes = hashes;
        result
    }

    /// [`Batch::snapshot_of_members`] with each member's hash.
    fn snapshot_of_hashed(
        &mut self,
        raw: &str,
        hash: TextHash,
        members: &[(u64, &str, &str)],
        hashes: &[TextHash],
    ) -> Result<u32, FlattenError> {
        let start = self.snapshot_members.len();
        let mut leaves = 0usize;
        for (i, (&(_, key, value), &member_hash)) in members.iter().zip(hashes).enumerate() {
            if members.get(i + 1).is_some_and(|next| next.1 == key) {
                continue;
            }
            let id = match self.tables.members.get(member_hash) {
                Some(id) => id,
                None => {
                    let mut flat = std::mem::take(&mut self.scratch);
                    flat.clear();
                    let result = flatten_member(key, value, &mut flat);
                    let id = result.map(|()| self.member_of_leaves(member_hash, &flat));
                    self.scratch = flat;
                    match id {
                        Ok(id) => id,
                        Err(_) => {
                            // Leave errors to the whole-object path, so they read as before.
                            self.snapshot_members.truncate(start);
                            return self.whole_snapshot(raw, hash);
                        }
                    }
                }
            };
            leaves += self
                .tables
                .member_leaves
                .get(id as usize)
                .copied()
                .unwrap_or(0) as usize;
            self.snapshot_members.push(id);
        }
        if leaves > MAX_TRAITS_PER_CALL {
            self.snapshot_members.truncate(start);
            return Err(FlattenError::TooManyKeys);
        }
        Ok(self.add_snapshot(hash, start))
    }

    /// A group call's traits flattened in one go (keys with escapes, deep values, errors).
    fn whole_snapshot(&mut self, raw: &str, hash: TextHash) -> Result<u32, FlattenError> {
        let mut flat = FlatTraits::with_capacity(raw.len());
        flatten_traits(raw, &mut flat)?;
        let member = self.member_of_leaves(xxh3_128_with_seed(raw.as_bytes(), SEED_WHOLE), &flat);
        let start = self.snapshot_members.len();
        self.snapshot_members.push(member);
        Ok(self.add_snapshot(hash, start))
    }

    /// An identify call's traits (root merged with `context.traits`) as one member.
    pub(super) fn user_snapshot(
        &mut self,
        root: Option<&str>,
        context: Option<&str>,
        hash: TextHash,
    ) -> Result<u32, FlattenError> {
        if let Some(id) = self.tables.snapshots.get(hash) {
            return Ok(id);
        }
        if let Some(id) = self.known_snapshot(hash) {
            return Ok(id);
        }
        let flat = flatten_user_traits(root, context)?;
        let member = self.member_of_leaves(hash, &flat);
        let start = self.snapshot_members.len();
        self.snapshot_members.push(member);
        Ok(self.add_snapshot(hash, start))
    }
}

/// A key's first eight bytes as a big-endian number, zero-padded: when two keys' numbers
/// differ, they order as the keys' texts do (a key that ends first is a prefix of the other);
/// when they are equal, the texts decide.
#[inline]
pub(super) fn key_prefix(key: &str) -> u64 {
    let b = key.as_bytes();
    let mut word = [0u8; 8];
    let n = b.len().min(8);
    word[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(word)
}

/// An empty vector of `U` in `v`'s allocation when the two types have the same size and
/// alignment (std collects a mapped `into_iter` in place), which lets a vector of borrows be
/// kept between calls as a vector of `'static` borrows. Otherwise a new, empty vector.
pub(super) fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}
