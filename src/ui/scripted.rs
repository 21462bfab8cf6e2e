//! Scripted key sequences against [`App`]: where the selection lands and what the detail shows.

use ratatui::crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::app::{Effect, Focus, Message};
use super::search::Filter;
use super::status::{Level, LoadState};
use super::testdata::Harness;
use super::tree::{Node, View};
use crate::model::{GroupId, Model, UserId};
use crate::source::LoadError;

fn group(m: &Model, id: &str) -> GroupId {
    m.find_group(id).unwrap()
}

fn user(m: &Model, id: &str) -> UserId {
    m.find_user(id).unwrap()
}

fn trait_index(m: &Model, g: GroupId, key: &str) -> u32 {
    m.group(g)
        .traits
        .iter()
        .position(|t| m.str(t.key) == key)
        .unwrap() as u32
}

#[test]
fn from_a_group_to_its_plan_history_and_the_raw_call() {
    let mut h = Harness::sample();
    let m = h.app.model().unwrap();
    let acme = group(m, "g-acme");
    let plan = trait_index(m, acme, "plan");
    assert_eq!(h.selected(), Some(Node::Group(acme)));
    // Open Acme, go to Traits, open them: reserved first (name, address parts, employees, plan).
    h.keys("enter j j enter");
    assert_eq!(h.selected(), Some(Node::Traits(acme)));
    h.keys("j j j j j");
    assert_eq!(h.selected(), Some(Node::Trait(acme, plan)));
    let detail = h.detail_text();
    assert_eq!(detail[0], "plan  (reserved trait) of Acme Inc  g-acme");
    let rows: Vec<&String> = detail.iter().filter(|l| l.contains("2024-")).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].contains("(unset) → free") && rows[0].contains("alice"));
    assert!(rows[1].contains("free → pro") && rows[1].contains("bob"));
    assert!(rows[2].contains("pro → enterprise") && rows[2].contains("events.jsonl:5"));

    // Open the history and pick the last change: the raw call is read and shown.
    h.keys("l l j j");
    assert_eq!(h.selected(), Some(Node::Change(acme, plan, 2)));
    let origin = h.app.model().unwrap().calls()[2].origin;
    assert!(
        h.effects
            .iter()
            .any(|e| matches!(e, Effect::FetchRaw(o) if *o == origin))
    );
    let detail = h.detail_text();
    assert!(
        detail.iter().any(|l| l == "from events.jsonl:5"),
        "{detail:#?}"
    );
    assert!(
        detail.iter().any(|l| l == r#"  "messageId": "m5","#),
        "{detail:#?}"
    );
    assert!(detail.iter().any(|l| l == r#"    "plan": "enterprise","#));

    // Enter on a leaf moves to the detail, where keys scroll; Esc comes back.
    h.keys("enter");
    assert_eq!(h.app.focus(), Focus::Detail);
    // Everything fits, so there is nothing to scroll.
    h.keys("j j");
    assert_eq!(h.app.detail().scroll(), 0);
    assert_eq!(h.selected(), Some(Node::Change(acme, plan, 2)));
    h.keys("esc");
    assert_eq!(h.app.focus(), Focus::Tree);

    // ← goes to the parent, then collapses it.
    h.keys("h");
    assert_eq!(h.selected(), Some(Node::Trait(acme, plan)));
    h.keys("h");
    assert!(
        !h.app
            .tree()
            .unwrap()
            .tree()
            .selected_row()
            .unwrap()
            .expanded
    );
}

#[test]
fn the_detail_scrolls_when_focused() {
    let calls: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"type":"group","messageId":"c{i}","userId":"u{i:02}","groupId":"g","timestamp":"2024-01-01T00:{i:02}:00Z","traits":{{"n":{i}}}}}"#
            )
        })
        .collect();
    let mut h = Harness::loaded(&calls.join("\n"));
    h.keys("tab j j pgdn");
    assert_eq!(h.app.detail().scroll(), 2 + 25);
    h.keys("G");
    let total = h.app.detail().content().lines.len();
    assert_eq!(h.app.detail().scroll(), total - 26);
    h.keys("k g");
    assert_eq!(h.app.detail().scroll(), 0);
    // The tree did not move.
    assert_eq!(h.app.tree().unwrap().tree().selected(), 0);
}

#[test]
fn users_view_shows_a_users_groups_and_their_traits() {
    let mut h = Harness::sample();
    let m = h.app.model().unwrap();
    let (alice, bob, carol, acme, globex) = (
        user(m, "alice"),
        user(m, "bob"),
        user(m, "anon-c"),
        group(m, "g-acme"),
        group(m, "g-globex"),
    );
    h.keys("1");
    assert_eq!(h.app.tree().unwrap().view(), View::Users);
    assert_eq!(h.selected(), Some(Node::User(alice)));
    assert!(h.detail_text().iter().any(|l| l == "userId        alice"));
    h.keys("j l l");
    assert_eq!(h.selected(), Some(Node::UserGroup(bob, acme)));
    h.keys("j");
    assert_eq!(h.selected(), Some(Node::UserGroup(bob, globex)));
    assert_eq!(h.detail_text()[0], "Globex  g-globex");
    // Views keep their own positions.
    h.keys("2");
    assert_eq!(h.selected(), Some(Node::Group(acme)));
    h.keys("1");
    assert_eq!(h.selected(), Some(Node::UserGroup(bob, globex)));
    // G and g.
    h.keys("G");
    assert_eq!(h.selected(), Some(Node::User(carol)));
    h.keys("g");
    assert_eq!(h.selected(), Some(Node::User(alice)));
}

#[test]
fn search_narrows_n_finds_and_esc_restores_the_position() {
    let mut h = Harness::sample();
    let m = h.app.model().unwrap();
    let (acme, globex) = (group(m, "g-acme"), group(m, "g-globex"));
    let industry = trait_index(m, globex, "industry");
    let city = trait_index(m, acme, "address.city");
    h.keys("j enter j j enter j j");
    assert_eq!(h.selected(), Some(Node::Trait(globex, industry)));
    // Typing `q` and `n` goes into the query, not to quit or next match.
    h.keys("/");
    h.type_text("hamburq");
    assert!(!h.effects.contains(&Effect::Quit));
    // Each keystroke asks for the query to be compiled in the background.
    assert_eq!(h.effects.last(), Some(&Effect::Filter("hamburq".into())));
    h.keys("backspace");
    h.type_text("g");
    assert_eq!(h.app.filter().unwrap().query(), "hamburg");
    // A late answer for an older query is ignored.
    let stale = Filter::new(h.app.model().unwrap(), "hambur");
    h.send(Message::Filtered(Box::new(stale)));
    assert_eq!(h.app.filter().unwrap().query(), "hamburg");
    let rows = h.app.tree().unwrap().tree().rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].node, Node::Group(acme));
    h.keys("enter n");
    assert_eq!(h.selected(), Some(Node::Trait(acme, city)));
    // Esc clears the filter and puts the tree back as it was.
    h.keys("esc");
    assert!(h.app.filter().is_none());
    assert_eq!(h.selected(), Some(Node::Trait(globex, industry)));
    assert!(h.app.tree().unwrap().tree().rows()[0].node == Node::Group(acme));
}

#[test]
fn sort_cycles_and_keeps_the_selection() {
    let mut h = Harness::sample();
    let m = h.app.model().unwrap();
    let (acme, globex) = (group(m, "g-acme"), group(m, "g-globex"));
    h.keys("s");
    assert_eq!(
        h.app.status().message(),
        Some(("groups sorted by member count", Level::Info))
    );
    h.keys("s");
    // Last change: Globex changed its plan on 2024-03-06, after Acme.
    let rows = h.app.tree().unwrap().tree().rows();
    assert_eq!(rows[0].node, Node::Group(globex));
    assert_eq!(h.selected(), Some(Node::Group(acme)));
    h.keys("s");
    assert_eq!(
        h.app.tree().unwrap().tree().rows()[0].node,
        Node::Group(acme)
    );
}

#[test]
fn copy_sends_the_selected_value_and_raw_json() {
    let mut h = Harness::sample();
    h.keys("y");
    assert_eq!(h.effects.last(), Some(&Effect::Copy("g-acme".into())));
    h.keys("enter j j enter j j j j j y");
    assert_eq!(h.effects.last(), Some(&Effect::Copy("enterprise".into())));
    h.keys("j l j tab y");
    match h.effects.last() {
        Some(Effect::Copy(text)) => {
            assert!(text.starts_with("{\n  \"type\": \"group\""), "{text}");
            assert!(text.contains("\"messageId\": \"m1\""), "{text}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn help_quit_and_panes() {
    let mut h = Harness::sample();
    h.keys("?");
    assert!(h.app.help_open());
    // Keys other than closing ones do nothing under the overlay.
    h.keys("j q");
    assert!(!h.app.help_open());
    assert!(h.effects.is_empty());
    h.keys("f1 esc");
    assert!(!h.app.help_open());
    h.keys("tab");
    assert_eq!(h.app.focus(), Focus::Detail);
    // `]` widens the focused pane: the detail, so the tree gets narrower.
    let split = h.app.split();
    h.keys("]");
    assert_eq!(h.app.split(), split - 5);
    h.keys("shift-tab");
    assert_eq!(h.app.focus(), Focus::Tree);
    h.keys("] ] [");
    assert_eq!(h.app.split(), split);
    for _ in 0..20 {
        h.keys("]");
    }
    assert_eq!(h.app.split(), 80);
    h.keys("q");
    assert_eq!(h.effects, vec![Effect::Quit]);
    let mut h = Harness::sample();
    h.keys("/ ctrl-c");
    assert_eq!(h.effects, vec![Effect::Quit]);
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut h = Harness::loaded(&crate::ui::tree::tests::many_groups(60));
    h.screen();
    let mouse = |kind, column, row| {
        Message::Mouse(MouseEvent {
            kind,
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Row 1 is the first tree row (inside the border).
    h.send(mouse(MouseEventKind::Down(MouseButton::Left), 5, 4));
    let tree = h.app.tree().unwrap().tree();
    assert_eq!(tree.selected(), 3);
    h.send(mouse(MouseEventKind::ScrollDown, 5, 4));
    h.send(mouse(MouseEventKind::ScrollDown, 5, 4));
    let tree = h.app.tree().unwrap().tree();
    assert_eq!((tree.offset(), tree.selected()), (6, 6));
    // A click in the detail focuses it.
    h.send(mouse(MouseEventKind::Down(MouseButton::Left), 80, 4));
    assert_eq!(h.app.focus(), Focus::Detail);
}

#[test]
fn load_errors_and_progress_are_shown_not_fatal() {
    let mut h = Harness::new(LoadState::Loading(None));
    h.send(Message::Progress(crate::source::LoadProgress {
        path: "big.jsonl".into(),
        bytes_done: 10,
        bytes_total: Some(40),
        sources: 1,
        events: 7,
        ..Default::default()
    }));
    assert!(h.screen().contains("loading big.jsonl 25% · 7 events"));
    h.keys("j enter / y");
    let err = LoadError::Unreadable {
        path: "missing.jsonl".into(),
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    };
    h.send(Message::Loaded(Box::new(Err(err))));
    match h.app.load_state() {
        LoadState::Failed(text) => assert!(text.starts_with("cannot read missing.jsonl"), "{text}"),
        other => panic!("{other:?}"),
    }
    assert!(
        h.screen()
            .contains("load failed: cannot read missing.jsonl")
    );
    h.keys("j enter");
    assert!(h.app.model().is_none());
    // r retries.
    h.keys("r");
    assert_eq!(h.effects.last(), Some(&Effect::Reload));
}
