#!/usr/bin/env bash
# seedgate vs Kannel on HTTP MT (issue 15): the same wrk load against `seedgate up` (SQLite,
# an `smpp-esme` channel) and Kannel 1.4 (bearerbox + smsbox, an smpp smsc group), both sending
# to the same SMSC (tests/interop/npm_smsc.js, npm smpp 0.5.1, receipts after DLR_DELAY_MS).
#
# usage: loadtests/scripts/vs-kannel.sh [SEEDGATE_BINARY]      (default target/release/seedgate)
#
# Environment (defaults in brackets):
#   ROUNDS [3]          rounds, each seedgate then Kannel, each with a fresh state folder
#   DURATION [20]       seconds of wrk per gateway and round
#   CONNS [32] THREADS [2]  wrk connections and threads
#   WINDOW [10]         outstanding submits on the one SMPP bind (seedgate `window`,
#                       Kannel `max-pending-submits`; 10 is both's default)
#   DLR_DELAY_MS [100]  the SMSC sends each receipt this long after its submit_sm_resp
#   DRAIN_SECS [120]    after wrk, how long to wait for every accepted message's receipt
#   KANNEL_STORE [spool]  Kannel's message store: `spool` (a file per message) or `file`
#   FSYNC_SECS [5]      the single-row fsync'd SQLite commit loop, per round
#   GATEWAYS ["seedgate kannel"]  which gateways to run (e.g. `kannel` alone to try Kannel)
#   BUILD_WAIT [1800]   seconds to wait for a running cargo/rustc build to finish first
#   TRIES [3] BUSY_PCT [15]  a gateway's run during which a build ran, or other processes
#                       used more than BUSY_PCT % of the CPUs, is discarded and run again (at
#                       most TRIES runs; the last one is kept, flagged, in the table)
#   OUT [/tmp/vs-kannel-DATE]     where state folders, logs and results go
#
# Installs what is missing (root): Debian `kannel` and `wrk`, and tests/interop's npm smpp
# (`npm ci`). Kannel's own service is stopped and disabled; our bearerbox and smsbox run from
# a config in the round's folder. Loopback only, ports 19000-19080. Before each measurement it
# waits (BUILD_WAIT) while a cargo/rustc build runs or the CPUs are busy with something else,
# and it records what else loaded the CPUs during each gateway's run (vs-kannel-watch.py).
# Every process it starts is killed at exit.
# Results: one JSON line per gateway and round in $OUT/results.jsonl; the markdown table at
# the end comes from vs-kannel-report.py.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCRIPTS=$ROOT/loadtests/scripts
. "$SCRIPTS/bench-config.sh"
BIN=$(realpath -m "${1:-$ROOT/target/release/seedgate}")
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-20}; CONNS=${CONNS:-32}; THREADS=${THREADS:-2}
WINDOW=${WINDOW:-10}; DLR_DELAY_MS=${DLR_DELAY_MS:-100}; DRAIN_SECS=${DRAIN_SECS:-120}
KANNEL_STORE=${KANNEL_STORE:-spool}; FSYNC_SECS=${FSYNC_SECS:-5}
GATEWAYS=${GATEWAYS:-seedgate kannel}; BUILD_WAIT=${BUILD_WAIT:-1800}; TRIES=${TRIES:-3}; BUSY_PCT=${BUSY_PCT:-15}
OUT=${OUT:-/tmp/vs-kannel-$(date +%Y%m%d-%H%M%S)}
SMSC_PORT=19775 SG_HTTP=19080 SG_SMPP=19776
KB_ADMIN=19000 KB_BOX=19001 KB_SENDSMS=19013 DLR_PORT=19014

log() { echo "[vs-kannel $(date +%H:%M:%S)] $*" >&2; }
die() { log "$*"; exit 1; }

# --- what it needs -------------------------------------------------------------------------
install_missing() {
  local need=()
  command -v wrk >/dev/null || need+=(wrk)
  [ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] || need+=(kannel)
  if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null \
      || die "apt-get install ${need[*]} failed"
  fi
  # The package's init script would run bearerbox from /etc/kannel: stop it, keep it off.
  if [ -x /etc/init.d/kannel ]; then
    /etc/init.d/kannel stop >/dev/null 2>&1 || true
    update-rc.d kannel disable >/dev/null 2>&1 || true
  fi
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    systemctl disable --now kannel >/dev/null 2>&1 || true
  fi
  command -v node >/dev/null || die "node is needed for the SMSC (tests/interop/npm_smsc.js)"
  [ -d "$ROOT/tests/interop/node_modules/smpp" ] || (cd "$ROOT/tests/interop" && npm ci --silent) \
    || die "npm ci in tests/interop failed"
  case " $GATEWAYS " in *" seedgate "*) [ -x "$BIN" ] || die "no seedgate binary at $BIN";; esac
}

# --- processes -----------------------------------------------------------------------------
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop PID [SECS]: SIGTERM, then SIGKILL after SECS (default 15).
stop() {
  local pid=$1 secs=${2:-15} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq $((secs * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Waits until `cmd` succeeds, every 0.2 s, at most SECS; returns 1 on timeout.
wait_for() {
  local secs=$1 i; shift
  for i in $(seq $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

# The SMSC's last progress/summary line (JSON).
smsc_stats() { grep '^{' "$1/smsc.log" | tail -1; }
smsc_field() { smsc_stats "$1" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$2') or 0)" 2>/dev/null || echo 0; }
smsc_bound() { [ "$(smsc_field "$1" binds)" -ge 1 ]; }

start_smsc() {
  local d=$1
  (cd "$ROOT/tests/interop" && exec node npm_smsc.js $SMSC_PORT --dlr-delay-ms "$DLR_DELAY_MS" --progress) > "$d/smsc.log" 2>&1 &
  SMSC_PID=$!; PIDS+=($SMSC_PID)
  wait_for 10 grep -q "^listening $SMSC_PORT" "$d/smsc.log" || die "the SMSC did not start; see $d/smsc.log"
}

# Peak RSS (VmHWM, kB) of a live process.
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# After wrk: waits until the SMSC has acked a receipt for every accepted message (wrk's 2xx
# count, plus the few answered after wrk stopped counting: every submit), at most DRAIN_SECS.
drain() {
  local d=$1 ok=$2 t0=$SECONDS acked submits
  while [ $((SECONDS - t0)) -lt "$DRAIN_SECS" ]; do
    read -r acked submits < <(smsc_stats "$d" | python3 -c \
      "import json,sys; s=json.load(sys.stdin); print(s['receipts_acked'], s['submits'])" 2>/dev/null || echo "0 0")
    [ "${acked:-0}" -ge "$ok" ] && [ "${acked:-0}" -ge "${submits:-0}" ] && break
    sleep 0.5
  done
  echo $((SECONDS - t0))
}

# --- builds beside the benchmark ----------------------------------------------------------
building() { pgrep -f "cargo |rustc " >/dev/null; }
# The machine's CPU use over 2 s, in % of all cores (nothing of ours runs when it is called).
cpu_busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
  local idle=$(( (b[4] + b[5]) - (a[4] + a[5]) )) total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
  echo $(( total > 0 ? 100 * (total - idle) / total : 0 ))
}
# Waits (at most BUILD_WAIT s) until no cargo/rustc build runs and the CPUs are at most 20 %
# busy with something else: figures on a busy box mean nothing.
wait_quiet() {
  local waited=0 busy
  while [ $waited -lt "$BUILD_WAIT" ]; do
    busy=$(cpu_busy)
    ! building && [ "$busy" -le 20 ] && return 0
    [ $waited -eq 0 ] && log "the machine is busy (build running: $(building && echo yes || echo no), CPU $busy %): waiting (up to $BUILD_WAIT s)"
    sleep 8; waited=$((waited + 10))
  done
  log "WARNING: the machine is still busy; this run's figures are not comparable"
}
# In the background during a gateway's run: what else loads the machine (DIR/watch.json).
PGID=$(ps -o pgid= $$ | tr -d ' ')
watch_others() { exec python3 "$SCRIPTS/vs-kannel-watch.py" "$PGID" "$1/watch.json"; }

# --- one gateway, one round ----------------------------------------------------------------
run_wrk() {  # run_wrk DIR URL ARGS... : the wrk output in DIR/wrk.txt
  local d=$1 url=$2; shift 2
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency -s "$SCRIPTS/vs-kannel.lua" "$url" -- "$@" > "$d/wrk.txt" 2>&1
}

# Writes the round's JSON line from wrk's, the SMSC's summary and what the caller passes.
record() {  # record GATEWAY ROUND DIR DRAIN_S PEAK_RSS_KB EXTRA_JSON
  python3 - "$@" <<'PY' >> "$OUT/results.jsonl"
import json, sys
gw, rnd, d, drain_s, rss, extra = sys.argv[1:7]
w = next(json.loads(l.split(' ', 1)[1]) for l in open(f"{d}/wrk.txt") if l.startswith('WRK_JSON '))
s = [json.loads(l) for l in open(f"{d}/smsc.log") if l.startswith('{')][-1]
ok = w['requests'] - w['non2xx']
r = {'gateway': gw, 'round': int(rnd), 'dir': d, **w, 'ok': ok,
     'accepted_per_s': ok / (w['duration_us'] / 1e6), **{f'smsc_{k}': v for k, v in s.items()},
     'drain_s': int(drain_s), 'peak_rss_kb': int(rss or 0), **json.loads(extra)}
span = (s['last_receipt_acked_ms'] or 0) - (s['first_submit_ms'] or 0)
r['delivered_per_s'] = s['receipts_acked'] / (span / 1000) if span > 0 else 0
r['all_delivered'] = s['receipts_acked'] >= ok
try:
    r.update(json.load(open(f"{d}/watch.json")))
except (OSError, ValueError):
    pass
print(json.dumps(r))
PY
}

round_seedgate() {
  local r=$1 d=$2
  mkdir -p "$d/data"; wait_quiet; watch_others "$d" & local watcher=$!; PIDS+=($watcher)
  start_smsc "$d"
  bench_config "$d" "$SG_HTTP" "$SG_SMPP" "$SMSC_PORT" "$WINDOW"
  local token
  token=$(cd "$d" && "$BIN" --config seedgate.toml token create --scopes send,read --name bench 2>>"$d/seedgate.log") \
    || die "token create failed; see $d/seedgate.log"
  (cd "$d" && SEEDGATE_LOG__LEVEL=warn exec "$BIN" --config seedgate.toml up) >> "$d/seedgate.log" 2>&1 &
  local pid=$!; PIDS+=($pid)
  wait_for 30 curl -sf "http://127.0.0.1:$SG_HTTP/readyz" || die "seedgate not ready; see $d/seedgate.log"
  wait_for 30 smsc_bound "$d" || die "seedgate did not bind to the SMSC; see $d/seedgate.log"
  log "round $r seedgate: wrk ${DURATION}s"
  run_wrk "$d" "http://127.0.0.1:$SG_HTTP" seedgate bench "$token"
  local ok; ok=$(python3 -c "import json,sys; w=json.loads(sys.argv[1]); print(w['requests']-w['non2xx'])" \
    "$(sed -n 's/^WRK_JSON //p' "$d/wrk.txt")") || die "wrk failed; see $d/wrk.txt"
  local waited; waited=$(drain "$d" "$ok")
  local rss; rss=$(hwm $pid)
  stop $pid; stop $SMSC_PID 5; stop $watcher 1
  record seedgate "$r" "$d" "$waited" "$rss" '{}'
}

kannel_conf() {  # kannel_conf DIR
  local d=$1 store
  if [ "$KANNEL_STORE" = file ]; then store="store-type = file
store-location = \"$d/kannel.store\""; else store="store-type = spool
store-location = \"$d/spool\""; mkdir -p "$d/spool"; fi
  cat > "$d/kannel.conf" <<CONF
group = core
admin-port = $KB_ADMIN
admin-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = $KB_BOX
box-allow-ip = "127.0.0.1"
log-file = "$d/bearerbox.log"
log-level = 2
$store
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = npm
host = 127.0.0.1
port = $SMSC_PORT
transceiver-mode = true
smsc-username = kannel
smsc-password = x
# Kannel refuses an smpp group without it
system-type = ""
max-pending-submits = $WINDOW
# submit_sm_resp ids decimal, receipt ids hex (what npm_smsc.js sends)
msg-id-type = 0x02
source-addr-ton = 5
source-addr-npi = 0

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $KB_BOX
sendsms-port = $KB_SENDSMS
sendsms-interface = 127.0.0.1
log-file = "$d/smsbox.log"
log-level = 2

group = sendsms-user
username = bench
password = bench
CONF
}

kannel_ready() {
  curl -sf "http://127.0.0.1:$KB_ADMIN/status.txt?password=bench" > "$1/status.txt" || return 1
  grep -q "smsbox:" "$1/status.txt" && grep -q "npm\[npm\].*online" "$1/status.txt" \
    && curl -s -o /dev/null "http://127.0.0.1:$KB_SENDSMS/"
}

round_kannel() {
  local r=$1 d=$2
  mkdir -p "$d"; wait_quiet; watch_others "$d" & local watcher=$!; PIDS+=($watcher)
  start_smsc "$d"; kannel_conf "$d"
  # The DLR callback Kannel's smsbox calls for every receipt (the application's URL).
  (exec node "$SCRIPTS/vs-kannel-dlr.js" $DLR_PORT) > "$d/dlr.log" 2>&1 &
  local dlr=$!; PIDS+=($dlr)
  (cd "$d" && exec /usr/sbin/bearerbox kannel.conf) > "$d/bearerbox.out" 2>&1 &
  local bb=$!; PIDS+=($bb)
  wait_for 10 curl -sf "http://127.0.0.1:$KB_ADMIN/status.txt?password=bench" || die "bearerbox not up; see $d/bearerbox.out"
  (cd "$d" && exec /usr/sbin/smsbox kannel.conf) > "$d/smsbox.out" 2>&1 &
  local sb=$!; PIDS+=($sb)
  wait_for 30 kannel_ready "$d" || die "Kannel not ready; see $d/status.txt, $d/*.out"
  log "round $r kannel: wrk ${DURATION}s"
  run_wrk "$d" "http://127.0.0.1:$KB_SENDSMS" kannel bench bench "http://127.0.0.1:$DLR_PORT/dlr?s=%d"
  local ok; ok=$(python3 -c "import json,sys; w=json.loads(sys.argv[1]); print(w['requests']-w['non2xx'])" \
    "$(sed -n 's/^WRK_JSON //p' "$d/wrk.txt")") || die "wrk failed; see $d/wrk.txt"
  local waited; waited=$(drain "$d" "$ok")
  sleep 1  # the last DLR callbacks
  local bb_rss sb_rss; bb_rss=$(hwm $bb); sb_rss=$(hwm $sb)
  curl -sf "http://127.0.0.1:$KB_ADMIN/status.txt?password=bench" > "$d/status.txt"
  stop $sb; stop $bb; stop $SMSC_PID 5; stop $dlr 5; stop $watcher 1
  local dlrs; dlrs=$(grep -o '"dlr_callbacks":[0-9]*' "$d/dlr.log" | tail -1 | cut -d: -f2)
  record kannel "$r" "$d" "$waited" "$((bb_rss + sb_rss))" \
    "{\"bearerbox_rss_kb\": ${bb_rss:-0}, \"smsbox_rss_kb\": ${sb_rss:-0}, \"dlr_callbacks\": ${dlrs:-0}}"
}

# Single-row commits, each fsync'd (WAL, synchronous=FULL, as seedgate's SQLite), on this disk.
fsync_rate() {
  python3 - "$OUT/fsync-$1.db" "$FSYNC_SECS" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
n, t0 = 0, time.monotonic()
while time.monotonic() - t0 < float(sys.argv[2]):
    db.execute("BEGIN"); db.execute("INSERT INTO t (v) VALUES ('x')"); db.execute("COMMIT"); n += 1
print(n / (time.monotonic() - t0))
PY
}

# --- main ----------------------------------------------------------------------------------
install_missing
mkdir -p "$OUT"; : > "$OUT/results.jsonl"
# A copy, so that a rebuild during the run does not change the binary under test (named so
# that someone's `pkill seedgate` elsewhere on the machine does not stop the benchmark).
case " $GATEWAYS " in *" seedgate "*) cp -p "$BIN" "$OUT/sg-bench" && SRC_BIN=$BIN && BIN=$OUT/sg-bench;; esac
for p in $SMSC_PORT $SG_HTTP $SG_SMPP $KB_ADMIN $KB_BOX $KB_SENDSMS $DLR_PORT; do
  ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || die "port $p is in use"
done
wait_quiet
BUSY=no; building && BUSY=yes
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "seedgate: ${SRC_BIN:-$BIN} (built $(stat -c %y "$BIN" 2>/dev/null | cut -d. -f1)); harness commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
  echo "kannel: $(dpkg-query -W -f '${Version}' kannel 2>/dev/null), store-type $KANNEL_STORE; wrk $(dpkg-query -W -f '${Version}' wrk 2>/dev/null)"
  echo "machine: $(nproc) cores, load average at start $(cut -d' ' -f1-3 /proc/loadavg), build running: $BUSY"
  echo "load: wrk -t$THREADS -c$CONNS -d${DURATION}s, window $WINDOW, receipts after ${DLR_DELAY_MS} ms, $ROUNDS rounds"
} | tee "$OUT/run.txt"
for r in $(seq "$ROUNDS"); do
  wait_quiet; f=$(fsync_rate "$r"); echo "{\"gateway\": \"fsync\", \"round\": $r, \"commits_per_s\": $f}" >> "$OUT/results.jsonl"
  log "round $r: $f single-row fsync'd commits/s"
  for g in $GATEWAYS; do
    for t in $(seq "$TRIES"); do
      "round_$g" "$r" "$OUT/$g-$r-$t"
      tail -1 "$OUT/results.jsonl" | python3 -c "if 1:
        import json, sys
        r = json.load(sys.stdin)
        print(f\"  {r['gateway']}: {r['accepted_per_s']:.0f} accepted/s, {r['delivered_per_s']:.0f} delivered/s, \"
              f\"p99 {r['p99_ms']:.1f} ms, non-2xx {r['non2xx']}, all delivered: {r['all_delivered']}, \"
              f\"other processes' CPU {r.get('others_cpu_pct', 0):.0f} %, build ran: {r.get('build_seen')}\", file=sys.stderr)
        sys.exit(1 if r.get('build_seen') or r.get('others_cpu_pct', 0) > $BUSY_PCT else 0)" && break
      if [ "$t" -lt "$TRIES" ]; then
        log "round $r $g: the machine was busy meanwhile; discarded, again"
        tail -1 "$OUT/results.jsonl" >> "$OUT/discarded.jsonl"; sed -i '$d' "$OUT/results.jsonl"
      fi
    done
  done
done
python3 "$SCRIPTS/vs-kannel-report.py" "$OUT" | tee "$OUT/report.md"
