#!/usr/bin/env python3
"""chaos_plan.py: the fault schedule of the randomized multi-node test (chaos.sh), from a seed.

usage: chaos_plan.py SEED SECONDS NODES STORE_KIND [KINDS]
  NODES: comma-separated; STORE_KIND: dir|gluster; KINDS: the fault kinds to use, comma-
  separated (default all: kill9,stop,compact,statedir and, on Gluster, brick)

Prints one fault a line, in order: START KIND NODE DURATION [MODE]
  START     seconds after the writers started (faults end before SECONDS)
  kill9     kill -9 of NODE's daemon; restarted with the same state directory DURATION s later
  stop      SIGSTOP of NODE's daemon for DURATION s, then SIGCONT
  brick     (gluster only) kill -9 of brick NODE (1..3), volume restarted DURATION s later
  compact   rmtabctl compact on NODE
  statedir  NODE's daemon stopped (MODE kill: kill -9, term: SIGTERM), its state directory
            deleted, started again with the same node id DURATION s later
Node faults run one after another; a brick fault runs alongside them. Every plan with all kinds has
at least one state-directory loss (in the middle third of the run) and, on Gluster, one brick
kill."""
import random, sys

seed, seconds, nodes, kind = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(","), \
    sys.argv[4]
rng = random.Random(seed)
weights = {"kill9": 3, "stop": 3, "compact": 2, "statedir": 1}
if kind == "gluster":
    weights["brick"] = 2
if len(sys.argv) > 5 and sys.argv[5]:
    wanted = sys.argv[5].split(",")
    unknown = set(wanted) - set(weights)
    if unknown:
        sys.exit(f"chaos_plan.py: unknown fault kinds for a {kind} store: {sorted(unknown)}")
    weights = {k: w for k, w in weights.items() if k in wanted}
kinds = [k for k, w in weights.items() for _ in range(w)]
plan, t, brick_free = [], 2.0, 0.0
end = seconds - 3.0
while kinds:
    k = rng.choice(kinds)
    if k == "kill9":
        f = [k, rng.choice(nodes), rng.uniform(0.1, 3.0)]
    elif k == "stop":
        f = [k, rng.choice(nodes), rng.uniform(0.5, 4.0)]
    elif k == "compact":
        f = [k, rng.choice(nodes), 0.0]
    elif k == "statedir":
        f = [k, rng.choice(nodes), rng.uniform(0.2, 3.0), rng.choice(["kill", "term"])]
    else:
        f = [k, str(rng.randint(1, 3)), rng.uniform(2.0, 8.0)]
    if k == "brick":
        start = max(t, brick_free)
        if start + f[2] > end:
            continue
        brick_free = start + f[2] + 2.0
    else:
        start = t
        if start + f[2] > end:
            break
        t = start + f[2] + rng.uniform(0.5, 4.0)
    plan.append([round(start, 2)] + f)
# At least one state-directory loss, and one brick kill on Gluster.
node_faults = [i for i, f in enumerate(plan) if f[1] in ("kill9", "stop", "compact")]
if "statedir" in weights and not any(f[1] == "statedir" for f in plan) and node_faults:
    mid = [i for i in node_faults if seconds / 3 <= plan[i][0] <= 2 * seconds / 3] or node_faults
    i = rng.choice(mid)
    plan[i] = [plan[i][0], "statedir", plan[i][2], min(plan[i][3], 2.0) or 0.5,
               rng.choice(["kill", "term"])]
if "brick" in weights and not any(f[1] == "brick" for f in plan) and seconds > 20:
    plan.append([round(seconds / 2, 2), "brick", str(rng.randint(1, 3)), 4.0])
plan.sort(key=lambda f: f[0])
for f in plan:
    print(" ".join(f"{x:.2f}" if isinstance(x, float) else str(x) for x in f))
