//! Sending group calls over real HTTP to a scripted loopback server: every status the data
//! plane answers with, retries, timeouts and a closed port.

#[path = "support/http_server.rs"]
mod http_server;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use groupscope::compose::Draft;
use groupscope::event::EventTime;
use groupscope::send::{
    AttemptReport, DataPlane, Delivery, HttpConfig, Outcome, Payload, RetryPolicy, Transport,
    UreqTransport, WriteKey, send_with_retry,
};
use http_server::{Reply, ScriptedServer, closed_port_url};
use serde_json::{Value, json};

const KEY: &str = "2Qw3eRt5yU7iO9pAsDfGhJkL1zX";
/// base64("2Qw3eRt5yU7iO9pAsDfGhJkL1zX:")
const AUTH: &str = "Basic MlF3M2VSdDV5VTdpTzlwQXNEZkdoSmtMMXpYOg==";

fn transport(url: &str, read_timeout: Duration) -> UreqTransport {
    let plane = DataPlane::new(url, WriteKey::new(KEY).unwrap()).unwrap();
    let config = HttpConfig {
        connect_timeout: Duration::from_secs(2),
        read_timeout,
        max_response_bytes: 1024,
        use_env_proxy: false,
    };
    UreqTransport::new(plane, &config)
}

fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    }
}

fn event() -> Value {
    let mut draft = Draft::new();
    draft.user_id = "user-42".into();
    draft.anonymous_id = "anon-42".into();
    draft.group_id = "acct-7".into();
    draft.name = "Hooli".into();
    draft.employees = "4500".into();
    let now = EventTime::parse("2025-01-01T00:00:05.000Z").unwrap();
    draft.to_event(now).unwrap()
}

/// Sends `events` through a fresh transport to `url`; returns the delivery and the reports.
fn send(url: &str, events: &[Value], attempts: u32) -> (Delivery, Vec<AttemptReport>) {
    let t = transport(url, Duration::from_secs(2));
    let mut reports = Vec::new();
    let delivery = send_with_retry(
        &t,
        events,
        &policy(attempts),
        &AtomicBool::new(false),
        &mut |r| reports.push(r),
    );
    (delivery, reports)
}

#[test]
fn accepted_with_ok_and_the_request_is_exact() {
    let server = ScriptedServer::start(vec![Reply::ok()]);
    let event = event();
    let (delivery, reports) = send(&server.url(), std::slice::from_ref(&event), 4);
    assert_eq!(
        delivery,
        Delivery::Accepted {
            attempts: 1,
            note: None
        }
    );
    assert_eq!(reports.len(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/group");
    assert_eq!(r.header("Authorization"), Some(AUTH));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("AnonymousId"), Some("anon-42"));
    assert_eq!(r.body, serde_json::to_vec(&event).unwrap());
    assert_eq!(
        r.json()["traits"],
        json!({"name": "Hooli", "employees": 4500})
    );
    assert!(
        r.header("User-Agent")
            .is_some_and(|ua| ua.starts_with("groupscope/"))
    );
}

#[test]
fn uppercase_ok_from_older_servers_is_accepted() {
    let server = ScriptedServer::start(vec![Reply::status(200, "OK")]);
    let (delivery, _) = send(&server.url(), &[event()], 4);
    assert_eq!(
        delivery,
        Delivery::Accepted {
            attempts: 1,
            note: None
        }
    );
}

#[test]
fn unexpected_success_body_is_accepted_with_a_note() {
    let server = ScriptedServer::start(vec![Reply::status(200, "queued")]);
    let (delivery, _) = send(&server.url(), &[event()], 4);
    assert_eq!(
        delivery,
        Delivery::Accepted {
            attempts: 1,
            note: Some("the data plane answered 200 with \"queued\" instead of \"ok\"".into())
        }
    );
}

#[test]
fn several_events_go_to_the_batch_endpoint() {
    let server = ScriptedServer::start(vec![Reply::ok()]);
    let first = event();
    let mut second = event();
    second["messageId"] = json!("second");
    second["anonymousId"] = json!("anon-other");
    let (delivery, _) = send(&server.url(), &[first.clone(), second.clone()], 4);
    assert!(delivery.is_accepted());
    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/batch");
    assert_eq!(r.header("AnonymousId"), Some("anon-42"));
    assert_eq!(r.json(), json!({"batch": [first, second]}));
}

#[test]
fn client_errors_are_rejected_without_retry() {
    let cases = [
        (
            400,
            "request neither has anonymousId nor userId\n",
            "the server rejected the payload: request neither has anonymousId nor userId",
        ),
        (
            401,
            "invalid write key\n",
            "the write key is wrong or missing",
        ),
        (
            404,
            "source is disabled\n",
            "the source is disabled (or the URL is not a RudderStack data plane)",
        ),
        (
            413,
            "request size exceeds max limit\n",
            "the request is too large (over 4,000 KB); send fewer events per request",
        ),
    ];
    for (status, body, meaning) in cases {
        let server = ScriptedServer::start(vec![Reply::status(status, body), Reply::ok()]);
        let (delivery, reports) = send(&server.url(), &[event()], 4);
        assert_eq!(
            delivery,
            Delivery::Rejected {
                status,
                server_message: body.trim().to_owned(),
                meaning: meaning.to_owned(),
                attempts: 1
            },
            "{status}"
        );
        assert_eq!(reports.len(), 1);
        assert_eq!(server.requests().len(), 1, "{status} must not be retried");
    }
}

#[test]
fn rate_limit_is_retried() {
    let server = ScriptedServer::start(vec![
        Reply::status(429, "max requests limit reached\n"),
        Reply::ok(),
    ]);
    let (delivery, reports) = send(&server.url(), &[event()], 4);
    assert_eq!(
        delivery,
        Delivery::Accepted {
            attempts: 2,
            note: None
        }
    );
    assert_eq!(
        reports[0].outcome,
        Outcome::Retryable {
            reason: "the data plane is rate limiting (HTTP 429)".into()
        }
    );
}

#[test]
fn server_errors_are_retried_with_the_same_message_id() {
    let server = ScriptedServer::start(vec![
        Reply::status(500, "failed to read body from request\n"),
        Reply::status(503, "service unavailable\n"),
        Reply::ok(),
    ]);
    let event = event();
    let (delivery, reports) = send(&server.url(), std::slice::from_ref(&event), 4);
    assert_eq!(
        delivery,
        Delivery::Accepted {
            attempts: 3,
            note: None
        }
    );
    assert_eq!(reports.len(), 3);
    assert!(reports[..2].iter().all(|r| r.next_delay.is_some()));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.body, requests[0].body);
        assert_eq!(r.json()["messageId"], event["messageId"]);
        assert_eq!(r.header("Authorization"), Some(AUTH));
    }
}

#[test]
fn persistent_server_errors_are_deferred() {
    let server = ScriptedServer::start(vec![Reply::status(502, ""); 3]);
    let (delivery, reports) = send(&server.url(), &[event()], 3);
    assert_eq!(
        delivery,
        Delivery::Deferred {
            last_reason: "server error (HTTP 502)".into(),
            attempts: 3
        }
    );
    assert_eq!(reports.len(), 3);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_slow_answer_times_out_and_the_retry_succeeds() {
    let server = ScriptedServer::start(vec![
        Reply::ok().after(Duration::from_millis(1500)),
        Reply::ok(),
    ]);
    let t = transport(&server.url(), Duration::from_millis(300));
    let mut reports = Vec::new();
    let started = Instant::now();
    let delivery = send_with_retry(
        &t,
        &[event()],
        &policy(2),
        &AtomicBool::new(false),
        &mut |r| reports.push(r),
    );
    assert_eq!(
        delivery,
        Delivery::Accepted {
            attempts: 2,
            note: None
        }
    );
    match &reports[0].outcome {
        Outcome::Retryable { reason } => assert!(reason.starts_with("timed out"), "{reason}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(reports[0].elapsed < Duration::from_millis(1200));
    assert!(started.elapsed() < Duration::from_millis(1400));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
}

#[test]
fn a_closed_port_is_retryable_then_deferred() {
    let url = closed_port_url();
    let (delivery, reports) = send(&url, &[event()], 2);
    assert_eq!(
        delivery,
        Delivery::Deferred {
            last_reason: "connection refused".into(),
            attempts: 2
        }
    );
    assert_eq!(reports.len(), 2);
}

#[test]
fn a_hangup_is_retried() {
    let server = ScriptedServer::start(vec![Reply::Hangup, Reply::ok()]);
    let (delivery, reports) = send(&server.url(), &[event()], 3);
    assert_eq!(
        delivery,
        Delivery::Accepted {
            attempts: 2,
            note: None
        }
    );
    assert!(matches!(reports[0].outcome, Outcome::Retryable { .. }));
}

#[test]
fn redirects_are_not_followed() {
    let server = ScriptedServer::start(vec![
        Reply::status(307, "").with_header("Location", "http://127.0.0.1:9/v1/group"),
        Reply::ok(),
    ]);
    let (delivery, _) = send(&server.url(), &[event()], 4);
    match delivery {
        Delivery::Rejected {
            status, meaning, ..
        } => {
            assert_eq!(status, 307);
            assert!(
                meaning.ends_with("(it points to http://127.0.0.1:9/v1/group)"),
                "{meaning}"
            );
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn response_bodies_are_capped() {
    let huge = "x".repeat(100_000);
    let server = ScriptedServer::start(vec![Reply::status(400, &huge)]);
    let t = transport(&server.url(), Duration::from_secs(2));
    let payload = Payload::from_events(&[event()]).unwrap();
    let response = t.post(&payload).unwrap();
    assert_eq!(response.status, 400);
    assert_eq!(response.body.len(), 1024);
}
