//! Plain JSONL files read through a read-only memory map: the reader hands the workers byte
//! ranges of the map ([`Chunk::Mapped`]) instead of copying the file into buffers with read(),
//! cut exactly where [`super::pipeline::read_lines`] would cut, and each chunk's pages leave
//! the process once it is parsed, so the map never keeps more of the file resident than the
//! chunks in flight.
//!
//! The known hazard of mapping: if another process truncates the file while it is mapped,
//! touching the lost pages raises SIGBUS and the process dies (ripgrep takes the same risk
//! for single files); bytes rewritten in place change under the parser. Only plain files are
//! mapped; `GROUPSCOPE_NO_MMAP=1` turns mapping off. A file that grows while it is read is
//! read up to its length when mapped.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::Mmap;

use super::pipeline::{Chunk, Feed, LineWindow, split_lines};

/// Maps `file` (from its start) for reading its lines, or `None` when it should be read with
/// read(): mapping is turned off, the file is not a regular one (a pipe, /dev/stdin, a
/// device), it is empty, or mapping it fails.
pub(crate) fn map_for_lines(file: &File) -> Option<Arc<Mmap>> {
    if !cfg!(unix) || turned_off(std::env::var_os("GROUPSCOPE_NO_MMAP").as_deref()) {
        return None;
    }
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() == 0 {
        return None;
    }
    // SAFETY: the map is read-only and this process never writes the file. Another process
    // truncating it while it is mapped raises SIGBUS (see the module comment), a risk taken
    // as ripgrep takes it. Every slice of the map borrows a `Chunk::Mapped` or the reader's
    // window, each holding the `Arc`, so none outlives the map.
    let map = unsafe { memmap2::MmapOptions::new().map(file) }.ok()?;
    // Read once from start to end: the kernel can read ahead further and need not keep the
    // pages hot for this process.
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    Some(Arc::new(map))
}

/// Whether `GROUPSCOPE_NO_MMAP` (its value here) turns mapping off (so benchmarks can
/// compare): any value but empty or `0`.
fn turned_off(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// Splits the mapped file into chunks of whole lines, as [`super::pipeline::read_lines`] splits
/// a reader; `read` counts the bytes handed on (for progress).
pub(crate) fn read_mapped(map: Arc<Mmap>, read: &AtomicU64, feed: &mut Feed<'_>) {
    let mut window = MapWindow {
        map,
        start: 0,
        filled: 0,
        read,
    };
    split_lines(&mut window, feed);
}

/// A [`LineWindow`] that is a range of the map: filling it reads nothing, taking a chunk
/// copies nothing.
struct MapWindow<'r> {
    map: Arc<Mmap>,
    start: usize,
    filled: usize,
    read: &'r AtomicU64,
}

impl LineWindow for MapWindow<'_> {
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        let left = self.map.len() - (self.start + self.filled);
        let n = want.saturating_sub(self.filled).min(left);
        self.filled += n;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn window(&self) -> &[u8] {
        &self.map[self.start..self.start + self.filled]
    }

    fn take(&mut self, len: usize, offset: u64, _feed: &Feed<'_>) -> Chunk {
        // The map starts at the file's start, so a range's start is its offset.
        debug_assert_eq!(offset, self.start as u64);
        let range = self.start..self.start + len;
        self.start += len;
        self.filled -= len;
        Chunk::Mapped {
            map: self.map.clone(),
            range,
        }
    }

    fn skip(&mut self, len: usize) {
        // The reader scanned these pages for the oversized line's end; no worker will read them.
        release(&self.map, self.start..self.start + len);
        self.start += len;
        self.filled -= len;
    }
}

/// Drops the pages wholly inside `range` of `map` from the process (they stay in the page
/// cache), so a long file's pages do not pile up in the resident set. Pages `range` shares
/// with its neighbours are kept: another worker may be reading them.
pub(crate) fn release(map: &Mmap, range: Range<usize>) {
    #[cfg(unix)]
    {
        let page = page_size();
        let lo = range.start.next_multiple_of(page);
        let hi = range.end.min(map.len()) / page * page;
        if hi > lo {
            // SAFETY: on a shared read-only file mapping MADV_DONTNEED only unmaps the pages;
            // the next touch reads them back from the file, so the bytes never change (only
            // private or anonymous mappings come back zeroed). And nothing touches them: the
            // chunk that held them has been parsed and is being dropped.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, lo, hi - lo)
            };
        }
    }
    #[cfg(not(unix))]
    let _ = (map, range);
}

/// The system's page size.
#[cfg(unix)]
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf only reads a system setting.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|s| s.is_power_of_two())
            .unwrap_or(4096)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::MAX_LINE_BYTES;
    use crate::source::pipeline::{CHUNK_BYTES, read_lines, run};
    use crate::source::visit::{Place, Visit};
    use std::io::Write;
    use std::ops::ControlFlow;
    use std::sync::atomic::AtomicBool;

    /// What a chunk was: kind, offset, length (bytes for an oversized line), and what its
    /// lines said: (line number from 1 in the chunk, offset, group id or problem).
    type Seen = ((char, u64, usize), Vec<(u64, u64, String)>);

    fn describe(chunk: &Chunk, text: &[u8]) -> Seen {
        let head = match chunk {
            Chunk::Lines { len, offset, .. } => ('L', *offset, *len),
            Chunk::Mapped { range, .. } => ('L', range.start as u64, range.len()),
            Chunk::Oversized { bytes, offset } => ('O', *offset, *bytes),
            Chunk::Failed { offset, .. } => ('F', *offset, 0),
            Chunk::Rows { .. } => ('R', 0, 0),
        };
        if let Some((lines, offset)) = chunk.lines() {
            let at = offset as usize;
            assert_eq!(lines, &text[at..at + lines.len()], "chunk at {at}");
        }
        let mut seen = Vec::new();
        chunk.visit(&mut |v| match v {
            Visit::Event {
                place: Place::Line { line, offset },
                event,
                ..
            } => seen.push((
                line,
                offset,
                event.group_id.as_deref().unwrap_or("").to_owned(),
            )),
            Visit::Problem {
                place: Place::Line { line, offset },
                why,
            } => seen.push((line, offset, why)),
            _ => {}
        });
        (head, seen)
    }

    /// The chunks of `text` in order, read with read() (`map` None) or from `map`.
    fn chunks(text: &[u8], map: Option<Arc<Mmap>>, workers: usize) -> Vec<Seen> {
        let mut out = Vec::new();
        let mut r: &[u8] = text;
        let read = AtomicU64::new(0);
        run(
            vec![(); workers],
            &AtomicBool::new(false),
            |feed| match map {
                Some(map) => read_mapped(map, &read, feed),
                None => read_lines(&mut r, feed),
            },
            &|_, chunk| (describe(chunk, text), 0),
            &mut |seen, _| {
                out.push(seen);
                ControlFlow::Continue(())
            },
        );
        out
    }

    fn mapped(text: &[u8]) -> (tempfile::NamedTempFile, Option<Arc<Mmap>>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text).unwrap();
        file.flush().unwrap();
        let map = map_for_lines(file.as_file());
        (file, map)
    }

    /// Both readers cut `text` into the same chunks with the same lines; how many chunks.
    fn same_chunks(text: &[u8]) -> Vec<Seen> {
        let (_file, map) = mapped(text);
        let map = map.expect("a non-empty regular file is mapped");
        let read = chunks(text, None, 1);
        for workers in [1, 3] {
            assert_eq!(chunks(text, Some(map.clone()), workers), read);
        }
        read
    }

    fn event(i: usize, pad: usize) -> String {
        format!(
            "{{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g{i}\",\"traits\":{{\"p\":\"{}\"}}}}",
            "x".repeat(pad)
        )
    }

    /// Line lengths from a fixed pseudo-random sequence, so chunk ends fall mid-line.
    fn varied(lines: usize, seed: u64) -> String {
        let mut x = seed;
        let mut text = String::new();
        for i in 0..lines {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pad = (x >> 33) as usize % 700;
            text.push_str(&event(i, pad));
            text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
            if i % 997 == 0 {
                text.push_str("not json\n\n");
            }
        }
        text
    }

    #[test]
    fn chunk_ends_fall_mid_line_and_agree() {
        for seed in [1, 7] {
            let text = varied(20_000, seed);
            let seen = same_chunks(text.as_bytes());
            assert!(seen.len() >= 3, "{} chunks", seen.len());
            // The chunks cover the text back to back.
            let mut next = 0;
            for ((kind, offset, len), _) in &seen {
                assert_eq!((*kind, *offset), ('L', next));
                next += *len as u64;
            }
            assert_eq!(next as usize, text.len());
            let bad: usize = seen
                .iter()
                .flat_map(|(_, s)| s)
                .filter(|(_, _, s)| s.contains("not valid JSON"))
                .count();
            assert_eq!(bad, 21);
        }
    }

    #[test]
    fn long_lines_and_no_trailing_newline_agree() {
        let mut text = varied(3_000, 3);
        text.push_str(&event(1, 3 * CHUNK_BYTES)); // longer than a chunk
        text.push('\n');
        text.push_str(&varied(3_000, 4));
        text.push_str(&event(2, 10)); // the last line has no newline
        let seen = same_chunks(text.as_bytes());
        let (head, lines) = seen.last().unwrap();
        assert_eq!(head.1 as usize + head.2, text.len());
        assert_eq!(lines.last().unwrap().2, "g2");
    }

    #[test]
    fn oversized_lines_agree_in_the_middle_and_at_the_end() {
        let mut text = event(1, 10);
        text.push('\n');
        let big_at = text.len();
        // Far enough past the limit that the reader skips it (just past, the parser reports it).
        let big = MAX_LINE_BYTES + CHUNK_BYTES;
        text.push_str(&"y".repeat(big));
        text.push_str("\r\n");
        text.push_str(&varied(2_000, 5));
        let seen = same_chunks(text.as_bytes());
        let (oversized, lines) = seen
            .iter()
            .find(|(h, _)| h.0 == 'O')
            .expect("an oversized chunk");
        assert_eq!(*oversized, ('O', big_at as u64, big + 1));
        assert!(lines[0].2.contains("over the limit"), "{lines:?}");
        // Unterminated at the very end.
        let last_at = text.len();
        text.push_str(&"z".repeat(MAX_LINE_BYTES + 1));
        let seen = same_chunks(text.as_bytes());
        assert_eq!(
            seen.last().unwrap().0,
            ('O', last_at as u64, MAX_LINE_BYTES + 1)
        );
    }

    #[test]
    fn small_inputs_agree() {
        for text in ["{}", "{}\n", "\n\n\n", "{\"a\":1}\r\n{", "x"] {
            let seen = same_chunks(text.as_bytes());
            assert_eq!(seen.len(), 1, "{text:?}");
        }
    }

    #[test]
    fn empty_files_devices_and_the_switch_fall_back_to_read() {
        let (_file, map) = mapped(b"");
        assert!(map.is_none());
        let null = File::open("/dev/null").unwrap();
        assert!(map_for_lines(&null).is_none());
        let dir = File::open(std::env::temp_dir()).unwrap();
        assert!(map_for_lines(&dir).is_none());
        assert!(turned_off(Some(OsStr::new("1"))));
        assert!(!turned_off(Some(OsStr::new("0"))));
        assert!(!turned_off(Some(OsStr::new(""))));
        assert!(!turned_off(None));
    }

    #[test]
    fn released_pages_read_back_the_same() {
        let text = varied(5_000, 9);
        let (_file, map) = mapped(text.as_bytes());
        let map = map.unwrap();
        release(&map, 0..map.len());
        assert_eq!(&map[..], text.as_bytes());
    }
}
