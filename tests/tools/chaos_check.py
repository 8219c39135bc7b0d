#!/usr/bin/env python3
"""chaos_check.py: the checker of the randomized multi-node test (tests/integration/chaos.sh).

usage: chaos_check.py --ops FILE... --view NAME=FILE... [--faults FILE] [--seed S]
                      [--seconds S] [--converge S] [--quiet]

The model, from the writers' op logs (tests/tools/chaos_writer.py): every key has exactly one
writer, which makes an op on a node only after that node showed the key's previous outcome,
so an acknowledged op fixes the key's count (last-writer-wins must keep it: it was stamped
after every earlier op on the key had reached its node) and an unresolved op (it may or may
not have happened) adds its outcome to the counts the key may have. A key never written must
be absent. So for each key the model is a set of allowed counts, a single one whenever the
key's last op was acknowledged.

Every view must (1) have exactly the same bytes as every other view and (2) hold, for every
key, an allowed count, and no record outside the writers' keys. --quiet prints nothing and
exits 0 when both hold (the test polls with it until the nodes settle). Otherwise prints the
run's numbers and every mismatch, by key, with each node's count and the allowed ones, and
exits 1 on any mismatch.

One exception to "an acknowledged op fixes the count": an op acknowledged by a node at most
--risk-window seconds (default 2) before that node was killed and lost its state directory
(--faults) may be gone with the journal it was in, before it was shipped; the key may then
keep either count. How many such ops there were, and how many were really lost, is printed."""
import argparse, collections, json, sys

ap = argparse.ArgumentParser()
ap.add_argument("--ops", nargs="+", required=True)
ap.add_argument("--view", action="append", required=True, help="NAME=FILE")
ap.add_argument("--faults", default="")
ap.add_argument("--seed", default="?")
ap.add_argument("--seconds", default="?")
ap.add_argument("--converge", default="")
ap.add_argument("--quiet", action="store_true")
ap.add_argument("--risk-window", type=float, default=2.0)
ap.add_argument("--catchup-window", type=float, default=5.0)
a = ap.parse_args()


def parse_view(data):
    recs, bad = {}, []
    for line in data.decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) != 3:
            bad.append(line)
            continue
        try:
            n = int(parts[2], 16)
        except ValueError:
            bad.append(line)
            continue
        k = f"{parts[0]}:{parts[1]}"
        if k in recs:
            bad.append(line)
        recs[k] = n
    return recs, bad


allowed = {}
summaries, ops = [], []
for f in a.ops:
    try:
        lines = open(f).read().splitlines()
    except OSError as e:
        print(f"cannot read op log {f}: {e}")
        sys.exit(2)
    for line in lines:
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a writer killed mid-line: its op was never acknowledged
        if "summary" in r:
            summaries.append(r["summary"])
            continue
        ops.append(r)
# A kill -9 together with the loss of the state directory (a crash that takes the disk) loses
# what the node had acknowledged but not yet shipped: with sync=local an op is acknowledged
# once it is in the local journal, and it reaches the store some 20-50 ms later. Such ops (of
# that node, acknowledged at most --risk-window s before it) may or may not survive.
faults = []
if a.faults:
    try:
        faults = [json.loads(line) for line in open(a.faults) if line.strip()]
    except (OSError, ValueError) as e:
        print(f"cannot read the fault log {a.faults}: {e}")
        sys.exit(2)
# README: "What the lost directory held and the store did not is gone: ... at most the changes
# of the last ~70 ms before the loss ... or of a store outage". So also a clean stop that named
# ops it could not confirm (the store was unreachable) followed by the loss: the node's ops
# since its store was last connected (chaos.sh: "unshipped_since", minus the risk window for
# what was still in flight then) may or may not survive. (node, from, to) per loss.
crashes = [(f["node"], float(f["t"]) - a.risk_window, float(f["t"])) for f in faults
           if f["fault"] == "statedir-loss" and f.get("stop") == "kill"]
crashes += [(f["node"], float(f["unshipped_since"]) - a.risk_window, float(f["t"]))
            for f in faults if f["fault"] == "statedir-loss" and f.get("unshipped_since")]


# README's known limit: a node that restarted after a kill -9 or a state-directory loss
# answers from what it shows while it catches up with the store (its view may lack records or
# show older counts), so an op it makes then may be applied to an older count. From the fault
# to --catchup-window s after the restart, such ops make their key uncertain; a mismatch on a
# key whose ops since its last certain acknowledged op include one is listed, not failed.
restarts = [(f["node"], float(f["t"]), float(f["t"]) + float(f.get("duration", 0)) +
             a.catchup_window) for f in faults if f["fault"] in ("statedir-loss", "kill9")]


def catching_up(r):
    return any(n == r["node"] and t0 <= r["t"] <= t1 for n, t0, t1 in restarts)


def at_risk(r):
    return r["status"] == "acked" and any(
        n == r["node"] and t0 <= r["t"] <= t for n, t0, t in crashes)


# Each key has one writer, whose op numbers order its ops.
ops.sort(key=lambda r: (r["w"], r["n"]))
risky_last = {}
n_risky = 0
uncertain = set()  # keys with a catch-up op since their last certain one
n_catchup = 0
for r in ops:
    s = allowed.setdefault(r["key"], {0})
    risky = at_risk(r)
    n_risky += risky
    catchup = catching_up(r)
    n_catchup += catchup
    if catchup:
        uncertain.add(r["key"])
        s.add(r["after"])
    elif r["status"] == "acked" and not risky:
        allowed[r["key"]] = {r["after"]}
        risky_last.pop(r["key"], None)
        uncertain.discard(r["key"])
    else:
        s.add(r["after"])
        if risky:
            risky_last[r["key"]] = r

views, raw = {}, {}
for spec in a.view:
    name, path = spec.split("=", 1)
    try:
        raw[name] = open(path, "rb").read()
    except OSError as e:
        if a.quiet:
            sys.exit(1)
        print(f"cannot read the view of {name} ({path}): {e}")
        sys.exit(2)
    views[name] = parse_view(raw[name])

names = list(views)
identical = all(raw[n] == raw[names[0]] for n in names)
mismatch = {}
for k in sorted(set(allowed) | {k for v, _ in views.values() for k in v}):
    ok = allowed.get(k, {0})
    got = {n: views[n][0].get(k, 0) for n in names}
    if any(g not in ok for g in got.values()):
        mismatch[k] = (got, ok)
known = {k: mismatch.pop(k) for k in list(mismatch) if k in uncertain}
bad_lines = {n: views[n][1] for n in names if views[n][1]}
if a.quiet:
    sys.exit(0 if identical and not mismatch and not bad_lines else 1)

tot = collections.Counter()
for s in summaries:
    tot.update({k: v for k, v in s.items() if k != "w"})
fault_kinds = collections.Counter(f["fault"] + ("(kill)" if f.get("stop") == "kill" else "")
                                  for f in faults)
lost = []
for k, r in risky_last.items():
    if any(views[n][0].get(k, 0) != r["after"] for n in names):
        t_crash = min(t for n, _, t in crashes if n == r["node"] and t >= r["t"])
        lost.append((k, r, t_crash - r["t"]))
unresolved_last = sum(1 for s in allowed.values() if len(s) > 1)
print(f"seed {a.seed}  chaos {a.seconds} s  writers {len(summaries)}  keys written {len(allowed)}")
print(f"ops attempted {tot['attempted']}  acknowledged {tot['acked']}  unresolved "
      f"{tot['unresolved']}  node unreachable {tot['unreachable']}  guard misses "
      f"{tot['guard_miss']} (node behind the key's last op)"
      + (f"  RPCs never settled {tot['rpc_unsettled']}" if tot['rpc_unsettled'] else ""))
print(f"ops by kind: mnt {tot['mnt']}  umnt {tot['umnt']}  rpc (real rpc.mountd) {tot['rpc']}"
      f"  in-place rewrite {tot['inplace']}  append {tot['append']}")
print("faults: " + ("  ".join(f"{k} {v}" for k, v in sorted(fault_kinds.items())) or "none"))
print(f"acknowledged ops at most {a.risk_window:g} s before a kill -9 + state-directory loss of "
      f"their node (or unshipped at a clean stop with the store unreachable, then such a loss: "
      f"{sum(1 for c in crashes if c[2] - c[1] > a.risk_window)}): {n_risky}; the last op of its key and not on every view: {len(lost)}"
      + (f" (acknowledged {min(x[2] for x in lost) * 1000:.0f}-{max(x[2] for x in lost) * 1000:.0f}"
         f" ms before the crash)" if lost else ""))
print(f"records in the model {sum(1 for s in allowed.values() if s != {0})}  keys ending "
      f"ambiguous {unresolved_last}  views {' '.join(f'{n}:{len(views[n][0])}' for n in names)}")
if a.converge:
    print(f"time to converge: {a.converge}")
print(f"views byte-identical: {'yes' if identical else 'NO'}")
for n, b in bad_lines.items():
    print(f"view {n}: {len(b)} malformed or duplicate lines, first: {b[0]!r}")
print(f"ops made by a node catching up after its restart (within {a.catchup_window:g} s): "
      f"{n_catchup}; keys whose final value they decided against the model (README's known "
      f"limit, not failed): {len(known)}")
for k, (got, ok) in list(known.items())[:10]:
    print(f"  {k}: " + " ".join(f"{n}={g}" for n, g in got.items()) + f"  model {sorted(ok)}")
print(f"mismatches: {len(mismatch)}")
for k, (got, ok) in list(mismatch.items())[:60]:
    print(f"  {k}: " + " ".join(f"{n}={g}" for n, g in got.items()) +
          f"  allowed {sorted(ok)}")
if len(mismatch) > 60:
    print(f"  ... {len(mismatch) - 60} more")
# For a mismatch, the key's last ops say which node made the op the views lack.
for k in list(mismatch)[:5]:
    last = [r for r in ops if r["key"] == k][-3:]
    for r in last:
        print(f"    {k} op {r['n']} {r['op']} {r['before']}->{r['after']} on {r['node']} "
              f"by {r['method']} {r['status']} at {r['t']:.3f}")
sys.exit(0 if identical and not mismatch and not bad_lines else 1)
