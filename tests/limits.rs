//! Limits end in clear messages, not crashes: an oversized line on the import path, JSON
//! nested 10,000 levels deep (in traits and in the envelope), a couple of hundred thousand
//! distinct trait keys, and gzip bombs that inflate to gigabytes (streamed, never held).
//!
//! Reading is streaming throughout: JSONL (plain or gzip) goes through in chunks of a few MB
//! (the loader) or line by line (import), and a line or a one-document input over
//! [`MAX_LINE_BYTES`] is counted and skipped without being kept, so a file of many GB needs no
//! more memory than its model. The bombs below check that with a measured peak RSS: each
//! command on a 4 GiB bomb must finish within 120 s and stay under 300 MB (measured in a debug
//! build: 1.2-1.5 s and ~25 MB). stdin is the exception: it is kept in memory (it cannot be
//! read twice), so it is capped at [`MAX_STDIN_BYTES`] after inflation, and a bomb piped in
//! stops there with a problem saying what was loaded.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::groupscope;
use groupscope::event::MAX_LINE_BYTES;
use groupscope::model::flatten::MAX_TRAITS_PER_CALL;
use groupscope::source::{LoadOptions, MAX_STDIN_BYTES, load};

const GOOD: &str = r#"{"type":"group","messageId":"m-good","userId":"u1","groupId":"g1","traits":{"plan":"pro"},"timestamp":"2024-01-01T00:00:00Z"}"#;

fn good(id: &str) -> String {
    GOOD.replace("m-good", id)
}

fn import(store: &Path, input: &Path) -> Output {
    groupscope(&[
        "import",
        input.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ])
}

#[test]
fn import_skips_an_oversized_line_and_keeps_the_rest() {
    // bad_input.rs covers the loader; import reads lines on its own path.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let huge = format!(
        r#"{{"type":"group","userId":"u","groupId":"g","traits":{{"pad":"{}"}}}}"#,
        "x".repeat(MAX_LINE_BYTES + 1024)
    );
    std::fs::write(
        &input,
        format!("{}\n{huge}\n{}\n", good("m-1"), good("m-2")),
    )
    .unwrap();
    let out = import(&dir.path().join("s.db"), &input);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("imported 2 events"), "{said}");
    assert!(said.contains("1 bad lines"), "{said}");
    assert!(
        said.contains("in.jsonl:2: line is") && said.contains("over the limit of 16777216"),
        "{said}"
    );
}

/// `{"a":{"a":…1…}}` nested `depth` levels.
fn nested_objects(depth: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
}

#[test]
fn ten_thousand_levels_of_nesting_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("deep.jsonl");
    let deep = nested_objects(10_000);
    let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let lines = [
        good("m-1"),
        // 2: in the traits (read raw when parsing, refused when flattened).
        format!(
            r#"{{"type":"group","messageId":"m-2","userId":"u","groupId":"g2","traits":{deep}}}"#
        ),
        // 3: in a field the envelope reads (the parser's own depth limit).
        format!(r#"{{"type":{deep},"userId":"u","groupId":"g3"}}"#),
        // 4: a whole line of nothing but nesting.
        arrays.clone(),
        // 5: in a field nobody reads (skipped without recursion: accepted).
        format!(
            r#"{{"type":"group","messageId":"m-5","userId":"u","groupId":"g5","properties":{deep},"extra":{arrays}}}"#
        ),
        // 6: in an identify call's context.traits.
        format!(
            r#"{{"type":"identify","messageId":"m-6","userId":"u","context":{{"traits":{deep}}}}}"#
        ),
        // 7: a batch whose elements nest.
        format!(r#"{{"batch":[{arrays},{}]}}"#, good("m-7")),
        good("m-8"),
    ];
    std::fs::write(&input, lines.join("\n")).unwrap();
    let s = common::stats_json(&[&input]);
    assert_eq!(s["lines"], 8);
    // m-1, m-5, m-7 and m-8 load; the deep traits (2, 6) and the deep envelope (3, 4) and the
    // array in the batch (7) are problems, each with its line and reason.
    assert_eq!(s["group_calls"], 4, "{s}");
    let problems: Vec<(String, String)> = s["first_problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["at"]
                    .as_str()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_owned(),
                p["why"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let why = |line: &str| {
        problems
            .iter()
            .find(|(l, _)| l == line)
            .map(|(_, w)| w.as_str())
            .unwrap_or_else(|| panic!("no problem on line {line}: {problems:?}"))
    };
    assert!(why("2").contains("recursion limit"), "{problems:?}");
    assert!(why("3").contains("not valid JSON"), "{problems:?}");
    assert!(why("4").contains("not an event"), "{problems:?}");
    assert!(why("6").contains("recursion limit"), "{problems:?}");
    assert!(why("7").contains("not an event"), "{problems:?}");
    assert_eq!(problems.len(), 5, "{problems:?}");

    // The import path stores what parses (traits stay raw) and reports the rest.
    let store = dir.path().join("s.db");
    let out = import(&store, &input);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("imported 6 events"), "{said}");
    // Loading the store then refuses the deep traits, as the file load did.
    let from_store = common::stats_json(&[&store]);
    assert_eq!(from_store["group_calls"], 4, "{from_store}");
    assert_eq!(from_store["problems"], 2, "{from_store}");
}

#[test]
fn two_hundred_thousand_distinct_trait_keys_load_in_bounded_memory() {
    // 2,000 calls to one group, 100 new keys each: 200,000 distinct keys, each with one
    // change. Measured in a debug build: about 2 s and ~23 MB of model heap. A million keys
    // (10,000 calls of 100) measured in a debug build: 21 s, ~124 MB of model heap, 328 MB peak
    // RSS for a 15 MB file; memory grows with the keys, about 130 bytes of heap each.
    const CALLS: usize = 2_000;
    const KEYS_PER_CALL: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("wide.jsonl");
    let mut text = String::with_capacity(CALLS * KEYS_PER_CALL * 24);
    for c in 0..CALLS {
        text.push_str(&format!(
            r#"{{"type":"group","messageId":"w{c}","userId":"u{}","groupId":"wide","timestamp":"2024-01-01T00:{:02}:{:02}Z","traits":{{"#,
            c % 50,
            (c / 60) % 60,
            c % 60
        ));
        for k in 0..KEYS_PER_CALL {
            if k > 0 {
                text.push(',');
            }
            text.push_str(&format!(r#""k{c}_{k}":{k}"#));
        }
        text.push_str("}}\n");
    }
    // One call over the per-call limit is refused on its own.
    text.push_str(
        r#"{"type":"group","messageId":"too-wide","userId":"u","groupId":"wide","traits":{"#,
    );
    for k in 0..=MAX_TRAITS_PER_CALL {
        if k > 0 {
            text.push(',');
        }
        text.push_str(&format!(r#""x{k}":1"#));
    }
    text.push_str("}}\n");
    std::fs::write(&input, &text).unwrap();
    drop(text);

    let started = Instant::now();
    let m = load(
        std::slice::from_ref(&input),
        &LoadOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let took = started.elapsed();
    let g = m.find_group("wide").unwrap();
    assert_eq!(m.group(g).traits.len(), CALLS * KEYS_PER_CALL);
    assert_eq!(m.calls().len(), CALLS);
    assert_eq!(m.members(g).len(), 50);
    assert_eq!(m.trait_history(g, "k1999_99").len(), 1);
    assert_eq!(m.group_trait(g, "k7_3"), Some("3"));
    assert_eq!(m.counts().problems, 1);
    assert!(
        m.problems()[0]
            .error
            .to_string()
            .contains("more than 10000 keys"),
        "{:?}",
        m.problems()
    );
    let heap = m.heap_bytes();
    eprintln!(
        "200,000 keys: loaded in {took:?}, model heap ~{} MB",
        heap >> 20
    );
    assert!(heap < 100 << 20, "model heap {heap} bytes for 200k keys");
}

/// Gzip of `member` repeated `times` (a multi-member gzip inflates to `times` copies), between
/// `head` and `tail`: a small file that inflates to gigabytes.
fn write_bomb(path: &Path, head: &[u8], member: &[u8], times: usize, tail: &[u8]) -> u64 {
    let gz = |bytes: &[u8]| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&gz(head)).unwrap();
    let one = gz(member);
    for _ in 0..times {
        f.write_all(&one).unwrap();
    }
    f.write_all(&gz(tail)).unwrap();
    f.flush().unwrap();
    (head.len() + member.len() * times + tail.len()) as u64
}

/// Runs the binary, sampling its peak resident memory (VmHWM) until it exits.
fn run_measured(args: &[&str]) -> (Output, u64, Duration) {
    run_measured_with_stdin(args, None)
}

/// [`run_measured`], writing `stdin` to the binary's stdin from a thread (a write the binary
/// stops reading fails quietly).
fn run_measured_with_stdin(args: &[&str], stdin: Option<Vec<u8>>) -> (Output, u64, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(args)
        .env_remove("GROUPSCOPE_STORE")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let feeder = stdin.zip(child.stdin.take()).map(|(bytes, mut pipe)| {
        std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        })
    });
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{args:?} runs too long"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    if let Some(feeder) = feeder {
        feeder.join().unwrap();
    }
    (out, peak_kb, started.elapsed())
}

/// 16 MiB members: 256 of them inflate to 4 GiB from a file of about 4 MB.
const MEMBER: usize = 16 << 20;

/// The peak RSS allowed while streaming a bomb (measured: about 25 MB).
const PEAK_KB: u64 = 300 << 10;

/// Writes the bomb and returns the length of its one long line (without the newline).
fn line_bomb(path: &Path, members: usize) -> u64 {
    let head = br#"{"type":"group","userId":"u","groupId":"g","pad":""#;
    let tail = format!("\"}}\n{}\n", good("m-after"));
    write_bomb(path, head, &vec![0u8; MEMBER], members, tail.as_bytes());
    (head.len() + members * MEMBER + 2) as u64
}

#[test]
fn a_gzip_bomb_of_one_endless_line_is_streamed_and_skipped() {
    // `{"type":"group","pad":"` then 4 GiB of zero bytes without a newline, then a newline
    // and a good call: one oversized line skipped, the call after it imported.
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.jsonl.gz");
    let line = line_bomb(&bomb, 256);
    let compressed = std::fs::metadata(&bomb).unwrap().len();
    assert!(line > 4 << 30 && compressed < 8 << 20, "{compressed}");
    let store = dir.path().join("s.db");
    let (out, peak_kb, took) = run_measured(&[
        "import",
        bomb.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("imported 1 events"), "{said}");
    assert!(
        said.contains(&format!(
            "bomb.jsonl.gz:1: line is {line} bytes, over the limit"
        )),
        "{said}"
    );
    eprintln!(
        "gzip bomb, one line ({} MB compressed, {} GiB inflated): import {took:?}, peak RSS {} MB",
        compressed >> 20,
        line >> 30,
        peak_kb >> 10
    );
    assert!(peak_kb < PEAK_KB, "peak RSS {peak_kb} kB");

    // The loader's own reader (stats, the explorer) on the same bomb.
    let (out, peak_kb, took) = run_measured(&["stats", "--json", bomb.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["group_calls"], 1, "the call after the bomb loads: {s}");
    assert_eq!(s["bad_lines"], 1);
    let why = s["first_problems"][0]["why"].as_str().unwrap();
    assert!(
        why.contains(&format!("line is {line} bytes, over the limit")),
        "{why}"
    );
    eprintln!("  stats {took:?}, peak RSS {} MB", peak_kb >> 10);
    assert!(peak_kb < PEAK_KB, "peak RSS {peak_kb} kB");
}

#[test]
fn a_gzip_bomb_of_one_endless_document_is_streamed_and_refused() {
    // `[` then 4 GiB of spaces: a one-document input, which used to be read whole into
    // memory before the size check. Now it is counted while streaming and refused.
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.json.gz");
    let inflated = write_bomb(&bomb, b"[\n", &vec![b' '; MEMBER], 256, b"]\n");
    let p = bomb.to_str().unwrap();
    let (out, peak_kb, took) = run_measured(&["stats", "--json", p]);
    assert!(out.status.success(), "{out:?}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["sources"][0]["kind"], "JSON document (gzip)");
    assert_eq!(s["bad_lines"], 1, "{s}");
    let why = s["first_problems"][0]["why"].as_str().unwrap();
    assert!(
        why.contains(&format!("line is {inflated} bytes, over the limit")),
        "{why}"
    );
    eprintln!(
        "gzip bomb, one document ({} GiB): stats {took:?}, peak RSS {} MB",
        inflated >> 30,
        peak_kb >> 10
    );
    assert!(peak_kb < PEAK_KB, "peak RSS {peak_kb} kB");

    let store = dir.path().join("s.db");
    let (out, peak_kb, took) = run_measured(&["import", p, "--store", store.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("over the limit"));
    eprintln!("  import {took:?}, peak RSS {} MB", peak_kb >> 10);
    assert!(peak_kb < PEAK_KB, "peak RSS {peak_kb} kB");
}

#[test]
fn a_gzip_bomb_of_zero_bytes_is_one_oversized_line() {
    // Nothing but zero bytes inside the gzip: read as lines, it is one line over the limit.
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("zeros.gz");
    let inflated = write_bomb(&bomb, &[0u8; 16], &vec![0u8; MEMBER], 256, b"");
    let store = dir.path().join("s.db");
    let (out, peak_kb, _) = run_measured(&[
        "import",
        bomb.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("imported 0 events"), "{said}");
    assert!(
        said.contains(&format!(
            "zeros.gz:1: line is {inflated} bytes, over the limit"
        )),
        "{said}"
    );
    assert!(peak_kb < PEAK_KB, "peak RSS {peak_kb} kB");
}

#[test]
fn a_gzip_bomb_on_stdin_is_cut_at_the_cap_with_a_clear_problem() {
    // One good call, then 4 GiB of zero bytes without a newline, piped in. stdin is kept in
    // memory (it cannot be read twice), so it stops at MAX_STDIN_BYTES after inflation: the
    // whole line before the cap is loaded, the rest is never read, and the problem says so.
    // It used to be inflated whole into memory. Measured in a debug build: ~0.6 s, ~265 MB peak
    // RSS (the cap's worth of zero bytes, before the cut to the last whole line).
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.gz");
    let head = format!("{}\n", good("m-1"));
    let inflated = write_bomb(&bomb, head.as_bytes(), &vec![0u8; MEMBER], 256, b"");
    assert!(inflated > 4 << 30);
    let input = std::fs::read(&bomb).unwrap();
    let (out, peak_kb, took) = run_measured_with_stdin(&["stats", "--json", "-"], Some(input));
    assert!(out.status.success(), "{out:?}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["group_calls"], 1, "the line before the cap loads: {s}");
    let why = s["first_problems"][0]["why"].as_str().unwrap();
    assert!(
        why.contains(&format!(
            "inflated stdin is over the limit of {MAX_STDIN_BYTES} bytes kept in memory: \
             loaded the first {} bytes (1 whole lines) and stopped reading; save it to a file",
            head.len()
        )),
        "{why}"
    );
    eprintln!(
        "gzip bomb on stdin ({} GiB inflated): stats {took:?}, peak RSS {} MB",
        inflated >> 30,
        peak_kb >> 10
    );
    // The cap's worth of bytes, and not much more.
    let cap_kb = (MAX_STDIN_BYTES >> 10) as u64;
    assert!(peak_kb < cap_kb + (100 << 10), "peak RSS {peak_kb} kB");
}
