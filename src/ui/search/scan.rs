//! Matching every interned string at once. The strings are stored back to back, so one pass of
//! the searcher over that buffer (folded to lower case a block at a time when case is ignored)
//! finds each string holding the needle while reading memory front to back; calling the
//! searcher once per string cost about 90 ns a string, twice what the whole pass costs.

use memchr::memmem::Finder;

/// Bytes folded and searched at a time (whole strings; a longer string is a block of its own).
const BLOCK: usize = 1 << 16;

/// What to look for.
pub(super) struct Needle<'a> {
    /// Searches for the needle (lower case when `fold`).
    pub finder: &'a Finder<'a>,
    /// The needle's length in bytes.
    pub len: usize,
    /// Whether ASCII case is ignored.
    pub fold: bool,
}

/// Sets bit `k` of `bits` when the string `spans[k]` of `text` holds the needle. `spans` is a
/// run of the string table's spans (ascending, back to back).
pub(super) fn mark(text: &[u8], spans: &[(u32, u32)], needle: &Needle<'_>, bits: &mut [u64]) {
    if needle.len == 0 {
        return;
    }
    let end_of = |(start, len): (u32, u32)| start as usize + len as usize;
    let mut scratch = Vec::new();
    let mut s = 0;
    while s < spans.len() {
        let start = spans[s].0 as usize;
        let mut e = s + 1;
        while e < spans.len() && end_of(spans[e]) - start <= BLOCK {
            e += 1;
        }
        let Some(block) = text.get(start..end_of(spans[e - 1])) else {
            return;
        };
        let hay = if needle.fold {
            scratch.clear();
            scratch.extend_from_slice(block);
            scratch.make_ascii_lowercase();
            &scratch[..]
        } else {
            block
        };
        mark_block(hay, start, &spans[s..e], s, needle, bits);
        s = e;
    }
}

/// [`mark`] within one block: `hay` starts at byte `offset` of the table and holds the strings
/// `spans`, the first of which is string `first` of the run.
fn mark_block(
    hay: &[u8],
    offset: usize,
    spans: &[(u32, u32)],
    first: usize,
    needle: &Needle<'_>,
    bits: &mut [u64],
) {
    let mut pos = 0;
    let mut k = 0;
    while let Some(i) = needle.finder.find(&hay[pos..]) {
        let at = offset + pos + i;
        // The string the match starts in (an empty string or one ending here is passed).
        while k < spans.len() && spans[k].0 as usize + spans[k].1 as usize <= at {
            k += 1;
        }
        let Some(&(start, len)) = spans.get(k) else {
            return;
        };
        let end = start as usize + len as usize;
        if at + needle.len <= end {
            let bit = first + k;
            bits[bit / 64] |= 1 << (bit % 64);
            // The rest of this string cannot add anything.
            pos = end - offset;
            k += 1;
        } else {
            // It runs into the next string: look again from the next byte.
            pos = at - offset + 1;
        }
        if pos >= hay.len() {
            return;
        }
    }
}

/// The strings of `spans` (as in [`mark`]) holding a backslash, each once, by index.
pub(super) fn with_escapes(text: &[u8], spans: &[(u32, u32)]) -> Vec<usize> {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return Vec::new();
    };
    let start = first.0 as usize;
    let Some(run) = text.get(start..last.0 as usize + last.1 as usize) else {
        return Vec::new();
    };
    let mut out: Vec<usize> = Vec::new();
    let mut k = 0;
    for i in memchr::memchr_iter(b'\\', run) {
        let at = start + i;
        while k < spans.len() && spans[k].0 as usize + spans[k].1 as usize <= at {
            k += 1;
        }
        if k < spans.len() && out.last() != Some(&k) {
            out.push(k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of `strings`, as the interner lays it out.
    fn table(strings: &[&str]) -> (Vec<u8>, Vec<(u32, u32)>) {
        let mut text = Vec::new();
        let mut spans = Vec::new();
        for s in strings {
            spans.push((text.len() as u32, s.len() as u32));
            text.extend_from_slice(s.as_bytes());
        }
        (text, spans)
    }

    fn marked(strings: &[&str], needle: &str, fold: bool) -> Vec<usize> {
        let (text, spans) = table(strings);
        let finder = Finder::new(needle.as_bytes());
        let needle = Needle {
            finder: &finder,
            len: needle.len(),
            fold,
        };
        let mut bits = vec![0u64; spans.len().div_ceil(64)];
        mark(&text, &spans, &needle, &mut bits);
        (0..spans.len())
            .filter(|&k| bits[k / 64] & (1 << (k % 64)) != 0)
            .collect()
    }

    #[test]
    fn matches_stay_inside_one_string() {
        let strings = ["ab", "", "cab", "ABC", "xa", "bx", "abab"];
        // "xa" + "bx" holds "ab" only across the boundary.
        assert_eq!(marked(&strings, "ab", false), vec![0, 2, 6]);
        assert_eq!(marked(&strings, "ab", true), vec![0, 2, 3, 6]);
        assert_eq!(marked(&strings, "b", false), vec![0, 2, 5, 6]);
        assert_eq!(marked(&strings, "zz", true), Vec::<usize>::new());
        assert_eq!(marked(&strings, "", true), Vec::<usize>::new());
    }

    #[test]
    fn blocks_split_between_strings_and_long_strings_stand_alone() {
        let long = format!("{}needle", "x".repeat(BLOCK + 10));
        let many: Vec<String> = (0..5000).map(|i| format!("item{i:05}-")).collect();
        let mut strings: Vec<&str> = many.iter().map(String::as_str).collect();
        strings.insert(2500, &long);
        strings.push("NEEDLE");
        let hits = marked(&strings, "needle", true);
        assert_eq!(hits, vec![2500, 5001]);
        assert_eq!(marked(&strings, "m04999-", false), vec![5000]);
        // Each string once, whichever block it fell in.
        assert_eq!(marked(&strings, "item", false).len(), 5000);
    }

    #[test]
    fn escapes_are_found_per_string() {
        let (text, spans) = table(&["plain", r#""a\"b\\c""#, "", r#""\u00e9""#, "x"]);
        assert_eq!(with_escapes(&text, &spans), vec![1, 3]);
        assert_eq!(with_escapes(&text, &spans[2..]), vec![1]);
    }
}
