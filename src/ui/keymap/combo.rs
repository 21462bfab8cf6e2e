//! One key plus modifiers ([`KeyCombo`]): normalising what terminals report, parsing the
//! config syntax and writing it back. See the parent module for the syntax.

use std::fmt;
use std::str::FromStr;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use thiserror::Error;

/// A key plus modifiers, normalised so that what the terminal reports and what the config says
/// compare equal (Shift is folded into the character's case, Shift-Tab is `BackTab`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyCombo {
    /// The key itself.
    pub code: KeyCode,
    /// Ctrl/Alt/Shift; Shift is never set together with a `Char` or `BackTab`.
    pub modifiers: KeyModifiers,
}

/// Why a key string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyParseError {
    /// The string was empty or only modifiers.
    #[error("empty key")]
    Empty,
    /// The part after the modifiers is not a known key.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
}

/// Ctrl-c: always force-quits, in every context, whatever the config says.
pub const FORCE_QUIT_KEY: KeyCombo = KeyCombo::ctrl('c');

impl KeyCombo {
    /// A key with the given modifiers, normalised.
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> KeyCombo {
        let mut code = code;
        let mut modifiers = modifiers;
        match code {
            // Terminals disagree on whether 'G' carries SHIFT; the case already says it.
            KeyCode::Char(_) | KeyCode::BackTab => modifiers.remove(KeyModifiers::SHIFT),
            // The kitty protocol reports Shift-Tab as Tab+SHIFT; legacy terminals as BackTab.
            KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => {
                code = KeyCode::BackTab;
                modifiers.remove(KeyModifiers::SHIFT);
            }
            _ => {}
        }
        KeyCombo { code, modifiers }
    }

    /// A key without modifiers.
    pub const fn plain(code: KeyCode) -> KeyCombo {
        KeyCombo {
            code,
            modifiers: KeyModifiers::NONE,
        }
    }

    /// A Ctrl-chord on a character.
    pub const fn ctrl(c: char) -> KeyCombo {
        KeyCombo {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
        }
    }

    /// The combo a key event stands for.
    pub fn from_event(event: &KeyEvent) -> KeyCombo {
        KeyCombo::new(event.code, event.modifiers)
    }

    /// A compact label for help and hints: arrows as glyphs, everything else as in [`fmt::Display`].
    pub fn label(&self) -> String {
        let glyph = match self.code {
            KeyCode::Up => "↑",
            KeyCode::Down => "↓",
            KeyCode::Left => "←",
            KeyCode::Right => "→",
            _ => return self.to_string(),
        };
        let mut out = modifier_prefix(self.modifiers);
        out.push_str(glyph);
        out
    }

    /// True for a key that would type text into a focused field.
    pub(super) fn is_text_entry(&self) -> bool {
        // Ctrl-chords stay global; Alt and plain keys (printable, arrows, backspace…) go to the field.
        !self.modifiers.contains(KeyModifiers::CONTROL)
            && !matches!(
                self.code,
                KeyCode::Esc | KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab
            )
    }
}

fn modifier_prefix(modifiers: KeyModifiers) -> String {
    let mut out = String::new();
    if modifiers.contains(KeyModifiers::CONTROL) {
        out.push_str("ctrl-");
    }
    if modifiers.contains(KeyModifiers::ALT) {
        out.push_str("alt-");
    }
    if modifiers.contains(KeyModifiers::SHIFT) {
        out.push_str("shift-");
    }
    out
}

/// Writes the config syntax, so every displayed key can be pasted into `[keys]`.
impl fmt::Display for KeyCombo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&modifier_prefix(self.modifiers))?;
        match self.code {
            KeyCode::Char(' ') => f.write_str("space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            KeyCode::Enter => f.write_str("enter"),
            KeyCode::Esc => f.write_str("esc"),
            KeyCode::Tab => f.write_str("tab"),
            KeyCode::BackTab => f.write_str("shift-tab"),
            KeyCode::Backspace => f.write_str("backspace"),
            KeyCode::Delete => f.write_str("delete"),
            KeyCode::Insert => f.write_str("insert"),
            KeyCode::Home => f.write_str("home"),
            KeyCode::End => f.write_str("end"),
            KeyCode::PageUp => f.write_str("pgup"),
            KeyCode::PageDown => f.write_str("pgdn"),
            KeyCode::Up => f.write_str("up"),
            KeyCode::Down => f.write_str("down"),
            KeyCode::Left => f.write_str("left"),
            KeyCode::Right => f.write_str("right"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl FromStr for KeyCombo {
    type Err = KeyParseError;

    fn from_str(s: &str) -> Result<KeyCombo, KeyParseError> {
        // Surrounding blanks are typos, but a lone " " is the space bar.
        let mut rest = if s.trim().is_empty() { s } else { s.trim() };
        let mut modifiers = KeyModifiers::NONE;
        // Strip modifier prefixes; a lone "-" (or "ctrl--") is the minus key, not a separator,
        // and a bare "ctrl-" stays whole so it is reported as unknown.
        while let Some((prefix, modifier)) = MODIFIER_PREFIXES.iter().find(|(p, _)| {
            rest.len() > p.len()
                && rest
                    .get(..p.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(p))
        }) {
            modifiers |= *modifier;
            rest = &rest[prefix.len()..];
        }
        if rest.is_empty() {
            return Err(KeyParseError::Empty);
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                // "shift-g" means 'G'; normalisation then drops SHIFT.
                if modifiers.contains(KeyModifiers::SHIFT) && c.is_ascii_lowercase() {
                    KeyCode::Char(c.to_ascii_uppercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            _ => named_key(rest).ok_or_else(|| KeyParseError::UnknownKey(s.to_string()))?,
        };
        Ok(KeyCombo::new(code, modifiers))
    }
}

const MODIFIER_PREFIXES: [(&str, KeyModifiers); 3] = [
    ("ctrl-", KeyModifiers::CONTROL),
    ("alt-", KeyModifiers::ALT),
    ("shift-", KeyModifiers::SHIFT),
];

fn named_key(name: &str) -> Option<KeyCode> {
    let lower = name.to_ascii_lowercase();
    let code = match lower.as_str() {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "space" => KeyCode::Char(' '),
        "backspace" | "bs" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "insert" | "ins" => KeyCode::Insert,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pgup" | "pageup" => KeyCode::PageUp,
        "pgdn" | "pagedown" => KeyCode::PageDown,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        f if f.starts_with('f') => {
            let n: u8 = f[1..].parse().ok()?;
            if !(1..=12).contains(&n) {
                return None;
            }
            KeyCode::F(n)
        }
        _ => return None,
    };
    Some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::keymap::Keymap;

    fn key(s: &str) -> KeyCombo {
        s.parse().unwrap()
    }

    #[test]
    fn parses_key_strings() {
        assert_eq!(key("ctrl-c"), KeyCombo::ctrl('c'));
        assert_eq!(key("CTRL-c"), KeyCombo::ctrl('c'));
        assert_eq!(key("shift-tab"), KeyCombo::plain(KeyCode::BackTab));
        assert_eq!(key("backtab"), KeyCombo::plain(KeyCode::BackTab));
        assert_eq!(key("f1"), KeyCombo::plain(KeyCode::F(1)));
        assert_eq!(key("F12"), KeyCombo::plain(KeyCode::F(12)));
        assert_eq!(key("pgdn"), KeyCombo::plain(KeyCode::PageDown));
        assert_eq!(key("PageUp"), KeyCombo::plain(KeyCode::PageUp));
        assert_eq!(key("G"), KeyCombo::plain(KeyCode::Char('G')));
        assert_eq!(key("shift-g"), KeyCombo::plain(KeyCode::Char('G')));
        assert_eq!(key("space"), KeyCombo::plain(KeyCode::Char(' ')));
        assert_eq!(key("-"), KeyCombo::plain(KeyCode::Char('-')));
        assert_eq!(
            key("ctrl--"),
            KeyCombo::new(KeyCode::Char('-'), KeyModifiers::CONTROL)
        );
        assert_eq!(
            key("ctrl-alt-x"),
            KeyCombo::new(
                KeyCode::Char('x'),
                KeyModifiers::CONTROL | KeyModifiers::ALT
            )
        );
        assert_eq!(
            key("shift-up"),
            KeyCombo::new(KeyCode::Up, KeyModifiers::SHIFT)
        );
    }

    #[test]
    fn rejects_bad_key_strings() {
        assert_eq!("".parse::<KeyCombo>(), Err(KeyParseError::Empty));
        assert_eq!(
            "ctrl-".parse::<KeyCombo>(),
            Err(KeyParseError::UnknownKey("ctrl-".into()))
        );
        assert_eq!(
            "f13".parse::<KeyCombo>(),
            Err(KeyParseError::UnknownKey("f13".into()))
        );
        assert_eq!(
            "f0".parse::<KeyCombo>(),
            Err(KeyParseError::UnknownKey("f0".into()))
        );
        assert_eq!(
            "ctrl-qq".parse::<KeyCombo>(),
            Err(KeyParseError::UnknownKey("ctrl-qq".into()))
        );
        assert_eq!(
            "hyper-x".parse::<KeyCombo>(),
            Err(KeyParseError::UnknownKey("hyper-x".into()))
        );
    }

    #[test]
    fn display_round_trips_for_every_default_binding() {
        for (combo, _) in Keymap::default().bindings() {
            assert_eq!(
                combo.to_string().parse::<KeyCombo>().unwrap(),
                *combo,
                "{combo}"
            );
        }
        assert_eq!(key("shift-tab").to_string(), "shift-tab");
        assert_eq!(key("ctrl-c").to_string(), "ctrl-c");
        assert_eq!(key("up").label(), "↑");
        assert_eq!(key(" ").to_string(), "space");
    }
}
