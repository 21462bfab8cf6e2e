//! Composing in the explorer: the form pane ([`form`], drawn by [`view`]), prefilling it from
//! the model ([`prefill`]), and the [`Composer`] that decides what the form's and the outbox
//! view's requests mean: save the draft, send, keep locally, copy the curl command, retry or
//! drop outbox entries. It never does I/O itself: it asks for [`Job`]s, and job replies come
//! back through [`Composer::on_reply`].

pub mod edit;
pub mod form;
pub mod prefill;
mod replies;
pub mod view;

use std::path::PathBuf;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use self::form::{Busy, ComposeForm, FormFocus, FormOutcome, Note};
use self::view::FormView;
use super::action::Action;
use super::app::Effect;
use super::jobs::{Job, StoreLists};
use super::keymap::InputContext;
use super::outbox::{OutboxOutcome, OutboxView, age};
use super::status::{Level, StatusBar};
use super::text::Tone;
use super::theme::Theme;
use super::tree::Node;
use crate::compose::Draft;
use crate::event::EventTime;
use crate::model::Model;
use crate::send::curl_command;

/// The curl command's URL when no data plane is configured.
pub const PLACEHOLDER_URL: &str = "https://YOUR-DATA-PLANE.dataplane.rudderstack.com";

/// What composing needs to know about the world, decided at start.
#[derive(Debug, Clone, Default)]
pub struct ComposeSetup {
    /// Where drafts, the outbox and composed calls live (created on the first save).
    pub store: Option<PathBuf>,
    /// The data plane URL, when one is configured (the write key stays with the transport).
    pub data_plane: Option<String>,
    /// The data plane is plain http to a host other than this machine.
    pub insecure: bool,
}

/// The time now; a seam so tests (and snapshots) see a fixed clock.
pub type Clock = fn() -> EventTime;

/// The system clock.
pub fn system_clock() -> EventTime {
    EventTime::from_utc_ms(chrono::Utc::now().timestamp_millis())
}

/// What the right-hand side shows when composing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// Nothing: the detail pane is shown.
    Hidden,
    /// The form.
    Form,
    /// The outbox and drafts.
    Outbox,
}

/// Where the composer's requests go: effects for the event loop, a status line, and a reload.
pub struct Out<'a> {
    /// Effects for the event loop.
    pub effects: &'a mut Vec<Effect>,
    /// The status bar.
    pub status: &'a mut StatusBar,
    /// Set when the model should be loaded again (calls were added to the store).
    pub reload: bool,
    /// The group to show after the reload.
    pub reveal: Option<String>,
}

impl Out<'_> {
    fn job(&mut self, job: Job) {
        self.effects.push(Effect::Job(job));
    }

    fn say(&mut self, text: impl Into<String>, level: Level) {
        self.status.set(text, level);
    }
}

/// The composing side of the explorer: the current form, the outbox view and the store's lists.
#[derive(Debug)]
pub struct Composer {
    setup: ComposeSetup,
    clock: Clock,
    form: Option<ComposeForm>,
    pane: Pane,
    outbox: OutboxView,
    lists: StoreLists,
    listed: bool,
    retrying: Option<String>,
}

impl Composer {
    /// A composer with nothing open.
    pub fn new(setup: ComposeSetup, clock: Clock) -> Composer {
        Composer {
            setup,
            clock,
            form: None,
            pane: Pane::Hidden,
            outbox: OutboxView::default(),
            lists: StoreLists::default(),
            listed: false,
            retrying: None,
        }
    }

    /// Replaces the setup (store, data plane).
    pub fn set_setup(&mut self, setup: ComposeSetup) {
        self.setup = setup;
    }

    /// The setup.
    pub fn setup(&self) -> &ComposeSetup {
        &self.setup
    }

    /// Replaces the clock (tests).
    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// What is shown.
    pub fn pane(&self) -> Pane {
        self.pane
    }

    /// Whether the form or the outbox view is open (they take the keys).
    pub fn is_open(&self) -> bool {
        self.pane != Pane::Hidden
    }

    /// The current form (open or not).
    pub fn form(&self) -> Option<&ComposeForm> {
        self.form.as_ref()
    }

    /// The drafts and outbox as last read.
    pub fn lists(&self) -> &StoreLists {
        &self.lists
    }

    /// The keymap context for the open pane.
    pub fn input_context(&self) -> InputContext {
        match (self.pane, &self.form) {
            (Pane::Form, Some(form)) => form.input_context(),
            _ => InputContext::Normal,
        }
    }

    /// The actions the hint line offers.
    pub fn hint_actions(&self) -> &'static [Action] {
        match (self.pane, self.form.as_ref().map(ComposeForm::focus)) {
            (Pane::Outbox, _) => &[
                Action::Toggle,
                Action::Retry,
                Action::RetryAll,
                Action::Drop,
                Action::Down,
                Action::Back,
                Action::Help,
                Action::Quit,
            ],
            (_, Some(FormFocus::Preview)) => &[
                Action::Copy,
                Action::Down,
                Action::NextPane,
                Action::Send,
                Action::Back,
                Action::Help,
                Action::Quit,
            ],
            _ => &[
                Action::NextPane,
                Action::Send,
                Action::SaveLocal,
                Action::Back,
                Action::AddField,
                Action::RemoveField,
                Action::PrevPane,
                Action::ForceQuit,
            ],
        }
    }

    /// Handles an action; `false` when it is not the composer's (the app applies it).
    pub fn on_action(
        &mut self,
        action: Action,
        model: Option<&Model>,
        node: Option<Node>,
        out: &mut Out<'_>,
    ) -> bool {
        match (self.pane, action) {
            (Pane::Hidden | Pane::Outbox, Action::Compose) => self.open_current(out),
            (Pane::Hidden | Pane::Outbox, Action::Edit) => self.open_prefilled(model, node, out),
            (Pane::Hidden | Pane::Form, Action::Outbox) => self.open_outbox(out),
            (Pane::Hidden, _) => return false,
            (Pane::Form, _) => return self.form_action(action, out),
            (Pane::Outbox, _) => {
                let outcome = self.outbox.on_action(action, &self.lists);
                return self.outbox_outcome(outcome, out);
            }
        }
        true
    }

    /// A key the keymap left to the focused form field.
    pub fn on_key(&mut self, key: &KeyEvent, out: &mut Out<'_>) {
        if let (Pane::Form, Some(form)) = (self.pane, &mut self.form) {
            let outcome = form.on_key(key);
            self.form_outcome(outcome, out);
        }
    }

    /// Pasted text, for the focused form field.
    pub fn on_paste(&mut self, text: &str, out: &mut Out<'_>) {
        if let (Pane::Form, Some(form)) = (self.pane, &mut self.form) {
            let outcome = form.on_paste(text);
            self.form_outcome(outcome, out);
        }
    }

    fn form_action(&mut self, action: Action, out: &mut Out<'_>) -> bool {
        let Some(form) = &mut self.form else {
            self.pane = Pane::Hidden;
            return false;
        };
        let outcome = form.on_action(action);
        self.form_outcome(outcome, out)
    }

    /// Carries out what the form asked for; `false` when it left the action to the app.
    fn form_outcome(&mut self, outcome: FormOutcome, out: &mut Out<'_>) -> bool {
        let now = (self.clock)();
        let Some(form) = &mut self.form else {
            return false;
        };
        match outcome {
            FormOutcome::NotConsumed => return false,
            FormOutcome::Consumed => {}
            FormOutcome::Changed => save(form, out),
            FormOutcome::Say(text) => out.say(text, Level::Info),
            FormOutcome::Leave => {
                self.pane = Pane::Hidden;
                if form.edited() {
                    out.job(Job::FlushDrafts);
                    out.say("draft kept: c reopens it, o lists the drafts", Level::Info);
                }
            }
            FormOutcome::Cancel => {
                out.job(Job::Cancel);
                out.say("cancelling the send…", Level::Info);
            }
            FormOutcome::CopyCurl => match form.draft().to_event(now) {
                Ok(event) => {
                    let url = self.setup.data_plane.as_deref().unwrap_or(PLACEHOLDER_URL);
                    out.effects.push(Effect::Copy(curl_command(url, &event)));
                    let note = if self.setup.data_plane.is_some() {
                        ""
                    } else {
                        " (put your data plane URL in it)"
                    };
                    out.say(
                        format!(
                            "sent the curl command to the clipboard{note}; it reads the key from $RUDDERSTACK_WRITE_KEY"
                        ),
                        Level::Info,
                    );
                }
                Err(errors) => out.say(
                    format!("nothing to copy yet: {}", refusal(&errors)),
                    Level::Warning,
                ),
            },
            FormOutcome::Send | FormOutcome::SaveLocal => {
                let sending = outcome == FormOutcome::Send;
                let event = match form.draft().to_event(now) {
                    Ok(event) => event,
                    Err(errors) => {
                        let mut lines = vec![format!(
                            "{} refused until the call is valid:",
                            if sending { "send" } else { "save" }
                        )];
                        lines.extend(errors.iter().map(|i| format!("{}: {}", i.field, i.message)));
                        form.set_note(Some(Note {
                            tone: Tone::Error,
                            marker: "✗",
                            lines,
                        }));
                        out.say(refusal(&errors), Level::Error);
                        return true;
                    }
                };
                if sending && self.setup.data_plane.is_none() {
                    form.set_note(Some(Note {
                        tone: Tone::Error,
                        marker: "✗",
                        lines: vec![
                            "no data plane configured: set RUDDERSTACK_DATA_PLANE_URL and RUDDERSTACK_WRITE_KEY,".into(),
                            "use --data-plane-url/--write-key or a [profiles] entry; ctrl-l keeps the call locally".into(),
                        ],
                    }));
                    out.say("no data plane configured: nothing was sent", Level::Error);
                    return true;
                }
                // The draft is in the store before anything else happens to it, so a refusal
                // or a crash mid-send leaves it to come back to.
                form.mark_edited();
                save(form, out);
                form.set_note(None);
                if sending {
                    form.set_busy(Some(Busy::Sending {
                        last: None,
                        cancelling: false,
                    }));
                    out.job(Job::Send(Box::new(event)));
                } else {
                    form.set_busy(Some(Busy::SavingLocal));
                    out.job(Job::SaveLocal(Box::new(event)));
                }
            }
        }
        true
    }

    fn outbox_outcome(&mut self, outcome: OutboxOutcome, out: &mut Out<'_>) -> bool {
        match outcome {
            OutboxOutcome::NotConsumed => return false,
            OutboxOutcome::Consumed => {}
            OutboxOutcome::Close => self.pane = Pane::Hidden,
            OutboxOutcome::Say(text) => out.say(text, Level::Info),
            OutboxOutcome::OpenDraft(id) => {
                let found = self.lists.drafts.iter().find(|d| d.id == id);
                match found.and_then(|d| d.draft.clone()) {
                    Some(draft) => {
                        self.form = Some(ComposeForm::new(draft, true));
                        self.pane = Pane::Form;
                    }
                    None => out.say(
                        "this draft cannot be read by this version of groupscope",
                        Level::Warning,
                    ),
                }
            }
            OutboxOutcome::DeleteDraft(id) => {
                if self
                    .form
                    .as_ref()
                    .is_some_and(|f| f.draft().message_id == id)
                {
                    self.form = None;
                }
                self.lists.drafts.retain(|d| d.id != id);
                out.job(Job::DeleteDraft(id));
                out.say("draft deleted", Level::Info);
            }
            OutboxOutcome::Drop(id) => out.job(Job::DropOutbox(vec![id])),
            OutboxOutcome::Retry(ids) => {
                if self.setup.data_plane.is_none() {
                    out.say(
                        "no data plane configured: set RUDDERSTACK_DATA_PLANE_URL and RUDDERSTACK_WRITE_KEY to send",
                        Level::Error,
                    );
                } else if self.retrying.is_some() {
                    out.say("a retry is already running", Level::Info);
                } else {
                    self.retrying = Some(format!(
                        "⟳ sending {} call{} again…",
                        ids.len(),
                        if ids.len() == 1 { "" } else { "s" }
                    ));
                    out.job(Job::Retry(ids));
                }
            }
        }
        true
    }

    /// `c`: the current form, else the most recent saved draft, else a blank form.
    fn open_current(&mut self, out: &mut Out<'_>) {
        if self.form.is_none() {
            let now = (self.clock)().utc_ms;
            let latest = self
                .lists
                .drafts
                .iter()
                .find_map(|d| d.draft.clone().map(|draft| (draft, d.updated_ms)));
            self.form = Some(match latest {
                Some((draft, at)) => {
                    out.say(
                        format!(
                            "reopened your draft from {} ago (o lists drafts)",
                            age(now, at)
                        ),
                        Level::Info,
                    );
                    ComposeForm::new(draft, true)
                }
                None => ComposeForm::new(Draft::new(), false),
            });
        }
        self.pane = Pane::Form;
    }

    /// `e`: a new form prefilled from the selected group.
    fn open_prefilled(&mut self, model: Option<&Model>, node: Option<Node>, out: &mut Out<'_>) {
        let draft = model.zip(node).and_then(|(m, n)| prefill::draft_for(m, n));
        let Some(draft) = draft else {
            out.say(
                "select a group (or a row under it) to compose from it",
                Level::Info,
            );
            return;
        };
        let kept = self.form.as_ref().is_some_and(ComposeForm::edited);
        out.say(
            format!(
                "prefilled from {}: change what you need, ctrl-s sends{}",
                draft.group_id,
                if kept {
                    " (your other draft is kept: o lists drafts)"
                } else {
                    ""
                }
            ),
            Level::Info,
        );
        if kept {
            out.job(Job::FlushDrafts);
        }
        let mut form = ComposeForm::new(draft, false);
        form.focus_field(crate::compose::Field::Name);
        self.form = Some(form);
        self.pane = Pane::Form;
    }

    fn open_outbox(&mut self, out: &mut Out<'_>) {
        self.pane = Pane::Outbox;
        self.outbox.reset();
        out.job(Job::ListStore);
    }

    /// Draws the open pane into `area`.
    pub fn draw(&mut self, frame: &mut Frame, area: Rect, theme: &Theme) {
        let now = (self.clock)();
        match (self.pane, &mut self.form) {
            (Pane::Form, Some(form)) => form.draw(
                frame,
                area,
                &FormView {
                    theme,
                    now,
                    data_plane: self.setup.data_plane.as_deref(),
                    insecure: self.setup.insecure,
                },
            ),
            (Pane::Outbox, _) => self.outbox.draw(
                frame,
                area,
                &self.lists,
                now.utc_ms,
                self.retrying.as_deref(),
                theme,
            ),
            _ => {}
        }
    }
}

/// Asks for the draft to be saved.
fn save(form: &ComposeForm, out: &mut Out<'_>) {
    match serde_json::to_string(form.draft()) {
        Ok(body) => out.job(Job::SaveDraft {
            id: form.draft().message_id.clone(),
            body,
        }),
        Err(e) => out.say(format!("the draft could not be saved: {e}"), Level::Error),
    }
}

/// Why a draft cannot go out, in one line.
fn refusal(errors: &[crate::compose::Issue]) -> String {
    let reasons: Vec<String> = errors
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect();
    format!("send refused: {}", reasons.join("; "))
}
