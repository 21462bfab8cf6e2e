use super::*;

/// `cargo test --release -- --ignored import_speed --nocapture`: 200k realistic rows.
#[test]
#[ignore = "timing, not correctness"]
fn import_speed() {
    let n: u64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("store.db")).unwrap();
    let raw = format!(
        r#"{{"type":"group","traits":{{"pad":"{}"}}}}"#,
        "x".repeat(900)
    );
    let ids: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            let h = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            (
                format!("{h:032x}"),
                format!("user_{}", h % 50_000),
                format!("g{}", h % 2_000),
            )
        })
        .collect();
    for round in 0..2 {
        let start = std::time::Instant::now();
        let mut importer = store.begin_import().unwrap();
        for (m, u, g) in &ids {
            importer
                .add(&NewEvent {
                    message_id: Some(m),
                    kind: "group",
                    user_id: Some(u),
                    anonymous_id: None,
                    group_id: Some(g),
                    event_ms: Some(1),
                    received_ms: Some(2),
                    origin: Origin::Imported,
                    source: "bench.jsonl",
                    raw: &raw,
                    layout: None,
                })
                .unwrap();
        }
        let added = start.elapsed();
        let summary = importer.finish().unwrap();
        eprintln!(
            "round {round}: {summary:?}: rows {added:?}, total {:?}",
            start.elapsed()
        );
    }
}
