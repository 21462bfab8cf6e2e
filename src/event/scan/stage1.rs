//! Stage 1 of the compact scan: the text is classified 64 bytes at a time into bit masks
//! (quotes, backslashes, control bytes, structural characters), portably or with AVX2, and
//! the string state (which quotes are escaped, which bytes are inside strings) is carried from
//! block to block. Escapes are validated here, at the escaped characters.

/// One block's raw masks, bit `i` for byte `i`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Masks {
    /// `"`.
    pub quote: u64,
    /// `\`.
    pub backslash: u64,
    /// Bytes below 0x20.
    pub control: u64,
    /// `backslash | control`, as a SIMD classifier finds it first.
    pub special: u64,
    /// `{ } [ ] : ,` (a classifier may also mark bytes that are invalid wherever they stand).
    pub op: u64,
}

/// Blocks classified per call: 2 KiB of text, a whole line of most event files.
pub(super) const CHUNK: usize = 32;

/// How a block is classified: the portable code or SIMD instructions.
pub(super) trait Classify: Copy {
    /// The raw masks of one block.
    fn masks(self, block: &[u8; 64]) -> Masks;
    /// Bit `i` of the result is the XOR of bits `0..=i` of `x`.
    fn prefix_xor(self, x: u64) -> u64;
}

/// The classifier that runs everywhere (and in tests, beside the SIMD one).
#[derive(Debug, Clone, Copy)]
pub(super) struct Portable;

impl Classify for Portable {
    #[inline]
    fn masks(self, block: &[u8; 64]) -> Masks {
        let mut m = Masks::default();
        for (i, &c) in block.iter().enumerate() {
            let bit = 1u64 << i;
            match c {
                b'"' => m.quote |= bit,
                b'\\' => m.backslash |= bit,
                b'{' | b'}' | b'[' | b']' | b':' | b',' => m.op |= bit,
                0..=0x1f => m.control |= bit,
                _ => {}
            }
        }
        m.special = m.backslash | m.control;
        m
    }

    #[inline]
    fn prefix_xor(self, mut x: u64) -> u64 {
        for shift in [1, 2, 4, 8, 16, 32] {
            x ^= x << shift;
        }
        x
    }
}

/// The AVX2 + PCLMULQDQ classifier. Holding one proves the CPU has both: [`Avx2::detect`] is
/// the only way to make one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    /// `Some` when this CPU has AVX2 and carry-less multiplication (checked at run time; std
    /// caches the answer).
    #[inline]
    pub fn detect() -> Option<Avx2> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("pclmulqdq"))
            .then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    fn masks(self, block: &[u8; 64]) -> Masks {
        // SAFETY: an `Avx2` exists only after `detect` found AVX2 on this CPU.
        unsafe { masks_avx2(block) }
    }

    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        // SAFETY: an `Avx2` exists only after `detect` found PCLMULQDQ on this CPU.
        unsafe { prefix_xor_clmul(x) }
    }
}

/// [`Masks`] for 64 bytes with AVX2. Structural characters are found with one table lookup per
/// byte (simdjson's trick): `[` and `]` are folded onto `{` and `}` by setting bit 5, and the
/// table, indexed by the low nibble, holds the one structural character each nibble can be.
/// Besides the six, it also marks 0x0c and 0x1a, control bytes that are invalid wherever they
/// stand (stage 2 rejects any token it does not know).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn masks_avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8, _mm256_setr_epi8, _mm256_shuffle_epi8,
    };
    // SAFETY: `block` has 64 bytes, so both 32-byte loads are in bounds; `loadu` has no
    // alignment requirement.
    let (lo, hi) = unsafe {
        let p = block.as_ptr().cast::<__m256i>();
        (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
    };
    // One bit per byte of both halves, for a byte-wise comparison written once per half.
    macro_rules! bits {
        (|$v:ident| $e:expr) => {{
            let low = {
                let $v = lo;
                _mm256_movemask_epi8($e) as u32
            };
            let high = {
                let $v = hi;
                _mm256_movemask_epi8($e) as u32
            };
            opaque(u64::from(low) | u64::from(high) << 32)
        }};
    }
    let quote_ch = _mm256_set1_epi8(b'"' as i8);
    let backslash_ch = _mm256_set1_epi8(b'\\' as i8);
    let below_space = _mm256_set1_epi8(0x1f);
    let quote = bits!(|v| _mm256_cmpeq_epi8(v, quote_ch));
    let special = bits!(|v| _mm256_or_si256(
        _mm256_cmpeq_epi8(v, backslash_ch),
        _mm256_cmpeq_epi8(_mm256_min_epu8(v, below_space), v)
    ));
    let table = {
        let (c, o, m, e) = (b':' as i8, b'{' as i8, b',' as i8, b'}' as i8);
        _mm256_setr_epi8(
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c, o, m, e, 0, 0, //
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c, o, m, e, 0, 0,
        )
    };
    let bit5 = _mm256_set1_epi8(0x20);
    let op = bits!(|v| _mm256_cmpeq_epi8(_mm256_or_si256(v, bit5), _mm256_shuffle_epi8(table, v)));
    // Backslashes and control bytes are rare: one mask tells whether either is there.
    let (backslash, control) = if special == 0 {
        (0, 0)
    } else {
        (
            bits!(|v| _mm256_cmpeq_epi8(v, backslash_ch)),
            bits!(|v| _mm256_cmpeq_epi8(_mm256_min_epu8(v, below_space), v)),
        )
    };
    Masks {
        quote,
        backslash,
        control,
        special,
        op,
    }
}

/// The AVX-512 (BW) + PCLMULQDQ classifier: one 64-byte register and one comparison per mask,
/// which comes out as the mask itself. Holding one proves the CPU has both: [`Avx512::detect`]
/// is the only way to make one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(super) struct Avx512(());

#[cfg(target_arch = "x86_64")]
impl Avx512 {
    /// `Some` when this CPU has AVX-512 F and BW and carry-less multiplication (checked at
    /// run time; std caches the answer).
    #[inline]
    pub fn detect() -> Option<Avx512> {
        (is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("pclmulqdq"))
        .then_some(Avx512(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Classify for Avx512 {
    #[inline(always)]
    fn masks(self, block: &[u8; 64]) -> Masks {
        // SAFETY: an `Avx512` exists only after `detect` found AVX-512 F and BW on this CPU.
        unsafe { masks_avx512(block) }
    }

    #[inline(always)]
    fn prefix_xor(self, x: u64) -> u64 {
        // SAFETY: an `Avx512` exists only after `detect` found PCLMULQDQ on this CPU.
        unsafe { prefix_xor_clmul(x) }
    }
}

/// [`Masks`] for 64 bytes with AVX-512: the same comparisons and table lookup as
/// [`masks_avx2`], each on the whole block at once.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
fn masks_avx512(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::{
        _mm_setr_epi8, _mm512_broadcast_i32x4, _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask,
        _mm512_loadu_si512, _mm512_or_si512, _mm512_set1_epi8, _mm512_shuffle_epi8,
    };
    // SAFETY: `block` has 64 bytes, so the load is in bounds; `loadu` has no alignment
    // requirement.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let quote = opaque(_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"' as i8)));
    let backslash = opaque(_mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\\' as i8)));
    let control = opaque(_mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f)));
    let table = {
        let (c, o, m, e) = (b':' as i8, b'{' as i8, b',' as i8, b'}' as i8);
        _mm512_broadcast_i32x4(_mm_setr_epi8(
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, c, o, m, e, 0, 0,
        ))
    };
    let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
    let op = opaque(_mm512_cmpeq_epi8_mask(
        folded,
        _mm512_shuffle_epi8(table, v),
    ));
    Masks {
        quote,
        backslash,
        control,
        special: backslash | control,
        op,
    }
}

/// `x`, hidden from the optimizer. Without it LLVM sees a mask built from byte comparisons as
/// 64 one-bit lanes and turns the shifts and ANDs of [`Tokens::refill`] into hundreds of
/// single-bit operations.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn opaque(mut x: u64) -> u64 {
    // SAFETY: the assembly is empty; it only makes `x` look changed.
    unsafe {
        std::arch::asm!("/* {0} */", inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    x
}

/// Prefix XOR as one carry-less multiplication by all ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_set1_epi8,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// What one block leaves for the next.
#[derive(Debug, Default)]
pub(super) struct Carry {
    /// All ones when the last classified byte was inside a string.
    pub in_string: u64,
    /// 1 when the last classified byte is a backslash that escapes the next.
    pub escaped: u64,
    /// Whether any block so far held a backslash (until then no string can have escapes).
    pub backslash: bool,
}

/// The escaped characters of the block at `at` (simdjson's odd-run trick), each checked to be
/// a valid escape; `None` if one is not.
#[cold]
#[inline(never)]
pub(super) fn escapes(carry: &mut Carry, backslash: u64, b: &[u8], at: usize) -> Option<u64> {
    const ODD: u64 = 0xAAAA_AAAA_AAAA_AAAA;
    carry.backslash |= backslash != 0;
    let starts = backslash & !carry.escaped;
    // Adding a run's start to it carries through the run: the bit after an odd-length run
    // (counted from an even or an odd position alike, thanks to the XOR with ODD) is set.
    let code = ((starts << 1 | ODD).wrapping_sub(starts)) ^ ODD;
    let escaped = code ^ (backslash | carry.escaped);
    carry.escaped = (code & backslash) >> 63;
    let mut rest = escaped;
    while rest != 0 {
        let i = at + rest.trailing_zeros() as usize;
        rest &= rest - 1;
        // A backslash outside a string is invalid anyway: checking every one is safe.
        match *b.get(i)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
            b'u' => {
                if !b.get(i + 1..i + 5)?.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some(escaped)
}

/// The last, short block, padded with spaces (which the token mask then drops).
#[inline(never)]
pub(super) fn padded(tail: &[u8]) -> [u8; 64] {
    let mut block = [b' '; 64];
    let n = tail.len().min(64);
    block[..n].copy_from_slice(&tail[..n]);
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Escaped positions by walking the bytes one at a time.
    fn naive_escaped(text: &[u8]) -> u128 {
        let (mut out, mut i) = (0u128, 0);
        while i + 1 < text.len().min(128) {
            if text[i] == b'\\' {
                out |= 1 << (i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn escaped_characters_follow_odd_runs_across_blocks() {
        for run in 0..70 {
            for at in [0usize, 1, 30, 62, 63] {
                // `\\n` escapes are all valid, whatever the run's length.
                let mut text = vec![b'n'; 130];
                text[at..(at + run).min(130)].fill(b'\\');
                let mut carry = Carry::default();
                let mut got = 0u128;
                for block in [0, 64] {
                    let bytes: &[u8; 64] = text[block..block + 64].try_into().unwrap();
                    let backslash = Portable.masks(bytes).backslash;
                    let escaped = escapes(&mut carry, backslash, &text, block).unwrap();
                    got |= u128::from(escaped) << block;
                }
                assert_eq!(got, naive_escaped(&text), "run {run} at {at}");
            }
        }
    }

    #[test]
    fn prefix_xor_marks_the_inside_of_strings() {
        let x = 0b1001_0010u64;
        assert_eq!(Portable.prefix_xor(x), 0xFFFF_FFFF_FFFF_FF8E);
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = Avx2::detect() {
            for x in [0, 1, x, u64::MAX, 1 << 63, 0xdead_beef_0bad_f00d] {
                assert_eq!(avx2.prefix_xor(x), Portable.prefix_xor(x), "{x:x}");
            }
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(avx512) = Avx512::detect() {
            assert_eq!(avx512.prefix_xor(x), Portable.prefix_xor(x));
        }
    }

    /// Each SIMD classifier's masks of every byte value, against the portable ones.
    fn simd_masks_match(simd: impl Classify) {
        for start in (0..=255u8).step_by(64) {
            let block: [u8; 64] = std::array::from_fn(|i| start.wrapping_add(i as u8));
            let (fast, slow) = (simd.masks(&block), Portable.masks(&block));
            assert_eq!(fast.quote, slow.quote);
            assert_eq!(fast.backslash, slow.backslash);
            assert_eq!(fast.control, slow.control);
            assert_eq!(fast.special, slow.special);
            // The SIMD table also marks 0x0c and 0x1a, invalid bytes anyway.
            let extra = |b: &[u8; 64]| {
                b.iter()
                    .enumerate()
                    .filter(|(_, c)| matches!(c, 0x0c | 0x1a))
                    .fold(0u64, |m, (i, _)| m | 1 << i)
            };
            assert_eq!(fast.op, slow.op | extra(&block), "from {start}");
        }
        // Real text: the bytes of one event line, a block at a time, from every offset.
        let line = "{\"type\":\"group\",\"traits\":{\"name\":\"Acme \\\"Inc\\\"\",\"tags\":[\"a\",1,-2.5e3,null]},\"motto\":\"数据 \\\\ é \u{1}\"}".as_bytes();
        for at in 0..line.len() {
            let block: [u8; 64] = std::array::from_fn(|i| line[(at + i) % line.len()]);
            let (fast, slow) = (simd.masks(&block), Portable.masks(&block));
            assert_eq!(
                (fast.quote, fast.special, fast.op & !slow.control),
                (slow.quote, slow.special, slow.op),
                "at {at}"
            );
        }
    }

    #[test]
    fn simd_masks_match_the_portable_ones() {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = Avx2::detect() {
            simd_masks_match(avx2);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(avx512) = Avx512::detect() {
            simd_masks_match(avx512);
        }
    }
}
