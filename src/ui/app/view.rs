//! Drawing the explorer: the panes, the status bar, the hint line and the help overlay.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{App, Focus};
use crate::ui::action::Action;
use crate::ui::help::{HelpOverlay, hint_line};
use crate::ui::status::LoadState;
use crate::ui::tree::Ctx;

/// The tree's largest share of the width, in percent, while the form or outbox is open.
const FORM_SPLIT: u16 = 35;

impl App {
    /// The actions the hint line offers for the focused pane.
    fn hint_actions(&self) -> &'static [Action] {
        if self.help.is_some() {
            return &[Action::Back, Action::Up, Action::Down];
        }
        if self.composer.is_open() {
            return self.composer.hint_actions();
        }
        match (self.focus, self.model.is_some()) {
            (_, false) => &[Action::Help, Action::Quit],
            (Focus::Tree, true) => &[
                Action::Right,
                Action::Left,
                Action::Search,
                Action::NextPane,
                Action::Sort,
                Action::Copy,
                Action::Help,
                Action::Quit,
            ],
            (Focus::Detail, true) => &[
                Action::Down,
                Action::Up,
                Action::PageDown,
                Action::PageUp,
                Action::NextPane,
                Action::Back,
                Action::Copy,
                Action::Help,
                Action::Quit,
            ],
        }
    }

    /// Draws everything.
    pub fn draw(&mut self, frame: &mut Frame) {
        let [main, status] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(2)]).areas(frame.area());
        // The form needs room; the tree stays visible beside it for context.
        let split = if self.composer.is_open() {
            self.split.min(FORM_SPLIT)
        } else {
            self.split
        };
        let [left, right] = Layout::horizontal([
            Constraint::Percentage(split),
            Constraint::Percentage(100 - split),
        ])
        .areas(main);
        self.areas = (left, right);
        let theme = &self.theme;
        match (&self.model, &mut self.tree) {
            (Some(model), Some(pane)) => {
                let ctx = Ctx {
                    model,
                    filter: self.filter.as_ref(),
                };
                let composing = self.composer.is_open();
                pane.draw(
                    frame,
                    left,
                    ctx,
                    theme,
                    self.focus == Focus::Tree && !composing,
                );
                if composing {
                    self.composer.draw(frame, right, theme);
                } else {
                    self.detail.draw(
                        frame,
                        right,
                        theme,
                        self.focus == Focus::Detail,
                        self.filter.as_ref(),
                    );
                }
            }
            _ if self.composer.is_open() => {
                self.draw_placeholder(frame, left);
                self.composer.draw(frame, right, &self.theme);
            }
            _ => self.draw_placeholder(frame, main),
        }
        let bottom = if self.search.editing {
            let matches = match &self.filter {
                _ if self.filtering() => "   searching…".to_string(),
                Some(f) => {
                    let n = f.group_count();
                    format!("   {n} group{} match", if n == 1 { "" } else { "s" })
                }
                None => String::new(),
            };
            Line::from(vec![
                Span::styled("/", self.theme.hint_key),
                Span::raw(crate::ui::text::safe(&self.search.text).into_owned()),
                Span::styled("█", self.theme.dim),
                Span::styled(matches, self.theme.dim),
                Span::styled("   enter keep · esc clear", self.theme.hint_label),
            ])
        } else {
            let mut hints = self.keymap.hints(self.hint_actions());
            if self.composer.is_open() {
                for (_, label) in &mut hints {
                    *label = match *label {
                        "next pane" => "next field",
                        "prev pane" => "prev field",
                        "back" => "leave",
                        "open" => "open draft",
                        "force quit" => "quit",
                        other => other,
                    };
                }
            }
            let hints = fit_hints(hints, status.width);
            hint_line(&hints, &self.theme)
        };
        // While loading, only a partial model is news; a reload's old model is not.
        let model = match self.load {
            LoadState::Loading(_) if !self.partial => None,
            _ => self.model.as_deref(),
        };
        self.status
            .draw(frame, status, &self.theme, &self.load, model, bottom);
        if let Some(help) = &mut self.help {
            frame.render_stateful_widget(
                HelpOverlay::new(&self.keymap, &self.theme),
                frame.area(),
                help,
            );
        }
    }

    fn draw_placeholder(&self, frame: &mut Frame, area: Rect) {
        let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
        let (title, text, style) = match &self.load {
            LoadState::Loading(_) => (
                " Loading ",
                format!(
                    "{} Reading the input… the tree appears when it is loaded.",
                    spinner[(self.ticks % 10) as usize]
                ),
                self.theme.tree_row,
            ),
            LoadState::Failed(e) => (
                " Could not load ",
                format!(
                    "{}\n\nCheck the path and run groupscope again, or press r to retry.",
                    crate::ui::text::safe(e)
                ),
                self.theme.error,
            ),
            LoadState::NoInput(how) => (" groupscope ", how.clone(), self.theme.tree_row),
            LoadState::Loaded => (" groupscope ", String::new(), self.theme.tree_row),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(self.theme.border)
            .title(title);
        frame.render_widget(
            Paragraph::new(text)
                .style(style)
                .wrap(Wrap { trim: false })
                .block(block),
            area,
        );
    }
}

/// Drops hints from the end (keeping help and quit, which come last) until the line fits.
fn fit_hints(mut hints: Vec<(String, &'static str)>, width: u16) -> Vec<(String, &'static str)> {
    let len = |h: &[(String, &str)]| -> usize {
        h.iter()
            .map(|(k, l)| k.chars().count() + l.chars().count() + 3)
            .sum::<usize>()
    };
    let keep = hints
        .iter()
        .rev()
        .take_while(|(_, l)| *l == Action::Help.label() || *l == Action::Quit.label())
        .count();
    while len(&hints) > width as usize && hints.len() > keep {
        hints.remove(hints.len() - keep - 1);
    }
    hints
}
