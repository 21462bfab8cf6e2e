//! The event loop. Keys, mouse, resizes, load progress, raw calls and ticks all arrive on one
//! channel; the loop applies every queued message, then draws once (at most every
//! [`FRAME`]), so a held key or a burst of progress never queues a redraw per event.
//!
//! Work that can take time runs on threads that post messages back: the load, reading raw calls
//! and compiling search queries (one worker each, latest request wins, so scrolling fast through
//! calls reads only the last, and typing fast compiles only the last query).

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::model::{Model, Origin};
use crate::source::{self, LoadOptions};

use super::app::{App, Effect, Message};
use super::clipboard::{Clipboard, Osc52Clipboard};
use super::keymap::Keymap;
use super::search::Filter;
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
#[derive(Debug, Clone)]
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
}

/// Runs the explorer until the user quits. The terminal is restored on every exit path.
pub fn run(options: RunOptions) -> io::Result<()> {
    let mut guard = TerminalGuard::enter(TerminalOptions {
        mouse: options.mouse,
    })?;
    let (tx, rx) = mpsc::channel::<Message>();
    spawn_input(tx.clone());
    let (state, paths) = match &options.start {
        Start::Load(paths) => (LoadState::Loading(None), paths.clone()),
        Start::NoInput(text) => (LoadState::NoInput(text.clone()), Vec::new()),
    };
    let mut app = App::new(state, options.keymap, options.theme, &options.warnings);
    // Partial models fill the tree until the user first presses a key or clicks (a newer
    // model resets the tree, so it must not move under someone browsing it).
    let watch = Arc::new(Partials::default());
    let spawn = |tx: &Sender<Message>| Loader::spawn(&paths, options.threads, &watch, tx.clone());
    let mut loader = (!paths.is_empty()).then(|| spawn(&tx));
    let raw = Latest::spawn(tx.clone(), |(model, origin): (Arc<Model>, Origin)| {
        let result = source::read_raw(model.sources(), origin).map_err(|e| e.to_string());
        Message::Raw(origin, result)
    });
    let search = Latest::spawn(tx.clone(), |(model, query): (Arc<Model>, String)| {
        Message::Filtered(Box::new(Filter::new(&model, &query)))
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
                apply(&mut app, message, &watch);
                for message in rx.try_iter().take(BATCH) {
                    apply(&mut app, message, &watch);
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
                Effect::Quit => return Ok(()),
                Effect::FetchRaw(origin) => {
                    if let Some(model) = app.shared_model() {
                        raw.request((model, origin));
                    }
                }
                Effect::Filter(query) => {
                    if let Some(model) = app.shared_model() {
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
                    loader = Some(spawn(&tx));
                }
            }
            dirty = true;
        }
    }
    Ok(())
}

/// How the status bar says a partial model is shown while the rest loads.
const PARTIAL_NOTE: &str = "showing the events read so far;";

/// Partial models between the loader and the event loop.
#[derive(Debug, Default)]
struct Partials {
    /// Set at the first key or click: no more partial models after that.
    browsing: AtomicBool,
    /// Partial models posted and not yet applied (they come before the final one).
    in_flight: AtomicUsize,
}

/// Applies one message. While a partial model is shown, load progress goes to the status
/// message (the app counts the load as done once it has a model).
fn apply(app: &mut App, message: Message, partials: &Partials) {
    let noted = |app: &App| {
        app.status()
            .message()
            .is_some_and(|(text, _)| text.starts_with(PARTIAL_NOTE))
    };
    match message {
        Message::Key(_) | Message::Mouse(_) => partials.browsing.store(true, Ordering::Relaxed),
        Message::Progress(p) if matches!(app.load_state(), LoadState::Loaded) => {
            if noted(app) || app.status().message().is_none() {
                let text = super::status::progress_text(Some(&p));
                app.report(format!("{PARTIAL_NOTE} {text}"), Level::Info);
            }
            return;
        }
        Message::Loaded(_) => {
            let partial = partials
                .in_flight
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok();
            let was_noted = noted(app);
            app.update(message);
            if !partial && was_noted && app.status().message().is_none() {
                app.report("loaded: every event is in the tree now", Level::Info);
            }
            return;
        }
        _ => {}
    }
    app.update(message);
}

/// Reads terminal events on a thread of its own and posts them.
fn spawn_input(tx: Sender<Message>) {
    thread::spawn(move || {
        loop {
            let message = match event::read() {
                Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => Message::Key(key),
                Ok(Event::Mouse(mouse)) => Message::Mouse(mouse),
                Ok(Event::Resize(..)) => Message::Resize,
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

/// A background load.
struct Loader {
    cancel: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

impl Loader {
    fn spawn(
        paths: &[PathBuf],
        threads: Option<usize>,
        partials: &Arc<Partials>,
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
        let watch = partials.clone();
        thread::spawn(move || {
            let mut last = Instant::now() - PROGRESS_EVERY;
            let partials = tx.clone();
            let result = source::load_progressive(
                &paths,
                &options,
                &mut |p| {
                    if last.elapsed() >= PROGRESS_EVERY {
                        last = Instant::now();
                        let _ = tx.send(Message::Progress(p.clone()));
                    }
                },
                &mut |builder| {
                    if watch.browsing.load(Ordering::Relaxed) {
                        return std::ops::ControlFlow::Break(());
                    }
                    let partial = Box::new(Ok(builder.partial()));
                    watch.in_flight.fetch_add(1, Ordering::Relaxed);
                    if partials.send(Message::Loaded(partial)).is_err() {
                        watch.in_flight.fetch_sub(1, Ordering::Relaxed);
                    }
                    std::ops::ControlFlow::Continue(())
                },
            );
            finished.store(true, Ordering::Relaxed);
            // A cancelled load was replaced; its result is not wanted.
            if !options.cancel.load(Ordering::Relaxed) {
                let _ = tx.send(Message::Loaded(Box::new(result)));
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
    fn spawn(tx: Sender<Message>, work: impl Fn(J) -> Message + Send + 'static) -> Latest<J> {
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
