//! Styled text without colours: panes build lines of [`Piece`]s tagged with a [`Tone`] (what the
//! text is), and only drawing turns tones into styles from the theme. This keeps content
//! builders testable on plain text and lets every theme (including `NO_COLOR`) cover every pane.

use std::borrow::Cow;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::sanitize::display_safe;
use super::search::Filter;
use super::theme::Theme;

/// What a piece of text is, for choosing its style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Ordinary text.
    Plain,
    /// Secondary: times, counts, origins, placeholders.
    Dim,
    /// A section heading.
    Heading,
    /// A reserved trait name.
    Reserved,
    /// A custom trait name.
    Custom,
    /// The part of an old value that changed.
    Old,
    /// The part of a new value that changed.
    New,
    /// An error.
    Error,
    /// A warning.
    Warning,
    /// A key in a hint.
    Key,
    /// A hint's label.
    Label,
    /// A JSON object key.
    JsonKey,
    /// A JSON string.
    JsonString,
    /// A JSON number.
    JsonNumber,
    /// JSON `true` or `false`.
    JsonBool,
    /// JSON `null`.
    JsonNull,
}

impl Tone {
    /// The theme's style for this tone.
    pub fn style(self, theme: &Theme) -> Style {
        match self {
            Tone::Plain => theme.tree_row,
            Tone::Dim => theme.dim,
            Tone::Heading => theme.heading,
            Tone::Reserved => theme.reserved_trait,
            Tone::Custom => theme.custom_trait,
            Tone::Old => theme.changed_old,
            Tone::New => theme.changed_new,
            Tone::Error => theme.error,
            Tone::Warning => theme.warning,
            Tone::Key => theme.hint_key,
            Tone::Label => theme.hint_label,
            Tone::JsonKey => theme.json_key,
            Tone::JsonString => theme.json_string,
            Tone::JsonNumber => theme.json_number,
            Tone::JsonBool => theme.json_bool,
            Tone::JsonNull => theme.json_null,
        }
    }
}

/// A run of text in one tone. Text from event data is made safe when the piece is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The text, already safe to draw.
    pub text: String,
    /// What it is.
    pub tone: Tone,
}

/// One line of pieces.
pub type TextLine = Vec<Piece>;

/// A piece of fixed UI text (not from event data).
pub fn ui(text: impl Into<String>, tone: Tone) -> Piece {
    Piece {
        text: text.into(),
        tone,
    }
}

/// A piece of text from event data: control and bidi characters are escaped.
pub fn data(text: &str, tone: Tone) -> Piece {
    Piece {
        text: safe(text).into_owned(),
        tone,
    }
}

/// Event text made safe to draw.
pub fn safe(text: &str) -> Cow<'_, str> {
    display_safe(text)
}

/// The plain text of a line (for tests and copying).
pub fn plain(line: &[Piece]) -> String {
    line.iter().map(|p| p.text.as_str()).collect()
}

/// Turns pieces into a ratatui line, highlighting search matches.
pub fn render<'a>(line: &'a [Piece], theme: &Theme, filter: Option<&Filter>) -> Line<'a> {
    let mut spans = Vec::with_capacity(line.len());
    for piece in line {
        let style = piece.tone.style(theme);
        push_highlighted(&mut spans, &piece.text, style, theme, filter);
    }
    Line::from(spans)
}

/// Pushes `text` as spans in `style`, with search matches in the match style.
pub fn push_highlighted<'a>(
    spans: &mut Vec<Span<'a>>,
    text: &'a str,
    style: Style,
    theme: &Theme,
    filter: Option<&Filter>,
) {
    let ranges = filter.map(|f| f.ranges(text)).unwrap_or_default();
    let mut at = 0;
    for r in ranges {
        if r.start > at {
            spans.push(Span::styled(&text[at..r.start], style));
        }
        spans.push(Span::styled(
            &text[r.start..r.end],
            style.patch(theme.search_match),
        ));
        at = r.end;
    }
    if at < text.len() || text.is_empty() {
        spans.push(Span::styled(&text[at..], style));
    }
}

/// How many terminal columns `text` takes (CJK and emoji take two).
pub fn columns(text: &str) -> usize {
    Span::raw(text).width()
}

/// Pads or cuts `text` to `width` terminal columns, ending a cut with `…`.
pub fn fit(text: &str, width: usize) -> String {
    let used = columns(text);
    if used <= width {
        let mut s = text.to_string();
        s.extend(std::iter::repeat_n(' ', width - used));
        return s;
    }
    let mut s = String::new();
    let mut cols = 0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let w = columns(c.encode_utf8(&mut buf));
        if cols + w + 1 > width {
            break;
        }
        s.push(c);
        cols += w;
    }
    if width > 0 {
        s.push('…');
        cols += 1;
    }
    s.extend(std::iter::repeat_n(' ', width.saturating_sub(cols)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_escaped_and_fit_pads_or_cuts() {
        assert_eq!(data("a\x1b[31mb", Tone::Plain).text, "a\\u{1b}[31mb");
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("Zürich", 6), "Zürich");
        // Wide characters count two columns.
        assert_eq!(fit("株式会社", 8), "株式会社");
        assert_eq!(fit("株式会社", 6), "株式… ");
        assert_eq!(fit("株式", 6), "株式  ");
    }
}
