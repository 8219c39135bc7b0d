#!/usr/bin/env python3
"""bench_helper.py: the timing parts of scripts/bench.sh that a shell cannot do precisely.

  bench_helper.py prop A_RMTAB B_RMTAB COUNT [--gap-ms LO HI] [--timeout S] [--prefix P]
      Appends COUNT distinct records to A_RMTAB, one open(O_APPEND)/write/close per record,
      paced by a random gap (default 5..35 ms, so the writes do not lock step with the
      peer's poll period), and takes the time right after close() returns (the flush that
      commits the record on A). A second thread stats B_RMTAB in a tight loop (0.2 ms sleep)
      and takes the time at which its size first covers each record (records are distinct
      and appended in order, so size only grows). Prints "prop n=.. lost=.. p50_ms=..
      p99_ms=.. max_ms=.. same=0|1" and one "delay_ms V" line per record.
      same=1 if A's and B's rmtab are byte-identical at the end.
  bench_helper.py firstread MOUNTPOINT PIDFILE -- COMMAND...
      Starts COMMAND (a daemon that mounts MOUNTPOINT, in the foreground) with its output
      on our stderr, and reads MOUNTPOINT/rmtab in a loop (open + read to EOF, every 0.2 ms)
      until the first read succeeds on the mounted file system (st_dev differs from the
      mount point's parent). Prints "firstread_ms V" (or "firstread_ms timeout"), writes the
      daemon's PID to PIDFILE and leaves it running (the caller unmounts it).
  bench_helper.py feed PREFIX COUNT RATE STOPFILE
      Prints "mnt PREFIX%05d" lines at RATE per second (open loop: a slow server does not slow
      the arrivals) until COUNT lines or until STOPFILE exists.
  bench_helper.py stamp
      Copies stdin to stdout, each line prefixed by the wall-clock time (ns) it arrived.
  bench_helper.py pct [LABEL]
      Reads numbers from stdin; prints "n= p50= p99= max= median=" (nearest rank).
"""
import os
import random
import subprocess
import sys
import threading
import time


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    r = (len(sorted_vals) * p + 99) // 100
    return sorted_vals[max(r - 1, 0)]


def cmd_prop(argv):
    import argparse

    ap = argparse.ArgumentParser(prog="bench_helper.py prop")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("count", type=int)
    ap.add_argument("--gap-ms", nargs=2, type=float, default=[5.0, 35.0])
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--prefix", default="10.77")
    a = ap.parse_args(argv)

    rng = random.Random(7)
    base = os.stat(a.b).st_size
    lines, thresholds, total = [], [], base
    for i in range(a.count):
        line = f"{a.prefix}.{i >> 8}.{i & 255}:/export/prop/p{i:05d}:0x00000001\n".encode()
        lines.append(line)
        total += len(line)
        thresholds.append(total)
    closed = [None] * a.count
    seen = [None] * a.count
    done = threading.Event()

    def poller():
        nxt = 0
        while nxt < a.count:
            try:
                size = os.stat(a.b).st_size
            except OSError:
                size = 0
            t = time.monotonic()
            while nxt < a.count and size >= thresholds[nxt]:
                seen[nxt] = t
                nxt += 1
            if done.is_set() and time.monotonic() > deadline[0]:
                break
            time.sleep(0.0002)

    deadline = [float("inf")]
    th = threading.Thread(target=poller, daemon=True)
    th.start()
    for i, line in enumerate(lines):
        fd = os.open(a.a, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        closed[i] = time.monotonic()
        time.sleep(rng.uniform(*a.gap_ms) / 1000.0)
    deadline[0] = time.monotonic() + a.timeout
    done.set()
    th.join()
    delays = sorted((s - c) * 1000.0 for s, c in zip(seen, closed) if s is not None)
    lost = sum(1 for s in seen if s is None)
    with open(a.a, "rb") as fa, open(a.b, "rb") as fb:
        same = int(fa.read() == fb.read())
    print(
        f"prop n={len(delays)} lost={lost} p50_ms={pct(delays, 50):.1f} "
        f"p99_ms={pct(delays, 99):.1f} max_ms={(delays[-1] if delays else float('nan')):.1f} "
        f"same={same}"
    )
    for s, c in zip(seen, closed):
        print(f"delay_ms {((s - c) * 1000.0) if s is not None else 'lost'}")
    return 0


def cmd_firstread(argv):
    if len(argv) < 4 or argv[2] != "--":
        sys.exit("usage: bench_helper.py firstread MOUNTPOINT PIDFILE -- COMMAND...")
    mnt, pidfile, cmd = argv[0], argv[1], argv[3:]
    parent_dev = os.stat(os.path.dirname(os.path.abspath(mnt))).st_dev
    path = os.path.join(mnt, "rmtab")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=sys.stderr, stderr=sys.stderr)
    with open(pidfile, "w") as f:
        f.write(f"{proc.pid}\n")
    deadline = t0 + 30.0
    while True:
        try:
            if os.stat(mnt).st_dev != parent_dev:
                fd = os.open(path, os.O_RDONLY)
                try:
                    while os.read(fd, 65536):
                        pass
                finally:
                    os.close(fd)
                t1 = time.monotonic()
                print(f"firstread_ms {(t1 - t0) * 1000.0:.1f}")
                return 0
        except OSError:
            pass
        if proc.poll() is not None:
            print(f"firstread_ms exited({proc.returncode})")
            return 1
        if time.monotonic() > deadline:
            print("firstread_ms timeout")
            return 1
        time.sleep(0.0002)


def cmd_feed(argv):
    prefix, count, rate, stopfile = argv[0], int(argv[1]), float(argv[2]), argv[3]
    t0 = time.monotonic()
    out = sys.stdout
    for i in range(count):
        if os.path.exists(stopfile):
            break
        due = t0 + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            out.write(f"mnt {prefix}{i:05d}\n")
            out.flush()
        except BrokenPipeError:
            break
    return 0


def cmd_stamp(argv):
    for line in sys.stdin:
        sys.stdout.write(f"{time.time_ns()} {line}")
        sys.stdout.flush()
    return 0


def cmd_pct(argv):
    vals = []
    for line in sys.stdin:
        line = line.strip()
        if line:
            vals.append(float(line))
    vals.sort()
    med = float("nan")
    if vals:
        m = len(vals) // 2
        med = vals[m] if len(vals) % 2 else (vals[m - 1] + vals[m]) / 2
    print(
        f"n={len(vals)} p50={pct(vals, 50):.3f} p99={pct(vals, 99):.3f} "
        f"max={(vals[-1] if vals else float('nan')):.3f} median={med:.3f}"
    )
    return 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmds = {
        "prop": cmd_prop,
        "firstread": cmd_firstread,
        "feed": cmd_feed,
        "stamp": cmd_stamp,
        "pct": cmd_pct,
    }
    f = cmds.get(sys.argv[1])
    if not f:
        sys.exit(__doc__)
    sys.exit(f(sys.argv[2:]))


if __name__ == "__main__":
    main()
