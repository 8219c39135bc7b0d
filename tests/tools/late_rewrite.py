#!/usr/bin/env python3
"""late_rewrite.py: rpc.mountd's UMNT rewrite of rmtab (nfs-utils mountlist_del), step by step.

usage: late_rewrite.py DIR KEY SYNC [--read-thread]

In DIR (an rmtabfs mount): open rmtab for reading, then touch SYNC.read and wait for SYNC.go
(the test restarts the daemon in between, or not); open rmtab.tmp (O_WRONLY|O_CREAT|O_TRUNC);
read rmtab through the first descriptor (a failed read ends the list, as stdio's EOF does for
mountd); rename rmtab.tmp onto rmtab *before* writing it; write every line read except KEY's;
close. --read-thread: rmtab is opened by another thread of the process than the one that
creates and renames rmtab.tmp (gNFS opens its descriptors on whichever thread serves the
request). Prints "read N lines" and "rename ok" or "rename ERRNONAME"."""
import errno, os, sys, threading, time

d, key, sync = sys.argv[1], sys.argv[2], sys.argv[3]
opened, done = {}, threading.Event()


def open_view(stay):
    opened["fd"] = os.open(os.path.join(d, "rmtab"), os.O_RDONLY)
    if stay:  # a pool thread lives on (an opener that is gone cannot be told from a stranger)
        done.wait()


th = None
if "--read-thread" in sys.argv[4:]:
    th = threading.Thread(target=open_view, args=(True,))
    th.start()
    while "fd" not in opened:
        time.sleep(0.01)
else:
    open_view(False)
r = opened["fd"]
open(sync + ".read", "w").close()
for _ in range(600):
    if os.path.exists(sync + ".go"):
        break
    time.sleep(0.05)
else:
    sys.exit("no go")
t = os.open(os.path.join(d, "rmtab.tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
data = b""
try:
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
except OSError as e:
    print(f"read failed: {errno.errorcode.get(e.errno, e.errno)}")
lines = [l for l in data.decode().splitlines(keepends=True) if l]
print(f"read {len(lines)} lines")
try:
    os.rename(os.path.join(d, "rmtab.tmp"), os.path.join(d, "rmtab"))
    print("rename ok")
except OSError as e:
    print(f"rename {errno.errorcode.get(e.errno, e.errno)}")
os.write(t, "".join(l for l in lines if not l.startswith(key + ":")).encode())
os.close(t)
try:
    os.close(r)
except OSError:
    pass
done.set()
if th:
    th.join()
