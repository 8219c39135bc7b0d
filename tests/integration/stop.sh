#!/bin/bash
# Stop and store faults on Gluster (gluster suite only: $RFS_GLUSTER_URL, $RFS_GLUSTER_VOLUME):
#  - stop with a brick frozen (SIGSTOP) while the store side is inside a store call (or was
#    replaced for not answering): exit 0 in under a second, the acknowledged op is on the
#    store after the brick is back;
#  - stop while the store side (rmtabfs-store) is connecting: a fake volfile server on a port
#    of our own (first it hangs up at once, so glfs_init fails and that store side exits;
#    then it accepts and never answers, so the next one hangs in glfs_init): exit 0 in under
#    a second, and no store side is left;
#  - a fresh node adopting a snapshot with a brick frozen: its MOUNT latency (printed) is no
#    worse than without the freeze, give or take a loaded machine (bound: 1 s, far below the
#    5 s ping-timeout a MOUNT would otherwise wait).
# glusterd is never stopped; only the first brick of the suite's own volume is paused.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup
[[ -n ${RFS_STORE:-} && -n ${RFS_GLUSTER_VOLUME:-} ]] ||
	die "run in the gluster suite (RFS_STORE_FROM=gluster, RFS_GLUSTER_URL, RFS_GLUSTER_VOLUME)"
GV=$here/../../scripts/gluster-volume.sh
VOL=$RFS_GLUSTER_VOLUME
W=$RFS_TOOLS/workload.py
R=$RFS_TOOLS/mountd_replay
[[ -x $W ]] || W=$here/../tools/workload.py
S=$RFS_STORE/$(basename "$RFS_WORK")
PAUSED=0
resume() { if [[ $PAUSED == 1 ]]; then bash "$GV" resume-brick "$VOL" 1 || true; PAUSED=0; fi; }
trap 'resume; rfs_cleanup' EXIT

start() { # NAME STORE [OPTS]
	mkdir -p "$RFS_WORK/$1"
	rfs_start "$1" "$RFS_WORK/$1" \
		"node=$1,store=$2,statedir=$RFS_WORK/$1.state,timeout=1${3:+,$3}" ||
		die "node $1 did not start"
}
stop_timed() { # NAME [SIGNAL]: checks exit 0, sets STOP_MS
	local pid=${RFS_PIDS[$1]} rc=0 t0 t1
	t0=$(date +%s%N)
	kill "-${2:-TERM}" "$pid"
	wait "$pid" || rc=$?
	t1=$(date +%s%N)
	unset "RFS_PIDS[$1]"
	STOP_MS=$(((t1 - t0) / 1000000))
	check "$1 exits 0 (got $rc)" test "$rc" = 0
	log "$1: stop took $STOP_MS ms"
	umount -l "$RFS_WORK/$1" 2>/dev/null || true
}
status_of() { rfs_ctl "$1" status 2>/dev/null; }
connected() { status_of "$1" | grep -q '^store:.*: connected'; }
settled() { status_of "$1" | grep -q '^backlog: *0 op'; }
stuck() { status_of "$1" | grep -q '^store:.*stuck\|^stuck-call:'; }

# --- stop with a frozen brick
start a "$S/frozen"
wait_for 30 connected a || fail "frozen: a never connected"
echo '10.8.0.1:/export/x' >>"$RFS_WORK/a/rmtab"
wait_for 10 settled a || fail "frozen: a did not ship its first record"
bash "$GV" pause-brick "$VOL" 1
PAUSED=1
echo '10.8.0.2:/export/x' >>"$RFS_WORK/a/rmtab" # acknowledged from the journal
# The store call that ships it waits for the frozen brick: stop once status says it hangs
# (or the store side was already replaced for not answering), not after a guessed time.
hung() { stuck a || grep -q "killed: no answer" "$RFS_WORK/a.log"; }
wait_for 10 hung || log "frozen: no hanging store call seen in 10 s: $(status_of a | tr '\n' ' ')"
stop_timed a
check "frozen: stop in under a second ($STOP_MS ms)" test "$STOP_MS" -lt 1000
said() { grep -qE "a call is still hanging|killed: no answer|killed: did not stop" "$RFS_WORK/a.log"; }
said || log "frozen: the log's end: $(tail -n 5 "$RFS_WORK/a.log" | tr '\n' '|')"
check "frozen: the log says a call was left hanging (or the store side was replaced)" said
resume
start a "$S/frozen"
check "frozen: after the brick is back, a ships what it acknowledged" wait_for 30 settled a
start b "$S/frozen"
check "frozen: a second node shows both records" \
	wait_for 30 bash -c "grep -c '^10\.8\.0\.' '$RFS_WORK/b/rmtab' | grep -qx 2"
stop_timed a
stop_timed b

# --- stop while the store side connects (a fake volfile server: nothing of glusterd is touched)
PORT=$((20000 + RANDOM % 20000))
MODE=$RFS_WORK/fake.mode
echo hangup >"$MODE"
python3 - "$PORT" "$MODE" >"$RFS_WORK/fake.log" 2>&1 <<'PY' &
import socket, sys, threading, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(64)
held = []
while True:
    c, _ = s.accept()
    if open(mode).read().strip() == "hangup":
        c.close()
    else:
        held.append(c)   # accepted, never answered: glfs_init waits
PY
FAKE=$!
sleep 0.5
start p "gluster://127.0.0.1:$PORT/novolume/x"
# The first attempt fails at once (that store side exits); the next ones hang in glfs_init.
wait_for 20 grep -q . "$RFS_WORK/fake.log" 2>/dev/null || true
sleep 1
echo hold >"$MODE"
store_sides() { pgrep -f -- "rmtabfs-store .*--store gluster://127.0.0.1:$PORT/novolume" >/dev/null; }
check "connecting: a store side is running" wait_for 20 store_sides
replaced() { status_of p | grep -q '^store-side-restarts: [1-9]'; }
check "connecting: a failed attempt's store side was replaced" wait_for 20 replaced
stop_timed p
check "connecting: stop in under a second ($STOP_MS ms)" test "$STOP_MS" -lt 1000
sleep 0.2
no_store_side() { # pgrep: 1 is "none", anything else (a match, an error) is not
	local rc=0
	pgrep -f -- "rmtabfs-store .*--store gluster://127.0.0.1:$PORT/novolume" >/dev/null || rc=$?
	[[ $rc == 1 ]]
}
check "connecting: no store side is left" no_store_side
kill "$FAKE" 2>/dev/null || true
wait "$FAKE" 2>/dev/null || true

# --- a fresh node adopting a snapshot, with and without a frozen brick: MOUNT latency
start a "$S/adopt"
for i in $(seq 1 300); do echo "10.9.$((i / 250)).$((i % 250)):/export/x"; done >>"$RFS_WORK/a/rmtab"
wait_for 30 settled a || fail "adopt: a did not ship"
check "adopt: a snapshot is written" rfs_ctl a compact
mounts() { # NAME SECONDS SEED: MOUNT workload on NAME; max and p99 in ms on stdout
	python3 "$W" "$R" "$RFS_WORK/$1" "10.$3.0" --seconds "$2" --seed "$3" \
		--out "$RFS_WORK/$1.$3.json" >/dev/null
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); \
print(f\"{r['max_ms']:.1f} {r['p99_ms']:.1f} {r['acknowledged']} {r['failed']}\")" \
		"$RFS_WORK/$1.$3.json"
}
seed=20
for run in plain frozen; do
	n=c$run
	seed=$((seed + 1))
	rm -rf "$RFS_WORK/$n.state"
	if [[ $run == frozen ]]; then
		bash "$GV" pause-brick "$VOL" 1
		PAUSED=1
	fi
	start "$n" "$S/adopt"
	# MOUNTs from the first moment, while the node connects and adopts the snapshot.
	read -r max p99 acked failed < <(mounts "$n" 8 "$seed")
	log "adopt ($run): MOUNT latency max $max ms, p99 $p99 ms over $acked MOUNTs ($failed failed)"
	check "adopt ($run): no MOUNT failed" test "$failed" = 0
	check "adopt ($run): worst MOUNT under 1 s ($max ms)" \
		python3 -c "import sys; sys.exit(not $max < 1000)"
	resume
	check "adopt ($run): the node adopted the snapshot" \
		wait_for 30 grep -q "adopted store snapshot" "$RFS_WORK/$n.log"
	check "adopt ($run): it shows a's 300 records" \
		wait_for 30 bash -c "grep -c '^10\.9\.' '$RFS_WORK/$n/rmtab' | grep -qx 300"
	stop_timed "$n"
done
stop_timed a
rfs_finish
