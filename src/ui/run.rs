//! The event loop. Keys, mouse, resizes, load progress, raw calls and ticks all arrive on one
//! channel; the loop applies every queued message, then draws once (at most every
//! [`FRAME`]), so a held key or a burst of progress never queues a redraw per event.
//!
//! Work that can take time runs on threads that post messages back: the load, reading raw calls
//! and compiling search queries (one worker each, latest request wins, so scrolling fast through
//! calls reads only the last, and typing fast compiles only the last query), and composing's
//! jobs ([`super::jobs`]: saving drafts, sending, the outbox).

use std::cell::Cell;
use std::io;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::model::{Model, ModelBuilder, Origin};
use crate::send::RetryPolicy;
use crate::source::{self, LoadOptions, LoadProgress};

use super::app::{App, Arrival, Effect, Message};
use super::clipboard::{Clipboard, Osc52Clipboard};
use super::compose::ComposeSetup;
use super::jobs::{ComposeJobs, Post, SharedTransport, load_with_composed};
use super::keymap::Keymap;
use super::search::Compiler;
use super::status::{Level, LoadState};
use super::terminal::{self, TerminalGuard, TerminalOptions};
use super::theme::Theme;

/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(16);
/// How often the loading indicator moves.
const TICK: Duration = Duration::from_millis(120);
/// How often load progress is posted.
const PROGRESS_EVERY: Duration = Duration::from_millis(50);
/// Most messages applied before a frame is considered (so a flood cannot starve drawing).
const BATCH: usize = 512;

/// What the explorer opens with.
#[derive(Debug, Clone)]
pub enum Start {
    /// Load these inputs in the background.
    Load(Vec<PathBuf>),
    /// Nothing to load: show this text (how to open something).
    NoInput(String),
}

/// Everything the event loop needs.
#[derive(Clone)]
pub struct RunOptions {
    /// What to open.
    pub start: Start,
    /// Capture the mouse.
    pub mouse: bool,
    /// Styles.
    pub theme: Theme,
    /// Keys.
    pub keymap: Keymap,
    /// Config warnings to show at start.
    pub warnings: Vec<String>,
    /// Parser threads (`None`: one per core).
    pub threads: Option<usize>,
    /// Where drafts live and where calls go.
    pub compose: ComposeSetup,
    /// How to send, when a data plane is configured.
    pub transport: Option<SharedTransport>,
    /// How often to try a send before it waits in the outbox.
    pub policy: RetryPolicy,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("start", &self.start)
            .field("mouse", &self.mouse)
            .field("threads", &self.threads)
            .field("compose", &self.compose)
            .field("transport", &self.transport.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

/// Runs the explorer until the user quits. The terminal is restored on every exit path.
/// Meant to be the process's last act: on quit the model is left to the exit, not freed.
pub fn run(options: RunOptions) -> io::Result<()> {
    let mut guard = TerminalGuard::enter(TerminalOptions {
        mouse: options.mouse,
    })?;
    let (tx, rx) = mpsc::channel::<Message>();
    spawn_input(tx.clone());
    let (state, mut paths) = match &options.start {
        Start::Load(paths) => (LoadState::Loading(None), paths.clone()),
        Start::NoInput(text) => (LoadState::NoInput(text.clone()), Vec::new()),
    };
    let mut app = App::new(state, options.keymap, options.theme, &options.warnings);
    app.set_compose(options.compose.clone());
    let store = options.compose.store.clone();
    let mut loader = (!paths.is_empty()).then(|| {
        Loader::spawn(
            &paths,
            composed(&paths, store.as_ref()),
            options.threads,
            app.wants_partials(),
            tx.clone(),
        )
    });
    let post_tx = tx.clone();
    let post: Post = Arc::new(move |message| {
        // The loop has ended when this fails; nothing is left to tell.
        let _ = post_tx.send(message);
    });
    let mut jobs = ComposeJobs::new(
        store.clone(),
        options.transport.clone(),
        options.policy.clone(),
        post,
        false,
    );
    let raw = Latest::spawn(tx.clone(), |(model, origin): (Arc<Model>, Origin)| {
        let result = source::read_raw(model.sources(), origin).map_err(|e| e.to_string());
        Message::Raw(origin, result)
    });
    // Typing narrows: each query is compiled knowing the last one.
    let mut compiler = Compiler::default();
    let search = Latest::spawn(tx.clone(), move |(model, query): (Arc<Model>, String)| {
        Message::Filtered(Box::new(compiler.compile(&model, &query)))
    });
    let mut clipboard = Osc52Clipboard::stdout();

    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    loop {
        if terminal::panicked() {
            // A worker thread panicked: the hook has restored the terminal and said why.
            // Drawing now would paint over that message on the normal screen.
            jobs.finish();
            return Err(io::Error::other(
                "stopped after a background thread panicked (see the message above)",
            ));
        }
        if dirty && last_draw.elapsed() >= FRAME {
            if !guard.draw(|frame| app.draw(frame))? {
                // A panic gave the terminal back; the check above ends the loop.
                continue;
            }
            last_draw = Instant::now();
            dirty = false;
        }
        let wait = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            TICK
        };
        match rx.recv_timeout(wait) {
            Ok(message) => {
                apply(&mut app, message);
                for message in rx.try_iter().take(BATCH) {
                    apply(&mut app, message);
                }
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {
                if !dirty && loader.as_ref().is_some_and(|l| !l.finished()) {
                    app.update(Message::Tick);
                    dirty = true;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        for effect in app.settle() {
            match effect {
                Effect::Quit => {
                    // The last keystrokes of a draft reach the store before we go.
                    jobs.finish();
                    // The terminal comes back at once and the model is left to the process's
                    // exit: freeing a model of 120k groups and 620k users piece by piece held
                    // the quit up for 165 ms.
                    drop(guard);
                    std::mem::forget(app);
                    return Ok(());
                }
                Effect::Job(job) => jobs.perform(job),
                Effect::FetchRaw(origin) => {
                    if let Some(model) = app.shared_model() {
                        raw.request((model, origin));
                    }
                }
                Effect::Filter(query) => {
                    if let Some(model) = app.filter_model() {
                        search.request((model, query));
                    }
                }
                Effect::Copy(text) => {
                    if let Err(e) = clipboard.copy(&text) {
                        app.report(e.to_string(), Level::Error);
                    }
                }
                Effect::Reload => {
                    if let Some(old) = loader.take() {
                        old.cancel();
                    }
                    if paths.is_empty()
                        && let Some(s) = store.as_ref().filter(|s| s.exists())
                    {
                        // Started with nothing to open; the first kept call made the store.
                        paths = vec![s.clone()];
                    }
                    let composed = composed(&paths, store.as_ref());
                    let partials = app.wants_partials();
                    loader = Some(Loader::spawn(
                        &paths,
                        composed,
                        options.threads,
                        partials,
                        tx.clone(),
                    ));
                }
            }
            dirty = true;
        }
    }
    jobs.finish();
    Ok(())
}

/// Hands one message to the app.
fn apply(app: &mut App, message: Message) {
    #[cfg(debug_assertions)]
    fault::inject(&message);
    app.update(message);
}

/// Fault injection for the crash tests, compiled into debug builds only (a release build has no
/// such code and never reads the variable): with `GROUPSCOPE_FAULT=panic-on-key` the event loop
/// panics on the first key it handles (the first frame is drawn before any key is read);
/// with `panic-in-worker` a new thread panics instead, as a failing background job would.
#[cfg(debug_assertions)]
mod fault {
    use std::sync::OnceLock;

    use super::Message;

    pub(super) fn inject(message: &Message) {
        static FAULT: OnceLock<Option<String>> = OnceLock::new();
        if !matches!(message, Message::Key(_)) {
            return;
        }
        match FAULT
            .get_or_init(|| std::env::var("GROUPSCOPE_FAULT").ok())
            .as_deref()
        {
            Some("panic-on-key") => panic!("fault injected by GROUPSCOPE_FAULT=panic-on-key"),
            Some("panic-in-worker") => {
                // Joined by nobody: the loop notices the panic through the terminal's hook.
                let _ = std::thread::Builder::new()
                    .name("fault".into())
                    .spawn(|| panic!("fault injected by GROUPSCOPE_FAULT=panic-in-worker"));
            }
            _ => {}
        }
    }
}

/// The store whose composed calls join the inputs: none when the store is one of the inputs
/// (all of it is loaded then).
fn composed(paths: &[PathBuf], store: Option<&PathBuf>) -> Option<PathBuf> {
    let store = store?;
    let same = |p: &PathBuf| {
        p == store
            || matches!(
                (p.canonicalize(), store.canonicalize()),
                (Ok(a), Ok(b)) if a == b
            )
    };
    (!paths.iter().any(same)).then(|| store.clone())
}

/// Reads terminal events on a thread of its own and posts them.
fn spawn_input(tx: Sender<Message>) {
    thread::spawn(move || {
        loop {
            let message = match event::read() {
                Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => Message::Key(key),
                Ok(Event::Mouse(mouse)) => Message::Mouse(mouse),
                Ok(Event::Resize(..)) => Message::Resize,
                Ok(Event::Paste(text)) => Message::Paste(text),
                Ok(_) => continue,
                // The terminal is gone: nothing more will come.
                Err(_) => return,
            };
            if tx.send(message).is_err() {
                return;
            }
        }
    });
}

/// A background load. While no complete model is shown it also posts partial models (offered
/// on [`source::load_progressive`]'s schedule, built on the loader's thread while the
/// [`PartialPlan`] finds them worth it), so the tree fills as data arrives.
struct Loader {
    cancel: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

impl Loader {
    fn spawn(
        paths: &[PathBuf],
        composed: Option<PathBuf>,
        threads: Option<usize>,
        partials: bool,
        tx: Sender<Message>,
    ) -> Loader {
        let mut options = LoadOptions::default();
        if let Some(t) = threads {
            options.threads = t.max(1);
        }
        let cancel = options.cancel.clone();
        let done = Arc::new(AtomicBool::new(false));
        let paths = paths.to_vec();
        let finished = done.clone();
        thread::spawn(move || {
            let mut last = Instant::now() - PROGRESS_EVERY;
            let progress_tx = tx.clone();
            let read = Cell::new(None);
            let mut progress = |p: &LoadProgress| {
                read.set(fraction_read(p));
                if last.elapsed() >= PROGRESS_EVERY {
                    last = Instant::now();
                    let _ = progress_tx.send(Message::Progress(p.clone()));
                }
            };
            let cancel = options.cancel.clone();
            let mut plan = PartialPlan::new(Instant::now());
            let mut partial = |builder: &ModelBuilder| {
                if !partials || cancel.load(Ordering::Relaxed) {
                    return ControlFlow::Break(());
                }
                let events = builder.counts().events;
                let started = Instant::now();
                if !plan.worth(events, read.get(), started) {
                    return ControlFlow::Continue(());
                }
                let arrival = Arrival::new(Arc::new(builder.partial()));
                plan.built(events, started.elapsed());
                // The loop has ended when this fails: no more partial models.
                match tx.send(Message::Partial(Box::new(arrival))) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            };
            let result = load_with_composed(
                &paths,
                composed.as_deref(),
                &options,
                &mut progress,
                &mut partial,
            );
            finished.store(true, Ordering::Relaxed);
            // A cancelled load was replaced; its result is not wanted.
            if !options.cancel.load(Ordering::Relaxed) {
                let _ = tx.send(Message::Loaded(Box::new(result.map(Arrival::from))));
            }
        });
        Loader { cancel, done }
    }

    fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    fn finished(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }
}

/// How far through its inputs a load is (0 to 1), when the sizes are known.
fn fraction_read(p: &LoadProgress) -> Option<f64> {
    let total = p.bytes_total.filter(|&t| t > 0)?;
    let within = p.bytes_done.min(total) as f64 / total as f64;
    Some((p.source as f64 + within) / p.sources.max(1) as f64)
}

/// Whether a partial model is worth building. Building one costs about as long as finishing
/// that many events and holds the load up meanwhile, so near the end of the input the full
/// model is shown sooner without it: one is built only while the reading left is expected to
/// take at least twice as long as building it (judged from the last one built).
struct PartialPlan {
    started: Instant,
    /// Time spent building partial models.
    spent: Duration,
    /// Events in the last one built and what it cost.
    last: Option<(u64, Duration)>,
}

impl PartialPlan {
    fn new(started: Instant) -> PartialPlan {
        PartialPlan {
            started,
            spent: Duration::ZERO,
            last: None,
        }
    }

    /// Whether to build a partial model of `events` events at `now`, `read` (0 to 1, when
    /// known) of the way through the input.
    fn worth(&self, events: u64, read: Option<f64>, now: Instant) -> bool {
        let (Some((last_events, last_cost)), Some(read)) = (self.last, read) else {
            return true;
        };
        if read <= 0.0 || read >= 1.0 {
            return read <= 0.0;
        }
        let reading = now
            .saturating_duration_since(self.started)
            .saturating_sub(self.spent);
        let left = reading.as_secs_f64() * (1.0 - read) / read;
        let cost = last_cost.as_secs_f64() * events as f64 / last_events.max(1) as f64;
        left >= 2.0 * cost
    }

    fn built(&mut self, events: u64, cost: Duration) {
        self.spent += cost;
        self.last = Some((events, cost));
    }
}

/// A job slot with one worker thread: a new request replaces one that has not started, so
/// only the latest of a burst (scrolling through calls, typing a query) is worked on.
struct Latest<J> {
    slot: Arc<(Mutex<Option<J>>, Condvar)>,
}

impl<J: Send + 'static> Latest<J> {
    fn spawn(
        tx: Sender<Message>,
        mut work: impl FnMut(J) -> Message + Send + 'static,
    ) -> Latest<J> {
        let slot: Arc<(Mutex<Option<J>>, Condvar)> = Arc::new((Mutex::new(None), Condvar::new()));
        let worker = slot.clone();
        thread::spawn(move || {
            loop {
                let job = {
                    let (lock, ready) = &*worker;
                    let Ok(mut pending) = lock.lock() else {
                        return;
                    };
                    loop {
                        if let Some(job) = pending.take() {
                            break job;
                        }
                        pending = match ready.wait(pending) {
                            Ok(p) => p,
                            Err(_) => return,
                        };
                    }
                };
                if tx.send(work(job)).is_err() {
                    return;
                }
            }
        });
        Latest { slot }
    }

    fn request(&self, job: J) {
        let (lock, ready) = &*self.slot;
        if let Ok(mut pending) = lock.lock() {
            *pending = Some(job);
            ready.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_models_stop_when_the_full_one_is_near() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut plan = PartialPlan::new(t0);
        // The first one is always built (nothing to judge by).
        assert!(plan.worth(50_000, Some(0.05), at(350)));
        plan.built(50_000, Duration::from_millis(180));
        // A fifth read in 1.5 s (of which 0.18 s building): about 5.3 s of reading left,
        // against about 0.7 s to build one four times the size.
        assert!(plan.worth(200_000, Some(0.2), at(1_500)));
        plan.built(200_000, Duration::from_millis(430));
        // Four fifths read in 6.5 s: about 1.5 s left, against about 1.7 s to build: skipped.
        assert!(!plan.worth(800_000, Some(0.8), at(6_500)));
        // Sizes unknown (stdin): always.
        assert!(plan.worth(800_000, None, at(6_500)));
        let p = LoadProgress {
            source: 1,
            sources: 2,
            bytes_done: 50,
            bytes_total: Some(100),
            ..LoadProgress::default()
        };
        assert_eq!(fraction_read(&p), Some(0.75));
        assert_eq!(
            fraction_read(&LoadProgress {
                bytes_total: None,
                ..p
            }),
            None
        );
    }
}
