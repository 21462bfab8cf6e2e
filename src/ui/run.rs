//! The event loop. Keys, mouse, resizes, load progress, raw calls and ticks all arrive on one
//! channel; the loop applies every queued message, then draws once (at most every
//! [`FRAME`]), so a held key or a burst of progress never queues a redraw per event.
//!
//! Work that can take time runs on threads that post messages back: the load, reading raw calls
//! and compiling search queries (one worker each, latest request wins, so scrolling fast through
//! calls reads only the last, and typing fast compiles only the last query), and composing's
//! jobs ([`super::jobs`]: saving drafts, sending, the outbox).

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
use super::terminal::{TerminalGuard, TerminalOptions};
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
        if dirty && last_draw.elapsed() >= FRAME {
            guard.terminal().draw(|frame| app.draw(frame))?;
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
                app.update(message);
                for message in rx.try_iter().take(BATCH) {
                    app.update(message);
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

/// A background load. While no complete model is shown it also posts partial models (on
/// [`source::load_progressive`]'s schedule, built on the loader's thread), so the tree fills as
/// data arrives.
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
            let mut progress = |p: &LoadProgress| {
                if last.elapsed() >= PROGRESS_EVERY {
                    last = Instant::now();
                    let _ = progress_tx.send(Message::Progress(p.clone()));
                }
            };
            let cancel = options.cancel.clone();
            let mut partial = |builder: &ModelBuilder| {
                if !partials || cancel.load(Ordering::Relaxed) {
                    return ControlFlow::Break(());
                }
                let arrival = Arrival::new(Arc::new(builder.partial()));
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
