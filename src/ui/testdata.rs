//! A small hand-made input for the explorer's tests: two groups, three users, a plan that changes
//! twice, a nested address, a custom trait and one identify call. Kept in memory (as stdin is) so
//! raw calls can be read back without files, and origins read `events.jsonl:LINE`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Effect, Message};
use super::compose::ComposeSetup;
use super::jobs::{ComposeJobs, Post, SharedTransport, load_composed};
use super::keymap::{KeyCombo, Keymap};
use super::search::Filter;
use super::status::LoadState;
use super::text::plain;
use super::theme::Theme;
use super::tree::Node;
use crate::event::EventTime;
use crate::model::{Model, ModelBuilder, SourceInfo, SourceKind};
use crate::send::{Payload, Response, RetryPolicy, Transport, TransportError};
use crate::source::read_raw;

/// The input, one event per line.
pub const EVENTS: &str = concat!(
    r#"{"type":"group","messageId":"m1","userId":"alice","anonymousId":"anon-a","groupId":"g-acme","timestamp":"2024-01-02T09:00:00Z","traits":{"name":"Acme Inc","plan":"free","employees":12,"address":{"city":"Berlin","country":"DE"},"tier_note":"trial"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m2","userId":"bob","groupId":"g-globex","timestamp":"2024-01-03T10:00:00Z","traits":{"name":"Globex","plan":"pro","industry":"Energy"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m3","userId":"bob","groupId":"g-acme","timestamp":"2024-02-01T12:30:00Z","traits":{"plan":"pro","employees":40}}"#,
    "\n",
    r#"{"type":"identify","messageId":"m4","userId":"alice","timestamp":"2024-02-02T08:00:00Z","traits":{"email":"alice@acme.test"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m5","userId":"alice","groupId":"g-acme","timestamp":"2024-03-05T16:45:00Z","traits":{"plan":"enterprise","address":{"city":"Hamburg"}}}"#,
    "\n",
    r#"{"type":"group","messageId":"m6","anonymousId":"anon-c","groupId":"g-globex","timestamp":"2024-03-06T07:15:00Z","traits":{"name":"Globex","plan":"team"}}"#,
    "\n",
);

/// What a load reads after [`EVENTS`] (a partial model of `EVENTS` then the final one of both
/// renumbers everything): a group and a user that sort first (the group on trial, as Acme is),
/// a new member and plan for Acme,
/// and an Acme call older than all others (its change goes first in the plan's history).
pub const LATER: &str = concat!(
    r#"{"type":"group","messageId":"m7","userId":"aaron","groupId":"g-aaa","timestamp":"2024-04-01T10:00:00Z","traits":{"name":"Aaa Ltd","plan":"free","tier_note":"trial"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m8","userId":"carol","groupId":"g-acme","timestamp":"2024-04-02T11:00:00Z","traits":{"plan":"business"}}"#,
    "\n",
    r#"{"type":"group","messageId":"m9","userId":"bob","groupId":"g-acme","timestamp":"2023-12-01T08:00:00Z","traits":{"plan":"beta"}}"#,
    "\n",
);

/// Builds a model from `text` as if it were a JSONL file called `events.jsonl`.
pub fn model_from(text: &str) -> Model {
    let mut builder = ModelBuilder::new();
    add_text(&mut builder, text);
    builder.finish()
}

/// Adds `text` to `builder` as if it were a JSONL file called `events.jsonl`.
pub fn add_text(builder: &mut ModelBuilder, text: &str) {
    let data = std::sync::Arc::new(text.as_bytes().to_vec());
    let source = builder.add_source(SourceInfo {
        path: PathBuf::from("events.jsonl"),
        kind: SourceKind::Stdin,
        memory: Some(data.clone()),
    });
    let mut reader: &[u8] = &data;
    crate::source::load_lines(
        &mut reader,
        source,
        builder,
        1,
        &AtomicBool::new(false),
        &mut |_| {},
    );
}

/// The model of [`EVENTS`].
pub fn model() -> Model {
    model_from(EVENTS)
}

/// A transport that answers from a script (then refuses every connection) and remembers every
/// payload, so tests can assert "POST sent" without a network.
#[derive(Default)]
pub struct FakeTransport {
    replies: Mutex<std::collections::VecDeque<Result<Response, TransportError>>>,
    /// Every payload posted, in order.
    pub posted: Mutex<Vec<Payload>>,
}

impl FakeTransport {
    /// A transport answering `replies` in order.
    pub fn new(replies: Vec<Result<Response, TransportError>>) -> Arc<FakeTransport> {
        Arc::new(FakeTransport {
            replies: Mutex::new(replies.into()),
            posted: Mutex::new(Vec::new()),
        })
    }

    /// An HTTP answer.
    pub fn reply(status: u16, body: &str) -> Result<Response, TransportError> {
        Ok(Response {
            status,
            body: body.into(),
            location: None,
        })
    }

    /// Adds answers to the script.
    pub fn push(&self, reply: Result<Response, TransportError>) {
        self.replies.lock().expect("script").push_back(reply);
    }

    /// The events posted so far, parsed.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.posted
            .lock()
            .expect("posted")
            .iter()
            .map(|p| serde_json::from_slice(&p.body).expect("JSON body"))
            .collect()
    }
}

impl Transport for FakeTransport {
    fn post(&self, payload: &Payload) -> Result<Response, TransportError> {
        self.posted.lock().expect("posted").push(payload.clone());
        self.replies
            .lock()
            .expect("script")
            .pop_front()
            .unwrap_or(Err(TransportError::Refused))
    }
}

/// The clock of composing tests: 2025-01-01T12:00:00Z.
pub fn fixed_clock() -> EventTime {
    EventTime::from_utc_ms(1_735_732_800_000)
}

/// The data plane URL composing tests pretend to send to.
pub const TEST_PLANE: &str = "http://127.0.0.1:8080";

/// Drives an [`App`] the way the event loop does, on a [`TestBackend`] of a fixed size.
pub struct Harness {
    /// The app under test.
    pub app: App,
    /// The screen.
    pub terminal: Terminal<TestBackend>,
    /// Every effect the app asked for, in order (raw reads are answered at once).
    pub effects: Vec<Effect>,
    /// Compose jobs, run inline (the draft writer keeps its thread), when composing is set up.
    jobs: Option<ComposeJobs>,
    /// Messages the jobs posted, waiting to be applied.
    posted: Arc<Mutex<Vec<Message>>>,
    /// The input text and the store, to load again on a reload.
    input: Option<(String, PathBuf)>,
}

impl Harness {
    /// An app in `state`, with the default keys and the monochrome theme.
    pub fn new(state: LoadState) -> Harness {
        let app = App::new(state, Keymap::default(), Theme::monochrome(), &[]);
        let terminal = Terminal::new(TestBackend::new(100, 30)).expect("test backend");
        Harness {
            app,
            terminal,
            effects: Vec::new(),
            jobs: None,
            posted: Arc::new(Mutex::new(Vec::new())),
            input: None,
        }
    }

    /// An app that loaded `text` plus the store's composed calls, with drafts and the outbox
    /// in the store at `store`, sending through `transport` (none: no data plane), retrying
    /// quickly, on the [`fixed_clock`].
    pub fn composing(text: &str, store: &Path, transport: Option<SharedTransport>) -> Harness {
        let mut h = Harness::new(LoadState::Loading(None));
        h.app.set_clock(fixed_clock);
        let sink = h.posted.clone();
        let post: Post = Arc::new(move |m| sink.lock().expect("queue").push(m));
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        h.app.set_compose(ComposeSetup {
            store: Some(store.to_path_buf()),
            data_plane: transport.as_ref().map(|_| TEST_PLANE.to_string()),
            insecure: false,
        });
        h.jobs = Some(ComposeJobs::new(
            Some(store.to_path_buf()),
            transport,
            policy,
            post,
            true,
        ));
        h.input = Some((text.to_string(), store.to_path_buf()));
        h.reload();
        h
    }

    /// Loads the input and the store's composed calls again, as the loader would.
    fn reload(&mut self) {
        if let Some(model) = self.reloaded() {
            self.send(Message::Loaded(Box::new(Ok(model.into()))));
        }
    }

    /// The model of the input plus the store's composed calls.
    fn reloaded(&self) -> Option<Model> {
        let (text, store) = self.input.as_ref()?;
        let mut builder = ModelBuilder::new();
        add_text(&mut builder, text);
        load_composed(&mut builder, store).expect("composed calls");
        Some(builder.finish())
    }

    /// An app that loaded `text` (see [`model_from`]).
    pub fn loaded(text: &str) -> Harness {
        let mut h = Harness::new(LoadState::Loading(None));
        h.send(Message::Loaded(Box::new(Ok(model_from(text).into()))));
        h
    }

    /// An app that loaded [`EVENTS`].
    pub fn sample() -> Harness {
        Harness::loaded(EVENTS)
    }

    /// Sends one message and settles, answering raw reads synchronously.
    pub fn send(&mut self, message: Message) {
        self.app.update(message);
        // Draw first so panes know their heights, as they do in the real loop.
        self.draw();
        loop {
            let effects = self.app.settle();
            if effects.is_empty() {
                break;
            }
            for effect in effects {
                match &effect {
                    Effect::FetchRaw(origin) => {
                        if let Some(model) = self.app.model() {
                            let result =
                                read_raw(model.sources(), *origin).map_err(|e| e.to_string());
                            self.app.update(Message::Raw(*origin, result));
                        }
                    }
                    Effect::Filter(query) => {
                        if let Some(model) = self.app.filter_model() {
                            let filter = Filter::new(&model, query);
                            self.app.update(Message::Filtered(Box::new(filter)));
                        }
                    }
                    Effect::Job(job) => {
                        if let Some(jobs) = &mut self.jobs {
                            jobs.perform(job.clone());
                        }
                    }
                    Effect::Quit => {
                        if let Some(jobs) = &self.jobs {
                            jobs.finish();
                        }
                    }
                    _ => {}
                }
                let reload = effect == Effect::Reload;
                self.effects.push(effect);
                if reload && let Some(model) = self.reloaded() {
                    self.app.update(Message::Loaded(Box::new(Ok(model.into()))));
                }
            }
            let posted: Vec<Message> = std::mem::take(&mut *self.posted.lock().expect("queue"));
            for message in posted {
                self.app.update(message);
            }
        }
    }

    /// Waits for the draft writer to write, then applies what it posted (for draft-save errors).
    pub fn flush_drafts(&mut self) {
        if let Some(jobs) = &self.jobs {
            jobs.finish();
        }
        self.send(Message::Resize);
    }

    /// Presses keys written as in the config, separated by spaces: `"j j enter shift-tab"`.
    pub fn keys(&mut self, keys: &str) {
        for name in keys.split_whitespace() {
            let combo: KeyCombo = name.parse().expect("key name");
            self.send(Message::Key(KeyEvent::new(combo.code, combo.modifiers)));
        }
    }

    /// Types text, one key per character.
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.send(Message::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )));
        }
    }

    /// Draws and returns the screen as text.
    pub fn screen(&mut self) -> String {
        self.draw();
        self.terminal.backend().to_string()
    }

    fn draw(&mut self) {
        self.terminal
            .draw(|frame| self.app.draw(frame))
            .expect("draw");
    }

    /// The selected node of the tree shown.
    pub fn selected(&self) -> Option<Node> {
        self.app.tree().and_then(|t| t.tree().selected_node())
    }

    /// The detail pane's lines as text.
    pub fn detail_text(&self) -> Vec<String> {
        self.app
            .detail()
            .content()
            .lines
            .iter()
            .map(|l| plain(l))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_model_has_what_the_tests_expect() {
        let m = model();
        assert_eq!(m.groups().len(), 2);
        assert_eq!(m.users().len(), 3);
        let acme = m.find_group("g-acme").unwrap();
        assert_eq!(m.trait_history(acme, "plan").len(), 3);
        assert_eq!(m.group_trait(acme, "address.city"), Some("\"Hamburg\""));
        assert_eq!(m.members(acme).len(), 2);
    }
}
