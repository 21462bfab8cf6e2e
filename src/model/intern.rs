//! String interning: every id, trait key and trait value is stored once and named by a [`Sym`].

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use super::table::HashTable;

/// A handle to an interned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sym(pub(crate) u32);

/// The 128-bit hash that identifies interned text (collisions are astronomically unlikely).
pub type TextHash = u128;

/// Hashes text for interning and de-duplication.
pub fn text_hash(bytes: &[u8]) -> TextHash {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// A hasher for maps keyed by an already-uniform [`TextHash`]: it just folds the bits.
#[derive(Default)]
pub struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(buf);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

/// A map keyed by [`TextHash`].
pub type HashedMap<V> = HashMap<TextHash, V, BuildHasherDefault<PassThroughHasher>>;

/// Interned strings, stored back to back in one buffer.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    bytes: String,
    spans: Vec<(u32, u32)>,
    hashes: Vec<TextHash>,
    index: HashTable,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The symbol for `text`, adding it if new.
    pub fn intern(&mut self, text: &str) -> Sym {
        self.intern_hashed(text_hash(text.as_bytes()), text)
    }

    /// Like [`Interner::intern`] with the hash already computed.
    pub fn intern_hashed(&mut self, hash: TextHash, text: &str) -> Sym {
        if let Some(sym) = self.index.get(hash) {
            return Sym(sym);
        }
        let sym = Sym(self.spans.len() as u32);
        let start = self.bytes.len() as u32;
        self.bytes.push_str(text);
        self.spans.push((start, text.len() as u32));
        self.hashes.push(hash);
        self.index.insert(hash, sym.0);
        sym
    }

    /// Asks for the line of the index a later [`Interner::intern_hashed`] of `hash` reads.
    pub(crate) fn prefetch(&self, hash: TextHash) {
        self.index.prefetch(hash);
    }

    /// The symbol for `text` if it was interned.
    pub fn lookup(&self, text: &str) -> Option<Sym> {
        self.index.get(text_hash(text.as_bytes())).map(Sym)
    }

    /// The text of a symbol.
    pub fn get(&self, sym: Sym) -> &str {
        match self.spans.get(sym.0 as usize) {
            Some(&(start, len)) => &self.bytes[start as usize..(start + len) as usize],
            None => "",
        }
    }

    /// The stored hash of a symbol.
    pub fn hash_of(&self, sym: Sym) -> TextHash {
        self.hashes.get(sym.0 as usize).copied().unwrap_or_default()
    }

    /// Every string back to back, and each symbol's `(start, len)` in it, in symbol order (the
    /// starts ascend): for reading all strings front to back at once.
    pub fn table(&self) -> (&str, &[(u32, u32)]) {
        (&self.bytes, &self.spans)
    }

    /// How many strings are interned.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Approximate heap bytes used.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.spans.capacity() * 8
            + self.hashes.capacity() * 16
            + self.index.capacity() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable() {
        let mut i = Interner::new();
        let a = i.intern("acme");
        let b = i.intern("hooli");
        assert_eq!(i.intern("acme"), a);
        assert_ne!(a, b);
        assert_eq!(i.get(a), "acme");
        assert_eq!(i.get(b), "hooli");
        assert_eq!(i.lookup("hooli"), Some(b));
        assert_eq!(i.lookup("nope"), None);
        assert_eq!(i.len(), 2);
        let e = i.intern("");
        assert_eq!(i.get(e), "");
    }
}
