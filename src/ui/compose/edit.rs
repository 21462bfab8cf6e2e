//! Editing one line of text with a cursor: typed characters, paste, Backspace/Delete, the arrow
//! keys, Home/End and two readline chords (Ctrl-u clears to the start, Ctrl-w deletes a word).
//! The cursor counts characters, not bytes, so multi-byte text never splits.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key did to the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditResult {
    /// The text changed.
    Changed,
    /// Only the cursor moved.
    Moved,
    /// The key is not an editing key.
    Ignored,
}

/// Applies an editing key to `text` with the cursor at `cursor` (in characters).
pub fn apply_key(text: &mut String, cursor: &mut usize, key: &KeyEvent) -> EditResult {
    *cursor = (*cursor).min(text.chars().count());
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('u') if ctrl => {
            if *cursor == 0 {
                return EditResult::Ignored;
            }
            let at = byte_at(text, *cursor);
            text.replace_range(..at, "");
            *cursor = 0;
            EditResult::Changed
        }
        KeyCode::Char('w') if ctrl => delete_word(text, cursor),
        KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
            insert(text, cursor, &c.to_string());
            EditResult::Changed
        }
        KeyCode::Backspace if *cursor > 0 => {
            let at = byte_at(text, *cursor - 1);
            text.remove(at);
            *cursor -= 1;
            EditResult::Changed
        }
        KeyCode::Delete if *cursor < text.chars().count() => {
            let at = byte_at(text, *cursor);
            text.remove(at);
            EditResult::Changed
        }
        KeyCode::Left if *cursor > 0 => {
            *cursor -= 1;
            EditResult::Moved
        }
        KeyCode::Right if *cursor < text.chars().count() => {
            *cursor += 1;
            EditResult::Moved
        }
        KeyCode::Home => {
            *cursor = 0;
            EditResult::Moved
        }
        KeyCode::End => {
            *cursor = text.chars().count();
            EditResult::Moved
        }
        _ => EditResult::Ignored,
    }
}

/// Inserts pasted text at the cursor. Fields are one line: line breaks and tabs become spaces
/// (JSON stays valid, since whitespace between tokens means nothing) and other control
/// characters are dropped.
pub fn paste(text: &mut String, cursor: &mut usize, pasted: &str) -> bool {
    let clean: String = pasted
        .replace("\r\n", " ")
        .chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    if clean.is_empty() {
        return false;
    }
    *cursor = (*cursor).min(text.chars().count());
    insert(text, cursor, &clean);
    true
}

fn insert(text: &mut String, cursor: &mut usize, s: &str) {
    let at = byte_at(text, *cursor);
    text.insert_str(at, s);
    *cursor += s.chars().count();
}

fn delete_word(text: &mut String, cursor: &mut usize) -> EditResult {
    let chars: Vec<char> = text.chars().collect();
    let mut start = *cursor;
    while start > 0 && chars[start - 1].is_whitespace() {
        start -= 1;
    }
    while start > 0 && !chars[start - 1].is_whitespace() {
        start -= 1;
    }
    if start == *cursor {
        return EditResult::Ignored;
    }
    let (from, to) = (byte_at(text, start), byte_at(text, *cursor));
    text.replace_range(from..to, "");
    *cursor = start;
    EditResult::Changed
}

/// The byte offset of character `index` (the end when past it).
fn byte_at(text: &str, index: usize) -> usize {
    text.char_indices()
        .nth(index)
        .map_or(text.len(), |(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn run(start: &str, cursor: usize, keys: &[KeyEvent]) -> (String, usize) {
        let mut text = start.to_string();
        let mut at = cursor;
        for k in keys {
            apply_key(&mut text, &mut at, k);
        }
        (text, at)
    }

    #[test]
    fn typing_and_deleting_respect_the_cursor_in_multibyte_text() {
        let (text, at) = run(
            "Zürich",
            6,
            &[
                key(KeyCode::Left),
                key(KeyCode::Left),
                key(KeyCode::Backspace),
                key(KeyCode::Char('☃')),
            ],
        );
        assert_eq!((text.as_str(), at), ("Zür☃ch", 4));
        let (text, at) = run(
            "abc",
            0,
            &[
                key(KeyCode::Delete),
                key(KeyCode::End),
                key(KeyCode::Char('!')),
            ],
        );
        assert_eq!((text.as_str(), at), ("bc!", 3));
        // Nothing happens past the ends.
        let (text, at) = run(
            "ab",
            0,
            &[
                key(KeyCode::Backspace),
                key(KeyCode::Left),
                key(KeyCode::End),
                key(KeyCode::Delete),
                key(KeyCode::Right),
            ],
        );
        assert_eq!((text.as_str(), at), ("ab", 2));
        let (text, at) = run("ab", 2, &[key(KeyCode::Home), key(KeyCode::Char('>'))]);
        assert_eq!((text.as_str(), at), (">ab", 1));
    }

    #[test]
    fn results_say_what_changed() {
        let mut text = String::from("x");
        let mut at = 1;
        assert_eq!(
            apply_key(&mut text, &mut at, &key(KeyCode::Left)),
            EditResult::Moved
        );
        assert_eq!(
            apply_key(&mut text, &mut at, &key(KeyCode::Left)),
            EditResult::Ignored
        );
        assert_eq!(
            apply_key(&mut text, &mut at, &key(KeyCode::Char('y'))),
            EditResult::Changed
        );
        // Unbound Ctrl- and Alt-chords type nothing.
        let ctrl_x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::CONTROL);
        let alt_b = KeyEvent::new(KeyCode::Char('b'), KeyModifiers::ALT);
        assert_eq!(apply_key(&mut text, &mut at, &ctrl_x), EditResult::Ignored);
        assert_eq!(apply_key(&mut text, &mut at, &alt_b), EditResult::Ignored);
        assert_eq!(text, "yx");
    }

    #[test]
    fn readline_chords_clear_and_delete_words() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        let (text, at) = run("enterprise plan", 15, &[ctrl('w')]);
        assert_eq!((text.as_str(), at), ("enterprise ", 11));
        let (text, at) = run("enterprise plan", 15, &[ctrl('w'), ctrl('w')]);
        assert_eq!((text.as_str(), at), ("", 0));
        let (text, at) = run("enterprise", 5, &[ctrl('u')]);
        assert_eq!((text.as_str(), at), ("prise", 0));
    }

    #[test]
    fn paste_flattens_lines_and_drops_control_characters() {
        let mut text = String::from("{}");
        let mut at = 1;
        assert!(paste(&mut text, &mut at, "\"a\":\r\n\t1,\n\"b\x1b\":2"));
        assert_eq!(text, "{\"a\":  1, \"b\":2}");
        assert_eq!(at, text.chars().count() - 1);
        assert!(!paste(&mut text, &mut at, "\x07"));
    }
}
