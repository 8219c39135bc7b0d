# shellcheck shell=bash
# lib.sh: what every rmtabfs integration test shares: skip rules, assertions, starting and
# stopping real rmtabfs daemons on real FUSE mounts, and cleaning up whatever was started.
#
# Rules: a test exits 77 (skipped) only when the kernel offers no FUSE (/dev/fuse missing);
# anything else missing is a failure, because CI runs as root with the project's packages.
# Every daemon started here is recorded and stopped at exit, and every mount is undone.
#
# Environment: RFS_BUILD, the meson build directory (binaries under fs/ and tests/tools/).

set -euo pipefail

: "${RFS_BUILD:?RFS_BUILD must name the meson build directory}"
RFS_BIN=$RFS_BUILD/fs/rmtabfs
RFS_CTL_BIN=$RFS_BUILD/fs/rmtabctl
export RFS_TOOLS=${RFS_TOOLS:-$RFS_BUILD/tests/tools}
RFS_TEST=$(basename "$0" .sh)
RFS_FAILS=0
RFS_CHECKS=0
declare -A RFS_PIDS=()

# The gluster suite runs the same scripts on the throwaway volume of scripts/test.sh.
if [[ ${RFS_STORE_FROM:-} == gluster ]]; then
	: "${RFS_GLUSTER_URL:?the gluster suite needs RFS_GLUSTER_URL (scripts/gluster-volume.sh up)}"
	export RFS_STORE=$RFS_GLUSTER_URL
fi

rfs_need_fuse() {
	if [[ ! -c /dev/fuse ]]; then
		echo "SKIP: /dev/fuse missing: the kernel offers no FUSE" >&2
		exit 77
	fi
	[[ $(id -u) == 0 ]] || { echo "FAIL: integration tests run as root" >&2; exit 1; }
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

rfs_finish() {
	# A sanitizer build reports into the daemons' logs; any report fails the test.
	if grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$RFS_WORK"/*.log \
		2>/dev/null; then
		fail "sanitizer reports in the daemon logs above"
		grep -h -A 30 -E 'AddressSanitizer|LeakSanitizer|runtime error:' \
			"$RFS_WORK"/*.log | head -n 60 >&2 || true
	fi
	log "$((RFS_CHECKS - RFS_FAILS)) of $RFS_CHECKS checks passed"
	[[ $RFS_FAILS == 0 ]]
}

rfs_is_mounted() { # DIR: an rmtabfs mount there?
	awk -v d="$1" '$5 == d && $0 ~ / - fuse\.rmtabfs / { f = 1 } END { exit !f }' \
		/proc/self/mountinfo
}

# rfs_start NAME MOUNTPOINT OPTIONS: starts a daemon in the foreground (logging to
# $RFS_WORK/NAME.log) and waits until it has mounted. Tests pass statedir=, store= and node=.
rfs_start() {
	local name=$1 mnt=$2 opts=$3 i
	"$RFS_BIN" -f -o "entry_timeout=0,attr_timeout=0,ctl=$RFS_WORK/$name.sock,$opts" "$mnt" \
		>>"$RFS_WORK/$name.log" 2>&1 &
	RFS_PIDS[$name]=$!
	for ((i = 0; i < 200; i++)); do
		rfs_is_mounted "$mnt" && return 0
		if ! kill -0 "${RFS_PIDS[$name]}" 2>/dev/null; then
			wait "${RFS_PIDS[$name]}" || true
			unset "RFS_PIDS[$name]"
			tail -n 20 "$RFS_WORK/$name.log" >&2
			return 1
		fi
		sleep 0.05
	done
	tail -n 20 "$RFS_WORK/$name.log" >&2
	return 1
}

# rfs_stop NAME MOUNTPOINT: unmounts and waits for the daemon to end; prints seconds taken.
rfs_stop() {
	local name=$1 mnt=$2 pid=${RFS_PIDS[$1]:-} t0 t1
	t0=$(date +%s.%N)
	if rfs_is_mounted "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
	fi
	if [[ -n $pid ]]; then
		wait "$pid" 2>/dev/null || true
		unset "RFS_PIDS[$name]"
	fi
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

# rfs_kill9 NAME MOUNTPOINT: what a crash leaves behind, then the mount cleared.
rfs_kill9() {
	local pid=${RFS_PIDS[$1]:-}
	[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null || true
	[[ -n $pid ]] && wait "$pid" 2>/dev/null || true
	unset "RFS_PIDS[$1]"
	umount -l "$2" 2>/dev/null || true
}

rfs_ctl() { # NAME ARGS...: rmtabctl against daemon NAME
	local name=$1
	shift
	"$RFS_CTL_BIN" -s "$RFS_WORK/$name.sock" "$@"
}

rfs_cleanup() {
	local name
	for name in "${!RFS_PIDS[@]}"; do
		kill "${RFS_PIDS[$name]}" 2>/dev/null || true
	done
	for name in "${!RFS_PIDS[@]}"; do
		wait "${RFS_PIDS[$name]}" 2>/dev/null || true
	done
	# Our FUSE mounts first, then whatever else the test mounted under its work directory.
	awk '$0 ~ / - fuse\.rmtabfs / { print $5 }' /proc/self/mountinfo | while read -r m; do
		case $m in "$RFS_WORK"/* | /var/lib/nfs) umount -l "$m" 2>/dev/null || true ;; esac
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
