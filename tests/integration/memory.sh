#!/bin/bash
# Memory of written top-level files: a file of the top directory that is written keeps the
# view it may replace (its base) only while it could become a view; etab, statd's state,
# xtab and the like pin nothing. At 100 000 records, writing six such files (the table
# changing in between, so each open sees another generation) leaves the daemon holding no
# more snapshots than the same run without them (its own count, `view-snapshots` in status:
# exact), and its RSS within a third of it (each pinned snapshot is ~4.5 MB, ~15 % here; RSS
# alone also moves with malloc's per-thread arenas under load: +11 % seen in CI with nothing
# pinned). And sed -i's temporary file (rmtab content) keeps its base: a
# record added by another writer while it was written survives the rename.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
# A private mount namespace: no other test's namespace can hold these mounts (and with them
# the daemons) alive after they are unmounted here.
rfs_private_ns "$@"
rfs_setup
M=$RFS_WORK/mnt
mkdir -p "$M"
N=100000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++)
	printf "10.%d.%d.%d:/export/m/d%05d:0x00000001\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256, i }' \
	>"$RFS_WORK/records"
# ASan keeps freed blocks in quarantine, which would hide what is freed: measure without.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0
rfs_start n1 "$M" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1" || die mount
pid=${RFS_PIDS[n1]}
rss_kb() { awk '$1 == "VmRSS:" { print $2; f = 1 } END { exit !f }' "/proc/$pid/status"; }
cp "$RFS_WORK/records" "$M/rmtab"
check_eq "the $N records are loaded" "$N" "$(wc -l <"$M/rmtab")"

# Both phases change the table six times and read the view after each change.
change() { echo "10.250.0.$1:/export/change$2" >>"$M/rmtab" && cat "$M/rmtab" >/dev/null; }
for i in 1 2 3 4 5 6; do change "$i" a; done
sleep 0.5
rss0=$(rss_kb)
snaps() { rfs_ctl n1 status | awk -F': ' '$1 == "view-snapshots" { print $2; f = 1 } END { exit !f }'; }
snaps0=$(snaps) || die "status has no view-snapshots line"
files=(etab xtab state rpc.statd.pid export-notes nfs.conf.local)
for i in 1 2 3 4 5 6; do
	f=${files[$((i - 1))]}
	case $f in
	etab | xtab) printf '/export/m\t*(rw,sync,wdelay,hide,no_subtree_check,uuid=1:2:3:4,sec=sys)\n' >"$M/$f" ;;
	state) printf '\x07\x00\x00\x00' >"$M/$f" ;;
	*) printf '%s written by the memory test\n' "$i" >"$M/$f" ;;
	esac
	change "$i" b
done
sleep 0.5
rss1=$(rss_kb)
snaps1=$(snaps) || die "status has no view-snapshots line"
log "RSS at $N records: ${rss0} KiB without, ${rss1} KiB after writing six top-level files;" \
	"snapshots held: $snaps0, then $snaps1"
check "no snapshot more is held after writing six top-level files ($snaps0 -> $snaps1)" \
	test "$snaps1" -le "$snaps0"
check "RSS within a third of the no-write case (${rss0} -> ${rss1} KiB)" \
	test "$rss1" -le $((rss0 + rss0 / 3))
for f in "${files[@]}"; do
	check "$f reads back" test -s "$M/$f"
done

# sed -i's way, by hand: read rmtab, write a temporary file, another writer adds a record,
# then the rename. The added record is not in the file but must survive (the base is the
# view as the writer read it).
grep -v '/export/m/d00007:' "$M/rmtab" >"$M/.sedtmp"
echo '10.251.0.1:/export/concurrent' >>"$M/rmtab"
mv "$M/.sedtmp" "$M/rmtab"
check "the line the temporary file dropped is gone" rfs_absent '/export/m/d00007:' "$M/rmtab"
check "the record added meanwhile survives the rename" grep -q '10.251.0.1:/export/concurrent' "$M/rmtab"
# A written top-level file that does not look like rmtab, renamed onto it, is refused.
printf 'not an rmtab line\n' >"$M/junk"
check "renaming a non-rmtab file onto rmtab is refused" bash -c "! mv '$M/junk' '$M/rmtab' 2>/dev/null"
check_eq "and changes nothing" "$((N + 12))" "$(wc -l <"$M/rmtab")"
rfs_stop n1 "$M" >/dev/null
rfs_finish
