#!/bin/bash
# The test library itself (lib.sh), so that the tests built on it can fail:
#  - every negative-check helper (rfs_absent, rfs_count, rfs_absent_from, rfs_no_entry,
#    rfs_gone) fails when its input cannot be read: a missing file, a directory, a dead
#    FUSE mount (ENOTCONN); and answers right when it can;
#  - no test script holds a negative check that passes on an unreadable file ("! grep -q
#    PAT FILE", "test ! -e" and the like), so converted checks stay converted;
#  - rfs_stop fails the test when the daemon crashed (SIGSEGV) or exited non-zero, in each
#    start mode (foreground, background, mount(8)), and learns a clean exit as 0;
#  - a test running beside another rmtabfs mounted on /var/lib/nfs (an administrator's,
#    started as scripts/run.sh starts it) leaves that mount, its daemon and its records
#    alone, also when the test dies half-way with its daemons running.
# Runs in a mount namespace of its own (mount mode makes rfs_need_fuse re-exec into one),
# so the /var/lib/nfs mounted here is this namespace's, never the host's.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export RFS_START=mount
source "$here/lib.sh"
rfs_setup
rfs_own_mount_ns || die "not in a mount namespace of its own"
W=$RFS_WORK
ulimit -c 0 # the crashes below leave no core file anywhere

# ---- the helpers, on readable and unreadable input ----
printf 'alpha\nbeta\n' >"$W/f"
mkdir -p "$W/dir"
status() { # COMMAND...: prints its exit status
	local rc=0
	"$@" 2>/dev/null || rc=$?
	echo "$rc"
}
check_eq "rfs_absent: no match is 0" 0 "$(status rfs_absent gamma "$W/f")"
check_eq "rfs_absent: a match is 1" 1 "$(status rfs_absent beta "$W/f")"
check_eq "rfs_absent: a missing file fails (2)" 2 "$(status rfs_absent gamma "$W/missing")"
check_eq "rfs_absent: a directory fails (2)" 2 "$(status rfs_absent gamma "$W/dir")"
check_eq "rfs_absent: stdin" 0 "$(status rfs_absent gamma - <"$W/f")"
check_eq "rfs_absent: one unreadable among files fails (2)" 2 \
	"$(status rfs_absent gamma "$W/f" "$W/missing")"
check_eq "rfs_count: counts" 1 "$(rfs_count beta "$W/f")"
check_eq "rfs_count: none is 0" 0 "$(rfs_count gamma "$W/f")"
check_eq "rfs_count: a missing file fails (2)" 2 "$(status rfs_count gamma "$W/missing")"
check_eq "rfs_absent_from: after line 2" 0 "$(status rfs_absent_from 2 alpha "$W/f")"
check_eq "rfs_absent_from: from line 1" 1 "$(status rfs_absent_from 1 alpha "$W/f")"
check_eq "rfs_absent_from: a missing file fails (2)" 2 \
	"$(status rfs_absent_from 1 alpha "$W/missing")"
check_eq "rfs_no_entry: no such name" 0 "$(status rfs_no_entry "$W" nothing-like-this)"
check_eq "rfs_no_entry: a name there" 1 "$(status rfs_no_entry "$W" '^dir$')"
check_eq "rfs_no_entry: a missing directory fails (2)" 2 "$(status rfs_no_entry "$W/missing" x)"
check_eq "rfs_gone: a missing file" 0 "$(status rfs_gone "$W/missing")"
check_eq "rfs_gone: a file there" 1 "$(status rfs_gone "$W/f")"
check_eq "rfs_gone: in a missing directory fails (2)" 2 "$(status rfs_gone "$W/missing/x")"

# A dead mount (the daemon killed): everything under it is unreadable, nothing "absent".
M=$W/dead
mkdir -p "$M"
RFS_START=fg rfs_start dead "$M" "statedir=$W/dead.state,store=dir:$W/store,node=dead" ||
	die "mount"
echo '10.0.0.1:/x' >>"$M/rmtab"
kill -9 "${RFS_PIDS[dead]}"
rfs_reap dead
check "the mount is dead (ENOTCONN)" bash -c "! cat '$M/rmtab' 2>/dev/null"
check_eq "rfs_absent on a dead mount fails (2)" 2 "$(status rfs_absent 10.9.9.9 "$M/rmtab")"
check_eq "rfs_count on a dead mount fails (2)" 2 "$(status rfs_count 10.9.9.9 "$M/rmtab")"
check_eq "rfs_no_entry on a dead mount fails (2)" 2 "$(status rfs_no_entry "$M" x)"
check_eq "rfs_gone on a dead mount fails (2)" 2 "$(status rfs_gone "$M/x")"
umount -l "$M"

# ---- no negative check left that an unreadable file would pass ----
# "! grep" on a file, "! ... | grep" (the left side's failure is lost), "test ! -e" and
# "grep -c ... || true" (prints nothing on failure). Here-strings ("<<<") are always read.
bad=$(grep -n -E '!\s*(grep|on [A-Za-z]+ grep)\b|!\s*[a-z]+ [^|]*\|\s*grep|test ! -[esf]|grep -c[^|]*\|\|\s*true' \
	"$here"/*.sh |
	grep -v -e '<<<' -e "^$here/lib-selftest.sh:" -e '^[^:]*:[0-9]*:\s*#' || true)
check_eq "no negative check in tests/integration that passes on an unreadable input" "" "$bad"

# ---- rfs_stop learns the daemon's exit status in every start mode ----
for mode in fg bg mount; do
	M=$W/m-$mode
	mkdir -p "$M"
	O="statedir=$W/$mode.state,store=dir:$W/store,node=$mode"
	RFS_START=$mode rfs_start "$mode" "$M" "$O" || die "$mode: start"
	echo "10.1.0.1:/$mode" >>"$M/rmtab"
	check "$mode: the daemon's pid is known and it serves the mount" \
		bash -c "kill -0 ${RFS_PIDS[$mode]} && grep -q 10.1.0.1 '$M/rmtab'"
	fails=$RFS_FAILS
	rfs_stop "$mode" "$M"
	check_eq "$mode: a clean stop is exit status 0" "0 $fails" "$RFS_EXIT $RFS_FAILS"

	RFS_START=$mode rfs_start "$mode" "$M" "$O" || die "$mode: restart"
	# SIGABRT: a failed assertion (not SIGSEGV, which a sanitizer build would report).
	kill -ABRT "${RFS_PIDS[$mode]}"
	fails=$RFS_FAILS
	rfs_stop "$mode" "$M" 2>/dev/null
	# The failure rfs_stop recorded is the expected one here: take it back.
	check_eq "$mode: a crash (SIGABRT) at stop is seen: status 134, one failure" \
		"134 $((fails + 1))" "$RFS_EXIT $RFS_FAILS"
	RFS_FAILS=$fails
	umount -l "$M" 2>/dev/null || true

	RFS_START=$mode rfs_start "$mode" "$M" "$O" || die "$mode: restart"
	rfs_kill9 "$mode" "$M"
	check_eq "$mode: kill -9 is status 137 (rfs_kill9 expects it)" 137 "$RFS_EXIT"
done
rc=0
RFS_START=bg rfs_start bad "$W/m-bg" "node=bad/name" 2>/dev/null || rc=$?
check_eq "a refused start is seen in bg mode: rfs_start fails, the status is 2 (bad option)" \
	"1 2" "$rc $RFS_EXIT"

# ---- beside an administrator's rmtabfs on /var/lib/nfs ----
# As scripts/run.sh does it: "rmtabfs /var/lib/nfs" in the background (over a tmpfs here,
# this namespace's own), with a record of its own.
mount -t tmpfs -o mode=0755 rfs-selftest-nfs /var/lib/nfs
: >/var/lib/nfs/etab
A=$W/admin
mkdir -p "$A"
"$RFS_TOOLS/reap" "$A/pid" "$RFS_BIN" -o "statedir=$A/state,store=dir:$A/store,node=admin" \
	-o "ctl=$A/ctl.sock" /var/lib/nfs >"$A/reap.log" 2>&1 &
admin_reaper=$!
wait_for 10 test -s "$A/pid" || die "the administrator's rmtabfs did not start"
admin_pid=$(<"$A/pid")
echo '192.0.2.77:/export/admin' >>/var/lib/nfs/rmtab
mount_id() { awk '$5 == "/var/lib/nfs" && / - fuse\.rmtabfs / { print $1 }' /proc/self/mountinfo; }
id_before=$(mount_id)
check "the administrator's rmtabfs is mounted on /var/lib/nfs" test -n "$id_before"

# Whole tests in this namespace (no namespace of their own: they run as in the host's),
# then one that dies half-way with a daemon running.
for t in passthrough shell-tools cli; do
	rc=0
	env -u RFS_HOST_MNT_NS RFS_START=fg RFS_START_NS=1 bash "$here/$t.sh" >"$W/$t.out" 2>&1 || rc=$?
	check_eq "$t.sh beside it passes" 0 "$rc"
	[[ $rc == 0 ]] || tail -n 20 "$W/$t.out" >&2
done
cat >"$W/dies.sh" <<EOF
source "$here/lib.sh"
rfs_setup
mkdir -p "\$RFS_WORK/m"
rfs_start n1 "\$RFS_WORK/m" "statedir=\$RFS_WORK/s,store=dir:\$RFS_WORK/st,node=n1" || exit 3
die "dying on purpose with a daemon running"
EOF
rc=0
env -u RFS_HOST_MNT_NS RFS_START=bg RFS_START_NS=1 bash "$W/dies.sh" >"$W/dies.out" 2>&1 || rc=$?
check_eq "a test dying half-way exits 1" 1 "$rc"
rc=0
env -u RFS_HOST_MNT_NS RFS_START=fg RFS_START_NS=1 bash -c 'source "$1/lib.sh"; rfs_setup
	rfs_start x /var/lib/nfs "statedir=$RFS_WORK/s,store=dir:$RFS_WORK/st,node=x"' _ "$here" \
	>"$W/refuse.out" 2>&1 || rc=$?
check "in the host's namespace a test may not mount on /var/lib/nfs ($rc)" \
	bash -c "[[ $rc != 0 ]] && grep -q 'outside .* in the host.s mount namespace' '$W/refuse.out'"
check_eq "the administrator's mount is still there, the same mount" "$id_before" "$(mount_id)"
check "its daemon still runs" kill -0 "$admin_pid"
check "its record is still there" grep -qx '192.0.2.77:/export/admin:0x00000001' \
	/var/lib/nfs/rmtab
check "its control socket still answers" "$RFS_CTL_BIN" -s "$A/ctl.sock" status
if [[ $(mount_id) == "$id_before" ]]; then
	umount /var/lib/nfs || umount -l /var/lib/nfs
fi
kill "$admin_pid" 2>/dev/null || true
rc=0
wait "$admin_reaper" || rc=$?
check_eq "the administrator's daemon exits 0 when unmounted" 0 "$rc"
umount /var/lib/nfs # the tmpfs
rfs_finish
