#!/bin/bash
# Compaction: the store stays small however long the cluster runs, a new node starts from a
# snapshot, and nothing is lost or resurrected whatever crashes when.
#  - two nodes churn (hundreds of thousands of ops): the store stays under a bound (printed);
#  - a fresh third node joins and reaches the identical view (time printed);
#  - kill -9 at every step of compaction and log rotation, then restart: identical views
#    equal to the model, also for a node joining afterwards;
#  - two nodes compacting at once;
#  - a node down across several compactions comes back with an unshipped journal: its ops
#    arrive, and an old op of it cannot bring back a record removed meanwhile.
# Store: $RFS_STORE if set (gluster suite), else a dir: store.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_private_ns "$@"
rfs_setup
STORE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}
STORE=${STORE:-dir:$RFS_WORK/store}
CHURN=$here/../tools/churn.py
OPLINE=$here/../tools/opline.py
OPTS="tombstones=1"
for n in a b c d; do mkdir -p "$RFS_WORK/$n"; done
start() { # NAME [ENV...]
	local n=$1
	shift
	env "$@" bash -c 'exec "$0" "$@"' "$RFS_BIN" -f -o \
		"entry_timeout=0,attr_timeout=0,ctl=$RFS_WORK/$n.sock,node=$n,store=$STORE" \
		-o "statedir=$RFS_WORK/$n.state,$OPTS" "$RFS_WORK/$n" >>"$RFS_WORK/$n.log" 2>&1 &
	RFS_PIDS[$n]=$!
	local i
	for ((i = 0; i < 200; i++)); do
		rfs_is_mounted "$RFS_WORK/$n" && return 0
		kill -0 "${RFS_PIDS[$n]}" 2>/dev/null || break
		sleep 0.05
	done
	die "node $n did not start"
}
stop() { rfs_stop "$1" "$RFS_WORK/$1" >/dev/null; }
declare -A PREFIX=([a]=10.1. [b]=10.2. [c]=10.3. [d]=10.4.)
churn() { # NODE ITERATIONS SEED: the node's own records end up in $RFS_WORK/final.NODE
	python3 "$CHURN" "$RFS_WORK/$1/rmtab" "${PREFIX[$1]}" "$2" --seed "$3" --size 1000 \
		--pause "${4:-0}" --out "$RFS_WORK/final.$1"
}
settled() { # NODE: nothing left to ship
	"$RFS_CTL_BIN" -s "$RFS_WORK/$1.sock" status 2>/dev/null | grep -q '^backlog: *0 '
}
model() { cat "$RFS_WORK"/final.* "$RFS_WORK"/extra.* 2>/dev/null | LC_ALL=C sort; }
is_model() { [[ $(LC_ALL=C sort "$RFS_WORK/$1/rmtab") == "$(model)" ]]; }
# On Gluster: the store's directory on the first brick (a replica holds all of it), when
# that brick is on this host (the test volume of scripts/gluster-volume.sh is).
STORE_DIR=${STORE#dir:}
if [[ $STORE != dir:* ]]; then
	brick1=$(gluster volume info "${RFS_GLUSTER_VOLUME:-}" 2>/dev/null | sed -n 's/^Brick1: [^:]*://p')
	STORE_DIR=${brick1:+$brick1/$(basename "$RFS_WORK")}
fi
store_bytes() {
	if [[ -n $STORE_DIR && -d $STORE_DIR ]]; then
		# Files vanish under du (segments, snapshots): it complains, the total stands.
		{ du -sb "$STORE_DIR" 2>/dev/null || true; } | cut -f1
	else
		echo 0
	fi
}

# --- churn on two nodes, the store size sampled all along
start a
start b
(while sleep 0.25; do store_bytes; done >"$RFS_WORK/sizes" 2>/dev/null) &
sampler=$!
# ~1000 ops per iteration, 0.1 s apart: ~15 s, long enough for compaction to run all along.
churn a 150 1 0.1 &
pa=$!
churn b 150 2 0.1
wait "$pa"
check "after churn: a shows the model" wait_for 20 is_model a
check "after churn: b shows the model" wait_for 20 is_model b
ops=$("$RFS_CTL_BIN" -s "$RFS_WORK/a.sock" status | sed -n 's/.*ops-local \([0-9]*\).*/\1/p')
kill "$sampler" 2>/dev/null || true
maxb=$(sort -n "$RFS_WORK/sizes" | tail -1)
snaps=$(grep -c 'compaction: snapshot' "$RFS_WORK/a.log" "$RFS_WORK/b.log" | awk -F: '{s += $2} END {print s}')
# Quiet again: one more snapshot with every log read, and the store holds little else.
wait_for 20 settled a || true
wait_for 20 settled b || true
"$RFS_CTL_BIN" -s "$RFS_WORK/a.sock" compact >/dev/null 2>&1 || true
# Each node deletes its own covered segments when it sees the snapshot: give them the time.
small_store() { (($(store_bytes) < 8388608)); }
wait_for 30 small_store || true
final=$(store_bytes)
logbytes=$((ops * 2 * 90))
log "churn: $((ops * 2)) ops in all (~$logbytes bytes of log) over ~15 s; $snaps snapshot(s) on the way; store at most $maxb bytes, $final when quiet"
if [[ -n $STORE_DIR ]]; then
	check "the store was measured ($STORE_DIR)" test "$maxb" -gt 0
	check "the store stays under a third of the log bytes written ($maxb of ~$logbytes)" \
		test "$maxb" -lt $((logbytes / 3))
	check "and under 8 MiB once quiet ($final bytes)" test "$final" -lt 8388608
fi
check "compaction happened by itself" test "$snaps" -gt 0

# --- a fresh node joins from the snapshot
t0=$(date +%s%N)
start c
check "a fresh node c reaches the identical view" wait_for 20 is_model c
ms=$((($(date +%s%N) - t0) / 1000000))
log "join: node c identical after $ms ms ($(wc -l <"$RFS_WORK/c/rmtab") records)"
check "node c started from a snapshot" grep -q "adopted store snapshot" "$RFS_WORK/c.log"
stop c

# --- two compactors at once
for i in 1 2 3; do
	churn a 3 $((10 + i))
	"$RFS_CTL_BIN" -s "$RFS_WORK/a.sock" compact >"$RFS_WORK/ca.$i" 2>&1 &
	ca=$!
	"$RFS_CTL_BIN" -s "$RFS_WORK/b.sock" compact >"$RFS_WORK/cb.$i" 2>&1 || true
	wait "$ca" || true
done
check "racing compactions: a shows the model" wait_for 20 is_model a
check "racing compactions: b shows the model" wait_for 20 is_model b
log "racing compactions said: $(cat "$RFS_WORK"/c[ab].* | sort | uniq -c | tr '\n' ';')"

# --- kill -9 at every step
k=0
for step in compact-locked compact-written compact-linked compact-pruned rotate-created \
	rotate-deleting; do
	k=$((k + 1)) # seeds never repeat, so neither do the churned names
	stop a
	start a RMTABFS_TEST_CRASH=$step
	churn a 4 $((100 + k))
	churn b 2 $((200 + k))
	# Everything shipped and read, so the compaction goes through to the step.
	wait_for 20 is_model a || true
	wait_for 20 settled a || true
	# b may just be compacting by itself (its log reading caught up at once: the store's
	# wake-up hint), and then a's request is declined: ask again every 2 s until a crashes.
	# The crash kills the store side only (the mount side starts a new one): wait for its line.
	for ((i = 0; i < 100; i++)); do
		kill -0 "${RFS_PIDS[a]}" 2>/dev/null || break
		if ((i % 20 == 0)); then
			"$RFS_CTL_BIN" -s "$RFS_WORK/a.sock" compact >/dev/null 2>&1 || true
		fi
		crashed=$(rfs_count "crashing at compaction step '$step'" "$RFS_WORK/a.log")
		[[ $crashed -ge 1 ]] && break
		sleep 0.1
	done
	crashed=$(rfs_count "crashing at compaction step '$step'" "$RFS_WORK/a.log")
	rfs_kill9 a "$RFS_WORK/a"
	start a
	churn a 2 $((300 + k))
	check "the crash at $step happened" test "$crashed" -ge 1
	check "crash at $step: a shows the model" wait_for 20 is_model a
	check "crash at $step: b shows the model" wait_for 20 is_model b
	rm -rf "$RFS_WORK/d.state"
	start d
	check "crash at $step: a new node shows the model" wait_for 20 is_model d
	stop d
done

# --- a node down across compactions, with acknowledged ops it never shipped
echo '10.77.0.1:/export/k' >>"$RFS_WORK/b/rmtab"
wait_for 10 grep -q '10.77.0.1:/export/k' "$RFS_WORK/a/rmtab"
stop b
J=$RFS_WORK/b.state/journal
seq=$(python3 - "$J" "$RFS_WORK/b.state/view" <<'PY'
import re, sys
seq = 0
for f in sys.argv[1:]:
    try:
        for line in open(f):
            m = re.match(r"s (\d+) \d+ b ", line)
            if m: seq = max(seq, int(m.group(1)))
            m = re.match(r"seq (\d+)$", line)
            if m: seq = max(seq, int(m.group(1)))
    except FileNotFoundError:
        pass
print(seq)
PY
)
now=$(date +%s%N)
python3 "$OPLINE" $((seq + 1)) "$now" b 2 10.77.0.1 /export/k 1 a >>"$J"
python3 "$OPLINE" $((seq + 2)) $((now + 1)) b 1 10.77.0.2 /export/l >>"$J"
echo '10.77.0.2:/export/l:0x00000001' >"$RFS_WORK/extra.b"
sleep 0.01
sed -i '/10.77.0.1/d' "$RFS_WORK/a/rmtab"    # removed on a after b's op was made
for i in 1 2 3; do
	churn a 3 $((80 + i))
	"$RFS_CTL_BIN" -s "$RFS_WORK/a.sock" compact >/dev/null 2>&1 || true
done
start b
check "b's unshipped ops reach a after several compactions" \
	wait_for 20 grep -q '10.77.0.2:/export/l' "$RFS_WORK/a/rmtab"
sleep 1
check "b's older op did not bring back the record a removed" \
	rfs_absent '10.77.0.1:/export/k' "$RFS_WORK/a/rmtab" "$RFS_WORK/b/rmtab"
check "after b's return: a shows the model" wait_for 20 is_model a
check "after b's return: b shows the model" wait_for 20 is_model b
rm -rf "$RFS_WORK/d.state"
start d
check "after b's return: a new node shows the model" wait_for 20 is_model d
stop d
stop a
stop b
rfs_finish
