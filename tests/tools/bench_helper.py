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
  bench_helper.py pct [--pairs]
      Reads numbers from stdin (--pairs: "T0 T1" wall-clock seconds per line, the value is
      (T1 - T0) in ms); prints "n= p50= p99= max= median=" (nearest rank).
  bench_helper.py elapsed T0 T1 [--ms] [--digits D]
      T1 - T0 (wall-clock seconds, e.g. bash's EPOCHREALTIME) in s (--ms: in ms), D decimals.
  bench_helper.py mnt3stats
      Turns mnt3's "stats KIND count=N ops/s=R p50=Xus ..." lines (stdin) into "KIND_count N",
      "KIND_ops/s R", "KIND_p50 X" ... lines (units dropped: us, s).
  bench_helper.py hostres RESULT CLK_TCK
      The derived numbers of one MNT/UMNT host run, from its raw result file: for mnt and umnt
      the rate and latencies as mnt3 measured them, the wall time (from KIND_t0/KIND_t1), CPU
      seconds of mountd, of the daemon and of the bricks (from clock ticks); "key value" lines.
  bench_helper.py down LATFILE T_STOP T_START
      Classifies the stamped MNT replies of the volume-down run (stamp's output) into before /
      down / after the outage window and prints per window "W n= errors= p50= p99= max=" (ms).
  bench_helper.py caughtup RMTABCTL SOCKET TIMEOUT
      Polls `RMTABCTL -s SOCKET status --json` every 0.1 s until the store is connected and
      has every op the daemon had made at the first answer (shipped_seq >= that last_seq: under
      a steady load a backlog of 0 may never be seen); prints the seconds that took, or
      "timeout" (exit status 1) after TIMEOUT seconds.
  bench_helper.py table RESULTS.tsv [--header FILE] [--append]
      Prints the whole table from the TSV (every number of the run is there, so a TSV kept
      from an earlier run can be laid out again): the measurements side by side, the ratios of
      rates, RSS per record, and issue 18's targets as "met", "missed" or "n/a" lines with their
      numbers. --append: also append those derived numbers to RESULTS.tsv.
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
    pairs = "--pairs" in argv
    vals = []
    for line in sys.stdin:
        w = line.split()
        if pairs and len(w) == 2:
            vals.append((float(w[1]) - float(w[0])) * 1000.0)
        elif not pairs and w:
            vals.append(float(w[0]))
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


def cmd_elapsed(argv):
    t0, t1 = float(argv[0]), float(argv[1])
    ms = "--ms" in argv
    digits = int(argv[argv.index("--digits") + 1]) if "--digits" in argv else (0 if ms else 2)
    print(f"{(t1 - t0) * (1000.0 if ms else 1.0):.{digits}f}")
    return 0


def cmd_mnt3stats(argv):
    for line in sys.stdin:
        w = line.split()
        if len(w) < 2 or w[0] != "stats":
            continue
        for kv in w[2:]:
            k, _, v = kv.partition("=")
            for unit in ("us", "s"):
                if v.endswith(unit):
                    v = v[: -len(unit)]
                    break
            print(f"{w[1]}_{k} {v}")
    return 0


def read_kv(path):
    d = {}
    try:
        with open(path) as f:
            for line in f:
                w = line.split(None, 1)
                if len(w) == 2:
                    d[w[0]] = w[1].strip()
    except OSError:
        pass
    return d


def cmd_hostres(argv):
    r, tck = read_kv(argv[0]), float(argv[1])
    for kind in ("mnt", "umnt"):
        for k in ("ops/s", "p50", "p99", "count"):
            if f"{kind}_{k}" in r:
                print(f"{kind}_{k} {r[kind + '_' + k]}")
        if f"{kind}_t0" in r and f"{kind}_t1" in r:
            print(f"{kind}_wall_s {float(r[kind + '_t1']) - float(r[kind + '_t0']):.3f}")
        for who in ("mountd", "daemon", "bricks"):
            ticks = r.get(f"{kind}_{who}_ticks")
            if ticks is not None:
                print(f"{kind}_{who}_cpu_s {int(ticks) / tck:.1f}")
    return 0


def cmd_caughtup(argv):
    import json

    ctl, sock, timeout = argv[0], argv[1], float(argv[2])
    t0 = time.monotonic()
    target = None
    while time.monotonic() - t0 < timeout:
        r = subprocess.run([ctl, "-s", sock, "-t", "5", "status", "--json"],
                           capture_output=True, text=True)
        try:
            st = json.loads(r.stdout).get("status") or {}
        except ValueError:
            st = {}
        if target is None and isinstance(st.get("last_seq"), int):
            target = st["last_seq"]
        shipped = st.get("shipped_seq")
        if (target is not None and st.get("state") == "connected" and isinstance(shipped, int)
                and shipped >= target):
            print(f"{time.monotonic() - t0:.2f}")
            return 0
        time.sleep(0.1)
    print("timeout")
    return 1


def cmd_down(argv):
    f, a, b = argv[0], float(argv[1]) * 1e9, float(argv[2]) * 1e9
    win = {"before": [], "down": [], "after": []}
    errors = {"before": 0, "down": 0, "after": 0}
    for line in open(f):
        w = line.split()
        if len(w) < 3 or w[1] != "mnt":
            continue
        t = int(w[0])
        k = "before" if t < a else ("down" if t <= b else "after")
        if len(w) >= 5 and w[3] == "ok" and w[4].endswith("us"):
            win[k].append(int(w[4][:-2]) / 1000.0)
        else:
            errors[k] += 1
    for k, v in win.items():
        v.sort()
        print(f"{k} n={len(v)} errors={errors[k]} p50={pct(v, 50):.2f} p99={pct(v, 99):.2f} "
              f"max={(v[-1] if v else float('nan')):.2f}")
    return 0


# ---- the table: everything below reads the TSV only ----

CNAME = {
    "a": "(a) ext4",
    "b": "(b) gluster FUSE",
    "c": "(c) rmtabfs dir:",
    "d": "(d) rmtabfs gluster://",
    "cb": "(c) dir: batch:1000",
    "db": "(d) gluster:// batch:1000",
}
NO_DURABILITY = "n/a (daemon has no durability=)"
# issue 18's targets; "today" = the numbers the issue measured before the work
RATE_N = 5000
RSS_TODAY = {"dir": 215, "gluster": 253}


class Tsv:
    def __init__(self, path):
        self.rows = {}
        self.problems = []
        with open(path) as f:
            for line in f:
                w = line.rstrip("\n").split("\t")
                if len(w) < 6 or w[0].startswith("#"):
                    continue
                if w[0] == "problem":
                    self.problems.append(w[4])
                elif w[0] not in ("ratio", "target"):
                    self.rows[(w[0], w[1], w[2], w[3])] = w[4]

    def get(self, phase, cfg, n, metric):
        v = self.rows.get((phase, cfg, str(n), metric))
        return None if v in (None, "", "-") else v

    def num(self, phase, cfg, n, metric):
        v = self.get(phase, cfg, n, metric)
        try:
            return float(v) if v is not None else None
        except ValueError:
            return None

    def run(self, key, default=""):
        v = self.rows.get(("run", "-", "-", key))
        return default if v is None else v


def fmt(v, digits=2, scale=1.0):
    return "-" if v is None else f"{v / scale:.{digits}f}"


def ratio(x, y):
    return None if x is None or y is None or y == 0 else x / y


class Table:
    def __init__(self, t):
        self.t = t
        self.out = []
        self.derived = []  # TSV rows computed here
        self.ns = t.run("ns").split()
        self.configs = t.run("configs", "a b c d").split()
        self.phases = t.run("phases").split()
        self.batch_ok = t.run("durability") == "batch:1000"

    def p(self, line=""):
        self.out.append(line)

    def rate(self, cfg, n, kind):
        return self.t.num("mntumnt", cfg, n, kind + "_rate")

    # -- MNT/UMNT --
    def mntumnt(self):
        t = self.t
        self.p("== MNT / UMNT throughput and latency (latency in ms; cpu = CPU seconds in the "
               "MNT + UMNT phases; batch:1000 = -o durability=batch:1000)")
        hdr = "%-28s %6s | %8s %7s %7s | %8s %7s %7s | %11s %-21s"
        self.p(hdr % ("config", "N", "MNT/s", "p50", "p99", "UMNT/s", "p50", "p99",
                      "mountd cpu", "backend cpu"))
        for n in self.ns:
            for cfg in self.configs:
                if cfg in ("cb", "db") and not self.batch_ok:
                    self.p("%-28s %6s | %s" % (CNAME[cfg], n, NO_DURABILITY))
                    continue
                g = lambda m: t.get("mntumnt", cfg, n, m) or "-"  # noqa: E731
                cpu = lambda who: f"{g('mnt_' + who + '_cpu')}+{g('umnt_' + who + '_cpu')}"  # noqa: E731
                backend = {"a": "-", "b": f"glusterfs {cpu('daemon')}, bricks {cpu('bricks')}",
                           "c": f"rmtabfs {cpu('daemon')}", "cb": f"rmtabfs {cpu('daemon')}"}.get(
                    cfg, f"rmtabfs {cpu('daemon')}, bricks {cpu('bricks')}")
                self.p(hdr % (CNAME[cfg], n, fmt(self.rate(cfg, n, "mnt"), 0),
                              fmt(t.num("mntumnt", cfg, n, "mnt_p50"), 2, 1000),
                              fmt(t.num("mntumnt", cfg, n, "mnt_p99"), 2, 1000),
                              fmt(self.rate(cfg, n, "umnt"), 0),
                              fmt(t.num("mntumnt", cfg, n, "umnt_p50"), 2, 1000),
                              fmt(t.num("mntumnt", cfg, n, "umnt_p99"), 2, 1000),
                              cpu("mountd"), backend))
            self.ratios(n)

    def ratios(self, n):
        sets = [("fsync", ["c/a", "d/a", "d/b"])]  # the default durability
        if any(c in self.configs for c in ("cb", "db")):
            sets.append(("batch:1000", ["cb/a", "db/a", "db/b"]))
        for label, pairs in sets:
            name = f"  ratios of rates {label}"
            if label != "fsync" and not self.batch_ok:
                self.p("%-28s %6s | %s" % (name, n, NO_DURABILITY))
                continue
            cells = {}
            for kind in ("mnt", "umnt"):
                for pair in pairs:
                    x, y = pair.split("/")
                    r = ratio(self.rate(x, n, kind), self.rate(y, n, kind))
                    cells[(kind, pair)] = fmt(r)
                    if r is not None:
                        self.derived.append(("ratio", pair, n, kind + "_rate", f"{r:.2f}", "x"))
            short = [pr.replace("cb", "c").replace("db", "d") for pr in pairs]
            self.p("%-28s %6s | MNT   %s | UMNT  %s" % (
                name, n,
                "  ".join(f"{s_} {cells[('mnt', pr)]:>5}" for s_, pr in zip(short, pairs)),
                "  ".join(f"{s_} {cells[('umnt', pr)]:>5}" for s_, pr in zip(short, pairs))))

    # -- the side phases --
    def steps(self):
        t = self.t
        n_steps = t.run("steps_n")
        self.p()
        self.p("== where an MNT's time goes: mountd's file system calls for one new client, 5000 "
               f"records (tests/tools/mnt_steps, mean us of {n_steps})")
        self.p("%-16s %10s %14s %18s" % ("step", "(a) ext4", "(c) rmtabfs dir:",
                                         "(d) rmtabfs gluster"))
        for k in ("lock", "open+read", "close(r+)", "open(a)+write", "close(a)", "unlock",
                  "mnt_total", "read-no-ftell"):
            self.p("%-16s %10s %14s %18s" % (k, *(t.get("steps", c, 5000, k) or "-"
                                                  for c in ("a", "c", "d"))))

    def bpr(self, st):
        t, nrec = self.t, self.t.run("nrec", "100000")
        a, b = t.num("records", st, nrec, "rss_empty"), t.num("records", st, nrec, "rss_after_cat")
        if a is None or b is None:
            return None
        v = (b - a) * 1024 / float(nrec)
        self.derived.append(("records", st, nrec, "rss_per_record", f"{v:.0f}", "bytes"))
        return v

    def records(self):
        t, nrec = self.t, self.t.run("nrec", "100000")
        self.p()
        self.p(f"== {nrec} records (loaded with one cp into rmtab)")
        # "ext4 ms": the plain file's cats alternating with the view's (older TSVs: none).
        row = "%-22s %9s %9s %11s %8s %7s %10s %11s %10s %10s"
        self.p(row % ("store", "cp ms", "shipped s", "cat ms(med)", "ext4 ms", "READs",
                      "RSS empty", "RSS loaded", "after cats", "B/record"))
        for st in ("dir", "gluster"):
            g = lambda m: t.get("records", st, nrec, m) or "-"  # noqa: E731
            self.p(row % (f"rmtabfs {st}", g("load_cp"), g("shipped_after_load"),
                          g("cat_median"), g("cat_plain_median"), g("second_cat_reads"),
                          g("rss_empty") + "K", g("rss_loaded") + "K", g("rss_after_cat") + "K",
                          fmt(self.bpr(st), 0)))
        self.p("%-22s %9s %9s %11s" % ("plain ext4 file", "-", "-",
                                       t.get("records", "plain", nrec, "cat_median") or "-"))

    def prop(self):
        t, n = self.t, self.t.run("prop_n")
        self.p()
        self.p("== propagation: flush on node A (close() returned) -> node B's rmtab shows the "
               f"record ({n} records)")
        row = "%-22s %9s %9s %9s %6s %6s"
        self.p(row % ("store", "p50 ms", "p99 ms", "max ms", "lost", "same"))
        for st in self.prop_stores():
            self.p(row % (st, *(t.get("propagation", st, n, k) or "-"
                                for k in ("p50_ms", "p99_ms", "max_ms", "lost", "same"))))

    def prop_stores(self):
        """The stores the propagation phase measured (a variant adds its own config name)."""
        seen = []
        for (ph, cfg, _n, _m) in self.t.rows:
            if ph == "propagation" and cfg not in seen:
                seen.append(cfg)
        return seen or ["gluster", "dir"]

    def start(self):
        t, runs = self.t, self.t.run("start_runs")
        self.p()
        self.p(f"== start of rmtabfs -> first successful read of rmtab (median of {runs})")
        row = "%-34s %9s %9s"
        self.p(row % ("store", "median ms", "max ms"))
        for case, label in (("dir", "dir:"), ("gluster", "gluster:// reachable"),
                            ("gluster-unreachable", "gluster://127.0.0.1:1/x unreachable")):
            self.p(row % (label, t.get("firstread", case, runs, "median") or "-",
                          t.get("firstread", case, runs, "max") or "-"))

    def down(self):
        t = self.t
        self.p()
        self.p(f"== (d) MNT while the volume is stopped (open loop {t.run('down_rate')} MNT/s; "
               f"outage window {t.get('volume_down', '-', '-', 'window') or '-'} s = stop-volume "
               "start .. start-volume end)")
        row = "%-22s %7s %7s %9s %9s %9s"
        self.p(row % ("window", "MNTs", "errors", "p50 ms", "p99 ms", "max ms"))
        for w in ("before", "down", "after"):
            self.p(row % (w, *(t.get("volume_down", w, "-", "mnt_" + k) or "-"
                               for k in ("n", "errors", "p50", "p99", "max"))))
        self.p("every op made until start-volume returned was on the store "
               f"{t.get('volume_down', '-', '-', 'catchup_after_start') or '-'} s later "
               "(the MNT load going on)")

    def storekill(self):
        t = self.t
        self.p()
        self.p("== the store side killed under load (the real rpc.mountd at 30 MNT/s open loop; "
               "tests/integration/store-kill.sh)")
        row = "%-8s %-22s %7s %7s %9s %9s %9s"
        self.p(row % ("store", "phase", "MNTs", "failed", "p50 ms", "p99 ms", "max ms"))
        for st in ("dir", "gluster"):
            kills = t.get("storekill", st, "-", "kills") or "?"
            for ph, label in (("base", "no kills"), ("kills", f"{kills} x kill -9"),
                              ("sigstop", "SIGSTOP 10 s")):
                self.p(row % (st, label, *(t.get("storekill", st, ph, k) or "-"
                                           for k in ("n", "failed", "p50_ms", "p99_ms",
                                                     "max_ms"))))

    def storekill_targets(self):
        t = self.t
        for st in ("dir", "gluster"):
            failed = [t.num("storekill", st, ph, "failed") for ph in ("base", "kills", "sigstop")]
            text = f"no MNT fails while the store side is killed or stopped ({st} store)"
            self.target(f"kill.{st}.failed", None if None in failed else sum(failed), "<=", 0,
                        text, digits=0)
            base = t.num("storekill", st, "base", "p99_ms")
            for ph, limit, what in (("kills", 2, "20 kill -9"), ("sigstop", 1.5, "a 10 s SIGSTOP")):
                self.target(f"kill.{st}.{ph}", ratio(t.num("storekill", st, ph, "p99_ms"), base),
                            "<=", limit, f"MNT p99 during {what} <= {limit}x the p99 without "
                            f"({st} store)", "x")

    # -- targets --
    def target(self, tid, value, op, limit, text, unit="", na=None, digits=2):
        if na:
            word, shown = "n/a", na
        elif value is None:
            word, shown = "n/a", "not measured"
        else:
            ok = value >= limit if op == ">=" else value <= limit
            word, shown = ("met" if ok else "missed"), f"{value:.{digits}f}{unit}"
        self.p(f"  {word:<7}{text}: {shown}")
        self.derived.append(("target", tid, "-", text, word, shown))

    def rate_targets(self):
        n = str(RATE_N)
        fallback = self.ns[-1] if self.ns else None
        for pair, limit, what in (("db/a", 0.9, "(d, batch:1000)/(a)"),
                                  ("d/a", 0.6, "(d, fsync)/(a)"),
                                  ("d/b", 4, "(d, fsync)/(b)")):
            for kind, label in (("mnt", "MNT"), ("umnt", "UMNT")):
                x, y = pair.split("/")
                text = f"{what} {label} rate at N={RATE_N} >= {limit}x"
                tid = f"{pair}.{kind}"
                if x == "db" and not self.batch_ok:
                    self.target(tid, None, ">=", limit, text, na=NO_DURABILITY)
                elif n in self.ns:
                    self.target(tid, ratio(self.rate(x, n, kind), self.rate(y, n, kind)), ">=",
                                limit, text, "x")
                else:
                    r = ratio(self.rate(x, fallback, kind), self.rate(y, fallback, kind))
                    self.target(tid, None, ">=", limit, text,
                                na=f"not measured at N={RATE_N} (N={fallback}: {fmt(r)}x)")

    def targets(self):
        t, nrec, pn = self.t, self.t.run("nrec", "100000"), self.t.run("prop_n")
        self.p()
        self.p("== targets (issues 16 and 18; a benchmark never fails on a time)")
        if "mntumnt" in self.phases:
            self.rate_targets()
        if "records" in self.phases:
            for st in ("dir", "gluster"):
                plain = t.num("records", st, nrec, "cat_plain_median")
                if plain is None:
                    plain = t.num("records", "plain", nrec, "cat_median")
                self.target(f"cat.{st}", ratio(t.num("records", st, nrec, "cat_median"), plain),
                            "<=", 1.2, f"cat of {nrec} records <= 1.2x a plain file ({st} store)",
                            "x")
            for st in ("dir", "gluster"):
                reads = t.num("records", st, nrec, "second_cat_reads")
                self.target(f"cat.noread.{st}", reads, "<=", 0, "a second cat of an unchanged "
                            f"view sends no READ ({st} store)", " READs", digits=0,
                            na=None if reads is not None else
                            "not measured (the daemon counts no READ requests)")
            for st in ("dir", "gluster"):
                self.target(f"rss.{st}", self.bpr(st), "<=", RSS_TODAY[st],
                            f"RSS per record at {nrec} <= {RSS_TODAY[st]} B, as before "
                            f"({st} store)", " B", digits=0)
        if "prop" in self.phases:
            for st in ("gluster", "dir"):
                self.target(f"prop.{st}", t.num("propagation", st, pn, "p99_ms"), "<=", 50,
                            f"propagation p99 <= 50 ms ({st} store)", " ms", digits=1)
                lost = t.get("propagation", st, pn, "lost")
                same = t.get("propagation", st, pn, "same")
                text = f"no lost or reordered record ({st} store)"
                if lost is None or same is None:
                    self.target(f"prop.{st}.order", None, "<=", 0, text)
                else:
                    word = "met" if lost == "0" and same == "1" else "missed"
                    shown = f"{lost} lost, A's and B's rmtab {'identical' if same == '1' else 'differ'}"
                    self.p(f"  {word:<7}{text}: {shown}")
                    self.derived.append(("target", f"prop.{st}.order", "-", text, word, shown))
        if "storekill" in self.phases:
            self.storekill_targets()
        if "start" in self.phases:
            for case, label in (("gluster", "store reachable (gluster)"),
                                ("gluster-unreachable", "store unreachable"),
                                ("dir", "dir: store")):
                self.target(f"start.{case}", t.num("firstread", case, t.run("start_runs"),
                                                   "median"),
                            "<=", 100, f"first read <= 100 ms after start, {label}", " ms",
                            digits=1)

    def render(self, header):
        self.out.extend(header)
        self.p("mountd:   /usr/sbin/rpc.mountd -F (no -d), fakenfsd shim, own rpcbind, private "
               "mount+net namespace;")
        self.p("          mnt3 over one TCP connection: N MNT of distinct /export/a/dNNNNN, then "
               "N UMNT; empty rmtab each time")
        self.p()
        if "mntumnt" in self.phases:
            self.mntumnt()
        if "steps" in self.phases:
            self.steps()
        if "records" in self.phases:
            self.records()
        if "prop" in self.phases:
            self.prop()
        if "start" in self.phases:
            self.start()
        if "down" in self.phases:
            self.down()
        if "storekill" in self.phases:
            self.storekill()
        self.targets()
        self.p()
        if self.t.problems:
            self.p(f"== problems (the daemon or the set-up misbehaved; logs in "
                   f"{self.t.run('work')})")
            self.out.extend(f"  - {x}" for x in self.t.problems)
        else:
            self.p("== problems: none")


def cmd_table(argv):
    path = argv[0]
    header = []
    if "--header" in argv:
        with open(argv[argv.index("--header") + 1]) as f:
            header = f.read().splitlines()
    tb = Table(Tsv(path))
    tb.render(header)
    print("\n".join(tb.out))
    if "--append" in argv:
        seen = set()
        with open(path, "a") as f:
            for row in tb.derived:
                if row[:4] not in seen:
                    seen.add(row[:4])
                    f.write("\t".join(str(x) for x in row) + "\n")
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
        "elapsed": cmd_elapsed,
        "mnt3stats": cmd_mnt3stats,
        "hostres": cmd_hostres,
        "down": cmd_down,
        "caughtup": cmd_caughtup,
        "table": cmd_table,
    }
    f = cmds.get(sys.argv[1])
    if not f:
        sys.exit(__doc__)
    sys.exit(f(sys.argv[2:]))


if __name__ == "__main__":
    main()
