#!/bin/bash
# The gNFS view (-o gnfs=NAME): Gluster's NFS server shares the same records, unchanged.
# Driven by tests/tools/gnfs_replay, which replays gNFS's documented syscalls (open with
# O_APPEND|O_CREAT, directory fsync, lock, lseek/dup/read per key, NAME.tmp with O_TRUNC,
# F_SETFL O_APPEND, one write per line, fsync, rename, directory fsync, unlock).
#  - both views show the same records, whichever view they came through;
#  - the view keeps its inode across gNFS's rename; it is never torn or partial;
#  - racing replayers (whose lock does not serialise them) lose no entry;
#  - mixed traffic with the real rpc.mountd on the same mount;
#  - a replayer on host A and rpc.mountd on host B, on one store ($RFS_STORE if set).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"
rfs_setup
STORE=${RFS_STORE:+$RFS_STORE/$(basename "$RFS_WORK")}
STORE=${STORE:-dir:$RFS_WORK/store}
G=$RFS_TOOLS/gnfs_replay
M3=$RFS_TOOLS/mnt3
# strict_gnfs FILE: every line "key=value\n", pairs indexed from 0 without gaps; prints N.
strict_gnfs() {
	python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
if data and not data.endswith(b"\n"):
    sys.exit("last line without newline")
keys = {}
for line in data.split(b"\n")[:-1]:
    m = re.fullmatch(rb"(hostname|mountpoint)-(\d+)=(.+)", line)
    if not m:
        sys.exit(f"bad line {line!r}")
    keys[(m.group(1), int(m.group(2)))] = m.group(3)
n = len(keys) // 2
for i in range(n):
    if (b"hostname", i) not in keys or (b"mountpoint", i) not in keys:
        sys.exit(f"gap at {i}")
print(n)
PY
}

# --- one node, no mountd ---
M=$RFS_WORK/mnt
V=$M/gnfs-rmtab
mkdir -p "$M"
rfs_start n1 "$M" "node=n1,store=$STORE/single,statedir=$RFS_WORK/n1.state,gnfs=gnfs-rmtab" ||
	die mount
echo '10.0.0.1:/vol/a' >>"$M/rmtab"
check_eq "a record added through rmtab shows in the gNFS view" \
	"$(printf 'hostname-0=10.0.0.1\nmountpoint-0=/vol/a')" "$(cat "$V")"
ino=$(stat -c %i "$V")
check_eq "replayer MNT" "mnt 10.0.0.2 /vol/b ok" "$("$G" "$V" mnt 10.0.0.2 /vol/b)"
check_eq "replayer MNT of a known entry is a dup (no rewrite)" "mnt 10.0.0.2 /vol/b dup" \
	"$("$G" "$V" mnt 10.0.0.2 /vol/b)"
check "a record added through the gNFS view shows in rmtab" \
	grep -qx '10.0.0.2:/vol/b:0x00000001' "$M/rmtab"
check_eq "the view keeps its inode across gNFS's rename" "$ino" "$(stat -c %i "$V")"
check_eq "replayer DUMP lists both" "$(printf 'dump 2\n10.0.0.1 /vol/a\n10.0.0.2 /vol/b')" \
	"$("$G" "$V" dump)"
check_eq "replayer UMNT" "umnt 10.0.0.1 /vol/a ok" "$("$G" "$V" umnt 10.0.0.1 /vol/a)"
check "UMNT through the gNFS view removes the record" rfs_absent 10.0.0.1 "$M/rmtab"
check "no staging file is visible" rfs_no_entry "$M" -e '\.tmp$' -e rmtabfs-stage
check "the underlying directory has no staging file left" \
	rfs_no_entry "$RFS_WORK/mnt" stage

# Racing replayers: 4 x 80 MNTs with a delay between read and rewrite, then UMNTs.
before=$(cat "$M/rmtab")
pids=()
for w in a b c d; do
	"$G" -q -d 2 "$V" race "$w" 80 >"$RFS_WORK/race-$w.out" 2>&1 &
	pids+=($!)
done
# Meanwhile a reader checks that the view is never torn.
torn=0 reads=0
while kill -0 "${pids[@]}" 2>/dev/null; do
	strict_gnfs "$V" >/dev/null 2>&1 || torn=$((torn + 1))
	reads=$((reads + 1))
done
wait "${pids[@]}"
check_eq "4 racing replayers x 80 MNT: every entry is there" 320 \
	"$(grep -c ':/[abcd]/' "$M/rmtab")"
check_eq "the view was never torn in $reads reads while they raced" 0 "$torn"
check_eq "both views hold the same records" "$(wc -l <"$M/rmtab")" "$(strict_gnfs "$V")"
pids=()
for w in a b c d; do
	python3 -c "import sys; [print(f'umnt 127.0.0.1 /$w/{i}') for i in range(80)]" |
		"$G" -q -d 1 "$V" script >"$RFS_WORK/unrace-$w.out" 2>&1 &
	pids+=($!)
done
wait "${pids[@]}"
check_eq "4 racing replayers UMNT all: back to where it was" "$before" "$(cat "$M/rmtab")"
rfs_stop n1 "$M" >/dev/null

# --- two hosts with the real rpc.mountd ---
source "$here/nodes.sh"
export NODE_OPTS=gnfs=gnfs-rmtab
node_up A || die "host A"
node_up B || die "host B"
VA=/var/lib/nfs/gnfs-rmtab
# Mixed traffic on A: rpc.mountd (MOUNT RPCs) and the gNFS replayer on the same mount.
on A "$G" -q -d 1 "$VA" race gn 100 >/dev/null 2>&1 &
pg=$!
for i in $(seq 1 20); do on A "$M3" 127.0.0.1 mnt "/export/a/sub$i" >/dev/null; done
wait "$pg"
check_eq "mixed traffic on one mount: all 100 gNFS entries" 100 \
	"$(on A grep -c ':/gn/' /var/lib/nfs/rmtab)"
check_eq "mixed traffic on one mount: all 20 mountd entries" 20 \
	"$(on A grep -c '^127.0.0.1:/export/a/sub' /var/lib/nfs/rmtab)"
# gNFS on A, rpc.mountd on B, one store.
on B "$M3" 127.0.0.1 mnt /export/a >/dev/null
on A "$G" "$VA" mnt 10.40.0.1 /export/a >/dev/null
same() { [[ $(on A cat /var/lib/nfs/rmtab) == "$(on B cat /var/lib/nfs/rmtab)" ]]; }
check "A (gNFS) and B (mountd) converge" wait_for 5 same
check "B's mountd MNT shows in A's gNFS view" \
	bash -c "nsenter -t $(cat "$RFS_WORK/A.nspid") -m -- grep -q '^mountpoint-.*=/export/a\$' $VA"
check "A's gNFS MNT shows on B (showmount -a)" \
	bash -c "nsenter -t $(cat "$RFS_WORK/B.nspid") -m -n -- showmount -a 127.0.0.1 |
		grep -q '^10.40.0.1:/export/a\$'"
on A "$G" "$VA" umnt 10.40.0.1 /export/a >/dev/null
gone() {
	local t
	t=$(on B cat /var/lib/nfs/rmtab) || return 2
	rfs_absent '^10.40.0.1:' - <<<"$t"
}
check "gNFS UMNT on A removes it on B" wait_for 5 gone
node_down A
node_down B
rfs_finish
