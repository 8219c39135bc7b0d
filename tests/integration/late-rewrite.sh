#!/bin/bash
# rpc.mountd's UMNT rewrites rmtab as: read rmtab, create rmtab.tmp, rename it onto rmtab,
# then write the list it read minus one entry (notes/nfs-utils.md §3). If rmtabfs is killed
# and restarted between the read and the rename (rpc.mountd paused, as under load), the read
# went to the dead mount and failed (unless the dead mount's page cache still held the
# view), and the list written is empty: committed, it would remove every record on every node
# (seen in CI: 498 records gone in one commit). Such a rename must be refused (EBUSY, a log
# line) and the records stay, whether the read failed or not; the same rewrite read
# through the running mount, also when another thread of the process read it (gNFS), commits
# exactly the one removal. (tests/tools/late_rewrite.py makes mountd's calls.) And a file
# whose writer's RELEASE comes after the rename is committed all the same.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_setup
LATE=$here/../tools/late_rewrite.py
M=$RFS_WORK/m
mkdir -p "$M"
OPTS="node=a,store=dir:$RFS_WORK/store,statedir=$RFS_WORK/a.state"
rfs_start a "$M" "$OPTS" || die "rmtabfs did not start"
for i in 1 2 3 4 5; do echo "10.9.0.$i:/export/x" >>"$M/rmtab"; done

rewrite() { # LABEL KEY RESTART [--read-thread]: mountd's UMNT rewrite; output in $OUT
	local sync=$RFS_WORK/sync.$1 pid i
	python3 "$LATE" "$M" "$2" "$sync" ${4:-} >"$RFS_WORK/$1.out" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		[[ -e $sync.read ]] && break
		sleep 0.05
	done
	[[ -e $sync.read ]] || die "$1: the rewriter never opened rmtab"
	if [[ $3 == restart ]]; then
		kill -9 "${RFS_PIDS[a]}"
		rfs_reap a
		umount -l "$M"
		rfs_start a "$M" "$OPTS" || die "$1: rmtabfs did not start again"
	fi
	touch "$sync.go"
	wait "$pid" || fail "$1: the rewriter failed: $(cat "$RFS_WORK/$1.out")"
	OUT=$(cat "$RFS_WORK/$1.out")
	log "$1: $(echo "$OUT" | tr '\n' ' ')"
}

# Through a mount that was restarted after the read: refused, nothing removed. Nothing has
# read the newest generation yet, so no page of it is cached: the read goes to the dead mount.
rewrite restarted 10.9.0.1 restart
check "restarted: the read failed (it went to the dead mount)" grep -q '^read failed' <<<"$OUT"
check "restarted: the rename is refused with EBUSY" grep -qx "rename EBUSY" <<<"$OUT"
check_eq "restarted: all five records are still there" 5 "$(rfs_count . "$M/rmtab")"
check "restarted: the log says why" grep -q 'refused: rmtab.tmp renamed onto it before it is written' \
	"$RFS_WORK/a.log"
# The same once the view's pages are cached (the count above read it): the read is served
# from the dead mount's page cache, a whole committed generation; the rename is refused all
# the same (the new daemon cannot tell what was read), and nothing changes.
rewrite cached 10.9.0.1 restart
check "restarted, cached: the dead mount's pages gave all five lines" grep -qx 'read 5 lines' <<<"$OUT"
check "restarted, cached: the rename is refused with EBUSY" grep -qx "rename EBUSY" <<<"$OUT"
check_eq "restarted, cached: all five records are still there" 5 "$(rfs_count . "$M/rmtab")"

# The same rewrite through the running mount: exactly the one record goes.
rewrite same 10.9.0.2 none
check "same mount: all five lines read" grep -qx 'read 5 lines' <<<"$OUT"
check "same mount: the rename succeeds" grep -qx 'rename ok' <<<"$OUT"
check_eq "same mount: four records left" 4 "$(rfs_count . "$M/rmtab")"
check "same mount: 10.9.0.2 removed" rfs_absent '^10\.9\.0\.2:' "$M/rmtab"

# Read on one thread, created and renamed on another (gNFS): the process read it: commits.
rewrite thread 10.9.0.3 none --read-thread
check "two threads: the rename succeeds" grep -qx 'rename ok' <<<"$OUT"
check_eq "two threads: three records left" 3 "$(rfs_count . "$M/rmtab")"

# A writer whose RELEASE comes after the rename: the kernel sends RELEASE after close() has
# returned, and a rename between a writer's last FLUSH and its RELEASE (sed -i on a loaded CI
# machine) found it still listed and waited for a flush that had come already: the rename
# succeeded and nothing was committed. Made certain here: the file stays mapped after its
# close (FLUSH), is renamed, then unmapped (RELEASE, no FLUSH).
python3 - "$M" <<'PY' >"$RFS_WORK/mapped.out" 2>&1 || fail "mapped writer: $(cat "$RFS_WORK/mapped.out")"
import ctypes, mmap, os, sys
d = sys.argv[1]
text = b"10.9.0.4:/export/x:0x00000001\n10.9.0.7:/export/y:0x00000001\n"
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
fd = os.open(os.path.join(d, "edit.tmp"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, text)
# libc's mmap, not Python's: that one dup()s the descriptor, and closing the dup is a FLUSH.
addr = libc.mmap(None, len(text), mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
if addr in (None, ctypes.c_void_p(-1).value):
    sys.exit(f"mmap: {os.strerror(ctypes.get_errno())}")
os.close(fd)  # FLUSH; the mapping keeps the file open: no RELEASE yet
os.rename(os.path.join(d, "edit.tmp"), os.path.join(d, "rmtab"))
libc.munmap(addr, len(text))  # the last reference: RELEASE, without a FLUSH
PY
committed() { [[ $(cat "$M/rmtab") == $'10.9.0.4:/export/x:0x00000001\n10.9.0.7:/export/y:0x00000001' ]]; }
wait_for 5 committed ||
	fail "a file renamed before its writer's RELEASE is not committed: $(tr '\n' ' ' <"$M/rmtab")"
check "renamed before its RELEASE: rmtab is the file's content" committed

rfs_stop a "$M"
rfs_finish
