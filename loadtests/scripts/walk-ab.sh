#!/usr/bin/env bash
# Embedded USSD walks of two or more builds, interleaved (issue 15): each run starts a fresh
# `seedgate up` (SQLite in a folder of its own, flows from flows/, HTTP on 127.0.0.1:8080, so
# the registration flow's stand-in registry answers), walks it with at-walk, checks the store,
# and prints hops/s, hop latency, the store check, the gateway's fsyncs (perf, if present) and
# its peak RSS.
#
# usage: loadtests/scripts/walk-ab.sh BINARY [BINARY...]
# Environment: WALK [registration] (or demo), SESSIONS [3000], CONCURRENCY [100], ROUNDS [3],
#   AT_WALK [target/profiling/at-walk], OUT [/tmp/walk-ab].
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WALK=${WALK:-registration}; SESSIONS=${SESSIONS:-3000}; CONCURRENCY=${CONCURRENCY:-100}
ROUNDS=${ROUNDS:-3}; AT_WALK=${AT_WALK:-$ROOT/target/profiling/at-walk}; OUT=${OUT:-/tmp/walk-ab}
[ $# -ge 1 ] || { echo "usage: $0 BINARY [BINARY...]" >&2; exit 2; }
[ -x "$AT_WALK" ] || { echo "no at-walk at $AT_WALK (cargo build --profile profiling -p seedgate-loadtests)" >&2; exit 2; }
case $WALK in
  registration) CHANNEL=momconnect-at ;;
  demo) CHANNEL=demo-at ;;
  *) echo "WALK is registration or demo" >&2; exit 2 ;;
esac
if curl -s -o /dev/null http://127.0.0.1:8080/; then echo "127.0.0.1:8080 is taken" >&2; exit 2; fi
mkdir -p "$OUT"
SG=; PERF=
trap '[ -n "$PERF" ] && kill -INT "$PERF" 2>/dev/null; [ -n "$SG" ] && kill "$SG" 2>/dev/null' EXIT

one_run() {  # one_run BINARY
  local d="$OUT/run"
  rm -rf "$d"; mkdir -p "$d"
  (cd "$d" && SEEDGATE_LOG__LEVEL=warn SEEDGATE_FLOWS__DIR="$ROOT/flows" exec "$1" up) > "$d/seedgate.log" 2>&1 &
  SG=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:8080/readyz >/dev/null && break; sleep 0.2; done
  PERF=
  if command -v perf >/dev/null; then
    perf stat -e syscalls:sys_enter_fsync -p "$SG" -o "$d/perf.txt" 2>/dev/null &
    PERF=$!
  fi
  "$AT_WALK" --url http://127.0.0.1:8080 --channel "$CHANNEL" --walk "$WALK" --sessions "$SESSIONS" \
    --concurrency "$CONCURRENCY" --verify-store "sqlite://$d/data/seedgate.db" > "$d/walk.txt" 2>&1
  if [ -n "$PERF" ]; then kill -INT "$PERF"; wait "$PERF" 2>/dev/null; PERF=; fi
  local rss; rss=$(awk '/VmHWM/ {print $2 / 1024 " MB"}' "/proc/$SG/status")
  kill "$SG"; wait "$SG" 2>/dev/null; SG=
  echo "$1: $(grep -E '^  hops ' "$d/walk.txt" | sed 's/^ *hops *//')"
  grep -E '^  (hop latency|sessions|store check)' "$d/walk.txt"
  [ -f "$d/perf.txt" ] && echo "  fsyncs            $(awk '/sys_enter_fsync/ {print $1}' "$d/perf.txt")"
  echo "  peak RSS          $rss"
}

for _ in $(seq "$ROUNDS"); do
  for bin in "$@"; do
    one_run "$(realpath "$bin")"
  done
done
