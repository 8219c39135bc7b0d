#!/bin/bash
# -o durability=fsync|batch:MS (README "Durability"), on a dir: store that node a reaches
# through a symbolic link (made dangling: the store is down for a, not for b).
#  - bad values refused at start with a clear message, on the command line and in config=;
#  - batch: writes acknowledged, then kill -9 at once: the restarted node shows every one
#    (the page cache survives a process's death; no new incarnation on the same boot), and
#    every one reaches a second node;
#  - batch, a power cut simulated (the journal's last lines lost, the run's marker from
#    another boot) and the store down at the restart: a change made then still reaches the
#    second node once the store is back (a new incarnation: no sequence number reused), and
#    the lost changes come back from the store;
#  - batch, a clean stop: exit 0, no unclean-run marker left, everything there after restart;
#  - fsync (default): kill -9 after acknowledged writes loses nothing, as before.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"
rfs_setup
mkdir -p "$RFS_WORK/store"
ln -s store "$RFS_WORK/alink"
STORE=dir:$RFS_WORK/alink
MA=$RFS_WORK/a MB=$RFS_WORK/b
SA=$RFS_WORK/a.state
mkdir -p "$MA" "$MB"

# --- bad values ---------------------------------------------------------------------------
refused() { # VALUE: the daemon refuses it at once with a message naming it
	local out rc=0
	out=$("$RFS_BIN" -f -o "durability=$1,node=x,store=dir:$RFS_WORK/nostore,statedir=$RFS_WORK/bad.state" \
		"$RFS_WORK/bad" 2>&1) || rc=$?
	[[ $rc != 0 ]] && grep -q "bad durability=$1: expected fsync or batch:MS" <<<"$out"
}
mkdir -p "$RFS_WORK/bad"
for v in batch batch: batch:0 batch:-1 batch:1.5 batch:60001 batch:10ms fast ""; do
	check "durability=$v is refused with a clear message" refused "$v"
done
printf 'node=x\ndurability=batch:abc\n' >"$RFS_WORK/bad.conf"
out=$("$RFS_BIN" -f -o "config=$RFS_WORK/bad.conf,store=dir:$RFS_WORK/nostore,statedir=$RFS_WORK/bad.state" \
	"$RFS_WORK/bad" 2>&1) && rc=0 || rc=$?
check "durability=batch:abc in a config file is refused" \
	bash -c '[[ $1 != 0 ]] && grep -q "bad durability=batch:abc" <<<"$2"' _ "$rc" "$out"
check "nothing was mounted for a refused value" bash -c '! mountpoint -q "$1"' _ "$RFS_WORK/bad"

# --- batch: kill -9 after acknowledged writes -------------------------------------------
start_a() { rfs_start a "$MA" "node=a,store=$STORE,statedir=$SA,timeout=1,durability=$1" ||
	die "node a did not start (durability=$1)"; }
rfs_start b "$MB" "node=b,store=dir:$RFS_WORK/store,statedir=$RFS_WORK/b.state,timeout=1" || die "node b did not start"
start_a batch:500
N=60
for i in $(seq 1 $N); do echo "10.1.0.$i:/export/k" >>"$MA/rmtab"; done
check "the batch run marked its journal unclean while it may hold unsynced lines" \
	test -s "$SA/journal.batch"
rfs_kill9 a "$MA"
start_a batch:500
check_eq "after kill -9 (batch) every acknowledged write is there" "$N" "$(rfs_count '^10\.1\.0\.' "$MA/rmtab")"
check "same boot: no new incarnation" rfs_absent "did not stop cleanly" "$RFS_WORK/a.log"
b_count() { [[ $(rfs_count "$1" "$MB/rmtab") == "$2" ]]; }
check "every acknowledged write reaches the second node" wait_for 10 b_count '^10\.1\.0\.' "$N"

# --- batch: a power cut (lines lost locally, shipped already) ---------------------------
for i in $(seq 1 10); do echo "10.2.0.$i:/export/p" >>"$MA/rmtab"; done
check "the second node has the 10 changes before the cut" wait_for 10 b_count '^10\.2\.0\.' 10
rfs_kill9 a "$MA"
# What a power cut within the batch interval leaves: the last lines never reached the disk
# (zeros where they were), and the marker names a boot that is not this one.
lost=$(python3 - "$SA/journal" <<'PY'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read())
end = len(data.rstrip(b"\0"))
starts = [0] + [i + 1 for i in range(end) if data[i] == 0x0a]
cut = starts[-6]                # the last five lines
lost = data[cut:end].count(b"10.2.0.")
data[cut:end] = bytes(end - cut)
open(p, "r+b").write(data)
print(lost)
PY
)
check "the simulated cut took lines of the last changes" test "${lost:-0}" -ge 1
echo 00000000-0000-0000-0000-000000000000 >"$SA/journal.batch"
ln -sfn nowhere "$RFS_WORK/alink" # the store is down for a at its restart
start_a batch:500
check "a batch run cut by a machine restart is noticed" grep -q "did not stop cleanly" "$RFS_WORK/a.log"
echo "10.3.0.1:/export/after" >>"$MA/rmtab"
echo "10.3.0.2:/export/after" >>"$MA/rmtab"
ln -sfn store "$RFS_WORK/alink"
a_count() { [[ $(rfs_count "$1" "$MA/rmtab") == "$2" ]]; }
check "the changes lost locally come back from the store" wait_for 15 a_count '^10\.2\.0\.' 10
check "changes made after the cut, store down, reach the second node (no sequence number reused)" \
	wait_for 15 b_count '^10\.3\.0\.' 2
check_eq "both nodes show the same bytes" "$(cat "$MA/rmtab")" "$(cat "$MB/rmtab")"

# --- batch: a clean stop ----------------------------------------------------------------
for i in $(seq 1 10); do echo "10.4.0.$i:/export/s" >>"$MA/rmtab"; done
rfs_stop a "$MA"
check "a clean stop leaves no unclean-run marker" rfs_gone "$SA/journal.batch"
start_a fsync
check_eq "after a clean stop (batch) everything is there" 10 "$(rfs_count '^10\.4\.0\.' "$MA/rmtab")"
check "the second node has them too" wait_for 10 b_count '^10\.4\.0\.' 10

# --- fsync (default): as before ---------------------------------------------------------
for i in $(seq 1 20); do echo "10.5.0.$i:/export/f" >>"$MA/rmtab"; done
check "fsync leaves no unclean-run marker" rfs_gone "$SA/journal.batch"
rfs_kill9 a "$MA"
rfs_start a "$MA" "node=a,store=$STORE,statedir=$SA,timeout=1" || die "node a did not restart"
check_eq "after kill -9 (fsync) every acknowledged write is there" 20 "$(rfs_count '^10\.5\.0\.' "$MA/rmtab")"
check "and reaches the second node" wait_for 10 b_count '^10\.5\.0\.' 20
check_eq "both nodes show the same bytes at the end" "$(cat "$MA/rmtab")" "$(cat "$MB/rmtab")"
rfs_stop a "$MA"
rfs_stop b "$MB"
rfs_finish
