#!/bin/bash
# Propagation from node A to node B through the store, with the store's wake-up hint on
# (watch=on: inotify on a dir: store, Gluster upcalls on gluster://) and off (watch=off: the
# poll alone). Store: $RFS_STORE if set (the gluster suite), else a dir: store in the work
# directory. For each setting, two daemons on a fresh directory of the store:
#  - records written on A in bursts (each its own open/append/close, as rpc.mountd's MNT) while
#    B writes records of its own: every one of A's shows on B, in A's order at every read of
#    B's rmtab, none lost; then one at a time; in the end A and B show the same bytes;
#  - the log says which hint ran (or that it is off), and with the hint on B found A's changes
#    after hints. Latencies are printed, never asserted (tests/tools/propagation-bench.sh
#    measures them).
# On Gluster, with RFS_GLUSTER_VOLUME (a volume of the test run's own), also the two ways
# upcalls fail: features.cache-invalidation off (nothing arrives: every record still comes, by
# the poll, and the log warns with advice) and the volume stopped and started (upcalls are
# lost while disconnected; afterwards they come again: no such warning).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"
rfs_setup
TOOLS=$here/../tools
GV=$here/../../scripts/gluster-volume.sh
BASE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}
BASE=${BASE:-dir:$RFS_WORK/store}
KIND=dir
[[ $BASE == gluster://* ]] && KIND=gluster
HINT="inotify on nodes/"
[[ $KIND == gluster ]] && HINT="Gluster upcalls"
log "store: $BASE"

# pair SUFFIX OPTIONS: daemons a$SUFFIX and b$SUFFIX (node ids A and B) on store $BASE/SUFFIX.
pair() {
	local s=$1 opts="store=$BASE/$1,$2"
	mkdir -p "$RFS_WORK/ma$s" "$RFS_WORK/mb$s"
	rfs_start "a$s" "$RFS_WORK/ma$s" "node=A,statedir=$RFS_WORK/sa$s,$opts" || die "A ($opts)"
	rfs_start "b$s" "$RFS_WORK/mb$s" "node=B,statedir=$RFS_WORK/sb$s,$opts" || die "B ($opts)"
	# Both on the store (each has listed the other's log) before the clock starts.
	sleep 1.5
}
unpair() {
	rfs_stop "a$1" "$RFS_WORK/ma$1"
	rfs_stop "b$1" "$RFS_WORK/mb$1"
}

# prop LABEL SUFFIX PREFIX ARGS...: tests/tools/propagation.py from A's rmtab to B's; checks
# nothing lost and A's order kept; prints the latencies. SAME=1: also A and B identical at its
# end (only when B writes nothing meanwhile).
prop() {
	local label=$1 s=$2 prefix=$3 out line
	shift 3
	out=$RFS_WORK/prop-$label.out
	python3 "$TOOLS/propagation.py" "$RFS_WORK/ma$s/rmtab" "$RFS_WORK/mb$s/rmtab" "$@" \
		--prefix "$prefix" --label "$label" --timeout 20 >"$out" 2>"$out.err" ||
		{ fail "$label: propagation.py failed: $(tail -n 3 "$out.err")"; return 0; }
	line=$(grep '^prop ' "$out") || { fail "$label: no result line"; return 0; }
	log "$label: $line"
	check "$label: every record written on A shows on B" grep -q ' lost=0 ' <<<"$line"
	check "$label: B showed A's records in A's order at every read" \
		grep -q ' reordered=0 ' <<<"$line"
	if [[ ${SAME:-0} == 1 ]]; then
		check "$label: A and B show the same bytes" grep -q ' same=1$' <<<"$line"
	fi
}

# B writes records of its own meanwhile (its loop then also ships, and A tails B).
b_writes() { # SUFFIX COUNT
	local i
	for ((i = 0; i < $2; i++)); do
		echo "10.91.$((i >> 8)).$((i & 255)):/export/b/$i" >>"$RFS_WORK/mb$1/rmtab"
		sleep 0.0$((RANDOM % 5 + 1))
	done
}
same_views() { # SUFFIX
	local a b
	a=$(cat "$RFS_WORK/ma$1/rmtab") || return 2
	b=$(cat "$RFS_WORK/mb$1/rmtab") || return 2
	[[ $a == "$b" ]]
}
# summary SUFFIX: B's line "store wake-up hint (...): N hints; ... found X times after a hint,
# Y times by the poll alone" (logged at stop).
hint_summary() { grep -h "store wake-up hint (.*): [0-9]* hints" "$RFS_WORK/b$1.log" | tail -n 1; }

for mode in on off; do
	s=$mode
	pair "$s" "watch=$mode"
	b_writes "$s" 150 &
	bw=$!
	prop "burst-$mode" "$s" 10.81 400 --burst 20 --gap-ms 20 80
	wait "$bw"
	check "watch=$mode: B's own records reach A, and both show the same bytes" \
		wait_for 20 same_views "$s"
	SAME=1 prop "paced-$mode" "$s" 10.82 150 --gap-ms 5 35
	if [[ $mode == on ]]; then
		check "watch=on: B started the hint ($HINT)" \
			grep -q "store wake-up hint: $HINT" "$RFS_WORK/b$s.log"
	else
		check "watch=off: B says the hint is off" \
			grep -q "store wake-up hint off (watch=off)" "$RFS_WORK/b$s.log"
		check "watch=off: B started no hint" rfs_absent "store wake-up hint: " "$RFS_WORK/b$s.log"
	fi
	unpair "$s"
	if [[ $mode == on ]]; then
		sum=$(hint_summary "$s")
		log "B: ${sum#*: }"
		after=$(sed -n 's/.*found \([0-9]*\) times after a hint.*/\1/p' <<<"$sum")
		check "watch=on: B found A's changes after hints (${after:-none})" \
			test "${after:-0}" -gt 0
	fi
done

if [[ $KIND == gluster && -n ${RFS_GLUSTER_VOLUME:-} ]]; then
	VOL=$RFS_GLUSTER_VOLUME
	s=fail
	restore_ci() { gluster --mode=script volume set "$VOL" features.cache-invalidation on >/dev/null || true; }
	trap 'restore_ci; rfs_cleanup' EXIT
	pair "$s" "watch=on"
	warning="came without a hint, found by the poll only"
	# No upcalls at all: the bricks stop sending them (the client cannot tell).
	gluster --mode=script volume set "$VOL" features.cache-invalidation off >/dev/null ||
		die "cannot turn features.cache-invalidation off on $VOL"
	sleep 2 # the bricks' new graph
	SAME=1 prop "no-upcalls" "$s" 10.83 150 --gap-ms 30 60
	check "without upcalls B warns, with advice" \
		grep -q "$warning: is features.cache-invalidation on for volume $VOL" "$RFS_WORK/b$s.log"
	restore_ci
	sleep 2
	SAME=1 prop "upcalls-back" "$s" 10.85 60 --gap-ms 30 60
	check "with features.cache-invalidation on again B says hints arrive again" \
		grep -q "store wake-up hint (Gluster upcalls): hints arrive again" "$RFS_WORK/b$s.log"
	# The volume stopped and started: the upcalls of the outage are lost, later ones come.
	bash "$GV" stop-volume "$VOL" >>"$RFS_WORK/gluster.log" 2>&1 || die "stop-volume $VOL"
	sleep 1
	bash "$GV" start-volume "$VOL" >>"$RFS_WORK/gluster.log" 2>&1 || die "start-volume $VOL"
	both_up() {
		rfs_ctl "a$s" status | grep -q ': connected' &&
			rfs_ctl "b$s" status | grep -q ': connected'
	}
	check "after the volume restart both daemons are connected again" wait_for 60 both_up
	sleep 1
	warned=$(rfs_count "$warning" "$RFS_WORK/b$s.log")
	SAME=1 prop "after-restart" "$s" 10.84 150 --gap-ms 30 60
	check_eq "after the restart upcalls come again: no new warning" "$warned" \
		"$(rfs_count "$warning" "$RFS_WORK/b$s.log")"
	unpair "$s"
	log "B: $(hint_summary "$s" | sed 's/.*: //')"
elif [[ $KIND == gluster ]]; then
	log "no RFS_GLUSTER_VOLUME: the upcall failure cases are not run"
fi
rfs_finish
