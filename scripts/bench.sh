#!/bin/bash
# bench.sh — rmtabfs against the alternatives, side by side, in one run, printing one table.
#
# Usage (as root, on the Debian 12 machine that scripts/setup.sh prepared):
#   scripts/bench.sh              full run: N = 1000, 5000, 20000 (about 50 min on 2 CPUs)
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
#   --configs "a b c d"   only these state-dir configurations in the MNT/UMNT runs
#   --phases "mntumnt steps records prop start down"   only these phases (default: all)
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
#   (d) rmtabfs with the gluster:// store (libgfapi) on the same volume as (b).
# For each: MNT/s and UMNT/s, p50 and p99 latency, CPU seconds of mountd and of the daemon
# behind the state dir, and the rate ratios (c)/(a), (d)/(a), (d)/(b). Then:
#   - 100 000 records loaded with one cp into rmtab: load time, `cat rmtab` (median of 9)
#     against cat of the same bytes on ext4, the daemon's VmRSS empty and loaded;
#   - propagation from a flush on node A to node B's rmtab (two daemons, same store), p50/p99
#     over the records, on the gluster store and on the dir: store;
#   - time from starting rmtabfs to the first successful read of rmtab (median): dir: store,
#     gluster store reachable, gluster store unreachable (gluster://127.0.0.1:1/x);
#   - MNT latency on (d) while the volume is stopped (stop-volume during an open-loop MNT run
#     at 100/s; started again afterwards), and how long the daemon takes to catch up;
#   - where the time of one MNT goes: tests/tools/mnt_steps repeats the file system side of
#     mountd's MNT step by step (lock, read with an ftell per line, append, close, unlock) on a
#     state directory holding 5 000 records, on (a), (c) and (d), and prints the mean per step.
# Targets are printed as met/missed next to the numbers; a benchmark never fails on a time.
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
			d0=$(cpu_ticks "${BENCH_DPID:-}")
			b0=$(cpu_ticks ${BENCH_BRICKS:-})
			t0=$EPOCHREALTIME
			rc=0
			"$RFS_MNT3" -q -S 127.0.0.1 script <"$BENCH_HW/$kind.script" \
				>"$BENCH_HW/$kind.out" 2>&1 || rc=$?
			t1=$EPOCHREALTIME
			c1=$(cpu_ticks "$MOUNTD_PID")
			d1=$(cpu_ticks "${BENCH_DPID:-}")
			b1=$(cpu_ticks ${BENCH_BRICKS:-})
			awk -v k="$kind" '$1 == "stats" && $2 == k {
				for (i = 3; i <= NF; i++) { split($i, kv, "="); v = kv[2]; sub(/us$|s$/, "", v)
					printf "%s_%s %s\n", k, kv[1], v } }' "$BENCH_HW/$kind.out" >>"$res"
			{
				echo "${kind}_rc $rc"
				echo "${kind}_errors $(grep -c -v '^stats ' "$BENCH_HW/$kind.out" || true)"
				echo "${kind}_wall_s $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
				echo "${kind}_mountd_cpu_s $(((c1 - c0)))"
				echo "${kind}_daemon_cpu_s $(((d1 - d0)))"
				echo "${kind}_bricks_cpu_s $(((b1 - b0)))"
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
CONFIG_LIST="a b c d" PHASES="mntumnt steps records prop start down"
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

# Seconds until daemon NAME has on the store every op it had made when this was called (its
# last sequence then): under a steady load "backlog 0" may never be seen, as the newest ops
# are always on their way.
wait_caught_up() { # NAME TIMEOUT
	local t0=$EPOCHREALTIME out target='' shipped limit=$((${2} * 10)) i
	for ((i = 0; i < limit; i++)); do
		out=$("$RFS_CTL" -s "$WORK/$1.sock" -t 5 status 2>/dev/null || true)
		if [[ -z $target ]]; then
			target=$(awk '/[(]this node[)]/ { print $2; exit }' <<<"$out")
			[[ $target =~ ^[0-9]+$ ]] || target=''
		fi
		if [[ -n $target ]] && grep -q '^store:.*: connected' <<<"$out"; then
			shipped=$(awk '/[(]this node[)]/ { if (/all shipped/) print $2
				else { sub(/.*store has up to /, ""); print $1 }; exit }' <<<"$out")
			if [[ $shipped =~ ^[0-9]+$ ]] && ((shipped >= target)); then
				awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f\n", b - a }'
				return 0
			fi
		fi
		sleep 0.1
	done
	echo "timeout"
	return 1
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
declare -A CNAME=([a]="(a) ext4" [b]="(b) gluster FUSE" [c]="(c) rmtabfs dir:" [d]="(d) rmtabfs gluster://")

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
	[[ $cfg == [bd] ]] && bricks=$BRICK_PIDS
	run_host "$src" "$n" mntumnt "$d/host" BENCH_DPID="$dpid" BENCH_BRICKS="$bricks"
	wait_host || true
	for key in mnt_ops/s mnt_p50 mnt_p99 umnt_ops/s umnt_p50 umnt_p99 mnt_wall_s umnt_wall_s \
		mnt_mountd_cpu_s umnt_mountd_cpu_s mnt_daemon_cpu_s umnt_daemon_cpu_s mnt_count \
		umnt_count mnt_bricks_cpu_s umnt_bricks_cpu_s; do
		R[$cfg.$n.$key]=$(hres "$d/host" "$key")
	done
	for key in mnt_mountd_cpu_s umnt_mountd_cpu_s mnt_daemon_cpu_s umnt_daemon_cpu_s \
		mnt_bricks_cpu_s umnt_bricks_cpu_s; do
		R[$cfg.$n.$key]=$(awk -v t="${R[$cfg.$n.$key]:-0}" -v h="$CLK_TCK" 'BEGIN { printf "%.1f", t / h }')
	done
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
	c | d)
		alive "$dpid" || problem "${CNAME[$cfg]} N=$n: the daemon died during the run"
		stop_rfs "$cfg$n"
		;;
	esac
	blog "  MNT $(g "$cfg.$n.mnt_ops/s")/s p50 $(g "$cfg.$n.mnt_p50")us p99 $(g "$cfg.$n.mnt_p99")us; UMNT $(g "$cfg.$n.umnt_ops/s")/s p50 $(g "$cfg.$n.umnt_p50")us p99 $(g "$cfg.$n.umnt_p99")us"
}

ratio() { # A B: A/B to 2 decimals, or "-"
	awk -v a="${1:-}" -v b="${2:-}" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'
}

phase_mntumnt() {
	for n in $NS_LIST; do
		for cfg in "${CONFIGS[@]}"; do
			run_config "$cfg" "$n" || problem "${CNAME[$cfg]} N=$n: not measured"
		done
		for pair in c/a d/a d/b; do
			x=${pair%/*} y=${pair#*/}
			R[ratio.$n.mnt.$pair]=$(ratio "$(g "$x.$n.mnt_ops/s")" "$(g "$y.$n.mnt_ops/s")")
			R[ratio.$n.umnt.$pair]=$(ratio "$(g "$x.$n.umnt_ops/s")" "$(g "$y.$n.umnt_ops/s")")
			tsv ratio "$pair" "$n" mnt_rate "$(g "ratio.$n.mnt.$pair")" x
			tsv ratio "$pair" "$n" umnt_rate "$(g "ratio.$n.umnt.$pair")" x
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
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
		done | "$PY" "$helper" pct | sed 's/.*median=//'
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
	R[load.$st]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
	R[ship.$st]=$(wait_caught_up "rss$st" 120) || problem "$st store: $NREC records not shipped after 120 s"
	cmp -s "$WORK/records" "$d/mnt/rmtab" ||
		problem "$st store: rmtab after loading $NREC records differs from what was written ($(wc -lc <"$d/mnt/rmtab"))"
	rss1=$(rss_kb "$pid")
	R[cat.$st]=$(time_cat "$d/mnt/rmtab" $CAT_RUNS)
	rss2=$(rss_kb "$pid")
	R[rss0.$st]=$rss0 R[rss1.$st]=$rss1 R[rss2.$st]=$rss2
	R[bpr.$st]=$(awk -v a="$rss0" -v b="$rss2" -v n=$NREC 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
	tsv records "$st" "$NREC" load_cp "$(g "load.$st")" ms
	tsv records "$st" "$NREC" shipped_after_load "$(g "ship.$st")" s
	tsv records "$st" "$NREC" cat_median "$(g "cat.$st")" ms
	tsv records "$st" "$NREC" rss_empty "$rss0" KiB
	tsv records "$st" "$NREC" rss_loaded "$rss1" KiB
	tsv records "$st" "$NREC" rss_after_cat "$rss2" KiB
	tsv records "$st" "$NREC" rss_per_record "$(g "bpr.$st")" bytes
	alive "$pid" || problem "$st store: the daemon died during the 100k-record phase"
	stop_rfs "rss$st"
	blog "  cp ${R[load.$st]} ms, cat ${R[cat.$st]} ms (ext4 ${R[cat.plain]} ms), RSS ${rss0} -> ${rss2} KiB = ${R[bpr.$st]} B/record"
done

}

# ------------------------------------------------------------------------ propagation ---
phase_prop() {
	for st in gluster dir; do
		d=$WORK/prop-$st
		mkdir -p "$d"
		if [[ $st == dir ]]; then store=dir:$d/store; else store=$GURL/$RUN_ID-prop; fi
		blog "propagation A -> B, $st store, $PROP_N records"
		start_rfs "pA$st" "$d/mA" "statedir=$d/sA,store=$store,node=bench-A" || continue
		start_rfs "pB$st" "$d/mB" "statedir=$d/sB,store=$store,node=bench-B" || { stop_rfs "pA$st"; continue; }
		"$PY" "$helper" prop "$d/mA/rmtab" "$d/mB/rmtab" "$PROP_N" >"$d/prop.out" 2>"$d/prop.err" ||
			problem "$st store: the propagation writer failed: $(tail -n 2 "$d/prop.err")"
		line=$(grep '^prop ' "$d/prop.out" || true)
		for key in p50_ms p99_ms max_ms lost same n; do
			R[prop.$st.$key]=$(sed -n "s/.* $key=\([^ ]*\).*/\1/p" <<<"$line")
		done
		[[ $(g "prop.$st.lost") == 0 ]] ||
			problem "$st store: $(g "prop.$st.lost") of $PROP_N records from A never showed on B within 30 s"
		[[ $(g "prop.$st.same") == 1 ]] || problem "$st store: A's and B's rmtab differ at the end"
		for key in p50_ms p99_ms max_ms lost; do
			tsv propagation "$st" "$PROP_N" "$key" "$(g "prop.$st.$key")" "$([[ $key == lost ]] && echo count || echo ms)"
		done
		alive "${RPIDS[pA$st]}" && alive "${RPIDS[pB$st]}" || problem "$st store: a daemon died in the propagation phase"
		stop_rfs "pA$st"
		stop_rfs "pB$st"
		blog "  $line"
	done

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
			R[start.$case]=$("$PY" "$helper" pct <"$d/times" | sed 's/.*median=//')
			R[start.$case.max]=$("$PY" "$helper" pct <"$d/times" | sed 's/.* max=\([^ ]*\).*/\1/')
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
		"$PY" - "$d/host/down.lat" "$t_stop0" "$t_start1" >"$d/down.summary" <<'PY'
import sys
f, a, b = sys.argv[1], float(sys.argv[2]) * 1e9, float(sys.argv[3]) * 1e9
win = {"before": [], "down": [], "after": []}
errors = {"before": 0, "down": 0, "after": 0}
for line in open(f):
    w = line.split()
    if len(w) < 3 or w[1] != "mnt":
        continue
    t = int(w[0])
    k = "before" if t < a else ("down" if t <= b else "after")
    if len(w) >= 5 and w[3] == "ok" and w[4].endswith("us"):
        win[k].append(int(w[4][:-2]) / 1000.0)
    else:
        errors[k] += 1
def pct(v, p):
    if not v:
        return float("nan")
    r = (len(v) * p + 99) // 100
    return v[max(r - 1, 0)]
for k, v in win.items():
    v.sort()
    print(f"{k} n={len(v)} errors={errors[k]} p50={pct(v, 50):.2f} p99={pct(v, 99):.2f} "
          f"max={(v[-1] if v else float('nan')):.2f}")
PY
		while read -r w rest; do
			for key in n errors p50 p99 max; do
				R[down.$w.$key]=$(sed -n "s/.*\b$key=\([^ ]*\).*/\1/p" <<<" $rest")
				tsv volume_down "$w" - "mnt_$key" "$(g "down.$w.$key")" "$([[ $key == p* || $key == max ]] && echo ms || echo count)"
			done
		done <"$d/down.summary"
		R[down.stop_s]=$(awk -v a="$t_stop0" -v b="$t_stop1" 'BEGIN { printf "%.1f", b - a }')
		R[down.down_s]=$(awk -v a="$t_stop0" -v b="$t_start1" 'BEGIN { printf "%.1f", b - a }')
		tsv volume_down - - window "$(g down.down_s)" s
		tsv volume_down - - stop_volume_cmd "$(g down.stop_s)" s
		tsv volume_down - - start_volume_cmd "$(awk -v a="$t_start0" -v b="$t_start1" 'BEGIN { printf "%.1f", b - a }')" s
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
STEP_NAMES="lock open+read close(r+) open(a)+write close(a) unlock mnt_total read-no-ftell"
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

NREC=100000 CAT_RUNS=9 DOWN_RATE=100 STEPS_N=1000
if ((QUICK)); then PROP_N=200 START_RUNS=3; else PROP_N=1000 START_RUNS=7; fi
for p in mntumnt steps records prop start down; do
	if phase "$p"; then "phase_$p"; fi
done

# ------------------------------------------------------------------------------ table ---
met() { # VALUE OP LIMIT: met / missed / n/a
	awk -v v="${1:-}" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "" || v == "-" || v == "timeout") { print "n/a   "; exit }
		ok = (op == ">=") ? (v + 0 >= l) : (v + 0 <= l)
		print ok ? "met   " : "MISSED" }'
}
fmt_rate() { awk -v v="${1:-}" 'BEGIN { if (v == "") print "-"; else printf "%.0f", v }'; }
fmt_ms() { awk -v v="${1:-}" 'BEGIN { if (v == "") print "-"; else printf "%.2f", v / 1000 }'; }
{
	printf '%s\n' "${HEADER[@]}"
	echo "mountd:   /usr/sbin/rpc.mountd -F (no -d), fakenfsd shim, own rpcbind, private mount+net namespace;"
	echo "          mnt3 over one TCP connection: N MNT of distinct /export/a/dNNNNN, then N UMNT; empty rmtab each time"
	echo
	echo "== MNT / UMNT throughput and latency (latency in ms; cpu = CPU seconds in the MNT + UMNT phases)"
	printf '%-24s %6s | %8s %7s %7s | %8s %7s %7s | %11s %-21s\n' config N "MNT/s" p50 p99 "UMNT/s" p50 p99 "mountd cpu" "backend cpu"
	for n in $NS_LIST; do
		for cfg in "${CONFIGS[@]}"; do
			k=$cfg.$n
			case $cfg in
			a) backend=- ;;
			b) backend="glusterfs $(g "$k.mnt_daemon_cpu_s")+$(g "$k.umnt_daemon_cpu_s"), bricks $(g "$k.mnt_bricks_cpu_s")+$(g "$k.umnt_bricks_cpu_s")" ;;
			c) backend="rmtabfs $(g "$k.mnt_daemon_cpu_s")+$(g "$k.umnt_daemon_cpu_s")" ;;
			d) backend="rmtabfs $(g "$k.mnt_daemon_cpu_s")+$(g "$k.umnt_daemon_cpu_s"), bricks $(g "$k.mnt_bricks_cpu_s")+$(g "$k.umnt_bricks_cpu_s")" ;;
			esac
			printf '%-24s %6s | %8s %7s %7s | %8s %7s %7s | %11s %-21s\n' "${CNAME[$cfg]}" "$n" \
				"$(fmt_rate "$(g "$k.mnt_ops/s")")" "$(fmt_ms "$(g "$k.mnt_p50")")" "$(fmt_ms "$(g "$k.mnt_p99")")" \
				"$(fmt_rate "$(g "$k.umnt_ops/s")")" "$(fmt_ms "$(g "$k.umnt_p50")")" "$(fmt_ms "$(g "$k.umnt_p99")")" \
				"$(g "$k.mnt_mountd_cpu_s")+$(g "$k.umnt_mountd_cpu_s")" "$backend"
		done
		printf '%-24s %6s | MNT   c/a %5s  d/a %5s  d/b %5s | UMNT  c/a %5s  d/a %5s  d/b %5s\n' "  ratios of rates" "$n" \
			"$(g "ratio.$n.mnt.c/a")" "$(g "ratio.$n.mnt.d/a")" "$(g "ratio.$n.mnt.d/b")" \
			"$(g "ratio.$n.umnt.c/a")" "$(g "ratio.$n.umnt.d/a")" "$(g "ratio.$n.umnt.d/b")"
	done
	if phase steps; then
		echo
		echo "== where an MNT's time goes: mountd's file system calls for one new client, 5000 records (tests/tools/mnt_steps, mean us of $STEPS_N)"
		printf '%-16s %10s %14s %18s\n' step "(a) ext4" "(c) rmtabfs dir:" "(d) rmtabfs gluster"
		for k in $STEP_NAMES; do
			printf '%-16s %10s %14s %18s\n' "$k" "$(g "steps.a.$k")" "$(g "steps.c.$k")" "$(g "steps.d.$k")"
		done
	fi
	echo
	echo "== $NREC records (loaded with one cp into rmtab)"
	printf '%-22s %9s %9s %11s %10s %11s %10s %10s\n' store "cp ms" "shipped s" "cat ms(med)" "RSS empty" "RSS loaded" "+9 cats" "B/record"
	for st in dir gluster; do
		printf '%-22s %9s %9s %11s %9sK %10sK %9sK %10s\n' "rmtabfs $st" "$(g "load.$st")" "$(g "ship.$st")" \
			"$(g "cat.$st")" "$(g "rss0.$st")" "$(g "rss1.$st")" "$(g "rss2.$st")" "$(g "bpr.$st")"
	done
	printf '%-22s %9s %9s %11s\n' "plain ext4 file" - - "$(g cat.plain)"
	echo
	echo "== propagation: flush on node A (close() returned) -> node B's rmtab shows the record ($PROP_N records)"
	printf '%-22s %9s %9s %9s %6s %6s\n' store "p50 ms" "p99 ms" "max ms" lost same
	for st in gluster dir; do
		printf '%-22s %9s %9s %9s %6s %6s\n' "$st" "$(g "prop.$st.p50_ms")" "$(g "prop.$st.p99_ms")" \
			"$(g "prop.$st.max_ms")" "$(g "prop.$st.lost")" "$(g "prop.$st.same")"
	done
	echo
	echo "== start of rmtabfs -> first successful read of rmtab (median of $START_RUNS)"
	printf '%-34s %9s %9s\n' store "median ms" "max ms"
	printf '%-34s %9s %9s\n' "dir:" "$(g start.dir)" "$(g start.dir.max)"
	printf '%-34s %9s %9s\n' "gluster:// reachable" "$(g start.gluster)" "$(g start.gluster.max)"
	printf '%-34s %9s %9s\n' "gluster://127.0.0.1:1/x unreachable" "$(g start.gluster-unreachable)" "$(g start.gluster-unreachable.max)"
	echo
	echo "== (d) MNT while the volume is stopped (open loop $DOWN_RATE MNT/s; outage window $(g down.down_s) s = stop-volume start .. start-volume end)"
	printf '%-22s %7s %7s %9s %9s %9s\n' window MNTs errors "p50 ms" "p99 ms" "max ms"
	for w in before down after; do
		printf '%-22s %7s %7s %9s %9s %9s\n' "$w" "$(g "down.$w.n")" "$(g "down.$w.errors")" \
			"$(g "down.$w.p50")" "$(g "down.$w.p99")" "$(g "down.$w.max")"
	done
	echo "every op made until start-volume returned was on the store $(g down.catchup) s later (the MNT load going on)"
	echo
	echo "== targets"
	t5=5000
	if [[ " $NS_LIST " == *" $t5 "* ]]; then
		printf '  %s (d)/(a) MNT rate at N=5000 >= 0.9x: %sx\n' "$(met "$(g "ratio.$t5.mnt.d/a")" '>=' 0.9)" "$(g "ratio.$t5.mnt.d/a")"
		printf '  %s (d)/(a) UMNT rate at N=5000 >= 0.9x: %sx\n' "$(met "$(g "ratio.$t5.umnt.d/a")" '>=' 0.9)" "$(g "ratio.$t5.umnt.d/a")"
		printf '  %s (d)/(b) MNT rate at N=5000 >= 3x: %sx\n' "$(met "$(g "ratio.$t5.mnt.d/b")" '>=' 3)" "$(g "ratio.$t5.mnt.d/b")"
		printf '  %s (d)/(b) UMNT rate at N=5000 >= 3x: %sx\n' "$(met "$(g "ratio.$t5.umnt.d/b")" '>=' 3)" "$(g "ratio.$t5.umnt.d/b")"
	else
		echo "  n/a    rate targets are at N=5000, which this run did not measure"
	fi
	for st in gluster dir; do
		printf '  %s propagation p99 <= 250 ms (%s store): %s ms\n' "$(met "$(g "prop.$st.p99_ms")" '<=' 250)" "$st" "$(g "prop.$st.p99_ms")"
	done
	for st in dir gluster; do
		printf '  %s RSS per record at %d <= 300 B (%s store): %s B\n' "$(met "$(g "bpr.$st")" '<=' 300)" $NREC "$st" "$(g "bpr.$st")"
	done
	printf '  %s first read <= 100 ms after start, store reachable (gluster): %s ms\n' "$(met "$(g start.gluster)" '<=' 100)" "$(g start.gluster)"
	printf '  %s first read <= 100 ms after start, store unreachable: %s ms\n' "$(met "$(g start.gluster-unreachable)" '<=' 100)" "$(g start.gluster-unreachable)"
	printf '  %s first read <= 100 ms after start, dir: store: %s ms\n' "$(met "$(g start.dir)" '<=' 100)" "$(g start.dir)"
	echo
	if ((${#PROBLEMS[@]})); then
		echo "== problems (the daemon or the set-up misbehaved; logs in $WORK)"
		printf '  - %s\n' "${PROBLEMS[@]}"
	else
		echo "== problems: none"
	fi
	echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "results (TSV): $RESULTS"
} >"$WORK/table.txt"
tsv machine - - loadavg_end "$(cut -d' ' -f1 /proc/loadavg)" -
cat "$WORK/table.txt"
cp "$WORK/table.txt" "${RESULTS%.tsv}.txt"
