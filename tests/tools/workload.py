#!/usr/bin/env python3
"""workload.py: a MOUNT workload for availability tests, through tests/tools/mountd_replay
(rpc.mountd's exact syscalls on a mounted rmtab), with the numbers the fault tests print.

usage: workload.py REPLAY MOUNTPOINT PREFIX [--ops N] [--seconds S] [--seed X] [--out FILE]

Runs MNT/UMNT of clients PREFIX.0..31 on /export/f0..3 (60 % MNT) one at a time until N ops
or S seconds, or until a file MOUNTPOINT-independent stop file (--stop FILE) appears. An op
is acknowledged when mountd_replay reports it done; the model applies only acknowledged ops
(MNT +1, UMNT -1, a record goes at 0). Writes JSON: attempted, acknowledged, failed,
max_ms, p99_ms, model {"client:path": count}."""
import argparse, json, os, random, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("replay")
ap.add_argument("mount")
ap.add_argument("prefix")
ap.add_argument("--ops", type=int, default=1 << 30)
ap.add_argument("--seconds", type=float, default=1e9)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--stop", default="")
ap.add_argument("--out", required=True)
a = ap.parse_args()

rng = random.Random(a.seed)
proc = subprocess.Popen([a.replay, "-q", "-E", a.mount, "script"], stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True, bufsize=1)
model, lat = {}, []
attempted = acked = failed = 0
t_end = time.monotonic() + a.seconds
while attempted < a.ops and time.monotonic() < t_end:
    if a.stop and os.path.exists(a.stop):
        break
    client = f"{a.prefix}.{rng.randrange(32)}"
    path = f"/export/f{rng.randrange(4)}"
    op = "mnt" if rng.random() < 0.6 else "umnt"
    t0 = time.monotonic()
    proc.stdin.write(f"{op} {client} {path}\n")
    reply = proc.stdout.readline().split()
    lat.append((time.monotonic() - t0) * 1000)
    attempted += 1
    # mnt C P inplace N|append 1|err ; umnt C P ok K|nomatch|err
    status = reply[3] if len(reply) > 3 else "err"
    if status in ("inplace", "append", "ok", "nomatch"):
        acked += 1
        k = f"{client}:{path}"
        if op == "mnt":
            model[k] = model.get(k, 0) + 1
        elif status == "ok":
            model[k] -= 1
            if model[k] == 0:
                del model[k]
    else:
        failed += 1
proc.stdin.close()
proc.wait()
lat.sort()
out = {"attempted": attempted, "acknowledged": acked, "failed": failed,
       "max_ms": round(lat[-1], 1) if lat else 0,
       "p99_ms": round(lat[int(len(lat) * 0.99)], 1) if lat else 0,
       "model": model}
json.dump(out, open(a.out, "w"))
