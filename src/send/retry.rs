//! Sending with retries: exponential backoff with jitter, stopping early when cancelled
//! (spec §4.6). What could not be delivered is [`Delivery::Deferred`], for the outbox.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::outcome::{Outcome, classify_error, classify_response};
use super::transport::{Payload, Transport};

/// How often and how patiently to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included. Default 4.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles each time. Default 500 ms.
    pub base_delay: Duration,
    /// The longest wait between attempts. Default 8 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based), before jitter: `base * 2^(attempt-1)`,
    /// capped at `max_delay`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The backoff with "equal jitter": half of it fixed, half random, so retries from many
    /// clients spread out but never come back at once.
    pub fn jittered(&self, attempt: u32) -> Duration {
        let full = self.backoff(attempt);
        let half = full / 2;
        // uuid's v4 generator is the crate's one source of randomness; no extra dependency.
        let random = uuid::Uuid::new_v4().as_u128() as u64;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        let extra = if spread == 0 {
            0
        } else {
            random % (spread + 1)
        };
        half + Duration::from_nanos(extra)
    }
}

/// What happened on one attempt, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptReport {
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// The most attempts there will be.
    pub max_attempts: u32,
    /// What the attempt got.
    pub outcome: Outcome,
    /// How long the attempt took.
    pub elapsed: Duration,
    /// The wait before the next attempt, when there will be one.
    pub next_delay: Option<Duration>,
}

/// How a send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The data plane accepted the events.
    Accepted {
        /// How many attempts it took.
        attempts: u32,
        /// Something unusual about the answer, if anything.
        note: Option<String>,
    },
    /// The data plane refused them; fix the payload or the key before sending again.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The server's answer, cleaned for display.
        server_message: String,
        /// What it means, as a sentence.
        meaning: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Not delivered yet but worth retrying later: it belongs in the outbox.
    Deferred {
        /// The reason the last attempt failed (or `cancelled`).
        last_reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Not sent, and retrying unchanged will not help: a TLS failure, a request that cannot be
    /// built (nothing to send, over the size limit).
    Failed {
        /// What went wrong.
        reason: String,
        /// How many attempts were made.
        attempts: u32,
    },
}

impl Delivery {
    /// True when the events were accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Delivery::Accepted { .. })
    }
}

/// The reason a cancelled send gives.
pub const CANCELLED: &str = "cancelled";

/// Sends events (one to `/v1/group`, several to `/v1/batch`) with retries; see
/// [`deliver_with_retry`].
pub fn send_with_retry(
    transport: &dyn Transport,
    events: &[Value],
    policy: &RetryPolicy,
    cancel: &AtomicBool,
    on_attempt: &mut dyn FnMut(AttemptReport),
) -> Delivery {
    match Payload::from_events(events) {
        Ok(payload) => deliver_with_retry(transport, &payload, policy, cancel, on_attempt),
        Err(e) => Delivery::Failed {
            reason: e.to_string(),
            attempts: 0,
        },
    }
}

/// POSTs the same payload bytes until it is accepted, rejected, fails for good or runs out of
/// attempts, waiting with jittered exponential backoff between attempts.
///
/// `cancel` is checked before each attempt and during each wait (an attempt in flight runs to
/// its timeout); a cancelled send is [`Delivery::Deferred`] with reason [`CANCELLED`], so it is
/// kept rather than lost. `on_attempt` hears about every attempt.
pub fn deliver_with_retry(
    transport: &dyn Transport,
    payload: &Payload,
    policy: &RetryPolicy,
    cancel: &AtomicBool,
    on_attempt: &mut dyn FnMut(AttemptReport),
) -> Delivery {
    let max_attempts = policy.max_attempts.max(1);
    let mut last_reason = String::from("not attempted");
    for attempt in 1..=max_attempts {
        if cancel.load(Ordering::Relaxed) {
            return Delivery::Deferred {
                last_reason: CANCELLED.to_owned(),
                attempts: attempt - 1,
            };
        }
        let started = Instant::now();
        let outcome = match transport.post(payload) {
            Ok(response) => classify_response(&response),
            Err(error) => classify_error(&error),
        };
        let elapsed = started.elapsed();
        let next_delay = match &outcome {
            Outcome::Retryable { .. } if attempt < max_attempts => Some(policy.jittered(attempt)),
            _ => None,
        };
        on_attempt(AttemptReport {
            attempt,
            max_attempts,
            outcome: outcome.clone(),
            elapsed,
            next_delay,
        });
        match outcome {
            Outcome::Accepted { note } => {
                return Delivery::Accepted {
                    attempts: attempt,
                    note,
                };
            }
            Outcome::Rejected {
                status,
                server_message,
                meaning,
            } => {
                return Delivery::Rejected {
                    status,
                    server_message,
                    meaning,
                    attempts: attempt,
                };
            }
            Outcome::Failed { reason } => {
                return Delivery::Failed {
                    reason,
                    attempts: attempt,
                };
            }
            Outcome::Retryable { reason } => last_reason = reason,
        }
        if let Some(delay) = next_delay
            && !sleep_unless_cancelled(delay, cancel)
        {
            return Delivery::Deferred {
                last_reason: CANCELLED.to_owned(),
                attempts: attempt,
            };
        }
    }
    Delivery::Deferred {
        last_reason,
        attempts: max_attempts,
    }
}

/// Sleeps in short slices so a cancel is noticed quickly; false when cancelled.
fn sleep_unless_cancelled(delay: Duration, cancel: &AtomicBool) -> bool {
    const SLICE: Duration = Duration::from_millis(20);
    let deadline = Instant::now() + delay;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(SLICE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::transport::{Response, TransportError};
    use serde_json::json;
    use std::cell::RefCell;

    /// Answers from a script and records the bodies it was sent.
    struct Scripted {
        replies: RefCell<Vec<Result<Response, TransportError>>>,
        bodies: RefCell<Vec<Vec<u8>>>,
        cancel_after: Option<(usize, &'static AtomicBool)>,
    }

    impl Scripted {
        fn new(mut replies: Vec<Result<Response, TransportError>>) -> Scripted {
            replies.reverse();
            Scripted {
                replies: RefCell::new(replies),
                bodies: RefCell::new(Vec::new()),
                cancel_after: None,
            }
        }
    }

    impl Transport for Scripted {
        fn post(&self, payload: &Payload) -> Result<Response, TransportError> {
            self.bodies.borrow_mut().push(payload.body.clone());
            if let Some((n, flag)) = self.cancel_after
                && self.bodies.borrow().len() >= n
            {
                flag.store(true, Ordering::Relaxed);
            }
            self.replies
                .borrow_mut()
                .pop()
                .unwrap_or(Err(TransportError::Io("script exhausted".into())))
        }
    }

    fn reply(status: u16, body: &str) -> Result<Response, TransportError> {
        Ok(Response {
            status,
            body: body.into(),
            location: None,
        })
    }

    fn tiny() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        }
    }

    fn event() -> Value {
        json!({"type": "group", "messageId": "m-1", "userId": "u", "groupId": "g"})
    }

    fn run(t: &Scripted, cancel: &AtomicBool) -> (Delivery, Vec<AttemptReport>) {
        let mut reports = Vec::new();
        let d = send_with_retry(t, &[event()], &tiny(), cancel, &mut |r| reports.push(r));
        (d, reports)
    }

    #[test]
    fn retries_until_accepted_with_identical_bytes() {
        let t = Scripted::new(vec![
            reply(503, "service unavailable"),
            Err(TransportError::Refused),
            reply(200, "ok"),
        ]);
        let (d, reports) = run(&t, &AtomicBool::new(false));
        assert_eq!(
            d,
            Delivery::Accepted {
                attempts: 3,
                note: None
            }
        );
        let bodies = t.bodies.borrow();
        assert_eq!(bodies.len(), 3);
        assert!(bodies.iter().all(|b| *b == bodies[0]));
        assert_eq!(reports.len(), 3);
        assert_eq!(reports[0].attempt, 1);
        assert!(reports[0].next_delay.is_some());
        assert_eq!(
            reports[1].outcome,
            Outcome::Retryable {
                reason: "connection refused".into()
            }
        );
        assert_eq!(reports[2].next_delay, None);
    }

    #[test]
    fn rejection_stops_at_once() {
        let t = Scripted::new(vec![reply(401, "invalid write key\n"), reply(200, "ok")]);
        let (d, reports) = run(&t, &AtomicBool::new(false));
        assert_eq!(
            d,
            Delivery::Rejected {
                status: 401,
                server_message: "invalid write key".into(),
                meaning: "the write key is wrong or missing".into(),
                attempts: 1
            }
        );
        assert_eq!(reports.len(), 1);
        assert_eq!(t.bodies.borrow().len(), 1);
    }

    #[test]
    fn tls_failure_is_not_retried() {
        let t = Scripted::new(vec![Err(TransportError::Tls("bad certificate".into()))]);
        let (d, _) = run(&t, &AtomicBool::new(false));
        assert_eq!(
            d,
            Delivery::Failed {
                reason: "TLS failed: bad certificate".into(),
                attempts: 1
            }
        );
    }

    #[test]
    fn exhausted_attempts_defer_with_the_last_reason() {
        let t = Scripted::new(vec![
            reply(500, ""),
            reply(502, ""),
            reply(429, ""),
            Err(TransportError::Timeout("waiting for the response".into())),
            reply(200, "ok"),
        ]);
        let (d, reports) = run(&t, &AtomicBool::new(false));
        assert_eq!(
            d,
            Delivery::Deferred {
                last_reason: "timed out waiting for the response".into(),
                attempts: 4
            }
        );
        assert_eq!(reports.len(), 4);
        assert_eq!(reports[3].next_delay, None);
    }

    #[test]
    fn cancel_stops_early_and_defers() {
        let cancelled = AtomicBool::new(true);
        let t = Scripted::new(vec![reply(200, "ok")]);
        let (d, reports) = run(&t, &cancelled);
        assert_eq!(
            d,
            Delivery::Deferred {
                last_reason: CANCELLED.into(),
                attempts: 0
            }
        );
        assert!(reports.is_empty());
        assert!(t.bodies.borrow().is_empty());

        static FLAG: AtomicBool = AtomicBool::new(false);
        let mut t = Scripted::new(vec![reply(500, ""), reply(200, "ok")]);
        t.cancel_after = Some((1, &FLAG));
        let (d, _) = run(&t, &FLAG);
        assert_eq!(
            d,
            Delivery::Deferred {
                last_reason: CANCELLED.into(),
                attempts: 1
            }
        );
        assert_eq!(t.bodies.borrow().len(), 1);
    }

    #[test]
    fn nothing_to_send_fails_without_an_attempt() {
        let t = Scripted::new(vec![]);
        let mut count = 0;
        let d = send_with_retry(&t, &[], &tiny(), &AtomicBool::new(false), &mut |_| {
            count += 1
        });
        assert!(matches!(d, Delivery::Failed { attempts: 0, .. }));
        assert_eq!(count, 0);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_in_range() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(4), Duration::from_secs(4));
        assert_eq!(p.backoff(5), Duration::from_secs(8));
        assert_eq!(p.backoff(40), Duration::from_secs(8));
        for attempt in 1..6 {
            let full = p.backoff(attempt);
            for _ in 0..20 {
                let j = p.jittered(attempt);
                assert!(j >= full / 2 && j <= full, "{j:?} vs {full:?}");
            }
        }
    }
}
