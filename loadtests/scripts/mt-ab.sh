#!/usr/bin/env bash
# Two (or more) seedgate builds on the HTTP MT path, interleaved, each run beside the disk's
# own figure: on a machine whose disk varies from run to run, a change is judged by builds run
# minutes apart, not by runs hours apart (issue 15). The load is vs-kannel.sh's for seedgate
# alone: `seedgate up` (SQLite, an `smpp-esme` channel, window 10), the npm SMSC with receipts
# after 100 ms, wrk with 32 connections.
#
# usage: loadtests/scripts/mt-ab.sh BINARY [BINARY...]
#
# Environment: SECS [10] seconds of wrk per run; ROUNDS [2] rounds over the binaries;
#   SQLLOG [] set to 1 to log every statement (`sqlx=debug`) and print, per run, the
#   statements by time spent (the log costs CPU: compare runs of the same setting only);
#   OUT [/tmp/mt-ab] state folders and logs.
# Prints one line per run: the disk's single-row fsync'd SQLite commits/s just before it,
# accepted/s and accept p99 (wrk), submits/s and receipts acked/s (the SMSC).
# Needs wrk, node and tests/interop's npm modules (vs-kannel.sh installs them).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/loadtests/scripts/bench-config.sh"
SECS=${SECS:-10}; ROUNDS=${ROUNDS:-2}; OUT=${OUT:-/tmp/mt-ab}
SMSC_PORT=19775; HTTP_PORT=19080
[ $# -ge 1 ] || { echo "usage: $0 BINARY [BINARY...]" >&2; exit 2; }
for tool in wrk node python3; do command -v $tool >/dev/null || { echo "$tool is needed" >&2; exit 2; }; done
[ -d "$ROOT/tests/interop/node_modules/smpp" ] || (cd "$ROOT/tests/interop" && npm ci --silent)
mkdir -p "$OUT"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done' EXIT

fsync_rate() {
  python3 - "$OUT/fsync.db" <<'PY'
import os, sqlite3, sys, time
p = sys.argv[1]
for f in (p, p + '-wal', p + '-shm'):
    if os.path.exists(f): os.remove(f)
c = sqlite3.connect(p, isolation_level=None)
c.execute('pragma journal_mode=wal'); c.execute('pragma synchronous=full'); c.execute('create table t(x)')
n, t = 0, time.time()
while time.time() - t < 2:
    c.execute('begin'); c.execute('insert into t values (?)', (n,)); c.execute('commit'); n += 1
print(int(n / (time.time() - t)))
PY
}

one_run() {  # one_run BINARY
  local bin=$1 d=$OUT/run; rm -rf "$d"; mkdir -p "$d"
  bench_config "$d" "$HTTP_PORT" 19776 "$SMSC_PORT" 10
  (cd "$ROOT/tests/interop" && exec node npm_smsc.js $SMSC_PORT --dlr-delay-ms 100 --progress) > "$d/smsc.log" 2>&1 &
  local smsc=$!; PIDS+=($smsc)
  sleep 1
  local token level=warn
  token=$(cd "$d" && "$bin" --config seedgate.toml token create --scopes send,read --name bench 2>>"$d/seedgate.log")
  [ -n "${SQLLOG:-}" ] && level="warn,sqlx=debug"
  (cd "$d" && SEEDGATE_LOG__LEVEL=$level exec "$bin" --config seedgate.toml up) > "$d/seedgate.log" 2>&1 &
  local sg=$!; PIDS+=($sg)
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null && break; sleep 0.2; done
  sleep 2
  wrk -t2 -c32 -d"${SECS}s" --latency -s "$ROOT/loadtests/scripts/vs-kannel.lua" "http://127.0.0.1:$HTTP_PORT" -- seedgate bench "$token" > "$d/wrk.txt" 2>&1
  sleep 3
  kill "$sg" "$smsc" 2>/dev/null; wait "$sg" "$smsc" 2>/dev/null
}

report() {  # report BINARY FSYNC
  python3 - "$1" "$2" "$OUT/run" "${SQLLOG:-}" <<'PY'
import collections, json, re, sys
b, f, d, sqllog = sys.argv[1:]
w = next(json.loads(l.split(' ', 1)[1]) for l in open(f"{d}/wrk.txt") if l.startswith('WRK_JSON '))
s = [json.loads(l) for l in open(f"{d}/smsc.log") if l.startswith('{')][-1]
span = max((s['last_submit_ms'] or 0) - (s['first_submit_ms'] or 0), 1) / 1000
print(f"{b}: fsync {f}/s, accepted {w['requests'] / (w['duration_us'] / 1e6):.0f}/s, p99 {w['p99_ms']:.1f} ms, "
      f"submits {s['submits'] / span:.0f}/s, receipts acked {s['receipts_acked'] / span:.0f}/s")
if sqllog:
    tot, cnt = collections.Counter(), collections.Counter()
    for l in open(f"{d}/seedgate.log"):
        if '"sqlx::query"' not in l: continue
        try: j = json.loads(l)
        except ValueError: continue
        q = re.sub(r'\s+', ' ', j.get('db.statement') or j.get('summary', '')).strip()
        q = re.sub(r"\(\?(, \?)*\)(, \(\?(, \?)*\))*", "(…)", q)[:100]
        tot[q] += j['elapsed_secs']; cnt[q] += 1
    total = sum(tot.values()) or 1
    for q, t in tot.most_common(12):
        print(f"  {t:6.2f} s {100 * t / total:4.1f} %  n={cnt[q]:<6} {1e6 * t / cnt[q]:6.0f} µs  {q}")
PY
}

for _ in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    f=$(fsync_rate)
    one_run "$(realpath "$bin")"
    report "$bin" "$f"
  done
done
