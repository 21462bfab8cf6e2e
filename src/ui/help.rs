//! The help overlay and the hint line, both generated from the [`Keymap`] so they always show
//! the keys that really work, including the user's overrides.

use ratatui::buffer::Buffer;
use ratatui::layout::{Margin, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Clear, Padding, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState,
    StatefulWidget, Widget,
};

use super::action::{Action, ActionGroup};
use super::keymap::{KeyCombo, Keymap};
use super::theme::Theme;

/// The widest the overlay gets; wider lines would be hard to scan.
const MAX_WIDTH: u16 = 74;
/// Gap between the key column and the description.
const COLUMN_GAP: usize = 2;

/// Scroll position of the help overlay, kept by the app between frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelpState {
    /// First body line shown.
    pub offset: usize,
    /// Body rows shown at the last draw (0 before the first draw).
    viewport: usize,
    /// Body lines at the last draw.
    total: usize,
}

/// What the app should do after giving the overlay an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HelpOutcome {
    /// The overlay stays open (it scrolled, or swallowed an action: it is modal).
    Stay,
    /// Close the overlay.
    Close,
    /// Not for the overlay: handle it as usual (only `ForceQuit`).
    Pass,
}

impl HelpState {
    /// Applies a user action to the open overlay.
    pub fn on_action(&mut self, action: Action) -> HelpOutcome {
        let page = self.viewport.max(1);
        match action {
            Action::Up => self.offset = self.offset.saturating_sub(1),
            Action::Down => self.offset = self.clamp(self.offset.saturating_add(1)),
            Action::PageUp => self.offset = self.offset.saturating_sub(page),
            Action::PageDown => self.offset = self.clamp(self.offset.saturating_add(page)),
            Action::Top => self.offset = 0,
            Action::Bottom => self.offset = self.clamp(usize::MAX),
            Action::Back | Action::Help | Action::Quit => return HelpOutcome::Close,
            Action::ForceQuit => return HelpOutcome::Pass,
            _ => {}
        }
        HelpOutcome::Stay
    }

    /// Limits `offset` to the last full page; before the first draw the size is unknown, so
    /// drawing clamps instead.
    fn clamp(&self, offset: usize) -> usize {
        if self.total == 0 {
            offset
        } else {
            offset.min(self.total.saturating_sub(self.viewport))
        }
    }
}

/// The centred, scrollable list of every binding, grouped by [`ActionGroup`].
#[derive(Debug, Clone, Copy)]
pub struct HelpOverlay<'a> {
    keymap: &'a Keymap,
    theme: &'a Theme,
}

impl<'a> HelpOverlay<'a> {
    /// An overlay showing `keymap` in `theme`.
    pub fn new(keymap: &'a Keymap, theme: &'a Theme) -> HelpOverlay<'a> {
        HelpOverlay { keymap, theme }
    }

    /// The body lines: a heading per group, one line per action with all its keys.
    pub fn lines(&self) -> Vec<Line<'static>> {
        let rows: Vec<(Action, String)> = Action::ALL
            .into_iter()
            .map(|action| {
                let keys: Vec<String> = self
                    .keymap
                    .keys_for(action)
                    .iter()
                    .map(KeyCombo::label)
                    .collect();
                let keys = if keys.is_empty() {
                    "(unbound)".to_string()
                } else {
                    keys.join(", ")
                };
                (action, keys)
            })
            .collect();
        let key_width = rows
            .iter()
            .map(|(_, k)| Span::raw(k.as_str()).width())
            .max()
            .unwrap_or(0);
        let mut lines = Vec::new();
        for group in ActionGroup::ALL {
            if !lines.is_empty() {
                lines.push(Line::default());
            }
            lines.push(Line::from(Span::styled(group.title(), self.theme.heading)));
            for (action, keys) in rows.iter().filter(|(a, _)| a.group() == group) {
                let pad = key_width - Span::raw(keys.as_str()).width() + COLUMN_GAP;
                let key_style = if self.keymap.keys_for(*action).is_empty() {
                    self.theme.dim
                } else {
                    self.theme.hint_key
                };
                lines.push(Line::from(vec![
                    Span::raw("  "),
                    Span::styled(keys.clone(), key_style),
                    Span::raw(" ".repeat(pad)),
                    Span::styled(action.description(), self.theme.tree_row),
                ]));
            }
        }
        lines
    }
}

impl HelpOverlay<'_> {
    /// The overlay's own hints: which keys scroll it and which close it.
    fn hints(&self) -> Vec<(String, &'static str)> {
        let keys = |actions: &[Action]| -> String {
            let labels: Vec<String> = actions
                .iter()
                .flat_map(|a| self.keymap.keys_for(*a))
                .map(|k| k.label())
                .collect();
            labels.join("/")
        };
        [
            (keys(&[Action::Up, Action::Down]), "scroll"),
            (keys(&[Action::Back, Action::Help]), "close"),
        ]
        .into_iter()
        .filter(|(k, _)| !k.is_empty())
        .collect()
    }
}

/// Where the overlay goes inside `area`: centred, at most [`MAX_WIDTH`] wide, as tall as needed.
fn popup_area(area: Rect, body_lines: usize) -> Rect {
    let width = area.width.saturating_sub(4).min(MAX_WIDTH);
    let wanted = u16::try_from(body_lines.saturating_add(2)).unwrap_or(u16::MAX);
    let height = wanted.min(area.height.saturating_sub(2));
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

impl StatefulWidget for HelpOverlay<'_> {
    type State = HelpState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut HelpState) {
        let lines = self.lines();
        let popup = popup_area(area, lines.len());
        if popup.width < 10 || popup.height < 3 {
            return;
        }
        let block = Block::bordered()
            .padding(Padding::horizontal(1))
            .border_style(self.theme.border_focused)
            .title(Line::from(Span::styled(" Keys ", self.theme.heading)).centered())
            .title_bottom(hint_line(&self.hints(), self.theme).centered());
        let body = block.inner(popup);
        let viewport = usize::from(body.height);
        state.viewport = viewport;
        state.total = lines.len();
        state.offset = state.offset.min(lines.len().saturating_sub(viewport));

        Clear.render(popup, buf);
        block.render(popup, buf);
        let visible: Vec<Line> = lines
            .into_iter()
            .skip(state.offset)
            .take(viewport)
            .collect();
        Paragraph::new(visible).render(body, buf);
        if state.total > viewport {
            let mut bar =
                ScrollbarState::new(state.total.saturating_sub(viewport)).position(state.offset);
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .style(self.theme.dim)
                .render(
                    popup.inner(Margin {
                        horizontal: 0,
                        vertical: 1,
                    }),
                    buf,
                    &mut bar,
                );
        }
    }
}

/// A line of hints, " ↑/k up  q quit ", with keys and labels styled by `theme`.
pub fn hint_line(hints: &[(String, &'static str)], theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (i, (keys, label)) in hints.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(keys.clone(), theme.hint_key));
        spans.push(Span::raw(" "));
        spans.push(Span::styled(*label, theme.hint_label));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn render(
        keymap: &Keymap,
        state: &mut HelpState,
        width: u16,
        height: u16,
    ) -> Terminal<TestBackend> {
        let theme = Theme::dark();
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal
            .draw(|frame| {
                frame.render_stateful_widget(HelpOverlay::new(keymap, &theme), frame.area(), state)
            })
            .unwrap();
        terminal
    }

    fn screen_text(terminal: &Terminal<TestBackend>) -> String {
        terminal.backend().to_string()
    }

    #[test]
    fn snapshot_top_of_help() {
        let terminal = render(&Keymap::default(), &mut HelpState::default(), 100, 30);
        insta::assert_snapshot!("help_top_100x30", terminal.backend());
    }

    #[test]
    fn snapshot_scrolled_to_bottom() {
        let mut state = HelpState::default();
        render(&Keymap::default(), &mut state, 100, 30);
        assert_eq!(state.on_action(Action::Bottom), HelpOutcome::Stay);
        let terminal = render(&Keymap::default(), &mut state, 100, 30);
        insta::assert_snapshot!("help_bottom_100x30", terminal.backend());
    }

    #[test]
    fn every_binding_and_description_is_shown_when_tall_enough() {
        let (keymap, _) =
            Keymap::with_overrides(&[(Action::Quit, vec!["ctrl-q".parse().unwrap()])]);
        let text = screen_text(&render(&keymap, &mut HelpState::default(), 100, 60));
        for action in Action::ALL {
            assert!(text.contains(action.description()), "{action} missing");
        }
        for (combo, _) in keymap.bindings() {
            assert!(text.contains(&combo.label()), "{combo} missing");
        }
        assert!(
            text.contains("ctrl-q     ") || text.contains("ctrl-q  "),
            "override not shown"
        );
        assert!(!text.contains("  q  "), "stale default q shown");
    }

    #[test]
    fn scrolling_clamps_and_closing_and_force_quit() {
        let mut state = HelpState::default();
        render(&Keymap::default(), &mut state, 100, 30);
        let max = state.total - state.viewport;
        assert!(max > 0, "help should need scrolling at 100x30");
        assert_eq!(state.on_action(Action::Up), HelpOutcome::Stay);
        assert_eq!(state.offset, 0);
        state.on_action(Action::Down);
        assert_eq!(state.offset, 1);
        state.on_action(Action::PageDown);
        state.on_action(Action::PageDown);
        assert_eq!(state.offset, max);
        state.on_action(Action::Top);
        assert_eq!(state.offset, 0);
        assert_eq!(state.on_action(Action::Compose), HelpOutcome::Stay);
        assert_eq!(state.on_action(Action::Back), HelpOutcome::Close);
        assert_eq!(state.on_action(Action::Help), HelpOutcome::Close);
        assert_eq!(state.on_action(Action::ForceQuit), HelpOutcome::Pass);
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        for (w, h) in [(0, 0), (1, 1), (5, 3), (12, 4), (30, 5)] {
            render(&Keymap::default(), &mut HelpState::default(), w, h);
        }
    }

    #[test]
    fn hint_line_text() {
        let keymap = Keymap::default();
        let line = hint_line(&keymap.hints(&[Action::Help, Action::Quit]), &Theme::dark());
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, " ?/f1 help  q quit ");
    }
}
