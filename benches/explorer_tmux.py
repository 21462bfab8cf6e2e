#!/usr/bin/env python3
"""Times the real explorer in a real terminal (tmux): from starting `groupscope FILE` to the
first frame with load progress on screen, to the first partial tree, and to the full model;
then, once loaded, from sending a key to the screen showing its effect, and from sending `q` to
the process's exit (the tmux session ends with it).

    python3 benches/explorer_tmux.py BIN FILE [--runs 5]

Each run starts a private tmux server (120x40) whose one pane runs the binary, then polls
`tmux capture-pane` until the screen shows what is being timed. The clock starts just before
tmux is asked to start, so the figures include starting the tmux server and the pane; the same
timing of a command that prints one word at once (the baseline) says how much that is. Polling
adds up to one capture (a few ms) per figure. Keys are timed from just before `tmux send-keys`
to the first capture that differs; the baseline there is a key echoed by the terminal itself
(`cat` waiting for input), so what the explorer adds is the difference.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# What the screen shows at each point (status bar texts of the explorer).
FIRST_FRAME = "loading"
PARTIAL = "showing the first"
LOADED = " group calls · "


def tmux(sock, *args, check=True):
    return subprocess.run(["tmux", "-S", sock, *args], capture_output=True, text=True, check=check)


def screen(sock):
    return tmux(sock, "capture-pane", "-p", "-t", "bench", check=False).stdout


# Keys pressed once loaded: down, page down, switch view and back, cycle the sort.
KEYS = ["j"] * 8 + ["PageDown"] * 4 + ["1", "2"] * 3 + ["s"] * 3


def time_keys(sock, keys, timeout=5.0):
    """Sends each key and returns the seconds until the screen changed, for each."""
    out = []
    for key in keys:
        before = screen(sock)
        t0 = time.monotonic()
        tmux(sock, "send-keys", "-t", "bench", key)
        while screen(sock) == before:
            if time.monotonic() - t0 > timeout:
                break
            time.sleep(0.001)
        out.append(time.monotonic() - t0)
        time.sleep(0.05)
    return out


def time_quit(sock, timeout=10.0):
    """Sends `q` and returns the seconds until the session is gone (its one process ended)."""
    t0 = time.monotonic()
    tmux(sock, "send-keys", "-t", "bench", "q")
    while tmux(sock, "has-session", "-t", "bench", check=False).returncode == 0:
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(0.001)
    return time.monotonic() - t0


def timed_run(command, marks, home, keys=(), quit=False, timeout=120.0):
    """Starts `command` in a fresh tmux server; returns {mark: seconds} as each text appears,
    and (once every mark was seen) the times of `keys` (see `time_keys`), then that of
    quitting (under the mark "quit") when `quit` is set."""
    sock = os.path.join(home, "tmux.sock")
    env = ["env", "-i", f"HOME={home}", f"XDG_CONFIG_HOME={home}/config",
           f"XDG_DATA_HOME={home}/data", "TERM=xterm-256color", "PATH=/usr/bin:/bin"]
    seen, key_times = {}, []
    t0 = time.monotonic()
    tmux(sock, "new-session", "-d", "-x", "120", "-y", "40", "-s", "bench", *env, *command)
    try:
        while len(seen) < len(marks):
            text = screen(sock)
            now = time.monotonic() - t0
            for mark in marks:
                if mark not in seen and mark in text:
                    seen[mark] = now
            if now > timeout:
                sys.stderr.write(f"timed out; screen:\n{text}\n")
                break
            time.sleep(0.002)
        if len(seen) == len(marks) and keys:
            key_times = time_keys(sock, keys)
        if len(seen) == len(marks) and quit:
            took = time_quit(sock)
            if took is not None:
                seen["quit"] = took
    finally:
        tmux(sock, "send-keys", "-t", "bench", "q", check=False)
        time.sleep(0.05)
        tmux(sock, "kill-server", check=False)
    return seen, key_times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("file")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not shutil.which("tmux"):
        sys.exit("tmux is needed (apt-get install tmux)")
    results = {"baseline": [], FIRST_FRAME: [], PARTIAL: [], LOADED: [], "echo": [], "keys": [],
               "quit": []}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as home:
            base, echo = timed_run(["sh", "-c", "echo ready; exec cat"], ["ready"], home,
                                   keys=["x"] * 5)
            results["baseline"].extend(base.values())
            results["echo"].extend(echo)
        with tempfile.TemporaryDirectory() as home:
            seen, keys = timed_run([args.bin, args.file], [FIRST_FRAME, PARTIAL, LOADED], home,
                                   keys=KEYS, quit=True)
            for mark, t in seen.items():
                results[mark].append(t)
            results["keys"].extend(keys)
    ms = lambda xs: f"{statistics.median(xs) * 1e3:.0f} ms" if xs else "n/a"
    spread = lambda xs: f"{min(xs) * 1e3:.0f}–{max(xs) * 1e3:.0f} ms" if xs else ""
    print(f"explorer in tmux: {args.file}, {args.runs} runs, load {open('/proc/loadavg').read().split()[:3]}")
    print("| from start (keys: from sending) to | median | range | n |")
    print("|---|---:|---:|---:|")
    rows = [("a shell command's first output (tmux baseline)", "baseline"),
            ("first frame with load progress", FIRST_FRAME),
            ("first partial tree", PARTIAL),
            ("full model shown", LOADED),
            ("a key echoed by the terminal (tmux baseline)", "echo"),
            ("a key to the explorer's next screen, loaded (j, PgDn, 1/2, s)", "keys"),
            ("q, loaded, to the process's exit", "quit")]
    for label, key in rows:
        xs = results[key]
        print(f"| {label} | {ms(xs)} | {spread(xs)} | {len(xs)} |")


if __name__ == "__main__":
    main()
