//! Screen snapshots at 100x30 (reviewed by hand, not blindly accepted): each one pins what a
//! user sees at a key moment.

use super::app::Message;
use super::status::LoadState;
use super::testdata::Harness;
use crate::source::LoadError;

#[test]
fn first_screen_while_loading() {
    let mut h = Harness::new(LoadState::Loading(None));
    insta::assert_snapshot!("first_screen_loading", h.screen());
}

#[test]
fn groups_view() {
    let mut h = Harness::sample();
    insta::assert_snapshot!("groups_view", h.screen());
}

#[test]
fn users_view_expanded() {
    let mut h = Harness::sample();
    h.keys("1 enter j enter j");
    insta::assert_snapshot!("users_view_expanded", h.screen());
}

#[test]
fn trait_history() {
    let mut h = Harness::sample();
    h.keys("enter j j enter j j j j j");
    insta::assert_snapshot!("trait_history", h.screen());
}

#[test]
fn raw_call() {
    let mut h = Harness::sample();
    h.keys("enter j j j enter j");
    insta::assert_snapshot!("raw_call", h.screen());
}

#[test]
fn search_active() {
    let mut h = Harness::sample();
    h.keys("/");
    h.type_text("hamburg");
    h.keys("enter n");
    h.keys("/");
    insta::assert_snapshot!("search_active", h.screen());
}

#[test]
fn help_overlay() {
    let mut h = Harness::sample();
    h.keys("?");
    insta::assert_snapshot!("help_overlay", h.screen());
}

#[test]
fn load_error() {
    let mut h = Harness::new(LoadState::Loading(None));
    h.send(Message::Loaded(Box::new(Err(LoadError::Unrecognised {
        path: "notes.txt".into(),
        start: "Dear diary".into(),
    }))));
    insta::assert_snapshot!("load_error", h.screen());
}

#[test]
fn empty_input() {
    let mut h = Harness::loaded("");
    insta::assert_snapshot!("empty_input", h.screen());
}

#[test]
fn no_input() {
    let text = crate::cli::explore::no_input_text(Some(std::path::Path::new(
        "/home/me/.local/share/groupscope/store.db",
    )));
    let mut h = Harness::new(LoadState::NoInput(text));
    insta::assert_snapshot!("no_input", h.screen());
}
