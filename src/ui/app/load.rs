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

/// A model and the tree pane of it ([`TreePane::new`]), both made where the model was made: off
/// the UI thread in the explorer, since the pane's group orders take a while with 100,000
/// groups.
#[derive(Debug)]
pub struct Arrival {
    model: Arc<Model>,
    pane: TreePane,
}

impl Arrival {
    /// `model` with its tree pane.
    pub fn new(model: Arc<Model>) -> Arrival {
        let pane = TreePane::new(&model);
        Arrival { model, pane }
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }
}

impl From<Model> for Arrival {
    fn from(model: Model) -> Arrival {
        Arrival::new(Arc::new(model))
    }
}

/// A model waiting for the search to be compiled for it.
pub(super) struct Incoming {
    arrival: Arrival,
    /// Whether it is the load's final model.
    last: bool,
}

/// Frees a replaced model on a thread of its own: a big model is millions of small allocations
/// (tens of milliseconds to free), which the UI thread does not wait for.
fn retire<T: Send + 'static>(old: T) {
    // When no thread can be made, the closure (and `old`) is dropped here instead.
    let _ = std::thread::Builder::new()
        .name("retire".into())
        .spawn(move || drop(old));
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
            Some(incoming) => Some(incoming.arrival.model.clone()),
            None => self.model.clone(),
        }
    }

    pub(super) fn on_partial(&mut self, arrival: Arrival) {
        if matches!(self.load, LoadState::Loading(_)) && self.wants_partials() {
            self.receive(arrival, false);
        }
    }

    pub(super) fn on_loaded(&mut self, result: Result<Arrival, LoadError>) {
        match result {
            Ok(arrival) => {
                let model = arrival.model();
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
                self.receive(arrival, true);
            }
            Err(e) => {
                if self.partial {
                    // Half a load is not shown as if it were the input.
                    retire((self.model.take(), self.incoming.take()));
                    self.tree = None;
                    self.filter = None;
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
    fn receive(&mut self, arrival: Arrival, last: bool) {
        if self.search.text.is_empty() || self.model.is_none() {
            self.install(arrival, None, last);
        } else {
            let replaced = self.incoming.replace(Incoming { arrival, last });
            retire(replaced);
            self.effects.push(Effect::Filter(self.search.text.clone()));
        }
    }

    /// A compiled query: narrows the tree, or brings in the model it was compiled for.
    pub(super) fn on_filtered(&mut self, filter: Filter) {
        // Only the answer to the query as it stands now is wanted.
        if self.search.text != filter.query() {
            return;
        }
        if let Some(incoming) = self.incoming.take_if(|i| filter.fits(&i.arrival.model)) {
            self.install(incoming.arrival, Some(filter), incoming.last);
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
            self.install(incoming.arrival, None, incoming.last);
        }
    }

    /// Shows `model` (narrowed by `filter`, compiled for it) in place of the model shown.
    fn install(&mut self, arrival: Arrival, filter: Option<Filter>, last: bool) {
        let Arrival { model, pane: fresh } = arrival;
        let pane = match (&self.model, &self.tree) {
            (Some(old), Some(pane)) => {
                let detail = self
                    .detail
                    .node()
                    .and_then(|n| Key::of(old, n))
                    .and_then(|k| k.find(&model));
                self.detail.remap(&model, detail);
                pane.carried(old, fresh, &model, filter.as_ref())
            }
            _ => {
                self.detail.clear();
                let mut pane = fresh;
                if let Some(f) = &filter {
                    pane.apply_filter(&model, Some(f));
                }
                pane
            }
        };
        let old = (self.model.replace(model), self.tree.replace(pane));
        if old.0.is_some() {
            retire(old);
        }
        self.filter = filter;
        self.partial = !last;
        if last {
            self.load = LoadState::Loaded;
            if let Some(group) = self.reveal.take() {
                self.reveal_group(&group);
            }
        }
    }
}
