#!/bin/bash
# Availability: a MOUNT workload (tests/tools/workload.py: rpc.mountd's syscalls through
# mountd_replay) runs on node A while the store or the daemon fails; node B watches. At the
# end every acknowledged op must be present on every node. Prints, per case: ops attempted,
# acknowledged, present afterwards, worst MOUNT latency.
# With RFS_STORE (the gluster suite): glusterd down at start, volume stopped mid-run, a brick
# killed, a brick frozen (SIGSTOP), kill -9 of the daemon. Always: kill -9 on a dir: store and
# a full state directory (ENOSPC).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"
rfs_setup
GV=$here/../../scripts/gluster-volume.sh
W=$RFS_TOOLS/workload.py
R=$RFS_TOOLS/mountd_replay
[[ -x $W ]] || W=$here/../tools/workload.py
MA=$RFS_WORK/a MB=$RFS_WORK/b
mkdir -p "$MA" "$MB"


# start_pair CASE STORE [A-OPTIONS] [STATEDIR-A]
start_pair() {
	local store=$1 aopts=${2:-} sa=${3:-$RFS_WORK/$CASE.a.state}
	rfs_start a "$MA" "node=a,store=$store,statedir=$sa,timeout=1${aopts:+,$aopts}" ||
		die "$CASE: node a did not start"
	rfs_start b "$MB" "node=b,store=$store,statedir=$RFS_WORK/$CASE.b.state,timeout=1" ||
		die "$CASE: node b did not start"
}
stop_pair() {
	rfs_stop a "$MA" >/dev/null
	rfs_stop b "$MB" >/dev/null
}
workload() { # SECONDS SEED: in the background; result in $RFS_WORK/$CASE.json
	rm -f "$RFS_WORK/$CASE.stop"
	python3 "$W" "$R" "$MA" "10.$2.0" --seconds "$1" --seed "$2" \
		--stop "$RFS_WORK/$CASE.stop" --out "$RFS_WORK/$CASE.json" &
	WL=$!
}
model_text() { # the model as rmtab lines, sorted
	python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))['model']
for k, n in m.items():
    print(f'{k}:0x{n:08x}')" "$RFS_WORK/$CASE.json" | LC_ALL=C sort
}
prefix_lines() { # MOUNT SEED: that workload's records in a view, sorted; fails unread
	local t
	t=$(cat "$1/rmtab") || return 2
	grep "^10\.$2\.0\." <<<"$t" | LC_ALL=C sort || true
}
# report SEED [TOLERATE]: numbers, then every acknowledged op on both nodes. TOLERATE=1
# allows the one op in flight when the daemon was killed (done but never acknowledged).
report() {
	local seed=$1 tol=${2:-0} want got_a got_b present differ dtext
	want=$(model_text)
	conv() { [[ $(prefix_lines "$MA" "$seed") == "$(prefix_lines "$MB" "$seed")" ]]; }
	wait_for 60 conv || true
	got_a=$(prefix_lines "$MA" "$seed")
	got_b=$(prefix_lines "$MB" "$seed")
	present=$(comm -12 <(printf '%s\n' "$want") <(printf '%s\n' "$got_b") | rfs_count . -)
	python3 - "$RFS_WORK/$CASE.json" "$present" "$CASE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"faults: {sys.argv[3]:<22} attempted {r['attempted']:5d}  acknowledged {r['acknowledged']:5d}"
      f"  failed {r['failed']:4d}  records {len(r['model']):4d}  present {int(sys.argv[2]):4d}"
      f"  worst MOUNT {r['max_ms']:7.1f} ms  p99 {r['p99_ms']:6.1f} ms")
PY
	# diff exits 1 when the texts differ (tolerated below): not a failure of the pipeline.
	dtext=$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got_b")) || true
	differ=$(rfs_count '^[<>]' - <<<"$dtext")
	if [[ $tol == 1 ]]; then
		check "$CASE: every acknowledged op is on node b (at most the one in flight differs)" \
			test "$differ" -le 2
	else
		check_eq "$CASE: every acknowledged op is on node b" "$want" "$got_b"
	fi
	check_eq "$CASE: node a and node b agree" "$got_a" "$got_b"
}
# kill -9 node a under the workload; stop the workload before the dead mount is cleared, so
# no op lands in the directory underneath.
kill9_a() {
	kill -9 "${RFS_PIDS[a]}"
	touch "$RFS_WORK/$CASE.stop"
	wait "$WL" || true
	rfs_kill9 a "$MA"
	rm -f "$MA/rmtab"
}
jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
	"$RFS_WORK/$CASE.json" "$1"; }

if [[ -n ${RFS_STORE:-} ]]; then
	: "${RFS_GLUSTER_VOLUME:?the gluster fault cases need RFS_GLUSTER_VOLUME}"
	VOL=$RFS_GLUSTER_VOLUME
	S=$RFS_STORE/$(basename "$RFS_WORK")

	CASE=glusterd-down-at-start
	bash "$GV" stop-glusterd
	start_pair "$S/c1"
	workload 6 11
	sleep 3
	bash "$GV" start-glusterd
	wait "$WL"
	check "$CASE: MOUNTs succeed without the store" test "$(jget failed)" = 0
	report 11
	check "$CASE: node a reached the store afterwards" \
		bash -c "'$RFS_CTL_BIN' -s '$RFS_WORK/a.sock' status | grep -q 'connected'"
	stop_pair

	CASE=volume-stopped
	start_pair "$S/c2"
	workload 12 12
	sleep 2
	seg0=$(rfs_ctl a status | awk -F': ' '$1 == "log-segment" { print $2 }')
	bash "$GV" stop-volume "$VOL"
	sleep 2
	bash "$GV" start-volume "$VOL"
	wait "$WL"
	check "$CASE: no MOUNT failed" test "$(jget failed)" = 0
	check "$CASE: the outage was logged once" \
		test "$(rfs_count 'unreachable' "$RFS_WORK/a.log")" -le 2
	# Back from the outage, node a appends to a new segment, never at the size a replica
	# that may be behind reports (fs/store/prepare.c, own_log_state).
	seg1=$(rfs_ctl a status | awk -F': ' '$1 == "log-segment" { print $2 }')
	check "$CASE: a new log segment after the outage ($seg0 -> $seg1)" \
		test "${seg1:-0}" -gt "${seg0:-999999}"
	report 12
	stop_pair

	CASE=brick-killed
	start_pair "$S/c3"
	lines=$(wc -l <"$RFS_WORK/a.log")
	workload 10 13
	sleep 2
	bash "$GV" kill-brick "$VOL" 1
	sleep 3
	bash "$GV" restart-bricks "$VOL"
	wait "$WL"
	check "$CASE: no MOUNT failed" test "$(jget failed)" = 0
	check "$CASE: the store never went down for node a" \
		rfs_absent_from $((lines + 1)) unreachable "$RFS_WORK/a.log"
	report 13
	stop_pair

	CASE=brick-frozen
	start_pair "$S/c4" "sync=store"
	workload 14 14
	sleep 2
	bash "$GV" pause-brick "$VOL" 1
	sleep 9
	bash "$GV" resume-brick "$VOL" 1
	wait "$WL"
	check "$CASE: no MOUNT failed" test "$(jget failed)" = 0
	check "$CASE: with sync=store a MOUNT waits at most timeout=1 s ($(jget max_ms) ms)" \
		python3 -c "import sys; sys.exit(not $(jget max_ms) < 1500)"
	report 14
	stop_pair

	CASE=kill9-gluster
	start_pair "$S/c5"
	workload 30 15
	sleep 2
	kill9_a
	rfs_start a "$MA" "node=a,store=$S/c5,statedir=$RFS_WORK/$CASE.a.state,timeout=1" ||
		die "restart"
	report 15 1
	stop_pair
fi

CASE=kill9-dir
start_pair "dir:$RFS_WORK/store"
workload 30 16
sleep 2
kill9_a
rfs_start a "$MA" "node=a,store=dir:$RFS_WORK/store,statedir=$RFS_WORK/$CASE.a.state" ||
	die "restart"
report 16 1
stop_pair

# The state directory's file system fills up: the failing write says ENOSPC, nothing
# half-written becomes a record, and service resumes when space returns.
CASE=statedir-full
SD=$RFS_WORK/smallfs
mkdir -p "$SD"
mount -t tmpfs -o size=512k rfs-small "$SD"
start_pair "dir:$RFS_WORK/store" "" "$SD/state"
head -c $((512 * 1024 - 48 * 1024)) /dev/zero >"$SD/filler" 2>/dev/null || true
workload 8 17
sleep 5
rm -f "$SD/filler"
wait "$WL"
check "$CASE: some MOUNTs failed while the disk was full ($(jget failed))" \
	test "$(jget failed)" -gt 0
check "$CASE: the failures said ENOSPC" grep -q "No space left on device" "$RFS_WORK/a.log"
report 17
# fill(DIR): a file in DIR that fills its file system to the last byte; its path.
FILL_PY='import errno, os, sys
def fill(d):
    path = os.path.join(d, "filler.%d" % os.getpid())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    for size in (65536, 4096, 512, 64, 8, 1):
        try:
            while True:
                os.write(fd, b"\0" * size)
        except OSError:
            pass
    os.close(fd)
    return path
'
errno=$(python3 -c "$FILL_PY$(cat <<'PY'
path, sd = sys.argv[1], sys.argv[2]
filler = fill(sd)
res = "OK"
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
try:
    # Enough records that their journal lines need new pages (a page already allocated
    # to the journal may still take a line or two).
    os.write(fd, b"".join(b"10.99.0.1:/export/full%d\n" % i for i in range(200)))
    os.close(fd)
except OSError as e:
    res = errno.errorcode[e.errno]
os.unlink(filler)
print(res)
PY
)" "$MA/rmtab" "$SD")
check_eq "$CASE: a write on a full state directory fails with ENOSPC" ENOSPC "$errno"
check "$CASE: and its record is not there" rfs_absent 10.99.0.1 "$MA/rmtab"
# rpc.mountd's UMNT rewrite (rmtab.tmp renamed onto rmtab, then written) whose close fails
# with ENOSPC is refused for good: its RELEASE, which comes once the last reference goes
# (a mapping here) and after space returned, must not commit it after all (seen in CI: an
# UMNT mountd answered with an error applied anyway).
late=$(python3 -c "$FILL_PY$(cat <<'PY'
import ctypes, mmap
d, sd = sys.argv[1], sys.argv[2]
rmtab, tmp = os.path.join(d, "rmtab"), os.path.join(d, "rmtab.tmp")
old = open(rmtab)  # held across the rename, as rpc.mountd does
keep = old.read()
fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.rename(tmp, rmtab)
old.close()
# Enough new records that their journal lines need new pages (see above).
new = "".join("10.99.0.3:/export/late%d:0x00000001\n" % i for i in range(200))
os.write(fd, (keep + new).encode())
# A mapping holds the file without a descriptor (Python's mmap keeps a dup, whose close
# would be a FLUSH of its own): its munmap is the RELEASE.
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
addr = libc.mmap(None, 4096, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
if addr in (None, ctypes.c_void_p(-1).value):
    sys.exit("mmap failed")
filler = fill(sd)
res = "OK"
try:
    os.close(fd)
except OSError as e:
    res = errno.errorcode[e.errno]
os.unlink(filler)
libc.munmap(addr, 4096)  # the last reference: RELEASE, with space back
print(res)
PY
)" "$MA" "$SD")
check_eq "$CASE: an UMNT-style rewrite whose close hits the full disk fails" ENOSPC "$late"
sleep 0.5
check "$CASE: ... and stays refused once space returns before its RELEASE" \
	rfs_absent 10.99.0.3 "$MA/rmtab"
echo '10.99.0.2:/export/full' >>"$MA/rmtab"
check "$CASE: service resumes when space returns" grep -q 10.99.0.2 "$MA/rmtab"
stop_pair
umount "$SD"
rfs_finish
