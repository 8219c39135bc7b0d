#!/bin/bash
# A node whose state directory was lost reads its own ops back from the store (a new
# incarnation) and anchors; a crash (kill -9) before its next checkpoint must not lose that
# read-back: after the restart the node still shows the records it made before the loss, and
# a change it makes then reaches the other nodes. With and without a compaction snapshot, on
# a dir: store ($RFS_STORE in the gluster suite).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup
BASE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}

start() { # NODE
	mkdir -p "$RFS_WORK/$1"
	rfs_start "$1" "$RFS_WORK/$1" "node=$1,store=$STORE,statedir=$RFS_WORK/$1.state,timeout=1" ||
		die "node $1 did not start"
}
view() { LC_ALL=C sort "$RFS_WORK/$1/rmtab"; }
model() { LC_ALL=C sort "$RFS_WORK/model"; }
is_model() { [[ $(view "$1") == "$(model)" ]]; }
add() { # NODE CLIENT
	echo "$2:/export/x" >>"$RFS_WORK/$1/rmtab"
	echo "$2:/export/x:0x00000001" >>"$RFS_WORK/model"
}
settled() { rfs_ctl "$1" status 2>/dev/null | grep -q '^backlog: *0 op'; }

# crash_after_readback CASE SNAP: SNAP 1: a compaction snapshot exists before the loss (the
# read-back adopts it), 0: none (a's log is read back).
crash_after_readback() {
	local c=$1 snap=$2
	STORE=${BASE:+$BASE-$c}
	STORE=${STORE:-dir:$RFS_WORK/$c.store}
	[[ $STORE == dir:* ]] && mkdir -p "${STORE#dir:}"
	A=$c-a B=$c-b
	: >"$RFS_WORK/model"
	start "$A"
	start "$B"
	for i in 1 2 3; do add "$A" "10.1.0.$i"; done
	add "$B" 10.2.0.1
	check "$c: both nodes show the model" wait_for 20 is_model "$B"
	wait_for 10 settled "$A" || fail "$c: a did not ship"
	if [[ $snap == 1 ]]; then
		check "$c: compaction on b" rfs_ctl "$B" compact
	fi
	rfs_stop "$A" "$RFS_WORK/$A"
	rm -rf "$RFS_WORK/$A.state"
	start "$A"
	check "$c: a read its ops back (new incarnation, anchored)" \
		wait_for 20 grep -q "incarnation anchored" "$RFS_WORK/$A.log"
	check "$c: a shows the model after the read-back" wait_for 20 is_model "$A"
	# A change of its own (in its journal: the node is not "fresh" at the restart), then,
	# well within the first periodic checkpoint (5 s), a crash.
	add "$A" 10.1.0.8
	rfs_kill9 "$A" "$RFS_WORK/$A"
	start "$A"
	check "$c: a is connected again" wait_for 20 settled "$A"
	check "$c: a still shows the records it made before the loss after the crash" \
		wait_for 3 is_model "$A"
	add "$A" 10.1.0.9
	check "$c: b shows a's change made after the restart" wait_for 20 is_model "$B"
	check "$c: a shows the model" wait_for 20 is_model "$A"
	rfs_stop "$A" "$RFS_WORK/$A"
	rfs_stop "$B" "$RFS_WORK/$B"
}

crash_after_readback nosnap 0
crash_after_readback snap 1
rfs_finish
