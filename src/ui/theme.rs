//! Colours and text attributes for every kind of thing the explorer draws. Panes take styles from
//! a [`Theme`] and never name colours themselves, so the light, dark and monochrome themes cover
//! every pane. Selection is never shown by colour alone: every theme's `selected_row` is reversed
//! and bold, and the explorer also prefixes [`SELECTION_MARKER`].

use std::ffi::OsString;

use ratatui::style::{Color, Modifier, Style};
use serde::{Deserialize, Serialize};

/// Drawn before the selected row so selection reads without colour.
pub const SELECTION_MARKER: &str = "▶ ";
/// Drawn before unselected rows to keep columns aligned with [`SELECTION_MARKER`].
pub const NO_SELECTION_MARKER: &str = "  ";

/// The theme named in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeName {
    /// Light text on a dark terminal.
    #[default]
    Dark,
    /// Dark text on a light terminal.
    Light,
}

impl ThemeName {
    /// Parses `"dark"` or `"light"` (the config spelling).
    pub fn from_name(name: &str) -> Option<ThemeName> {
        match name {
            "dark" => Some(ThemeName::Dark),
            "light" => Some(ThemeName::Light),
            _ => None,
        }
    }
}

/// Every style the UI uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// An ordinary row in a list or tree.
    pub tree_row: Style,
    /// The selected row (reversed + bold in every theme).
    pub selected_row: Style,
    /// A trait name RudderStack reserves (name, email, plan…).
    pub reserved_trait: Style,
    /// A user-defined trait name.
    pub custom_trait: Style,
    /// The old side of a changed trait value.
    pub changed_old: Style,
    /// The new side of a changed trait value.
    pub changed_new: Style,
    /// The status bar at the bottom.
    pub status_bar: Style,
    /// Error messages.
    pub error: Style,
    /// Warnings (e.g. config problems).
    pub warning: Style,
    /// A key in the hint bar or help overlay.
    pub hint_key: Style,
    /// The label next to a hint key.
    pub hint_label: Style,
    /// Secondary text: timestamps, counts, placeholders.
    pub dim: Style,
    /// Section headings and pane titles.
    pub heading: Style,
    /// Border of an unfocused pane.
    pub border: Style,
    /// Border of the focused pane.
    pub border_focused: Style,
    /// A search match.
    pub search_match: Style,
    /// JSON object keys.
    pub json_key: Style,
    /// JSON strings.
    pub json_string: Style,
    /// JSON numbers.
    pub json_number: Style,
    /// JSON `true`/`false`.
    pub json_bool: Style,
    /// JSON `null`.
    pub json_null: Style,
}

/// True when `NO_COLOR` holds any non-empty value (see no-color.org).
pub fn no_color_requested(value: Option<OsString>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

impl Theme {
    /// The theme for `name`, or the monochrome one when `no_color` is set.
    pub fn new(name: ThemeName, no_color: bool) -> Theme {
        if no_color {
            return Theme::monochrome();
        }
        match name {
            ThemeName::Dark => Theme::dark(),
            ThemeName::Light => Theme::light(),
        }
    }

    /// The theme for `name`, honouring the `NO_COLOR` environment variable.
    pub fn from_env(name: ThemeName) -> Theme {
        Theme::new(name, no_color_requested(std::env::var_os("NO_COLOR")))
    }

    /// For dark terminal backgrounds.
    pub fn dark() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        Theme {
            tree_row: Style::new(),
            selected_row: selected(),
            reserved_trait: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            custom_trait: fg(Color::White),
            changed_old: fg(Color::Red).add_modifier(Modifier::CROSSED_OUT),
            changed_new: fg(Color::Green).add_modifier(Modifier::BOLD),
            status_bar: Style::new().fg(Color::White).bg(Color::DarkGray),
            error: fg(Color::LightRed).add_modifier(Modifier::BOLD),
            warning: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            hint_key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            hint_label: fg(Color::Gray),
            dim: fg(Color::DarkGray),
            heading: fg(Color::LightYellow).add_modifier(Modifier::BOLD),
            border: fg(Color::DarkGray),
            border_focused: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            search_match: Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::UNDERLINED),
            json_key: fg(Color::LightBlue),
            json_string: fg(Color::Green),
            json_number: fg(Color::LightMagenta),
            json_bool: fg(Color::Yellow),
            json_null: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
        }
    }

    /// For light terminal backgrounds: darker hues, no white or yellow text.
    pub fn light() -> Theme {
        let fg = |c: Color| Style::new().fg(c);
        Theme {
            tree_row: Style::new(),
            selected_row: selected(),
            reserved_trait: fg(Color::Blue).add_modifier(Modifier::BOLD),
            custom_trait: fg(Color::Black),
            changed_old: fg(Color::Red).add_modifier(Modifier::CROSSED_OUT),
            changed_new: fg(Color::Green).add_modifier(Modifier::BOLD),
            status_bar: Style::new().fg(Color::White).bg(Color::DarkGray),
            error: fg(Color::Red).add_modifier(Modifier::BOLD),
            warning: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            hint_key: fg(Color::Blue).add_modifier(Modifier::BOLD),
            hint_label: fg(Color::DarkGray),
            dim: fg(Color::DarkGray),
            heading: fg(Color::Magenta).add_modifier(Modifier::BOLD),
            border: fg(Color::Gray),
            border_focused: fg(Color::Blue).add_modifier(Modifier::BOLD),
            search_match: Style::new()
                .fg(Color::Black)
                .bg(Color::LightYellow)
                .add_modifier(Modifier::UNDERLINED),
            json_key: fg(Color::Blue),
            json_string: fg(Color::Green),
            json_number: fg(Color::Magenta),
            json_bool: fg(Color::Cyan),
            json_null: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
        }
    }

    /// No colours at all, only bold, reverse, underline, italic and strike-through.
    pub fn monochrome() -> Theme {
        let m = |modifier: Modifier| Style::new().add_modifier(modifier);
        Theme {
            tree_row: Style::new(),
            selected_row: selected(),
            reserved_trait: m(Modifier::BOLD),
            custom_trait: Style::new(),
            changed_old: m(Modifier::CROSSED_OUT),
            changed_new: m(Modifier::BOLD | Modifier::UNDERLINED),
            status_bar: m(Modifier::REVERSED),
            error: m(Modifier::BOLD | Modifier::UNDERLINED),
            warning: m(Modifier::BOLD),
            hint_key: m(Modifier::BOLD),
            hint_label: Style::new(),
            dim: m(Modifier::DIM),
            heading: m(Modifier::BOLD | Modifier::UNDERLINED),
            border: Style::new(),
            border_focused: m(Modifier::BOLD),
            search_match: m(Modifier::UNDERLINED | Modifier::BOLD),
            json_key: m(Modifier::BOLD),
            json_string: Style::new(),
            json_number: Style::new(),
            json_bool: m(Modifier::ITALIC),
            json_null: m(Modifier::ITALIC | Modifier::DIM),
        }
    }

    /// Every style with its field name, for tests and for a future theme preview.
    pub fn styles(&self) -> [(&'static str, Style); 21] {
        [
            ("tree_row", self.tree_row),
            ("selected_row", self.selected_row),
            ("reserved_trait", self.reserved_trait),
            ("custom_trait", self.custom_trait),
            ("changed_old", self.changed_old),
            ("changed_new", self.changed_new),
            ("status_bar", self.status_bar),
            ("error", self.error),
            ("warning", self.warning),
            ("hint_key", self.hint_key),
            ("hint_label", self.hint_label),
            ("dim", self.dim),
            ("heading", self.heading),
            ("border", self.border),
            ("border_focused", self.border_focused),
            ("search_match", self.search_match),
            ("json_key", self.json_key),
            ("json_string", self.json_string),
            ("json_number", self.json_number),
            ("json_bool", self.json_bool),
            ("json_null", self.json_null),
        ]
    }
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::dark()
    }
}

/// Selection style shared by all themes: reversed keeps the terminal's own colours readable.
fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_means_any_non_empty_value() {
        assert!(!no_color_requested(None));
        assert!(!no_color_requested(Some(OsString::new())));
        assert!(no_color_requested(Some(OsString::from("1"))));
        assert!(no_color_requested(Some(OsString::from("0"))));
    }

    #[test]
    fn no_color_theme_has_no_colours_but_keeps_emphasis() {
        for name in [ThemeName::Dark, ThemeName::Light] {
            let theme = Theme::new(name, true);
            assert_eq!(theme, Theme::monochrome());
            for (field, style) in theme.styles() {
                assert_eq!(style.fg, None, "{field}");
                assert_eq!(style.bg, None, "{field}");
                assert_eq!(style.underline_color, None, "{field}");
            }
            assert!(theme.selected_row.add_modifier.contains(Modifier::REVERSED));
            assert!(theme.status_bar.add_modifier.contains(Modifier::REVERSED));
            assert!(
                theme
                    .changed_new
                    .add_modifier
                    .contains(Modifier::UNDERLINED)
            );
            // Old and new values differ without colour.
            assert_ne!(theme.changed_old, theme.changed_new);
        }
    }

    #[test]
    fn selection_is_never_colour_alone() {
        for theme in [Theme::dark(), Theme::light(), Theme::monochrome()] {
            let m = theme.selected_row.add_modifier;
            assert!(m.contains(Modifier::REVERSED) && m.contains(Modifier::BOLD));
        }
        assert_eq!(
            SELECTION_MARKER.chars().count(),
            NO_SELECTION_MARKER.chars().count()
        );
    }

    #[test]
    fn theme_name_parsing_and_selection() {
        assert_eq!(ThemeName::from_name("light"), Some(ThemeName::Light));
        assert_eq!(ThemeName::from_name("Light"), None);
        assert_eq!(Theme::new(ThemeName::Light, false), Theme::light());
        assert_eq!(Theme::new(ThemeName::Dark, false), Theme::dark());
        assert_ne!(Theme::dark(), Theme::light());
    }
}
