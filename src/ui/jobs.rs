//! Background work for composing: saving drafts, listing the store, sending, keeping calls
//! locally, retrying and dropping outbox entries. Nothing here runs on the UI thread (unless a
//! test asks for it): each job reports back with a [`JobReply`] posted as a message.
//!
//! Drafts go through one [`DraftWriter`] thread fed by a channel ([`writer`]): the latest text
//! of each draft wins and the store is written at most every [`DEBOUNCE`], so typing fast costs
//! one write per 300 ms, and a crash loses at most that much. [`composed`] adds the calls made in
//! groupscope to a model load. Jobs that touch a draft in the store (send, keep
//! locally, list) first wait for the writer to flush, so a late save can never bring back a
//! draft that was just sent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::Value;

pub mod composed;
pub mod writer;

pub use composed::{load_composed, load_with_composed};
pub use writer::{DEBOUNCE, DraftWriter};

use super::app::Message;
use crate::compose::Draft;
use crate::send::dispatch::{Dispatch, dispatch, new_event, retry_entry};
use crate::send::{AttemptReport, RetryPolicy, Transport};
use crate::store::{self, OutboxEntry, Store};

/// How long quitting waits for the last draft write.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);

/// Something for a compose job to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Save this draft (debounced; the latest text wins).
    SaveDraft {
        /// The draft's messageId.
        id: String,
        /// The serialized draft.
        body: String,
    },
    /// Write pending drafts now (leaving the form).
    FlushDrafts,
    /// Delete a stored draft.
    DeleteDraft(String),
    /// Read the drafts and the outbox.
    ListStore,
    /// Queue this event in the outbox and send it with retries.
    Send(Box<Value>),
    /// Stop the send or retry in progress after its current attempt.
    Cancel,
    /// Keep this event in the store as a local call, never sent.
    SaveLocal(Box<Value>),
    /// Send these outbox entries again (row ids).
    Retry(Vec<i64>),
    /// Remove these outbox entries for good (row ids).
    DropOutbox(Vec<i64>),
}

/// What a job reports back.
#[derive(Debug)]
pub enum JobReply {
    /// The drafts and the outbox, or why they could not be read.
    Listed(Result<StoreLists, String>),
    /// A draft could not be saved.
    DraftFailed(String),
    /// A send attempt finished (more may follow).
    Attempt(AttemptReport),
    /// What became of a send.
    Sent(Result<Dispatch, String>),
    /// The call was kept locally (or not).
    SavedLocal(Result<(), String>),
    /// An attempt of a retry from the outbox finished.
    RetryAttempt {
        /// The outbox row.
        id: i64,
        /// The attempt.
        report: AttemptReport,
    },
    /// What became of each retried entry: row id, messageId, result.
    Retried(Vec<(i64, String, Result<Dispatch, String>)>),
    /// How many entries were dropped.
    Dropped(Result<usize, String>),
}

/// The drafts and the outbox, as the store holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreLists {
    /// Saved drafts, most recent first.
    pub drafts: Vec<SavedDraft>,
    /// Calls waiting to be sent, oldest first.
    pub outbox: Vec<OutboxEntry>,
}

/// A saved draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedDraft {
    /// Its messageId.
    pub id: String,
    /// When it was last saved, UTC ms.
    pub updated_ms: i64,
    /// The draft; `None` when the stored text is not a draft this version can read.
    pub draft: Option<Draft>,
}

/// Where job replies go: the event loop's channel, or a test's queue.
pub type Post = Arc<dyn Fn(Message) + Send + Sync>;

/// A transport shared with job threads.
pub type SharedTransport = Arc<dyn Transport + Send + Sync>;

/// Runs compose jobs: on threads (the explorer) or inline (tests, for determinism).
pub struct ComposeJobs {
    store: Option<PathBuf>,
    transport: Option<SharedTransport>,
    policy: RetryPolicy,
    post: Post,
    writer: DraftWriter,
    cancel: Arc<AtomicBool>,
    inline: bool,
}

impl ComposeJobs {
    /// Jobs over the store at `store` (created on the first write), sending with `transport`
    /// when a data plane is configured. `inline` runs every job but the draft writer on the
    /// calling thread.
    pub fn new(
        store: Option<PathBuf>,
        transport: Option<SharedTransport>,
        policy: RetryPolicy,
        post: Post,
        inline: bool,
    ) -> ComposeJobs {
        let writer = DraftWriter::spawn(store.clone(), post.clone());
        ComposeJobs {
            store,
            transport,
            policy,
            post,
            writer,
            cancel: Arc::new(AtomicBool::new(false)),
            inline,
        }
    }

    /// Starts `job`.
    pub fn perform(&mut self, job: Job) {
        match job {
            Job::SaveDraft { id, body } => self.writer.save(id, body),
            Job::FlushDrafts => self.writer.flush(),
            Job::DeleteDraft(id) => {
                self.writer.delete(id);
                self.perform(Job::ListStore);
            }
            Job::Cancel => self.cancel.store(true, Ordering::Relaxed),
            Job::ListStore => {
                let (store, writer) = (self.store.clone(), self.writer.clone());
                self.spawn(move || {
                    writer.flush_wait(FLUSH_TIMEOUT);
                    JobReply::Listed(list(store.as_deref()))
                });
            }
            Job::Send(event) => {
                self.cancel = Arc::new(AtomicBool::new(false));
                let (store, writer, post) =
                    (self.store.clone(), self.writer.clone(), self.post.clone());
                let (transport, policy, cancel) = (
                    self.transport.clone(),
                    self.policy.clone(),
                    self.cancel.clone(),
                );
                self.spawn(move || {
                    writer.flush_wait(FLUSH_TIMEOUT);
                    let Some(transport) = transport else {
                        return JobReply::Sent(Err("no data plane is configured".into()));
                    };
                    let result = open(store.as_deref()).and_then(|mut store| {
                        dispatch(
                            &mut store,
                            transport.as_ref(),
                            &event,
                            &policy,
                            &cancel,
                            &mut |report| post(Message::Job(Box::new(JobReply::Attempt(report)))),
                        )
                        .map_err(|e| e.to_string())
                    });
                    JobReply::Sent(result)
                });
            }
            Job::SaveLocal(event) => {
                let (store, writer) = (self.store.clone(), self.writer.clone());
                self.spawn(move || {
                    writer.flush_wait(FLUSH_TIMEOUT);
                    let raw = event.to_string();
                    let result = open(store.as_deref()).and_then(|mut store| {
                        store
                            .save_local(&new_event(&event, &raw, store::Origin::Local))
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    });
                    JobReply::SavedLocal(result)
                });
            }
            Job::Retry(ids) => {
                self.cancel = Arc::new(AtomicBool::new(false));
                let (store, post, transport) = (
                    self.store.clone(),
                    self.post.clone(),
                    self.transport.clone(),
                );
                let (policy, cancel) = (self.policy.clone(), self.cancel.clone());
                self.spawn(move || {
                    let Some(transport) = transport else {
                        return JobReply::Retried(Vec::new());
                    };
                    JobReply::Retried(retry(
                        store.as_deref(),
                        transport.as_ref(),
                        &ids,
                        &policy,
                        &cancel,
                        &post,
                    ))
                });
            }
            Job::DropOutbox(ids) => {
                let store = self.store.clone();
                self.spawn(move || {
                    JobReply::Dropped(open(store.as_deref()).and_then(|mut store| {
                        let mut dropped = 0;
                        for id in ids {
                            if store.remove_outbox(id).map_err(|e| e.to_string())? {
                                dropped += 1;
                            }
                        }
                        Ok(dropped)
                    }))
                });
            }
        }
    }

    /// Writes pending drafts and waits for it (before quitting).
    pub fn finish(&self) {
        self.writer.flush_wait(FLUSH_TIMEOUT);
    }

    fn spawn(&self, work: impl FnOnce() -> JobReply + Send + 'static) {
        let post = self.post.clone();
        let run = move || post(Message::Job(Box::new(work())));
        if self.inline {
            run();
        } else {
            thread::spawn(run);
        }
    }
}

/// Opens the store for writing (creating it), or says why not.
fn open(path: Option<&Path>) -> Result<Store, String> {
    let path = path.ok_or_else(no_store)?;
    Store::open(path).map_err(|e| e.to_string())
}

fn no_store() -> String {
    "no store location: use --store, GROUPSCOPE_STORE or set HOME".into()
}

/// Reads the drafts and the outbox; a store that does not exist yet is empty.
fn list(path: Option<&Path>) -> Result<StoreLists, String> {
    let Some(path) = path.filter(|p| p.exists()) else {
        return Ok(StoreLists::default());
    };
    let store = Store::open_read_only(path).map_err(|e| e.to_string())?;
    let drafts = store
        .drafts()
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|d| SavedDraft {
            draft: serde_json::from_str(&d.body).ok(),
            id: d.id,
            updated_ms: d.updated_ms,
        })
        .collect();
    let outbox = store.outbox().map_err(|e| e.to_string())?;
    Ok(StoreLists { drafts, outbox })
}

fn retry(
    path: Option<&Path>,
    transport: &dyn Transport,
    ids: &[i64],
    policy: &RetryPolicy,
    cancel: &AtomicBool,
    post: &Post,
) -> Vec<(i64, String, Result<Dispatch, String>)> {
    let mut store = match open(path) {
        Ok(s) => s,
        Err(e) => return vec![(0, String::new(), Err(e))],
    };
    let entries = match store.outbox() {
        Ok(entries) => entries,
        Err(e) => return vec![(0, String::new(), Err(e.to_string()))],
    };
    let mut out = Vec::new();
    for entry in entries.into_iter().filter(|e| ids.contains(&e.id)) {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let id = entry.id;
        let result = retry_entry(
            &mut store,
            transport,
            id,
            &entry.payload,
            policy,
            cancel,
            &mut |report| {
                post(Message::Job(Box::new(JobReply::RetryAttempt {
                    id,
                    report,
                })))
            },
        )
        .map_err(|e| e.to_string());
        out.push((id, entry.message_id, result));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::Draft;
    use crate::event::EventTime;
    use crate::ui::testdata::FakeTransport;
    use std::sync::Mutex;
    use std::time::Instant;

    #[test]
    fn a_send_runs_off_the_calling_thread_reports_attempts_and_stops_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let transport = FakeTransport::new(vec![FakeTransport::reply(503, "busy"); 4]);
        let seen: Arc<Mutex<Vec<Message>>> = Arc::default();
        let sink = seen.clone();
        let post: Post = Arc::new(move |m| sink.lock().unwrap().push(m));
        // A long backoff, so the send is sure to be waiting when it is cancelled.
        let policy = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_secs(20),
            max_delay: Duration::from_secs(20),
        };
        let mut jobs = ComposeJobs::new(
            Some(dir.path().join("store.db")),
            Some(transport.clone()),
            policy,
            post,
            false,
        );
        let mut draft = Draft::new();
        draft.user_id = "u".into();
        draft.group_id = "g".into();
        let event = draft.to_event(EventTime::from_utc_ms(0)).unwrap();
        let started = Instant::now();
        jobs.perform(Job::Send(Box::new(event)));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "perform returns at once"
        );
        let wait_for = |done: &dyn Fn(&[Message]) -> bool| {
            while !done(&seen.lock().unwrap()) {
                assert!(started.elapsed() < Duration::from_secs(10), "no reply");
                thread::sleep(Duration::from_millis(10));
            }
        };
        wait_for(&|m| !m.is_empty());
        jobs.perform(Job::Cancel);
        wait_for(&|m| m.len() >= 2);
        assert!(started.elapsed() < Duration::from_secs(10));
        let seen = seen.lock().unwrap();
        let replies: Vec<&JobReply> = seen
            .iter()
            .map(|m| match m {
                Message::Job(r) => r.as_ref(),
                other => panic!("{other:?}"),
            })
            .collect();
        match replies[0] {
            JobReply::Attempt(a) => {
                assert_eq!((a.attempt, a.max_attempts), (1, 4));
                assert!(a.next_delay.is_some());
            }
            other => panic!("{other:?}"),
        }
        match replies[1] {
            JobReply::Sent(Ok(Dispatch::Queued { reason, attempts })) => {
                assert_eq!((reason.as_str(), *attempts), (crate::send::CANCELLED, 1));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(transport.posted.lock().unwrap().len(), 1);
    }
}
