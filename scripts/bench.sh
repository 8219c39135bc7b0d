#!/bin/bash
# bench.sh — rmtabfs against the alternatives, side by side, in one run, printing one table.
#
# Usage (as root, on the Debian 12 machine that scripts/setup.sh prepared):
#   scripts/bench.sh              full run: N = 1000, 5000, 20000 (about an hour on 2 CPUs)
#   scripts/bench.sh --quick      N = 1000 only, and shorter side measurements (about 3 min)
# The table goes to stdout (progress to stderr) and is also saved next to the TSV, as .txt.
# Options:
#   --n "N..."        the MNT/UMNT sizes (default "1000 5000 20000"; --quick: "1000")
#   --build DIR       meson build directory (default: $RFS_BUILD or <repo>/build); set up
#                     with -Dbuildtype=release if missing, then brought up to date with ninja
#                     (the table shows the build type used)
#   --results FILE    where the machine-readable results go (default
#                     /var/tmp/rmtabfs-bench-<date>.tsv); its path is printed at the end
#   --keep            keep the work directory (daemon logs, per-op latencies)
#   --configs "a b c d cb db"   only these state-dir configurations in the MNT/UMNT runs
#   --phases "mntumnt steps records prop start down storekill"   only these phases (default:
#                     all; storekill takes about 4 minutes)
#
# What it does. It builds what is needed, starts a throwaway replica-3 Gluster volume
# (scripts/gluster-volume.sh up; removed again at the end) and works in a private mount
# namespace. The workload is the distribution's real /usr/sbin/rpc.mountd (no -d), with the
# LD_PRELOAD shim of tests/integration/mountd-env.sh standing in for the kernel nfsd, its own
# rpcbind, in a private mount+net namespace, driven by tests/tools/mnt3 over one TCP
# connection: N MNT of distinct paths /export/a/dNNNNN (directories on a tmpfs), then N UMNT.
# mountd's state directory (/var/lib/nfs in that namespace) is, each time starting from an
# empty rmtab:
#   (a) a plain directory on the root file system (ext4), bind-mounted over /var/lib/nfs;
#   (b) a directory on a GlusterFS FUSE mount of the volume, bind-mounted over /var/lib/nfs;
#   (c) rmtabfs with the dir: store (state dir, store and the directory underneath on ext4);
#   (d) rmtabfs with the gluster:// store (libgfapi) on the same volume as (b);
#   (c) and (d) once more with -o durability=batch:1000 (configurations cb and db), beside the
#   default (fsync); a daemon that refuses the option (probed once: it does not mount) gets
#   "n/a (daemon has no durability=)" in those rows.
# For each: MNT/s and UMNT/s, p50 and p99 latency, CPU seconds of mountd and of the daemon
# behind the state dir, and the rate ratios (c)/(a), (d)/(a), (d)/(b). Then:
#   - 100 000 records loaded with one cp into rmtab: load time, `cat rmtab` (median of 31)
#     against cat of the same bytes on ext4 (the two alternate), the READ requests one more
#     cat of the unchanged view costs (the daemon's view-reads), the daemon's VmRSS empty and
#     loaded;
#   - propagation from a flush on node A to node B's rmtab (two daemons, same store), p50/p99
#     over the records, on the gluster store and on the dir: store;
#   - time from starting rmtabfs to the first successful read of rmtab (median): dir: store,
#     gluster store reachable, gluster store unreachable (gluster://127.0.0.1:1/x);
#   - MNT latency on (d) while the volume is stopped (stop-volume during an open-loop MNT run
#     at 100/s; started again afterwards), and how long the daemon takes to catch up;
#   - where the time of one MNT goes: tests/tools/mnt_steps repeats the file system side of
#     mountd's MNT step by step (lock, read with an ftell per line, append, close, unlock) on a
#     state directory holding 5 000 records, on (a), (c) and (d), and prints the mean per step.
# Issue 18's targets are printed as met/missed lines with their numbers; a benchmark never
# fails on a time. The shell only orchestrates and records raw measurements in the TSV; every
# statistic (percentiles, rates, ratios, RSS per record) and the table come from
# tests/tools/bench_helper.py ("table" lays out a kept TSV again).
# It exits non-zero only when it could not measure (set-up failed), and reports a daemon that
# misbehaved (errors, wrong content, hangs) under "problems" (work directory then kept).
# Everything it starts is stopped and everything it mounts unmounted, also on Ctrl-C.
#
# Environment: BENCH_WORK_PARENT (default /var/tmp: must be on the root ext4) holds the work
# directory; BENCH_VOLUME names the Gluster volume (default rmtabfs-bench-<pid>).
set -euo pipefail

self=$(readlink -f "${BASH_SOURCE[0]}")
top=$(cd "$(dirname "$self")/.." && pwd)
mountd_env=$top/tests/integration/mountd-env.sh
helper=$top/tests/tools/bench_helper.py
PY=/usr/bin/python3
GV=(bash "$top/scripts/gluster-volume.sh")

blog() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
bdie() {
	blog "FATAL: $*"
	exit 1
}

# ================================================================================= host ===
# One simulated NFS server, run as: unshare -m -n -- bash bench.sh __host (environment
# BENCH_*): rpcbind + the real rpc.mountd with BENCH_SRC bind-mounted over /var/lib/nfs, the
# workload, key/value results into $BENCH_HW/result.
host_main() {
	export RFS_MOUNTD_NS=1 MOUNTD_DEBUG='' MOUNTD_ENV_WORK=$BENCH_HW MOUNTD_ENV_KEEP=1
	export RFS_TOOLS=$BENCH_TOOLS
	# shellcheck source=../tests/integration/mountd-env.sh
	source "$mountd_env"
	mkdir -p "$BENCH_HW"
	local res=$BENCH_HW/result n=$BENCH_N i
	: >"$res"
	mountd_env_setup
	mount --bind "$BENCH_SRC" /var/lib/nfs
	mount -t tmpfs -o mode=0755 bench-export /export
	mkdir -p /export/a
	(cd /export/a && seq -f 'd%05g' 0 $((n - 1)) | xargs mkdir)
	mountd_env_exports /export/a
	mountd_start 2>>"$BENCH_HW/host.log"
	echo "mountd_pid $MOUNTD_PID" >>"$res"
	case $BENCH_MODE in
	mntumnt)
		seq -f 'mnt /export/a/d%05g' 0 $((n - 1)) >"$BENCH_HW/mnt.script"
		seq -f 'umnt /export/a/d%05g' 0 $((n - 1)) >"$BENCH_HW/umnt.script"
		local kind rc c0 c1 d0 d1 b0 b1 t0 t1
		for kind in mnt umnt; do
			c0=$(cpu_ticks "$MOUNTD_PID")
			d0=$(cpu_ticks $(daemon_pids "${BENCH_DPID:-}"))
			b0=$(cpu_ticks ${BENCH_BRICKS:-})
			t0=$EPOCHREALTIME
			rc=0
			"$RFS_MNT3" -q -S 127.0.0.1 script <"$BENCH_HW/$kind.script" \
				>"$BENCH_HW/$kind.out" 2>&1 || rc=$?
			t1=$EPOCHREALTIME
			c1=$(cpu_ticks "$MOUNTD_PID")
			d1=$(cpu_ticks $(daemon_pids "${BENCH_DPID:-}"))
			b1=$(cpu_ticks ${BENCH_BRICKS:-})
			grep "^stats $kind " "$BENCH_HW/$kind.out" | "$PY" "$helper" mnt3stats >>"$res" || true
			{
				echo "${kind}_rc $rc"
				echo "${kind}_errors $(grep -c -v '^stats ' "$BENCH_HW/$kind.out" || true)"
				echo "${kind}_t0 $t0"
				echo "${kind}_t1 $t1"
				echo "${kind}_mountd_ticks $((c1 - c0))"
				echo "${kind}_daemon_ticks $((d1 - d0))"
				echo "${kind}_bricks_ticks $((b1 - b0))"
				echo "${kind}_lines_after $(wc -l </var/lib/nfs/rmtab)"
			} >>"$res"
		done
		;;
	down)
		touch "$BENCH_HW/running"
		local rc=0
		"$PY" "$helper" feed /export/a/d "$n" "$BENCH_RATE" "$BENCH_HW/done" |
			"$RFS_MNT3" 127.0.0.1 script 2>&1 | "$PY" "$helper" stamp >"$BENCH_HW/down.lat" ||
			rc=$?
		echo "down_rc $rc" >>"$res"
		echo "down_lines_after $(wc -l </var/lib/nfs/rmtab)" >>"$res"
		;;
	esac
	echo "complete 1" >>"$res"
}

# The daemon's processes: the mount side PID and its store side (rmtabfs-store, a child).
daemon_pids() {
	[[ ${1:-} =~ ^[0-9]+$ ]] || return 0
	echo "$1"
	pgrep -P "$1" -x rmtabfs-store 2>/dev/null || true
}

# utime+stime of the PIDs in clock ticks (0 without any); divided by CLK_TCK when printed.
cpu_ticks() {
	local p t=0 v
	for p in "$@"; do
		[[ $p =~ ^[0-9]+$ ]] || continue
		v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

if [[ ${1:-} == __host ]]; then
	host_main
	exit 0
fi

# ============================================================================ arguments ===
QUICK=0 KEEP=0 NS_LIST='' BUILD=${RFS_BUILD:-$top/build} RESULTS=''
CONFIG_LIST="a b c d cb db" PHASES="mntumnt steps records prop start down storekill"
while (($#)); do
	case $1 in
	--quick) QUICK=1 ;;
	--keep) KEEP=1 ;;
	--n) NS_LIST=$2; shift ;;
	--build) BUILD=$2; shift ;;
	--results) RESULTS=$2; shift ;;
	--configs) CONFIG_LIST=$2; shift ;;
	--phases) PHASES=$2; shift ;;
	__main) MAIN_INNER=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
if [[ -z $NS_LIST ]]; then
	if ((QUICK)); then NS_LIST="1000"; else NS_LIST="1000 5000 20000"; fi
fi
for n in $NS_LIST; do
	[[ $n =~ ^[1-9][0-9]*$ ]] && ((n <= 99999)) || { echo "bench.sh: bad N '$n'" >&2; exit 2; }
done
for c in $CONFIG_LIST; do
	[[ " a b c d cb db " == *" $c "* ]] || { echo "bench.sh: unknown configuration '$c' (a b c d cb db)" >&2; exit 2; }
done
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)
: "${RESULTS:=/var/tmp/rmtabfs-bench-$(date +%Y%m%d-%H%M%S).tsv}"
RESULTS=$(readlink -f "$RESULTS")
export QUICK KEEP NS_LIST BUILD RESULTS

# ================================================================================ outer ===
# In the host's namespaces: build, the Gluster volume (glusterd and bricks must not live in
# our private mount namespace), then everything else in a private mount namespace, then the
# volume's removal.
if [[ -z ${MAIN_INNER:-} ]]; then
	[[ $(id -u) == 0 ]] || bdie "run as root (namespaces, mounts, glusterd)"
	[[ -c /dev/fuse ]] || bdie "/dev/fuse missing"
	for t in unshare nsenter rpcbind rpcinfo exportfs glusterd glusterfs meson ninja "$PY" \
		/usr/sbin/rpc.mountd; do
		command -v "$t" >/dev/null || bdie "$t not installed (scripts/setup.sh installs it)"
	done
	if [[ ! -f $BUILD/build.ninja ]]; then
		blog "setting up $BUILD (release)"
		meson setup "$BUILD" "$top" -Dbuildtype=release >&2
	fi
	blog "building in $BUILD"
	ninja -C "$BUILD" fs/rmtabfs fs/rmtabctl tests/tools/mnt3 tests/tools/mnt_steps \
		tests/tools/fakenfsd.so >&2 ||
		bdie "build failed"
	export BENCH_VOLUME=${BENCH_VOLUME:-rmtabfs-bench-$$}
	made_export=0
	outer_cleanup() {
		local rc=$?
		trap - EXIT INT TERM
		if [[ -n ${inner_pid:-} ]] && kill -0 "$inner_pid" 2>/dev/null; then
			kill -TERM "$inner_pid" 2>/dev/null || true
			wait "$inner_pid" 2>/dev/null || true
		fi
		blog "removing Gluster volume $BENCH_VOLUME"
		"${GV[@]}" down "$BENCH_VOLUME" >/dev/null 2>"$RESULTS.gluster-down.log" ||
			blog "gluster-volume.sh down failed: $(tail -n 3 "$RESULTS.gluster-down.log")"
		rm -f "$RESULTS.gluster-down.log"
		((made_export)) && rmdir /export 2>/dev/null || true
		exit "$rc"
	}
	trap outer_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# mountd's namespaces mount a tmpfs on /export: the directory must exist on the root.
	if [[ ! -d /export ]]; then
		mkdir /export
		made_export=1
	fi
	blog "starting Gluster volume $BENCH_VOLUME"
	BENCH_GLUSTER_URL=$("${GV[@]}" up "$BENCH_VOLUME" 2>"$RESULTS.gluster-up.log") || {
		cat "$RESULTS.gluster-up.log" >&2
		bdie "gluster-volume.sh up failed"
	}
	rm -f "$RESULTS.gluster-up.log"
	export BENCH_GLUSTER_URL
	inner_args=(__main --n "$NS_LIST" --build "$BUILD" --results "$RESULTS" --configs "$CONFIG_LIST"
		--phases "$PHASES")
	((QUICK)) && inner_args+=(--quick)
	((KEEP)) && inner_args+=(--keep)
	unshare -m --propagation private -- bash "$self" "${inner_args[@]}" &
	inner_pid=$!
	rc=0
	wait "$inner_pid" || rc=$?
	inner_pid=
	exit "$rc"
fi

# ================================================================================ inner ===
# A private mount namespace, the host's network (the daemons reach the volume like a host).
RFS_BIN=$BUILD/fs/rmtabfs
RFS_CTL=$BUILD/fs/rmtabctl
TOOLS=$BUILD/tests/tools
CLK_TCK=$(getconf CLK_TCK)
parent=${BENCH_WORK_PARENT:-/var/tmp}
WORK=$(mktemp -d "$parent/rmtabfs-bench.XXXXXX")
chmod 0755 "$WORK"
declare -A RPIDS=() RMNTS=() R=()
PROBLEMS=()
GMNT=$WORK/gluster
GMOUNTED=0
HOST_PID=

problem() {
	PROBLEMS+=("$*")
	blog "PROBLEM: $*"
	tsv problem - - - "$*" -
}
tsv() { # PHASE CONFIG N METRIC VALUE UNIT
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"
}
set_r() { # KEY VALUE [PHASE CONFIG N METRIC UNIT]: remembered for the table, and in the TSV
	R[$1]=$2
	if (($# > 2)); then tsv "$3" "$4" "$5" "$6" "$2" "$7"; fi
}
g() { echo "${R[$1]:-}"; }

is_mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }
alive() { # PID: running and not a zombie
	local st
	st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# start_rfs NAME MOUNTPOINT OPTIONS: rmtabfs in the foreground, log in $WORK/NAME.log.
start_rfs() {
	local name=$1 mnt=$2 opts=$3 i
	mkdir -p "$mnt"
	"$RFS_BIN" -f -o "ctl=$WORK/$name.sock,$opts" "$mnt" >>"$WORK/$name.log" 2>&1 &
	RPIDS[$name]=$!
	RMNTS[$name]=$mnt
	for ((i = 0; i < 600; i++)); do
		is_mounted "$mnt" && return 0
		if ! alive "${RPIDS[$name]}"; then
			wait "${RPIDS[$name]}" 2>/dev/null || true
			unset "RPIDS[$name]"
			problem "rmtabfs $name exited at start: $(tail -n 3 "$WORK/$name.log" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.05
	done
	problem "rmtabfs $name not mounted after 30 s"
	return 1
}

# stop_rfs NAME: unmount, wait up to 30 s for the daemon to exit (a hang is a problem).
stop_rfs() {
	local name=$1 pid=${RPIDS[$1]:-} mnt=${RMNTS[$1]:-} i
	if [[ -n $mnt ]] && is_mounted "$mnt"; then
		umount "$mnt" 2>/dev/null || {
			problem "umount of $name's mount $mnt failed (busy?); lazy unmount"
			umount -l "$mnt" 2>/dev/null || true
		}
	fi
	if [[ -n $pid ]]; then
		for ((i = 0; i < 600; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		if alive "$pid"; then
			problem "rmtabfs $name (pid $pid) still running 30 s after its unmount; killed"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	fi
	unset "RPIDS[$name]" "RMNTS[$name]"
}

# view_reads NAME: the READ requests daemon NAME has answered on its views so far (status
# line view-reads; fails on a daemon without it).
view_reads() {
	"$RFS_CTL" -s "$WORK/$1.sock" -t 5 status 2>/dev/null | awk '$1 == "view-reads:" { print $2; f = 1 } END { exit !f }'
}

# wait_connected NAME TIMEOUT: until daemon NAME's store side says it is connected (status 1
# on timeout). A daemon mounts before its store side has connected (a gfapi connect takes
# about a second): records written meanwhile wait for the connect, not for propagation.
wait_connected() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		"$RFS_CTL" -s "$WORK/$1.sock" -t 5 status 2>/dev/null | grep -Eq '^store: .*: connected' &&
			return 0
		sleep 0.05
	done
	return 1
}

# Seconds until daemon NAME has on the store every op it had made when this was called (its
# last sequence then): under a steady load "backlog 0" may never be seen, as the newest ops
# are always on their way. Prints the seconds, or "timeout" (status 1).
wait_caught_up() { # NAME TIMEOUT
	"$PY" "$helper" caughtup "$RFS_CTL" "$WORK/$1.sock" "$2"
}

inner_cleanup() {
	local rc=$? name m
	trap - EXIT INT TERM
	set +e
	if [[ -n $HOST_PID ]] && kill -0 "$HOST_PID" 2>/dev/null; then
		# Its own session (setsid): the host's shell and its workload; its teardown then
		# stops its rpcbind and mountd.
		kill -TERM -- "-$HOST_PID" 2>/dev/null || kill -TERM "$HOST_PID" 2>/dev/null
		wait "$HOST_PID" 2>/dev/null
	fi
	for name in "${!RPIDS[@]}"; do
		stop_rfs "$name" 2>/dev/null
	done
	if ((GMOUNTED)); then
		"${GV[@]}" umount "$GMNT" 2>/dev/null
	fi
	awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	# Kept for a look at the logs, except after an interruption (Ctrl-C, SIGTERM).
	if ((KEEP)) || ((${#PROBLEMS[@]})) || ((rc != 0 && rc != 130 && rc != 143)); then
		blog "work directory kept: $WORK"
	else
		rm -rf -- "$WORK"
	fi
	exit "$rc"
}
trap inner_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_host DIR N MODE [VAR=VALUE...]: one simulated NFS server (private mount+net namespace)
# with DIR over /var/lib/nfs; waits for it; its results are in $BENCH_HW/result.
run_host() {
	local src=$1 n=$2 mode=$3 hw=$4
	shift 4
	mkdir -p "$hw"
	env "$@" BENCH_SRC="$src" BENCH_N="$n" BENCH_MODE="$mode" BENCH_HW="$hw" \
		BENCH_TOOLS="$TOOLS" RFS_MOUNTD_NS=1 \
		setsid unshare -m -n --propagation private -- bash "$self" __host >>"$hw/host.log" 2>&1 &
	HOST_PID=$!
}
wait_host() {
	local rc=0
	wait "$HOST_PID" || rc=$?
	HOST_PID=
	return $rc
}
hres() { awk -v k="$2" '$1 == k { print $2 }' "$1/result" 2>/dev/null || true; }

# ----------------------------------------------------------------------------- header ---
: >"$RESULTS"
tsv "#phase" config N metric value unit
disk_dev=$(findmnt -no SOURCE -T "$WORK")
disk_blk=$(lsblk -dno NAME "$disk_dev" 2>/dev/null || basename "$disk_dev")
disk_desc="$disk_dev $(findmnt -no FSTYPE -T "$WORK"), $(lsblk -dno SIZE,ROTA,MODEL "/dev/$disk_blk" 2>/dev/null |
	awk '{ r = $2 == 1 ? "rotational" : "non-rotational"; m = ""; for (i = 3; i <= NF; i++) m = m " " $i
		printf "%s %s%s", $1, r, m }')"
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -n1)
git_rev=$(git -C "$top" describe --always --dirty 2>/dev/null || echo unknown)
buildtype=$(meson introspect --buildoptions "$BUILD" 2>/dev/null |
	"$PY" -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"][0])' 2>/dev/null || echo '?')
HEADER=(
	"rmtabfs benchmark  $(date -u '+%Y-%m-%d %H:%M:%S UTC')  ($( ((QUICK)) && echo quick || echo full) run, N = $NS_LIST)"
	"machine:  $(nproc) CPUs ($cpu_model), $(awk '$1 == "MemTotal:" { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)"
	"disk:     $disk_desc (work dir $WORK)"
	"software: rmtabfs $git_rev ($buildtype build), nfs-utils $(dpkg-query -W -f '${Version}' nfs-kernel-server 2>/dev/null), glusterfs $(glusterfs --version | awk 'NR == 1 { print $2 }'), libfuse $(dpkg-query -W -f '${Version}' libfuse3-3 2>/dev/null)"
	"load:     $(cut -d' ' -f1-3 /proc/loadavg) at start (other work on the machine skews the numbers)"
)
printf '%s\n' "${HEADER[@]}" >&2
tsv machine - - nproc "$(nproc)" -
tsv machine - - cpu "$cpu_model" -
tsv machine - - kernel "$(uname -r)" -
tsv machine - - disk "$disk_desc" -
tsv machine - - date "$(date -u +%FT%TZ)" -
tsv machine - - rmtabfs "$git_rev $buildtype" -
tsv machine - - loadavg_start "$(cut -d' ' -f1 /proc/loadavg)" -
[[ $(stat -f -c %T "$WORK") == ext2/ext3 ]] ||
	problem "work directory $WORK is not on ext4 ($(stat -f -c %T "$WORK")): (a) and (c) are not what they claim"

GURL=$BENCH_GLUSTER_URL
"${GV[@]}" mount "$BENCH_VOLUME" "$GMNT" 2>>"$WORK/gluster-mount.log" || bdie "gluster FUSE mount failed"
GMOUNTED=1
glusterfs_pid=$(pgrep -f -- "volfile-id=$BENCH_VOLUME .* $GMNT\$" | head -n1 || true)
RUN_ID=$(basename "$WORK")
BRICK_PIDS=$("${GV[@]}" brick-pids "$BENCH_VOLUME" 2>/dev/null | tr '\n' ' ' || true)

read -r -a CONFIGS <<<"$CONFIG_LIST"
phase() { [[ " $PHASES " == *" $1 "* ]]; }
declare -A CNAME=([a]="(a) ext4" [b]="(b) gluster FUSE" [c]="(c) rmtabfs dir:" [d]="(d) rmtabfs gluster://"
	[cb]="(c) rmtabfs dir: batch:1000" [db]="(d) rmtabfs gluster:// batch:1000")

# Does this rmtabfs take -o durability=batch:1000? A daemon refuses an option it does not know
# (it does not mount): try it once on a throwaway dir: store.
DURABILITY=unsupported
durability_probe() {
	local d=$WORK/durability-probe pid i
	mkdir -p "$d/mnt"
	"$RFS_BIN" -f -o "ctl=$d/ctl.sock,statedir=$d/state,store=dir:$d/store,node=probe,durability=batch:1000" \
		"$d/mnt" >"$d/log" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		if is_mounted "$d/mnt"; then
			DURABILITY=batch:1000
			break
		fi
		alive "$pid" || break
		sleep 0.05
	done
	is_mounted "$d/mnt" && umount "$d/mnt"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	blog "durability=batch:1000: $DURABILITY$([[ $DURABILITY == unsupported ]] && echo " ($(head -n 1 "$d/log"))")"
}

# ------------------------------------------------------------------- MNT/UMNT runs ---
# run_config CFG N: a fresh, empty state dir of kind CFG, one host, N MNT then N UMNT.
run_config() {
	local cfg=$1 n=$2 d=$WORK/$1-$2 src dpid='' key
	mkdir -p "$d"
	case $cfg in
	a)
		src=$d/nfs
		mkdir -p "$src"
		;;
	b)
		src=$GMNT/$RUN_ID-b-$n/nfs
		mkdir -p "$src"
		dpid=$glusterfs_pid
		;;
	c)
		src=$d/mnt
		start_rfs "c$n" "$src" "statedir=$d/state,store=dir:$d/store,node=bench-c" || return 1
		dpid=${RPIDS[c$n]}
		;;
	d)
		src=$d/mnt
		start_rfs "d$n" "$src" "statedir=$d/state,store=$GURL/$RUN_ID-d-$n,node=bench-d" ||
			return 1
		dpid=${RPIDS[d$n]}
		;;
	cb)
		src=$d/mnt
		start_rfs "cb$n" "$src" "statedir=$d/state,store=dir:$d/store,node=bench-c,durability=$DURABILITY" ||
			return 1
		dpid=${RPIDS[cb$n]}
		;;
	db)
		src=$d/mnt
		start_rfs "db$n" "$src" "statedir=$d/state,store=$GURL/$RUN_ID-db-$n,node=bench-d,durability=$DURABILITY" ||
			return 1
		dpid=${RPIDS[db$n]}
		;;
	esac
	if [[ $cfg == [ab] ]]; then
		: >"$src/rmtab"
		mkdir -p "$src/sm" "$src/sm.bak"
	fi
	[[ ! -s $src/rmtab ]] || problem "$cfg N=$n: rmtab not empty at the start"
	blog "${CNAME[$cfg]}: N=$n"
	local load_before
	load_before=$(cut -d' ' -f1 /proc/loadavg)
	local bricks=''
	[[ $cfg == b || $cfg == d || $cfg == db ]] && bricks=$BRICK_PIDS
	run_host "$src" "$n" mntumnt "$d/host" BENCH_DPID="$dpid" BENCH_BRICKS="$bricks"
	wait_host || true
	while read -r key v; do
		R[$cfg.$n.$key]=$v
	done < <("$PY" "$helper" hostres "$d/host/result" "$CLK_TCK")
	tsv mntumnt "$cfg" "$n" mnt_rate "$(g "$cfg.$n.mnt_ops/s")" ops/s
	tsv mntumnt "$cfg" "$n" mnt_p50 "$(g "$cfg.$n.mnt_p50")" us
	tsv mntumnt "$cfg" "$n" mnt_p99 "$(g "$cfg.$n.mnt_p99")" us
	tsv mntumnt "$cfg" "$n" umnt_rate "$(g "$cfg.$n.umnt_ops/s")" ops/s
	tsv mntumnt "$cfg" "$n" umnt_p50 "$(g "$cfg.$n.umnt_p50")" us
	tsv mntumnt "$cfg" "$n" umnt_p99 "$(g "$cfg.$n.umnt_p99")" us
	for key in mnt_wall_s umnt_wall_s mnt_mountd_cpu_s umnt_mountd_cpu_s mnt_daemon_cpu_s \
		umnt_daemon_cpu_s mnt_bricks_cpu_s umnt_bricks_cpu_s; do
		tsv mntumnt "$cfg" "$n" "${key%_s}" "$(g "$cfg.$n.$key")" s
	done
	tsv mntumnt "$cfg" "$n" loadavg_before "$load_before" -
	# The workload's own checks: every call answered, N records after MNT, none after UMNT.
	local e
	if [[ $(hres "$d/host" complete) != 1 ]]; then
		problem "${CNAME[$cfg]} N=$n: the host did not complete ($(grep -v '^0$' "$d/host/host.log" | tail -n 3 | tr '\n' ' '))"
	else
		for key in mnt umnt; do
			e=$(hres "$d/host" "${key}_rc")
			[[ $e == 0 ]] || problem "${CNAME[$cfg]} N=$n: mnt3 $key run exit status $e, $(hres "$d/host" "${key}_errors") error line(s) (see $d/host/$key.out)"
			[[ $(hres "$d/host" "${key}_count") == "$n" ]] ||
				problem "${CNAME[$cfg]} N=$n: $(hres "$d/host" "${key}_count") $key calls timed, expected $n"
		done
		[[ $(hres "$d/host" mnt_lines_after) == "$n" ]] ||
			problem "${CNAME[$cfg]} N=$n: rmtab has $(hres "$d/host" mnt_lines_after) lines after $n MNT"
		[[ $(hres "$d/host" umnt_lines_after) == 0 ]] ||
			problem "${CNAME[$cfg]} N=$n: rmtab has $(hres "$d/host" umnt_lines_after) lines after the UMNTs"
	fi
	case $cfg in
	b) rm -rf -- "${src%/nfs}" ;;
	c | d | cb | db)
		alive "$dpid" || problem "${CNAME[$cfg]} N=$n: the daemon died during the run"
		stop_rfs "$cfg$n"
		;;
	esac
	blog "  MNT $(g "$cfg.$n.mnt_ops/s")/s p50 $(g "$cfg.$n.mnt_p50")us p99 $(g "$cfg.$n.mnt_p99")us; UMNT $(g "$cfg.$n.umnt_ops/s")/s p50 $(g "$cfg.$n.umnt_p50")us p99 $(g "$cfg.$n.umnt_p99")us"
}

phase_mntumnt() {
	local n cfg
	durability_probe
	for n in $NS_LIST; do
		for cfg in "${CONFIGS[@]}"; do
			if [[ $cfg == cb || $cfg == db ]] && [[ $DURABILITY == unsupported ]]; then
				continue
			fi
			run_config "$cfg" "$n" || problem "${CNAME[$cfg]} N=$n: not measured"
		done
	done
}

# ------------------------------------------------------------ 100 000 records: cat, RSS ---
phase_records() {
	awk -v n=$NREC 'BEGIN { for (i = 0; i < n; i++)
		printf "10.%d.%d.%d:/export/a/d%05d:0x00000001\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256, i % 50000 }' \
		>"$WORK/records"
	cp "$WORK/records" "$WORK/plain-rmtab"
	time_cat() { # FILE RUNS: median milliseconds of cat FILE >/dev/null
		local i t0 t1
		cat "$1" >/dev/null
		for ((i = 0; i < $2; i++)); do
			t0=$EPOCHREALTIME
			cat "$1" >/dev/null
			t1=$EPOCHREALTIME
			echo "$t0 $t1"
		done | "$PY" "$helper" pct --pairs | sed 's/.*median=//'
	}
	# cat_pair VIEW PLAIN RUNS: "VIEW's-median PLAIN's-median" (ms). The cats of the two
	# alternate: one cat of 2 MB from the page cache is mostly cat's own start-up here, and
	# the ratio of two runs one after the other moved between 0.9 and 1.55 with the
	# machine's load.
	cat_pair() {
		local i f t0 t1 out
		cat "$1" "$2" >/dev/null
		out=$(for ((i = 0; i < $3; i++)); do
			for f in "$1" "$2"; do
				t0=$EPOCHREALTIME
				cat "$f" >/dev/null
				t1=$EPOCHREALTIME
				echo "$f $t0 $t1"
			done
		done)
		for f in "$1" "$2"; do
			awk -v f="$f" '$1 == f { print $2, $3 }' <<<"$out" |
				"$PY" "$helper" pct --pairs | sed 's/.*median=//'
		done | paste -sd' '
	}
R[cat.plain]=$(time_cat "$WORK/plain-rmtab" $CAT_RUNS)
tsv records plain "$NREC" cat_median "$(g cat.plain)" ms
for st in dir gluster; do
	d=$WORK/rss-$st
	mkdir -p "$d"
	if [[ $st == dir ]]; then store=dir:$d/store; else store=$GURL/$RUN_ID-rss; fi
	blog "100 000 records, $st store"
	start_rfs "rss$st" "$d/mnt" "statedir=$d/state,store=$store,node=bench-r" || continue
	pid=${RPIDS[rss$st]}
	wait_caught_up "rss$st" 30 >/dev/null || true
	cat "$d/mnt/rmtab" >/dev/null
	rss0=$(rss_kb "$pid")
	t0=$EPOCHREALTIME
	cp "$WORK/records" "$d/mnt/rmtab" || problem "cp of $NREC records into rmtab ($st store) failed"
	t1=$EPOCHREALTIME
	R[load.$st]=$("$PY" "$helper" elapsed "$t0" "$t1" --ms --digits 0)
	R[ship.$st]=$(wait_caught_up "rss$st" 120) || problem "$st store: $NREC records not shipped after 120 s"
	cmp -s "$WORK/records" "$d/mnt/rmtab" ||
		problem "$st store: rmtab after loading $NREC records differs from what was written ($(wc -lc <"$d/mnt/rmtab"))"
	rss1=$(rss_kb "$pid")
	read -r "R[cat.$st]" "R[catplain.$st]" < <(cat_pair "$d/mnt/rmtab" "$WORK/plain-rmtab" $CAT_RUNS)
	# READ requests of one more cat of the unchanged view (the daemon's own count).
	r0=$(view_reads "rss$st") && cat "$d/mnt/rmtab" >/dev/null && r1=$(view_reads "rss$st") &&
		R[reads2.$st]=$((r1 - r0)) || R[reads2.$st]=
	rss2=$(rss_kb "$pid")
	R[rss0.$st]=$rss0 R[rss1.$st]=$rss1 R[rss2.$st]=$rss2
	tsv records "$st" "$NREC" load_cp "$(g "load.$st")" ms
	tsv records "$st" "$NREC" shipped_after_load "$(g "ship.$st")" s
	tsv records "$st" "$NREC" cat_median "$(g "cat.$st")" ms
	tsv records "$st" "$NREC" cat_plain_median "$(g "catplain.$st")" ms
	[[ -z ${R[reads2.$st]} ]] || tsv records "$st" "$NREC" second_cat_reads "${R[reads2.$st]}" count
	tsv records "$st" "$NREC" rss_empty "$rss0" KiB
	tsv records "$st" "$NREC" rss_loaded "$rss1" KiB
	tsv records "$st" "$NREC" rss_after_cat "$rss2" KiB
	alive "$pid" || problem "$st store: the daemon died during the 100k-record phase"
	stop_rfs "rss$st"
	blog "  cp ${R[load.$st]} ms, cat ${R[cat.$st]} ms (ext4 ${R[catplain.$st]} ms, alternating), RSS ${rss0} -> ${rss2} KiB"
done

}

# ------------------------------------------------------------------------ propagation ---
# prop_run LABEL STORE-KIND [DAEMON-OPTIONS]: two daemons A and B on one store of STORE-KIND
# (gluster or dir), each with DAEMON-OPTIONS added (e.g. a variant of the wake-up); records
# written on A once both store sides are connected, the time until B shows them. LABEL names
# the row (config of the TSV).
prop_run() {
	local label=$1 st=$2 extra=${3:+,$3} d=$WORK/prop-$1 store line key
	mkdir -p "$d"
	if [[ $st == dir ]]; then store=dir:$d/store; else store=$GURL/$RUN_ID-prop-$label; fi
	blog "propagation A -> B, $label ($st store${3:+, -o $3}), $PROP_N records"
	start_rfs "pA$label" "$d/mA" "statedir=$d/sA,store=$store,node=bench-A$extra" || return 0
	start_rfs "pB$label" "$d/mB" "statedir=$d/sB,store=$store,node=bench-B$extra" ||
		{ stop_rfs "pA$label"; return 0; }
	wait_connected "pA$label" 30 && wait_connected "pB$label" 30 ||
		problem "$label: a daemon's store side not connected after 30 s"
	"$PY" "$helper" prop "$d/mA/rmtab" "$d/mB/rmtab" "$PROP_N" >"$d/prop.out" 2>"$d/prop.err" ||
		problem "$label: the propagation writer failed: $(tail -n 2 "$d/prop.err")"
	line=$(grep '^prop ' "$d/prop.out" || true)
	for key in p50_ms p99_ms max_ms lost same n; do
		R[prop.$label.$key]=$(sed -n "s/.* $key=\([^ ]*\).*/\1/p" <<<"$line")
	done
	[[ $(g "prop.$label.lost") == 0 ]] ||
		problem "$label: $(g "prop.$label.lost") of $PROP_N records from A never showed on B within 30 s"
	[[ $(g "prop.$label.same") == 1 ]] || problem "$label: A's and B's rmtab differ at the end"
	for key in p50_ms p99_ms max_ms lost same; do
		tsv propagation "$label" "$PROP_N" "$key" "$(g "prop.$label.$key")" \
			"$(case $key in lost) echo count ;; same) echo bool ;; *) echo ms ;; esac)"
	done
	alive "${RPIDS[pA$label]}" && alive "${RPIDS[pB$label]}" ||
		problem "$label: a daemon died in the propagation phase"
	stop_rfs "pA$label"
	stop_rfs "pB$label"
	blog "  $line"
}

phase_prop() {
	prop_run gluster gluster
	prop_run dir dir
}

# ---------------------------------------------------------------- start to first read ---
phase_start() {
	for case in dir gluster gluster-unreachable; do
		d=$WORK/start-$case
		mkdir -p "$d/mnt"
		case $case in
		dir) store=dir:$d/store ;;
		gluster) store=$GURL/$RUN_ID-start ;;
		gluster-unreachable) store=gluster://127.0.0.1:1/x ;;
		esac
		blog "start to first read: $case"
		: >"$d/times"
		for ((i = 0; i < START_RUNS; i++)); do
			out=$("$PY" "$helper" firstread "$d/mnt" "$d/pid" -- "$RFS_BIN" -f \
				-o "ctl=$WORK/start-$case.sock,statedir=$d/state,store=$store,node=bench-s" \
				"$d/mnt" 2>>"$WORK/start-$case.log") || true
			pid=$(cat "$d/pid" 2>/dev/null || true)
			if [[ -n $pid ]]; then
				RPIDS[start-$case]=$pid RMNTS[start-$case]=$d/mnt
			fi
			v=${out#firstread_ms }
			if [[ $v =~ ^[0-9.]+$ ]]; then
				echo "$v" >>"$d/times"
			else
				problem "start with $case store: no successful read of rmtab ($out; log $WORK/start-$case.log)"
			fi
			# Stop it only once it has mounted (it may still be on the way in a failed case).
			sleep 0.2
			stop_rfs "start-$case"
		done
		if [[ -s $d/times ]]; then
			line=$("$PY" "$helper" pct <"$d/times")
			R[start.$case]=${line##*median=}
			line=${line#* max=}
			R[start.$case.max]=${line%% *}
		fi
		tsv firstread "$case" "$START_RUNS" median "$(g "start.$case")" ms
		tsv firstread "$case" "$START_RUNS" max "$(g "start.$case.max")" ms
		blog "  median $(g "start.$case") ms, max $(g "start.$case.max") ms ($(tr '\n' ' ' <"$d/times"))"
	done

}

# ------------------------------------------------------------------------ volume down ---
phase_down() {
	d=$WORK/down
	mkdir -p "$d"
	blog "MNT on (d) while the volume is stopped (open loop, $DOWN_RATE MNT/s)"
	if start_rfs down "$d/mnt" "statedir=$d/state,store=$GURL/$RUN_ID-down,node=bench-d"; then
		dpid=${RPIDS[down]}
		run_host "$d/mnt" 20000 down "$d/host" BENCH_RATE=$DOWN_RATE
		for ((i = 0; i < 1200; i++)); do
			[[ -e $d/host/running ]] && break
			kill -0 "$HOST_PID" 2>/dev/null || break
			sleep 0.05
		done
		sleep 3
		t_stop0=$EPOCHREALTIME
		"${GV[@]}" stop-volume "$BENCH_VOLUME" 2>>"$WORK/gluster-ops.log" ||
			problem "stop-volume failed (see $WORK/gluster-ops.log)"
		t_stop1=$EPOCHREALTIME
		sleep 8
		t_start0=$EPOCHREALTIME
		"${GV[@]}" start-volume "$BENCH_VOLUME" 2>>"$WORK/gluster-ops.log" ||
			problem "start-volume failed (see $WORK/gluster-ops.log)"
		t_start1=$EPOCHREALTIME
		R[down.catchup]=$(wait_caught_up down 120) ||
			problem "(d) did not reconnect and ship its backlog within 120 s after start-volume"
		sleep 2
		touch "$d/host/done"
		wait_host || problem "volume-down host script failed (log $d/host/host.log)"
		# Classify each MNT by the time its reply arrived: before the stop, between the start of
		# stop-volume and the end of start-volume ("down"), after.
		"$PY" "$helper" down "$d/host/down.lat" "$t_stop0" "$t_start1" >"$d/down.summary"
		while read -r w rest; do
			for key in n errors p50 p99 max; do
				R[down.$w.$key]=$(sed -n "s/.*\b$key=\([^ ]*\).*/\1/p" <<<" $rest")
				tsv volume_down "$w" - "mnt_$key" "$(g "down.$w.$key")" "$([[ $key == p* || $key == max ]] && echo ms || echo count)"
			done
		done <"$d/down.summary"
		R[down.stop_s]=$("$PY" "$helper" elapsed "$t_stop0" "$t_stop1" --digits 1)
		R[down.down_s]=$("$PY" "$helper" elapsed "$t_stop0" "$t_start1" --digits 1)
		tsv volume_down - - window "$(g down.down_s)" s
		tsv volume_down - - stop_volume_cmd "$(g down.stop_s)" s
		tsv volume_down - - start_volume_cmd "$("$PY" "$helper" elapsed "$t_start0" "$t_start1" --digits 1)" s
		tsv volume_down - - catchup_after_start "$(g down.catchup)" s
		for w in before down after; do
			[[ $(g "down.$w.errors") == 0 ]] ||
				problem "volume down: $(g "down.$w.errors") MNT call(s) $w the outage failed (see $d/host/down.lat)"
		done
		alive "$dpid" || problem "(d) daemon died in the volume-down phase"
		stop_rfs down
		blog "  $(tr '\n' ';' <"$d/down.summary")"
	else
		problem "volume-down phase not run"
	fi
	"${GV[@]}" start-volume "$BENCH_VOLUME" 2>>"$WORK/gluster-ops.log" || true
}

# ----------------------------------------------------------- where an MNT's time goes ---
phase_steps() {
	local d=$WORK/steps cfg dir out
	mkdir -p "$d/a"
	awk 'BEGIN { for (i = 0; i < 5000; i++)
		printf "10.%d.%d.%d:/export/a/d%05d:0x00000001\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256, i }' \
		>"$d/records"
	for cfg in a c d; do
		blog "where an MNT's time goes: ${CNAME[$cfg]}, 5000 records, $STEPS_N MNTs"
		case $cfg in
		a) dir=$d/a ;;
		c)
			dir=$d/c
			start_rfs steps-c "$dir" "statedir=$d/cs,store=dir:$d/cst,node=bench-st" || continue
			;;
		d)
			dir=$d/d
			start_rfs steps-d "$dir" "statedir=$d/ds,store=$GURL/$RUN_ID-steps,node=bench-st" ||
				continue
			;;
		esac
		cp "$d/records" "$dir/rmtab"
		out=$("$TOOLS/mnt_steps" "$dir" "$STEPS_N" 2>&1) ||
			problem "mnt_steps on ${CNAME[$cfg]} failed: $(tail -n 1 <<<"$out")"
		while read -r k v; do
			R[steps.$cfg.$k]=$v
			tsv steps "$cfg" 5000 "$k" "$v" us
		done <<<"$out"
		[[ $cfg == a ]] || stop_rfs "steps-$cfg"
	done
}

# ------------------------------------------------ the store side killed under load ---
# Issue 16's kill matrix: tests/integration/store-kill.sh (the real rpc.mountd at 30 MNT/s
# open loop: 15 s without kills, 20 kill -9 of the store side within a minute, a 10 s
# SIGSTOP of it), once on dir: and once on the bench volume. Its summary lines are the numbers.
phase_storekill() {
	local st t out line ph rest k v
	for st in dir gluster; do
		t=store-kill
		[[ $st == gluster ]] && t=store-kill-gluster
		blog "store side killed under load: $st ($t, about 2 minutes)"
		out=$(RFS_GLUSTER_URL=$GURL/$RUN_ID-kill meson test -C "$BUILD" --no-rebuild -v "$t" 2>&1) ||
			problem "$t failed (log $WORK/storekill-$st.log)"
		printf '%s\n' "$out" >"$WORK/storekill-$st.log"
		# "[store-kill] 19 kills: n=1790 failed=0 p50_ms=8.0 p99_ms=71.2 max_ms=90.3"
		while IFS= read -r line; do
			ph=${line#*] }
			ph=${ph%%: n=*}
			rest=${line##*: }
			case $ph in
			"no kills") ph=base ;;
			"SIGSTOP 10 s") ph=sigstop ;;
			*" kills") tsv storekill "$st" - kills "${ph%% *}" count; ph=kills ;;
			*) continue ;;
			esac
			for kv in $rest; do
				k=${kv%%=*} v=${kv#*=}
				tsv storekill "$st" "$ph" "$k" "$v" -
			done
		done < <(grep -E '^\[store-kill[^]]*\] [^:]+: n=[0-9]+ failed=' <<<"$out")
	done
}

NREC=100000 CAT_RUNS=31 DOWN_RATE=100 STEPS_N=1000
if ((QUICK)); then PROP_N=200 START_RUNS=3; else PROP_N=1000 START_RUNS=7; fi
for p in mntumnt steps records prop start down storekill; do
	if phase "$p"; then "phase_$p"; fi
done

# ------------------------------------------------------------------------------ table ---
# The run's parameters go into the TSV too: the helper lays the table out from the TSV alone.
tsv run - - quick "$QUICK" -
tsv run - - ns "$NS_LIST" -
tsv run - - configs "${CONFIGS[*]}" -
tsv run - - phases "$PHASES" -
tsv run - - durability "$DURABILITY" -
tsv run - - nrec "$NREC" -
tsv run - - cat_runs "$CAT_RUNS" -
tsv run - - prop_n "$PROP_N" -
tsv run - - start_runs "$START_RUNS" -
tsv run - - down_rate "$DOWN_RATE" -
tsv run - - steps_n "$STEPS_N" -
tsv run - - work "$WORK" -
printf '%s\n' "${HEADER[@]}" >"$WORK/header.txt"
{
	"$PY" "$helper" table "$RESULTS" --header "$WORK/header.txt" --append ||
		echo "(bench_helper.py table failed: the raw numbers are in $RESULTS)"
	echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "results (TSV): $RESULTS"
} >"$WORK/table.txt"
tsv machine - - loadavg_end "$(cut -d' ' -f1 /proc/loadavg)" -
cat "$WORK/table.txt"
cp "$WORK/table.txt" "${RESULTS%.tsv}.txt"
