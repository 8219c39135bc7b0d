#!/bin/bash
# The store side may die at any moment (issue 16, DESIGN §9): the real rpc.mountd on an
# rmtabfs mount at ~30 MNT/s, open loop; kill -9 of the store side (rmtabfs-store) at 20
# random moments of a minute, then a SIGSTOP of it for 10 s. Checks: no MNT fails; the mount
# side replaces each store side (and one stopped for longer than timeout=); every
# acknowledged MNT is on a second node afterwards; rmtabctl status names both processes and
# why the last store side ended. Prints MNT p50/p99 without kills, with kills and with the
# stop (printed, not asserted: the machine is shared). Also: the mount side never maps
# libgfapi (ldd and /proc/PID/maps), and on a Gluster store the store side does.
# Store: dir: in the work directory, or $RFS_STORE (the gluster suite). About 2 minutes.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"
rfs_setup
chmod 0755 "$RFS_WORK"

EXP=/export/a
LOAD=$here/../tools/mnt_load.py
RATE=${STORE_KILL_RATE:-30}
KILL_SECS=${STORE_KILL_SECS:-60}
KILLS=${STORE_KILL_COUNT:-20}
STORE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}
STORE=${STORE:-dir:$RFS_WORK/store}
log "store: $STORE"
# Host A (tests/integration/node.sh): the real rpc.mountd in its own mount+net namespace,
# rmtabfs over its /var/lib/nfs in the test's network namespace (it reaches Gluster).
NODE_OPTS=timeout=1
source "$here/nodes.sh"
node_up A || die "host A did not start"
on A bash -c "cd $EXP && for d in base kill stop; do
	seq -f \"\$d/%05.0f\" 0 $((RATE * KILL_SECS + 200)); done | xargs mkdir -p"
MPID=${RFS_PIDS[A]}
status_a() { rfs_ctl A status 2>/dev/null; }
field() { status_a | sed -n "s/^$1: //p"; }
store_pid() { # the live store side of A (a killed one may still be listed until reaped)
	local p
	for p in $(pgrep -P "$MPID" -x rmtabfs-store); do
		[[ $(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) == [ZX] ]] || { echo "$p"; return 0; }
	done
	return 1
}
connected() { status_a | grep -q '^store:.*: connected'; }
wait_for 30 connected || { status_a >&2; die "A never connected to the store"; }

# --- the two processes: no libgfapi in the mount side, ever
check "ldd: rmtabfs does not link libgfapi" rfs_absent libgfapi <(ldd "$RFS_BIN")
check "maps: the mount side has no libgfapi mapped" rfs_absent libgfapi "/proc/$MPID/maps"
SPID=$(store_pid) || die "no store side process under $MPID"
if [[ $STORE == gluster://* ]]; then
	check "maps: the store side has libgfapi mapped" grep -q libgfapi "/proc/$SPID/maps"
fi
check_eq "status: mount-side-pid" "$MPID" "$(field mount-side-pid)"
check_eq "status: store-side-pid" "$SPID" "$(field store-side-pid)"
check "status: store-side-started is a time" \
	bash -c "[[ '$(field store-side-started)' =~ ^20[0-9-]+T[0-9:]+Z$ ]]"

load() { # PHASE SECONDS: the MNT load on host A; prints its summary line
	on A python3 "$LOAD" "$RFS_TOOLS/mnt3" 127.0.0.1 "$EXP/$1/" "$RATE" "$2" "$RFS_WORK/$1.lat"
}
summary() { # PHASE LINE
	log "$1: $2"
	check "$1: no MNT failed" bash -c "[[ '$2' == *' failed=0 '* ]]"
}

# --- without kills
summary "no kills" "$(load base 15)"

# --- kill -9 of the store side at random moments
restarts0=$(field store-side-restarts)
load kill "$KILL_SECS" >"$RFS_WORK/kill.sum" &
LPID=$!
python3 -c "import random; r=random.Random($RANDOM); \
print(' '.join(f'{t:.2f}' for t in sorted(r.uniform(1, $KILL_SECS - 2) for _ in range($KILLS))))" \
	>"$RFS_WORK/kill.times"
t0=$EPOCHREALTIME
killed=0
for t in $(cat "$RFS_WORK/kill.times"); do
	now=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { print a - b }')
	sleep "$(awk -v t="$t" -v n="$now" 'BEGIN { d = t - n; print (d > 0 ? d : 0) }')"
	# Not the one killed last (not yet reaped, it is still listed): one kill per store side.
	# Its replacement may still wait out a backoff (kills within QUICK_DEATH of a start
	# double it, up to 5 s): wait for it, while the load runs, rather than skip the kill.
	for ((i = 0; i < 120; i++)); do
		p=$(store_pid) && [[ $p != "${last:-}" ]] && break
		p=
		sleep 0.05
	done
	if [[ -n $p ]] && awk -v a="$EPOCHREALTIME" -v b="$t0" -v m="$KILL_SECS" 'BEGIN { exit !(a - b < m - 1) }'; then
		kill -9 "$p" && killed=$((killed + 1))
		last=$p
	fi
done
wait "$LPID"
summary "$killed kills" "$(cat "$RFS_WORK/kill.sum")"
check "kills: at least $((KILLS * 3 / 4)) store sides were killed ($killed)" test "$killed" -ge $((KILLS * 3 / 4))
# The last kill's replacement may still wait out its backoff (up to 5 s after quick deaths).
counted() { (($(field store-side-restarts) - restarts0 >= killed)); }
check "kills: the mount side counted the restarts" wait_for 10 counted
check "kills: status names the last exit" bash -c "[[ '$(field store-side-last-exit)' == 'signal 9'* ]]"
check "kills: a store side runs again" wait_for 10 store_pid
check "kills: the mount side is the same process" kill -0 "$MPID"

# --- SIGSTOP of the store side for 10 s (longer than timeout=1: it is replaced)
SPID=$(store_pid) || die "no store side before the stop"
load stop 15 >"$RFS_WORK/stop.sum" &
LPID=$!
sleep 2
kill -STOP "$SPID"
sleep 10
kill -CONT "$SPID" 2>/dev/null || true
wait "$LPID"
summary "SIGSTOP 10 s" "$(cat "$RFS_WORK/stop.sum")"
check "stop: the stopped store side was replaced" \
	bash -c "p=\$(pgrep -P $MPID -x rmtabfs-store) && [[ \$p != $SPID ]]"
last_exit=$(field store-side-last-exit)
check "stop: status says it did not answer ($last_exit)" bash -c "[[ '$last_exit' == *'no answer'* ]]"

# --- every acknowledged MNT is on a second node
settled() { status_a | grep -q '^backlog: *0 op'; }
check "a ships everything" wait_for 30 settled
mkdir -p "$RFS_WORK/b"
rfs_start b "$RFS_WORK/b" "statedir=$RFS_WORK/b.state,store=$STORE,node=b" || die "b did not start"
awk '$4 == 0 { print "127.0.0.1:" $5 ":" }' "$RFS_WORK"/{base,kill,stop}.lat | sort -u >"$RFS_WORK/acked"
log "acknowledged MNTs: $(wc -l <"$RFS_WORK/acked")"
all_on() { cut -d: -f1-2 "$1" | sed 's/$/:/' | sort -u | comm -23 "$RFS_WORK/acked" - | rfs_absent . -; }
check "every acknowledged MNT is on b" wait_for 30 all_on "$RFS_WORK/b/rmtab"
on A cat /var/lib/nfs/rmtab >"$RFS_WORK/a.rmtab"
check "and on A" all_on "$RFS_WORK/a.rmtab"
rfs_stop b "$RFS_WORK/b"

# --- kill -9 of a mount side whose store side is stopped (SIGSTOP: it cannot notice the end
# of its link): the store side holds the node's owner lock on the store, so it must die with
# its mount side (PR_SET_PDEATHSIG), and a restart at once must find the node id free.
mkdir -p "$RFS_WORK/c"
copts="statedir=$RFS_WORK/c.state,store=$STORE,node=c"
rfs_start c "$RFS_WORK/c" "$copts" || die "c did not start"
c_connected() { rfs_ctl c status 2>/dev/null | grep -q '^store:.*: connected'; }
wait_for 30 c_connected || die "c never connected to the store"
cstore=$(pgrep -P "${RFS_PIDS[c]}" -x rmtabfs-store) || die "no store side under c"
kill -STOP "$cstore"
rfs_kill9 c "$RFS_WORK/c"
cgone() { ! kill -0 "$cstore" 2>/dev/null || [[ $(awk '{ print $3 }' "/proc/$cstore/stat") == Z ]]; }
check "the stopped store side died with its mount side (within 2 s)" wait_for 2 cgone
kill -CONT "$cstore" 2>/dev/null || true
check "c restarted at once after the kill -9 is not refused (its node id is free)" \
	rfs_start c "$RFS_WORK/c" "$copts"
check "c connects again" wait_for 30 c_connected
rfs_stop c "$RFS_WORK/c"

# --- a holder of the owner lock that names a mount side of this host that is gone (a store
# side still exiting) is waited for, not taken for a second daemon with the same node id.
if [[ $STORE == dir:* ]]; then
	dir=${STORE#dir:}
	printf 'host %s pid %d since 0\n' "$(hostname)" 999999 >"$dir/nodes/c.owner"
	python3 -c '
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))' "$dir/nodes/c.owner" "$RFS_WORK/locked" 3 &
	lpid=$!
	wait_for 5 test -e "$RFS_WORK/locked" || die "the stand-in holder did not lock"
	check "c starts while a gone instance's lock is held (no refusal)" rfs_start c "$RFS_WORK/c" "$copts"
	check "c says it waits for the gone instance" wait_for 5 \
		grep -q "held by a gone instance of this host" "$RFS_WORK/c.log"
	wait "$lpid" || true
	check "c connects once the lock is free" wait_for 30 c_connected
	rfs_stop c "$RFS_WORK/c"
fi
node_down A
check "A's rmtabfs stopped cleanly" grep -q "stopping: every op of this node is on the store" "$RFS_WORK/A.log"
rfs_finish
