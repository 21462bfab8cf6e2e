//! The explorer's state and its one `update`: every key, mouse event, load report and raw call
//! arrives as a [`Message`]; side effects (reading a raw call, copying, reloading, quitting) go
//! out as [`Effect`]s for the event loop to carry out, so tests drive `App` without a terminal.

use ratatui::crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use std::sync::Arc;

use crate::model::{Model, Origin};
use crate::source::{LoadError, LoadProgress};

mod compose;
mod load;
mod view;

pub use load::Arrival;

use super::action::Action;
use super::compose::{ComposeSetup, Composer, system_clock};
use super::detail::{DetailPane, Raw};
use super::help::{HelpOutcome, HelpState};
use super::jobs::{Job, JobReply};
use super::keymap::{InputContext, Keymap};
use super::search::{Filter, SearchInput};
use super::status::{Level, LoadState, StatusBar};
use super::theme::Theme;
use super::tree::{Ctx, TreePane, View};

/// Something that happened.
#[derive(Debug)]
pub enum Message {
    /// A key was pressed.
    Key(KeyEvent),
    /// The mouse did something.
    Mouse(MouseEvent),
    /// The terminal was resized.
    Resize,
    /// The loader made progress.
    Progress(LoadProgress),
    /// The loader read part of the input: the model of what it read so far.
    Partial(Box<Arrival>),
    /// The loader finished.
    Loaded(Box<Result<Arrival, LoadError>>),
    /// A raw call was read (or failed).
    Raw(Origin, Result<String, String>),
    /// A search query was compiled.
    Filtered(Box<Filter>),
    /// Time passed (for the loading indicator).
    Tick,
    /// Text was pasted (bracketed paste).
    Paste(String),
    /// A compose job reported back.
    Job(Box<JobReply>),
}

/// Something for the event loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Read this call's raw JSON on a background thread and answer with [`Message::Raw`].
    FetchRaw(Origin),
    /// Compile this query over the model on a background thread and answer with
    /// [`Message::Filtered`].
    Filter(String),
    /// Put this text on the clipboard.
    Copy(String),
    /// Load the inputs again.
    Reload,
    /// Run a compose job (save a draft, send, list the outbox…).
    Job(Job),
    /// Leave.
    Quit,
}

/// Which pane keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// The tree on the left.
    Tree,
    /// The detail on the right.
    Detail,
}

/// The tree pane's share of the width, in percent: default and bounds.
const SPLIT_DEFAULT: u16 = 40;
const SPLIT_MIN: u16 = 20;
const SPLIT_MAX: u16 = 80;

/// The whole explorer.
pub struct App {
    model: Option<Arc<Model>>,
    load: LoadState,
    tree: Option<TreePane>,
    detail: DetailPane,
    filter: Option<Filter>,
    search: SearchInput,
    status: StatusBar,
    focus: Focus,
    split: u16,
    help: Option<HelpState>,
    keymap: Keymap,
    theme: Theme,
    areas: (Rect, Rect),
    effects: Vec<Effect>,
    ticks: u64,
    composer: Composer,
    /// The group to show once the model is loaded again (after a call was sent or kept).
    reveal: Option<String>,
    /// The load in progress was asked for by composing: its outcome message stays in the
    /// status bar rather than the input's problems.
    quiet_reload: bool,
    /// The model shown is a partial one: the load that made it is still running.
    partial: bool,
    /// A newer model, shown once the active query is compiled for it.
    incoming: Option<load::Incoming>,
}

impl App {
    /// An explorer that starts in `load` state, with keys, theme and any config warnings.
    pub fn new(load: LoadState, keymap: Keymap, theme: Theme, warnings: &[String]) -> App {
        let mut status = StatusBar::default();
        if let Some(first) = warnings.first() {
            let more = match warnings.len() {
                1 => String::new(),
                n => format!(" (+{} more)", n - 1),
            };
            status.set(format!("config: {first}{more}"), Level::Warning);
        }
        App {
            model: None,
            load,
            tree: None,
            detail: DetailPane::default(),
            filter: None,
            search: SearchInput::default(),
            status,
            focus: Focus::Tree,
            split: SPLIT_DEFAULT,
            help: None,
            keymap,
            theme,
            areas: (Rect::default(), Rect::default()),
            effects: Vec::new(),
            ticks: 0,
            composer: Composer::new(ComposeSetup::default(), system_clock),
            reveal: None,
            quiet_reload: false,
            partial: false,
            incoming: None,
        }
    }

    /// The loaded model.
    pub fn model(&self) -> Option<&Model> {
        self.model.as_deref()
    }

    /// The loaded model, shared with background jobs.
    pub fn shared_model(&self) -> Option<Arc<Model>> {
        self.model.clone()
    }

    /// How loading stands.
    pub fn load_state(&self) -> &LoadState {
        &self.load
    }

    /// The tree pane, once a model is loaded.
    pub fn tree(&self) -> Option<&TreePane> {
        self.tree.as_ref()
    }

    /// The detail pane.
    pub fn detail(&self) -> &DetailPane {
        &self.detail
    }

    /// The status bar.
    pub fn status(&self) -> &StatusBar {
        &self.status
    }

    /// The tree pane's share of the width, in percent.
    pub fn split(&self) -> u16 {
        self.split
    }

    /// Which pane has the keys.
    pub fn focus(&self) -> Focus {
        self.focus
    }

    /// The active filter.
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// Whether the help overlay is open.
    pub fn help_open(&self) -> bool {
        self.help.is_some()
    }

    /// Shows a message in the status bar (the event loop reports its own failures here).
    pub fn report(&mut self, text: impl Into<String>, level: Level) {
        self.status.set(text, level);
    }

    /// Handles one message; effects pile up until [`App::settle`].
    pub fn update(&mut self, message: Message) {
        match message {
            Message::Key(key) => self.on_key(key),
            Message::Mouse(mouse) => self.on_mouse(mouse),
            Message::Resize => {}
            Message::Progress(p) => {
                if matches!(self.load, LoadState::Loading(_)) {
                    self.load = LoadState::Loading(Some(p));
                }
            }
            Message::Partial(arrival) => self.on_partial(*arrival),
            Message::Loaded(result) => self.on_loaded(*result),
            Message::Raw(origin, result) => {
                if let Some(model) = &self.model {
                    let raw = match result {
                        Ok(text) => Raw::Loaded(text),
                        Err(e) => Raw::Failed(e),
                    };
                    self.detail.raw_arrived(model, origin, raw);
                }
            }
            Message::Filtered(filter) => self.on_filtered(*filter),
            Message::Tick => self.ticks += 1,
            Message::Paste(text) => self.on_paste(&text),
            Message::Job(reply) => self.on_job(*reply),
        }
    }

    /// Brings the detail pane up to the selection (once per batch of messages, not per key)
    /// and hands over the effects gathered since the last call.
    pub fn settle(&mut self) -> Vec<Effect> {
        if let (Some(model), Some(tree)) = (&self.model, &self.tree) {
            let node = tree.tree().selected_node();
            if let Some(origin) = self.detail.show(model, node) {
                self.effects.push(Effect::FetchRaw(origin));
            }
        }
        std::mem::take(&mut self.effects)
    }

    fn on_key(&mut self, key: KeyEvent) {
        let context = if self.composer.is_open() {
            self.composer.input_context()
        } else if self.search.editing {
            InputContext::TextInput
        } else {
            InputContext::Normal
        };
        match self.keymap.action_for(&key, context) {
            Some(action) => self.on_action(action),
            None if self.composer.is_open() => self.compose_key(&key),
            None if self.search.editing => self.on_search_key(key),
            None => {}
        }
    }

    fn on_search_key(&mut self, key: KeyEvent) {
        let changed = match key.code {
            KeyCode::Char(c) => {
                self.search.push(c);
                true
            }
            KeyCode::Backspace => self.search.pop(),
            _ => false,
        };
        if changed {
            self.refilter();
        }
    }

    /// Asks for the typed query to be compiled off the UI thread (the tree narrows when it
    /// arrives), or restores the tree at once when the query is empty.
    fn refilter(&mut self) {
        let (Some(model), Some(tree)) = (&self.model, &mut self.tree) else {
            return;
        };
        if self.search.text.is_empty() {
            self.filter = None;
            tree.apply_filter(model, None);
            self.install_incoming();
        } else {
            self.effects.push(Effect::Filter(self.search.text.clone()));
        }
    }

    /// Whether a query is being compiled.
    pub fn filtering(&self) -> bool {
        !self.search.text.is_empty()
            && self
                .filter
                .as_ref()
                .is_none_or(|f| f.query() != self.search.text)
    }

    fn clear_search(&mut self) {
        self.search.clear();
        self.refilter();
    }

    fn on_action(&mut self, action: Action) {
        if let Some(help) = &mut self.help {
            match help.on_action(action) {
                HelpOutcome::Stay => return,
                HelpOutcome::Close => {
                    self.help = None;
                    return;
                }
                HelpOutcome::Pass => {}
            }
        }
        if self.compose_action(action) {
            return;
        }
        if self.composer.is_open()
            && !matches!(action, Action::Quit | Action::ForceQuit | Action::Help)
        {
            // The form and the outbox are modal: the tree waits behind them.
            return;
        }
        match action {
            Action::ForceQuit | Action::Quit => self.effects.push(Effect::Quit),
            Action::Help => self.help = Some(HelpState::default()),
            Action::Back => self.back(),
            Action::Refresh => {
                if !matches!(self.load, LoadState::NoInput(_)) {
                    self.load = LoadState::Loading(None);
                    self.effects.push(Effect::Reload);
                }
            }
            Action::NextPane | Action::PrevPane => {
                if self.search.editing {
                    self.search.finish();
                }
                self.focus = match self.focus {
                    Focus::Tree => Focus::Detail,
                    Focus::Detail => Focus::Tree,
                };
            }
            Action::ShrinkPane | Action::GrowPane => {
                // `[`/`]` make the focused pane narrower/wider.
                let grow_tree = (action == Action::GrowPane) == (self.focus == Focus::Tree);
                self.split = if grow_tree {
                    (self.split + 5).min(SPLIT_MAX)
                } else {
                    self.split.saturating_sub(5).max(SPLIT_MIN)
                };
            }
            Action::Search => {
                if self.model.is_some() {
                    self.search.start();
                    self.focus = Focus::Tree;
                }
            }
            Action::Toggle if self.search.editing => {
                self.search.finish();
                if let Some(f) = &self.filter {
                    self.status.set(
                        format!(
                            "filter {:?}: n/N next/previous match, Esc clears",
                            f.query()
                        ),
                        Level::Info,
                    );
                }
            }
            Action::Copy => self.copy(),
            _ => match self.focus {
                Focus::Tree => self.tree_action(action),
                Focus::Detail => self.detail_action(action),
            },
        }
    }

    fn back(&mut self) {
        if self.search.editing || self.filter.is_some() {
            self.clear_search();
            self.status.clear();
        } else if self.focus == Focus::Detail {
            self.focus = Focus::Tree;
        } else if let Some(tree) = &mut self.tree {
            tree.tree_mut().select_parent();
        }
    }

    fn copy(&mut self) {
        let text = match self.focus {
            Focus::Detail => self.detail.content().copy.clone(),
            Focus::Tree => self.detail.content().copy.clone(),
        };
        match text {
            Some(text) => {
                self.status.set(
                    format!("sent {} characters to the clipboard", text.chars().count()),
                    Level::Info,
                );
                self.effects.push(Effect::Copy(text));
            }
            None => self.status.set("nothing to copy here", Level::Info),
        }
    }

    fn tree_action(&mut self, action: Action) {
        let (Some(model), Some(pane)) = (&self.model, &mut self.tree) else {
            return;
        };
        let ctx = Ctx {
            model,
            filter: self.filter.as_ref(),
        };
        match action {
            Action::ViewUsers => pane.set_view(View::Users),
            Action::ViewGroups => pane.set_view(View::Groups),
            Action::Sort => {
                let sort = pane.cycle_sort();
                pane.set_view(View::Groups);
                self.status
                    .set(format!("groups sorted by {}", sort.label()), Level::Info);
            }
            Action::NextMatch | Action::PrevMatch => {
                let found = pane.tree_mut().seek_match(ctx, action == Action::NextMatch);
                if self.filter.is_none() {
                    self.status.set("no search: press / to search", Level::Info);
                } else if !found {
                    self.status.set("no matches", Level::Info);
                }
            }
            _ => {
                let tree = pane.tree_mut();
                match action {
                    Action::Up => tree.move_by(-1),
                    Action::Down => tree.move_by(1),
                    Action::PageUp => tree.page_up(),
                    Action::PageDown => tree.page_down(),
                    Action::Top => tree.select(0),
                    Action::Bottom => tree.select(usize::MAX),
                    Action::Left => {
                        let _ = tree.collapse() || tree.select_parent();
                    }
                    Action::Right => {
                        let opened = tree.expand(ctx);
                        if !opened && tree.selected_row().is_some_and(|r| r.expanded) {
                            tree.move_by(1);
                        }
                    }
                    Action::Toggle => {
                        let changed = tree.collapse() || tree.expand(ctx);
                        if !changed {
                            // A leaf: its detail is where to go next (a raw call to read).
                            self.focus = Focus::Detail;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn detail_action(&mut self, action: Action) {
        let d = &mut self.detail;
        match action {
            Action::Up => d.scroll_by(-1),
            Action::Down => d.scroll_by(1),
            Action::PageUp => d.page(false),
            Action::PageDown => d.page(true),
            Action::Top => d.jump(false),
            Action::Bottom => d.jump(true),
            Action::Left => self.focus = Focus::Tree,
            Action::ViewUsers | Action::ViewGroups | Action::Sort => {
                self.focus = Focus::Tree;
                self.tree_action(action);
            }
            Action::NextMatch | Action::PrevMatch => self.tree_action(action),
            _ => {}
        }
    }

    fn on_mouse(&mut self, mouse: MouseEvent) {
        if self.composer.is_open() {
            // The tree behind the form stays as it is.
            return;
        }
        let at = Position::new(mouse.column, mouse.row);
        let (tree_area, detail_area) = self.areas;
        let in_tree = tree_area.contains(at);
        let in_detail = detail_area.contains(at);
        match mouse.kind {
            MouseEventKind::Down(MouseButton::Left) if in_tree => {
                self.focus = Focus::Tree;
                if let Some(pane) = &mut self.tree {
                    // Rows start inside the border.
                    let y = mouse.row.saturating_sub(tree_area.y + 1) as usize;
                    if mouse.row > tree_area.y {
                        pane.tree_mut().select_in_window(y);
                    }
                }
            }
            MouseEventKind::Down(MouseButton::Left) if in_detail => self.focus = Focus::Detail,
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let delta = if mouse.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                if in_tree {
                    if let Some(pane) = &mut self.tree {
                        pane.tree_mut().scroll_by(delta);
                    }
                } else if in_detail {
                    self.detail.scroll_by(delta);
                }
            }
            _ => {}
        }
    }
}
