//! The compose form's state: the [`Draft`] being edited, which field has the keys and where the
//! cursor is, the draft's issues (recomputed on every change), the preview's scroll position
//! and, while a send runs, its progress. Keys arrive already resolved by the keymap; what the
//! form cannot do itself (save, send, copy, leave) it returns as a [`FormOutcome`].

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::edit::{self, EditResult};
use crate::compose::{Draft, Field, Issue};
use crate::send::AttemptReport;
use crate::ui::action::Action;
use crate::ui::keymap::InputContext;
use crate::ui::text::Tone;

/// Where the form's keys go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormFocus {
    /// A text field: it takes every printable key.
    Field(Field),
    /// The JSON preview: keys scroll it and `y` copies the curl command.
    Preview,
}

/// What the form asks of its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormOutcome {
    /// Not for the form: let the app handle it (quit, help).
    NotConsumed,
    /// Handled; only a redraw is needed.
    Consumed,
    /// The draft's text changed: save it.
    Changed,
    /// Close the form, keeping the draft.
    Leave,
    /// Send the call.
    Send,
    /// Keep the call locally.
    SaveLocal,
    /// Copy the ready curl command.
    CopyCurl,
    /// Cancel the send in progress.
    Cancel,
    /// Tell the user something in the status bar.
    Say(String),
}

/// What runs in the background for this form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Busy {
    /// Sending to the data plane; the last attempt's report, once there is one.
    Sending {
        /// The latest attempt report.
        last: Option<AttemptReport>,
        /// Esc was pressed: the send stops after the attempt in flight.
        cancelling: bool,
    },
    /// Writing the call to the store as a local call.
    SavingLocal,
}

/// A note shown under the fields: the outcome of the last send, or why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// How it reads: [`Tone::Error`] for a refusal or rejection, [`Tone::Warning`] for a call
    /// left in the outbox.
    pub tone: Tone,
    /// The symbol before the first line (`✗`, `!`, `✓`).
    pub marker: &'static str,
    /// One sentence per line.
    pub lines: Vec<String>,
}

/// The compose form.
#[derive(Debug, Clone)]
pub struct ComposeForm {
    draft: Draft,
    focus: FormFocus,
    cursor: usize,
    issues: Vec<Issue>,
    busy: Option<Busy>,
    note: Option<Note>,
    edited: bool,
    preview_scroll: usize,
    /// Rows of the preview window at the last draw, for paging.
    pub(super) preview_height: usize,
    /// Lines of the preview at the last draw, for clamping the scroll.
    pub(super) preview_lines: usize,
}

impl ComposeForm {
    /// A form on `draft`, focused on its first field. `edited` says whether the draft already
    /// differs from what it was made from (a reopened draft), so it is worth saving.
    pub fn new(draft: Draft, edited: bool) -> ComposeForm {
        let issues = draft.validate();
        let mut form = ComposeForm {
            draft,
            focus: FormFocus::Field(Field::UserId),
            cursor: 0,
            issues,
            busy: None,
            note: None,
            edited,
            preview_scroll: 0,
            preview_height: 0,
            preview_lines: 0,
        };
        form.focus_field(Field::UserId);
        form
    }

    /// The draft being edited.
    pub fn draft(&self) -> &Draft {
        &self.draft
    }

    /// Where the keys go.
    pub fn focus(&self) -> FormFocus {
        self.focus
    }

    /// The cursor, in characters into the focused field.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The draft's issues, in form order.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The issues that block sending.
    pub fn errors(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.is_error())
    }

    /// What runs in the background, if anything.
    pub fn busy(&self) -> Option<&Busy> {
        self.busy.as_ref()
    }

    /// The note under the fields.
    pub fn note(&self) -> Option<&Note> {
        self.note.as_ref()
    }

    /// Whether the draft was changed (only changed drafts are saved).
    pub fn edited(&self) -> bool {
        self.edited
    }

    /// Marks the draft as worth keeping (it is about to be sent or kept).
    pub fn mark_edited(&mut self) {
        self.edited = true;
    }

    /// The first preview line shown.
    pub fn preview_scroll(&self) -> usize {
        self.preview_scroll
    }

    /// Marks a background job as running (the form stops taking edits).
    pub fn set_busy(&mut self, busy: Option<Busy>) {
        self.busy = busy;
    }

    /// Records a send attempt's report, while sending.
    pub fn attempt(&mut self, report: AttemptReport) {
        if let Some(Busy::Sending { last, .. }) = &mut self.busy {
            *last = Some(report);
        }
    }

    /// Shows a note under the fields (or clears it).
    pub fn set_note(&mut self, note: Option<Note>) {
        self.note = note;
    }

    /// Whether the focused field takes printable keys.
    pub fn input_context(&self) -> InputContext {
        match self.focus {
            FormFocus::Field(_) => InputContext::TextInput,
            FormFocus::Preview => InputContext::Normal,
        }
    }

    /// The fields in form order: ids, reserved traits, address, custom traits (key then
    /// value, per row), timestamp, context.
    pub fn order(&self) -> Vec<Field> {
        let (head, tail) = Field::FIXED.split_at(Field::FIXED.len() - 2);
        let mut out = head.to_vec();
        for i in 0..self.draft.custom.len() {
            out.push(Field::CustomKey(i));
            out.push(Field::CustomValue(i));
        }
        out.extend_from_slice(tail);
        out
    }

    /// Moves the keys to `field`, with the cursor at the end of its text.
    pub fn focus_field(&mut self, field: Field) {
        self.focus = FormFocus::Field(field);
        self.cursor = self.draft.field(field).chars().count();
    }

    /// Applies an action from the keymap.
    pub fn on_action(&mut self, action: Action) -> FormOutcome {
        if self.busy.is_some() {
            return match action {
                Action::Back if self.is_sending() => {
                    if let Some(Busy::Sending { cancelling, .. }) = &mut self.busy {
                        *cancelling = true;
                    }
                    FormOutcome::Cancel
                }
                Action::ForceQuit | Action::Quit | Action::Help => FormOutcome::NotConsumed,
                _ => FormOutcome::Say("busy: the form takes edits again when this is done".into()),
            };
        }
        match (action, self.focus) {
            (Action::Back, _) => FormOutcome::Leave,
            (Action::Send, _) => FormOutcome::Send,
            (Action::SaveLocal, _) => FormOutcome::SaveLocal,
            (Action::AddField, _) => self.add_custom(),
            (Action::RemoveField, _) => self.remove_custom(),
            (Action::NextPane, _) | (Action::Toggle, FormFocus::Field(_)) => {
                self.step(1);
                FormOutcome::Consumed
            }
            (Action::PrevPane, _) => {
                self.step(-1);
                FormOutcome::Consumed
            }
            (Action::Copy, FormFocus::Preview) => FormOutcome::CopyCurl,
            (Action::Up, FormFocus::Preview) => self.scroll_preview(-1),
            (Action::Down, FormFocus::Preview) => self.scroll_preview(1),
            (Action::PageUp, FormFocus::Preview) => self.scroll_preview(-self.page()),
            (Action::PageDown, FormFocus::Preview) => self.scroll_preview(self.page()),
            (Action::Top, FormFocus::Preview) => self.scroll_preview(isize::MIN / 2),
            (Action::Bottom, FormFocus::Preview) => self.scroll_preview(isize::MAX / 2),
            (Action::Quit | Action::ForceQuit | Action::Help, _) => FormOutcome::NotConsumed,
            _ => FormOutcome::Consumed,
        }
    }

    /// Applies a key the keymap left to the focused field.
    pub fn on_key(&mut self, key: &KeyEvent) -> FormOutcome {
        let FormFocus::Field(field) = self.focus else {
            return FormOutcome::Consumed;
        };
        if self.busy.is_some() {
            return FormOutcome::Consumed;
        }
        match key.code {
            KeyCode::Up => {
                self.step(-1);
                return FormOutcome::Consumed;
            }
            KeyCode::Down => {
                self.step(1);
                return FormOutcome::Consumed;
            }
            _ => {}
        }
        let Some(text) = self.draft.field_mut(field) else {
            return FormOutcome::Consumed;
        };
        match edit::apply_key(text, &mut self.cursor, key) {
            EditResult::Changed => self.changed(),
            EditResult::Moved | EditResult::Ignored => FormOutcome::Consumed,
        }
    }

    /// Inserts pasted text into the focused field.
    pub fn on_paste(&mut self, pasted: &str) -> FormOutcome {
        let FormFocus::Field(field) = self.focus else {
            return FormOutcome::Consumed;
        };
        if self.busy.is_some() {
            return FormOutcome::Consumed;
        }
        let pasted = match self.draft.field_mut(field) {
            Some(text) => edit::paste(text, &mut self.cursor, pasted),
            None => false,
        };
        if pasted {
            self.changed()
        } else {
            FormOutcome::Consumed
        }
    }

    fn is_sending(&self) -> bool {
        matches!(self.busy, Some(Busy::Sending { .. }))
    }

    fn changed(&mut self) -> FormOutcome {
        self.edited = true;
        self.issues = self.draft.validate();
        // An old outcome no longer describes the call being edited.
        self.note = None;
        FormOutcome::Changed
    }

    /// Moves to the next (`1`) or previous (`-1`) stop: every field, then the preview.
    fn step(&mut self, delta: isize) {
        let order = self.order();
        let stops = order.len() + 1;
        let at = match self.focus {
            FormFocus::Field(f) => order.iter().position(|o| *o == f).unwrap_or(0),
            FormFocus::Preview => order.len(),
        };
        let next = (at as isize + delta).rem_euclid(stops as isize) as usize;
        match order.get(next) {
            Some(&f) => self.focus_field(f),
            None => self.focus = FormFocus::Preview,
        }
    }

    fn add_custom(&mut self) -> FormOutcome {
        self.draft.custom.push((String::new(), String::new()));
        self.focus_field(Field::CustomKey(self.draft.custom.len() - 1));
        self.changed()
    }

    fn remove_custom(&mut self) -> FormOutcome {
        let i = match self.focus {
            FormFocus::Field(Field::CustomKey(i) | Field::CustomValue(i))
                if i < self.draft.custom.len() =>
            {
                i
            }
            _ => return FormOutcome::Say("move to a custom trait to remove it".into()),
        };
        self.draft.custom.remove(i);
        let next = if i < self.draft.custom.len() {
            Field::CustomKey(i)
        } else if i > 0 {
            Field::CustomValue(i - 1)
        } else {
            Field::AddressCountry
        };
        self.focus_field(next);
        self.changed()
    }

    fn page(&self) -> isize {
        self.preview_height.saturating_sub(1).max(1) as isize
    }

    fn scroll_preview(&mut self, delta: isize) -> FormOutcome {
        let max = self
            .preview_lines
            .saturating_sub(self.preview_height.max(1));
        self.preview_scroll = self.preview_scroll.saturating_add_signed(delta).min(max);
        FormOutcome::Consumed
    }

    /// Keeps the preview scroll inside the text after a redraw measured it.
    pub(super) fn clamp_preview(&mut self) {
        let _ = self.scroll_preview(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(form: &mut ComposeForm, text: &str) {
        for c in text.chars() {
            assert_eq!(form.on_key(&key(KeyCode::Char(c))), FormOutcome::Changed);
        }
    }

    #[test]
    fn tab_walks_fields_custom_rows_then_the_preview_and_wraps() {
        let mut draft = Draft::new();
        draft.custom.push(("tier".into(), "2".into()));
        let mut form = ComposeForm::new(draft, false);
        assert_eq!(form.focus(), FormFocus::Field(Field::UserId));
        let order = form.order();
        assert_eq!(order.len(), 22);
        assert_eq!(order[18], Field::CustomKey(0));
        assert_eq!(order[19], Field::CustomValue(0));
        assert_eq!(order[20], Field::Timestamp);
        for _ in 0..19 {
            form.on_action(Action::NextPane);
        }
        assert_eq!(form.focus(), FormFocus::Field(Field::CustomValue(0)));
        assert_eq!(form.cursor(), 1);
        form.on_action(Action::Toggle);
        form.on_action(Action::NextPane);
        form.on_action(Action::NextPane);
        assert_eq!(form.focus(), FormFocus::Preview);
        assert_eq!(form.input_context(), InputContext::Normal);
        form.on_action(Action::NextPane);
        assert_eq!(form.focus(), FormFocus::Field(Field::UserId));
        form.on_action(Action::PrevPane);
        assert_eq!(form.focus(), FormFocus::Preview);
        // Arrows move between fields too, since a field has no use for them.
        form.on_action(Action::NextPane);
        form.on_key(&key(KeyCode::Down));
        assert_eq!(form.focus(), FormFocus::Field(Field::AnonymousId));
        form.on_key(&key(KeyCode::Up));
        assert_eq!(form.focus(), FormFocus::Field(Field::UserId));
    }

    #[test]
    fn typing_revalidates_and_marks_the_draft_edited() {
        let mut form = ComposeForm::new(Draft::new(), false);
        assert!(!form.edited());
        assert_eq!(form.errors().count(), 2);
        typed(&mut form, "u1");
        assert!(form.edited());
        assert_eq!(form.draft().user_id, "u1");
        form.focus_field(Field::Employees);
        typed(&mut form, "12a");
        let fields: Vec<Field> = form.errors().map(|i| i.field).collect();
        assert_eq!(fields, vec![Field::GroupId, Field::Employees]);
        assert_eq!(form.on_key(&key(KeyCode::Backspace)), FormOutcome::Changed);
        assert_eq!(form.errors().count(), 1);
        assert_eq!(form.on_paste("\n"), FormOutcome::Changed);
        assert_eq!(form.draft().employees, "12 ");
    }

    #[test]
    fn custom_rows_are_added_and_removed_with_the_focus_following() {
        let mut form = ComposeForm::new(Draft::new(), false);
        assert_eq!(
            form.on_action(Action::RemoveField),
            FormOutcome::Say("move to a custom trait to remove it".into())
        );
        assert_eq!(form.on_action(Action::AddField), FormOutcome::Changed);
        assert_eq!(form.focus(), FormFocus::Field(Field::CustomKey(0)));
        typed(&mut form, "vip");
        form.on_action(Action::NextPane);
        typed(&mut form, "true");
        form.on_action(Action::AddField);
        typed(&mut form, "seats");
        assert_eq!(
            form.draft().custom,
            vec![
                ("vip".to_string(), "true".to_string()),
                ("seats".to_string(), String::new())
            ]
        );
        form.on_action(Action::RemoveField);
        assert_eq!(form.focus(), FormFocus::Field(Field::CustomValue(0)));
        form.on_action(Action::RemoveField);
        assert!(form.draft().custom.is_empty());
        assert_eq!(form.focus(), FormFocus::Field(Field::AddressCountry));
    }

    #[test]
    fn leaving_sending_and_cancelling() {
        let mut form = ComposeForm::new(Draft::new(), false);
        assert_eq!(form.on_action(Action::Send), FormOutcome::Send);
        assert_eq!(form.on_action(Action::SaveLocal), FormOutcome::SaveLocal);
        // `y` in a field is text; in the preview it copies the curl command.
        assert_eq!(form.on_action(Action::Copy), FormOutcome::Consumed);
        form.on_action(Action::PrevPane);
        assert_eq!(form.on_action(Action::Copy), FormOutcome::CopyCurl);
        assert_eq!(form.on_action(Action::Quit), FormOutcome::NotConsumed);
        form.set_busy(Some(Busy::Sending {
            last: None,
            cancelling: false,
        }));
        assert!(matches!(form.on_action(Action::Send), FormOutcome::Say(_)));
        form.on_action(Action::NextPane);
        assert_eq!(form.on_key(&key(KeyCode::Char('x'))), FormOutcome::Consumed);
        assert_eq!(form.draft().user_id, "");
        assert_eq!(form.on_action(Action::Back), FormOutcome::Cancel);
        assert_eq!(
            form.busy(),
            Some(&Busy::Sending {
                last: None,
                cancelling: true
            })
        );
        form.set_busy(None);
        assert_eq!(form.on_action(Action::Back), FormOutcome::Leave);
    }
}
