#!/usr/bin/env bash
# groupscope benchmarks, side by side with the peers a user would reach for instead.
#
#   bash benches/run.sh                 # 1M events: groupscope vs DuckDB, sqlite3, jq (several minutes)
#   bash benches/run.sh --events 100000 # another size
#   bash benches/run.sh --scaling       # groupscope alone at 10k, 100k, 1M, 3M (time and memory)
#   bash benches/run.sh --quick         # 10k events, no peers, one run: the CI smoke test
#   bash benches/run.sh --explorer      # the explorer: `cargo bench --bench explorer` (frames, keys,
#                                       # search on TestBackend) and the real binary in tmux (first
#                                       # frame, first partial tree, full model) on the same data:
#                                       # --users = events and --groups = 3 x events for the
#                                       # generator, which makes ~120k groups and ~620k users of 1M
#
# Data comes from ../shared/bench/gen_events.py (seed 1, 10% identify), cached under
# target/bench-data. Peers: DuckDB from PyPI in target/bench-venv; jq, sqlite3 and /usr/bin/time
# from the system's packages (installed with apt-get when missing and possible).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EVENTS=1000000
RUNS=5
MODE=peers
while [ $# -gt 0 ]; do
  case "$1" in
    --events) EVENTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --quick) MODE=quick; EVENTS=10000; RUNS=1; shift ;;
    --scaling) MODE=scaling; shift ;;
    --explorer) MODE=explorer; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

# GROUPSCOPE_GEN points at gen_events.py when the checkout is not beside shared/.
GEN="${GROUPSCOPE_GEN:-$ROOT/../shared/bench/gen_events.py}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
DATA="$TARGET/bench-data"
mkdir -p "$DATA"
cargo build --release --quiet
BIN="$TARGET/release/groupscope"

gen() { # gen N FORMAT [USERS GROUPS] -> path (the explorer bench names its data the same way)
  local n=$1 fmt=$2 users=${3:-} groups=${4:-} ext
  case "$fmt" in jsonl) ext=jsonl ;; jsonl.gz) ext=jsonl.gz ;; warehouse-sqlite) ext=db ;; esac
  local out="$DATA/ev$n.$ext" more=()
  if [ -n "$groups" ]; then
    out="$DATA/ev$n-u$users-g$groups.$ext"
    more=(--users "$users" --groups "$groups")
  fi
  if [ ! -s "$out" ]; then
    python3 "$GEN" --events "$n" "${more[@]}" --identify-fraction 0.1 --seed 1 --format "$fmt" --out "$out.tmp" 2>/dev/null
    mv "$out.tmp" "$out"
  fi
  echo "$out"
}

need_tool() { # need_tool COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq "$2" >/dev/null) || true
  fi
  command -v "$1" >/dev/null 2>&1
}
need_tool /usr/bin/time time || { echo "/usr/bin/time is needed" >&2; exit 1; }

if [ "$MODE" = quick ]; then
  J=$(gen "$EVENTS" jsonl)
  GZ=$(gen "$EVENTS" jsonl.gz)
  WH=$(gen "$EVENTS" warehouse-sqlite)
  STORE="$DATA/quick-store.db"
  rm -f "$STORE" "$STORE-wal" "$STORE-shm"
  "$BIN" stats "$J" >/dev/null
  "$BIN" stats "$GZ" >/dev/null
  "$BIN" stats "$WH" >/dev/null
  # The model against a slow, obviously correct fold of the same file (benches/check_model.py).
  python3 benches/check_model.py "$BIN" "$J" --groups 5
  if "$BIN" --help | grep -qE '^  import '; then
    "$BIN" import "$J" --store "$STORE" >/dev/null
    "$BIN" stats "$STORE" >/dev/null
    echo "benchmark smoke run: ok ($EVENTS events: jsonl, gzip, warehouse, import, store)"
  else
    echo "benchmark smoke run: ok ($EVENTS events: jsonl, gzip, warehouse; no import in this build)"
  fi
  exit 0
fi

if [ "$MODE" = explorer ]; then
  F=$(gen "$EVENTS" jsonl "$EVENTS" $((EVENTS * 3)))
  echo "machine: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  GROUPSCOPE_BENCH_EVENTS=$EVENTS cargo bench --quiet --bench explorer
  echo
  need_tool tmux tmux || { echo "tmux missing: the real-terminal timing is skipped" >&2; exit 0; }
  python3 benches/explorer_tmux.py "$BIN" "$F" --runs "$RUNS"
  exit 0
fi

JOBS="$DATA/jobs.json"
if [ "$MODE" = scaling ]; then
  FILES=("$(gen 10000 jsonl)" "$(gen 100000 jsonl)" "$(gen 1000000 jsonl)")
  # 3M events (3 GB of JSONL) when they are cached or the disk has 8 GB to spare.
  if [ -s "$DATA/ev3000000.jsonl" ] || [ "$(df -Pk "$DATA" | awk 'NR==2 {print $4}')" -gt $((8 * 1024 * 1024)) ]; then
    FILES+=("$(gen 3000000 jsonl)")
  fi
  python3 - "$JOBS" "$BIN" "${FILES[@]}" <<'PY'
import json, sys
out, bin_, *files = sys.argv[1:]
jobs = [{"name": f"stats {f.rsplit('/', 1)[-1]}", "commands": [{"name": "groupscope stats", "cmd": f"{bin_} stats {f}"}]} for f in files]
json.dump(jobs, open(out, "w"))
PY
  echo "machine: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 benches/compare.py "$JOBS" --runs "$RUNS"
  exit 0
fi

J=$(gen "$EVENTS" jsonl)
GZ=$(gen "$EVENTS" jsonl.gz)
VENV="$ROOT/target/bench-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import duckdb" 2>/dev/null || "$VENV/bin/pip" install -q duckdb
need_tool sqlite3 sqlite3 || echo "sqlite3 missing: its job is skipped" >&2
need_tool jq jq || echo "jq missing: its job is skipped" >&2

cat > "$DATA/duck.py" <<'PY'
import sys, duckdb
q = """SELECT groupId, count(*) AS calls,
       count(DISTINCT coalesce(userId, CAST(anonymousId AS VARCHAR))) AS members,
       arg_max(traits, timestamp) AS latest
FROM read_ndjson(?, ignore_errors=true,
     columns={'type':'VARCHAR','groupId':'VARCHAR','userId':'VARCHAR',
              'anonymousId':'VARCHAR','timestamp':'VARCHAR','traits':'JSON'})
WHERE type = 'group' GROUP BY groupId"""
print(len(duckdb.execute(q, [sys.argv[1]]).fetchall()))
PY
STORE="$DATA/bench-store.db"
PEERDB="$DATA/bench-sqlite3.db"
# A build without the store (`groupscope import`) still benchmarks everything else.
HAS_IMPORT=0
"$BIN" --help | grep -qE '^  import ' && HAS_IMPORT=1
python3 - "$JOBS" "$BIN" "$J" "$GZ" "$VENV/bin/python" "$DATA/duck.py" "$STORE" "$PEERDB" "$HAS_IMPORT" <<'PY'
import json, shutil, sys
out, bin_, j, gz, py, duck, store, peerdb, has_import = sys.argv[1:]
jobs = [
    {"name": "current traits per group, JSONL", "commands": [
        {"name": "groupscope stats", "cmd": f"{bin_} stats {j}"},
        {"name": "DuckDB", "cmd": f"{py} {duck} {j}"}]},
    {"name": "current traits per group, gzip", "commands": [
        {"name": "groupscope stats", "cmd": f"{bin_} stats {gz}"},
        {"name": "DuckDB", "cmd": f"{py} {duck} {gz}"}]},
]
imp = {"name": "import into SQLite", "commands": []}
if has_import == "1":
    imp["commands"].append({"name": "groupscope import", "setup": f"rm -f {store} {store}-wal {store}-shm",
     "cmd": f"{bin_} import {j} --store {store}"})
else:
    sys.stderr.write("groupscope import is not in this build: its jobs are skipped\n")
if shutil.which("sqlite3"):
    imp["commands"].append({"name": "sqlite3 .import + json_extract index",
        "setup": f"rm -f {peerdb}",
        "cmd": f"sqlite3 {peerdb} 'CREATE TABLE ev(line TEXT)' '.mode ascii' '.separator \"\\037\" \"\\n\"' '.import {j} ev' "
               f"\"CREATE INDEX ev_group ON ev(json_extract(line, '$.groupId'))\""})
if imp["commands"]:
    jobs.append(imp)
if has_import == "1":
    # `sync` first, untimed: the imports just before leave ~1 GB of the store to be written
    # back, which would otherwise compete with the reads being timed.
    jobs.append({"name": "reopen the store to a ready model", "commands": [
        {"name": "groupscope stats STORE", "setup": "sync", "cmd": f"{bin_} stats {store}"}]})
if shutil.which("jq"):
    jobs.append({"name": "jq streaming select (for scale)", "commands": [
        {"name": "groupscope stats", "cmd": f"{bin_} stats {j}"},
        {"name": "jq", "cmd": f"jq -c 'select(.type==\"group\") | [.groupId, .traits.plan]' {j} > /dev/null"}]})
json.dump(jobs, open(out, "w"))
PY
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "groupscope $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'), DuckDB $("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)')"
# Correctness first: a sample of groups against a slow, obviously correct fold.
python3 benches/check_model.py "$BIN" "$J" --groups 20
python3 benches/compare.py "$JOBS" --runs "$RUNS" --json "$DATA/results.json"
