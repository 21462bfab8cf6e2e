//! Sending a composed call durably: it is in the store's outbox before the first byte goes out,
//! and leaves it only when the data plane accepted it (then it is stored as a sent event) or the
//! user drops it. A crash, a kill or a dead network therefore loses nothing, and every retry
//! sends the same bytes with the same `messageId`.

use std::sync::atomic::AtomicBool;

use serde_json::Value;

use super::retry::{AttemptReport, Delivery, RetryPolicy, deliver_with_retry};
use super::transport::{Payload, Transport};
use crate::event::EventTime;
use crate::store::{self, NewEvent, Store, StoreError};

/// What became of a dispatched call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// Accepted by the data plane and stored as a sent event.
    Sent {
        /// Attempts it took.
        attempts: u32,
        /// Anything unusual about the answer.
        note: Option<String>,
    },
    /// Refused by the data plane (400/401/404/413): kept in the outbox with the reason.
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's words.
        server_message: String,
        /// What they mean.
        meaning: String,
    },
    /// Not delivered (rate limit, server error, timeout, no connection, cancelled, TLS): waits
    /// in the outbox for `retry`.
    Queued {
        /// The last reason.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl Dispatch {
    /// One sentence for the user.
    pub fn describe(&self) -> String {
        match self {
            Dispatch::Sent { attempts, note } => {
                let tries = if *attempts > 1 {
                    format!(" after {attempts} attempts")
                } else {
                    String::new()
                };
                match note {
                    Some(n) => format!("sent{tries} ({n})"),
                    None => format!("sent{tries}: the data plane accepted the call"),
                }
            }
            Dispatch::Rejected {
                status,
                server_message,
                meaning,
            } => format!(
                "rejected with HTTP {status}: {meaning} (server said: {server_message:?}); kept in the outbox"
            ),
            Dispatch::Queued { reason, attempts } => format!(
                "not delivered after {attempts} attempt{}: {reason}; kept in the outbox for `groupscope outbox retry`",
                if *attempts == 1 { "" } else { "s" }
            ),
        }
    }
}

/// The store row for a composed event (`origin` says whether it was sent or kept locally).
pub fn new_event<'a>(event: &'a Value, raw: &'a str, origin: store::Origin) -> NewEvent<'a> {
    let text = |k: &str| event.get(k).and_then(Value::as_str);
    let time = |k: &str| text(k).and_then(EventTime::parse).map(|t| t.utc_ms);
    let event = NewEvent {
        message_id: text("messageId"),
        kind: "group",
        user_id: text("userId"),
        anonymous_id: text("anonymousId"),
        group_id: text("groupId"),
        event_ms: time("timestamp").or_else(|| time("originalTimestamp")),
        received_ms: None,
        origin,
        source: "groupscope",
        raw,
        layout: None,
    };
    // The columns above are the composer's reading; the row reopens without parsing only
    // when the parser reads `raw` the same way.
    NewEvent {
        layout: store::RawLayout::checked(&event),
        ..event
    }
}

/// Queues `event` in the outbox, sends it with retries and records the result in the store.
pub fn dispatch(
    store: &mut Store,
    transport: &dyn Transport,
    event: &Value,
    policy: &RetryPolicy,
    cancel: &AtomicBool,
    on_attempt: &mut dyn FnMut(AttemptReport),
) -> Result<Dispatch, StoreError> {
    let raw = event.to_string();
    let message_id = event
        .get("messageId")
        .and_then(Value::as_str)
        .ok_or(StoreError::Invalid("a composed call must have a messageId"))?;
    let id = store.enqueue_outbox(message_id, &raw, None)?;
    retry_entry(store, transport, id, &raw, policy, cancel, on_attempt)
}

/// Sends one outbox entry (its exact stored bytes) and records the result.
pub fn retry_entry(
    store: &mut Store,
    transport: &dyn Transport,
    id: i64,
    raw: &str,
    policy: &RetryPolicy,
    cancel: &AtomicBool,
    on_attempt: &mut dyn FnMut(AttemptReport),
) -> Result<Dispatch, StoreError> {
    let payload = match Payload::from_json_texts(&[raw]) {
        Ok(p) => p,
        Err(e) => {
            let reason = e.to_string();
            store.record_attempt(id, &reason)?;
            return Ok(Dispatch::Queued {
                reason,
                attempts: 0,
            });
        }
    };
    let delivery = deliver_with_retry(transport, &payload, policy, cancel, on_attempt);
    Ok(match delivery {
        Delivery::Accepted { attempts, note } => {
            let event: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
            store.mark_sent(&new_event(&event, raw, store::Origin::Sent))?;
            Dispatch::Sent { attempts, note }
        }
        Delivery::Rejected {
            status,
            server_message,
            meaning,
            attempts,
        } => {
            store.record_attempts(id, attempts, &format!("HTTP {status}: {meaning}"))?;
            Dispatch::Rejected {
                status,
                server_message,
                meaning,
            }
        }
        Delivery::Deferred {
            last_reason,
            attempts,
        } => {
            store.record_attempts(id, attempts, &last_reason)?;
            Dispatch::Queued {
                reason: last_reason,
                attempts,
            }
        }
        Delivery::Failed { reason, attempts } => {
            store.record_attempts(id, attempts, &reason)?;
            Dispatch::Queued { reason, attempts }
        }
    })
}
