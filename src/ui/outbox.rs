//! The outbox view: calls waiting to be sent (group, user, attempts, age, last error) and the
//! saved drafts, in one list. Retry one or all, drop a call or delete a draft (asked twice,
//! since nothing composed should vanish by a slip), open a draft in the form.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use serde_json::Value;

use super::action::Action;
use super::jobs::StoreLists;
use super::text::{fit, safe};
use super::theme::{NO_SELECTION_MARKER, SELECTION_MARKER, Theme};
use crate::store::OutboxEntry;

/// One row of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxRow {
    /// An outbox entry, by index in [`StoreLists::outbox`].
    Entry(usize),
    /// A draft, by index in [`StoreLists::drafts`].
    Draft(usize),
}

/// What the view asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxOutcome {
    /// Not for the view (quit, help, compose).
    NotConsumed,
    /// Handled; redraw.
    Consumed,
    /// Close the view.
    Close,
    /// Open this draft (by messageId) in the form.
    OpenDraft(String),
    /// Send these entries again (row ids).
    Retry(Vec<i64>),
    /// Drop this entry (row id).
    Drop(i64),
    /// Delete this draft (messageId).
    DeleteDraft(String),
    /// Tell the user something.
    Say(String),
}

/// The view's state: the selection, the window, and a drop waiting for confirmation.
#[derive(Debug, Clone, Default)]
pub struct OutboxView {
    selected: usize,
    offset: usize,
    height: usize,
    confirm: Option<OutboxRow>,
}

/// The rows of `lists`: entries first, then drafts.
pub fn rows(lists: &StoreLists) -> Vec<OutboxRow> {
    (0..lists.outbox.len())
        .map(OutboxRow::Entry)
        .chain((0..lists.drafts.len()).map(OutboxRow::Draft))
        .collect()
}

/// The group and user a stored event names (`?` when it names none).
pub fn entry_target(entry: &OutboxEntry) -> (String, String) {
    let v: Value = serde_json::from_str(&entry.payload).unwrap_or(Value::Null);
    let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    (
        text("groupId").unwrap_or("?").to_owned(),
        text("userId")
            .or_else(|| text("anonymousId"))
            .unwrap_or("?")
            .to_owned(),
    )
}

/// A short age: `40s`, `5m`, `3h`, `2d`.
pub fn age(now_ms: i64, then_ms: i64) -> String {
    let s = (now_ms - then_ms).max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

impl OutboxView {
    /// The selected row.
    pub fn selected(&self, lists: &StoreLists) -> Option<OutboxRow> {
        rows(lists).get(self.selected).copied()
    }

    /// Selects the first row (when the view opens).
    pub fn reset(&mut self) {
        *self = OutboxView::default();
    }

    /// Applies an action.
    pub fn on_action(&mut self, action: Action, lists: &StoreLists) -> OutboxOutcome {
        let all = rows(lists);
        self.selected = self.selected.min(all.len().saturating_sub(1));
        let current = all.get(self.selected).copied();
        let page = self.height.saturating_sub(1).max(1);
        if action != Action::Drop {
            self.confirm = None;
        }
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(all.len().saturating_sub(1)),
            Action::PageUp => self.selected = self.selected.saturating_sub(page),
            Action::PageDown => {
                self.selected = (self.selected + page).min(all.len().saturating_sub(1));
            }
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = all.len().saturating_sub(1),
            Action::Back | Action::Outbox => return OutboxOutcome::Close,
            Action::Toggle => {
                return match current {
                    Some(OutboxRow::Draft(i)) => {
                        OutboxOutcome::OpenDraft(lists.drafts[i].id.clone())
                    }
                    Some(OutboxRow::Entry(_)) => OutboxOutcome::Say(
                        "this call waits to be sent: t sends it again, d drops it".into(),
                    ),
                    None => OutboxOutcome::Consumed,
                };
            }
            Action::Retry => {
                return match current {
                    Some(OutboxRow::Entry(i)) => OutboxOutcome::Retry(vec![lists.outbox[i].id]),
                    Some(OutboxRow::Draft(_)) => {
                        OutboxOutcome::Say("a draft is sent from the form: enter opens it".into())
                    }
                    None => OutboxOutcome::Say("the outbox is empty".into()),
                };
            }
            Action::RetryAll if lists.outbox.is_empty() => {
                return OutboxOutcome::Say("the outbox is empty".into());
            }
            Action::RetryAll => {
                return OutboxOutcome::Retry(lists.outbox.iter().map(|e| e.id).collect());
            }
            Action::Drop => return self.drop(current, lists),
            Action::Quit | Action::ForceQuit | Action::Help | Action::Compose | Action::Edit => {
                return OutboxOutcome::NotConsumed;
            }
            _ => {}
        }
        OutboxOutcome::Consumed
    }

    /// A drop needs the key twice on the same row.
    fn drop(&mut self, current: Option<OutboxRow>, lists: &StoreLists) -> OutboxOutcome {
        let Some(row) = current else {
            return OutboxOutcome::Say("nothing to drop".into());
        };
        if self.confirm != Some(row) {
            self.confirm = Some(row);
            let what = match row {
                OutboxRow::Entry(_) => "drop this call: it will never be sent",
                OutboxRow::Draft(_) => "delete this draft",
            };
            return OutboxOutcome::Say(format!("press d again to {what}"));
        }
        self.confirm = None;
        match row {
            OutboxRow::Entry(i) => OutboxOutcome::Drop(lists.outbox[i].id),
            OutboxRow::Draft(i) => OutboxOutcome::DeleteDraft(lists.drafts[i].id.clone()),
        }
    }

    /// Draws the view; `progress` is the line about a retry in progress, if any.
    pub fn draw(
        &mut self,
        frame: &mut Frame,
        area: Rect,
        lists: &StoreLists,
        now_ms: i64,
        progress: Option<&str>,
        theme: &Theme,
    ) {
        let block = Block::default()
            .borders(Borders::ALL)
            .border_style(theme.border_focused)
            .title(Span::styled(
                format!(
                    " Outbox · {} waiting · {} ",
                    lists.outbox.len(),
                    match lists.drafts.len() {
                        1 => "1 draft".to_string(),
                        n => format!("{n} drafts"),
                    }
                ),
                theme.heading,
            ));
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let width = inner.width as usize;
        let all = rows(lists);
        self.selected = self.selected.min(all.len().saturating_sub(1));
        let mut lines: Vec<Line> = Vec::new();
        let mut selected_line = 0;
        let marker = |i: usize| {
            if i == self.selected {
                SELECTION_MARKER
            } else {
                NO_SELECTION_MARKER
            }
        };
        lines.push(Line::styled(
            "Waiting to be sent (oldest first)",
            theme.heading,
        ));
        if lists.outbox.is_empty() {
            lines.push(Line::styled(
                "  nothing waits: every composed call was sent or kept",
                theme.dim,
            ));
        } else {
            lines.push(Line::styled(
                format!(
                    "  {} {} {} {:>5}  {:>4}  last error",
                    fit("#", 4),
                    fit("group", 16),
                    fit("user", 12),
                    "tries",
                    "age"
                ),
                theme.dim,
            ));
        }
        for (i, row) in all.iter().enumerate() {
            let OutboxRow::Entry(e) = *row else { continue };
            let entry = &lists.outbox[e];
            let (group, user) = entry_target(entry);
            let text = format!(
                "{}{} {} {} {:>5}  {:>4}  {}",
                marker(i),
                fit(&entry.id.to_string(), 4),
                fit(&safe(&group), 16),
                fit(&safe(&user), 12),
                entry.attempts,
                age(now_ms, entry.created_ms),
                safe(entry.last_error.as_deref().unwrap_or("not tried yet"))
            );
            if i == self.selected {
                selected_line = lines.len();
            }
            lines.push(self.row_line(text, i, width, theme));
        }
        lines.push(Line::default());
        lines.push(Line::styled("Drafts (most recent first)", theme.heading));
        if lists.drafts.is_empty() {
            lines.push(Line::styled("  no drafts", theme.dim));
        }
        for (i, row) in all.iter().enumerate() {
            let OutboxRow::Draft(d) = *row else { continue };
            let saved = &lists.drafts[d];
            let (group, user) = match &saved.draft {
                Some(draft) => (
                    non_empty(&draft.group_id, "(no groupId)"),
                    non_empty(&draft.user_id, non_empty(&draft.anonymous_id, "(no user)")),
                ),
                None => ("(unreadable draft)", ""),
            };
            let queued = lists.outbox.iter().any(|e| e.message_id == saved.id);
            let text = format!(
                "{}{} {} edited {} ago{}",
                marker(i),
                fit(&safe(group), 16),
                fit(&safe(user), 12),
                age(now_ms, saved.updated_ms),
                if queued { " · in the outbox" } else { "" }
            );
            if i == self.selected {
                selected_line = lines.len();
            }
            lines.push(self.row_line(text, i, width, theme));
        }
        let detail = self.detail(lists, progress);
        let detail_height = detail.len().min(inner.height as usize / 2) as u16;
        let list_area = Rect {
            height: inner.height.saturating_sub(detail_height + 1),
            ..inner
        };
        self.height = list_area.height as usize;
        if selected_line < self.offset {
            self.offset = selected_line.saturating_sub(2);
        } else if selected_line >= self.offset + self.height.max(1) {
            self.offset = selected_line + 1 - self.height.max(1);
        }
        let visible: Vec<Line> = lines.into_iter().skip(self.offset).collect();
        frame.render_widget(Paragraph::new(visible), list_area);
        let detail_area = Rect {
            y: inner.y + inner.height.saturating_sub(detail_height),
            height: detail_height,
            ..inner
        };
        let styled: Vec<Line> = detail
            .into_iter()
            .map(|(text, error)| Line::styled(text, if error { theme.error } else { theme.dim }))
            .collect();
        frame.render_widget(
            Paragraph::new(styled).wrap(Wrap { trim: false }),
            detail_area,
        );
    }

    fn row_line(&self, text: String, i: usize, width: usize, theme: &Theme) -> Line<'static> {
        let text = fit(&text, width);
        if i == self.selected {
            Line::styled(text, theme.selected_row)
        } else {
            Line::styled(text, theme.tree_row)
        }
    }

    /// Lines about the selected row (full error, messageId); `true` marks errors.
    fn detail(&self, lists: &StoreLists, progress: Option<&str>) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        if let Some(p) = progress {
            out.push((safe(p).into_owned(), false));
        }
        match self.selected(lists) {
            Some(OutboxRow::Entry(i)) => {
                let e = &lists.outbox[i];
                if let Some(err) = &e.last_error {
                    out.push((format!("✗ {}", safe(err)), true));
                }
                out.push((format!("messageId {}", safe(&e.message_id)), false));
            }
            Some(OutboxRow::Draft(i)) => {
                out.push((format!("messageId {}", safe(&lists.drafts[i].id)), false));
            }
            None => {}
        }
        out
    }
}

fn non_empty<'a>(text: &'a str, otherwise: &'a str) -> &'a str {
    if text.trim().is_empty() {
        otherwise
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::jobs::SavedDraft;

    fn entry(id: i64, payload: &str) -> OutboxEntry {
        OutboxEntry {
            id,
            message_id: format!("m{id}"),
            payload: payload.into(),
            attempts: 4,
            last_error: Some("server error (HTTP 503)".into()),
            created_ms: 0,
            last_attempt_ms: None,
        }
    }

    fn lists() -> StoreLists {
        StoreLists {
            outbox: vec![
                entry(3, r#"{"groupId":"g1","userId":"u1"}"#),
                entry(7, r#"{"groupId":"g2","anonymousId":"a2"}"#),
            ],
            drafts: vec![SavedDraft {
                id: "d1".into(),
                updated_ms: 0,
                draft: None,
            }],
        }
    }

    #[test]
    fn rows_targets_and_ages() {
        let l = lists();
        assert_eq!(
            rows(&l),
            vec![
                OutboxRow::Entry(0),
                OutboxRow::Entry(1),
                OutboxRow::Draft(0)
            ]
        );
        assert_eq!(entry_target(&l.outbox[1]), ("g2".into(), "a2".into()));
        assert_eq!(
            entry_target(&entry(1, "not json")),
            ("?".into(), "?".into())
        );
        assert_eq!(age(65_000, 0), "1m");
        assert_eq!(age(59_000, 0), "59s");
        assert_eq!(age(7_200_000, 0), "2h");
        assert_eq!(age(3 * 86_400_000, 0), "3d");
        assert_eq!(age(0, 5_000), "0s");
    }

    #[test]
    fn retry_one_or_all_open_drafts_and_drop_only_when_asked_twice() {
        let l = lists();
        let mut v = OutboxView::default();
        assert_eq!(
            v.on_action(Action::Retry, &l),
            OutboxOutcome::Retry(vec![3])
        );
        assert_eq!(
            v.on_action(Action::RetryAll, &l),
            OutboxOutcome::Retry(vec![3, 7])
        );
        assert!(
            matches!(v.on_action(Action::Drop, &l), OutboxOutcome::Say(s) if s.contains("never be sent"))
        );
        assert_eq!(v.on_action(Action::Drop, &l), OutboxOutcome::Drop(3));
        // Moving away cancels a pending confirmation.
        v.on_action(Action::Drop, &l);
        v.on_action(Action::Down, &l);
        assert!(matches!(
            v.on_action(Action::Drop, &l),
            OutboxOutcome::Say(_)
        ));
        v.on_action(Action::Bottom, &l);
        assert_eq!(v.selected(&l), Some(OutboxRow::Draft(0)));
        assert_eq!(
            v.on_action(Action::Toggle, &l),
            OutboxOutcome::OpenDraft("d1".into())
        );
        assert!(matches!(
            v.on_action(Action::Retry, &l),
            OutboxOutcome::Say(_)
        ));
        v.on_action(Action::Drop, &l);
        assert_eq!(
            v.on_action(Action::Drop, &l),
            OutboxOutcome::DeleteDraft("d1".into())
        );
        assert_eq!(v.on_action(Action::Back, &l), OutboxOutcome::Close);
        assert_eq!(v.on_action(Action::Quit, &l), OutboxOutcome::NotConsumed);
        let empty = StoreLists::default();
        let mut v = OutboxView::default();
        assert_eq!(
            v.on_action(Action::RetryAll, &empty),
            OutboxOutcome::Say("the outbox is empty".into())
        );
        assert_eq!(v.selected(&empty), None);
    }
}
