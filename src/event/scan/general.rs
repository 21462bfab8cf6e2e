//! The general scan: one validating pass over the bytes, for any text (whitespace, escapes,
//! control bytes); what [`super::compact`] gives up on comes here.

use super::{MAX_DEPTH, Pick, Slot, Want};

/// Scans the object `text` (which must start with `{`; surrounding whitespace is not allowed)
/// and fills `out[i]` for each field that `pick` maps to `(i, want)`. Returns `None` when the
/// fast path cannot vouch for the result.
pub(in crate::event) fn object<'a>(
    text: &'a str,
    pick: impl Pick,
    out: &mut [Slot<'a>],
) -> Option<()> {
    let b = text.as_bytes();
    let mut c = Cursor { b, i: 0 };
    let mut seen = 0u64;
    if !c.open_object()? {
        return Some(());
    }
    loop {
        let (ks, ke) = c.member_key()?;
        match pick(&b[ks..ke]) {
            Some((slot, want)) => {
                if slot >= out.len().min(64) {
                    return None;
                }
                let bit = 1u64 << slot;
                if seen & bit != 0 {
                    return None;
                }
                seen |= bit;
                out[slot] = if c.null() {
                    None
                } else {
                    match want {
                        Want::Text => {
                            if c.peek()? != b'"' {
                                return None;
                            }
                            let s = c.i + 1;
                            if c.string()? {
                                return None;
                            }
                            Some(text.get(s..c.i - 1)?)
                        }
                        Want::Raw | Want::Unchecked => {
                            let start = c.i;
                            c.value()?;
                            Some(text.get(start..c.i)?)
                        }
                    }
                };
            }
            None => c.value()?,
        }
        if !c.member_end()? {
            return Some(());
        }
    }
}

/// Scans the object `text` and appends every top-level member as `(key, raw value)`, in
/// order. `None` (with `out` partly filled) when a key has escapes or the text is not one
/// object the fast path can vouch for.
pub(in crate::event) fn members<'a>(
    text: &'a str,
    out: &mut Vec<(&'a str, &'a str)>,
) -> Option<()> {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    if !c.open_object()? {
        return Some(());
    }
    loop {
        let (ks, ke) = c.member_key()?;
        let key = text.get(ks..ke)?;
        let vs = c.i;
        c.value()?;
        out.push((key, text.get(vs..c.i)?));
        if !c.member_end()? {
            return Some(());
        }
    }
}

/// Checks that `text` is exactly one valid JSON value (no surrounding whitespace), by the same
/// rules as [`object`]. Used by tests and by callers that need only validation.
#[cfg(test)]
pub(in crate::event) fn is_value(text: &str) -> bool {
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
    };
    c.value().is_some() && c.at_end().is_some()
}

/// At a `\\` inside a string: the index after a valid escape.
#[inline(never)]
fn escape(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 2),
        b'u' => b
            .get(i + 2..i + 6)?
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(i + 6),
        _ => None,
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

/// Bytes that end the fast scan of a string: `"`, `\` and control characters.
#[inline]
fn specials(v: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero(v ^ (ONES * u64::from(b'"')));
    let backslash = zero(v ^ (ONES * u64::from(b'\\')));
    // Bytes below 0x20 (a borrow can only mark bytes above a true match, never below it).
    let control = v.wrapping_sub(ONES * 0x20) & !v & HIGH;
    quote | backslash | control
}

/// [`specials`] for 16 bytes, one bit per byte.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn specials16(bytes: [u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    // Two plain loads: an array `map` here was sometimes left as a call by the inliner,
    // which cost ~5% of all instructions.
    let [
        b0,
        b1,
        b2,
        b3,
        b4,
        b5,
        b6,
        b7,
        b8,
        b9,
        b10,
        b11,
        b12,
        b13,
        b14,
        b15,
    ] = bytes;
    let a = i64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]);
    let b = i64::from_le_bytes([b8, b9, b10, b11, b12, b13, b14, b15]);
    // SAFETY: these intrinsics only compute on values in registers (no memory is touched) and
    // need SSE2, which the cfg above guarantees is enabled for the whole build.
    unsafe {
        let v = _mm_set_epi64x(b, a);
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// [`specials`] for 16 bytes, one bit per byte.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn specials16(bytes: [u8; 16]) -> u32 {
    let mut out = 0u32;
    for (i, &c) in bytes.iter().enumerate() {
        out |= u32::from(c == b'"' || c == b'\\' || c < 0x20) << i;
    }
    out
}

impl Cursor<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        // Compact JSON has none: one compare in the common case.
        while let Some(&c) = self.b.get(self.i)
            && c <= b' '
            && matches!(c, b' ' | b'\n' | b'\t' | b'\r')
        {
            self.i += 1;
        }
    }

    fn at_end(&mut self) -> Option<()> {
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    /// At the `{` that starts the text: consumes it; `Some(true)` when members follow,
    /// `Some(false)` for an empty object that ends the text.
    #[inline(always)]
    fn open_object(&mut self) -> Option<bool> {
        if self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return self.at_end().map(|()| false);
        }
        Some(true)
    }

    /// A top-level member's key and its colon; the key's range in the text. A key with
    /// escapes could decode to a wanted name, so it is left to serde_json (`None`).
    #[inline(always)]
    fn member_key(&mut self) -> Option<(usize, usize)> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        if self.string()? {
            return None;
        }
        let end = self.i - 1;
        self.ws();
        if self.peek()? != b':' {
            return None;
        }
        self.i += 1;
        self.ws();
        Some((start, end))
    }

    /// After a member's value: `Some(true)` past a comma (another member follows),
    /// `Some(false)` at the closing brace that ends the text.
    #[inline(always)]
    fn member_end(&mut self) -> Option<bool> {
        self.ws();
        match self.peek()? {
            b',' => {
                self.i += 1;
                self.ws();
                Some(true)
            }
            b'}' => {
                self.i += 1;
                self.at_end().map(|()| false)
            }
            _ => None,
        }
    }

    /// Consumes `null` if it is next.
    #[inline]
    fn null(&mut self) -> bool {
        let yes = self.b.get(self.i..self.i + 4) == Some(b"null");
        if yes {
            self.i += 4;
        }
        yes
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// At an opening `"`: consumes the string; says whether it holds escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<bool> {
        let b = self.b;
        let mut i = self.i + 1;
        let mut escaped = false;
        loop {
            // Jump to the next special byte, 16 bytes at a time while 16 remain.
            if let Some(chunk) = b.get(i..i + 16)
                && let Ok(bytes) = <[u8; 16]>::try_from(chunk)
            {
                let m = specials16(bytes);
                if m == 0 {
                    i += 16;
                    continue;
                }
                i += m.trailing_zeros() as usize;
            } else if let Some(chunk) = b.get(i..i + 8)
                && let Ok(bytes) = <[u8; 8]>::try_from(chunk)
            {
                let m = specials(u64::from_le_bytes(bytes));
                if m == 0 {
                    i += 8;
                    continue;
                }
                i += (m.trailing_zeros() / 8) as usize;
            }
            match *b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some(escaped);
                }
                b'\\' => {
                    escaped = true;
                    i = escape(b, i)?;
                }
                0..=0x1f => return None,
                _ => i += 1,
            }
        }
    }

    /// A number by JSON's grammar (serde_json's `ignore_integer`).
    fn number(&mut self) -> Option<()> {
        self.i = super::number(self.b, self.i)?;
        Some(())
    }

    /// Consumes one value of any kind, validating it (serde_json's `ignore_value`, iteratively).
    fn value(&mut self) -> Option<()> {
        // The open containers, innermost in bit 0: 1 for an object, 0 for an array.
        let mut stack = 0u64;
        let mut depth = 0usize;
        loop {
            // A value is expected here.
            self.ws();
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                open @ (b'{' | b'[') => {
                    self.i += 1;
                    self.ws();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.i += 1;
                    } else {
                        if depth == MAX_DEPTH {
                            return None;
                        }
                        depth += 1;
                        stack = stack << 1 | u64::from(open == b'{');
                        if open == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // After a value: close containers until a comma asks for the next value.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.ws();
                let in_object = stack & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.i += 1;
                        if in_object {
                            self.ws();
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                self.i += 1;
                depth -= 1;
                stack >>= 1;
            }
        }
    }

    /// An object key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Option<()> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string()?;
        self.ws();
        if self.peek()? != b':' {
            return None;
        }
        self.i += 1;
        Some(())
    }
}
