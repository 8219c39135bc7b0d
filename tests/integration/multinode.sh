#!/bin/bash
# Several NFS servers sharing one record set. Store: $RFS_STORE if set (a gluster:// URL from
# scripts/gluster-volume.sh), else a dir: store in the work directory.
#  - two hosts (own namespaces, own /var/lib/nfs, rpcbind and the real rpc.mountd): MNT on
#    A shows on B (rmtab, showmount -a, DUMP); a UMNT handled by B removes A's record;
#  - two nodes writing concurrently (mountd's syscalls, thousands of ops, plus echo >>):
#    both views byte-identical and equal to a model of the ops;
#  - a third daemon with a duplicate node id is refused and changes nothing;
#  - a node restarted sees what the other did while it was down;
#  - propagation delay from a flush on A to B's rmtab, printed.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
# A private mount namespace for the test's own mounts (the hosts get theirs from node.sh).
rfs_private_ns "$@"
rfs_setup
chmod 0755 "$RFS_WORK"
# A directory of its own inside a shared store, so runs never see each other's records.
STORE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}
STORE=${STORE:-dir:$RFS_WORK/store}
log "store: $STORE"
source "$here/nodes.sh"

node_up A || die "host A did not start"
node_up B || die "host B did not start"
M3=$RFS_TOOLS/mnt3
on A "$M3" 127.0.0.1 mnt /export/a >/dev/null
on A "$M3" 127.0.0.1 mnt /export/a/sub1 >/dev/null
on A "$M3" ::1 mnt /export/a >/dev/null
b_has() { on B grep -qx "$1" /var/lib/nfs/rmtab; }
check "A's MNT reaches B's rmtab" wait_for 5 b_has "127.0.0.1:/export/a/sub1:0x00000001"
check "A's IPv6 MNT reaches B's rmtab" wait_for 5 b_has ";;1:/export/a:0x00000001"
check "showmount -a on B lists A's clients" \
	bash -c "nsenter -t $(cat "$RFS_WORK/B.nspid") -m -n -- showmount -a 127.0.0.1 |
		grep -q '^127.0.0.1:/export/a/sub1\$'"
check "DUMP on B lists A's clients" \
	bash -c "nsenter -t $(cat "$RFS_WORK/B.nspid") -m -n -- '$M3' 127.0.0.1 dump |
		grep -q '^::1 /export/a\$'"
# rpc.mountd loads its exports on MNT, not on UMNT: B serves an MNT first, as a server would.
on B "$M3" ::1 mnt /export/a/sub2 >/dev/null
on B "$M3" 127.0.0.1 umnt /export/a/sub1 >/dev/null
a_lacks() {
	local t
	t=$(on A cat /var/lib/nfs/rmtab) || return 2
	rfs_absent ":/export/a/sub1:" - <<<"$t"
}
check "a UMNT handled by B removes A's record on A" wait_for 5 a_lacks
check_eq "A and B show the same bytes" "$(on A cat /var/lib/nfs/rmtab)" \
	"$(on B cat /var/lib/nfs/rmtab)"

# Propagation delay: flush on A until B's rmtab shows it.
delays=()
for i in $(seq 1 20); do
	t0=$(date +%s%N)
	on A "$M3" 127.0.0.1 mnt "/export/a/sub$i" >/dev/null
	wait_for 5 b_has "127.0.0.1:/export/a/sub$i:0x00000001" || true
	delays+=($((($(date +%s%N) - t0) / 1000000)))
done
sorted=$(printf '%s\n' "${delays[@]}" | sort -n)
log "propagation A -> B over 20 MNTs (ms): p50 $(sed -n 10p <<<"$sorted") max $(tail -1 <<<"$sorted")"
check "every MNT reached B within a second" test "$(tail -1 <<<"$sorted")" -lt 1000

# Duplicate node id: refused, changes nothing. When the store answers within the 0.1 s the
# daemon waits for it at start, it refuses to start; when the store is slower (a loaded
# Gluster volume) it has already mounted by the time the owner lock says no: it then keeps
# serving its local state (NFS must not stop) but never writes to the store, says so in the
# log and in rmtabctl status.
logsize=$(cat "$RFS_WORK"/store/nodes/*.log 2>/dev/null | wc -c || true)
mkdir -p "$RFS_WORK/dup" "$RFS_WORK/dupstate"
"$RFS_BIN" -f -o "node=A,store=$STORE,statedir=$RFS_WORK/dupstate" \
	-o "ctl=$RFS_WORK/dup.sock" "$RFS_WORK/dup" >"$RFS_WORK/dup.log" 2>&1 &
dup_pid=$!
dup_said() { grep -q "node id 'A' is already in use" "$RFS_WORK/dup.log"; }
dup_ended() { # gone, or a zombie not yet reaped by this shell
	! kill -0 "$dup_pid" 2>/dev/null || [[ $(awk '{ print $3 }' "/proc/$dup_pid/stat") == Z ]]
}
check "a second daemon with node id A names the holder" wait_for 20 dup_said
if wait_for 1 dup_ended; then
	set +e
	wait "$dup_pid"
	rc=$?
	set -e
	check "it refused to start: exits with an error ($rc)" test "$rc" -ne 0
	check "it did not mount" rfs_absent " $RFS_WORK/dup " /proc/mounts
else
	log "the store answered after the mount: the duplicate serves locally, refused on the store"
	dup_status=$("$RFS_CTL_BIN" -s "$RFS_WORK/dup.sock" status) || true
	check "its status says the store refused it" grep -q "refused: .*already in use" <<<"$dup_status"
	fusermount3 -u "$RFS_WORK/dup" || umount -l "$RFS_WORK/dup"
	set +e
	wait "$dup_pid"
	rc=$?
	set -e
	check_eq "it stops cleanly" 0 "$rc"
fi
if [[ $STORE == dir:* ]]; then
	check_eq "the store is unchanged" "$logsize" "$(cat "$RFS_WORK"/store/nodes/*.log | wc -c)"
fi

# Restart: B down, A changes things, B back up with everything.
node_down B
on A "$M3" 127.0.0.1 mnt /export/a/sub20 >/dev/null
on A "$M3" 127.0.0.1 umnt /export/a >/dev/null
on A sh -c "echo '10.20.0.1:/export/a' >> /var/lib/nfs/rmtab"
node_up B || die "host B did not restart"
same() { [[ $(on A cat /var/lib/nfs/rmtab) == "$(on B cat /var/lib/nfs/rmtab)" ]]; }
check "B restarted sees what A did meanwhile" wait_for 5 same
node_down A
node_down B

# Two nodes writing concurrently through mountd's syscalls (no RPC layer: thousands of ops).
# A store of its own (a directory inside the same store), so the model is the whole truth.
MA=$RFS_WORK/ma MB=$RFS_WORK/mb
STORE2=$STORE/concurrent
mkdir -p "$MA" "$MB"
rfs_start wa "$MA" "node=wa,store=$STORE2,statedir=$RFS_WORK/wa.state" || die "wa"
rfs_start wb "$MB" "node=wb,store=$STORE2,statedir=$RFS_WORK/wb.state" || die "wb"
gen() { # PREFIX SEED: a mixed MNT/UMNT script over 40 clients x 5 paths
	python3 - "$1" "$2" <<'PY'
import random, sys
prefix, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
for _ in range(1500):
    c, p = r.randrange(40), r.randrange(5)
    op = "mnt" if r.random() < 0.6 else "umnt"
    print(f"{op} {prefix}.{c} /export/m{p}")
PY
}
gen 10.31.0 1 >"$RFS_WORK/sa"
gen 10.32.0 2 >"$RFS_WORK/sb"
"$RFS_TOOLS/mountd_replay" -q "$MA" script <"$RFS_WORK/sa" >/dev/null &
pa=$!
"$RFS_TOOLS/mountd_replay" -q "$MB" script <"$RFS_WORK/sb" >/dev/null &
pb=$!
for i in $(seq 1 50); do echo "10.33.0.$i:/export/echo" >>"$MA/rmtab"; done &
pe=$!
for i in $(seq 1 50); do echo "10.34.0.$i:/export/echo" >>"$MB/rmtab"; done
wait "$pa" "$pb" "$pe"
model=$(python3 - "$RFS_WORK/sa" "$RFS_WORK/sb" <<'PY'
import sys
counts = {}
for f in sys.argv[1:]:
    for line in open(f):
        op, c, p = line.split()
        k = (c, p)
        if op == "mnt":
            counts[k] = counts.get(k, 0) + 1
        elif k in counts:
            counts[k] -= 1
            if counts[k] == 0:
                del counts[k]
for n in (33, 34):
    for i in range(1, 51):
        counts[(f"10.{n}.0.{i}", "/export/echo")] = 1
for (c, p), n in counts.items():
    print(f"{c}:{p}:0x{n:08x}")
PY
)
model=$(LC_ALL=C sort <<<"$model")
conv() { [[ $(cat "$MA/rmtab") == "$(cat "$MB/rmtab")" ]]; }
check "after concurrent writing both views become byte-identical" wait_for 10 conv
check_eq "and equal the model of the ops" "$model" "$(LC_ALL=C sort "$MA/rmtab")"
log "records after the concurrent run: $(wc -l <"$MA/rmtab")"
rfs_stop wa "$MA" >/dev/null
rfs_stop wb "$MB" >/dev/null
rfs_finish
