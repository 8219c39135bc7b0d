# shellcheck shell=bash
# start-modes.sh: starting and stopping one rmtabfs daemon each way an administrator does,
# for tests that must cover all of them (conformance.sh): "fg" (-f, as the systemd unit),
# "bg" (plain `rmtabfs MNT`, which forks) and "mount" (`mount -t fuse.rmtabfs`, the fstab
# form). Needs lib.sh (RFS_BIN, RFS_WORK, log, die) and a private mount namespace for
# "mount" (the helper overlays /usr/local/sbin, where mount.fuse3's shell finds rmtabfs).
# Kept apart from lib.sh so that switching to lib.sh's RFS_START modes later is one edit.

declare -A SM_PID=()

sm_own_ns() { [[ $(readlink /proc/self/ns/mnt) != "$(readlink /proc/1/ns/mnt)" ]]; }

sm_helper() {
	local d=$RFS_WORK/helper
	[[ -e $d/sbin/rmtabfs ]] && return 0
	sm_own_ns || die "mount mode needs a private mount namespace"
	mkdir -p "$d/sbin" /usr/local/sbin
	ln -sf "$(realpath "$RFS_BIN")" "$d/sbin/rmtabfs"
	mount -t overlay sm-helper -o "lowerdir=$d/sbin:/usr/local/sbin" /usr/local/sbin ||
		die "cannot overlay /usr/local/sbin"
	[[ $(env -i sh -c 'command -v rmtabfs') == /usr/local/sbin/rmtabfs ]] ||
		die "rmtabfs is not first in the default PATH of mount.fuse3's shell"
}

# The pid of the daemon serving MNT: our binary, with MNT as one of its arguments.
sm_find_pid() {
	local p bin
	bin=$(realpath "$RFS_BIN")
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/exe" 2>/dev/null) == "$bin" ]] || continue
		{ tr '\0' '\n' <"$p/cmdline" | grep -qxF -- "$1"; } 2>/dev/null &&
			{ echo "${p#/proc/}"; return 0; }
	done
	return 1
}

# sm_start MODE MNT OPTIONS: mounts; the daemon logs to $RFS_WORK/MODE.log (fg) or syslog.
sm_start() {
	local mode=$1 mnt=$2 opts=$3 i
	# A sanitizer build's reports: a background daemon's stderr is /dev/null.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$RFS_WORK/sanitizer
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$RFS_WORK/sanitizer
	case $mode in
	fg)
		"$RFS_BIN" -f -o "$opts" "$mnt" >>"$RFS_WORK/$mode.log" 2>&1 &
		SM_PID[$mnt]=$!
		;;
	bg) "$RFS_BIN" -o "$opts" "$mnt" >>"$RFS_WORK/$mode.log" 2>&1 || return 1 ;;
	mount)
		sm_helper
		mount -t fuse.rmtabfs -o "$opts" rmtabfs "$mnt" >>"$RFS_WORK/$mode.log" 2>&1 ||
			return 1
		;;
	*) die "unknown start mode $mode" ;;
	esac
	for ((i = 0; i < 200; i++)); do
		if rfs_is_mounted "$mnt"; then
			[[ -n ${SM_PID[$mnt]:-} ]] || SM_PID[$mnt]=$(sm_find_pid "$mnt") ||
				die "no daemon found for $mnt"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# sm_no_reports: fails (printing them) if a daemon wrote sanitizer reports.
sm_no_reports() {
	local f found=0
	for f in "$RFS_WORK"/sanitizer.*; do
		[[ -e $f ]] || continue
		found=1
		head -n 40 "$f" >&2
	done
	return $found
}

# sm_stop MNT: unmounts and waits (10 s at most) until the daemon has ended.
sm_stop() {
	local mnt=$1 pid=${SM_PID[$1]:-} i
	umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
	for ((i = 0; i < 200; i++)); do
		[[ -z $pid ]] || ! kill -0 "$pid" 2>/dev/null && break
		sleep 0.05
	done
	unset "SM_PID[$mnt]"
	[[ -z $pid ]] && return 0
	if kill -0 "$pid" 2>/dev/null; then
		log "daemon $pid still running 10 s after the unmount of $mnt: $(grep -c " $mnt " /proc/self/mountinfo) mount(s) left; stack:"
		cat "/proc/$pid/task/"*/stack 2>/dev/null | sort | uniq -c | sort -rn | head -n 20 >&2
		kill "$pid" 2>/dev/null
		sleep 2
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null || true
}
