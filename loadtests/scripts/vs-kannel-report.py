#!/usr/bin/env python3
"""The markdown table of a vs-kannel.sh run: usage: vs-kannel-report.py OUT_DIR.

Reads OUT_DIR/results.jsonl (one line per gateway and round, plus the fsync rate per round)
and prints, for each figure, min / median / max across rounds per gateway and the ratio of
the medians seedgate:Kannel.
"""
import json
import statistics
import sys

out = sys.argv[1]
rows = [json.loads(line) for line in open(f"{out}/results.jsonl") if line.strip()]
by = {}
for r in rows:
    by.setdefault(r["gateway"], []).append(r)

FIGURES = [
    ("accepted/s (2xx answers)", "accepted_per_s", "{:,.0f}"),
    ("delivered with receipt /s, end to end", "delivered_per_s", "{:,.0f}"),
    ("accept latency p50 (ms)", "p50_ms", "{:,.1f}"),
    ("accept latency p99 (ms)", "p99_ms", "{:,.1f}"),
    ("peak RSS (MB; Kannel: bearerbox + smsbox)", "peak_rss_mb", "{:,.1f}"),
]


def cell(values, fmt):
    if not values:
        return "—"
    lo, med, hi = min(values), statistics.median(values), max(values)
    return f"{fmt.format(med)} ({fmt.format(lo)}–{fmt.format(hi)})"


def values(gw, key):
    vs = []
    for r in by.get(gw, []):
        if key == "peak_rss_mb":
            vs.append(r["peak_rss_kb"] / 1024)
        else:
            vs.append(r[key])
    return vs


print(open(f"{out}/run.txt").read().strip().replace("\n", "  \n"))
print()
print("| figure, median (min–max) over rounds | seedgate | Kannel | seedgate : Kannel (medians) |")
print("|---|---|---|---|")
for name, key, fmt in FIGURES:
    s, k = values("seedgate", key), values("kannel", key)
    ratio = "—"
    if s and k and statistics.median(k) > 0:
        ratio = f"{statistics.median(s) / statistics.median(k):.2f}"
    print(f"| {name} | {cell(s, fmt)} | {cell(k, fmt)} | {ratio} |")
f = [r["commits_per_s"] for r in by.get("fsync", [])]
print(f"| single-row fsync'd SQLite commits/s, same disk (WAL, synchronous=FULL) | {cell(f, '{:,.0f}')} | | |")
print()
for gw in ("seedgate", "kannel"):
    rs = by.get(gw, [])
    if not rs:
        continue
    non2xx = sum(r["non2xx"] for r in rs)
    sock = sum(r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"] for r in rs)
    ok = sum(r["ok"] for r in rs)
    acked = sum(r["smsc_receipts_acked"] for r in rs)
    submits = sum(r["smsc_submits"] for r in rs)
    drains = ", ".join(f"{r['drain_s']} s" for r in rs)
    line = (f"- {gw}: {ok:,} accepted, {non2xx:,} non-2xx, {sock:,} socket errors; the SMSC got "
            f"{submits:,} submits and {acked:,} receipts acked; waited for the backlog after wrk {drains}")
    if gw == "kannel":
        line += "; DLR callbacks " + ", ".join(f"{r.get('dlr_callbacks', 0):,}" for r in rs)
    line += "; CPU used by other processes during the runs " + ", ".join(
        f"{r.get('others_cpu_pct', float('nan')):.0f} %" for r in rs)
    busy = [str(r["round"]) for r in rs if r.get("build_seen")]
    if busy:
        line += f" — a cargo/rustc build ran during round(s) {', '.join(busy)}"
    if not all(r["all_delivered"] for r in rs):
        line += f" — NOT every accepted message got its receipt within the drain bound"
    print(line)
try:
    discarded = [json.loads(line) for line in open(f"{out}/discarded.jsonl") if line.strip()]
except OSError:
    discarded = []
if discarded:
    print(f"- {len(discarded)} run(s) discarded and run again: the machine was busy meanwhile ("
          + ", ".join(f"{r['gateway']} round {r['round']}: {r.get('others_cpu_pct', 0):.0f} % other CPU"
                      + (", build" if r.get("build_seen") else "") for r in discarded) + ")")
