//! The model must not depend on how many threads read the input: every call, membership,
//! snapshot and trait change is compared for 1, 2 and 4 parser threads.

mod common;

use std::fmt::Write;

use common::generate;
use groupscope::model::{GroupId, Model};
use groupscope::source::{LoadOptions, load};

/// Everything the model answers, as text.
fn dump(m: &Model) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:?} {:?}", m.counts(), m.time_range());
    for (i, g) in m.groups().iter().enumerate() {
        let _ = writeln!(
            out,
            "group {} calls {:?} members {:?}",
            m.str(g.id),
            g.calls,
            g.members
        );
        for t in &g.traits {
            let _ = write!(out, "  {}={}", m.str(t.key), m.str(t.value));
            for c in m.entry_changes(t) {
                let _ = write!(
                    out,
                    " [{} {:?} {}]",
                    c.call,
                    c.old.map(|o| m.str(o)),
                    m.str(c.new)
                );
            }
            out.push('\n');
        }
        for mem in m.members(GroupId(i as u32)) {
            let _ = writeln!(out, "  member {} {:?}", m.user_label(mem.user), mem);
        }
    }
    for (i, c) in m.calls().iter().enumerate() {
        let traits: Vec<_> = m.snapshot(c.snapshot).collect();
        let _ = writeln!(
            out,
            "call {i} {} {} {:?} {} {:?} {:?}",
            m.str(m.group(c.group).id),
            m.user_label(c.user),
            c.time,
            c.received_ms,
            c.origin,
            traits
        );
    }
    for (i, u) in m.users().iter().enumerate() {
        let anon: Vec<_> = u.anonymous_ids.iter().map(|&a| m.str(a)).collect();
        let _ = writeln!(
            out,
            "user {i} {:?} {anon:?} {:?}",
            u.user_id.map(|s| m.str(s)),
            u.identifies
        );
        for t in &u.traits {
            let changes = m.user_entry_changes(t).len();
            let _ = writeln!(out, "  {}={} ({changes})", m.str(t.key), m.str(t.value));
        }
    }
    out
}

#[test]
fn one_two_and_four_threads_build_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = generate(
        dir.path(),
        "ev.jsonl",
        &[
            "--events",
            "8000",
            "--identify-fraction",
            "0.1",
            "--seed",
            "1",
            "--groups",
            "40",
        ],
    ) else {
        return;
    };
    let models: Vec<String> = [1, 2, 4]
        .iter()
        .map(|&threads| {
            let options = LoadOptions {
                threads,
                ..LoadOptions::default()
            };
            dump(&load(std::slice::from_ref(&path), &options, &mut |_| {}).unwrap())
        })
        .collect();
    assert!(models[0].len() > 100_000, "the dump covers the model");
    assert!(models[0] == models[1], "2 threads differ from 1");
    assert!(models[0] == models[2], "4 threads differ from 1");
}
