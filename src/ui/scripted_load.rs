//! The tree filling as data arrives: partial models, then the final one, against [`App`]; the
//! position carried over each time; searching while loading; a screen snapshot mid-load.

use super::app::{Effect, Message};
use super::status::{LoadState, progress_text};
use super::testdata::{EVENTS, Harness, LATER, model_from};
use super::tree::{Node, View};
use crate::model::Model;
use crate::source::{LoadError, LoadProgress};

/// What the loader has read of [`EVENTS`] + [`LATER`] (the partial model is [`EVENTS`]).
fn progress() -> LoadProgress {
    LoadProgress {
        source: 0,
        sources: 1,
        path: "events.jsonl".into(),
        bytes_done: EVENTS.len() as u64,
        bytes_total: Some((EVENTS.len() + LATER.len()) as u64),
        events: 6,
        problems: 0,
    }
}

/// The loader's message for a partial model.
fn partial(model: Model) -> Message {
    Message::Partial(Box::new(model.into()))
}

fn everything() -> Model {
    model_from(&format!("{EVENTS}{LATER}"))
}

/// An explorer that has shown the partial model of [`EVENTS`] while loading.
fn mid_load() -> Harness {
    let mut h = Harness::new(LoadState::Loading(None));
    h.send(Message::Progress(progress()));
    h.send(partial(model_from(EVENTS)));
    h
}

fn plan(m: &Model, group: &str) -> Node {
    let g = m.find_group(group).unwrap();
    let e = m
        .group(g)
        .traits
        .iter()
        .position(|t| m.str(t.key) == "plan");
    Node::Trait(g, e.unwrap() as u32)
}

#[test]
fn the_tree_appears_with_the_partial_model_and_keeps_its_place_for_the_final_one() {
    let mut h = Harness::new(LoadState::Loading(None));
    h.send(Message::Progress(progress()));
    assert!(h.app.tree().is_none());
    h.send(partial(model_from(EVENTS)));
    // Rows at once, still loading, progress still shown.
    let rows = h.app.tree().unwrap().tree().rows().len();
    assert_eq!(rows, 2);
    assert!(matches!(h.app.load_state(), LoadState::Loading(Some(_))));
    assert!(h.app.showing_partial());
    let screen = h.screen();
    assert!(
        screen.contains(&progress_text(Some(&progress()))),
        "{screen}"
    );
    assert!(screen.contains("showing the first 6 events"), "{screen}");
    // Navigate and open while loading: Acme → Traits → plan.
    h.keys("enter j j enter");
    h.keys("j j j j j");
    let m = h.app.model().unwrap();
    assert_eq!(h.selected(), Some(plan(m, "g-acme")));
    assert!(h.detail_text()[0].starts_with("plan  (reserved trait)"));

    h.send(Message::Loaded(Box::new(Ok(everything().into()))));
    let m = h.app.model().unwrap();
    assert_eq!(m.groups().len(), 3);
    assert!(matches!(h.app.load_state(), LoadState::Loaded));
    assert!(!h.app.showing_partial());
    // Same trait, renumbered; its history now has the calls read since.
    assert_eq!(h.selected(), Some(plan(m, "g-acme")));
    let acme = m.find_group("g-acme").unwrap();
    let open: Vec<Node> = (h.app.tree().unwrap().tree().rows().iter())
        .filter(|r| r.expanded)
        .map(|r| r.node)
        .collect();
    assert_eq!(open, vec![Node::Group(acme), Node::Traits(acme)]);
    let detail = h.detail_text();
    assert!(
        detail.iter().any(|l| l.contains("→ business")),
        "{detail:?}"
    );
    let screen = h.screen();
    assert!(screen.contains("8 group calls"), "{screen}");
}

#[test]
fn a_search_typed_while_loading_stays_narrowed_across_models() {
    let mut h = mid_load();
    h.keys("/");
    h.type_text("trial");
    // Acme (on trial) is the only match so far.
    assert_eq!(h.app.tree().unwrap().tree().rows().len(), 1);
    h.keys("enter");
    h.send(partial(everything()));
    // The query is compiled for the new model before it is shown: Aaa (on trial too) joins.
    let m = h.app.model().unwrap();
    assert_eq!(m.groups().len(), 3);
    assert!(h.app.filter().is_some_and(|f| f.fits(m)));
    let tops: Vec<Node> = (h.app.tree().unwrap().tree().rows().iter())
        .filter(|r| r.depth == 0)
        .map(|r| r.node)
        .collect();
    let g = |id| Node::Group(m.find_group(id).unwrap());
    assert_eq!(tops, vec![g("g-aaa"), g("g-acme")]);
    assert_eq!(
        h.selected(),
        Some(g("g-acme")),
        "the selection stays on Acme"
    );
    // Clearing the search restores the unfiltered tree of the newest model.
    h.keys("esc");
    assert_eq!(h.app.tree().unwrap().tree().rows().len(), 3);
}

#[test]
fn a_model_waiting_for_its_query_comes_in_when_the_query_is_cleared() {
    let mut h = mid_load();
    h.keys("/");
    h.type_text("globex");
    // Applied straight to the app (the harness would answer the filter at once).
    h.app.update(partial(everything()));
    assert_eq!(h.app.model().unwrap().groups().len(), 2, "old model kept");
    assert_eq!(
        h.app.filter_model().unwrap().groups().len(),
        3,
        "query compiled for the new one"
    );
    h.send(Message::Key(ratatui::crossterm::event::KeyEvent::from(
        ratatui::crossterm::event::KeyCode::Esc,
    )));
    assert_eq!(h.app.model().unwrap().groups().len(), 3);
    assert_eq!(h.app.tree().unwrap().tree().rows().len(), 3);
}

#[test]
fn a_reload_keeps_the_complete_tree_until_the_new_one_is_ready() {
    let mut h = Harness::sample();
    assert!(!h.app.wants_partials());
    h.keys("1");
    h.app
        .update(Message::Key(ratatui::crossterm::event::KeyEvent::from(
            ratatui::crossterm::event::KeyCode::Char('r'),
        )));
    assert!(h.app.settle().contains(&Effect::Reload));
    h.app
        .update(partial(model_from(EVENTS.lines().next().unwrap())));
    assert_eq!(h.app.model().unwrap().groups().len(), 2, "partial ignored");
    assert_eq!(h.app.tree().unwrap().view(), View::Users);
    h.send(Message::Loaded(Box::new(Ok(everything().into()))));
    assert_eq!(h.app.model().unwrap().groups().len(), 3);
    assert_eq!(h.app.tree().unwrap().view(), View::Users, "view kept");
}

#[test]
fn a_load_that_fails_after_a_partial_model_shows_the_failure() {
    let mut h = mid_load();
    assert!(h.app.wants_partials());
    h.send(Message::Loaded(Box::new(Err(LoadError::Unrecognised {
        path: "b.txt".into(),
        start: "Dear diary".into(),
    }))));
    assert!(h.app.model().is_none() && h.app.tree().is_none());
    let screen = h.screen();
    assert!(screen.contains("Could not load"), "{screen}");
}

#[test]
fn screen_while_the_tree_fills() {
    let mut h = mid_load();
    h.keys("enter");
    insta::assert_snapshot!("partial_load", h.screen());
}
