//! The status bar: what is loaded (or how loading goes), the last message or error, the search
//! line while typing, and a hint line of the keys that work in the focused pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::model::Model;
use crate::source::LoadProgress;

use super::text::{columns, fit, safe};
use super::theme::Theme;

/// How loading stands.
#[derive(Debug, Clone)]
pub enum LoadState {
    /// Nothing to load; the text says how to open something.
    NoInput(String),
    /// A background load is running; the latest progress report.
    Loading(Option<LoadProgress>),
    /// The model is ready.
    Loaded,
    /// Loading failed; why.
    Failed(String),
}

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something done ("copied").
    Info,
    /// Something to know (a broken config, bad lines).
    Warning,
    /// Something failed.
    Error,
}

/// The last message shown.
#[derive(Debug, Clone, Default)]
pub struct StatusBar {
    message: Option<(String, Level)>,
}

/// Groups digits in threes: `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the model was read from, with counts.
pub fn summary(model: &Model) -> String {
    let c = model.counts();
    let sources = match model.sources() {
        [one] => format!("{} ({})", one.path.display(), one.kind.label()),
        many => format!("{} inputs", many.len()),
    };
    let mut s = format!(
        "{} · {} group calls · {} users · {} groups",
        safe(&sources),
        thousands(c.group),
        thousands(model.users().len() as u64),
        thousands(model.groups().len() as u64),
    );
    if c.problems > 0 {
        s.push_str(&format!(" · {} problems", thousands(c.problems)));
    }
    s
}

/// Load progress for people.
pub fn progress_text(p: Option<&LoadProgress>) -> String {
    let Some(p) = p else {
        return "loading…".into();
    };
    let pct = p
        .bytes_total
        .filter(|&t| t > 0)
        .map(|t| format!(" {}%", (p.bytes_done.min(t) * 100 / t)))
        .unwrap_or_default();
    let of = if p.sources > 1 {
        format!(" ({}/{})", p.source + 1, p.sources)
    } else {
        String::new()
    };
    // The file's name: a long path would push the counts (and what the tree shows) off the
    // line; the summary names the whole path once loaded.
    let name = p.path.file_name().map_or_else(
        || p.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    format!(
        "loading {}{of}{pct} · {} events · {} problems",
        safe(&name),
        thousands(p.events),
        thousands(p.problems)
    )
}

impl StatusBar {
    /// Shows a message until the next one.
    pub fn set(&mut self, text: impl Into<String>, level: Level) {
        self.message = Some((text.into(), level));
    }

    /// Clears the message.
    pub fn clear(&mut self) {
        self.message = None;
    }

    /// The message shown.
    pub fn message(&self) -> Option<(&str, Level)> {
        self.message.as_ref().map(|(t, l)| (t.as_str(), *l))
    }

    /// Draws two lines: state and message, then `bottom` (hints or the search line). While
    /// loading, `model` is the partial model shown, if any.
    pub fn draw(
        &self,
        frame: &mut Frame,
        area: Rect,
        theme: &Theme,
        state: &LoadState,
        model: Option<&Model>,
        bottom: Line<'_>,
    ) {
        let mut top: Vec<Span> = Vec::new();
        match (state, model) {
            (LoadState::Loading(p), partial) => {
                let mut text = progress_text(p.as_ref());
                if let Some(m) = partial {
                    text.push_str(&format!(
                        " · showing the first {} events",
                        thousands(m.counts().events)
                    ));
                }
                top.push(Span::raw(text));
            }
            (LoadState::Failed(e), _) => top.push(Span::styled(
                format!("load failed: {}", safe(e)),
                theme.error,
            )),
            (LoadState::NoInput(_), _) => top.push(Span::raw("no input")),
            (LoadState::Loaded, Some(m)) => top.push(Span::raw(summary(m))),
            (LoadState::Loaded, None) => {}
        }
        if let Some((text, level)) = &self.message {
            let style = match level {
                Level::Info => theme.status_bar,
                Level::Warning => theme.warning,
                Level::Error => theme.error,
            };
            let text = safe(text).into_owned();
            // The message is what just happened: when both do not fit, the summary gives way
            // (down to a third of the line).
            let width = area.width as usize;
            let wanted = columns(&text) + 3;
            if let Some(first) = top.first_mut() {
                let used = columns(&first.content);
                if used + wanted > width {
                    let keep = width.saturating_sub(wanted).max(width / 3).min(used);
                    first.content = fit(&first.content, keep).into();
                }
            }
            top.push(Span::raw(" │ "));
            top.push(Span::styled(text, style));
        }
        let lines = vec![Line::from(top).style(theme.status_bar), bottom];
        frame.render_widget(Paragraph::new(lines), area);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_progress_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        let p = LoadProgress {
            source: 0,
            sources: 2,
            path: "a.jsonl".into(),
            bytes_done: 50,
            bytes_total: Some(200),
            events: 1200,
            problems: 1,
        };
        assert_eq!(
            progress_text(Some(&p)),
            "loading a.jsonl (1/2) 25% · 1,200 events · 1 problems"
        );
        let deep = LoadProgress {
            path: "/very/long/path/to/the/exports/of/2024/a.jsonl".into(),
            ..p
        };
        assert_eq!(
            progress_text(Some(&deep)),
            "loading a.jsonl (1/2) 25% · 1,200 events · 1 problems"
        );
        let m = crate::ui::testdata::model();
        assert_eq!(
            summary(&m),
            "events.jsonl (stdin) · 5 group calls · 3 users · 2 groups"
        );
    }
}
