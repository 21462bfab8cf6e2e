//! Drives a real terminal for the end-to-end tests: one tmux server on a private socket, a bare
//! shell with a known prompt and a private HOME, keys sent one at a time, the screen read back.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// One tmux server on a private socket, killed when dropped (also when a check fails).
pub struct Tmux {
    /// The server's socket.
    pub socket: PathBuf,
}

impl Tmux {
    /// A server whose socket lives in `dir` (nothing starts until [`Tmux::session`]).
    pub fn new(dir: &Path) -> Tmux {
        Tmux {
            socket: dir.join("tmux.sock"),
        }
    }

    /// Runs a tmux command against this server.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Starts a bare shell with a known prompt, a private HOME and `env` set.
    pub fn session(&self, dir: &Path, env: &[String]) {
        let home = dir.display().to_string();
        let mut args: Vec<String> = [
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            "e2e",
            "env",
            "-i",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend([
            format!("HOME={home}"),
            format!("XDG_CONFIG_HOME={home}/config"),
            format!("XDG_DATA_HOME={home}/data"),
            "TERM=xterm-256color".into(),
            "PATH=/usr/bin:/bin".into(),
            "PS1=e2e$ ".into(),
        ]);
        args.extend(env.iter().cloned());
        args.push("sh".into());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.run(&refs);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        self.wait_for("e2e$");
    }

    /// Sends key names one at a time, pausing between them.
    pub fn send(&self, keys: &[&str]) {
        for key in keys {
            let out = self.run(&["send-keys", "-t", "e2e", key]);
            assert!(out.status.success(), "send-keys {key}: {out:?}");
            // Let the explorer draw between keys, as a person would.
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Types text literally (no key names).
    pub fn type_text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "e2e", "-l", text]);
        assert!(out.status.success(), "send-keys -l {text}: {out:?}");
        std::thread::sleep(Duration::from_millis(60));
    }

    /// The visible screen as text.
    pub fn screen(&self) -> String {
        let out = self.run(&["capture-pane", "-p", "-t", "e2e"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (up to 20 s) until the screen contains `text`; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Whether tmux is installed.
pub fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}
