//! Scripted key sequences against [`App`](super::app::App) for composing: prefill with `e`,
//! change the plan, send through a fake transport, and what each outcome leaves behind (in the
//! tree, the form, the outbox and the store); drafts across a restart.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::app::{Effect, Message};
use super::compose::Pane;
use super::compose::form::FormFocus;
use super::jobs::{DEBOUNCE, JobReply};
use super::status::Level;
use super::testdata::{EVENTS, FakeTransport, Harness, TEST_PLANE};
use super::text::plain;
use super::tree::Node;
use crate::compose::Field;
use crate::model::CallMark;
use crate::send::TransportError;
use crate::store::{Origin, Store};

fn harness(store: &Path, transport: &Arc<FakeTransport>) -> Harness {
    Harness::composing(EVENTS, store, Some(transport.clone()))
}

/// `e` on Acme (the first group), then the plan field set to `plan`.
fn edit_plan(h: &mut Harness, plan: &str) {
    h.keys("e");
    assert_eq!(h.app.composer().pane(), Pane::Form);
    // From name: email, phone, industry, employees, plan.
    h.keys("tab tab tab tab tab");
    assert_eq!(
        h.app.composer().form().unwrap().focus(),
        FormFocus::Field(Field::Plan)
    );
    h.keys("ctrl-u");
    h.type_text(plan);
}

fn note(h: &Harness) -> Vec<String> {
    h.app
        .composer()
        .form()
        .and_then(|f| f.note())
        .map(|n| n.lines.clone())
        .unwrap_or_default()
}

fn composed(store: &Path) -> Vec<(String, Origin)> {
    let store = Store::open_read_only(store).unwrap();
    let mut out = Vec::new();
    store
        .for_each_event(|_, raw, origin| {
            if matches!(origin, Origin::Sent | Origin::Local) {
                out.push((raw.to_string(), origin));
            }
        })
        .unwrap();
    out
}

#[test]
fn e_prefills_a_new_plan_is_sent_and_shows_in_the_tree_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let transport = FakeTransport::new(vec![FakeTransport::reply(200, "OK")]);
    let mut h = harness(&store, &transport);
    edit_plan(&mut h, "growth");
    let form = h.app.composer().form().unwrap();
    let message_id = form.draft().message_id.clone();
    assert_eq!(form.draft().group_id, "g-acme");
    assert_eq!(form.draft().user_id, "alice");
    assert_eq!(form.draft().plan, "growth");
    h.keys("ctrl-s");

    // One POST, with the prefilled traits and the new plan.
    let events = transport.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["type"], "group");
    assert_eq!(e["messageId"], message_id.as_str());
    assert_eq!(e["groupId"], "g-acme");
    assert_eq!(e["userId"], "alice");
    assert_eq!(e["traits"]["plan"], "growth");
    assert_eq!(e["traits"]["employees"], 40);
    assert_eq!(e["traits"]["address"]["city"], "Hamburg");
    assert_eq!(e["originalTimestamp"], "2025-01-01T12:00:00.000Z");

    // The form closed, the store has the call as sent and no draft or outbox row is left.
    assert_eq!(h.app.composer().pane(), Pane::Hidden);
    assert!(h.app.composer().form().is_none());
    let (text, level) = h.app.status().message().unwrap();
    assert!(
        text.starts_with("↑ sent: the data plane accepted the call"),
        "{text}"
    );
    assert_eq!(level, Level::Info);
    let calls = composed(&store);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, Origin::Sent);
    let s = Store::open_read_only(&store).unwrap();
    assert!(s.drafts().unwrap().is_empty());
    assert!(s.outbox().unwrap().is_empty());

    // The model was loaded again: the tree shows Acme's plan, whose history ends with the call.
    let m = h.app.model().unwrap();
    let acme = m.find_group("g-acme").unwrap();
    assert_eq!(m.group_trait(acme, "plan"), Some("\"growth\""));
    let (_, newest) = m.group_calls(acme).last().unwrap();
    assert_eq!(newest.mark, CallMark::Sent);
    let plan = m
        .group(acme)
        .traits
        .iter()
        .position(|t| m.str(t.key) == "plan")
        .unwrap() as u32;
    assert_eq!(h.selected(), Some(Node::Trait(acme, plan)));
    let detail = h.detail_text();
    let row = detail
        .iter()
        .find(|l| l.contains("enterprise → growth"))
        .unwrap_or_else(|| panic!("{detail:#?}"));
    assert!(row.contains("alice") && row.contains("↑ sent"), "{row}");
    // Only the plan changed: the other prefilled traits were sent as they were.
    assert_eq!(m.trait_history(acme, "name").len(), 1);
    let screen = h.screen();
    assert!(screen.contains("enterprise → growth"), "{screen}");
    // Its row in the tree's history says so too.
    h.keys("l j j j j");
    let label = plain(&crate::ui::tree::label::label(
        h.app.model().unwrap(),
        h.selected().unwrap(),
    ));
    assert!(label.ends_with("by alice  ↑ sent"), "{label}");
}

#[test]
fn a_401_shows_what_it_means_and_keeps_the_draft() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let transport = FakeTransport::new(vec![FakeTransport::reply(401, "Invalid write key\n")]);
    let mut h = harness(&store, &transport);
    edit_plan(&mut h, "growth");
    let id = h.app.composer().form().unwrap().draft().message_id.clone();
    h.keys("ctrl-s");
    // Not retried.
    assert_eq!(transport.events().len(), 1);
    assert_eq!(h.app.composer().pane(), Pane::Form);
    assert_eq!(
        note(&h),
        vec![
            "rejected with HTTP 401: the write key is wrong or missing".to_string(),
            "the server said: \"Invalid write key\"".to_string(),
            "not retried; the draft is kept (the call also waits in the outbox: o)".to_string(),
        ]
    );
    assert_eq!(h.app.status().message().unwrap().1, Level::Error);
    let screen = h.screen();
    assert!(
        screen.contains("✗ rejected with HTTP 401: the write key is wrong or missing"),
        "{screen}"
    );
    // The draft (with the new plan) is in the store, and the call waits in the outbox.
    h.flush_drafts();
    let s = Store::open_read_only(&store).unwrap();
    let drafts = s.drafts().unwrap();
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].id, id);
    assert!(drafts[0].body.contains("\"plan\":\"growth\""));
    let entry = s.outbox_entry(&id).unwrap().unwrap();
    assert_eq!(
        entry.last_error.as_deref(),
        Some("HTTP 401: the write key is wrong or missing")
    );
    assert!(composed(&store).is_empty());
    // Editing clears the outcome; the form is usable again.
    h.type_text("!");
    assert!(note(&h).is_empty());
    assert_eq!(h.app.composer().form().unwrap().draft().plan, "growth!");
}

#[test]
fn a_dead_server_puts_the_call_in_the_outbox_and_retry_sends_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let transport = FakeTransport::new(vec![]);
    let mut h = harness(&store, &transport);
    edit_plan(&mut h, "growth");
    h.keys("ctrl-s");
    // Three attempts (the test policy), the same bytes each time.
    let posted = transport.posted.lock().unwrap().clone();
    assert_eq!(posted.len(), 3);
    assert!(posted.iter().all(|p| p.body == posted[0].body));
    assert_eq!(
        note(&h),
        vec![
            "not delivered after 3 attempts: connection refused".to_string(),
            "kept in the outbox: o shows it, t there sends it again".to_string(),
        ]
    );
    assert_eq!(h.app.status().message().unwrap().1, Level::Warning);
    // The outbox view lists it; the draft is listed too.
    h.keys("esc o");
    assert_eq!(h.app.composer().pane(), Pane::Outbox);
    let lists = h.app.composer().lists();
    assert_eq!(lists.outbox.len(), 1);
    assert_eq!(lists.outbox[0].attempts, 3);
    assert_eq!(
        lists.outbox[0].last_error.as_deref(),
        Some("connection refused")
    );
    assert_eq!(lists.drafts.len(), 1);
    let screen = h.screen();
    assert!(
        screen.contains("g-acme") && screen.contains("connection refused"),
        "{screen}"
    );
    assert!(screen.contains("edited 0s ago · in the outbox"), "{screen}");
    // The server is back: t sends it, the tree shows it, the outbox and draft are gone.
    transport.push(FakeTransport::reply(200, "ok"));
    h.keys("t");
    let (text, _) = h.app.status().message().unwrap();
    assert!(text.starts_with("↑ 1 sent"), "{text}");
    let lists = h.app.composer().lists();
    assert!(lists.outbox.is_empty() && lists.drafts.is_empty());
    assert!(
        h.app.composer().form().is_none(),
        "the sent draft is not editable any more"
    );
    let m = h.app.model().unwrap();
    let acme = m.find_group("g-acme").unwrap();
    assert_eq!(m.group_trait(acme, "plan"), Some("\"growth\""));
    assert_eq!(composed(&store).len(), 1);
}

#[test]
fn send_is_refused_with_the_reasons_until_the_call_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let transport = FakeTransport::new(vec![FakeTransport::reply(200, "ok")]);
    let mut h = harness(&dir.path().join("store.db"), &transport);
    h.keys("c");
    assert_eq!(
        h.app.composer().form().unwrap().focus(),
        FormFocus::Field(Field::UserId)
    );
    h.keys("ctrl-s");
    assert!(transport.events().is_empty());
    assert_eq!(
        note(&h),
        vec![
            "send refused until the call is valid:".to_string(),
            "userId: userId or anonymousId is required; the data plane rejects a call with neither"
                .to_string(),
            "groupId: groupId is required".to_string(),
        ]
    );
    // A focused field takes every printable key, `q` and `?` included.
    h.type_text("q?");
    assert_eq!(h.app.composer().form().unwrap().draft().user_id, "q?");
    assert!(!h.app.help_open());
    assert!(!h.effects.contains(&Effect::Quit));
    h.keys("tab tab");
    h.send(Message::Paste("acct\n9".into()));
    h.keys("ctrl-s");
    let events = transport.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["groupId"], "acct 9");
    assert_eq!(events[0]["userId"], "q?");
}

#[test]
fn without_a_data_plane_the_call_is_kept_locally_and_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let mut h = Harness::composing(EVENTS, &store, None);
    edit_plan(&mut h, "growth");
    h.keys("ctrl-s");
    assert!(
        note(&h)[0].starts_with("no data plane configured"),
        "{:?}",
        note(&h)
    );
    h.keys("ctrl-l");
    assert_eq!(h.app.composer().pane(), Pane::Hidden);
    let (text, _) = h.app.status().message().unwrap();
    assert!(
        text.starts_with("⌂ kept locally in the store (never sent)"),
        "{text}"
    );
    let calls = composed(&store);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].1, Origin::Local);
    let detail = h.detail_text();
    assert!(
        detail
            .iter()
            .any(|l| l.contains("enterprise → growth") && l.contains("⌂ local")),
        "{detail:#?}"
    );
    // The call itself, from the group's calls.
    let m = h.app.model().unwrap();
    let acme = m.find_group("g-acme").unwrap();
    let (id, call) = m.group_calls(acme).last().unwrap();
    assert_eq!(call.mark, CallMark::Local);
    assert!(
        plain(&crate::ui::tree::label::label(m, Node::Call(id))).ends_with("⌂ local, never sent")
    );
}

#[test]
fn y_in_the_preview_copies_a_curl_command_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let transport = FakeTransport::new(vec![]);
    let mut h = harness(&dir.path().join("store.db"), &transport);
    h.keys("e");
    // In a field, y is text.
    h.keys("end");
    h.type_text("y");
    assert_eq!(h.app.composer().form().unwrap().draft().name, "Acme Incy");
    h.keys("backspace shift-tab");
    let focus = h.app.composer().form().unwrap().focus();
    assert_eq!(focus, FormFocus::Field(Field::GroupId));
    h.keys("shift-tab shift-tab shift-tab y");
    assert_eq!(h.app.composer().form().unwrap().focus(), FormFocus::Preview);
    let Some(Effect::Copy(curl)) = h.effects.last() else {
        panic!("{:?}", h.effects.last());
    };
    assert!(
        curl.starts_with(&format!("curl -sS -X POST '{TEST_PLANE}/v1/group'")),
        "{curl}"
    );
    assert!(curl.contains("-u \"$RUDDERSTACK_WRITE_KEY:\""), "{curl}");
    assert!(curl.contains("\"plan\":\"enterprise\""), "{curl}");
    // In the preview, keys scroll and q quits (after the drafts are written).
    h.keys("j j k");
    assert_eq!(h.app.composer().form().unwrap().preview_scroll(), 1);
    h.keys("q");
    assert_eq!(h.effects.last(), Some(&Effect::Quit));
}

#[test]
fn drafts_survive_a_crash_and_a_restart_with_the_same_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let transport = FakeTransport::new(vec![]);
    let mut h = harness(&store, &transport);
    h.keys("c");
    h.type_text("u-7");
    h.keys("tab tab");
    h.type_text("acct-new");
    let id = h.app.composer().form().unwrap().draft().message_id.clone();
    // A crash: no flush, no quit; only the writer's debounce stands between typing and disk.
    std::thread::sleep(DEBOUNCE + Duration::from_millis(300));
    drop(h);

    let mut h = harness(&store, &transport);
    assert_eq!(
        h.app.status().message(),
        Some(("1 saved draft: c reopens it", Level::Info))
    );
    h.keys("c");
    let form = h.app.composer().form().unwrap();
    assert_eq!(form.draft().message_id, id);
    assert_eq!(form.draft().user_id, "u-7");
    assert_eq!(form.draft().group_id, "acct-new");
    // Typing on and quitting at once: quitting writes the draft first.
    h.keys("tab tab");
    h.type_text("!");
    h.keys("ctrl-c");
    drop(h);
    let mut h = harness(&store, &transport);
    h.keys("c");
    assert_eq!(
        h.app.composer().form().unwrap().draft().group_id,
        "acct-new!"
    );
    // Leaving the form keeps the draft in memory; c comes back to it.
    h.keys("esc");
    assert_eq!(h.app.composer().pane(), Pane::Hidden);
    h.keys("c");
    assert_eq!(h.app.composer().pane(), Pane::Form);
}

#[test]
fn the_outbox_view_drops_only_when_asked_twice_and_deletes_drafts() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let transport = FakeTransport::new(vec![Err(TransportError::Timeout("reading".into()))]);
    let mut h = harness(&store, &transport);
    edit_plan(&mut h, "growth");
    h.keys("ctrl-s esc o");
    assert_eq!(h.app.composer().lists().outbox.len(), 1);
    h.keys("d");
    assert_eq!(
        h.app.status().message(),
        Some((
            "press d again to drop this call: it will never be sent",
            Level::Info
        ))
    );
    h.keys("d");
    assert_eq!(
        h.app.status().message(),
        Some(("dropped 1 call", Level::Info))
    );
    assert!(h.app.composer().lists().outbox.is_empty());
    // Now the draft is the only row; enter opens it, d d deletes it.
    h.keys("enter");
    assert_eq!(h.app.composer().pane(), Pane::Form);
    assert_eq!(h.app.composer().form().unwrap().draft().plan, "growth");
    h.keys("esc o d d");
    assert!(h.app.composer().lists().drafts.is_empty());
    assert!(h.app.composer().form().is_none());
    assert!(
        Store::open_read_only(&store)
            .unwrap()
            .drafts()
            .unwrap()
            .is_empty()
    );
    h.keys("esc");
    assert_eq!(h.app.composer().pane(), Pane::Hidden);
    // A job reply for the list arrives even when nothing is open.
    h.send(Message::Job(Box::new(JobReply::Listed(Ok(
        Default::default(),
    )))));
}

#[test]
fn an_untouched_prefilled_call_that_is_refused_is_still_kept_as_a_draft() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store.db");
    let transport = FakeTransport::new(vec![FakeTransport::reply(404, "")]);
    let mut h = harness(&store, &transport);
    h.keys("e ctrl-s");
    assert_eq!(
        note(&h)[..2],
        [
            "rejected with HTTP 404: the source is disabled (or the URL is not a RudderStack data plane)"
                .to_string(),
            "the server said: (nothing)".to_string(),
        ]
    );
    h.flush_drafts();
    let drafts = Store::open_read_only(&store).unwrap().drafts().unwrap();
    assert_eq!(drafts.len(), 1);
    assert_eq!(
        drafts[0].id,
        h.app.composer().form().unwrap().draft().message_id
    );
}
