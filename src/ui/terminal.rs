//! The terminal guard: raw mode, alternate screen, bracketed paste and (optionally) mouse capture
//! go on when a [`TerminalGuard`] is made and come off on every exit path — normal return, `?`,
//! drop during unwinding, and panics on any thread (through a chained panic hook that restores
//! first, then lets the previous hook print the message on the normal screen).
//!
//! A panic on a worker thread also leaves TUI mode (its message must be readable), so the app
//! should treat a panicked worker as fatal and exit rather than keep drawing.
//!
//! `ratatui::init`/`restore` are not used: `init` installs a new panic hook on every call (so
//! suspending for `$EDITOR` and resuming would stack hooks), `restore` stops at the first failing
//! step, and neither knows about mouse capture or bracketed paste. We keep ratatui's
//! [`DefaultTerminal`] type so drawing code looks like any ratatui app.

use std::io::{self, Write, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use ratatui::crossterm::queue;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::{DefaultTerminal, Terminal};

/// Set while the terminal is in TUI mode; whoever swaps it to false restores, exactly once.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

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

/// Chains a hook that restores the terminal before the previous hook prints the panic, so the
/// message lands on the normal screen in cooked mode. Installed once per process.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore_terminal();
            previous(info);
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
    fn restore_without_enter_is_a_silent_no_op() {
        // ACTIVE is false in tests (no guard is ever made), so nothing is written or changed.
        assert!(restore_terminal().is_ok());
        assert!(restore_terminal().is_ok());
    }
}
