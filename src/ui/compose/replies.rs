//! What the composer does with a background job's answer: show the send's progress and
//! outcome in the form, close it when the call was sent or kept, refresh the outbox.

use super::form::Note;
use super::{Composer, Out, Pane};
use crate::send::dispatch::Dispatch;
use crate::send::{CANCELLED, Outcome};
use crate::ui::jobs::{Job, JobReply};
use crate::ui::status::Level;
use crate::ui::text::Tone;

impl Composer {
    /// A background job's answer.
    pub fn on_reply(&mut self, reply: JobReply, out: &mut Out<'_>) {
        match reply {
            JobReply::Listed(Ok(lists)) => {
                let first = !self.listed;
                self.listed = true;
                self.lists = lists;
                let n = self.lists.drafts.len();
                if first && n > 0 && self.form.is_none() {
                    let text = match n {
                        1 => "1 saved draft: c reopens it".to_string(),
                        n => format!("{n} saved drafts: c reopens the latest, o lists them"),
                    };
                    out.say(text, Level::Info);
                }
            }
            JobReply::Listed(Err(e)) => out.say(format!("store: {e}"), Level::Warning),
            JobReply::DraftFailed(e) => out.say(e, Level::Error),
            JobReply::Attempt(report) => {
                if let Some(form) = &mut self.form {
                    form.attempt(report);
                }
            }
            JobReply::Sent(result) => self.sent(result, out),
            JobReply::SavedLocal(Ok(())) => {
                let group = self
                    .form
                    .take()
                    .map(|f| f.draft().group_id.trim().to_owned());
                self.pane = Pane::Hidden;
                out.say(
                    "⌂ kept locally in the store (never sent); it is in the tree now",
                    Level::Info,
                );
                out.reload = true;
                out.reveal = group;
                out.job(Job::ListStore);
            }
            JobReply::SavedLocal(Err(e)) => {
                if let Some(form) = &mut self.form {
                    form.set_busy(None);
                    form.set_note(Some(Note {
                        tone: Tone::Error,
                        marker: "✗",
                        lines: vec![
                            format!("could not keep the call: {e}"),
                            "the draft is kept".into(),
                        ],
                    }));
                }
                out.say(format!("could not keep the call: {e}"), Level::Error);
            }
            JobReply::RetryAttempt { id, report } => {
                self.retrying = Some(format!(
                    "⟳ #{id}: attempt {}/{}: {}",
                    report.attempt,
                    report.max_attempts,
                    outcome_text(&report.outcome)
                ));
            }
            JobReply::Retried(results) => self.retried(results, out),
            JobReply::Dropped(Ok(n)) => {
                out.say(
                    format!("dropped {n} call{}", if n == 1 { "" } else { "s" }),
                    Level::Info,
                );
                out.job(Job::ListStore);
            }
            JobReply::Dropped(Err(e)) => out.say(format!("could not drop: {e}"), Level::Error),
        }
    }

    fn sent(&mut self, result: Result<Dispatch, String>, out: &mut Out<'_>) {
        out.job(Job::ListStore);
        let Some(form) = &mut self.form else {
            return;
        };
        form.set_busy(None);
        let (note, level) = match result {
            Ok(Dispatch::Sent { attempts, note }) => {
                let group = form.draft().group_id.trim().to_owned();
                self.form = None;
                self.pane = Pane::Hidden;
                let tries = if attempts > 1 {
                    format!(" after {attempts} attempts")
                } else {
                    String::new()
                };
                let extra = note.map(|n| format!(" ({n})")).unwrap_or_default();
                out.say(
                    format!("↑ sent{tries}: the data plane accepted the call{extra}; it is in the tree now"),
                    Level::Info,
                );
                out.reload = true;
                out.reveal = Some(group);
                return;
            }
            Ok(Dispatch::Rejected {
                status,
                server_message,
                meaning,
            }) => (
                Note {
                    tone: Tone::Error,
                    marker: "✗",
                    lines: vec![
                        format!("rejected with HTTP {status}: {meaning}"),
                        format!(
                            "the server said: {}",
                            if server_message.is_empty() {
                                "(nothing)".to_string()
                            } else {
                                format!("{server_message:?}")
                            }
                        ),
                        "not retried; the draft is kept (the call also waits in the outbox: o)"
                            .into(),
                    ],
                },
                Level::Error,
            ),
            Ok(Dispatch::Queued { reason, attempts }) => {
                let first = if reason == CANCELLED {
                    "cancelled before it was delivered".to_string()
                } else {
                    format!(
                        "not delivered after {attempts} attempt{}: {reason}",
                        if attempts == 1 { "" } else { "s" }
                    )
                };
                (
                    Note {
                        tone: Tone::Warning,
                        marker: "!",
                        lines: vec![
                            first,
                            "kept in the outbox: o shows it, t there sends it again".into(),
                        ],
                    },
                    Level::Warning,
                )
            }
            Err(e) => (
                Note {
                    tone: Tone::Error,
                    marker: "✗",
                    lines: vec![format!("could not send: {e}"), "the draft is kept".into()],
                },
                Level::Error,
            ),
        };
        out.say(note.lines[0].clone(), level);
        form.set_note(Some(note));
    }

    fn retried(
        &mut self,
        results: Vec<(i64, String, Result<Dispatch, String>)>,
        out: &mut Out<'_>,
    ) {
        self.retrying = None;
        let sent: Vec<&String> = results
            .iter()
            .filter(|(_, _, r)| matches!(r, Ok(Dispatch::Sent { .. })))
            .map(|(_, m, _)| m)
            .collect();
        if self
            .form
            .as_ref()
            .is_some_and(|f| sent.contains(&&f.draft().message_id))
        {
            // Its draft went with the send; editing it on would bring back a sent call.
            self.form = None;
        }
        let failed = results.len() - sent.len();
        let last_problem = results.iter().rev().find_map(|(_, _, r)| match r {
            Ok(Dispatch::Sent { .. }) => None,
            Ok(other) => Some(other.describe()),
            Err(e) => Some(e.clone()),
        });
        let text = match last_problem {
            Some(p) => format!("{} sent, {failed} still waiting: {p}", sent.len()),
            None => format!("↑ {} sent; the tree shows them now", sent.len()),
        };
        out.say(
            text,
            if failed > 0 {
                Level::Warning
            } else {
                Level::Info
            },
        );
        if !sent.is_empty() {
            out.reload = true;
        }
        out.job(Job::ListStore);
    }
}

/// An attempt's outcome in a few words.
fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Accepted { .. } => "accepted".into(),
        Outcome::Rejected {
            status, meaning, ..
        } => format!("HTTP {status}: {meaning}"),
        Outcome::Retryable { reason } | Outcome::Failed { reason } => reason.clone(),
    }
}
