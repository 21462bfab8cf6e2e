use super::*;

/// What a model says, as comparable text: every group with its traits, members and calls
/// (with where each came from), every user with its ids and traits, and the counts.
fn fingerprint(m: &Model) -> Vec<String> {
    let mut out = vec![format!("{:?}", m.counts())];
    for (i, g) in m.groups().iter().enumerate() {
        let id = crate::model::GroupId(i as u32);
        let traits: Vec<String> = g
            .traits
            .iter()
            .map(|t| format!("{}={}/{}", m.str(t.key), m.str(t.value), t.changes.len()))
            .collect();
        let members: Vec<String> = m
            .members(id)
            .iter()
            .map(|x| format!("{}x{}", m.user_label(x.user), x.calls))
            .collect();
        out.push(format!("group {} {traits:?} {members:?}", m.str(g.id)));
        for (_, c) in m.group_calls(id) {
            let o = c.origin;
            let who = m.user_label(c.user);
            out.push(format!(
                "  {who} {} {}:{}+{}",
                c.time.utc_ms, o.line, o.offset, o.len
            ));
        }
    }
    for (i, u) in m.users().iter().enumerate() {
        let traits: Vec<String> = u
            .traits
            .iter()
            .map(|t| format!("{}={}", m.str(t.key), m.str(t.value)))
            .collect();
        let label = m.user_label(crate::model::UserId(i as u32));
        out.push(format!("user {label} {} {traits:?}", u.anonymous_ids.len()));
    }
    out
}

fn line(i: usize) -> String {
    let pad = "p".repeat(200);
    match i % 9 {
        // An identify that links an anonymous id to a user seen before.
        4 => format!(
            r#"{{"type":"identify","messageId":"m{i}","userId":"u{}","anonymousId":"a{}","traits":{{"email":"e{}"}},"timestamp":"2024-01-01T00:{:02}:00Z"}}"#,
            i % 31,
            i % 47,
            i % 5,
            i % 60
        ),
        _ => format!(
            r#"{{"type":"group","messageId":"m{i}","anonymousId":"a{}","groupId":"g{}","traits":{{"plan":"p{}","n":{},"pad":"{pad}"}},"timestamp":"2024-01-{:02}T00:00:00Z"}}"#,
            i % 47,
            i % 13,
            i % 4,
            i % 3,
            1 + i % 28
        ),
    }
}

#[test]
fn partial_models_are_prefixes_of_the_final_one() {
    let dir = tempfile::tempdir().unwrap();
    // A file of several chunks (partials come between them), then two small ones (and at
    // their starts).
    let big: String = (0..16_000).map(|i| line(i) + "\n").collect();
    assert!(big.len() > 2 * pipeline::CHUNK_BYTES);
    let files = [
        (dir.path().join("a.jsonl"), big),
        (
            dir.path().join("b.jsonl"),
            (16_000..16_300).map(|i| line(i) + "\n").collect(),
        ),
        (
            dir.path().join("c.jsonl"),
            (16_300..16_400).map(|i| line(i) + "\n").collect(),
        ),
    ];
    for (path, text) in &files {
        std::fs::write(path, text).unwrap();
    }
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let options = LoadOptions {
        threads: 3,
        ..LoadOptions::default()
    };
    let mut partials = Vec::new();
    let full = load_with_partials(
        &paths,
        &options,
        &mut |_| {},
        &mut |b| {
            partials.push((b.partial(), b.counts().lines));
            ControlFlow::Continue(())
        },
        (1_000, 2),
    )
    .unwrap();
    assert!(partials.len() >= 3, "{} partials", partials.len());
    assert_eq!(
        fingerprint(&full),
        fingerprint(&load(&paths, &options, &mut |_| {}).unwrap())
    );
    let mut last = 0;
    for (partial, lines) in &partials {
        assert!(*lines > last && *lines < full.counts().lines);
        last = *lines;
        // The same model as loading just the lines read so far.
        let mut left = *lines as usize;
        let mut prefix = Vec::new();
        for (i, (path, text)) in files.iter().enumerate() {
            let n = text.lines().count();
            if left >= n {
                prefix.push(path.clone());
                left -= n;
            } else {
                if left > 0 {
                    let cut = dir
                        .path()
                        .join(format!("cut{i}"))
                        .join(path.file_name().unwrap());
                    std::fs::create_dir_all(cut.parent().unwrap()).unwrap();
                    let head: String = text
                        .lines()
                        .take(left)
                        .map(|l| l.to_owned() + "\n")
                        .collect();
                    std::fs::write(&cut, head).unwrap();
                    prefix.push(cut);
                }
                break;
            }
        }
        let expected = load(&prefix, &options, &mut |_| {}).unwrap();
        assert_eq!(
            fingerprint(partial),
            fingerprint(&expected),
            "after {lines} lines"
        );
    }
    // Breaking stops the offers.
    let mut offers = 0;
    load_with_partials(
        &paths,
        &options,
        &mut |_| {},
        &mut |_| {
            offers += 1;
            ControlFlow::Break(())
        },
        (1_000, 2),
    )
    .unwrap();
    assert_eq!(offers, 1);
}

#[test]
fn a_mapped_file_loads_as_read_and_reads_its_raw_calls_back() {
    // Several chunks, CRLF and bad lines, and a last line without a newline.
    let mut text = String::new();
    for i in 0..16_000 {
        text.push_str(&line(i));
        text.push_str(if i % 3 == 0 { "\r\n" } else { "\n" });
        if i % 1_000 == 7 {
            text.push_str("{\"type\":\n");
        }
    }
    text.push_str(&line(16_000));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.jsonl");
    std::fs::write(&path, &text).unwrap();
    assert!(mapped::map_for_lines(&File::open(&path).unwrap()).is_some());
    let options = LoadOptions {
        threads: 2,
        ..LoadOptions::default()
    };
    let mut bytes_done = 0;
    let m = load(&[path], &options, &mut |p| bytes_done = p.bytes_done).unwrap();
    assert_eq!(bytes_done as usize, text.len());
    let mut read = ModelBuilder::new();
    let source = read.add_source(m.sources()[0].clone());
    let mut r = text.as_bytes();
    load_lines(&mut r, source, &mut read, 2, &options.cancel, &mut |_| {});
    let read = read.finish();
    assert_eq!(fingerprint(&m), fingerprint(&read));
    assert_eq!(m.counts().bad_lines, 16);
    for c in m.calls() {
        let at = c.origin.offset as usize;
        let raw = read_raw(m.sources(), c.origin).unwrap();
        assert_eq!(raw, text[at..at + c.origin.len as usize]);
    }
}

#[test]
fn detection_by_content() {
    assert_eq!(detect(&[0x1f, 0x8b, 8, 0]), Detected::Gzip);
    assert_eq!(detect(b"SQLite format 3\0rest"), Detected::Sqlite);
    assert_eq!(detect(b"{\"type\":\"group\"}\n{}"), Detected::JsonLines);
    assert_eq!(detect(b"\xEF\xBB\xBF{\"a\":1}"), Detected::JsonLines);
    assert_eq!(detect(b"  [\n{}]"), Detected::JsonDocument);
    assert_eq!(detect(b"{\n  \"batch\": []\n}"), Detected::JsonDocument);
    assert_eq!(detect(b"   \n"), Detected::Empty);
    assert_eq!(detect(b"PK\x03\x04"), Detected::Unknown);
}
