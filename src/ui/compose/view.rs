//! Drawing the compose form: the fields with their problems beside them (`✗` blocks sending,
//! `!` only warns, so the difference reads without colour), a summary line (what stops the
//! send, the send's progress or its outcome), and the live preview of the exact JSON.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::form::{Busy, ComposeForm, FormFocus};
use crate::compose::{Field, Issue, Severity};
use crate::event::EventTime;
use crate::send::Outcome;
use crate::ui::detail::json;
use crate::ui::text::{columns, fit, render, safe};
use crate::ui::theme::{NO_SELECTION_MARKER, SELECTION_MARKER, Theme};

/// Width of the label column.
const LABEL: usize = 13;

/// What drawing needs besides the form.
#[derive(Debug, Clone, Copy)]
pub struct FormView<'a> {
    /// Styles.
    pub theme: &'a Theme,
    /// The time the preview is built for.
    pub now: EventTime,
    /// Where a send goes, if a data plane is configured.
    pub data_plane: Option<&'a str>,
    /// The data plane is plain http to another host.
    pub insecure: bool,
}

/// The marker for an issue: `✗` for an error, `!` for a warning.
pub fn marker(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "✗",
        Severity::Warning => "!",
    }
}

/// The label of a fixed field in the form.
pub fn label(field: Field) -> &'static str {
    match field {
        Field::AddressStreet => "street",
        Field::AddressCity => "city",
        Field::AddressState => "state",
        Field::AddressPostalCode => "postalCode",
        Field::AddressCountry => "country",
        other => other.json_name(),
    }
}

/// What an empty field says when it is not focused.
fn placeholder(field: Field) -> &'static str {
    match field {
        Field::UserId => "userId or anonymousId is required",
        Field::GroupId => "required",
        Field::Employees => "a number",
        Field::CreatedAt => "ISO-8601, e.g. 2024-05-01T12:00:00Z",
        Field::Timestamp => "optional ISO-8601 time, to backfill a past call",
        Field::Context => "optional JSON object",
        Field::CustomValue(_) => "JSON (12, true, {…}) or text",
        _ => "",
    }
}

/// The section heading shown before a field, if one starts there.
fn section(field: Field) -> Option<&'static str> {
    match field {
        Field::UserId => Some("Who"),
        Field::Name => Some("Traits"),
        Field::AddressStreet => Some("Address"),
        Field::CustomKey(0) => Some("Custom traits"),
        Field::Timestamp => Some("Event"),
        _ => None,
    }
}

impl ComposeForm {
    /// Draws the form into `area`.
    pub fn draw(&mut self, frame: &mut Frame, area: Rect, view: &FormView<'_>) {
        let theme = view.theme;
        let id = self.draft().message_id.chars().take(8).collect::<String>();
        let target = match view.data_plane {
            Some(url) if view.insecure => format!(" → {} (plain http!) ", safe(url)),
            Some(url) => format!(" → {} ", safe(url)),
            None => " no data plane: ctrl-l keeps calls locally ".to_string(),
        };
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(Span::styled(
                format!(" Compose group call · draft {id}… "),
                theme.heading,
            ))
            .title_bottom(Span::styled(
                target,
                if view.insecure {
                    theme.warning
                } else {
                    theme.dim
                },
            ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let width = inner.width as usize;

        let summary = self.summary_lines(view, width);
        let preview_height = (inner.height / 3).clamp(4, 14);
        let wrapped: usize = summary
            .iter()
            .map(|l| l.width().div_ceil(width.max(1)).max(1))
            .sum();
        let summary_height = (wrapped as u16).min(4);
        let fields_height = inner.height.saturating_sub(preview_height + summary_height);
        let fields_area = Rect {
            height: fields_height,
            ..inner
        };
        let summary_area = Rect {
            y: inner.y + fields_height,
            height: summary_height,
            ..inner
        };
        let preview_area = Rect {
            y: inner.y + fields_height + summary_height,
            height: inner.height.saturating_sub(fields_height + summary_height),
            ..inner
        };

        let (lines, focus_line) = self.field_lines(theme, width);
        let h = fields_height as usize;
        // Keep the focused field (and the line under it, with its full message) in view.
        let first = (focus_line + 2)
            .saturating_sub(h)
            .min(lines.len().saturating_sub(h));
        let visible: Vec<Line> = lines.into_iter().skip(first).take(h).collect();
        frame.render_widget(Paragraph::new(visible), fields_area);
        frame.render_widget(
            Paragraph::new(summary).wrap(Wrap { trim: false }),
            summary_area,
        );
        self.draw_preview(frame, preview_area, view);
    }

    /// Every field row (and the full issue lines under the focused one); the index of the
    /// focused row.
    fn field_lines(&self, theme: &Theme, width: usize) -> (Vec<Line<'static>>, usize) {
        let mut lines = Vec::new();
        let mut focus_line = 0;
        let focused = match self.focus() {
            FormFocus::Field(f) => Some(f),
            FormFocus::Preview => None,
        };
        for field in self.order() {
            if let Some(title) = section(field) {
                lines.push(Line::styled(title, theme.heading));
            }
            if let Field::CustomValue(_) = field {
                // Key and value share one row, drawn with the key.
                continue;
            }
            let issues: Vec<&Issue> = self
                .issues()
                .iter()
                .filter(|i| match field {
                    Field::CustomKey(n) => i.field == field || i.field == Field::CustomValue(n),
                    _ => i.field == field,
                })
                .collect();
            let row_focused = match (field, focused) {
                (Field::CustomKey(n), Some(f)) => {
                    f == Field::CustomKey(n) || f == Field::CustomValue(n)
                }
                (_, Some(f)) => f == field,
                _ => false,
            };
            if row_focused {
                focus_line = lines.len();
            }
            lines.push(self.row(field, focused, &issues, theme, width));
            if row_focused {
                // The focused field's problems in full, wrapped under it.
                let indent = LABEL + 5;
                for issue in &issues {
                    let text = format!("{} {}", marker(issue.severity), issue.message);
                    for piece in wrap(&text, width.saturating_sub(indent).max(10)) {
                        lines.push(Line::from(vec![
                            Span::raw(" ".repeat(indent)),
                            Span::styled(piece, issue_style(issue.severity, theme)),
                        ]));
                    }
                }
            }
        }
        lines.push(Line::styled(
            "  + ctrl-n adds a custom trait (its value is JSON, or text)",
            theme.dim,
        ));
        (lines, focus_line)
    }

    fn row(
        &self,
        field: Field,
        focused: Option<Field>,
        issues: &[&Issue],
        theme: &Theme,
        width: usize,
    ) -> Line<'static> {
        let worst = issues.iter().map(|i| i.severity).min();
        let row_focused = match (field, focused) {
            (Field::CustomKey(n), Some(f)) => {
                f == Field::CustomKey(n) || f == Field::CustomValue(n)
            }
            (_, Some(f)) => f == field,
            _ => false,
        };
        let mut spans = vec![
            Span::raw(if row_focused {
                SELECTION_MARKER
            } else {
                NO_SELECTION_MARKER
            }),
            match worst {
                Some(s) => Span::styled(format!("{} ", marker(s)), issue_style(s, theme)),
                None => Span::raw("  "),
            },
        ];
        let label_style = if row_focused {
            theme.selected_row
        } else if matches!(field, Field::CustomKey(_)) {
            theme.custom_trait
        } else {
            theme.reserved_trait
        };
        let avail = width.saturating_sub(LABEL + 5);
        let (value_field, value_width) = match field {
            Field::CustomKey(n) => {
                // The key is edited in the label column.
                let key_focused = focused == Some(field);
                spans.extend(self.text_spans(field, key_focused, LABEL, label_style, theme));
                spans.push(Span::raw(" "));
                (Field::CustomValue(n), avail)
            }
            _ => {
                spans.push(Span::styled(fit(label(field), LABEL), label_style));
                spans.push(Span::raw(" "));
                (field, avail)
            }
        };
        let value_focused = focused == Some(value_field);
        let message = worst
            .and_then(|_| issues.first())
            .filter(|_| !row_focused)
            .map(|i| format!("{} {}", marker(i.severity), i.message));
        let value_width = match &message {
            Some(_) => {
                let text = columns(self.draft().field(value_field)).max(8) + 1;
                text.min(value_width / 2).max(1)
            }
            None => value_width,
        };
        spans.extend(self.text_spans(
            value_field,
            value_focused,
            value_width,
            theme.tree_row,
            theme,
        ));
        if let (Some(m), Some(s)) = (message, worst) {
            let room = avail.saturating_sub(value_width + 1);
            spans.push(Span::raw(" "));
            spans.push(Span::styled(fit(&m, room), issue_style(s, theme)));
        }
        Line::from(spans)
    }

    /// A field's text in `width` columns: the cursor shown when focused (the window follows
    /// it), a placeholder when empty.
    fn text_spans(
        &self,
        field: Field,
        focused: bool,
        width: usize,
        style: Style,
        theme: &Theme,
    ) -> Vec<Span<'static>> {
        let text = safe(self.draft().field(field)).into_owned();
        if !focused {
            if text.is_empty() {
                return vec![Span::styled(fit(placeholder(field), width), theme.dim)];
            }
            return vec![Span::styled(fit(&text, width), style)];
        }
        let chars: Vec<char> = text.chars().collect();
        let cursor = self.cursor().min(chars.len());
        // Slide the window so the cursor (one column) always fits.
        let mut start = 0;
        while columns(&chars[start..cursor].iter().collect::<String>()) + 1 > width.max(1)
            && start < cursor
        {
            start += 1;
        }
        let before: String = chars[start..cursor].iter().collect();
        let under = chars.get(cursor).map_or(" ".to_string(), char::to_string);
        let room = width.saturating_sub(columns(&before) + columns(&under));
        let after: String = chars.iter().skip(cursor + 1).collect::<String>();
        vec![
            Span::styled(before, style),
            Span::styled(under, theme.selected_row),
            Span::styled(fit(&after, room), style),
        ]
    }

    /// What stops the send, how the send goes, or how it ended.
    fn summary_lines(&self, view: &FormView<'_>, width: usize) -> Vec<Line<'static>> {
        let theme = view.theme;
        if let Some(busy) = self.busy() {
            let text = match busy {
                Busy::SavingLocal => "⌂ keeping the call in the store…".to_string(),
                Busy::Sending {
                    cancelling: true, ..
                } => "⟳ cancelling: the attempt in flight finishes first…".to_string(),
                Busy::Sending { last: None, .. } => format!(
                    "⟳ sending to {}… esc cancels",
                    safe(view.data_plane.unwrap_or("the data plane"))
                ),
                Busy::Sending { last: Some(r), .. } => {
                    let what = match &r.outcome {
                        Outcome::Retryable { reason } | Outcome::Failed { reason } => {
                            safe(reason).into_owned()
                        }
                        Outcome::Rejected { meaning, .. } => safe(meaning).into_owned(),
                        Outcome::Accepted { .. } => "accepted".into(),
                    };
                    match r.next_delay {
                        Some(d) => format!(
                            "⟳ attempt {}/{}, retrying in {:.1} s: {what} · esc cancels",
                            r.attempt + 1,
                            r.max_attempts,
                            d.as_secs_f64()
                        ),
                        None => format!("⟳ attempt {}/{}: {what}", r.attempt, r.max_attempts),
                    }
                }
            };
            return vec![Line::styled(text, theme.warning)];
        }
        if let Some(note) = self.note() {
            let style = crate::ui::text::Tone::style(note.tone, theme);
            // One line each, cut to the width: the fields show every problem in full.
            return note
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let lead = if i == 0 { note.marker } else { " " };
                    Line::styled(fit(&format!("{lead} {}", safe(l)), width), style)
                })
                .collect();
        }
        let errors: Vec<&Issue> = self.errors().collect();
        let warnings = self.issues().len() - errors.len();
        let warn = match warnings {
            0 => String::new(),
            1 => " · ! 1 warning".into(),
            n => format!(" · ! {n} warnings"),
        };
        if errors.is_empty() {
            let how = match view.data_plane {
                Some(_) => "ctrl-s sends it; in the preview (shift-tab) y copies it as curl",
                None => "ctrl-l keeps it locally (no data plane configured)",
            };
            return vec![Line::from(vec![
                Span::styled("✓ ready: ", theme.changed_new),
                Span::styled(format!("{how}{warn}"), theme.tree_row),
            ])];
        }
        let reasons: Vec<String> = errors
            .iter()
            .map(|i| format!("{}: {}", i.field, i.message))
            .collect();
        let text = format!(
            "✗ cannot send yet ({} error{}{warn}): {}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            reasons.join("; ")
        );
        vec![Line::styled(fit(&text, width * 2), theme.error)]
    }

    fn draw_preview(&mut self, frame: &mut Frame, area: Rect, view: &FormView<'_>) {
        let theme = view.theme;
        let (title, lines) = match self.draft().to_event(view.now) {
            Ok(event) => {
                let body = event.to_string();
                let copy = if self.focus() == FormFocus::Preview {
                    "· y copies it as curl "
                } else {
                    ""
                };
                (
                    format!(" Preview · POST /v1/group · {} bytes {copy}", body.len()),
                    json::pretty(&body),
                )
            }
            Err(_) => {
                let traits = serde_json::Value::Object(self.draft().traits()).to_string();
                let mut lines = vec![vec![crate::ui::text::ui(
                    "The exact JSON appears here once the call is valid. Traits so far:",
                    crate::ui::text::Tone::Dim,
                )]];
                lines.extend(json::pretty(&traits));
                (" Preview ".to_string(), lines)
            }
        };
        let focused = self.focus() == FormFocus::Preview;
        let block = Block::default()
            .borders(Borders::TOP)
            .border_style(if focused {
                theme.border_focused
            } else {
                theme.border
            })
            .title(Span::styled(
                title,
                if focused { theme.heading } else { theme.dim },
            ));
        let inner = block.inner(area);
        self.preview_height = inner.height as usize;
        self.preview_lines = lines.len();
        self.clamp_preview();
        let visible: Vec<Line> = lines
            .iter()
            .skip(self.preview_scroll())
            .take(inner.height as usize)
            .map(|l| render(l, theme, None))
            .collect();
        frame.render_widget(Paragraph::new(visible).block(block), area);
    }
}

/// Splits `text` at spaces into lines of at most `width` columns (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && columns(&line) + 1 + columns(word) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
        .into_iter()
        .map(|l| fit(&l, width).trim_end().to_string())
        .collect()
}

fn issue_style(severity: Severity, theme: &Theme) -> Style {
    match severity {
        Severity::Error => theme.error,
        Severity::Warning => theme.warning,
    }
}
