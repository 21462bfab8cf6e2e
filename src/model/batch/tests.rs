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
