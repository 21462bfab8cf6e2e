//! Screen snapshots of composing at 100x30 (reviewed by hand): the form empty, prefilled from
//! the sample's `acct_brightwave`, with errors, and the outbox view.

use super::app::Message;
use super::jobs::{JobReply, SavedDraft, StoreLists};
use super::testdata::{FakeTransport, Harness, fixed_clock};
use super::tree::Node;
use crate::compose::Draft;
use crate::store::OutboxEntry;

/// The bundled sample, as a new user opens it.
pub const SAMPLE: &str = include_str!("../../assets/sample.jsonl");

/// The screen with the draft's random messageId replaced by a fixed one (same width).
pub fn redacted(h: &mut Harness) -> String {
    let screen = h.screen();
    match h.app.composer().form() {
        Some(form) => {
            let id = form.draft().message_id.clone();
            screen
                .replace(&id, "00000000-0000-4000-8000-000000000000")
                .replace(&id[..8], "00000000")
        }
        None => screen,
    }
}

fn sample(dir: &tempfile::TempDir) -> Harness {
    let transport = FakeTransport::new(vec![FakeTransport::reply(200, "ok")]);
    Harness::composing(SAMPLE, &dir.path().join("store.db"), Some(transport))
}

#[test]
fn form_empty() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample(&dir);
    h.keys("c");
    insta::assert_snapshot!("form_empty", redacted(&mut h));
}

#[test]
fn form_prefilled_from_brightwave() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample(&dir);
    // Brightwave Health sorts first by name.
    assert!(
        matches!(h.selected(), Some(Node::Group(g)) if h.app.model().unwrap().str(h.app.model().unwrap().group(g).id) == "acct_brightwave")
    );
    h.keys("e");
    insta::assert_snapshot!("form_prefilled", redacted(&mut h));
}

#[test]
fn form_with_errors_and_a_refused_send() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample(&dir);
    h.keys("e tab");
    h.type_text("ops-at-brightwave");
    h.keys("tab tab tab ctrl-u");
    h.type_text("forty");
    h.keys("tab tab tab tab tab ctrl-u");
    h.type_text("last spring");
    h.keys("shift-tab shift-tab shift-tab shift-tab shift-tab ctrl-s");
    insta::assert_snapshot!("form_with_errors", redacted(&mut h));
}

#[test]
fn sent_call_in_the_plan_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample(&dir);
    h.keys("e tab tab tab tab tab ctrl-u");
    h.type_text("growth");
    h.keys("ctrl-s");
    insta::assert_snapshot!("sent_call_in_history", redacted(&mut h));
}

#[test]
fn outbox_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sample(&dir);
    h.keys("o");
    let now = fixed_clock().utc_ms;
    let entry =
        |id: i64, payload: &str, attempts: u32, error: Option<&str>, age_ms: i64| OutboxEntry {
            id,
            message_id: format!("0000000{id}-aaaa-4bbb-8ccc-dddddddddddd"),
            payload: payload.into(),
            attempts,
            last_error: error.map(str::to_string),
            created_ms: now - age_ms,
            last_attempt_ms: Some(now - 1000),
        };
    let draft = |id: &str, group: &str, user: &str| {
        let mut d = Draft::new();
        d.message_id = id.into();
        d.group_id = group.into();
        d.user_id = user.into();
        d
    };
    let queued = draft(
        "00000003-aaaa-4bbb-8ccc-dddddddddddd",
        "acct_brightwave",
        "usr_ada",
    );
    let kumo = draft(
        "0000000a-aaaa-4bbb-8ccc-dddddddddddd",
        "acct_kumo",
        "usr_ken",
    );
    let lists = StoreLists {
        outbox: vec![
            entry(
                3,
                r#"{"groupId":"acct_brightwave","userId":"usr_ada","traits":{"plan":"growth"}}"#,
                4,
                Some("server error (HTTP 503): upstream unavailable"),
                2 * 3_600_000,
            ),
            entry(
                5,
                r#"{"groupId":"acct_olympia","anonymousId":"anon-5"}"#,
                1,
                Some("HTTP 401: the write key is wrong or missing"),
                5 * 60_000,
            ),
        ],
        drafts: vec![
            SavedDraft {
                id: kumo.message_id.clone(),
                updated_ms: now - 90_000,
                draft: Some(kumo),
            },
            SavedDraft {
                id: queued.message_id.clone(),
                updated_ms: now - 2 * 3_600_000,
                draft: Some(queued),
            },
            SavedDraft {
                id: "0000000b-aaaa-4bbb-8ccc-dddddddddddd".into(),
                updated_ms: now - 3 * 86_400_000,
                draft: None,
            },
        ],
    };
    h.send(Message::Job(Box::new(JobReply::Listed(Ok(lists)))));
    h.keys("j");
    insta::assert_snapshot!("outbox_view", redacted(&mut h));
}
