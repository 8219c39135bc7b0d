# shellcheck shell=bash
# lib.sh: what every rmtabfs integration test shares: skip rules, assertions, starting and
# stopping real rmtabfs daemons on real FUSE mounts, and cleaning up whatever was started.
#
# Rules: a test exits 77 (skipped) only when the kernel offers no FUSE (/dev/fuse missing);
# anything else missing is a failure, because CI runs as root with the project's packages.
# Every daemon started here is recorded and stopped at exit, and every mount is undone.
#
# Every mount point a test passes to rfs_start is recorded; cleanup unmounts only those and
# what lies under the test's work directory, never anything else (an administrator's rmtabfs
# on /var/lib/nfs stays, whatever the test did). A mount point outside the work directory is
# refused unless the test runs in a mount namespace of its own.
#
# Environment: RFS_BUILD, the meson build directory (binaries under fs/ and tests/tools/).
# RFS_START, how rfs_start starts a daemon, each way an administrator starts it:
#   fg     rmtabfs -f ... MNT (default; as the systemd unit runs it), logging to stderr;
#   bg     rmtabfs ... MNT: it forks once mounted and the command returns (scripts/run.sh,
#          a plain command line);
#   mount  mount -t fuse.rmtabfs -o ... rmtabfs MNT: mount(8) -> mount.fuse3 -> rmtabfs, as
#          from /etc/fstab (needs rmtabfs in the helper's fixed PATH: the test then runs in a
#          mount namespace of its own, with the build's rmtabfs overlaid onto /usr/local/sbin).
# In bg and mount mode the daemon runs under tests/tools/reap (a child subreaper), which
# learns the daemon's pid and exit status as wait(2) does for a foreground daemon, and the
# daemon logs to $RFS_WORK/NAME.log through RMTABFS_LOG_FILE instead of syslog.

set -euo pipefail

: "${RFS_BUILD:?RFS_BUILD must name the meson build directory}"
RFS_BIN=$RFS_BUILD/fs/rmtabfs
RFS_CTL_BIN=$RFS_BUILD/fs/rmtabctl
export RFS_TOOLS=${RFS_TOOLS:-$RFS_BUILD/tests/tools}
RFS_TEST=$(basename "$0" .sh)
RFS_FAILS=0
RFS_CHECKS=0
RFS_START=${RFS_START:-fg}
# The mount namespace the test was started in, "the host's" as far as it knows; a test that
# re-executes itself in a namespace of its own (unshare -m) inherits this and can tell.
export RFS_HOST_MNT_NS=${RFS_HOST_MNT_NS:-$(readlink /proc/self/ns/mnt)}
case $RFS_START in fg | bg | mount) ;; *) echo "FAIL: RFS_START=$RFS_START (fg, bg or mount)" >&2; exit 1 ;; esac
# RFS_PIDS[NAME]: the daemon's pid (signal it); RFS_WAITS[NAME]: what to wait(2) for, the
# daemon itself in fg mode, its reaper otherwise; RFS_MNTS[NAME]: its mount point.
declare -A RFS_PIDS=() RFS_WAITS=() RFS_MNTS=()
RFS_EXIT=
RFS_STOP_SECS=

# The gluster suite runs the same scripts on the throwaway volume of scripts/test.sh.
if [[ ${RFS_STORE_FROM:-} == gluster ]]; then
	: "${RFS_GLUSTER_URL:?the gluster suite needs RFS_GLUSTER_URL (scripts/gluster-volume.sh up)}"
	export RFS_STORE=$RFS_GLUSTER_URL
fi

# rfs_private_ns "$@": runs the rest of the test (once) in a private mount namespace of its
# own, so no other test's namespace can hold its mounts (and with them its daemons) alive after
# they are unmounted here. Call it right after rfs_need_fuse.
rfs_private_ns() {
	if [[ ${RFS_PRIVATE_NS:-} != "$0" ]]; then
		export RFS_PRIVATE_NS=$0
		exec unshare -m --propagation private -- bash "$0" "$@"
	fi
}

rfs_need_fuse() {
	if [[ ! -c /dev/fuse ]]; then
		echo "SKIP: /dev/fuse missing: the kernel offers no FUSE" >&2
		exit 77
	fi
	[[ $(id -u) == 0 ]] || { echo "FAIL: integration tests run as root" >&2; exit 1; }
	# mount mode overlays /usr/local/sbin: only in a mount namespace of the test's own.
	if [[ $RFS_START == mount && ${RFS_START_NS:-} != 1 ]]; then
		export RFS_START_NS=1
		exec unshare -m --propagation private -- bash "$0" "$@"
	fi
}

log() { printf '[%s] %s\n' "$RFS_TEST" "$*" >&2; }
fail() {
	log "FAIL: $*"
	RFS_FAILS=$((RFS_FAILS + 1))
}
die() {
	log "FATAL: $*"
	exit 1
}
# check DESCRIPTION COMMAND...: counts, logs failures, never stops the test.
check() {
	local what=$1
	shift
	RFS_CHECKS=$((RFS_CHECKS + 1))
	if "$@"; then
		log "ok: $what"
	else
		fail "$what"
	fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	RFS_CHECKS=$((RFS_CHECKS + 1))
	if [[ $2 == "$3" ]]; then
		log "ok: $1"
	elif (($(wc -l <<<"$2") > 3 || $(wc -l <<<"$3") > 3)); then
		fail "$1 (diff expected actual:)"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | head -n 20 >&2 || true
	else
		fail "$1"
		printf '  expected: %q\n  actual:   %q\n' "$2" "$3" >&2
	fi
}
# wait_for SECONDS CMD...: polls until CMD succeeds; fails after SECONDS.
wait_for() {
	local until=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@"; do
		(($(date +%s%N) < until)) || return 1
		sleep 0.05
	done
}

# rfs_absent [GREP-OPTIONS...] PATTERN FILE...: true when no FILE holds PATTERN; fails,
# loudly, when a FILE cannot be read (missing, unreadable, a directory), which a plain
# "! grep -q" would take for "absent". "-" reads stdin.
rfs_absent() {
	local rc=0
	grep -q "$@" || rc=$?
	case $rc in
	0) return 1 ;;
	1) return 0 ;;
	*)
		log "rfs_absent: cannot read the input of: grep $* (grep exit $rc)"
		return 2
		;;
	esac
}
# rfs_count [GREP-OPTIONS...] PATTERN FILE: the number of matching lines (0 included);
# fails loudly when FILE cannot be read, where "grep -c ... || true" would print nothing.
rfs_count() {
	local rc=0 n
	n=$(grep -c "$@") || rc=$?
	if ((rc > 1)); then
		log "rfs_count: cannot read the input of: grep -c $* (grep exit $rc)"
		return 2
	fi
	printf '%s\n' "$n"
}

# rfs_absent_from LINE PATTERN FILE: no line of FILE from LINE on holds PATTERN (the
# part of a log written after a point); fails loudly when FILE cannot be read.
rfs_absent_from() {
	[[ -f $3 && -r $3 ]] || { log "rfs_absent_from: cannot read $3"; return 2; }
	tail -n "+$1" "$3" | rfs_absent "$2" -
}
# rfs_no_entry DIR GREP-ARGS...: no name in DIR (ls -a) matches; fails loudly when DIR
# cannot be listed (a dead mount lists nothing).
rfs_no_entry() {
	local names
	names=$(ls -a "$1") || { log "rfs_no_entry: cannot list $1"; return 2; }
	rfs_absent "${@:2}" - <<<"$names"
}
# rfs_gone PATH: PATH does not exist, in a directory that can be read (a dead mount or a
# missing directory is not "gone").
rfs_gone() {
	local d
	d=$(dirname -- "$1")
	[[ -d $d && -r $d && -x $d ]] || { log "rfs_gone: cannot read the directory $d"; return 2; }
	[[ ! -e $1 && ! -L $1 ]]
}

rfs_finish() {
	# A sanitizer build reports into the daemons' logs; any report fails the test.
	local pat='AddressSanitizer|LeakSanitizer|ThreadSanitizer|runtime error:' logs
	logs=$(find "$RFS_WORK" -maxdepth 1 \( -name '*.log' -o -name '*.san.*' \) -type f)
	if [[ -n $logs ]] && grep -l -E "$pat" $logs; then
		fail "sanitizer reports in the daemon logs above"
		grep -h -A 30 -E "$pat" $logs | head -n 60 >&2 || true
	fi
	log "$((RFS_CHECKS - RFS_FAILS)) of $RFS_CHECKS checks passed"
	[[ $RFS_FAILS == 0 ]]
}

# DIR: is the top-most mount on DIR an rmtabfs? Only the top counts: under test.sh a sentinel
# rmtabfs lies under the tests' own /var/lib/nfs mounts, and mountinfo lists a stack bottom up.
rfs_is_mounted() {
	awk -v d="$1" '$5 == d { f = ($0 ~ / - fuse\.rmtabfs /) } END { exit !f }' \
		/proc/self/mountinfo
}

# A mount point outside the work directory (/var/lib/nfs) only in a mount namespace of the
# test's own: the host's must never be mounted over or unmounted by a test.
rfs_own_mount_ns() {
	[[ $(readlink /proc/self/ns/mnt) != "$RFS_HOST_MNT_NS" ]]
}

# The helper of mount(8) runs rmtabfs by name with a fixed PATH: overlay the build's binary
# onto /usr/local/sbin, in this test's own mount namespace (rfs_need_fuse made it).
rfs_mount_helper() {
	local d=$RFS_WORK/helper
	[[ -e $d/sbin/rmtabfs ]] && return 0
	rfs_own_mount_ns || die "mount mode needs a mount namespace of its own"
	[[ -d /usr/local/sbin ]] || die "mount mode: /usr/local/sbin missing (the helper's PATH)"
	mkdir -p "$d/sbin"
	ln -sf "$(realpath "$RFS_BIN")" "$d/sbin/rmtabfs"
	mount -t overlay rfs-helper -o "lowerdir=$d/sbin:/usr/local/sbin" /usr/local/sbin ||
		die "cannot overlay /usr/local/sbin"
	[[ $(env -i sh -c 'command -v rmtabfs') == /usr/local/sbin/rmtabfs ]] ||
		die "rmtabfs is not first in the default PATH of mount.fuse3's shell"
}

# rfs_start NAME MOUNTPOINT OPTIONS: starts a daemon as RFS_START says (logging to
# $RFS_WORK/NAME.log) and waits until it has mounted. Tests pass statedir=, store= and node=.
rfs_start() {
	local name=$1 mnt=$2 opts="entry_timeout=0,attr_timeout=0,ctl=$RFS_WORK/$1.sock,$3" i
	local pidf=$RFS_WORK/$name.pid
	case $mnt in
	"$RFS_WORK"/*) ;;
	*) rfs_own_mount_ns || die "rfs_start $name: $mnt is outside $RFS_WORK in the host's mount namespace" ;;
	esac
	RFS_MNTS[$name]=$mnt
	rm -f "$pidf"
	case $RFS_START in
	fg)
		"$RFS_BIN" -f -o "$opts" "$mnt" >>"$RFS_WORK/$name.log" 2>&1 &
		RFS_PIDS[$name]=$!
		RFS_WAITS[$name]=$!
		;;
	bg | mount)
		local cmd=("$RFS_BIN" -o "$opts" "$mnt")
		if [[ $RFS_START == mount ]]; then
			rfs_mount_helper
			cmd=(mount -t fuse.rmtabfs -o "$opts" rmtabfs "$mnt")
		fi
		RMTABFS_LOG_FILE=$RFS_WORK/$name.log ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$RFS_WORK/$name.san \
			TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}log_path=$RFS_WORK/$name.san \
			UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$RFS_WORK/$name.san \
			"$RFS_TOOLS/reap" "$pidf" "${cmd[@]}" >>"$RFS_WORK/$name.log" 2>&1 &
		RFS_WAITS[$name]=$!
		for ((i = 0; i < 600; i++)); do
			[[ -s $pidf ]] && break
			kill -0 "${RFS_WAITS[$name]}" 2>/dev/null || break
			sleep 0.05
		done
		if [[ ! -s $pidf ]]; then
			rfs_reap "$name"
			log "rfs_start $name: '${cmd[*]}' exited with $RFS_EXIT"
			tail -n 20 "$RFS_WORK/$name.log" >&2
			return 1
		fi
		RFS_PIDS[$name]=$(<"$pidf")
		;;
	esac
	for ((i = 0; i < 200; i++)); do
		rfs_is_mounted "$mnt" && return 0
		if ! kill -0 "${RFS_WAITS[$name]}" 2>/dev/null; then
			rfs_reap "$name"
			log "rfs_start $name: the daemon exited with $RFS_EXIT before mounting"
			tail -n 20 "$RFS_WORK/$name.log" >&2
			return 1
		fi
		sleep 0.05
	done
	tail -n 20 "$RFS_WORK/$name.log" >&2
	return 1
}

# rfs_reap NAME [SECONDS]: waits (default up to 30 s, then kill -9) for daemon NAME to end;
# its exit status in RFS_EXIT (128+N: killed by signal N). Not in a subshell: the daemon
# (or its reaper) is a child of the test's shell, and the bookkeeping must stay.
rfs_reap() {
	local name=$1 secs=${2:-30} w=${RFS_WAITS[$1]:-${RFS_PIDS[$1]:-}} i
	[[ $BASHPID == "$$" ]] || die "rfs_reap/rfs_stop $name called in a subshell"
	RFS_EXIT=
	[[ -n $w ]] || { unset "RFS_PIDS[$name]"; return 0; }
	for ((i = 0; i < secs * 20; i++)); do
		rfs_alive "$w" || break
		sleep 0.05
	done
	if rfs_alive "$w"; then
		fail "daemon $name still running ${secs} s after it was told to stop: killed"
		kill -9 "${RFS_PIDS[$name]:-$w}" 2>/dev/null || true
	fi
	RFS_EXIT=0
	wait "$w" 2>/dev/null || RFS_EXIT=$?
	unset "RFS_PIDS[$name]" "RFS_WAITS[$name]"
}
# rfs_alive PID: running, not a zombie (bash may reap it at any moment: one look).
rfs_alive() {
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}

# rfs_stop NAME MOUNTPOINT: unmounts and waits for the daemon to end; the seconds taken in
# RFS_STOP_SECS. The daemon must exit 0: a crash or an error exit at stop fails the test.
rfs_stop() {
	local name=$1 mnt=$2 t0
	t0=$(date +%s%N)
	if rfs_is_mounted "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
	fi
	rfs_reap "$name"
	RFS_STOP_SECS=$(awk -v n=$(($(date +%s%N) - t0)) 'BEGIN { printf "%.3f", n / 1e9 }')
	RFS_CHECKS=$((RFS_CHECKS + 1))
	if [[ -n $RFS_EXIT && $RFS_EXIT != 0 ]]; then
		fail "daemon $name exited with status $RFS_EXIT at stop (128+N: signal N)"
		tail -n 20 "$RFS_WORK/$name.log" >&2 || true
	fi
	unset "RFS_MNTS[$name]"
}

# rfs_kill9 NAME MOUNTPOINT: what a crash leaves behind, then the mount cleared.
rfs_kill9() {
	local pid=${RFS_PIDS[$1]:-}
	[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
	rfs_reap "$1"
	umount -l "$2" 2>/dev/null || true
	unset "RFS_MNTS[$1]"
}

rfs_ctl() { # NAME ARGS...: rmtabctl against daemon NAME
	local name=$1
	shift
	"$RFS_CTL_BIN" -s "$RFS_WORK/$name.sock" "$@"
}

rfs_cleanup() {
	local name m
	for name in "${!RFS_PIDS[@]}"; do
		kill "${RFS_PIDS[$name]}" 2>/dev/null || true
	done
	for name in "${!RFS_WAITS[@]}" "${!RFS_PIDS[@]}"; do
		wait "${RFS_WAITS[$name]:-${RFS_PIDS[$name]}}" 2>/dev/null || true
	done
	# The mounts this test made: its daemons' mount points (if an rmtabfs is still there),
	# then whatever lies under its work directory. Nothing else: an rmtabfs on the host's
	# /var/lib/nfs is an administrator's.
	for name in "${!RFS_MNTS[@]}"; do
		m=${RFS_MNTS[$name]}
		rfs_is_mounted "$m" && umount -l "$m" 2>/dev/null || true
	done
	awk -v w="$RFS_WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	if [[ ${RFS_KEEP:-} == 1 || $RFS_FAILS != 0 ]]; then
		log "work directory kept: $RFS_WORK"
	else
		rm -rf -- "$RFS_WORK"
	fi
}

rfs_setup() {
	rfs_need_fuse
	RFS_WORK=$(mktemp -d "/tmp/rfs-$RFS_TEST.XXXXXX")
	chmod 0755 "$RFS_WORK" # other users (statd) must reach the mount point
	if [[ $(type -t mountd_env_at_exit) == function ]]; then
		mountd_env_at_exit rfs_cleanup
	else
		trap rfs_cleanup EXIT
	fi
}
