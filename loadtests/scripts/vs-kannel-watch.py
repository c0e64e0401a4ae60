#!/usr/bin/env python3
"""What else loads the machine while vs-kannel.sh measures a gateway.

usage: vs-kannel-watch.py PGID OUT_JSON — every 2 s, the CPU time the machine spent (from
/proc/stat, all states but idle and iowait) minus what the processes of process group PGID
(the harness and everything it started) spent, and whether a cargo/rustc build ran; writes
the running totals to OUT_JSON until killed.
"""
import json
import os
import sys
import time

pgid, out = int(sys.argv[1]), sys.argv[2]
tick = os.sysconf("SC_CLK_TCK")
ncpu = os.cpu_count() or 1


def machine():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:9]]
    return sum(f) - f[3] - f[4]


def ours_and_build():
    ours, build = {}, False
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read()
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        if int(rest[2]) == pgid:
            ours[pid] = int(rest[11]) + int(rest[12])
        name = os.path.basename(cmd[0]).decode(errors="replace") if cmd and cmd[0] else ""
        if name in ("cargo", "rustc") and len(cmd) > 2:
            build = True
    return ours, build


others = 0.0
elapsed = 0.0
build_seen = False
m0, (o0, b) = machine(), ours_and_build()
build_seen |= b
t0 = time.monotonic()
while True:
    time.sleep(2)
    m1, (o1, b) = machine(), ours_and_build()
    build_seen |= b
    ours = sum(v - o0[p] for p, v in o1.items() if p in o0)
    others += max(0, (m1 - m0) - ours) / tick
    elapsed = time.monotonic() - t0
    m0, o0 = m1, o1
    with open(out + ".tmp", "w") as f:
        json.dump({"others_cpu_pct": round(100 * others / elapsed / ncpu, 1),
                   "build_seen": build_seen}, f)
    os.replace(out + ".tmp", out)
