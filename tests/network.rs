//! Network properties of the sender, against servers on 127.0.0.1: a redirect is never followed
//! (so the Authorization header never reaches a second host), a response body is read only up
//! to its cap even when it never ends, and an https URL whose server does not speak TLS fails as
//! a TLS error — not retried, not accepted.

#[path = "support/http_server.rs"]
mod http_server;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use groupscope::send::{
    DataPlane, Delivery, HttpConfig, Outcome, Payload, RetryPolicy, Transport, TransportError,
    UreqTransport, WriteKey, classify_error, deliver_with_retry,
};
use http_server::{Reply, ScriptedServer};

const KEY: &str = "2NeTwOrKtEsTkEy5";

fn transport(url: &str, max_response_bytes: u64) -> UreqTransport {
    let plane = DataPlane::new(url, WriteKey::new(KEY).unwrap()).unwrap();
    UreqTransport::new(
        plane,
        &HttpConfig {
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(3),
            max_response_bytes,
            use_env_proxy: false,
        },
    )
}

fn payload() -> Payload {
    Payload::from_json_texts(&[
        r#"{"type":"group","messageId":"m-net","userId":"u","groupId":"g"}"#,
    ])
    .unwrap()
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(10),
    }
}

#[test]
fn a_redirect_to_another_port_is_not_followed_and_carries_no_key_there() {
    let second = ScriptedServer::start(vec![Reply::ok(); 4]);
    for status in [301, 302, 303, 307, 308] {
        let first = ScriptedServer::start(vec![
            Reply::status(status, "")
                .with_header("Location", &format!("{}/v1/group", second.url())),
        ]);
        let t = transport(&first.url(), 1024);
        let delivery = deliver_with_retry(
            &t,
            &payload(),
            &policy(),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        match delivery {
            Delivery::Rejected {
                status: s,
                meaning,
                attempts,
                ..
            } => {
                assert_eq!(s, status);
                assert_eq!(attempts, 1, "a redirect is not retried");
                assert!(meaning.contains(&second.url()), "{meaning}");
            }
            other => panic!("{status}: expected a rejection, got {other:?}"),
        }
        assert_eq!(first.requests().len(), 1);
        assert!(first.requests()[0].header("authorization").is_some());
    }
    assert!(
        second.requests().is_empty(),
        "the second host never saw a request (nor the Authorization header)"
    );
}

/// A server that answers every connection with `head` and then body bytes forever (until the
/// client goes away or `limit` bytes are written). Returns its URL and the bytes it wrote.
fn endless_server(head: &'static str, limit: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let count = written.clone();
    thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut request = [0u8; 8192];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(head.as_bytes());
        let chunk = if head.contains("chunked") {
            format!("{:x}\r\n{}\r\n", 16384, "x".repeat(16384))
        } else {
            "x".repeat(16384)
        };
        let started = Instant::now();
        while count.load(Ordering::SeqCst) < limit && started.elapsed() < Duration::from_secs(10) {
            if stream.write_all(chunk.as_bytes()).is_err() {
                return;
            }
            count.fetch_add(chunk.len(), Ordering::SeqCst);
        }
    });
    (url, written)
}

#[test]
fn an_endless_response_body_is_cut_at_the_cap() {
    for head in [
        "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 100000000000\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
    ] {
        let (url, written) = endless_server(head, 1 << 30);
        let started = Instant::now();
        let response = transport(&url, 4096).post(&payload()).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{head:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(response.body.len(), 4096, "{head:?}");
        assert!(response.body.bytes().all(|b| b == b'x'));
        // The client stopped reading: the server could not have sent a gigabyte.
        thread::sleep(Duration::from_millis(100));
        assert!(written.load(Ordering::SeqCst) < 1 << 30, "{head:?}");
    }
}

/// A plain TCP server on 127.0.0.1 that answers whatever it is sent with `answer` and
/// records how many connections it got.
fn not_tls_server(answer: &'static [u8]) -> (u16, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(Mutex::new(0));
    let seen = connections.clone();
    thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { return };
            *seen.lock().unwrap() += 1;
            stream
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut hello = [0u8; 4096];
            let _ = stream.read(&mut hello);
            let _ = stream.write_all(answer);
        }
    });
    (port, connections)
}

#[test]
fn https_to_a_server_that_does_not_speak_tls_fails_as_tls_and_is_not_retried() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"[..],
        b"\x16\x03\x01\x00\x05garbage-that-is-not-a-server-hello",
        b"\x15\x03\x03\x00\x02\x02\x28",
    ] {
        let (port, connections) = not_tls_server(answer);
        let url = format!("https://127.0.0.1:{port}");
        let t = transport(&url, 1024);
        let error = t.post(&payload()).unwrap_err();
        assert!(
            matches!(error, TransportError::Tls(_)),
            "{answer:?}: expected a TLS error, got {error:?}"
        );
        assert!(matches!(classify_error(&error), Outcome::Failed { .. }));
        let delivery = deliver_with_retry(
            &t,
            &payload(),
            &policy(),
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(
            matches!(delivery, Delivery::Failed { attempts: 1, .. }),
            "{answer:?}: {delivery:?}"
        );
        assert_eq!(*connections.lock().unwrap(), 2, "one per send, no retry");
    }
}
