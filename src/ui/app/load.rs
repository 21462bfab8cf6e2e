//! Models arriving: partial models while a load runs (the tree fills as data arrives), the
//! final one, and reloads. Each new model takes the place of the one shown with the tree's open
//! rows, selection and scroll carried over (see [`TreePane::carried`]); with a search active,
//! the model shown stays until the query is compiled for the new one, so the tree never shows
//! unfiltered in between.

use std::sync::Arc;

use super::{App, Effect};
use crate::model::Model;
use crate::source::LoadError;
use crate::ui::search::Filter;
use crate::ui::status::{Level, LoadState};
use crate::ui::tree::{Key, TreePane};

/// A model waiting for the search to be compiled for it.
pub(super) struct Incoming {
    model: Arc<Model>,
    /// Whether it is the load's final model.
    last: bool,
}

impl App {
    /// Whether the model shown is a partial one of a load still running.
    pub fn showing_partial(&self) -> bool {
        self.partial
    }

    /// Whether partial models are worth making for the next load: yes until a complete model is
    /// shown (a reload keeps the full tree it has until the new one is ready).
    pub fn wants_partials(&self) -> bool {
        self.model.is_none() || self.partial
    }

    /// The model a search query should be compiled for: the newest one, also when it waits
    /// for that query to be shown.
    pub fn filter_model(&self) -> Option<Arc<Model>> {
        match &self.incoming {
            Some(incoming) => Some(incoming.model.clone()),
            None => self.model.clone(),
        }
    }

    pub(super) fn on_partial(&mut self, model: Arc<Model>) {
        if matches!(self.load, LoadState::Loading(_)) && self.wants_partials() {
            self.receive(model, false);
        }
    }

    pub(super) fn on_loaded(&mut self, result: Result<Model, LoadError>) {
        match result {
            Ok(model) => {
                let problems = model.problems();
                // A message already shown (a config warning, drafts to reopen, the outcome
                // of a send) matters more; the summary counts the problems anyway.
                let quiet =
                    std::mem::take(&mut self.quiet_reload) || self.status.message().is_some();
                if let Some(first) = problems.first().filter(|_| !quiet) {
                    let at = crate::model::problem_label(model.sources(), first);
                    self.status.set(
                        format!("first problem at {at}: {}", first.error),
                        Level::Warning,
                    );
                }
                if self.reveal.is_some() {
                    // A group to show after composing: its call is shown unfiltered.
                    self.search.clear();
                }
                self.receive(Arc::new(model), true);
            }
            Err(e) => {
                if self.partial {
                    // Half a load is not shown as if it were the input.
                    self.model = None;
                    self.tree = None;
                    self.filter = None;
                    self.incoming = None;
                    self.search.clear();
                    self.detail.clear();
                    self.partial = false;
                }
                // The status bar shows the failure from the load state; no second copy.
                self.load = LoadState::Failed(e.to_string());
            }
        }
    }

    /// Shows `model` now, or once the active query is compiled for it.
    fn receive(&mut self, model: Arc<Model>, last: bool) {
        if self.search.text.is_empty() || self.model.is_none() {
            self.install(model, None, last);
        } else {
            self.incoming = Some(Incoming { model, last });
            self.effects.push(Effect::Filter(self.search.text.clone()));
        }
    }

    /// A compiled query: narrows the tree, or brings in the model it was compiled for.
    pub(super) fn on_filtered(&mut self, filter: Filter) {
        // Only the answer to the query as it stands now is wanted.
        if self.search.text != filter.query() {
            return;
        }
        if let Some(incoming) = self.incoming.take_if(|i| filter.fits(&i.model)) {
            self.install(incoming.model, Some(filter), incoming.last);
        } else if let (Some(model), Some(tree)) = (&self.model, &mut self.tree)
            && filter.fits(model)
        {
            tree.apply_filter(model, Some(&filter));
            self.filter = Some(filter);
        }
    }

    /// The query was cleared: a model waiting for it is shown at once.
    pub(super) fn install_incoming(&mut self) {
        if let Some(incoming) = self.incoming.take() {
            self.install(incoming.model, None, incoming.last);
        }
    }

    /// Shows `model` (narrowed by `filter`, compiled for it) in place of the model shown.
    fn install(&mut self, model: Arc<Model>, filter: Option<Filter>, last: bool) {
        let pane = match (&self.model, &self.tree) {
            (Some(old), Some(pane)) => {
                let detail = self
                    .detail
                    .node()
                    .and_then(|n| Key::of(old, n))
                    .and_then(|k| k.find(&model));
                self.detail.remap(&model, detail);
                pane.carried(old, &model, filter.as_ref())
            }
            _ => {
                self.detail.clear();
                let mut pane = TreePane::new(&model);
                if let Some(f) = &filter {
                    pane.apply_filter(&model, Some(f));
                }
                pane
            }
        };
        self.tree = Some(pane);
        self.filter = filter;
        self.model = Some(model);
        self.partial = !last;
        if last {
            self.load = LoadState::Loaded;
            if let Some(group) = self.reveal.take() {
                self.reveal_group(&group);
            }
        }
    }
}
