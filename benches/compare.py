#!/usr/bin/env python3
"""Runs benchmark commands alternately (A, B, A, B, ...) and prints medians, peak RSS and ratios.

Each job is a list of named commands; every command runs `--runs` times, interleaved with the
others of its job, so a noisy machine slows them alike. Wall time and peak RSS come from
/usr/bin/time. Output: a Markdown table on stdout (paste into BENCHMARKS.md) and JSON with --json.
"""
import argparse, json, os, shlex, statistics, subprocess, sys, tempfile


def measure(cmd, setup=None):
    """One run of a shell command: (wall seconds, peak RSS in MB). `setup` runs first, untimed."""
    if setup:
        subprocess.run(setup, shell=True, check=True, stdout=subprocess.DEVNULL)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        wrapped = f"/usr/bin/time -o {tf.name} -f '%e %M' bash -c {shlex.quote(cmd)}"
        r = subprocess.run(wrapped, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.stderr.write(f"command failed ({r.returncode}): {cmd}\n{r.stderr.decode(errors='replace')[-2000:]}\n")
            return None
        wall, rss_kb = tf.read().split()[-2:]
        return float(wall), int(rss_kb) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jobs", help="JSON file: [{name, commands: [{name, cmd, setup?}], baseline?}]")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", help="also write results here")
    a = ap.parse_args()
    jobs = json.load(open(a.jobs))
    results = []
    for job in jobs:
        cmds = job["commands"]
        samples = {c["name"]: [] for c in cmds}
        for i in range(a.runs):
            for c in (cmds if i % 2 == 0 else list(reversed(cmds))):
                m = measure(c["cmd"], c.get("setup"))
                if m:
                    samples[c["name"]].append(m)
                sys.stderr.write(f"  {job['name']} / {c['name']} run {i + 1}: {m}\n")
        row = {"job": job["name"], "commands": {}}
        for c in cmds:
            s = samples[c["name"]]
            if s:
                row["commands"][c["name"]] = {
                    "wall_median_s": round(statistics.median(w for w, _ in s), 3),
                    "wall_min_s": round(min(w for w, _ in s), 3),
                    "rss_peak_mb": round(max(r for _, r in s), 1),
                    "runs": len(s),
                }
        results.append(row)
    print("| job | command | wall median | wall min | peak RSS | ratio to first |")
    print("|---|---|---:|---:|---:|---:|")
    for row in results:
        first = None
        for name, r in row["commands"].items():
            first = first or r["wall_median_s"]
            ratio = r["wall_median_s"] / first if first else float("nan")
            print(f"| {row['job']} | {name} | {r['wall_median_s']:.2f} s | {r['wall_min_s']:.2f} s | {r['rss_peak_mb']:.0f} MB | {ratio:.2f} |")
    if a.json:
        json.dump(results, open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
