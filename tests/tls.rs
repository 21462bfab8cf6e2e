//! Certificate verification is always on: `groupscope send` to an HTTPS data plane on
//! 127.0.0.1 whose certificate is self-signed (made fresh by rcgen, served by rustls) is refused
//! during the handshake with a certificate error. Nothing is sent (the server never gets a
//! request, though it would answer `200 ok` to one), the failure is not retried, the call waits
//! in the outbox, and the write key is not printed.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};

const KEY: &str = "2SecretWriteKeyForTests9";

/// What the HTTPS server saw on one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// The handshake failed; the error (the client's alert, when it sent one).
    HandshakeFailed(String),
    /// The handshake completed and this much of a request arrived.
    Request(String),
}

/// An HTTPS server on 127.0.0.1:0 with a self-signed certificate for 127.0.0.1 that answers
/// `200 ok` to any request that gets through. Returns its URL and what it saw.
fn self_signed_server() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = Arc::new(
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { continue };
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let mut conn = ServerConnection::new(config.clone()).unwrap();
            let mut failed = None;
            while conn.is_handshaking() {
                if let Err(e) = conn.complete_io(&mut tcp) {
                    failed = Some(e.to_string());
                    break;
                }
            }
            let entry = match failed {
                Some(why) => Seen::HandshakeFailed(why),
                None => {
                    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
                    let mut buf = [0u8; 4096];
                    let n = tls.read(&mut buf).unwrap_or(0);
                    let _ = tls.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    );
                    Seen::Request(String::from_utf8_lossy(&buf[..n]).into_owned())
                }
            };
            log.lock().unwrap().push(entry);
        }
    });
    (url, seen)
}

fn run(store: &Path, url: &str, args: &[&str]) -> Output {
    common::send_command(store, url, KEY, args)
        .output()
        .expect("run groupscope")
}

use common::output_text as text;

#[test]
fn a_self_signed_data_plane_is_refused_and_the_call_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    let (url, seen) = self_signed_server();
    let out = run(
        &store,
        &url,
        &[
            "send",
            "--group-id",
            "acct_brightwave",
            "--user-id",
            "usr_ada",
            "--trait",
            "plan=business",
            "--attempts",
            "3",
        ],
    );
    let said = text(&out);
    eprintln!("groupscope send said:\n{said}");
    // Exit code 4: not delivered, kept in the outbox.
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(!said.contains("sent:"), "{said}");
    assert!(
        said.contains("TLS failed") && said.contains("certificate"),
        "a clear certificate error: {said}"
    );
    assert!(said.contains("UnknownIssuer"), "{said}");
    assert!(!said.contains(KEY), "{said}");

    // The client gave up in the handshake, once: no request ever reached the server.
    thread::sleep(Duration::from_millis(200));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.len(),
        1,
        "a certificate failure is not retried: {seen:?}"
    );
    // (The client hangs up without an alert the server reads: it sees the end of the stream.)
    assert!(
        matches!(seen[0], Seen::HandshakeFailed(_)),
        "the handshake completed: {seen:?}"
    );

    // The call waits in the outbox (not sent), with the reason.
    let list = run(&store, &url, &["outbox", "list", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = entries[0].to_string();
    assert!(entry.contains("certificate"), "{entry}");
    assert!(!entry.contains(KEY), "{entry}");
}
