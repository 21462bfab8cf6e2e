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
//! Compact text (no whitespace outside strings), what event files hold, takes [`compact`]: a
//! pass in two stages after simdjson, where SIMD code classifies 64 bytes at a time
//! ([`stage1`]) and a walk over the structural characters alone checks the grammar, so strings
//! cost nothing per byte. Anything else, and anything that path gives up on, takes
//! [`general`], a byte-by-byte pass that also decides what the compact path was unsure of.

mod compact;
mod general;
mod stage1;
#[cfg(test)]
mod tests;

use compact::ClassifyCompact;
#[cfg(test)]
pub(super) use general::is_value;
use stage1::Portable;
#[cfg(target_arch = "x86_64")]
use stage1::{Avx2, Avx512};

/// How a wanted field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    /// A string without escapes (its content is returned) or `null`.
    Text,
    /// Any JSON value (its exact text is returned) or `null`.
    Raw,
    /// Like [`Want::Raw`], except that an object or array may be returned with its inside
    /// unchecked: the compact scan finds its end by bracket depth alone, and says so in the
    /// mask [`object`] returns. The caller must check such a value before trusting it.
    Unchecked,
}

/// Deeper nesting than this is left to serde_json (it is never seen in real events).
pub(super) const MAX_DEPTH: usize = 64;

/// Which fields [`object`] wants: a key's slot in `out` and how to read its value. Generic,
/// not a function pointer, so the key test inlines into the walk (an opaque call per key
/// made the walk spill its state around it).
pub(super) trait Pick: Fn(&[u8]) -> Option<(usize, Want)> + Copy {}

impl<F: Fn(&[u8]) -> Option<(usize, Want)> + Copy> Pick for F {}

/// A field's value: `None` when absent or `null`.
pub(super) type Slot<'a> = Option<&'a str>;

/// Scans the object `text` (which must start with `{`; surrounding whitespace is not allowed)
/// and fills `out[i]` for each field that `pick` maps to `(i, want)`. Returns `None` when the
/// fast path cannot vouch for the result (`out` may then be partly filled), else the slots
/// (bit `i` for `out[i]`) whose value was taken unchecked (see [`Want::Unchecked`]).
pub(super) fn object<'a>(text: &'a str, pick: impl Pick, out: &mut [Slot<'a>]) -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx512) = Avx512::detect() {
        return object_in(avx512, text, pick, out);
    }
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
    pick: impl Pick,
    out: &mut [Slot<'a>],
) -> Option<u64> {
    // When the compact scan gives up after filling some slots, the general scan, if it
    // answers, fills each of them again: both pick the same keys from the same text. It
    // checks every value, so nothing it gives is unchecked.
    if let Some(unchecked) = object_compact(cls, text, pick, out) {
        return Some(unchecked);
    }
    general::object(text, pick, out).map(|()| 0)
}

/// [`object`] by the compact scan; `Some` of the slots it took unchecked.
#[inline]
fn object_compact<'a, C: ClassifyCompact>(
    cls: C,
    text: &'a str,
    pick: impl Pick,
    out: &mut [Slot<'a>],
) -> Option<u64> {
    let mut blocks = compact::Blocks::new(cls, text.as_bytes());
    let mut w = compact::Walk::new(&mut blocks, text)?;
    let mut seen = 0u64;
    let mut unchecked = 0u64;
    let mut next = w.first()?;
    let b = text.as_bytes();
    while let Some(sep) = next {
        let (key, colon) = w.member_key(sep)?;
        let picked = pick(key);
        let after = match (picked, b.get(colon + 1)) {
            (Some((slot, Want::Unchecked)), Some(b'{' | b'[')) if slot < 64 => {
                unchecked |= 1 << slot;
                w.skip(colon)?
            }
            _ => w.value(colon)?,
        };
        if let Some((slot, want)) = picked {
            if slot >= out.len().min(64) || seen & 1 << slot != 0 {
                return None;
            }
            seen |= 1 << slot;
            let start = colon + 1;
            // Bytes, not `str` patterns: a value starts with an ASCII byte, so one compare
            // tells a string or `null` from the rest.
            out[slot] = match (b.get(start)?, want) {
                (b'n', _) if after == start + 4 => None,
                (b'"', Want::Text) => {
                    if w.has_escape(start + 1, after - 1) {
                        return None;
                    }
                    Some(w.raw(start + 1, after.checked_sub(1)?)?)
                }
                (_, Want::Text) => return None,
                (_, Want::Raw | Want::Unchecked) => Some(w.raw(start, after)?),
            };
        }
        next = w.after_member(after)?;
    }
    Some(unchecked)
}

/// Scans the object `text` and appends every top-level member as `(key, raw value)`, in
/// order. `None` (with `out` partly filled) when a key has escapes or the text is not one
/// object the fast path can vouch for.
pub(super) fn members<'a>(text: &'a str, out: &mut Vec<(&'a str, &'a str)>) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx512) = Avx512::detect() {
        return members_in(avx512, text, out);
    }
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
    general::members(text, out)
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
