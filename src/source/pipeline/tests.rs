use super::*;

fn lines_of(text: &[u8], workers: usize) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut r: &[u8] = text;
    run(
        vec![(); workers],
        &AtomicBool::new(false),
        move |feed| read_lines(&mut r, feed),
        &|_, chunk| {
            let mut seen = Vec::new();
            let lines = chunk.visit(&mut |v| match v {
                Visit::Event { place, event, .. } => {
                    if let Place::Line { line, .. } = place {
                        seen.push((line, event.group_id.as_deref().unwrap_or("").to_owned()));
                    }
                }
                Visit::Problem { place, why } => {
                    if let Place::Line { line, .. } = place {
                        seen.push((line, why));
                    }
                }
                Visit::Source { .. } => {}
            });
            (seen, lines)
        },
        &mut |seen, base| {
            out.extend(seen.into_iter().map(|(l, s)| (l + base, s)));
            ControlFlow::Continue(())
        },
    );
    out
}

fn event(i: usize) -> String {
    format!(
        "{{\"type\":\"group\",\"userId\":\"u\",\"groupId\":\"g{i}\",\"traits\":{{\"pad\":\"{}\"}}}}\n",
        "x".repeat(200)
    )
}

#[test]
fn lines_come_back_in_order_with_absolute_numbers() {
    let mut text = String::new();
    for i in 0..30_000 {
        text.push_str(&event(i));
        if i == 20_000 {
            text.push_str("oops\n");
        }
    }
    for workers in [1, 3] {
        let seen = lines_of(text.as_bytes(), workers);
        assert_eq!(seen.len(), 30_001);
        assert_eq!(seen[0], (1, "g0".to_string()));
        assert_eq!(seen[20_001].0, 20_002);
        assert!(
            seen[20_001].1.contains("not valid JSON"),
            "{:?}",
            seen[20_001]
        );
        assert_eq!(seen[30_000], (30_001, "g29999".to_string()));
    }
}

#[test]
fn stopping_early_ends_the_reader_and_workers() {
    let text: String = (0..40_000).map(event).collect();
    let mut r: &[u8] = text.as_bytes();
    let mut merged = 0;
    run(
        vec![(); 2],
        &AtomicBool::new(false),
        move |feed| read_lines(&mut r, feed),
        &|_, chunk| ((), chunk.visit(&mut |_| {})),
        &mut |(), _| {
            merged += 1;
            ControlFlow::Break(())
        },
    );
    assert_eq!(merged, 1);
}

#[test]
fn rows_are_packed_and_parsed_with_their_ids() {
    let mut seen = Vec::new();
    run(
        vec![(); 2],
        &AtomicBool::new(false),
        |feed| {
            let mut packer = RowPacker::new(feed);
            for i in 0..10_000i64 {
                let text = if i == 7 {
                    "{".to_string()
                } else {
                    event(i as usize)
                };
                let origin = (i == 9).then_some(store::Origin::Sent);
                if packer
                    .push(i + 1, 0, origin, text.as_bytes(), None)
                    .is_break()
                {
                    return;
                }
            }
            let _ = packer.flush();
        },
        &|_, chunk| {
            let mut rows = Vec::new();
            let n = chunk.visit(&mut |v| match v {
                Visit::Event {
                    place: Place::Row { rowid, .. },
                    store_origin,
                    ..
                } => rows.push((rowid, store_origin.is_some())),
                Visit::Problem {
                    place: Place::Row { rowid, .. },
                    ..
                } => rows.push((-rowid, false)),
                _ => {}
            });
            (rows, n)
        },
        &mut |rows, _| {
            seen.extend(rows);
            ControlFlow::Continue(())
        },
    );
    assert_eq!(seen.len(), 10_000);
    assert_eq!(seen[7], (-8, false));
    assert_eq!(seen[9], (10, true));
    assert_eq!(seen[9_999], (10_000, false));
}
