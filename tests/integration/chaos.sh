#!/bin/bash
# Randomized multi-node test: three NFS servers (tests/integration/node.sh: own namespaces,
# /var/lib/nfs, rpcbind and the real rpc.mountd) share one store while three writers
# (tests/tools/chaos_writer.py) MNT and UMNT a bounded set of keys on all of them — MOUNT RPCs
# to the real rpc.mountd, its in-place rewrite, `echo >>` — and a seeded fault schedule
# (tests/tools/chaos_plan.py) kills daemons with -9, freezes them with SIGSTOP, kills bricks
# (Gluster), compacts, and deletes a node's state directory (at least once per run). Then
# every daemon and brick is up again and the nodes must settle (bounded) on byte-identical
# views equal to the model of the acknowledged ops (tests/tools/chaos_check.py, which also
# prints the run's numbers), and a fresh fourth node must show the same bytes. The one loss
# allowed: what a node acknowledged in the last moments (at most 2 s) before it was killed
# *and* lost its state directory, as that was only in the journal there (sync=local). And the
# README's known limit: ops a node made while catching up after a restart (up to 5 s after it)
# may have been applied to an older count; keys they decided are listed, not failed.
#
# RFS_CHAOS_SECONDS: chaos duration (default 90); RFS_CHAOS_SEED: the seed (printed; the same
# seed gives the same fault schedule, the writers' choices and timing still vary);
# RFS_CHAOS_SETTLE: seconds allowed to converge afterwards (default 45); RFS_CHAOS_FAULTS: only
# these fault kinds (comma-separated: kill9,stop,compact,statedir,brick; to narrow a failure down).
# Store: $RFS_STORE if set (the gluster suite; brick kills need RFS_GLUSTER_VOLUME), else dir:.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"
rfs_setup
chmod 0755 "$RFS_WORK"
TOOLS=$here/../tools
GV=$here/../../scripts/gluster-volume.sh
CHAOS=${RFS_CHAOS_SECONDS:-90}
SETTLE=${RFS_CHAOS_SETTLE:-45}
SEED=${RFS_CHAOS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
STORE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}
STORE=${STORE:-dir:$RFS_WORK/store}
KIND=dir
if [[ $STORE != dir:* ]]; then
	KIND=gluster
	: "${RFS_GLUSTER_VOLUME:?brick kills need RFS_GLUSTER_VOLUME (a volume of the test alone)}"
fi
NODES=(n1 n2 n3)
FAULTS=$RFS_WORK/faults.jsonl
: >"$FAULTS"
log "seed $SEED (RFS_CHAOS_SEED=$SEED repeats the fault schedule), ${CHAOS} s of chaos, store $STORE"
source "$here/nodes.sh"

for n in "${NODES[@]}"; do node_up "$n" || die "host $n did not start"; done
nspid() { cat "$RFS_WORK/$1.nspid"; }
view_of() { cat "/proc/$(nspid "$1")/root/var/lib/nfs/rmtab"; }
mountd_of() { # NODE: the pid of the node's rpc.mountd (the one in its network namespace)
	local p ns
	ns=$(readlink "/proc/$(nspid "$1")/ns/net")
	for p in $(pgrep -x rpc.mountd); do
		[[ $(readlink "/proc/$p/ns/net" 2>/dev/null) == "$ns" ]] && echo "$p"
	done
	return 0
}
fault_log() { # KIND NODE SECONDS [KEY VALUE]...: one JSON line
	local kind=$1 node=$2 dur=$3 extra=
	shift 3
	while (($# >= 2)); do
		extra+=", \"$1\": \"$2\""
		shift 2
	done
	printf '{"fault": "%s", "node": "%s", "t": %s, "duration": %s%s}\n' "$kind" "$node" \
		"$(date +%s.%N)" "$dur" "$extra" >>"$FAULTS"
	log "fault: $kind $node ${dur}s${extra:+ $extra}"
}

# A killed daemon leaves its dead mount in place (ENOTCONN), so nothing reaches the directory
# underneath; restarting clears it and mounts anew. The node's rpc.mountd is frozen from before
# the daemon stops until it runs again: rpc.mountd exits (L_FATAL) when it cannot open etab at
# an MNT (nfs-utils auth_reload), and an MNT between clearing and mounting would write the
# directory underneath and still be answered. Its clients wait meanwhile, as for a slow server.
# (Without the freeze rpc.mountd dies at the first MNT after a kill -9 of the daemon: not a
# fault of rmtabfs, and it would end that node's MOUNT traffic for the rest of the run.)
daemon_kill9() {
	kill -9 "${RFS_PIDS[$1]}" 2>/dev/null || true
	wait "${RFS_PIDS[$1]}" 2>/dev/null || true
	unset "RFS_PIDS[$1]"
}
TERM_RC=
daemon_term() { # NODE: a clean stop; its exit status in TERM_RC ("hung": kill -9 after 20 s)
	local pid=${RFS_PIDS[$1]} i hung=0 st=0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 400; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid" 2>/dev/null || true
		hung=1
	fi
	wait "$pid" 2>/dev/null || st=$?
	TERM_RC=$st
	((hung)) && TERM_RC=hung
	unset "RFS_PIDS[$1]"
}
top_mount() { # NODE: "SOURCE FSTYPE" of the topmost mount on the host's /var/lib/nfs
	nsenter -t "$(nspid "$1")" -m -- awk '$2 == "/var/lib/nfs" { t = $1 " " $3 } END { print t }' \
		/proc/mounts
}
daemon_restart() { # NODE: retried for 30 s (a store that is down still lets it mount)
	local n=$1 try
	for ((try = 0; try < 30; try++)); do
		# Only a dead rmtabfs mount is cleared (a clean stop has unmounted itself): never
		# the host's own tmpfs, which would leave the real /var/lib/nfs under the new mount.
		if [[ $(top_mount "$n") == *" fuse.rmtabfs" ]]; then
			nsenter -t "$(nspid "$n")" -m -- umount -l /var/lib/nfs ||
				die "cannot clear $n's dead mount"
		fi
		[[ $(top_mount "$n") == "rfs-$n tmpfs" ]] ||
			die "$n's /var/lib/nfs is not its own tmpfs but '$(top_mount "$n")'"
		node_rmtabfs "$n" && return 0
		log "restart of $n failed (try $try): $(tail -n 2 "$RFS_WORK/$n.log" | tr '\n' ' ')"
		[[ -n ${RFS_PIDS[$n]:-} ]] && daemon_kill9 "$n"
		sleep 1
	done
	die "$n did not restart"
}
# unshipped_since NODE: after a clean stop that named ops it could not confirm on the store
# (unreachable: a brick down while another heals), "unshipped_since EPOCH": when the node's
# store became unreachable after it was last connected (else when that was); those ops go
# with the state directory (README, Guarantees). The checker widens it by its risk window.
unshipped_since() {
	local logf=$RFS_WORK/$1.log hms
	tail -n 4 "$logf" | grep -q 'stopping with .* not confirmed on the store' || return 0
	hms=$(awk '/: connected; [0-9]+ op/ { t = $1; down = "" }
		/: unreachable \(/ && t != "" && down == "" { down = $1 }
		END { print (down != "" ? down : t) }' "$logf")
	printf 'unshipped_since %s\n' "$(if [[ -n $hms ]]; then date -d "today $hms" +%s.%N; else echo 0; fi)"
}
mountd_freeze() { # NODE STOP|CONT: STOP returns once rpc.mountd is stopped (at most 10 s)
	local md i
	md=$(mountd_of "$1")
	if [[ -z $md ]]; then # the run goes on without it; the check after the chaos fails
		[[ -e $RFS_WORK/$1.mountd-gone ]] ||
			log "$1's rpc.mountd is gone: $(tail -n 1 "$RFS_WORK/$1.mountd/mountd.log")"
		touch "$RFS_WORK/$1.mountd-gone"
		return 0
	fi
	kill "-$2" "$md"
	[[ $2 == STOP ]] || return 0
	# A request it is serving is a FUSE call that stops only once the call returns: killing
	# the daemon first would fail it with ECONNABORTED, and rpc.mountd then exits.
	for ((i = 0; i < 200; i++)); do
		[[ $(awk '{ print $3 }' "/proc/$md/stat" 2>/dev/null) == [Tt] ]] && return 0
		sleep 0.05
	done
	log "$1's rpc.mountd did not stop within 10 s"
}

BRICK_JOB=
brick_fault() { # I SECONDS: in the background
	[[ -n $BRICK_JOB ]] && wait "$BRICK_JOB" 2>/dev/null
	fault_log brick "$1" "$2"
	(
		bash "$GV" kill-brick "$RFS_GLUSTER_VOLUME" "$1" >>"$RFS_WORK/bricks.log" 2>&1
		sleep "$2"
		bash "$GV" restart-bricks "$RFS_GLUSTER_VOLUME" >>"$RFS_WORK/bricks.log" 2>&1
	) &
	BRICK_JOB=$!
}

run_fault() { # KIND NODE SECONDS [MODE]
	local kind=$1 n=$2 d=$3 mode=${4:-} rc
	case $kind in
	kill9)
		fault_log kill9 "$n" "$d"
		mountd_freeze "$n" STOP
		daemon_kill9 "$n"
		sleep "$d"
		daemon_restart "$n"
		mountd_freeze "$n" CONT
		;;
	stop)
		fault_log sigstop "$n" "$d"
		kill -STOP "${RFS_PIDS[$n]}"
		sleep "$d"
		kill -CONT "${RFS_PIDS[$n]}"
		;;
	compact)
		rc=0
		timeout 60 "$RFS_CTL_BIN" -s "$RFS_WORK/$n.sock" -t 30 compact \
			>>"$RFS_WORK/compact.log" 2>&1 || rc=$?
		fault_log compact "$n" 0 rc "$rc"
		;;
	statedir)
		mountd_freeze "$n" STOP
		if [[ $mode == kill ]]; then
			daemon_kill9 "$n"
			rc=killed
		else
			daemon_term "$n"
			rc=$TERM_RC
			STOP_RCS+=("$rc")
		fi
		rm -rf -- "$RFS_WORK/$n.state"
		fault_log statedir-loss "$n" "$d" stop "$mode" exit "$rc" $(unshipped_since "$n")
		sleep "$d"
		daemon_restart "$n"
		mountd_freeze "$n" CONT
		;;
	brick) brick_fault "$n" "$d" ;;
	esac
}

# The writers, one per key set, each moving over all three nodes.
STOPFILE=$RFS_WORK/writers.stop
WPIDS=()
# Leaving early (a failure, a signal) in the middle of a fault: writers stopped, frozen
# processes thawed, bricks back, then the hosts and daemons as nodes.sh stops them.
chaos_cleanup() {
	local n p
	touch "$STOPFILE" 2>/dev/null || true
	for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for n in "${NODES[@]}"; do
		[[ -z ${RFS_PIDS[$n]:-} ]] || kill -CONT "${RFS_PIDS[$n]}" 2>/dev/null || true
		p=$(mountd_of "$n" 2>/dev/null) || true
		[[ -z $p ]] || kill -CONT "$p" 2>/dev/null || true
	done
	if [[ $KIND == gluster ]]; then
		[[ -z $BRICK_JOB ]] || wait "$BRICK_JOB" 2>/dev/null || true
		bash "$GV" restart-bricks "$RFS_GLUSTER_VOLUME" >>"$RFS_WORK/bricks.log" 2>&1 || true
	fi
	cleanup_nodes
}
trap chaos_cleanup EXIT
node_args=()
for n in "${NODES[@]}"; do node_args+=(--node "$n=$(nspid "$n")"); done
for w in 0 1 2; do
	python3 "$TOOLS/chaos_writer.py" --id "$w" "${node_args[@]}" --mnt3 "$RFS_TOOLS/mnt3" \
		--seed "$SEED" --stop "$STOPFILE" --out "$RFS_WORK/ops.$w.jsonl" \
		2>>"$RFS_WORK/writer.$w.log" &
	WPIDS+=($!)
done

STOP_RCS=()
python3 "$TOOLS/chaos_plan.py" "$SEED" "$CHAOS" "$(IFS=,; echo "${NODES[*]}")" "$KIND" \
	"${RFS_CHAOS_FAULTS:-}" >"$RFS_WORK/plan" || die "no fault plan"
t0=$(date +%s.%N)
while read -r at kind n d mode; do
	# Sleep until the planned moment (a long fault may have run past it: then at once).
	delay=$(awk -v a="$at" -v t0="$t0" -v now="$(date +%s.%N)" \
		'BEGIN { d = t0 + a - now; print (d > 0 ? d : 0) }')
	sleep "$delay"
	run_fault "$kind" "$n" "$d" "$mode"
done <"$RFS_WORK/plan"
delay=$(awk -v c="$CHAOS" -v t0="$t0" -v now="$(date +%s.%N)" \
	'BEGIN { d = t0 + c - now; print (d > 0 ? d : 0) }')
sleep "$delay"
touch "$STOPFILE"
for p in "${WPIDS[@]}"; do
	wait "$p" || fail "writer $p exited with an error (see $RFS_WORK/writer.*.log)"
done
[[ -n $BRICK_JOB ]] && wait "$BRICK_JOB"
[[ $KIND == gluster ]] && bash "$GV" restart-bricks "$RFS_GLUSTER_VOLUME" >>"$RFS_WORK/bricks.log" 2>&1
log "chaos over; writers stopped; waiting (at most $SETTLE s) for the nodes to settle"

for n in "${NODES[@]}"; do
	check "$n's daemon is still running after the chaos" kill -0 "${RFS_PIDS[$n]}"
done
# rpc.mountd exits (L_FATAL, "couldn't stat /var/lib/nfs/etab") when etab cannot be reached
# at an MNT; the freeze above keeps it out of the dead-mount window, but under load it has
# still been seen to die around a restart of its daemon. Keeping NFS MOUNT up across an
# rmtabfs crash is issue 16's (restart drop-ins); this test is about the records, so a dead
# rpc.mountd is reported loudly here, and its node's records are still checked below.
for n in "${NODES[@]}"; do
	if [[ -n $(mountd_of "$n") ]]; then
		log "ok: $n's rpc.mountd is still running after the chaos"
	else
		log "NOTE: $n's rpc.mountd died during the chaos: $(tail -n 1 \
			"$RFS_WORK/$n.mountd/mountd.log") (issue 16: rpc.mountd and a restarted mount)"
	fi
done
for rc in "${STOP_RCS[@]}"; do
	check "a clean stop (SIGTERM) during the chaos exited 0 (status: $rc)" test "$rc" = 0
done

OPS=("$RFS_WORK"/ops.*.jsonl)
snap_views() { # writes $RFS_WORK/final.NODE for each node
	local n
	for n in "${NODES[@]}"; do view_of "$n" >"$RFS_WORK/final.$n" 2>/dev/null || true; done
}
view_args() {
	local n
	for n in "$@"; do printf -- '--view\n%s=%s\n' "$n" "$RFS_WORK/final.$n"; done
}
settled() {
	snap_views
	mapfile -t va < <(view_args "${NODES[@]}")
	python3 "$TOOLS/chaos_check.py" --quiet --ops "${OPS[@]}" "${va[@]}" --faults "$FAULTS"
}
s0=$(date +%s%N)
converge="did not converge within $SETTLE s"
if wait_for "$SETTLE" settled; then
	converge="$((($(date +%s%N) - s0) / 1000000)) ms"
fi
snap_views

# A fresh fourth node, from the store alone (it starts from the newest snapshot, if any).
mkdir -p "$RFS_WORK/fresh"
rfs_start fresh "$RFS_WORK/fresh" "node=fresh,store=$STORE,statedir=$RFS_WORK/fresh.state" ||
	die "the fresh node did not start"
fresh_same() { # the fresh node shows the bytes of one of the nodes (all of them, if settled)
	local n
	for n in "${NODES[@]}"; do cmp -s "$RFS_WORK/fresh/rmtab" "$RFS_WORK/final.$n" && return 0; done
	return 1
}
wait_for 30 fresh_same || true
cp "$RFS_WORK/fresh/rmtab" "$RFS_WORK/final.fresh"

mapfile -t va < <(view_args "${NODES[@]}" fresh)
report=$(python3 "$TOOLS/chaos_check.py" --ops "${OPS[@]}" "${va[@]}" --faults "$FAULTS" \
	--seed "$SEED" --seconds "$CHAOS" --converge "$converge" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$report" | sed "s/^/[$RFS_TEST] /" >&2
printf '%s\n' "$report" >"$RFS_WORK/report"
check "every node and a fresh node show identical bytes equal to the model of the acknowledged ops (seed $SEED)" \
	test "$rc" = 0
if [[ -z ${RFS_CHAOS_FAULTS:-} || ,$RFS_CHAOS_FAULTS, == *,statedir,* ]]; then
	check "at least one state-directory loss was exercised" grep -q '"statedir-loss"' "$FAULTS"
fi
if [[ $rc != 0 ]]; then
	# CI keeps only the end of the output: the numbers, then each node's own account.
	grep -E '^(time to converge|views byte-identical|mismatches|acknowledged ops at most)' \
		"$RFS_WORK/report" | sed "s/^/[$RFS_TEST] /" >&2 || true
	for n in "${NODES[@]}"; do
		log "--- $n: status, then the last store-side lines of its log"
		timeout 10 "$RFS_CTL_BIN" -s "$RFS_WORK/$n.sock" -t 5 status 2>&1 | head -n 24 |
			sed "s/^/[$RFS_TEST]   /" >&2 || true
		grep -E 'store|incarnation|node id|anchored|refused|lock|ship|tail|adopt' \
			"$RFS_WORK/$n.log" | tail -n 10 | sed "s/^/[$RFS_TEST]   /" >&2 || true
	done
	log "reproduce the fault schedule with RFS_CHAOS_SEED=$SEED RFS_CHAOS_SECONDS=$CHAOS"
fi
rfs_stop fresh "$RFS_WORK/fresh" >/dev/null
rfs_finish
