//! The scan of compact text (no whitespace outside strings, no control bytes), which is what
//! event files hold. Its tokens are only `: , { } [ ]` and the first bytes of numbers and
//! literals: strings make none. Stage 2 knows where each value must start (right after the
//! token before it) and checks that each token comes right after the value before it, so no
//! byte goes unchecked: a value starting where no token is must be a string (its opening
//! quote is checked), and stage 1 checks that the byte after every closing quote is a token.
//! Whitespace outside strings breaks one of these checks, and so does any other stray byte.
//!
//! When a check fails it gives up, and the general scan in the parent module decides; so this
//! path only has to be right when it answers.

use super::stage1::{CHUNK, Carry, Classify, Portable, escapes, padded};
use super::{MAX_DEPTH, number};

#[cfg(target_arch = "x86_64")]
use super::stage1::{Avx2, Avx512};

/// One block's raw masks for the compact scan, bit `i` for byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Wide {
    /// `"`.
    pub quote: u64,
    /// `\` and bytes below 0x20 (both rare: told apart only when present).
    pub special: u64,
    /// `: , { } [ ]` (and 0x0c and 0x1a, control bytes, which `special` catches anyway).
    pub op: u64,
}

/// A classifier that can also produce [`Wide`] masks.
pub(super) trait ClassifyCompact: Classify {
    /// The wide masks of one block: the classifier's own, `\` and control bytes in one (the
    /// two are told apart only where `special` says one is there, which the optimizer drops).
    #[inline(always)]
    fn wide(self, block: &[u8; 64]) -> Wide {
        let m = self.masks(block);
        Wide {
            quote: m.quote,
            special: m.special,
            op: m.op,
        }
    }
    /// [`chunk`] with this classifier.
    fn compact_chunk(
        self,
        carry: &mut Edges,
        b: &[u8],
        at: usize,
        out: &mut [u64; CHUNK],
    ) -> Option<usize>;
}

impl ClassifyCompact for Portable {
    #[inline(never)]
    fn compact_chunk(
        self,
        carry: &mut Edges,
        b: &[u8],
        at: usize,
        out: &mut [u64; CHUNK],
    ) -> Option<usize> {
        chunk(self, carry, b, at, out)
    }
}

#[cfg(target_arch = "x86_64")]
impl ClassifyCompact for Avx2 {
    #[inline(always)]
    fn compact_chunk(
        self,
        carry: &mut Edges,
        b: &[u8],
        at: usize,
        out: &mut [u64; CHUNK],
    ) -> Option<usize> {
        // SAFETY: an `Avx2` exists only after `detect` found both features on this CPU.
        unsafe { chunk_avx2(self, carry, b, at, out) }
    }
}

#[cfg(target_arch = "x86_64")]
impl ClassifyCompact for Avx512 {
    #[inline(always)]
    fn compact_chunk(
        self,
        carry: &mut Edges,
        b: &[u8],
        at: usize,
        out: &mut [u64; CHUNK],
    ) -> Option<usize> {
        // SAFETY: an `Avx512` exists only after `detect` found all three features on this CPU.
        unsafe { chunk_avx512(self, carry, b, at, out) }
    }
}

/// [`chunk`] compiled with AVX-512, so the classifier inlines into its loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq,bmi1")]
#[inline(never)]
fn chunk_avx512(
    cls: Avx512,
    carry: &mut Edges,
    b: &[u8],
    at: usize,
    out: &mut [u64; CHUNK],
) -> Option<usize> {
    chunk(cls, carry, b, at, out)
}

/// [`chunk`] compiled with AVX2, so the classifier inlines into its loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,bmi1")]
#[inline(never)]
fn chunk_avx2(
    cls: Avx2,
    carry: &mut Edges,
    b: &[u8],
    at: usize,
    out: &mut [u64; CHUNK],
) -> Option<usize> {
    chunk(cls, carry, b, at, out)
}

/// What one block leaves for the next: the string state and the last byte's class.
#[derive(Debug, Default)]
pub(super) struct Edges {
    strings: Carry,
    /// 1 when the last byte closed a string.
    closing_quote: u64,
    /// 1 when the last byte was none of the others (part of a number or literal).
    other: u64,
}

/// Classifies the blocks of `b` from `at` into token masks, until the text ends or `out` is
/// full; returns how many. `None` when the text is not compact or breaks a rule.
#[inline(always)]
fn chunk<C: ClassifyCompact>(
    cls: C,
    e: &mut Edges,
    b: &[u8],
    mut at: usize,
    out: &mut [u64; CHUNK],
) -> Option<usize> {
    let mut n = 0;
    while n < CHUNK && at < b.len() {
        let left = b.len() - at;
        let valid = if left < 64 { (1u64 << left) - 1 } else { !0 };
        let m = match b
            .get(at..at + 64)
            .and_then(|s| <&[u8; 64]>::try_from(s).ok())
        {
            Some(block) => cls.wide(block),
            // The last, short block: the 64 bytes that end the text, shifted down so that bit
            // 0 is byte `at` (zeros come in at the top, as for padding), else a padded copy.
            None => match b.len().checked_sub(64).and_then(|s| b.get(s..)) {
                Some(last) => {
                    let shift = 64 - left;
                    let m = cls.wide(<&[u8; 64]>::try_from(last).ok()?);
                    Wide {
                        quote: m.quote >> shift,
                        special: m.special >> shift,
                        op: m.op >> shift,
                    }
                }
                None => cls.wide(&padded(&b[at..])),
            },
        };
        let mut quote = m.quote;
        if m.special | e.strings.escaped != 0 {
            let backslash = m.special & backslashes(b, at, m.special)?;
            quote &= !escapes(&mut e.strings, backslash, b, at)?;
        }
        let inside = cls.prefix_xor(quote) ^ e.strings.in_string;
        e.strings.in_string = ((inside as i64) >> 63) as u64;
        let outside = !inside;
        let op = m.op & outside;
        let closing_quote = quote & outside;
        let other = !(m.op | quote | inside) & valid;
        let starts = other & !(other << 1 | e.other);
        // Strings make no token, so stage 2 cannot see what follows one: it must be a token
        // (one it then checks, like any other).
        if (closing_quote << 1 | e.closing_quote) & !op & valid != 0 {
            return None;
        }
        e.closing_quote = closing_quote >> 63;
        e.other = other >> 63;
        out[n] = (op | starts) & valid;
        n += 1;
        at += 64;
    }
    Some(n)
}

/// Which of the `special` bytes of the block at `at` are backslashes; `None` if any is a
/// control byte (not compact text, or not JSON).
#[cold]
#[inline(never)]
fn backslashes(b: &[u8], at: usize, special: u64) -> Option<u64> {
    let mut rest = special;
    while rest != 0 {
        let i = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        // Bits past the text's end are padding (spaces), never special.
        if *b.get(at + i)? != b'\\' {
            return None;
        }
    }
    Some(special)
}

/// The classified blocks of a text, a chunk at a time.
pub(super) struct Blocks<'a, C> {
    cls: C,
    b: &'a [u8],
    index: usize,
    count: usize,
    masks: [u64; CHUNK],
    edges: Edges,
}

impl<'a, C: ClassifyCompact> Blocks<'a, C> {
    /// The blocks of `b`, none classified yet.
    #[inline(always)]
    pub fn new(cls: C, b: &'a [u8]) -> Self {
        Blocks {
            cls,
            b,
            index: 0,
            count: 0,
            masks: [0; CHUNK],
            edges: Edges::default(),
        }
    }

    /// The block after the one at `base` (`b.len()` at the end); `None` to give up.
    #[inline(always)]
    fn advance(&mut self, base: usize) -> Option<(u64, usize)> {
        if self.index + 1 < self.count {
            self.index += 1;
            return Some((*self.masks.get(self.index)?, base + 64));
        }
        self.refill(base)
    }

    /// Classifies the chunk after the block at `base`.
    #[inline(never)]
    fn refill(&mut self, base: usize) -> Option<(u64, usize)> {
        let at = if self.count == 0 { 0 } else { base + 64 };
        if at >= self.b.len() {
            return Some((0, self.b.len()));
        }
        self.count = self
            .cls
            .compact_chunk(&mut self.edges, self.b, at, &mut self.masks)?;
        self.index = 0;
        Some((self.masks[0], at))
    }

    /// Whether `b[from..to]` holds a backslash.
    #[inline]
    fn has_escape(&self, from: usize, to: usize) -> bool {
        self.edges.strings.backslash && self.b.get(from..to).is_none_or(|s| s.contains(&b'\\'))
    }
}

/// Stage 2 of the compact scan.
pub(super) struct Walk<'c, 'a, C> {
    bits: u64,
    base: usize,
    blocks: &'c mut Blocks<'a, C>,
    text: &'a str,
    b: &'a [u8],
}

impl<'c, 'a, C: ClassifyCompact> Walk<'c, 'a, C> {
    /// A walk over the object `text`; `None` unless it starts with `{`.
    #[inline(always)]
    pub fn new(blocks: &'c mut Blocks<'a, C>, text: &'a str) -> Option<Self> {
        let b = text.as_bytes();
        if b.first() != Some(&b'{') {
            return None;
        }
        let mut w = Walk {
            bits: 0,
            base: 0,
            blocks,
            text,
            b,
        };
        (w.next()? == 0).then_some(w)
    }

    /// The next token (`b.len()` at the end).
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.bits != 0 {
                let i = self.bits.trailing_zeros() as usize;
                self.bits &= self.bits - 1;
                return Some(self.base + i);
            }
            if self.base >= self.b.len() {
                return Some(self.b.len());
            }
            (self.bits, self.base) = self.blocks.advance(self.base)?;
        }
    }

    /// The separator (the opening brace) before the first member, or `None` inside for an
    /// empty object that ends the text.
    #[inline(always)]
    pub fn first(&mut self) -> Option<Option<usize>> {
        match self.b.get(1) {
            Some(b'"') => Some(Some(0)),
            Some(b'}') => (self.next()? == 1 && self.end(1)).then_some(None),
            _ => None,
        }
    }

    /// The member after the separator at `sep`: its key and the colon's position.
    #[inline(always)]
    pub fn member(&mut self, sep: usize) -> Option<(&'a str, usize)> {
        let (key, colon) = self.member_key(sep)?;
        let start = sep + 2;
        Some((self.text.get(start..start + key.len())?, colon))
    }

    /// [`Walk::member`] with the key as bytes, which spares the checks that make a `str`.
    #[inline(always)]
    pub fn member_key(&mut self, sep: usize) -> Option<(&'a [u8], usize)> {
        let colon = self.next()?;
        if self.b.get(colon) != Some(&b':') || self.b.get(sep + 1) != Some(&b'"') {
            return None;
        }
        // Adjacency put the key's closing quote right before the colon.
        let key = self.b.get(sep + 2..colon.checked_sub(1)?)?;
        if self.blocks.has_escape(sep + 2, colon - 1) {
            return None;
        }
        Some((key, colon))
    }

    /// After a member's value, at token `after`: the next separator, or `None` inside at the
    /// closing brace that ends the text.
    #[inline(always)]
    pub fn after_member(&mut self, after: usize) -> Option<Option<usize>> {
        match self.b.get(after) {
            Some(b',') if self.b.get(after + 1) == Some(&b'"') => Some(Some(after)),
            Some(b'}') => self.end(after).then_some(None),
            _ => None,
        }
    }

    /// At the closing brace at `at`: nothing may follow.
    #[inline(always)]
    fn end(&mut self, at: usize) -> bool {
        at + 1 == self.b.len() && self.next() == Some(self.b.len())
    }

    /// The token after the closing bracket at `close`, which must come right after it.
    #[inline(always)]
    fn after_close(&mut self, close: usize) -> Option<usize> {
        let after = self.next()?;
        (after == close + 1).then_some(after)
    }

    /// The text of a value from `start` up to the token `after` that follows it.
    #[inline(always)]
    pub fn raw(&self, start: usize, after: usize) -> Option<&'a str> {
        self.text.get(start..after)
    }

    /// Whether `b[from..to]` holds a backslash.
    #[inline(always)]
    pub fn has_escape(&self, from: usize, to: usize) -> bool {
        self.blocks.has_escape(from, to)
    }

    /// Consumes the value that starts right after the separator at `sep`, validating what
    /// adjacency could not; returns the token after the value.
    #[inline(always)]
    pub fn value(&mut self, sep: usize) -> Option<usize> {
        let b = self.b;
        // The open containers, innermost in bit 0: 1 for an object, 0 for an array.
        let mut stack = 0u64;
        let mut depth = 0usize;
        let mut at = sep + 1;
        loop {
            // A value starts at `at`.
            let t = self.next()?;
            let mut after = t;
            if t != at {
                // Strings make no token: the token is the one after the string.
                if b.get(at) != Some(&b'"') {
                    return None;
                }
            } else {
                match *b.get(t)? {
                    open @ (b'{' | b'[') => {
                        let object = open == b'{';
                        match b.get(t + 1) {
                            Some(b'}') if object => {
                                self.next()?;
                                after = self.after_close(t + 1)?;
                            }
                            Some(b']') if !object => {
                                self.next()?;
                                after = self.after_close(t + 1)?;
                            }
                            _ => {
                                if depth == MAX_DEPTH {
                                    return None;
                                }
                                depth += 1;
                                stack = stack << 1 | u64::from(object);
                                at = if object { self.key(t)? } else { t } + 1;
                                continue;
                            }
                        }
                    }
                    b't' => after = self.literal(t, b"true")?,
                    b'f' => after = self.literal(t, b"false")?,
                    b'n' => after = self.literal(t, b"null")?,
                    b'-' | b'0'..=b'9' => {
                        let end = number(b, t)?;
                        after = self.next()?;
                        if after != end {
                            return None;
                        }
                    }
                    _ => return None,
                }
            }
            // After a value: close containers until a comma asks for the next value.
            loop {
                if depth == 0 {
                    return Some(after);
                }
                let in_object = stack & 1 == 1;
                match b.get(after) {
                    Some(b',') => {
                        at = if in_object { self.key(after)? } else { after } + 1;
                        if b.get(at) == Some(&b'"') {
                            // A string, the most common value: it makes no token, so the
                            // next token is the one after it.
                            after = self.next()?;
                            continue;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return None,
                }
                depth -= 1;
                stack >>= 1;
                after = self.after_close(after)?;
            }
        }
    }

    /// The container that starts right after `sep`, found by bracket depth alone (what is
    /// inside is not checked); returns the token after it.
    #[inline(always)]
    pub fn skip(&mut self, sep: usize) -> Option<usize> {
        let b = self.b;
        let open = self.next()?;
        if open != sep + 1 || DEPTH[usize::from(*b.get(open)?)] != 1 {
            return None;
        }
        let mut depth = 1i32;
        loop {
            let t = self.next()?;
            depth += i32::from(DEPTH[usize::from(*b.get(t)?)]);
            if depth == 0 {
                return self.after_close(t);
            }
        }
    }

    /// After `{` or `,` at `sep` in an object: a key must follow, then its colon, which is
    /// returned.
    #[inline(always)]
    fn key(&mut self, sep: usize) -> Option<usize> {
        if self.b.get(sep + 1) != Some(&b'"') {
            return None;
        }
        let colon = self.next()?;
        (self.b.get(colon) == Some(&b':')).then_some(colon)
    }

    /// A literal at token `t`; returns the token after it, which must follow it directly.
    #[inline(always)]
    fn literal(&mut self, t: usize, word: &[u8]) -> Option<usize> {
        if self.b.get(t..t + word.len())? != word {
            return None;
        }
        let after = self.next()?;
        (after == t + word.len()).then_some(after)
    }
}

/// How each byte moves the nesting depth when a container is skipped.
static DEPTH: [i8; 256] = {
    let mut t = [0i8; 256];
    t[b'{' as usize] = 1;
    t[b'[' as usize] = 1;
    t[b'}' as usize] = -1;
    t[b']' as usize] = -1;
    t
};
