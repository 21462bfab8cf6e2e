//! The one thread that writes drafts: the latest text of each draft wins, and the store is
//! written at most every [`DEBOUNCE`] (and at once on a flush), so typing costs one write per
//! 300 ms and a crash loses at most that much.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use super::{JobReply, Post, no_store};
use crate::store::Store;
use crate::ui::app::Message;

/// The shortest time between two draft writes.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

enum WriterCmd {
    Save(String, String),
    Delete(String),
    Flush(Option<Sender<()>>),
}

/// The one thread that writes drafts; cheap to clone (a channel end).
#[derive(Clone)]
pub struct DraftWriter {
    tx: Sender<WriterCmd>,
}

impl DraftWriter {
    /// Starts the writer for the store at `path`; it reports failures through `post`.
    pub fn spawn(path: Option<PathBuf>, post: Post) -> DraftWriter {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || write_drafts(&rx, path.as_deref(), &post));
        DraftWriter { tx }
    }

    /// Saves a draft soon (the latest text of each draft wins).
    pub fn save(&self, id: String, body: String) {
        let _ = self.tx.send(WriterCmd::Save(id, body));
    }

    /// Deletes a draft.
    pub fn delete(&self, id: String) {
        let _ = self.tx.send(WriterCmd::Delete(id));
    }

    /// Writes what is pending now, without waiting.
    pub fn flush(&self) {
        let _ = self.tx.send(WriterCmd::Flush(None));
    }

    /// Writes what is pending now and waits (at most `timeout`) until it is written.
    pub fn flush_wait(&self, timeout: Duration) {
        let (ack, done) = mpsc::channel();
        if self.tx.send(WriterCmd::Flush(Some(ack))).is_ok() {
            let _ = done.recv_timeout(timeout);
        }
    }
}

/// The writer's loop: gather commands, write when due, acknowledge flushes.
fn write_drafts(rx: &Receiver<WriterCmd>, path: Option<&Path>, post: &Post) {
    let mut store: Option<Store> = None;
    let mut pending: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut last_write: Option<Instant> = None;
    let mut acks: Vec<Sender<()>> = Vec::new();
    let mut last_error: Option<String> = None;
    loop {
        let due = last_write.map_or_else(Instant::now, |t| t + DEBOUNCE);
        let cmd = if pending.is_empty() {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(due.saturating_duration_since(Instant::now()))
        };
        let mut now = false;
        let mut stop = false;
        match cmd {
            Ok(WriterCmd::Save(id, body)) => {
                pending.insert(id, Some(body));
            }
            Ok(WriterCmd::Delete(id)) => {
                pending.insert(id, None);
                now = true;
            }
            Ok(WriterCmd::Flush(ack)) => {
                acks.extend(ack);
                now = true;
            }
            Err(RecvTimeoutError::Timeout) => now = true,
            Err(RecvTimeoutError::Disconnected) => stop = true,
        }
        if now || stop || Instant::now() >= due {
            if !pending.is_empty() {
                let result = write_pending(&mut store, path, &mut pending);
                last_write = Some(Instant::now());
                match result {
                    Ok(()) => last_error = None,
                    // One report per kind of failure, not one per keystroke.
                    Err(e) if last_error.as_ref() != Some(&e) => {
                        post(Message::Job(Box::new(JobReply::DraftFailed(e.clone()))));
                        last_error = Some(e);
                    }
                    Err(_) => {}
                }
            }
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
        }
        if stop {
            return;
        }
    }
}

/// Writes every pending draft (or deletion); what fails stays pending for the next try.
fn write_pending(
    store: &mut Option<Store>,
    path: Option<&Path>,
    pending: &mut BTreeMap<String, Option<String>>,
) -> Result<(), String> {
    let Some(path) = path else {
        pending.clear();
        return Err(format!("drafts cannot be saved: {}", no_store()));
    };
    if store.is_none() {
        *store = Some(Store::open(path).map_err(|e| format!("drafts cannot be saved: {e}"))?);
    }
    let Some(s) = store.as_mut() else {
        return Ok(());
    };
    while let Some((id, body)) = pending.pop_first() {
        let result = match &body {
            Some(body) => s.save_draft(&id, body),
            None => s.delete_draft(&id).map(|_| ()),
        };
        if let Err(e) = result {
            pending.insert(id, body);
            return Err(format!("the draft could not be saved: {e}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::jobs::FLUSH_TIMEOUT;
    use std::sync::{Arc, Mutex};

    fn collector() -> (Post, Arc<Mutex<Vec<Message>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let post: Post = Arc::new(move |m| sink.lock().unwrap().push(m));
        (post, seen)
    }

    #[test]
    fn the_writer_keeps_the_latest_text_and_writes_at_most_every_debounce() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/store.db");
        let (post, seen) = collector();
        let writer = DraftWriter::spawn(Some(path.clone()), post);
        // Nothing is created until there is something to save.
        writer.flush_wait(FLUSH_TIMEOUT);
        assert!(!path.exists());
        for text in ["a", "ab", "abc"] {
            writer.save("d1".into(), text.into());
        }
        // The first write goes out at once; the rest wait for the debounce.
        let started = Instant::now();
        writer.flush_wait(FLUSH_TIMEOUT);
        assert!(started.elapsed() < DEBOUNCE, "a flush does not wait");
        let store = Store::open_read_only(&path).unwrap();
        let drafts = store.drafts().unwrap();
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].body, "abc");
        // Without a flush, a save lands within the debounce.
        writer.save("d2".into(), "x".into());
        thread::sleep(DEBOUNCE + Duration::from_millis(200));
        assert_eq!(store.drafts().unwrap().len(), 2);
        writer.delete("d1".into());
        writer.flush_wait(FLUSH_TIMEOUT);
        let ids: Vec<String> = store.drafts().unwrap().into_iter().map(|d| d.id).collect();
        assert_eq!(ids, vec!["d2".to_string()]);
        assert!(seen.lock().unwrap().is_empty());
    }

    #[test]
    fn without_a_store_path_the_writer_reports_once() {
        let (post, seen) = collector();
        let writer = DraftWriter::spawn(None, post);
        writer.save("d".into(), "1".into());
        writer.flush_wait(FLUSH_TIMEOUT);
        writer.save("d".into(), "2".into());
        writer.flush_wait(FLUSH_TIMEOUT);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        match &seen[0] {
            Message::Job(reply) => match reply.as_ref() {
                JobReply::DraftFailed(e) => assert!(e.contains("no store location"), "{e}"),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }
}
