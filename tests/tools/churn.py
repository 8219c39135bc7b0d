#!/usr/bin/env python3
"""churn.py: many ops through a mounted rmtab, fast, for compaction tests.

usage: churn.py RMTAB PREFIX ITERATIONS [--size N] [--seed S] [--pause SECONDS] --out FILE

Each iteration opens RMTAB read-write once, reads it (the session's base is exactly what
was read), drops about half of the records whose client starts with PREFIX, adds as many
new ones, and writes the whole content back through the same descriptor (pwrite at 0 and
ftruncate), so one close commits ~N ops. Records of other clients are written back
unchanged and so produce no op. FILE receives this writer's final records, sorted.
--pause sleeps between iterations, so that the churn lasts long enough for compaction to
run many times along the way, as it would in a cluster."""
import argparse, os, random, time

ap = argparse.ArgumentParser()
ap.add_argument("rmtab")
ap.add_argument("prefix")
ap.add_argument("iterations", type=int)
ap.add_argument("--size", type=int, default=1000)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--pause", type=float, default=0.0)
ap.add_argument("--out", required=True)
a = ap.parse_args()
rng = random.Random(a.seed)
serial = a.seed * 1000000  # names never repeat across runs
mine = []
for it in range(a.iterations):
    if it and a.pause:
        time.sleep(a.pause)
    fd = os.open(a.rmtab, os.O_RDWR)
    data = b""
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        data += chunk
    lines = data.decode().splitlines()
    others = [l for l in lines if not l.startswith(a.prefix)]
    mine = [l for l in lines if l.startswith(a.prefix)]
    rng.shuffle(mine)
    mine = mine[: len(mine) // 2]
    while len(mine) < a.size:
        serial += 1
        mine.append(f"{a.prefix}{serial % 250}.{serial // 250 % 250}:/export/c{serial}:0x00000001")
    out = ("\n".join(others + mine) + "\n").encode()
    os.pwrite(fd, out, 0)
    os.ftruncate(fd, len(out))
    os.close(fd)
with open(a.out, "w") as f:
    f.write("".join(sorted(l + "\n" for l in mine)))
