#!/bin/bash
# A node's sequence identity survives the loss of its state directory (DESIGN §9), and a clean
# stop ships what it acknowledged. On a dir: store ($RFS_STORE in the gluster suite):
#  - state directory deleted, with and without a compaction snapshot, with the store up and
#    down at start; the node then changes records; a third node joins (from a snapshot when
#    there is one) and a fourth after a snapshot taken afterwards: every node ends with the
#    same bytes, equal to the model, including the changes made after the loss;
#  - a clean stop right after a burst of writes (SIGTERM and unmount): everything is on the
#    store afterwards (a fresh node shows it while the stopped one stays down), exit 0;
#  - a stop during catch-up after an outage of 10 000 ops: exit 0, under a second (printed).
# The store is "down" for one node by pointing its store= at a symlink that is made dangling.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup
BASE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}

# store_for CASE: the store URL of a case (its own, so "no snapshot" means none)
store_for() { if [[ -n $BASE ]]; then echo "$BASE-$1"; else echo "dir:$RFS_WORK/$1.store"; fi; }
start() { # CASE NODE [STORE]: statedir $RFS_WORK/CASE.NODE.state, mount $RFS_WORK/CASE.NODE
	local m=$RFS_WORK/$1.$2
	mkdir -p "$m"
	rfs_start "$1.$2" "$m" "node=$2,store=${3:-$(store_for "$1")},statedir=$m.state,timeout=1" ||
		die "$1: node $2 did not start"
}
# stop_timed CASE NODE [SIGNAL]: stops by signal (default TERM) or "umount"; checks exit 0 and
# prints the seconds taken.
stop_timed() {
	local name=$1.$2 how=${3:-TERM} pid rc=0 t0 t1
	pid=${RFS_PIDS[$name]}
	t0=$(date +%s%N)
	if [[ $how == umount ]]; then
		fusermount3 -u "$RFS_WORK/$name"
	else
		kill "-$how" "$pid"
	fi
	wait "$pid" || rc=$?
	t1=$(date +%s%N)
	unset "RFS_PIDS[$name]"
	check "$name stopped by $how exits 0 (got $rc)" test "$rc" = 0
	STOP_MS=$(((t1 - t0) / 1000000))
	log "$name: stop by $how took $STOP_MS ms"
}
view() { LC_ALL=C sort "$RFS_WORK/$1.$2/rmtab"; }
model() { LC_ALL=C sort "$RFS_WORK/$1.model"; }
is_model() { [[ $(view "$1" "$2") == "$(model "$1")" ]]; }
add() { # CASE NODE CLIENT: a new record through node's view, and in the model
	echo "$3:/export/x" >>"$RFS_WORK/$1.$2/rmtab"
	echo "$3:/export/x:0x00000001" >>"$RFS_WORK/$1.model"
}
del() { # CASE NODE CLIENT
	sed -i "/^$3:/d" "$RFS_WORK/$1.$2/rmtab"
	sed -i "/^$3:/d" "$RFS_WORK/$1.model"
}
settled() { rfs_ctl "$1.$2" status 2>/dev/null | grep -q '^backlog: *0 op'; }
connected() { rfs_ctl "$1.$2" status 2>/dev/null | grep -q '^store:.*: connected'; }
not_connected() { # the status must be readable, and say something else than connected
	local s
	s=$(rfs_ctl "$1.$2" status) || return 1
	grep -q '^store:' <<<"$s" && ! grep -q '^store:.*: connected' <<<"$s"
}
all_model() { # CASE NODE...: every node shows the model, byte for byte the same
	local c=$1 n
	shift
	for n in "$@"; do
		check "$c: node $n shows the model" wait_for 20 is_model "$c" "$n"
	done
	for n in "$@"; do
		check_eq "$c: node $n's bytes equal node $1's" "$(cat "$RFS_WORK/$c.$1/rmtab")" \
			"$(cat "$RFS_WORK/$c.$n/rmtab")"
	done
}

# lost CASE SNAP DOWN: the state directory of node a is deleted; SNAP: a snapshot exists
# (taken before the loss); DOWN: the store does not answer a at its start.
lost() {
	local c=$1 snap=$2 down=$3 link=$RFS_WORK/$1.link target
	: >"$RFS_WORK/$c.model"
	target=$(store_for "$c")
	if [[ $target == dir:* ]]; then
		mkdir -p "${target#dir:}"
		ln -sfn "${target#dir:}" "$link"
	fi
	start "$c" a
	start "$c" b
	add "$c" a 10.1.0.1
	add "$c" a 10.1.0.2
	add "$c" a 10.1.0.3
	add "$c" b 10.2.0.1
	all_model "$c" a b
	wait_for 10 settled "$c" a || fail "$c: a did not ship"
	if [[ $snap == 1 ]]; then
		check "$c: compaction on b" rfs_ctl "$c.b" compact
	fi
	stop_timed "$c" a
	rm -rf "$RFS_WORK/$c.a.state"
	if [[ $down == 1 && $target == dir:* ]]; then
		ln -sfn "$RFS_WORK/nowhere" "$link"
		start "$c" a "dir:$link"
		check "$c: the store does not answer a" not_connected "$c" a
		# Acknowledged while the store is down, with a fresh (empty) state directory.
		add "$c" a 10.1.0.9
		ln -sfn "${target#dir:}" "$link"
	else
		start "$c" a "$([[ $target == dir:* ]] && echo "dir:$link" || echo "$target")"
	fi
	check "$c: a reads every record back once the store answers" wait_for 20 is_model "$c" a
	check "$c: a started a new incarnation" grep -q "new incarnation" "$RFS_WORK/$c.a.log"
	# Changes after the loss: an add, a removal of a record a made before it, one of b's.
	add "$c" a 10.1.0.4
	del "$c" a 10.1.0.1
	del "$c" a 10.2.0.1
	add "$c" b 10.2.0.2
	all_model "$c" a b
	start "$c" c
	all_model "$c" a b c
	if [[ $snap == 1 ]]; then
		check "$c: node c started from the snapshot" \
			grep -q "adopted store snapshot" "$RFS_WORK/$c.c.log"
	fi
	# A snapshot taken after the loss, then a node joining from it.
	wait_for 10 settled "$c" a || fail "$c: a did not ship"
	check "$c: compaction on a after the loss" rfs_ctl "$c.a" compact
	add "$c" a 10.1.0.5
	start "$c" d
	all_model "$c" a b c d
	for n in a b c d; do stop_timed "$c" "$n"; done
}

lost nosnap-up 0 0
lost snap-up 1 0
if [[ -z $BASE ]]; then
	lost nosnap-down 0 1
	lost snap-down 1 1
fi

# --- clock set back across the loss: the store holds ops of a above its new floor
c=setback
: >"$RFS_WORK/$c.model"
target=$(store_for "$c")
if [[ $target == dir:* ]]; then
	mkdir -p "${target#dir:}/nodes"
	echo "rmtabfs-store 1" >"${target#dir:}/FORMAT"
	# What an earlier incarnation with a clock far ahead shipped (2^62 ns: year 2116).
	python3 "$here/../tools/opline.py" 4611686018427387904 "$(date +%s%N)" a 1 10.3.0.1 \
		/export/x >"${target#dir:}/nodes/a.log"
	echo "10.3.0.1:/export/x:0x00000001" >>"$RFS_WORK/$c.model"
	ln -sfn "$RFS_WORK/nowhere" "$RFS_WORK/$c.link"
	start "$c" a "dir:$RFS_WORK/$c.link"
	add "$c" a 10.3.0.2 # numbered below the store's op: must be renumbered before shipping
	ln -sfn "${target#dir:}" "$RFS_WORK/$c.link"
	check "setback: a renumbers its journal above the store" \
		wait_for 20 grep -q "unshipped ops renumbered" "$RFS_WORK/$c.a.log"
	start "$c" b
	all_model "$c" a b
	stop_timed "$c" a
	stop_timed "$c" b
	renumbered() { # a's log: every op after the old one has a higher sequence number
		python3 - "${target#dir:}/nodes" <<'PY'
import glob, sys
seqs = []
for f in sorted(glob.glob(sys.argv[1] + "/a.log*")):
    seqs += [int(l.split()[1]) for l in open(f) if l.startswith("s ")]
sys.exit(not (len(seqs) >= 2 and seqs[0] == 4611686018427387904 and all(s > seqs[0] for s in seqs[1:])))
PY
	}
	check "setback: a's new op follows the old one in sequence" renumbered
fi

# --- a clean stop right after a burst of writes: everything on the store afterwards
for how in TERM umount; do
	c=burst-$how
	: >"$RFS_WORK/$c.model"
	start "$c" a
	wait_for 10 connected "$c" a || fail "$c: a not connected"
	for i in $(seq 1 200); do add "$c" a "10.5.$((i / 250)).$((i % 250))"; done
	stop_timed "$c" a "$how"
	check "$c: a says everything is on the store" \
		grep -q "every op of this node is on the store" "$RFS_WORK/$c.a.log"
	start "$c" n
	check "$c: a fresh node shows all 200 records while a is down" wait_for 20 is_model "$c" n
	stop_timed "$c" n
done

# --- a stop with the store down names what it leaves behind; the next start shows it
c=leftover
: >"$RFS_WORK/$c.model"
target=$(store_for "$c")
if [[ $target == dir:* ]]; then
	mkdir -p "${target#dir:}"
	ln -sfn "$RFS_WORK/nowhere" "$RFS_WORK/$c.link"
	start "$c" a "dir:$RFS_WORK/$c.link"
	for i in 1 2 3; do add "$c" a "10.7.0.$i"; done
	stop_timed "$c" a
	check "leftover: the log names the 3 ops left behind" \
		grep -q "stopping with 3 op(s) of this node not confirmed on the store" \
		"$RFS_WORK/$c.a.log"
	start "$c" a "dir:$RFS_WORK/$c.link"
	backlog3() { rfs_ctl "$c.a" status | grep -q '^backlog: *3 op'; }
	check "leftover: rmtabctl status of the next start shows backlog 3" backlog3
	ln -sfn "${target#dir:}" "$RFS_WORK/$c.link"
	check "leftover: shipped once the store answers" wait_for 20 settled "$c" a
	start "$c" b
	all_model "$c" a b
	for n in a b; do stop_timed "$c" "$n"; done
fi

# --- stop during catch-up after an outage of 10 000 ops
c=catchup
: >"$RFS_WORK/$c.model"
target=$(store_for "$c")
if [[ $target == dir:* ]]; then
	mkdir -p "${target#dir:}"
	ln -sfn "$RFS_WORK/nowhere" "$RFS_WORK/$c.link"
	start "$c" a "dir:$RFS_WORK/$c.link"
	python3 -c "
for i in range(10000):
    print(f'10.6.{i // 250}.{i % 250}:/export/x')" >"$RFS_WORK/$c.burst"
	cat "$RFS_WORK/$c.burst" >>"$RFS_WORK/$c.a/rmtab"
	sed 's/$/:0x00000001/' "$RFS_WORK/$c.burst" >>"$RFS_WORK/$c.model"
	check "catchup: 10 000 ops in a's view while the store is down" \
		test "$(wc -l <"$RFS_WORK/$c.a/rmtab")" = 10000
	start "$c" b
	ln -sfn "${target#dir:}" "$RFS_WORK/$c.link"
	# As soon as a is back: it ships (or tails) its backlog while the stop comes.
	wait_for 10 connected "$c" a || true
	stop_timed "$c" a
	check "catchup: a stopped in under a second ($STOP_MS ms)" test "$STOP_MS" -lt 1000
	grep -E "stopping|not confirmed" "$RFS_WORK/$c.a.log" | tail -n 2 >&2 || true
	# b is catching up on a's 10 000 ops: stop it in the middle too.
	stop_timed "$c" b
	check "catchup: b stopped in under a second ($STOP_MS ms)" test "$STOP_MS" -lt 1000
	start "$c" a "dir:$RFS_WORK/$c.link"
	start "$c" b
	all_model "$c" a b
	for n in a b; do stop_timed "$c" "$n"; done
fi
rfs_finish
