#!/usr/bin/env python3
"""Checks groupscope's model of a big export against a slow, obviously correct fold.

    python3 benches/check_model.py GROUPSCOPE_BIN FILE.jsonl [--groups N]

Reads FILE with json.loads, one line at a time, and for a sample of about N groups (chosen by a
hash of the groupId, so the sample is spread over the file) folds every group call the plain
way: events with a messageId seen before are dropped, calls are ordered by event time (spec
2.3: `timestamp`, else receivedAt - (sentAt - originalTimestamp)), then receivedAt, then input
order; traits are flattened to dotted keys (nested objects; empty objects, arrays and scalars
are leaves) and the last value per key wins. Then it asks `groupscope history --group ID
--json FILE` for each sampled group and compares the number of calls, the members and every
current trait. Exits 1 on any difference, printing it.
"""

import json
import subprocess
import sys
import zlib
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_time(text):
    """UTC milliseconds of an ISO-8601 time, or None."""
    if not isinstance(text, str):
        return None
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if t.tzinfo is None:
        return None
    # Exact integer arithmetic (a float timestamp can be a millisecond off).
    return (t - EPOCH) // timedelta(milliseconds=1)


def event_time(ev):
    ts = parse_time(ev.get("timestamp"))
    if ts is not None:
        return ts
    recv = parse_time(ev.get("receivedAt"))
    if recv is None:
        orig = parse_time(ev.get("originalTimestamp"))
        return orig if orig is not None else parse_time(ev.get("sentAt"))
    sent = parse_time(ev.get("sentAt"))
    orig = parse_time(ev.get("originalTimestamp"))
    sent = recv if sent is None else sent
    orig = recv if orig is None else orig
    return recv - (sent - orig)


def flatten(traits, prefix="", out=None):
    out = {} if out is None else out
    for key, value in traits.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value:
            flatten(value, name, out)
        else:
            out[name] = value
    return out


def events_of(line):
    """The events one line holds: itself, an SDK `{"batch":[…]}` body, a gateway-backup line's
    `payload.batch`, or a JSON array."""
    try:
        doc = json.loads(line)
    except ValueError:
        return []
    if isinstance(doc, list):
        return [e for e in doc if isinstance(e, dict)]
    if not isinstance(doc, dict):
        return []
    if "type" not in doc:
        payload = doc.get("payload")
        batch = payload.get("batch") if isinstance(payload, dict) else doc.get("batch")
        if isinstance(batch, list):
            return [e for e in batch if isinstance(e, dict)]
    return [doc]


def text_id(value):
    """Ids as groupscope keeps them: strings trimmed, numbers as their text."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return None


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    binary, path = args[0], args[1]
    want_groups = int(args[args.index("--groups") + 1]) if "--groups" in args else 20

    # Pass 1: how many groups there are, to pick a sampling rate.
    group_ids = set()
    with open(path, "rb") as f:
        for line in f:
            for ev in events_of(line):
                if ev.get("type") != "group":
                    continue
                gid = text_id(ev.get("groupId"))
                if gid:
                    group_ids.add(gid)
    rate = max(1, len(group_ids) // max(1, want_groups))
    sample = {g for g in group_ids if zlib.crc32(g.encode()) % rate == 0}

    # Pass 2: the sampled groups' calls, first messageId wins.
    seen = set()
    calls = {g: [] for g in sample}
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            for i, ev in enumerate(events_of(line)):
                mid = ev.get("messageId")
                if isinstance(mid, str) and mid.strip():
                    if mid in seen:
                        continue
                    seen.add(mid)
                if ev.get("type") != "group":
                    continue
                gid = text_id(ev.get("groupId"))
                user = text_id(ev.get("userId")) or text_id(ev.get("anonymousId"))
                traits = ev.get("traits", {})
                if gid not in sample or user is None:
                    continue
                if not isinstance(traits, (dict, type(None))):
                    continue
                recv = parse_time(ev.get("receivedAt"))
                at = event_time(ev)
                low = -(2**63)
                key = (low if at is None else at, low if recv is None else recv, n, i)
                calls[gid].append((key, flatten(traits or {}), user))

    failures = 0
    for gid in sorted(sample):
        ordered = sorted(calls[gid], key=lambda c: c[0])
        current = {}
        for _, flat, _ in ordered:
            current.update(flat)
        out = subprocess.run(
            [binary, "history", "--group", gid, "--json", path],
            capture_output=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"{gid}: groupscope exited {out.returncode}: {out.stderr.decode()[:300]}")
            failures += 1
            continue
        got = json.loads(out.stdout)
        problems = []
        if got.get("calls") != len(ordered):
            problems.append(f"calls {got.get('calls')} != {len(ordered)}")
        if got.get("current_traits") != current:
            diff = {
                k
                for k in set(current) | set(got.get("current_traits", {}))
                if current.get(k) != got.get("current_traits", {}).get(k)
            }
            problems.append(f"traits differ at {sorted(diff)[:5]}")
        members = got.get("members") or []
        if sum(m.get("calls", 0) for m in members) != len(ordered):
            problems.append("members' calls do not add up to the group's calls")
        known = set()
        for m in members:
            known.update([m.get("user"), m.get("user_id"), *m.get("anonymous_ids", [])])
        missing = {u for _, _, u in ordered} - known
        if missing:
            problems.append(f"users {sorted(missing)[:3]} are not members")
        if problems:
            failures += 1
            print(f"{gid}: " + "; ".join(problems))
    print(
        f"checked {len(sample)} of {len(group_ids)} groups "
        f"({sum(len(c) for c in calls.values())} calls): "
        + ("all agree" if failures == 0 else f"{failures} differ")
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
