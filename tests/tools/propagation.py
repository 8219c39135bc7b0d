#!/usr/bin/env python3
"""propagation.py: how long node A's MNT takes to show in node B's rmtab, and whether every
record arrives, once, in A's order. Two rmtabfs daemons on one store are mounted by the caller
(tests/tools/propagation-bench.sh, tests/integration/propagation.sh, scripts/bench.sh).

  propagation.py A_RMTAB B_RMTAB COUNT [--burst K] [--gap-ms LO HI] [--timeout S]
                 [--prefix P] [--label L] [--store-log PATH]

Writes COUNT distinct records to A_RMTAB, each with its own open(O_APPEND)/write/close (as
rpc.mountd's MNT does), in bursts of K back to back (default 1), with a random pause of LO..HI
ms between bursts (default 5..35, so the writes do not lock step with a poll period). A
record's time is taken right after its close() returned: the flush that commits it on A.

A second thread stats B_RMTAB in a tight loop (0.2 ms sleep); whenever its size changes it
reads it and checks that the records of this run that B shows are exactly the first m written
(B renders in stamp order, and A stamps its records in the order written): a record shown
before an earlier one, or an earlier one gone again, counts as "reordered". A record's delay
is the time from its close() on A to the first read of B that showed it.

--store-log PATH: A's log on the store as a file this machine can read (a dir: store's
nodes/A.log, or that file on a glusterfs FUSE mount of the volume). A third thread follows it
and splits each delay into A -> store (close() on A until A's op line is in the file: A's
replication thread shipped it) and store -> B (until B showed it); adds ship_p50_ms ship_p99_ms
pickup_p50_ms pickup_p99_ms to the summary (where the time goes). Through a FUSE mount the
op shows later than it does to B's libgfapi client (the mount's own latency, large on a loaded
machine): ship is then an upper bound and pickup a lower one (clamped at 0).

Prints one summary line
  prop label=L n=.. lost=.. reordered=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. same=0|1
(lost: never shown on B within TIMEOUT seconds after the last write; same=1: A's and B's
rmtab byte-identical at the end), then one "delay_ms V" line per record, in write order.
Exit status 0 whenever it could measure (a benchmark never fails on a number); 2 on bad use.
"""
import argparse
import os
import random
import sys
import threading
import time


def pct(sorted_vals, p):
    """Nearest rank, as bench_helper.py."""
    if not sorted_vals:
        return float("nan")
    r = (len(sorted_vals) * p + 99) // 100
    return sorted_vals[max(r - 1, 0)]


def split_delays(closed, shipped, seen):
    ship = sorted((s - c) * 1000.0 for s, c in zip(shipped, closed) if s is not None)
    pick = sorted(
        max(0.0, (v - s) * 1000.0) for s, v in zip(shipped, seen) if s is not None and v is not None
    )
    return (
        f" ship_p50_ms={pct(ship, 50):.1f} ship_p99_ms={pct(ship, 99):.1f}"
        f" pickup_p50_ms={pct(pick, 50):.1f} pickup_p99_ms={pct(pick, 99):.1f}"
    )


def main(argv):
    ap = argparse.ArgumentParser(prog="propagation.py")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("count", type=int)
    ap.add_argument("--burst", type=int, default=1)
    ap.add_argument("--gap-ms", nargs=2, type=float, default=[5.0, 35.0])
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--prefix", default="10.78")
    ap.add_argument("--label", default="-")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--store-log")
    a = ap.parse_args(argv)
    if a.count < 1 or a.burst < 1 or a.gap_ms[0] < 0 or a.gap_ms[1] < a.gap_ms[0]:
        ap.error("COUNT and --burst must be positive, --gap-ms LO <= HI")

    rng = random.Random(a.seed)
    lines = [
        f"{a.prefix}.{i >> 8}.{i & 255}:/export/prop/p{i:05d}:0x00000001\n".encode()
        for i in range(a.count)
    ]
    index = {line: i for i, line in enumerate(lines)}
    tag = f"{a.prefix}.".encode()
    closed = [None] * a.count
    seen = [None] * a.count
    state = {"shown": 0, "reordered": 0, "first_bad": None, "deadline": float("inf")}
    writer_done = threading.Event()

    def look():
        """Reads B once; returns False if it could not."""
        try:
            with open(a.b, "rb") as f:
                data = f.read()
        except OSError:
            return False
        t = time.monotonic()
        ours = [index.get(line + b"\n", -1) for line in data.split(b"\n") if line.startswith(tag)]
        # The records of this run that B shows must be 0..m-1, in that order.
        m = len(ours)
        if ours != list(range(m)) or m < state["shown"]:
            state["reordered"] += 1
            if state["first_bad"] is None:
                state["first_bad"] = ours[:20]
            m = 0
            while m < len(ours) and ours[m] == m:
                m += 1
        for i in range(state["shown"], m):
            if seen[i] is None:
                seen[i] = t
        state["shown"] = max(state["shown"], m)
        return True

    def observer():
        last = -1
        while True:
            try:
                size = os.stat(a.b).st_size
            except OSError:
                size = -1
            if size != last and look():
                last = size
            if state["shown"] >= a.count:
                break
            if writer_done.is_set() and time.monotonic() > state["deadline"]:
                break
            time.sleep(0.0002)

    shipped = [None] * a.count
    keys = {(line.split(b":")[0], line.split(b":")[1]): i for i, line in enumerate(lines)}

    def shipper():
        """Follows A's store log: when did each record's op line get there?"""
        off, rest, left = 0, b"", a.count
        while left > 0:
            try:
                with open(a.store_log, "rb") as f:
                    f.seek(off)
                    data = f.read()
            except OSError:
                data = b""
            t = time.monotonic()
            off += len(data)
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            for op in data[:cut].split(b"\n"):
                fields = op.split(b" ")
                i = keys.get((fields[7], fields[8])) if len(fields) > 9 else None
                if i is not None and shipped[i] is None:
                    shipped[i] = t
                    left -= 1
            if writer_done.is_set() and time.monotonic() > state["deadline"]:
                break
            time.sleep(0.0002)

    look()  # records of an earlier run with this prefix would count as reordered
    th = threading.Thread(target=observer, daemon=True)
    th.start()
    if a.store_log:
        sh = threading.Thread(target=shipper, daemon=True)
        sh.start()
    i = 0
    while i < a.count:
        for _ in range(min(a.burst, a.count - i)):
            fd = os.open(a.a, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, lines[i])
            finally:
                os.close(fd)
            closed[i] = time.monotonic()
            i += 1
        time.sleep(rng.uniform(*a.gap_ms) / 1000.0)
    state["deadline"] = time.monotonic() + a.timeout
    writer_done.set()
    th.join()
    if a.store_log:
        sh.join()
    look()  # the final state too (order, and anything shown after the observer stopped)

    delays = sorted((s - c) * 1000.0 for s, c in zip(seen, closed) if s is not None)
    lost = sum(1 for s in seen if s is None)
    try:
        with open(a.a, "rb") as fa, open(a.b, "rb") as fb:
            same = int(fa.read() == fb.read())
    except OSError:
        same = 0
    print(
        f"prop label={a.label} n={len(delays)} lost={lost} reordered={state['reordered']} "
        f"p50_ms={pct(delays, 50):.1f} p90_ms={pct(delays, 90):.1f} "
        f"p99_ms={pct(delays, 99):.1f} max_ms={(delays[-1] if delays else float('nan')):.1f} "
        f"same={same}"
        + (split_delays(closed, shipped, seen) if a.store_log else "")
    )
    if state["first_bad"] is not None:
        print(f"first out-of-order view (indices of this run's records): {state['first_bad']}",
              file=sys.stderr)
    for s, c in zip(seen, closed):
        print(f"delay_ms {((s - c) * 1000.0) if s is not None else 'lost'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
