#!/usr/bin/env python3
"""chaos_writer.py: one writer of the randomized multi-node test (tests/integration/chaos.sh).

usage: chaos_writer.py --id W --node NAME=NSPID ... --mnt3 PATH --seed S --stop FILE --out FILE

The writer owns its keys alone (clients 127.0.W+1.1..20 on /export/a/sub1..5, which the real
rpc.mountd can write, and 10.77.W.1..100 on /export/x; 20 of them hot, with 70 % of the ops),
so every op on a key follows the one before it. It moves between the nodes (a home node that changes every few dozen ops, and a
random node now and then), so each key is written on every node over a run and the order of
two ops on one key across nodes is decided by the cluster's last-writer-wins.

Each op, on node NAME (reached through /proc/NSPID/root and, for RPCs, its network namespace):
  - under rpc.mountd's own lock (NAME's /var/lib/nfs/.rmtab.lock, F_WRLCK), read the rmtab view
    through the FUSE mount (fstatfs must say FUSE: a cleared mount would show the directory
    underneath) and find the key's count;
  - guard: that count must be one the key may have now (see below); else the node has not
    caught up with the key's last op (or lost it): no op, counted as a guard miss;
  - MNT (count + 1) or UMNT (count - 1, the record goes at 0) by one of:
      rpc     a MOUNT/UMOUNT RPC to NAME's real rpc.mountd (tests/tools/mnt3), then a read of
              the view: acknowledged when the RPC succeeded and the view shows the new count
              (after a failed one, the writer waits until that rpc.mountd answers again, so
              the request it may still hold cannot land after the key's next op);
      inplace rpc.mountd's in-place rewrite: pwrite of the edited content at 0 and ftruncate
              through the descriptor that read it, acknowledged when close() returns 0;
      append  (MNT only) `echo client:path >> rmtab`: one more mount of the key, acknowledged
              when close() returns 0.
An op that may or may not have happened (an error after the write began, a killed daemon) is
"unresolved": the key may now have either count. An acknowledged op fixes the key's count: it
was stamped after every earlier op on the key had reached the node that made it (the guard),
so last-writer-wins must keep it.

Every op that may have changed something is one JSON line in FILE:
  {"w", "n" (op number), "key", "op", "method", "node", "before", "after",
   "status": "acked" | "unresolved", "t" (wall-clock seconds when it was acknowledged)}
and at the end one line {"summary": {...counters...}}."""
import argparse, ctypes, fcntl, json, os, random, subprocess, time

FUSE_SUPER_MAGIC = 0x65735546
libc = ctypes.CDLL(None, use_errno=True)


class Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_byte * 120)]


def is_fuse(fd):
    s = Statfs()
    if libc.fstatfs(fd, ctypes.byref(s)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return s.f_type == FUSE_SUPER_MAGIC


class NotFuse(Exception):
    pass


def read_all(fd):
    out = b""
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return out
        out += b


def parse(data):
    """rmtab bytes -> {(client, path): count}, lines in order."""
    recs = {}
    for line in data.decode(errors="replace").splitlines():
        parts = line.split(":")
        if len(parts) < 2:
            continue
        n = int(parts[2], 0) if len(parts) > 2 else 1
        recs[(parts[0], parts[1])] = recs.get((parts[0], parts[1]), 0) + n
    return recs


def render(recs):
    return "".join(f"{c}:{p}:0x{n:08x}\n" for (c, p), n in recs.items() if n > 0).encode()


ap = argparse.ArgumentParser()
ap.add_argument("--id", type=int, required=True)
ap.add_argument("--node", action="append", required=True, help="NAME=NSPID")
ap.add_argument("--mnt3", required=True)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--stop", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--pause", type=float, default=0.01)
a = ap.parse_args()

rng = random.Random(a.seed * 1000 + a.id)
nodes = {}
for spec in a.node:
    name, pid = spec.split("=")
    nodes[name] = int(pid)
names = sorted(nodes)
W = a.id
keys = [(f"127.0.{W + 1}.{i}", f"/export/a/sub{p}") for i in range(1, 21) for p in range(1, 6)]
keys += [(f"10.77.{W}.{i}", "/export/x") for i in range(1, 101)]
# A few hot keys take most ops (removals and re-adds in quick succession, across nodes); the
# cold rest is written now and then, so many keys keep an op of one node, at one moment of
# the run, until the end (a view that lost or skipped that op shows it).
hot = rng.sample(keys, 20)
rpc_ok = {k for k in keys if k[0].startswith("127.")}
may = {k: {0} for k in keys}  # counts each key may have now
stats = dict(attempted=0, acked=0, unresolved=0, guard_miss=0, unreachable=0,
             rpc=0, inplace=0, append=0, mnt=0, umnt=0, rpc_unsettled=0)
rpc_dead = set()
out = open(a.out, "w", buffering=1)
seq = 0
home = rng.choice(names)


def nfs(name, f):
    return f"/proc/{nodes[name]}/root/var/lib/nfs/{f}"


def close_quietly(fd):
    """Closes a descriptor whose close says nothing about an op (lock file, a reader)."""
    try:
        os.close(fd)
    except OSError:
        pass


def lock(name):
    fd = os.open(nfs(name, ".rmtab.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if not is_fuse(fd):
            raise NotFuse()
        fcntl.lockf(fd, fcntl.LOCK_EX)
    except BaseException:
        close_quietly(fd)
        raise
    return fd


def view(name, mode=os.O_RDONLY):
    fd = os.open(nfs(name, "rmtab"), mode)
    try:
        if not is_fuse(fd):
            raise NotFuse()
        return fd, parse(read_all(fd))
    except BaseException:
        close_quietly(fd)
        raise


def record(key, op, method, node, before, after, status):
    global seq
    seq += 1
    stats[status] += 1
    if status == "acked":
        may[key] = {after}
    else:
        may[key].add(after)
    out.write(json.dumps({"w": W, "n": seq, "key": f"{key[0]}:{key[1]}", "op": op,
                          "method": method, "node": node, "before": before, "after": after,
                          "status": status, "t": round(time.time(), 6)}) + "\n")


def one_op():
    global home
    if rng.random() < 0.03:
        home = rng.choice(names)  # the writer's clients move to another server
    node = home if rng.random() < 0.7 else rng.choice(names)
    key = rng.choice(hot) if rng.random() < 0.7 else rng.choice(keys)
    stats["attempted"] += 1
    try:
        lk = lock(node)
    except (OSError, NotFuse):
        stats["unreachable"] += 1
        return
    try:
        try:
            fd, recs = view(node, os.O_RDWR)
        except (OSError, NotFuse):
            stats["unreachable"] += 1
            return
        before = recs.get(key, 0)
        if before not in may[key]:
            close_quietly(fd)
            stats["guard_miss"] += 1
            return
        op = "mnt" if before == 0 or (before < 3 and rng.random() < 0.55) else "umnt"
        after = before + 1 if op == "mnt" else before - 1
        methods = ["inplace"] + (["append"] if op == "mnt" else []) + \
            (["rpc", "rpc"] if key in rpc_ok and node not in rpc_dead else [])
        method = rng.choice(methods)
        stats[method] += 1
        stats[op] += 1
        if method == "rpc":
            close_quietly(fd)
            close_quietly(lk)
            lk = -1
            rpc(key, op, node, before, after)
            return
        if method == "inplace":
            if op == "mnt":
                recs[key] = after
            else:
                recs[key] = after  # 0: render drops it
            data = render(recs)
            try:
                os.pwrite(fd, data, 0)
                os.ftruncate(fd, len(data))
            except OSError:
                close_quietly(fd)
                record(key, op, method, node, before, after, "unresolved")
                return
        else:
            close_quietly(fd)
            try:
                fd = os.open(nfs(node, "rmtab"), os.O_WRONLY | os.O_APPEND)
            except OSError:
                stats["unreachable"] += 1
                return
            try:
                if not is_fuse(fd):
                    close_quietly(fd)
                    stats["unreachable"] += 1
                    return
                os.write(fd, f"{key[0]}:{key[1]}\n".encode())
            except OSError:
                close_quietly(fd)
                record(key, op, method, node, before, after, "unresolved")
                return
        try:
            os.close(fd)
        except OSError:
            record(key, op, method, node, before, after, "unresolved")
            return
        record(key, op, method, node, before, after, "acked")
    finally:
        if lk >= 0:
            close_quietly(lk)


def settle_rpc(node):
    """After a failed or timed-out RPC (rpc.mountd frozen with its daemon, say): waits until
    the node's rpc.mountd answers a NULL, so the request it may still hold is done before the
    key's next op: one made later must also be stamped later."""
    t_end = time.monotonic() + 120
    while time.monotonic() < t_end and not os.path.exists(a.stop):
        cmd = ["nsenter", "-t", str(nodes[node]), "-n", "--", a.mnt3, "-q", "-t", "5",
               "127.0.0.1", "null"]
        try:
            if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=30).returncode == 0:
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.2)
    stats["rpc_unsettled"] += 1
    rpc_dead.add(node)  # its rpc.mountd is gone: no more RPCs there (the test fails on it)


def rpc(key, op, node, before, after):
    cmd = ["nsenter", "-t", str(nodes[node]), "-n", "--", a.mnt3, "-q", "-t", "5",
           "-b", key[0], "127.0.0.1", op, key[1]]
    try:
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            timeout=30).returncode
    except subprocess.TimeoutExpired:
        rc = -1
    status = "unresolved"
    if rc != 0:
        settle_rpc(node)
    if rc == 0:
        try:
            lk = lock(node)
            try:
                fd, recs = view(node)
                close_quietly(fd)
            finally:
                close_quietly(lk)
            if recs.get(key, 0) == after:
                status = "acked"
        except (OSError, NotFuse):
            pass
    record(key, op, "rpc", node, before, after, status)


while not os.path.exists(a.stop):
    one_op()
    time.sleep(a.pause)
out.write(json.dumps({"summary": dict(stats, w=W)}) + "\n")
