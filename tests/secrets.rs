//! The write key never leaks: a known key is used everywhere a key can go, and everything that
//! can be reached afterwards is searched for it — command output for every send outcome, the
//! store's bytes, a gateway backup's events read back, Debug output, the curl command and error
//! messages. The key is also searched for in its `Authorization` form (base64 of `key:`).

#[path = "support/http_server.rs"]
mod http_server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use groupscope::config::{Config, Secret};
use groupscope::send::{DataPlane, WriteKey, curl_command};
use groupscope::source::{LoadOptions, load, read_raw};
use http_server::{Reply, ScriptedServer, closed_port_url};

const KEY: &str = "2kNoWnSeCrEtWrItEkEy7Qz";

/// Every form the key could leak in: as typed, and as the Basic auth credential.
fn forms() -> Vec<String> {
    vec![
        KEY.to_owned(),
        STANDARD.encode(format!("{KEY}:")),
        STANDARD.encode(KEY),
    ]
}

#[track_caller]
fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for form in forms() {
        assert!(
            !text.contains(&form),
            "{what} contains the write key ({form}):\n{text}"
        );
    }
}

fn output_text(o: &Output) -> Vec<u8> {
    let mut all = o.stdout.clone();
    all.extend_from_slice(&o.stderr);
    all
}

/// Runs the binary with the key in the environment and no config file.
fn run(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(args)
        .arg("--store")
        .arg(dir.join("store.db"))
        .env("RUDDERSTACK_DATA_PLANE_URL", url)
        .env("RUDDERSTACK_WRITE_KEY", KEY)
        .env("GROUPSCOPE_CONFIG", dir.join("no-config.toml"))
        .env_remove("GROUPSCOPE_STORE")
        .output()
        .expect("run groupscope")
}

const SEND: [&str; 7] = [
    "send",
    "--group-id",
    "acct_1",
    "--user-id",
    "usr_1",
    "--trait",
    "plan=pro",
];

/// The store and its side files, whatever exists of them.
fn store_files(dir: &Path) -> Vec<PathBuf> {
    [
        "store.db",
        "store.db-wal",
        "store.db-shm",
        "store.db-journal",
    ]
    .iter()
    .map(|n| dir.join(n))
    .filter(|p| p.exists())
    .collect()
}

#[test]
fn dry_run_and_the_curl_command_never_hold_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = SEND.to_vec();
    args.push("--dry-run");
    let out = run(dir.path(), "https://x.dataplane.invalid", &args);
    assert!(out.status.success());
    assert_clean("--dry-run output", &output_text(&out));
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let curl = curl_command("https://x.dataplane.invalid", &event);
    assert_clean("the curl command", curl.as_bytes());
    assert!(curl.contains("\"$RUDDERSTACK_WRITE_KEY:\""), "{curl}");
}

#[test]
fn no_send_outcome_prints_or_stores_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(vec![
        Reply::ok(),
        Reply::status(400, "request neither has anonymousId nor userId"),
        Reply::status(401, "invalid write key"),
        Reply::status(500, "internal error"),
        Reply::status(307, "").with_header("Location", "http://127.0.0.1:9/v1/group"),
        Reply::status(200, "not ok"),
    ]);
    let mut once = SEND.to_vec();
    once.extend(["--attempts", "1"]);
    let mut codes = Vec::new();
    for _ in 0..6 {
        let out = run(dir.path(), &server.url(), &once);
        assert_clean("send output", &output_text(&out));
        codes.push(out.status.code());
    }
    assert_eq!(
        codes,
        [Some(0), Some(3), Some(3), Some(4), Some(3), Some(0)],
        "ok, 400, 401, 500, 307, 200 with another body"
    );
    // The key did reach the server, as the Authorization header and nowhere else.
    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    let auth = format!("Basic {}", STANDARD.encode(format!("{KEY}:")));
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(auth.as_str()));
        assert_clean("the request body", &r.body);
    }

    let closed = run(dir.path(), &closed_port_url(), &once);
    assert_eq!(closed.status.code(), Some(4));
    assert_clean("send to a closed port", &output_text(&closed));

    for args in [
        &["outbox", "list"][..],
        &["outbox", "list", "--json"],
        &["outbox", "retry", "--attempts", "1"],
        &["outbox", "drop", "--all"],
    ] {
        let out = run(dir.path(), &closed_port_url(), args);
        assert_clean(&format!("{args:?}"), &output_text(&out));
    }

    // The store holds sent calls and the outbox; none of its files holds the key.
    let files = store_files(dir.path());
    assert!(!files.is_empty());
    for f in files {
        assert_clean(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }
}

#[test]
fn a_store_holds_no_key_while_a_send_is_under_way() {
    // The WAL is checkpointed away when the last connection closes; look at it while the
    // sender still has the store open (waiting on a slow data plane).
    let dir = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(vec![Reply::ok().after(std::time::Duration::from_secs(2))]);
    let child = Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(SEND)
        .arg("--store")
        .arg(dir.path().join("store.db"))
        .env("RUDDERSTACK_DATA_PLANE_URL", server.url())
        .env("RUDDERSTACK_WRITE_KEY", KEY)
        .env("GROUPSCOPE_CONFIG", dir.path().join("no-config.toml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while server.requests().is_empty() && started.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(server.requests().len(), 1, "the send reached the server");
    let wal = dir.path().join("store.db-wal");
    assert!(wal.exists(), "the outbox row is in the WAL while sending");
    for f in store_files(dir.path()) {
        assert_clean(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_clean("send output", &output_text(&out));
}

/// A gateway-backup file (spec §6): every line holds the write key next to `payload.batch`.
fn write_gateway_backup(path: &Path) {
    let events = [
        r#"{"type":"group","messageId":"gw-1","anonymousId":"anon-1","userId":"usr_1","groupId":"acct_gw","traits":{"plan":"pro","name":"Gateway Co"},"originalTimestamp":"2024-03-01T10:00:00.000Z","sentAt":"2024-03-01T10:00:01.000Z"}"#,
        r#"{"type":"identify","messageId":"gw-2","userId":"usr_1","traits":{"email":"a@b.co"},"originalTimestamp":"2024-03-01T10:00:02.000Z"}"#,
        r#"{"type":"group","messageId":"gw-3","userId":"usr_2","groupId":"acct_gw","traits":{"plan":"enterprise"},"originalTimestamp":"2024-03-02T10:00:00.000Z"}"#,
    ];
    let mut text = String::new();
    for (i, e) in events.iter().enumerate() {
        text.push_str(&format!(
            r#"{{"userId":"anon-1<<>>anon-1<<>>usr_1","payload":{{"batch":[{e}],"requestIP":"10.1.2.3","writeKey":"{KEY}","receivedAt":"2024-03-0{d}T10:00:03.000Z"}},"createdAt":"2024-03-01T10:00:03Z","messageId":""}}"#,
            d = 1 + i / 2
        ));
        text.push('\n');
    }
    // Broken gateway lines: no batch, or a null one. Neither may become an event whose raw
    // text (the whole line) is stored or shown.
    text.push_str(&format!(
        r#"{{"userId":"x<<>>x<<>>x","payload":{{"writeKey":"{KEY}","requestIP":"10.1.2.3"}},"messageId":""}}"#
    ));
    text.push('\n');
    text.push_str(&format!(
        r#"{{"userId":"x<<>>x<<>>x","payload":{{"batch":null,"writeKey":"{KEY}"}},"messageId":""}}"#
    ));
    text.push('\n');
    // A repeated key, which a strict reader refuses: still a gateway line, not an event.
    text.push_str(&format!(
        r#"{{"userId":"x<<>>x<<>>x","payload":{{"writeKey":null,"writeKey":"{KEY}","batch":7}},"messageId":""}}"#
    ));
    text.push('\n');
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap();
}

#[test]
fn a_gateway_backup_is_read_without_ever_showing_or_storing_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("gw.json.gz");
    write_gateway_backup(&backup);
    let p = backup.to_str().unwrap();

    let stats = run(dir.path(), "", &["stats", "--json", p]);
    assert!(stats.status.success());
    assert_clean("stats --json", &output_text(&stats));
    let s: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(s["group_calls"], 2);
    assert_eq!(s["identify_calls"], 1);
    assert_eq!(s["bad_lines"], 3, "the lines without a batch are reported");
    for args in [
        &["stats", p][..],
        &["history", p, "--group", "acct_gw"],
        &["history", p, "--group", "acct_gw", "--json"],
        &["history", p, "--group", "nope"],
    ] {
        let out = run(dir.path(), "", args);
        assert_clean(&format!("{args:?}"), &output_text(&out));
    }

    let import = run(dir.path(), "", &["import", p]);
    assert!(import.status.success());
    assert_clean("import output", &output_text(&import));
    assert!(String::from_utf8_lossy(&import.stdout).contains("imported 3 events"));
    for f in store_files(dir.path()) {
        assert_clean(&f.display().to_string(), &std::fs::read(&f).unwrap());
    }

    // Every event's raw JSON, read back from the backup and from the store.
    for path in [backup.clone(), dir.path().join("store.db")] {
        let m = load(
            std::slice::from_ref(&path),
            &LoadOptions::default(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(m.calls().len(), 2);
        assert_eq!(m.identifies().len(), 1);
        let origins = m
            .calls()
            .iter()
            .map(|c| c.origin)
            .chain(m.identifies().iter().map(|c| c.origin));
        for origin in origins {
            let raw = read_raw(m.sources(), origin).unwrap();
            assert!(raw.contains("\"messageId\":\"gw-"), "{raw}");
            assert_clean("a raw event", raw.as_bytes());
        }
        for p in m.problems() {
            assert_clean("a problem", p.error.to_string().as_bytes());
        }
    }
}

#[test]
fn debug_output_of_every_key_holder_is_redacted() {
    let key = WriteKey::new(KEY).unwrap();
    assert_clean("WriteKey Debug", format!("{key:?}").as_bytes());
    assert_clean("WriteKey Display", key.to_string().as_bytes());
    let plane = DataPlane::new("https://x.dataplane.invalid", key.clone()).unwrap();
    assert_clean("DataPlane Debug", format!("{plane:?}").as_bytes());
    assert_clean(
        "DataPlane Debug (alternate)",
        format!("{plane:#?}").as_bytes(),
    );
    let secret = Secret::new(KEY);
    assert_clean("Secret Debug", format!("{secret:?}").as_bytes());
    assert_clean("Secret hint", secret.hint().as_bytes());
    let (config, warnings) = Config::from_toml_str(&format!(
        "[profiles.prod]\ndata_plane_url = \"https://x.dataplane.invalid\"\nwrite_key = \"{KEY}\"\n"
    ));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        config.profiles["prod"].write_key.as_ref().unwrap().expose(),
        KEY
    );
    assert_clean("Config Debug", format!("{config:#?}").as_bytes());
    // A key of the wrong shape is refused without being echoed.
    for bad in [
        format!("{KEY}:x"),
        format!("{KEY} x"),
        format!("{KEY}\u{7}"),
    ] {
        let err = WriteKey::new(&bad).unwrap_err();
        assert_clean("a write-key error", format!("{err} {err:?}").as_bytes());
    }
    // Broken TOML around a key: the warning gives the position, not the line.
    let (_, warnings) =
        Config::from_toml_str(&format!("[profiles.prod]\nwrite_key = \"{KEY}\" oops\n"));
    assert_eq!(warnings.len(), 1);
    assert_clean("a TOML warning", warnings[0].as_bytes());
}

#[test]
fn bad_urls_and_bad_arguments_never_echo_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let urls = [
        "not a url".to_owned(),
        "ftp://x.dataplane.invalid".to_owned(),
        format!("https://{KEY}@x.dataplane.invalid"),
        format!("http://{KEY}:@x.dataplane.invalid"),
        format!("https://x.dataplane.invalid/v1/webhook?writeKey={KEY}"),
        format!("https://x.dataplane.invalid/#{KEY}"),
        format!("{KEY}@x.dataplane.invalid"),
    ];
    for url in &urls {
        let out = run(dir.path(), url, &SEND);
        assert_eq!(out.status.code(), Some(2), "{url}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("invalid data plane URL"),
            "{url}"
        );
        assert_clean(&format!("send to {url}"), &output_text(&out));
    }
    // The key on the command line, with argument mistakes around it.
    for args in [
        &["--write-key", KEY, "--attempts", "many"][..],
        &["--write-key", KEY, "--no-such-flag"],
        &["--write-key", KEY, "--write-key", KEY],
        &["--write-key", &format!("{KEY}:colon")],
    ] {
        let mut all = SEND.to_vec();
        all.extend_from_slice(args);
        let out = run(dir.path(), "http://127.0.0.1:9", &all);
        assert!(!out.status.success(), "{args:?}");
        assert_clean(&format!("{args:?}"), &output_text(&out));
    }
}

#[cfg(unix)]
#[test]
fn a_readable_config_with_a_key_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let server = ScriptedServer::start(vec![Reply::ok(), Reply::ok()]);
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.local]\ndata_plane_url = \"{}\"\nwrite_key = \"{KEY}\"\n",
            server.url()
        ),
    )
    .unwrap();
    let send = |mode: u32| {
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(mode)).unwrap();
        Command::new(env!("CARGO_BIN_EXE_groupscope"))
            .args(SEND)
            .args(["--profile", "local", "--store"])
            .arg(dir.path().join("store.db"))
            .env("GROUPSCOPE_CONFIG", &config)
            .env_remove("RUDDERSTACK_DATA_PLANE_URL")
            .env_remove("RUDDERSTACK_WRITE_KEY")
            .output()
            .unwrap()
    };
    let open = send(0o644);
    assert!(open.status.success(), "{:?}", open);
    let err = String::from_utf8_lossy(&open.stderr);
    assert!(
        err.contains("readable by other users") && err.contains("mode 644"),
        "{err}"
    );
    assert!(err.contains("chmod 600"), "{err}");
    assert_clean("send with a readable config", &output_text(&open));

    let closed = send(0o600);
    assert!(closed.status.success());
    assert!(closed.stderr.is_empty(), "{closed:?}");
    let auth = format!("Basic {}", STANDARD.encode(format!("{KEY}:")));
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("authorization") == Some(auth.as_str()))
    );
}

#[test]
fn no_panic_path_prints_the_key() {
    // The CLI installs no panic hook of its own, and nothing on the send path panics on
    // input; a panic message would carry only its own text. What can be checked: the key
    // type carries no Display of the key, and a panic formatting a DataPlane stays redacted.
    let plane = DataPlane::new("https://x.dataplane.invalid", WriteKey::new(KEY).unwrap()).unwrap();
    let caught = std::panic::catch_unwind(|| panic!("sending failed for {plane:?}"));
    let message = caught
        .err()
        .and_then(|p| p.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(message.contains("wk…"), "{message}");
    assert_clean("a panic message", message.as_bytes());
}
