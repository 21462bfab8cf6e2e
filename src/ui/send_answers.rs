//! What the user sees for every answer a data plane can give, sent for real over HTTP to the
//! scripted loopback server of the integration tests: 200 `ok`/`OK`/other, 400, 401, 404, 413,
//! 429, 500, a reply slower than the read timeout, and a closed port.

#[path = "../../tests/support/http_server.rs"]
mod http_server;

use std::sync::Arc;
use std::time::Duration;

use http_server::{Reply, ScriptedServer, closed_port_url};

use super::compose::Pane;
use super::status::Level;
use super::testdata::{EVENTS, Harness};
use crate::send::{DataPlane, HttpConfig, UreqTransport, WriteKey};

/// Sends Acme with a new plan to `url`; returns the status line, its level and the form's
/// note (empty when the form closed because the call was sent).
fn send_to(url: &str) -> (String, Level, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let plane = DataPlane::new(url, WriteKey::new("2Qw3eRt5yU7iO9pAsDfGhJkL1zX").unwrap()).unwrap();
    let config = HttpConfig {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(300),
        max_response_bytes: 4096,
        use_env_proxy: false,
    };
    let transport = Arc::new(UreqTransport::new(plane, &config));
    let mut h = Harness::composing(EVENTS, &dir.path().join("store.db"), Some(transport));
    h.keys("e tab tab tab tab tab ctrl-u");
    h.type_text("growth");
    h.keys("ctrl-s");
    let (text, level) = h.app.status().message().unwrap();
    let note = h
        .app
        .composer()
        .form()
        .and_then(|f| f.note())
        .map(|n| n.lines.clone())
        .unwrap_or_default();
    if note.is_empty() {
        assert_eq!(h.app.composer().pane(), Pane::Hidden);
    }
    (text.to_string(), level, note)
}

fn answer(replies: Vec<Reply>) -> (String, Level, Vec<String>) {
    let server = ScriptedServer::start(replies);
    send_to(&server.url())
}

#[test]
fn accepted_answers_close_the_form_and_say_so() {
    let sent = "↑ sent: the data plane accepted the call; it is in the tree now";
    assert_eq!(
        answer(vec![Reply::ok()]),
        (sent.into(), Level::Info, vec![])
    );
    assert_eq!(
        answer(vec![Reply::status(200, "OK")]),
        (sent.into(), Level::Info, vec![])
    );
    assert_eq!(
        answer(vec![Reply::status(200, "{\"queued\":true}")]).0,
        "↑ sent: the data plane accepted the call (the data plane answered 200 with \"{\\\"queued\\\":true}\" instead of \"ok\"); it is in the tree now"
    );
    assert_eq!(
        answer(vec![Reply::status(503, "busy"), Reply::ok()]).0,
        "↑ sent after 2 attempts: the data plane accepted the call; it is in the tree now"
    );
}

#[test]
fn refusals_show_their_meaning_and_keep_the_draft() {
    let cases = [
        (
            400,
            "Invalid JSON",
            "rejected with HTTP 400: the server rejected the payload: Invalid JSON",
        ),
        (
            401,
            "Invalid write key",
            "rejected with HTTP 401: the write key is wrong or missing",
        ),
        (
            404,
            "Source does not accept webhook events",
            "rejected with HTTP 404: the source is disabled (or the URL is not a RudderStack data plane)",
        ),
        (
            413,
            "Request size exceeds max limit",
            "rejected with HTTP 413: the request is too large (over 4,000 KB); send fewer events per request",
        ),
    ];
    for (status, body, first) in cases {
        let (text, level, note) = answer(vec![Reply::status(status, body)]);
        assert_eq!(text, first, "{status}");
        assert_eq!(level, Level::Error);
        assert_eq!(
            note,
            vec![
                first.to_string(),
                format!("the server said: {body:?}"),
                "not retried; the draft is kept (the call also waits in the outbox: o)".into(),
            ]
        );
    }
}

#[test]
fn what_is_worth_retrying_ends_in_the_outbox() {
    let kept = "kept in the outbox: o shows it, t there sends it again".to_string();
    let cases = [
        (
            vec![Reply::status(429, "Too many requests"); 3],
            "not delivered after 3 attempts: the data plane is rate limiting (HTTP 429)",
        ),
        (
            vec![Reply::status(500, "internal error"); 3],
            "not delivered after 3 attempts: server error (HTTP 500): internal error",
        ),
        (
            vec![Reply::ok().after(Duration::from_millis(900)); 3],
            "not delivered after 3 attempts: timed out waiting for the response",
        ),
    ];
    for (replies, first) in cases {
        let (text, level, note) = answer(replies);
        assert_eq!(text, first);
        assert_eq!(level, Level::Warning);
        assert_eq!(note, vec![first.to_string(), kept.clone()]);
    }
    let (text, _, note) = send_to(&closed_port_url());
    assert_eq!(text, "not delivered after 3 attempts: connection refused");
    assert_eq!(note[1], kept);
}
