//! The terminal guard: raw mode, alternate screen, bracketed paste and (optionally) mouse capture
//! go on when a [`TerminalGuard`] is made and come off on every exit path — normal return, `?`,
//! drop during unwinding, and panics on any thread (through a chained panic hook that restores
//! first, then lets the previous hook print the message on the normal screen).
//!
//! After restoring, the hook prints one readable block ([`crash_note`]: what happened, where,
//! that drafts and unsent calls are in the store), then the usual details. Panic messages may
//! quote event data, so both are printed through [`display_safe`]; nothing else (no state dump,
//! so never a write key) is printed.
//!
//! A panic on a worker thread also leaves TUI mode (its message must be readable), so the event
//! loop checks [`panicked`] and exits rather than keep drawing on the normal screen. Frames are
//! written under a lock the hook takes too ([`TerminalGuard::draw`]), so a frame being written
//! while a worker panics cannot land on the normal screen over the message.
//!
//! `ratatui::init`/`restore` are not used: `init` installs a new panic hook on every call (so
//! suspending for `$EDITOR` and resuming would stack hooks), `restore` stops at the first failing
//! step, and neither knows about mouse capture or bracketed paste. We keep ratatui's
//! [`DefaultTerminal`] type so drawing code looks like any ratatui app.

use std::cell::Cell;
use std::io::{self, Write, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::queue;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::{DefaultTerminal, Frame, Terminal};

use super::sanitize::{display_safe, is_unsafe_char};

/// Set while the terminal is in TUI mode; whoever swaps it to false restores, exactly once.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();
/// Set by the panic hook: the first panic prints the readable block, later ones only details.
static PANICKED: AtomicBool = AtomicBool::new(false);
/// Held while a frame is written and while the panic hook restores, so no frame is written
/// after the terminal was given back.
static DRAWING: Mutex<()> = Mutex::new(());
/// How long the hook waits for a frame being written to finish (a stuck terminal must not
/// keep the message from being printed).
const DRAW_WAIT: Duration = Duration::from_secs(1);

thread_local! {
    /// Set on the thread writing a frame, so a panic inside drawing does not wait for itself.
    static IN_DRAW: Cell<bool> = const { Cell::new(false) };
}

/// Longest panic message the readable block quotes (the details below it have all of it).
const NOTE_MESSAGE_CHARS: usize = 300;

/// What to switch on besides raw mode, the alternate screen and bracketed paste.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminalOptions {
    /// Capture the mouse (scroll, click). Off lets the terminal's own text selection work.
    pub mouse: bool,
}

/// Owns the terminal while the TUI runs; dropping it restores everything.
pub struct TerminalGuard {
    terminal: DefaultTerminal,
    options: TerminalOptions,
}

impl std::fmt::Debug for TerminalGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalGuard")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TerminalGuard {
    /// Switches the terminal into TUI mode. Fails if a guard already exists or the terminal
    /// refuses; on failure whatever was switched on is switched off again.
    pub fn enter(options: TerminalOptions) -> io::Result<TerminalGuard> {
        install_panic_hook();
        if ACTIVE.swap(true, Ordering::SeqCst) {
            return Err(io::Error::other("the terminal is already in TUI mode"));
        }
        let terminal = setup(options).and_then(|()| Terminal::new(CrosstermBackend::new(stdout())));
        match terminal {
            Ok(terminal) => Ok(TerminalGuard { terminal, options }),
            Err(err) => {
                let _ = restore_terminal();
                Err(err)
            }
        }
    }

    /// The ratatui terminal to draw on.
    pub fn terminal(&mut self) -> &mut DefaultTerminal {
        &mut self.terminal
    }

    /// Draws one frame, unless a panic has given the terminal back: then nothing is written
    /// and `Ok(false)` says the explorer should stop.
    pub fn draw(&mut self, render: impl FnOnce(&mut Frame)) -> io::Result<bool> {
        let _drawing = DRAWING.lock().unwrap_or_else(PoisonError::into_inner);
        if panicked() {
            return Ok(false);
        }
        IN_DRAW.set(true);
        let result = self.terminal.draw(render).map(|_| true);
        IN_DRAW.set(false);
        result
    }

    /// The options the guard was made with.
    pub fn options(&self) -> TerminalOptions {
        self.options
    }

    /// Gives the terminal back temporarily (to run `$EDITOR`); call [`TerminalGuard::resume`]
    /// afterwards. Dropping a suspended guard is fine.
    pub fn suspend(&mut self) -> io::Result<()> {
        restore_terminal()
    }

    /// Takes the terminal again after [`TerminalGuard::suspend`] and forces a full redraw.
    pub fn resume(&mut self) -> io::Result<()> {
        if !ACTIVE.swap(true, Ordering::SeqCst)
            && let Err(err) = setup(self.options)
        {
            let _ = restore_terminal();
            return Err(err);
        }
        self.terminal.clear()
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        // If we are unwinding, the panic hook already restored and cleared ACTIVE, so this is a
        // no-op; otherwise this is the normal exit path.
        if let Err(err) = restore_terminal() {
            eprintln!("groupscope: could not restore the terminal: {err}");
        }
    }
}

fn setup(options: TerminalOptions) -> io::Result<()> {
    enable_raw_mode()?;
    let mut out = stdout();
    write_enter_sequence(&mut out, options)?;
    out.flush()
}

/// Leaves TUI mode if it is on: every step is attempted even if an earlier one fails, and the
/// first error is returned. Safe to call any number of times, from any thread.
pub fn restore_terminal() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        // Never in TUI mode (e.g. the headless CLI): printing escape codes would corrupt output.
        return Ok(());
    }
    // Raw mode first: it has the most side effects (no echo, no line editing) if left on.
    let raw = disable_raw_mode();
    let mut out = stdout();
    let seq = write_leave_sequence(&mut out).and_then(|()| out.flush());
    raw.and(seq)
}

/// Queues the escape sequences that enter TUI mode (raw mode is a termios call, not a sequence).
pub fn write_enter_sequence(out: &mut impl Write, options: TerminalOptions) -> io::Result<()> {
    queue!(out, EnterAlternateScreen, EnableBracketedPaste)?;
    if options.mouse {
        queue!(out, EnableMouseCapture)?;
    }
    Ok(())
}

/// Queues the escape sequences that undo [`write_enter_sequence`]. Mouse capture is always
/// disabled: it costs nothing if it was off, and a panic hook cannot know for sure.
pub fn write_leave_sequence(out: &mut impl Write) -> io::Result<()> {
    queue!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        Show
    )
}

/// Whether any thread has panicked since the hook was installed: the explorer must stop
/// drawing (the terminal is already restored) and exit.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// The readable block printed after a panic: what happened and where, that nothing kept is
/// lost, and what to do. `message` must already be safe to print.
pub fn crash_note(message: &str, location: Option<&str>) -> String {
    let mut quoted: String = message.chars().take(NOTE_MESSAGE_CHARS).collect();
    if quoted.len() < message.len() {
        quoted.push('…');
    }
    let at = location.map(|l| format!(" (at {l})")).unwrap_or_default();
    format!(
        "\ngroupscope hit a bug and stopped: {quoted}{at}.\n\
         Your drafts and unsent calls are kept in the store (a draft may lack its last second \
         of typing).\n\
         Please report this with the details below.\n"
    )
}

/// Waits (briefly) for a frame being written on another thread to finish, and keeps others
/// from starting.
fn wait_for_frame() -> Option<MutexGuard<'static, ()>> {
    let deadline = Instant::now() + DRAW_WAIT;
    loop {
        match DRAWING.try_lock() {
            Ok(guard) => return Some(guard),
            Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(TryLockError::WouldBlock) => return None,
        }
    }
}

/// The panic's message as given, when it is text.
fn payload_text<'a>(info: &'a std::panic::PanicHookInfo<'_>) -> Option<&'a str> {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// The panic's message, made safe to print (it may quote event data): line breaks are kept,
/// everything else a terminal could act on is escaped.
fn panic_message(text: &str) -> String {
    text.split('\n')
        .map(|line| display_safe(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Chains a hook that restores the terminal, prints [`crash_note`], then lets the previous hook
/// print the details, so all of it lands on the normal screen in cooked mode. Installed once
/// per process.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Held to the end: no frame is written over what is printed here.
            let _drawing = (!IN_DRAW.get()).then(wait_for_frame).flatten();
            let _ = restore_terminal();
            let raw = payload_text(info);
            let message = panic_message(raw.unwrap_or("(no message)"));
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            if !PANICKED.swap(true, Ordering::SeqCst) {
                let one_line = message.replace('\n', " ");
                let note = crash_note(&one_line, location.as_deref());
                let _ = io::stderr().write_all(note.as_bytes());
            }
            let raw_is_safe = |text: &str| {
                !text
                    .chars()
                    .any(|c| !matches!(c, '\n' | '\t') && is_unsafe_char(c))
            };
            if raw.is_none_or(raw_is_safe) {
                previous(info);
            } else {
                // The default hook would print the message raw: print it escaped instead.
                let thread = std::thread::current();
                let name = thread.name().unwrap_or("<unnamed>");
                let at = location.as_deref().unwrap_or("an unknown place");
                eprintln!("thread '{name}' panicked at {at}:\n{message}");
                let trace = std::backtrace::Backtrace::capture();
                if trace.status() == std::backtrace::BacktraceStatus::Captured {
                    eprintln!("{trace}");
                }
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enter_bytes(mouse: bool) -> String {
        let mut buf = Vec::new();
        write_enter_sequence(&mut buf, TerminalOptions { mouse }).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn enter_switches_on_alt_screen_paste_and_mouse_only_when_asked() {
        let with_mouse = enter_bytes(true);
        assert!(with_mouse.contains("\x1b[?1049h"), "{with_mouse:?}");
        assert!(with_mouse.contains("\x1b[?2004h"), "{with_mouse:?}");
        assert!(with_mouse.contains("\x1b[?1000h"), "{with_mouse:?}");
        let without = enter_bytes(false);
        assert!(without.contains("\x1b[?1049h") && without.contains("\x1b[?2004h"));
        assert!(!without.contains("\x1b[?1000h"), "{without:?}");
    }

    #[test]
    fn leave_undoes_everything_enter_can_do() {
        let mut buf = Vec::new();
        write_leave_sequence(&mut buf).unwrap();
        let leave = String::from_utf8(buf).unwrap();
        for off in [
            "\x1b[?1049l",
            "\x1b[?2004l",
            "\x1b[?1000l",
            "\x1b[?1006l",
            "\x1b[?25h",
        ] {
            assert!(leave.contains(off), "{off:?} missing from {leave:?}");
        }
        // Every private mode enter sets ('h') is reset ('l') by leave.
        for mode in enter_bytes(true)
            .split("\x1b[?")
            .filter_map(|s| s.strip_suffix('h'))
        {
            assert!(
                leave.contains(&format!("\x1b[?{mode}l")),
                "mode {mode} not reset"
            );
        }
    }

    #[test]
    fn the_crash_note_says_what_where_and_that_nothing_kept_is_lost() {
        let note = crash_note("index out of bounds", Some("src/ui/tree.rs:42"));
        assert!(
            note.contains(
                "groupscope hit a bug and stopped: index out of bounds (at src/ui/tree.rs:42)."
            ),
            "{note}"
        );
        assert!(
            note.contains("drafts and unsent calls are kept in the store"),
            "{note}"
        );
        assert!(note.contains("Please report this"), "{note}");
        let long = "x".repeat(1000);
        let note = crash_note(&long, None);
        assert!(note.contains(&format!("{}….", "x".repeat(NOTE_MESSAGE_CHARS))));
        assert!(!note.contains(&"x".repeat(NOTE_MESSAGE_CHARS + 1)));
    }

    #[test]
    fn restore_without_enter_is_a_silent_no_op() {
        // ACTIVE is false in tests (no guard is ever made), so nothing is written or changed.
        assert!(restore_terminal().is_ok());
        assert!(restore_terminal().is_ok());
    }
}
