//! A small hand-made input for the explorer's tests: two groups, three users, a plan that changes
//! twice, a nested address, a custom trait and one identify call. Kept in memory (as stdin is) so
//! raw calls can be read back without files, and origins read `events.jsonl:LINE`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::{App, Effect, Message};
use super::keymap::{KeyCombo, Keymap};
use super::search::Filter;
use super::status::LoadState;
use super::text::plain;
use super::theme::Theme;
use super::tree::Node;
use crate::model::{Model, ModelBuilder, SourceInfo, SourceKind};
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

/// Builds a model from `text` as if it were a JSONL file called `events.jsonl`.
pub fn model_from(text: &str) -> Model {
    let mut builder = ModelBuilder::new();
    let data: std::sync::Arc<[u8]> = text.as_bytes().into();
    let source = builder.add_source(SourceInfo {
        path: PathBuf::from("events.jsonl"),
        kind: SourceKind::Stdin,
        memory: Some(data.clone()),
    });
    let mut reader: &[u8] = &data;
    crate::source::load_lines(
        &mut reader,
        source,
        &mut builder,
        1,
        &AtomicBool::new(false),
        &mut |_| {},
    );
    builder.finish()
}

/// The model of [`EVENTS`].
pub fn model() -> Model {
    model_from(EVENTS)
}

/// Drives an [`App`] the way the event loop does, on a [`TestBackend`] of a fixed size.
pub struct Harness {
    /// The app under test.
    pub app: App,
    /// The screen.
    pub terminal: Terminal<TestBackend>,
    /// Every effect the app asked for, in order (raw reads are answered at once).
    pub effects: Vec<Effect>,
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
        }
    }

    /// An app that loaded `text` (see [`model_from`]).
    pub fn loaded(text: &str) -> Harness {
        let mut h = Harness::new(LoadState::Loading(None));
        h.send(Message::Loaded(Box::new(Ok(model_from(text)))));
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
                        if let Some(model) = self.app.model() {
                            let filter = Filter::new(model, query);
                            self.app.update(Message::Filtered(Box::new(filter)));
                        }
                    }
                    _ => {}
                }
                self.effects.push(effect);
            }
        }
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
