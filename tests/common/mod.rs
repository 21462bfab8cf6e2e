//! Helpers shared by the integration tests: generated data, temporary files, the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The generator of realistic events, beside the checkout (`../shared/bench/gen_events.py`).
pub fn generator() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_events.py");
    let python = Command::new("python3").arg("--version").output().is_ok();
    (p.exists() && python).then_some(p)
}

/// Runs the generator with `args` (plus `--out path`) and returns the path, or `None` (with a
/// note on stderr) when python3 or the script is missing.
pub fn generate(dir: &Path, name: &str, args: &[&str]) -> Option<PathBuf> {
    let Some(script) = generator() else {
        eprintln!("skipping: python3 or ../shared/bench/gen_events.py not found");
        return None;
    };
    let out = dir.join(name);
    let status = Command::new("python3")
        .arg(script)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run gen_events.py");
    assert!(
        status.status.success(),
        "gen_events.py failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    Some(out)
}

/// The generator's per-kind counts, parsed from its stderr summary.
pub fn generate_with_counts(
    dir: &Path,
    name: &str,
    args: &[&str],
) -> Option<(PathBuf, serde_json::Value)> {
    let script = generator()?;
    let out = dir.join(name);
    let run = Command::new("python3")
        .arg(script)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run gen_events.py");
    assert!(run.status.success());
    let summary: serde_json::Value = serde_json::from_slice(
        run.stderr
            .split(|&b| b == b'\n')
            .rfind(|l| l.starts_with(b"{"))
            .expect("summary line"),
    )
    .expect("summary JSON");
    Some((out, summary["counts"].clone()))
}

/// Everything a run printed, stdout then stderr.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The real binary with `args`, then `--store STORE`, sending to the data plane at `url` with
/// the write key `key`: no config file, and no proxy between it and the loopback server.
pub fn send_command(store: &Path, url: &str, key: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_groupscope"));
    cmd.args(args)
        .arg("--store")
        .arg(store)
        .env("RUDDERSTACK_DATA_PLANE_URL", url)
        .env("RUDDERSTACK_WRITE_KEY", key)
        .env("GROUPSCOPE_CONFIG", store.with_file_name("no-config.toml"));
    for proxy in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(proxy);
    }
    cmd
}

/// Runs the real binary.
pub fn groupscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_groupscope"))
        .args(args)
        .env_remove("GROUPSCOPE_STORE")
        .output()
        .expect("run groupscope")
}

/// Runs `groupscope stats --json` on the paths and returns the parsed object.
pub fn stats_json(paths: &[&Path]) -> serde_json::Value {
    let mut args = vec!["stats", "--json"];
    let owned: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(owned.iter().map(String::as_str));
    let out = groupscope(&args);
    assert!(
        out.status.success(),
        "stats failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats JSON")
}

/// The path of a bundled asset.
pub fn asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}
