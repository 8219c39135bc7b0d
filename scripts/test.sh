#!/bin/bash
# test.sh: the project's whole test run, from a fresh Debian 12 machine (as root):
#   1. installs what is needed and builds ./build, the ASan+UBSan ./build-san and the
#      ThreadSanitizer ./build-tsan;
#   2. checks the C sources against .clang-format (a difference fails the run; the tests
#      still run, so one run shows everything);
#   3. starts what the tests need: glusterd and a throwaway replica-3 volume
#      (scripts/gluster-volume.sh); each integration test starts its own rpcbind and
#      rpc.mountd in private namespaces;
#   4. runs every meson test (unit, integration, gluster) on the normal and the ASan build,
#      and the unit tests and the multi-node test (dir: store) on the TSan build: all in a
#      mount namespace of their own in which a sentinel rmtabfs, started as scripts/run.sh
#      starts it, is mounted on /var/lib/nfs with a record of its own; afterwards it must
#      still be there, the same mount, its daemon alive and its record shown: no test
#      unmounts or changes a live server's /var/lib/nfs;
#   5. runs each fuzz target for a bounded time (FUZZ_TIME seconds, default 45);
#   6. stops and removes everything it started, also on failure; the host's /var/lib/nfs
#      (an administrator's rmtabfs from scripts/run.sh included) must be mounted exactly as
#      before the run.
# Exit status 0 only if everything passed. .ci/run runs exactly this.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

# The mounts on /var/lib/nfs, bottom to top: mount id, file system type, source.
nfs_mounts() {
	awk '$5 == "/var/lib/nfs" { for (i = 7; $i != "-"; i++); print $1, $(i + 1), $(i + 2) }' \
		/proc/self/mountinfo
}

# sentinel_holders DEV SPID: processes in a mount namespace other than ours whose mount
# table holds the file system DEV (major:minor), one "pid command" line each.
sentinel_holders() {
	local dev=$1 spid=$2 me p pid
	me=$(readlink /proc/self/ns/mnt)
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		[[ $pid == "$spid" || $pid == "$$" ]] && continue
		[[ $(readlink "$p/ns/mnt" 2>/dev/null) != "$me" ]] || continue
		awk -v d="$dev" '$3 == d { f = 1 } END { exit !f }' "$p/mountinfo" 2>/dev/null || continue
		echo "  $pid $(tr '\0' ' ' <"$p/cmdline" | cut -c 1-160)"
	done
}

# ---- inside the tests' mount namespace (slave: the host's later mounts still show here,
# nothing mounted here shows on the host) ----
run_suites() {
	local status=0 S id rec='192.0.2.254:/rmtabfs-ci-sentinel' reaper spid rc=0 i holders
	[[ -d /var/lib/nfs ]] || { echo "test.sh: /var/lib/nfs missing (nfs-common)" >&2; return 1; }
	# This namespace's /var/lib/nfs: a tmpfs, then the sentinel rmtabfs over it.
	mount -t tmpfs -o mode=0755 rfs-ci-nfs /var/lib/nfs
	mkdir -p /var/lib/nfs/sm /var/lib/nfs/sm.bak
	: >/var/lib/nfs/etab
	S=$(mktemp -d /tmp/rfs-ci-sentinel.XXXXXX)
	# As scripts/run.sh: "rmtabfs /var/lib/nfs", which forks once mounted (tests/tools/reap
	# learns its pid and exit status); its own state, store and control socket.
	RMTABFS_LOG_FILE=$S/sentinel.log "$top/build/tests/tools/reap" "$S/pid" "$top/build/fs/rmtabfs" \
		-o "statedir=$S/state,store=dir:$S/store,node=ci-sentinel,ctl=$S/ctl.sock" \
		/var/lib/nfs >"$S/reap.log" 2>&1 &
	reaper=$!
	for ((i = 0; i < 200; i++)); do
		[[ -s $S/pid ]] && break
		sleep 0.05
	done
	[[ -s $S/pid ]] || { cat "$S/reap.log" >&2; echo "test.sh: the sentinel did not start" >&2; return 1; }
	spid=$(<"$S/pid")
	echo "$rec" >>/var/lib/nfs/rmtab
	id=$(nfs_mounts | tail -n 1)
	echo "test.sh: sentinel rmtabfs (pid $spid) on /var/lib/nfs: $id" >&2

	meson test -C build --num-processes 1 --print-errorlogs || status=1
	# The sanitizer build's daemon, with the normal build's helpers (an ASan shim cannot be
	# preloaded into the distribution's rpc.mountd).
	# tests/lsan.supp: one known leak inside libglusterfs, not ours (see the file).
	RFS_TOOLS=$top/build/tests/tools RFS_PLAIN_BUILD=$top/build ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		LSAN_OPTIONS=suppressions=$top/tests/lsan.supp:print_suppressions=0 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-san --num-processes 1 --print-errorlogs --timeout-multiplier 3 ||
		status=1
	# ThreadSanitizer: the unit tests, and two hosts plus two concurrent writers on one
	# store (multinode, dir:). A report makes the daemon exit 66 at stop and fails the test.
	export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 suppressions=$top/tests/tsan.supp"
	meson test -C build-tsan --num-processes 1 --print-errorlogs --suite unit || status=1
	RFS_TOOLS=$top/build/tests/tools meson test -C build-tsan --num-processes 1 \
		--print-errorlogs --timeout-multiplier 3 multinode || status=1
	unset TSAN_OPTIONS

	# A process a test left behind in a mount namespace of its own keeps that namespace's
	# copy of the sentinel's mount, and with it the FUSE connection, alive: the sentinel
	# would never see its unmount, as an administrator's rmtabfs would not.
	holders=$(sentinel_holders "$(awk '$5 == "/var/lib/nfs" { d = $3 } END { print d }' \
		/proc/self/mountinfo)" "$spid")
	if [[ -n $holders ]]; then
		echo "test.sh: FAIL: processes left in other mount namespaces hold the sentinel's mount:" >&2
		echo "$holders" >&2
		status=1
	fi
	# The sentinel: the same mount, its daemon alive, its record there.
	if [[ $(nfs_mounts | tail -n 1) != "$id" ]]; then
		echo "test.sh: FAIL: the sentinel rmtabfs on /var/lib/nfs is gone: $(nfs_mounts | tr '\n' ';')" >&2
		status=1
	elif ! kill -0 "$spid" 2>/dev/null; then
		echo "test.sh: FAIL: the sentinel's daemon $spid is gone" >&2
		status=1
	elif ! grep -qxF "${rec}:0x00000001" /var/lib/nfs/rmtab; then
		echo "test.sh: FAIL: the sentinel's record is no longer in /var/lib/nfs/rmtab" >&2
		status=1
	else
		echo "test.sh: the sentinel rmtabfs on /var/lib/nfs and its record are still there" >&2
	fi
	umount /var/lib/nfs 2>/dev/null || umount -l /var/lib/nfs || true
	for ((i = 0; i < 600; i++)); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$spid" 2>/dev/null && echo "test.sh: FAIL: the sentinel did not stop in 30 s" >&2 && status=1
	wait "$reaper" || rc=$?
	if [[ $rc != 0 ]]; then
		echo "test.sh: FAIL: the sentinel's daemon exited with status $rc" >&2
		status=1
	fi
	umount /var/lib/nfs || umount -l /var/lib/nfs || true
	rm -rf -- "$S"
	return $status
}
if [[ ${1:-} == --suites ]]; then
	run_suites
	exit
fi

: "${FUZZ_TIME:=45}"
volume=rmtabfs-ci-$$
status=0

bash scripts/setup.sh --sanitize --tsan

if ! bash scripts/format.sh --check; then
	echo "test.sh: FAIL: sources differ from .clang-format (bash scripts/format.sh fixes them)" >&2
	status=1
fi

host_nfs_before=$(nfs_mounts)
cleanup() {
	bash scripts/gluster-volume.sh down "$volume" >&2 || true
}
trap cleanup EXIT
RFS_GLUSTER_URL=$(bash scripts/gluster-volume.sh up "$volume")
export RFS_GLUSTER_URL RFS_GLUSTER_VOLUME=$volume
echo "test.sh: gluster store $RFS_GLUSTER_URL" >&2

# A glusterd a fault test restarts belongs here, not in the test's own namespace.
export RMTABFS_GLUSTERD_MNTNS=/proc/$$/ns/mnt
unshare -m --propagation slave -- bash "$top/scripts/test.sh" --suites || status=1
bash scripts/fuzz.sh "$FUZZ_TIME" || status=1

if [[ $(nfs_mounts) != "$host_nfs_before" ]]; then
	echo "test.sh: FAIL: the host's /var/lib/nfs is not mounted as before the run" >&2
	printf '  before: %s\n  after:  %s\n' "$host_nfs_before" "$(nfs_mounts)" >&2
	status=1
elif [[ $host_nfs_before == *fuse.rmtabfs* ]] && ! stat /var/lib/nfs/rmtab >/dev/null; then
	echo "test.sh: FAIL: the host's rmtabfs on /var/lib/nfs no longer answers" >&2
	status=1
fi
exit $status
