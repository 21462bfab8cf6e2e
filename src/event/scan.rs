//! A fast path for reading one JSON object's top-level fields: a single validating pass over the
//! text that picks out the fields asked for and skips the rest, without serde's per-token
//! machinery.
//!
//! It only answers when it is sure serde_json would read the text the same way: the text is
//! valid JSON by serde_json's grammar, every wanted text field is `null` or a string without
//! escapes, no wanted field appears twice, nesting stays under [`MAX_DEPTH`]. Otherwise it
//! returns `None` and the caller asks serde_json, which then decides, so error messages and the
//! rare shapes (numeric ids, escaped ids, duplicate fields) stay exactly serde_json's.
//!
//! The pass has two stages, after simdjson. Stage 1 ([`stage1`]) classifies 64 bytes at a time
//! and hands out token positions: structural characters, opening quotes, and the first byte of
//! each run of other bytes (numbers, literals, whitespace); string contents (escapes, control
//! bytes) are validated there, in bulk. Stage 2, here, checks the grammar token by token with a
//! depth stack, and numbers and literals byte by byte. Skipping a value thus costs a few
//! instructions per token rather than per byte.

mod compact;
mod stage1;
#[cfg(test)]
mod tests;

use compact::ClassifyCompact;
#[cfg(target_arch = "x86_64")]
use stage1::Avx2;
use stage1::{Chunk, Classify, Portable, Tokens};

/// How a wanted field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// A string without escapes (its content is returned) or `null`.
    Text,
    /// Any JSON value (its exact text is returned) or `null`.
    Raw,
}

/// Deeper nesting than this is left to serde_json (it is never seen in real events).
pub(super) const MAX_DEPTH: usize = 64;

/// A field's value: `None` when absent or `null`.
pub(super) type Slot<'a> = Option<&'a str>;

/// Scans the object `text` (which must start with `{`; surrounding whitespace is not allowed)
/// and fills `out[i]` for each field that `pick` maps to `(i, want)`. Returns `None` when the
/// fast path cannot vouch for the result.
pub(super) fn object<'a>(
    text: &'a str,
    pick: fn(&[u8]) -> Option<(usize, Want)>,
    out: &mut [Slot<'a>],
) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        return object_in(avx2, text, pick, out);
    }
    object_in(Portable, text, pick, out)
}

/// [`object`]: the compact scan, else the general one.
#[inline]
fn object_in<'a, C: ClassifyCompact>(
    cls: C,
    text: &'a str,
    pick: fn(&[u8]) -> Option<(usize, Want)>,
    out: &mut [Slot<'a>],
) -> Option<()> {
    if out.len() <= COMPACT_SLOTS {
        let mut got = [None; COMPACT_SLOTS];
        if let Some(mut seen) = object_compact(cls, text, pick, &mut got[..out.len()]) {
            while seen != 0 {
                let i = seen.trailing_zeros() as usize;
                seen &= seen - 1;
                out[i] = got[i];
            }
            return Some(());
        }
    }
    object_with(cls, text, pick, out)
}

/// The most slots the compact scan fills (it fills a copy, so that giving up leaves `out`
/// as it was).
const COMPACT_SLOTS: usize = 16;

/// [`object`] by the compact scan; `Some` of the slots it filled.
#[inline]
fn object_compact<'a, C: ClassifyCompact>(
    cls: C,
    text: &'a str,
    pick: fn(&[u8]) -> Option<(usize, Want)>,
    out: &mut [Slot<'a>],
) -> Option<u64> {
    let mut blocks = compact::Blocks::new(cls, text.as_bytes());
    let mut w = compact::Walk::new(&mut blocks, text)?;
    let mut seen = 0u64;
    let mut next = w.first()?;
    while let Some(sep) = next {
        let (key, colon) = w.member(sep)?;
        let after = w.value(colon)?;
        if let Some((slot, want)) = pick(key.as_bytes()) {
            if slot >= out.len().min(64) || seen & 1 << slot != 0 {
                return None;
            }
            seen |= 1 << slot;
            let start = colon + 1;
            out[slot] = match (w.raw(start, after)?, want) {
                ("null", _) => None,
                (raw, Want::Raw) => Some(raw),
                (raw, Want::Text) => {
                    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
                    if w.has_escape(start + 1, after - 1) {
                        return None;
                    }
                    Some(inner)
                }
            };
        }
        next = w.after_member(after)?;
    }
    Some(seen)
}

/// [`object`] with a given classifier.
#[inline]
fn object_with<'a, C: Classify>(
    cls: C,
    text: &'a str,
    pick: fn(&[u8]) -> Option<(usize, Want)>,
    out: &mut [Slot<'a>],
) -> Option<()> {
    let mut chunk = Chunk::new(cls, text.as_bytes());
    let mut w = Walk::new(&mut chunk, text)?;
    let mut seen = 0u64;
    let mut next = w.first()?;
    while let Some(t) = next {
        let (key, value) = w.member(t)?;
        let after = w.value(value)?;
        if let Some((slot, want)) = pick(key.as_bytes()) {
            if slot >= out.len().min(64) || seen & 1 << slot != 0 {
                return None;
            }
            seen |= 1 << slot;
            out[slot] = match (w.raw(value, after)?, want) {
                ("null", _) => None,
                (raw, Want::Raw) => Some(raw),
                (raw, Want::Text) => {
                    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
                    if w.tokens.chunk.has_escape(value + 1, value + raw.len() - 1) {
                        return None;
                    }
                    Some(inner)
                }
            };
        }
        next = w.after_member(after)?;
    }
    Some(())
}

/// Scans the object `text` and appends every top-level member as `(key, raw value)`, in
/// order. `None` (with `out` partly filled) when a key has escapes or the text is not one
/// object the fast path can vouch for.
pub(super) fn members<'a>(text: &'a str, out: &mut Vec<(&'a str, &'a str)>) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        return members_in(avx2, text, out);
    }
    members_in(Portable, text, out)
}

/// [`members`]: the compact scan, else the general one.
#[inline]
fn members_in<'a, C: ClassifyCompact>(
    cls: C,
    text: &'a str,
    out: &mut Vec<(&'a str, &'a str)>,
) -> Option<()> {
    let start = out.len();
    if members_compact(cls, text, out).is_some() {
        return Some(());
    }
    out.truncate(start);
    members_with(cls, text, out)
}

/// [`members`] by the compact scan.
#[inline]
fn members_compact<'a, C: ClassifyCompact>(
    cls: C,
    text: &'a str,
    out: &mut Vec<(&'a str, &'a str)>,
) -> Option<()> {
    let mut blocks = compact::Blocks::new(cls, text.as_bytes());
    let mut w = compact::Walk::new(&mut blocks, text)?;
    let mut next = w.first()?;
    while let Some(sep) = next {
        let (key, colon) = w.member(sep)?;
        let after = w.value(colon)?;
        out.push((key, w.raw(colon + 1, after)?));
        next = w.after_member(after)?;
    }
    Some(())
}

/// [`members`] with a given classifier.
#[inline]
fn members_with<'a, C: Classify>(
    cls: C,
    text: &'a str,
    out: &mut Vec<(&'a str, &'a str)>,
) -> Option<()> {
    let mut chunk = Chunk::new(cls, text.as_bytes());
    let mut w = Walk::new(&mut chunk, text)?;
    let mut next = w.first()?;
    while let Some(t) = next {
        let (key, value) = w.member(t)?;
        let after = w.value(value)?;
        out.push((key, w.raw(value, after)?));
        next = w.after_member(after)?;
    }
    Some(())
}

/// Checks that `text` is exactly one valid JSON value (no leading whitespace), by the same
/// rules as [`object`]. Used by tests.
#[cfg(test)]
pub(super) fn is_value(text: &str) -> bool {
    is_value_with(Portable, text) && {
        #[cfg(target_arch = "x86_64")]
        let simd = Avx2::detect().is_none_or(|cls| is_value_with(cls, text));
        #[cfg(not(target_arch = "x86_64"))]
        let simd = true;
        simd
    }
}

/// [`is_value`] with a given classifier.
#[cfg(test)]
fn is_value_with<C: Classify>(cls: C, text: &str) -> bool {
    let mut chunk = Chunk::new(cls, text.as_bytes());
    let mut w = Walk {
        tokens: Tokens::new(&mut chunk),
        text,
        b: text.as_bytes(),
    };
    let Some(first) = w.tokens.next() else {
        return false;
    };
    first == 0 && w.value(0) == Some(text.len()) && !w.tokens.chunk.open_string()
}

/// Stage 2: the grammar, walked over stage 1's tokens.
struct Walk<'c, 'a, C> {
    tokens: Tokens<'c, 'a, C>,
    text: &'a str,
    b: &'a [u8],
}

/// JSON's whitespace.
#[inline(always)]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'c, 'a, C: Classify> Walk<'c, 'a, C> {
    /// A walk over the object `text` (whose blocks `chunk` classifies), its opening brace
    /// consumed.
    #[inline(always)]
    fn new(chunk: &'c mut Chunk<'a, C>, text: &'a str) -> Option<Self> {
        let b = text.as_bytes();
        if b.first() != Some(&b'{') {
            return None;
        }
        let mut w = Walk {
            tokens: Tokens::new(chunk),
            text,
            b,
        };
        (w.tokens.next()? == 0).then_some(w)
    }

    /// The token of the first member's key, `None` inside for an empty object (which must end
    /// the text).
    #[inline(always)]
    fn first(&mut self) -> Option<Option<usize>> {
        let t = self.tok()?;
        if self.b.get(t) == Some(&b'}') {
            return self.at_end().map(|()| None);
        }
        Some(Some(t))
    }

    /// A top-level member whose key is at token `t`: the key (`None` if it has escapes) and
    /// the token where its value starts.
    #[inline(always)]
    fn member(&mut self, t: usize) -> Option<(&'a str, usize)> {
        let b = self.b;
        if b.get(t) != Some(&b'"') {
            return None;
        }
        let colon = self.tok()?;
        if b.get(colon) != Some(&b':') {
            return None;
        }
        // The key's closing quote is the last byte before the colon but for whitespace
        // (anything else there would have been a token).
        let end = self.trim(colon).checked_sub(1)?;
        let key = self.text.get(t + 1..end)?;
        if self.tokens.chunk.has_escape(t + 1, end) {
            return None;
        }
        Some((key, self.tok()?))
    }

    /// After a top-level member, at token `after`: the next member's key token, or `None`
    /// inside at the closing brace (which must end the text).
    #[inline(always)]
    fn after_member(&mut self, after: usize) -> Option<Option<usize>> {
        match self.b.get(after) {
            Some(b',') => Some(Some(self.tok()?)),
            Some(b'}') => self.at_end().map(|()| None),
            _ => None,
        }
    }

    /// After the closing brace: only whitespace may follow.
    #[inline(always)]
    fn at_end(&mut self) -> Option<()> {
        (self.tok()? == self.b.len()).then_some(())
    }

    /// The text of the value that starts at token `start` and is followed by token `after`.
    #[inline(always)]
    fn raw(&self, start: usize, after: usize) -> Option<&'a str> {
        self.text.get(start..self.trim(after))
    }

    /// `at` moved back over whitespace.
    #[inline(always)]
    fn trim(&self, mut at: usize) -> usize {
        while at > 0 && self.b.get(at - 1).is_some_and(|&c| is_ws(c)) {
            at -= 1;
        }
        at
    }

    /// The next token that is not whitespace (`b.len()` at the end).
    #[inline(always)]
    fn tok(&mut self) -> Option<usize> {
        loop {
            let t = self.tokens.next()?;
            match self.b.get(t) {
                Some(&c) if c <= b' ' => {
                    if let Some(t) = after_ws(self.b, t) {
                        return Some(t);
                    }
                }
                _ => return Some(t),
            }
        }
    }

    /// Consumes the value that starts at token `t`, validating it (serde_json's
    /// `ignore_value`, iteratively); returns the token after it.
    #[inline(always)]
    fn value(&mut self, mut t: usize) -> Option<usize> {
        let b = self.b;
        // The open containers, innermost in bit 0: 1 for an object, 0 for an array.
        let mut stack = 0u64;
        let mut depth = 0usize;
        loop {
            // A value starts at `t`.
            match *b.get(t)? {
                b'"' => {}
                open @ (b'{' | b'[') => {
                    let first = self.tok()?;
                    let object = open == b'{';
                    if b.get(first) != Some(if object { &b'}' } else { &b']' }) {
                        if depth == MAX_DEPTH {
                            return None;
                        }
                        depth += 1;
                        stack = stack << 1 | u64::from(object);
                        t = if object { self.key(first)? } else { first };
                        continue;
                    }
                }
                b't' => self.literal(t, b"true")?,
                b'f' => self.literal(t, b"false")?,
                b'n' => self.literal(t, b"null")?,
                b'-' | b'0'..=b'9' => self.scalar_end(number(b, t)?)?,
                _ => return None,
            }
            // After a value: close containers until a comma asks for the next value.
            loop {
                let next = self.tok()?;
                if depth == 0 {
                    return Some(next);
                }
                let in_object = stack & 1 == 1;
                match b.get(next) {
                    Some(b',') => {
                        let first = self.tok()?;
                        t = if in_object { self.key(first)? } else { first };
                        break;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return None,
                }
                depth -= 1;
                stack >>= 1;
            }
        }
    }

    /// An object key at token `t` and its colon; returns the token of the value.
    #[inline(always)]
    fn key(&mut self, t: usize) -> Option<usize> {
        if self.b.get(t) != Some(&b'"') {
            return None;
        }
        let colon = self.tok()?;
        if self.b.get(colon) != Some(&b':') {
            return None;
        }
        self.tok()
    }

    #[inline(always)]
    fn literal(&self, t: usize, word: &[u8]) -> Option<()> {
        if self.b.get(t..t + word.len())? != word {
            return None;
        }
        self.scalar_end(t + word.len())
    }

    /// Checks that a number or literal ending at `at` is followed by what may follow a value
    /// (stage 1 made no token between them: a run of other bytes goes on to the next one).
    #[inline(always)]
    fn scalar_end(&self, mut at: usize) -> Option<()> {
        loop {
            match self.b.get(at) {
                None | Some(b',' | b'}' | b']') => return Some(()),
                Some(&c) if is_ws(c) => at += 1,
                Some(_) => return None,
            }
        }
    }
}

/// At a run of other bytes that starts at `t` with whitespace or a control byte: `None` when
/// the run is only whitespace (what follows is a token of its own, or the end), else where the
/// rest of the run starts (a number or literal, whose first byte then stands for the token; or
/// `t` itself for a control byte, which the caller rejects).
#[inline(never)]
fn after_ws(b: &[u8], t: usize) -> Option<usize> {
    let mut at = t;
    while b.get(at).is_some_and(|&c| is_ws(c)) {
        at += 1;
    }
    match b.get(at) {
        _ if at == t => Some(t),
        None | Some(b'"' | b'{' | b'}' | b'[' | b']' | b':' | b',') => None,
        Some(_) => Some(at),
    }
}

/// The end of the number starting at `i`, by JSON's grammar (serde_json's `ignore_integer`).
#[inline]
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => i += 1,
        b'1'..=b'9' => i = digits(i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}
