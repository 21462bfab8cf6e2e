//! Copying to the system clipboard. The UI talks to the [`Clipboard`] trait so tests can assert
//! "copied X" with [`RecordingClipboard`]; the real one uses OSC 52, which the terminal emulator
//! handles, so it works over SSH without any clipboard library or display server.
//!
//! Terminals that ignore OSC 52 (or tmux without `set-clipboard on`) silently drop the copy; there
//! is no way to detect that, so the UI should say "sent to clipboard" rather than "copied".

use std::io::{self, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

/// Why a copy failed.
#[derive(Debug, Error)]
pub enum ClipboardError {
    /// Writing the escape sequence to the terminal failed.
    #[error("could not write to the terminal: {0}")]
    Io(#[from] io::Error),
}

/// Something that can receive copied text.
pub trait Clipboard {
    /// Puts `text` on the clipboard.
    fn copy(&mut self, text: &str) -> Result<(), ClipboardError>;
}

/// Copies with the OSC 52 escape sequence: `ESC ] 52 ; c ; <base64> BEL`.
#[derive(Debug)]
pub struct Osc52Clipboard<W: Write> {
    out: W,
}

impl Osc52Clipboard<io::Stdout> {
    /// Writes to this process's stdout, i.e. the terminal the UI is drawn on.
    pub fn stdout() -> Osc52Clipboard<io::Stdout> {
        Osc52Clipboard { out: io::stdout() }
    }
}

impl<W: Write> Osc52Clipboard<W> {
    /// Writes to `out` (a test buffer, or a tty handle).
    pub fn new(out: W) -> Osc52Clipboard<W> {
        Osc52Clipboard { out }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The bytes that ask the terminal to put `text` on the clipboard. Base64 means the payload can
/// never contain a byte that ends the sequence early, whatever `text` holds.
pub fn osc52_sequence(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", STANDARD.encode(text.as_bytes()))
}

impl<W: Write> Clipboard for Osc52Clipboard<W> {
    fn copy(&mut self, text: &str) -> Result<(), ClipboardError> {
        self.out.write_all(osc52_sequence(text).as_bytes())?;
        self.out.flush()?;
        Ok(())
    }
}

/// A fake that remembers what was copied, for tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecordingClipboard {
    /// Everything copied, oldest first.
    pub copies: Vec<String>,
}

impl RecordingClipboard {
    /// The most recent copy, if any.
    pub fn last(&self) -> Option<&str> {
        self.copies.last().map(String::as_str)
    }
}

impl Clipboard for RecordingClipboard {
    fn copy(&mut self, text: &str) -> Result<(), ClipboardError> {
        self.copies.push(text.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_writes_base64_between_esc_and_bel() {
        let mut clip = Osc52Clipboard::new(Vec::new());
        clip.copy("hello").unwrap();
        assert_eq!(clip.into_inner(), b"\x1b]52;c;aGVsbG8=\x07");
    }

    #[test]
    fn hostile_text_cannot_escape_the_sequence() {
        let seq = osc52_sequence("\x07\x1b]0;pwned\x07 東京");
        let payload = &seq["\x1b]52;c;".len()..seq.len() - 1];
        assert!(
            payload
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        );
        let decoded = STANDARD.decode(payload).unwrap();
        assert_eq!(decoded, "\x07\x1b]0;pwned\x07 東京".as_bytes());
    }

    #[test]
    fn recording_clipboard_keeps_every_copy() {
        let mut clip = RecordingClipboard::default();
        assert_eq!(clip.last(), None);
        clip.copy("a").unwrap();
        clip.copy("grp_42").unwrap();
        assert_eq!(clip.copies, vec!["a".to_string(), "grp_42".to_string()]);
        assert_eq!(clip.last(), Some("grp_42"));
    }

    #[test]
    fn trait_objects_work_for_injection() {
        let mut fake = RecordingClipboard::default();
        {
            let clip: &mut dyn Clipboard = &mut fake;
            clip.copy("x").unwrap();
        }
        assert_eq!(fake.last(), Some("x"));
    }
}
