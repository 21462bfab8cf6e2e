//! stdin, read into memory: it cannot be read twice, and the explorer shows a call's raw JSON
//! again from where it was loaded. Files are streamed and need no such copy; stdin is capped at
//! [`MAX_STDIN_BYTES`] after gzip inflation, so a gzip bomb piped in cannot take all memory.
//! What is over the cap is not read; the load says so and what was kept.

use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

/// Most bytes of stdin kept in memory (after gzip inflation). Beyond this reading stops at the
/// last whole line before the cap; a file of any size is streamed instead.
pub const MAX_STDIN_BYTES: usize = 256 << 20;

/// What was read from stdin.
#[derive(Debug)]
pub(crate) struct StdinData {
    /// The bytes kept, inflated when stdin was gzip.
    pub data: Vec<u8>,
    /// Why reading stopped before the end, said for people (with what was kept).
    pub stopped: Option<String>,
}

/// Reads `input` (plain or gzip) into memory, keeping at most `limit` bytes after inflation:
/// over that, only the whole lines before the cap are kept and nothing more is read. A gzip
/// stream that breaks keeps what was inflated before; any other read error is returned.
pub(crate) fn read_stdin(mut input: impl Read, limit: usize) -> io::Result<StdinData> {
    let mut magic = Vec::with_capacity(2);
    (&mut input).take(2).read_to_end(&mut magic)?;
    let gzip = magic == [0x1f, 0x8b];
    let mut data = Vec::new();
    let mut stopped = None;
    let cap = limit as u64 + 1;
    if gzip {
        let mut inflate = MultiGzDecoder::new(magic.chain(input)).take(cap);
        if let Err(e) = inflate.read_to_end(&mut data) {
            // What was inflated before the break is kept (bytes of a line cut short included:
            // it is reported as a bad line).
            stopped = Some(format!(
                "stdin: the gzip data broke after {} inflated bytes ({e}); loaded what came before",
                data.len()
            ));
        }
    } else {
        magic.chain(input).take(cap).read_to_end(&mut data)?;
    }
    if data.len() > limit {
        let cut = memchr::memrchr(b'\n', &data[..limit]).map_or(0, |i| i + 1);
        data.truncate(cut);
        data.shrink_to_fit();
        let lines = memchr::memchr_iter(b'\n', &data).count();
        let what = if gzip { "inflated stdin" } else { "stdin" };
        stopped = Some(format!(
            "{what} is over the limit of {limit} bytes kept in memory: loaded the first {cut} \
             bytes ({lines} whole lines) and stopped reading; save it to a file to load all of it"
        ));
    }
    Ok(StdinData { data, stopped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn under_the_cap_everything_is_kept() {
        let text = b"{\"a\":1}\n{\"b\":2}\n";
        let plain = read_stdin(&text[..], 100).unwrap();
        assert_eq!(plain.data, text);
        assert!(plain.stopped.is_none());
        let inflated = read_stdin(&gzip(text)[..], 100).unwrap();
        assert_eq!(inflated.data, text);
        assert!(inflated.stopped.is_none());
        // Exactly at the cap is still under it.
        assert!(read_stdin(&text[..], text.len()).unwrap().stopped.is_none());
        // One byte, and nothing.
        assert_eq!(read_stdin(&b"{"[..], 10).unwrap().data, b"{");
        assert!(read_stdin(&b""[..], 10).unwrap().data.is_empty());
    }

    #[test]
    fn over_the_cap_the_whole_lines_before_it_are_kept() {
        let text = b"line one\nline two\nline three\n";
        for input in [text.to_vec(), gzip(text)] {
            let got = read_stdin(&input[..], 20).unwrap();
            assert_eq!(got.data, b"line one\nline two\n");
            let why = got.stopped.unwrap();
            assert!(
                why.contains("over the limit of 20 bytes")
                    && why.contains("loaded the first 18 bytes (2 whole lines)"),
                "{why}"
            );
        }
        // No newline before the cap: nothing is kept (it would be one oversized line).
        let got = read_stdin(&[b'x'; 50][..], 20).unwrap();
        assert!(got.data.is_empty());
        assert!(
            got.stopped
                .unwrap()
                .contains("the first 0 bytes (0 whole lines)")
        );
    }

    #[test]
    fn a_bomb_is_not_inflated_past_the_cap() {
        // 16 MiB of newlines from about 16 KB: the reader stops at the cap.
        let bomb = gzip(&vec![b'\n'; 16 << 20]);
        assert!(bomb.len() < 1 << 18);
        let got = read_stdin(&bomb[..], 1000).unwrap();
        assert_eq!(got.data.len(), 1000);
        assert!(got.data.capacity() < 1 << 20, "{}", got.data.capacity());
        assert!(
            got.stopped
                .unwrap()
                .contains("inflated stdin is over the limit")
        );
    }

    #[test]
    fn a_broken_gzip_keeps_what_came_before() {
        let mut data = gzip(&b"{\"a\":1}\n".repeat(1000));
        data.truncate(data.len() / 2);
        let got = read_stdin(&data[..], 1 << 20).unwrap();
        assert!(!got.data.is_empty());
        let why = got.stopped.unwrap();
        assert!(why.contains("gzip data broke after"), "{why}");
    }
}
