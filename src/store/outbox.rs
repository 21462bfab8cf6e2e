//! Drafts (calls being composed) and the Outbox (calls waiting to be sent, with their attempts).
//!
//! A draft's id is the messageId it will be sent with, so sending it can clear the draft, the
//! outbox row and record the event in one transaction ([`Store::mark_sent`]).

use rusqlite::{OptionalExtension, params};

use super::events::{NewEvent, Origin, insert_event};
use super::{Store, StoreError};

/// A saved draft; the body is opaque JSON owned by the composer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDraft {
    /// The draft's messageId.
    pub id: String,
    /// The serialized draft.
    pub body: String,
    /// When it was last saved, UTC milliseconds.
    pub updated_ms: i64,
}

/// A call waiting in the Outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Row id, for [`Store::record_attempt`] and [`Store::remove_outbox`].
    pub id: i64,
    /// The event's messageId (one row per messageId).
    pub message_id: String,
    /// The exact JSON event to send (never the request, never a key).
    pub payload: String,
    /// Failed send attempts so far.
    pub attempts: u32,
    /// The last failure, as shown to the user.
    pub last_error: Option<String>,
    /// When it was first queued, UTC milliseconds.
    pub created_ms: i64,
    /// When it was last tried, UTC milliseconds.
    pub last_attempt_ms: Option<i64>,
}

/// What [`Store::mark_sent`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkSent {
    /// The event was added to `events` (false: that messageId was already stored).
    pub inserted: bool,
    /// An outbox row was removed.
    pub outbox_removed: bool,
    /// A draft was removed.
    pub draft_removed: bool,
}

impl Store {
    /// Saves (or replaces) a draft.
    pub fn save_draft(&mut self, id: &str, body: &str) -> Result<(), StoreError> {
        self.writable()?;
        self.conn
            .execute(
                "INSERT INTO drafts (id, body, updated_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(id) DO UPDATE SET body = excluded.body, updated_ms = excluded.updated_ms",
                params![id, body, self.now_ms()],
            )
            .map(|_| ())
            .map_err(|e| self.fail(e))
    }

    /// All drafts, most recently saved first.
    pub fn drafts(&self) -> Result<Vec<StoredDraft>, StoreError> {
        let fail = |e| self.fail(e);
        let mut stmt = self
            .conn
            .prepare("SELECT id, body, updated_ms FROM drafts ORDER BY updated_ms DESC, id")
            .map_err(fail)?;
        stmt.query_map([], |r| {
            Ok(StoredDraft {
                id: r.get(0)?,
                body: r.get(1)?,
                updated_ms: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(fail)
    }

    /// Deletes a draft; false when there was none.
    pub fn delete_draft(&mut self, id: &str) -> Result<bool, StoreError> {
        self.writable()?;
        self.conn
            .execute("DELETE FROM drafts WHERE id = ?1", [id])
            .map(|n| n > 0)
            .map_err(|e| self.fail(e))
    }

    /// Queues a call, or updates the queued call with the same messageId (one row each).
    /// `error` is the failure of a send attempt just made: it counts as an attempt. `None`
    /// queues without an attempt (offline, or "send later"). Returns the row id.
    pub fn enqueue_outbox(
        &mut self,
        message_id: &str,
        payload: &str,
        error: Option<&str>,
    ) -> Result<i64, StoreError> {
        self.writable()?;
        let now = self.now_ms();
        let tried = error.is_some();
        self.conn
            .query_row(
                "INSERT INTO outbox (message_id, payload, attempts, last_error, created_ms, last_attempt_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, CASE WHEN ?3 > 0 THEN ?5 END) \
                 ON CONFLICT(message_id) DO UPDATE SET \
                   payload = excluded.payload, \
                   attempts = attempts + excluded.attempts, \
                   last_error = coalesce(excluded.last_error, last_error), \
                   last_attempt_ms = coalesce(excluded.last_attempt_ms, last_attempt_ms) \
                 RETURNING id",
                params![message_id, payload, i64::from(tried), error, now],
                |r| r.get(0),
            )
            .map_err(|e| self.fail(e))
    }

    /// Every queued call, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let fail = |e| self.fail(e);
        let mut stmt = self
            .conn
            .prepare(&format!("{SELECT_OUTBOX} ORDER BY created_ms, id"))
            .map_err(fail)?;
        stmt.query_map([], outbox_entry)
            .and_then(|rows| rows.collect())
            .map_err(fail)
    }

    /// Records a failed send attempt of a queued call; false when the row is gone.
    pub fn record_attempt(&mut self, id: i64, error: &str) -> Result<bool, StoreError> {
        self.record_attempts(id, 1, error)
    }

    /// Records `count` failed attempts (one send with retries) and the last error.
    pub fn record_attempts(
        &mut self,
        id: i64,
        count: u32,
        error: &str,
    ) -> Result<bool, StoreError> {
        self.writable()?;
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + ?4, last_error = ?2, last_attempt_ms = ?3 \
                 WHERE id = ?1",
                params![id, error, self.now_ms(), count],
            )
            .map(|n| n > 0)
            .map_err(|e| self.fail(e))
    }

    /// Drops a queued call without sending it; false when the row was already gone.
    pub fn remove_outbox(&mut self, id: i64) -> Result<bool, StoreError> {
        self.writable()?;
        self.conn
            .execute("DELETE FROM outbox WHERE id = ?1", [id])
            .map(|n| n > 0)
            .map_err(|e| self.fail(e))
    }

    /// After a data plane accepted a call: in one transaction, removes its outbox row and its
    /// draft (both keyed by messageId) and stores the event with origin `sent` (whatever
    /// `event.origin` says). A crash leaves either all three changes or none, so a sent call is
    /// never both "sent" and still queued.
    pub fn mark_sent(&mut self, event: &NewEvent<'_>) -> Result<MarkSent, StoreError> {
        self.record_composed(event, Origin::Sent)
    }

    /// Keeps a composed call that was never sent (no data plane configured) as a `local` event,
    /// clearing its draft and any outbox row in the same transaction.
    pub fn save_local(&mut self, event: &NewEvent<'_>) -> Result<MarkSent, StoreError> {
        self.record_composed(event, Origin::Local)
    }

    fn record_composed(
        &mut self,
        event: &NewEvent<'_>,
        origin: Origin,
    ) -> Result<MarkSent, StoreError> {
        self.writable()?;
        let message_id = event
            .message_id
            .ok_or(StoreError::Invalid("a sent event must have a messageId"))?;
        let now = self.now_ms();
        let path = self.path.as_path();
        let fail = |e| StoreError::from_sqlite(path, e);
        let tx = self.conn.transaction().map_err(fail)?;
        let outbox_removed = tx
            .execute("DELETE FROM outbox WHERE message_id = ?1", [message_id])
            .map_err(fail)?
            > 0;
        let draft_removed = tx
            .execute("DELETE FROM drafts WHERE id = ?1", [message_id])
            .map_err(fail)?
            > 0;
        let sent = NewEvent { origin, ..*event };
        let inserted = insert_event(&tx, &sent, now).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(MarkSent {
            inserted,
            outbox_removed,
            draft_removed,
        })
    }

    /// The outbox entry for a messageId, if queued.
    pub fn outbox_entry(&self, message_id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        self.conn
            .query_row(
                &format!("{SELECT_OUTBOX} WHERE message_id = ?1"),
                [message_id],
                outbox_entry,
            )
            .optional()
            .map_err(|e| self.fail(e))
    }
}

const SELECT_OUTBOX: &str = "SELECT id, message_id, payload, attempts, last_error, created_ms, \
     last_attempt_ms FROM outbox";

/// One [`SELECT_OUTBOX`] row.
fn outbox_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        id: r.get(0)?,
        message_id: r.get(1)?,
        payload: r.get(2)?,
        attempts: r.get(3)?,
        last_error: r.get(4)?,
        created_ms: r.get(5)?,
        last_attempt_ms: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_at(clock: fn() -> i64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("store.db")).unwrap();
        store.set_clock(clock);
        (dir, store)
    }

    fn sent<'a>(message_id: &'a str, raw: &'a str) -> NewEvent<'a> {
        NewEvent {
            message_id: Some(message_id),
            kind: "group",
            user_id: Some("u1"),
            anonymous_id: None,
            group_id: Some("g1"),
            event_ms: Some(5),
            received_ms: None,
            origin: Origin::Local,
            source: "composer",
            raw,
            layout: None,
        }
    }

    #[test]
    fn drafts_round_trip_and_replace() {
        let (_dir, mut store) = store_at(|| 1_000);
        store
            .save_draft("m1", r#"{"traits":{"plan":"pro"}}"#)
            .unwrap();
        store.save_draft("m2", r#"{"traits":{}}"#).unwrap();
        store
            .save_draft("m1", r#"{"traits":{"plan":"team"}}"#)
            .unwrap();
        let drafts = store.drafts().unwrap();
        assert_eq!(
            drafts,
            [
                StoredDraft {
                    id: "m1".into(),
                    body: r#"{"traits":{"plan":"team"}}"#.into(),
                    updated_ms: 1_000
                },
                StoredDraft {
                    id: "m2".into(),
                    body: r#"{"traits":{}}"#.into(),
                    updated_ms: 1_000
                },
            ]
        );
        assert!(store.delete_draft("m1").unwrap());
        assert!(!store.delete_draft("m1").unwrap());
        assert_eq!(store.drafts().unwrap().len(), 1);
    }

    #[test]
    fn outbox_keeps_one_row_per_message_id_and_counts_attempts() {
        let (_dir, mut store) = store_at(|| 7);
        let id = store.enqueue_outbox("m1", r#"{"v":1}"#, None).unwrap();
        assert_eq!(
            store
                .enqueue_outbox("m1", r#"{"v":2}"#, Some("HTTP 503"))
                .unwrap(),
            id
        );
        assert!(store.record_attempt(id, "timed out").unwrap());
        assert_eq!(
            store.outbox().unwrap(),
            [OutboxEntry {
                id,
                message_id: "m1".into(),
                payload: r#"{"v":2}"#.into(),
                attempts: 2,
                last_error: Some("timed out".into()),
                created_ms: 7,
                last_attempt_ms: Some(7),
            }]
        );
        // Re-queueing without an attempt keeps the count and the last error.
        store.enqueue_outbox("m1", r#"{"v":3}"#, None).unwrap();
        let entry = store.outbox_entry("m1").unwrap().unwrap();
        assert_eq!(
            (entry.attempts, entry.last_error.as_deref()),
            (2, Some("timed out"))
        );
        assert!(store.remove_outbox(id).unwrap());
        assert!(!store.record_attempt(id, "x").unwrap());
        assert!(store.outbox().unwrap().is_empty());
    }

    #[test]
    fn mark_sent_clears_outbox_and_draft_and_records_the_event() {
        let (_dir, mut store) = store_at(|| 9);
        store.save_draft("m1", "{}").unwrap();
        store.save_draft("m2", "{}").unwrap();
        store
            .enqueue_outbox("m1", r#"{"x":1}"#, Some("offline"))
            .unwrap();
        let done = store.mark_sent(&sent("m1", r#"{"x":1}"#)).unwrap();
        assert_eq!(
            done,
            MarkSent {
                inserted: true,
                outbox_removed: true,
                draft_removed: true
            }
        );
        assert!(store.outbox().unwrap().is_empty());
        assert_eq!(store.drafts().unwrap().len(), 1);
        let mut rows = Vec::new();
        store
            .for_each_event(|_, raw, origin| rows.push((raw.to_owned(), origin)))
            .unwrap();
        assert_eq!(rows, [(r#"{"x":1}"#.to_owned(), Origin::Sent)]);
    }

    #[test]
    fn mark_sent_is_all_or_nothing() {
        let (_dir, mut store) = store_at(|| 9);
        store.save_draft("m1", "{}").unwrap();
        store.enqueue_outbox("m1", "{}", None).unwrap();
        // The insert fails (empty raw), so the deletes before it must not stick.
        assert!(store.mark_sent(&sent("m1", "")).is_err());
        assert_eq!(store.drafts().unwrap().len(), 1);
        assert_eq!(store.outbox().unwrap().len(), 1);
        assert_eq!(store.count_events().unwrap(), 0);
        let no_id = NewEvent {
            message_id: None,
            ..sent("m1", "{}")
        };
        assert!(matches!(
            store.mark_sent(&no_id),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn a_read_only_store_refuses_writes_and_leaves_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        {
            let mut store = Store::open(&path).unwrap();
            store.save_draft("m1", "{}").unwrap();
        }
        let before = (
            std::fs::read(&path).unwrap(),
            std::fs::metadata(&path).unwrap().modified().unwrap(),
        );
        {
            let mut store = Store::open_read_only(&path).unwrap();
            assert!(store.is_read_only());
            assert_eq!(store.drafts().unwrap().len(), 1);
            assert_eq!(store.count_events().unwrap(), 0);
            store.for_each_event(|_, _, _| {}).unwrap();
            assert!(matches!(
                store.save_draft("m2", "{}"),
                Err(StoreError::ReadOnly { .. })
            ));
            assert!(matches!(
                store.import(std::iter::empty()),
                Err(StoreError::ReadOnly { .. })
            ));
        }
        let after = (
            std::fs::read(&path).unwrap(),
            std::fs::metadata(&path).unwrap().modified().unwrap(),
        );
        assert!(before == after, "the read-only open changed the file");
    }
}
