//! Event data is untrusted: a trait value or user id may hold terminal escape sequences (set the
//! window title, write the clipboard, recolour the screen) or bidi controls that reorder what the
//! user reads. Everything from an event passes through [`display_safe`] before it is drawn.
//!
//! Escapes are Rust-style and always the same for a given character: `\n`, `\r` for line breaks,
//! `\u{1b}` (lowercase hex, no padding) for every other control, DEL or bidi character. Tabs
//! become [`TAB_REPLACEMENT`]. Everything else — emoji, CJK, accents, zero-width joiners that
//! build emoji — is left alone.

use std::borrow::Cow;
use std::fmt::Write;

/// What a tab turns into: it has no fixed width in a cell grid, so it becomes spaces.
pub const TAB_REPLACEMENT: &str = "    ";

/// True for characters that must not reach the terminal as-is.
pub fn is_unsafe_char(c: char) -> bool {
    matches!(c,
        // C0 controls (ESC, BEL, CR, LF, TAB…), DEL and C1 controls (CSI U+009B, OSC U+009D…).
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidi: LRM, RLM, ALM, embeddings/overrides, isolates.
        | '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Line and paragraph separators break a row in two in some terminals.
        | '\u{2028}' | '\u{2029}'
    )
}

/// `s` made safe to print in one terminal cell row: borrowed unchanged when nothing needs
/// escaping (the common case), else a copy with each unsafe character escaped.
pub fn display_safe(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(is_unsafe_char) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match c {
            '\t' => out.push_str(TAB_REPLACEMENT),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe_char(c) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for s in [
            "",
            "Acme Inc",
            "café 東京 🚀 👩‍👩‍👧",
            "a\\u{1b}b",
            "שלום",
            "مرحبا",
        ] {
            let out = display_safe(s);
            assert!(matches!(out, Cow::Borrowed(_)), "{s}");
            assert_eq!(out, s);
        }
    }

    #[test]
    fn window_title_sequence_is_defused() {
        assert_eq!(display_safe("\x1b]0;pwned\x07"), "\\u{1b}]0;pwned\\u{7}");
    }

    #[test]
    fn clipboard_write_sequence_is_defused() {
        assert_eq!(
            display_safe("x\x1b]52;c;Y3VybCBldmlsfHNo\x07y"),
            "x\\u{1b}]52;c;Y3VybCBldmlsfHNo\\u{7}y"
        );
        // The same with the string terminator ESC \ instead of BEL.
        assert_eq!(
            display_safe("\x1b]52;c;AA==\x1b\\"),
            "\\u{1b}]52;c;AA==\\u{1b}\\"
        );
    }

    #[test]
    fn colour_sequences_are_defused_including_8_bit_csi() {
        assert_eq!(
            display_safe("\x1b[31mred\x1b[0m"),
            "\\u{1b}[31mred\\u{1b}[0m"
        );
        assert_eq!(display_safe("\u{9b}31mred"), "\\u{9b}31mred");
        assert_eq!(display_safe("del\x7f"), "del\\u{7f}");
        assert_eq!(display_safe("nul\0"), "nul\\u{0}");
    }

    #[test]
    fn bidi_tricks_are_made_visible() {
        // "Trojan source": an RLO makes "admin\u{202e}txt.exe" render as "adminexe.txt".
        assert_eq!(
            display_safe("admin\u{202e}txt.exe"),
            "admin\\u{202e}txt.exe"
        );
        assert_eq!(display_safe("a\u{2066}b\u{2069}c"), "a\\u{2066}b\\u{2069}c");
        assert_eq!(
            display_safe("\u{200e}\u{200f}\u{061c}"),
            "\\u{200e}\\u{200f}\\u{61c}"
        );
        assert_eq!(
            display_safe("x\u{202a}\u{202b}\u{202c}\u{202d}"),
            "x\\u{202a}\\u{202b}\\u{202c}\\u{202d}"
        );
    }

    #[test]
    fn tabs_and_line_breaks() {
        assert_eq!(display_safe("a\tb"), "a    b");
        assert_eq!(display_safe("line1\nline2\r\n"), "line1\\nline2\\r\\n");
        assert_eq!(display_safe("a\u{2028}b"), "a\\u{2028}b");
    }

    proptest! {
        #[test]
        fn output_never_contains_unsafe_chars(s in any::<String>()) {
            let out = display_safe(&s);
            prop_assert!(!out.chars().any(is_unsafe_char), "{:?} -> {:?}", s, out);
        }

        #[test]
        fn safe_input_is_returned_unchanged(s in "[^\\x00-\\x1f\\x7f-\\x9f\u{200e}\u{200f}\u{61c}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{2028}\u{2029}]*") {
            let out = display_safe(&s);
            prop_assert!(matches!(out, Cow::Borrowed(_)));
            prop_assert_eq!(out, s.as_str());
        }

        #[test]
        fn mixed_dangerous_and_safe_pieces(parts in proptest::collection::vec(
            prop_oneof![
                Just("\x1b".to_string()), Just("\x07".to_string()), Just("\u{9b}".to_string()),
                Just("\u{202e}".to_string()), Just("\u{2067}".to_string()), Just("\t".to_string()),
                "[a-z🚀東]{0,3}",
            ], 0..12)) {
            let s: String = parts.concat();
            let out = display_safe(&s);
            prop_assert!(!out.chars().any(is_unsafe_char));
            // Escaping only inserts text, so every safe piece survives intact.
            for part in parts.iter().filter(|p| !p.chars().any(is_unsafe_char)) {
                prop_assert!(out.contains(part.as_str()), "{:?} missing from {:?}", part, out);
            }
        }
    }
}
