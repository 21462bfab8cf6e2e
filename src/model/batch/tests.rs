use super::snapshot::{key_prefix, reuse};
use super::*;

#[test]
fn keys_order_by_prefix_then_text_as_by_text() {
    let mut keys = vec![
        "id",
        "idx",
        "id.x",
        "address",
        "addresses",
        "a",
        "",
        "é",
        "name",
        "nameless",
        "createdAt",
        "createdAtX",
        "Z",
        "zz",
        "abcdefgh",
        "abcdefghi",
        "abcdefgg",
    ];
    let mut by_prefix = keys.clone();
    by_prefix.sort_by(|a, b| key_prefix(a).cmp(&key_prefix(b)).then_with(|| a.cmp(b)));
    keys.sort();
    assert_eq!(by_prefix, keys);
}

#[test]
fn reuse_keeps_the_room_of_a_vector_of_borrows() {
    let mut spare: Vec<(&'static str, &'static str)> = Vec::with_capacity(32);
    let text = String::from("k v");
    let mut lent: Vec<(&str, &str)> = reuse(std::mem::take(&mut spare));
    assert!(lent.is_empty() && lent.capacity() >= 32);
    lent.push((&text[..1], &text[2..]));
    spare = reuse(lent);
    assert!(spare.is_empty() && spare.capacity() >= 32);
}

#[test]
fn lines_keep_numbers_offsets_and_problems() {
    let text = b"{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\",\"traits\":{\"a\":1}}\nnot json\n\n{\"type\":\"track\",\"userId\":\"u\"}";
    let mut b = Batch::new();
    b.parse_lines(text, 0, 10, 100, &KnownSnapshots::default());
    assert_eq!(b.lines, 4);
    assert_eq!(b.events.len(), 2);
    assert_eq!(b.events[0].origin.line, 10);
    assert_eq!(b.events[0].origin.offset, 100);
    assert_eq!(b.events[1].origin.line, 13);
    assert_eq!(b.events[1].origin.offset, 100 + text.len() as u64 - 29);
    let lines: Vec<u64> = b.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![11, 12]);
    assert_eq!(b.new_snapshots.len(), 1);
}

#[test]
fn a_trailing_newline_is_not_an_empty_line() {
    let mut b = Batch::new();
    b.parse_lines(
        b"{\"type\":\"track\"}\n",
        0,
        1,
        0,
        &KnownSnapshots::default(),
    );
    assert_eq!(b.lines, 1);
    assert!(b.problems.is_empty());
}

#[test]
fn documents_get_line_numbers_from_offsets() {
    let text = b"[\n {\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g\"},\n\n {\"type\":\"group\",\"userId\":\"v\",\"groupId\":\"g\"}\n]";
    let mut b = Batch::new();
    b.parse_document(text, 0, &KnownSnapshots::default());
    let lines: Vec<u32> = b.events.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, vec![2, 4]);
}

#[test]
fn broken_traits_of_a_group_call_read_as_parse_text_says() {
    let good = r#"{"type":"group","userId":"u","groupId":"g","traits":{"a":1}}"#;
    let escaped = r#"{"type":"group","userId":"u","groupId":"g","traits":{"a\"b":1}}"#;
    let broken = [
        r#"{"type":"group","userId":"u","groupId":"g","traits":{"a":tru}}"#,
        r#"{"type":"group","userId":"u","groupId":"g","traits":{"a\"b":tru}}"#,
        r#"{"type":"group","userId":"u","groupId":"g","traits":{"a":[1}]}"#,
    ];
    let text = [good, broken[0], escaped, broken[1], good, broken[2]].join("\n");
    let mut b = Batch::new();
    b.parse_lines(text.as_bytes(), 0, 1, 0, &KnownSnapshots::default());
    assert_eq!(b.events.len(), 3);
    let lines: Vec<u64> = b.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 4, 6]);
    for (problem, line) in b.problems.iter().zip(broken) {
        let mut said = Vec::new();
        crate::event::parse_text(line.as_bytes(), &mut |r| said.push(r.err()));
        let said = said.pop().flatten().expect("parse_text rejects the line");
        assert!(matches!(said, EventError::Json(_)), "{said}");
        assert_eq!(problem.error, ProblemKind::Event(said), "{line}");
    }
}

#[test]
fn ids_not_in_the_text_as_they_are_wait_whole_and_read_the_same() {
    // Numbers and escapes make ids the event owns, so the batch holds the whole event, not
    // parts borrowed from the text; a broken group call among them is still reported.
    let plain = r#"{"type":"group","messageId":"m1","userId":"42","anonymousId":"a/b","groupId":"7","traits":{"a":1}}"#;
    let owned = r#"{"type":"group","messageId":"m2","userId":42,"anonymousId":"a\/b","groupId":7,"traits":{"a":1}}"#;
    let broken = r#"{"type":"group","messageId":"m3","userId":42,"groupId":7,"traits":{"a":tru}}"#;
    let text = [plain, owned, broken, plain].join("\n");
    let mut b = Batch::new();
    b.parse_lines(text.as_bytes(), 0, 1, 0, &KnownSnapshots::default());
    assert_eq!(b.events.len(), 3);
    let ids = |e: &LocalEvent| (e.user_id, e.anonymous_id, e.group_id, e.snapshot);
    assert_eq!(ids(&b.events[0]), ids(&b.events[1]));
    assert_eq!(ids(&b.events[0]), ids(&b.events[2]));
    assert_eq!(b.events[1].origin.line, 2);
    assert_eq!(b.events[1].origin.offset, plain.len() as u64 + 1);
    assert_eq!(b.events[1].origin.len, owned.len() as u32);
    let lines: Vec<u64> = b.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [3]);
    assert!(matches!(
        b.problems[0].error,
        ProblemKind::Event(EventError::Json(_))
    ));
    let mut learned: Vec<&str> = b
        .new_strings
        .iter()
        .map(|s| &b.text[s.start as usize..(s.start + s.len) as usize])
        .collect();
    learned.sort_unstable();
    // The ids once each, and the trait's key and value.
    assert_eq!(learned, ["1", "42", "7", "a", "a/b"]);
}
