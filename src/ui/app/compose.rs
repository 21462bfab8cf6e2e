//! The explorer's side of composing: handing keys, paste and job replies to the
//! [`Composer`](crate::ui::compose::Composer), and loading the model again (then showing the
//! group) when a call was sent or kept locally.

use ratatui::crossterm::event::KeyEvent;

use super::{App, Effect};
use crate::model::CallMark;
use crate::ui::action::Action;
use crate::ui::compose::{Clock, ComposeSetup, Composer, Out};
use crate::ui::jobs::{Job, JobReply};
use crate::ui::status::{Level, LoadState};
use crate::ui::tree::label::trait_order;
use crate::ui::tree::{Ctx, Node, View};

impl App {
    /// Sets where drafts live and where calls are sent, and reads the store's drafts and outbox
    /// (in the background).
    pub fn set_compose(&mut self, setup: ComposeSetup) {
        if setup.store.is_some() {
            self.effects.push(Effect::Job(Job::ListStore));
        }
        if let Some(url) = setup.data_plane.as_deref().filter(|_| setup.insecure) {
            self.status.set(
                format!(
                    "warning: {url} is plain http to another host; the write key and the calls travel unencrypted"
                ),
                Level::Warning,
            );
        }
        self.composer.set_setup(setup);
    }

    /// Replaces the clock the form's preview and the outbox's ages use (tests).
    pub fn set_clock(&mut self, clock: Clock) {
        self.composer.set_clock(clock);
    }

    /// The composer: the form, the outbox view and the drafts.
    pub fn composer(&self) -> &Composer {
        &self.composer
    }

    /// Gives an action to the composer; `true` when it took it.
    pub(super) fn compose_action(&mut self, action: Action) -> bool {
        let node = self.tree.as_ref().and_then(|t| t.tree().selected_node());
        let mut out = Out {
            effects: &mut self.effects,
            status: &mut self.status,
            reload: false,
            reveal: None,
        };
        let taken = self
            .composer
            .on_action(action, self.model.as_deref(), node, &mut out);
        let (reload, reveal) = (out.reload, out.reveal);
        self.after_compose(reload, reveal);
        taken
    }

    /// A key the keymap left to the form.
    pub(super) fn compose_key(&mut self, key: &KeyEvent) {
        let mut out = Out {
            effects: &mut self.effects,
            status: &mut self.status,
            reload: false,
            reveal: None,
        };
        self.composer.on_key(key, &mut out);
    }

    /// Pasted text: into the form's field, or the search query being typed.
    pub(super) fn on_paste(&mut self, text: &str) {
        if self.composer.is_open() {
            let mut out = Out {
                effects: &mut self.effects,
                status: &mut self.status,
                reload: false,
                reveal: None,
            };
            self.composer.on_paste(text, &mut out);
        } else if self.search.editing {
            for c in text.chars().filter(|c| !c.is_control()) {
                self.search.push(c);
            }
            self.refilter();
        }
    }

    /// A compose job's answer.
    pub(super) fn on_job(&mut self, reply: JobReply) {
        let mut out = Out {
            effects: &mut self.effects,
            status: &mut self.status,
            reload: false,
            reveal: None,
        };
        self.composer.on_reply(reply, &mut out);
        let (reload, reveal) = (out.reload, out.reveal);
        self.after_compose(reload, reveal);
    }

    /// Loads the model again when calls were added to the store, remembering what to show.
    fn after_compose(&mut self, reload: bool, reveal: Option<String>) {
        if !reload {
            return;
        }
        if reveal.is_some() {
            self.reveal = reveal;
        }
        self.quiet_reload = true;
        self.load = LoadState::Loading(None);
        self.effects.push(Effect::Reload);
    }

    /// Shows `group_id` in the groups view and, when its newest composed call changed traits,
    /// opens its traits at the first one it changed, so its history (with the new call) is in
    /// the detail pane.
    pub(super) fn reveal_group(&mut self, group_id: &str) {
        let (Some(model), Some(pane)) = (&self.model, &mut self.tree) else {
            return;
        };
        let Some(g) = model.find_group(group_id) else {
            return;
        };
        pane.set_view(View::Groups);
        self.focus = super::Focus::Tree;
        let ctx = Ctx {
            model,
            filter: None,
        };
        let tree = pane.tree_mut();
        if !tree.select_node(Node::Group(g)) {
            return;
        }
        tree.expand(ctx);
        let newest = model
            .group_calls(g)
            .rev()
            .find(|(_, call)| call.mark != CallMark::Loaded);
        let Some((call, _)) = newest else {
            return;
        };
        let traits = &model.group(g).traits;
        let changed = trait_order(model, g).into_iter().find(|&e| {
            model
                .entry_changes(&traits[e as usize])
                .iter()
                .any(|c| c.call == call.0)
        });
        if let Some(e) = changed
            && tree.select_node(Node::Traits(g))
        {
            tree.expand(ctx);
            tree.select_node(Node::Trait(g, e));
        }
    }
}
