#!/usr/bin/env python3
"""mnt_load.py: MNT requests to a real rpc.mountd at a fixed rate (open loop: a slow server
does not slow the arrivals), one mnt3 process per request, each for its own path.

  mnt_load.py MNT3 HOST PREFIX RATE SECONDS OUT
      Sends MNT HOST PREFIX%05d at RATE per second for SECONDS. Writes one line per request
      to OUT: "index start_ns latency_ms rc path" (rc 0: acknowledged). Prints
      "n= failed= p50_ms= p99_ms= max_ms=" on stdout.
"""
import subprocess
import sys
import threading
import time


def pct(vals, p):
    if not vals:
        return float("nan")
    r = (len(vals) * p + 99) // 100
    return vals[max(r - 1, 0)]


def main(argv):
    mnt3, host, prefix, rate, secs, out = argv[0], argv[1], argv[2], float(argv[3]), float(
        argv[4]), argv[5]
    results = []
    lock = threading.Lock()

    def one(i, path):
        t0 = time.monotonic_ns()
        try:
            p = subprocess.run([mnt3, "-t", "30", host, "mnt", path], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=60)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = 124
        ms = (time.monotonic_ns() - t0) / 1e6
        with lock:
            results.append((i, t0, ms, rc, path))

    threads = []
    start = time.monotonic()
    n = int(rate * secs)
    for i in range(n):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=one, args=(i, f"{prefix}{i:05d}"))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    results.sort()
    with open(out, "w") as f:
        for i, t0, ms, rc, path in results:
            f.write(f"{i} {t0} {ms:.3f} {rc} {path}\n")
    lat = sorted(r[2] for r in results)
    failed = sum(1 for r in results if r[3] != 0)
    print(f"n={len(results)} failed={failed} p50_ms={pct(lat, 50):.1f} "
          f"p99_ms={pct(lat, 99):.1f} max_ms={lat[-1] if lat else float('nan'):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
