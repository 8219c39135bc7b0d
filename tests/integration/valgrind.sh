#!/bin/bash
# The daemon under valgrind (memcheck) through a representative workload: shell tools,
# rpc.mountd's syscalls, the gNFS replayer, rmtabctl, a second node, compaction, a refused
# write. Fails on any memcheck error or definite leak.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup
command -v valgrind >/dev/null || die "valgrind is not installed (scripts/setup.sh)"
# valgrind cannot run a sanitizer build: with one, test the plain build's daemon
# (RFS_PLAIN_BUILD, set by scripts/test.sh for its ASan+UBSan run).
VG_BIN=${RFS_PLAIN_BUILD:-$RFS_BUILD}/fs/rmtabfs
if grep -q __asan_init "$VG_BIN"; then
	die "$VG_BIN is a sanitizer build; set RFS_PLAIN_BUILD to a plain build"
fi
M=$RFS_WORK/m N=$RFS_WORK/n
mkdir -p "$M" "$N"
VG=$RFS_WORK/valgrind.txt
valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite --track-fds=no --log-file="$VG" \
	"$VG_BIN" -f -o "entry_timeout=0,attr_timeout=0,ctl=$RFS_WORK/m.sock,node=vg" \
	-o "statedir=$RFS_WORK/m.state,store=dir:$RFS_WORK/store,gnfs=gnfs-rmtab,tombstones=0" \
	"$M" >"$RFS_WORK/m.log" 2>&1 &
VGPID=$!
for ((i = 0; i < 600; i++)); do
	rfs_is_mounted "$M" && break
	kill -0 "$VGPID" 2>/dev/null || die "the daemon under valgrind did not start"
	sleep 0.1
done
rfs_start n "$N" "node=other,store=dir:$RFS_WORK/store,statedir=$RFS_WORK/n.state" || die n

echo '10.0.0.1:/vol/a' >>"$M/rmtab"
sed -i 's/0x00000001/0x00000003/' "$M/rmtab"
printf '10.0.0.2:/vol/b\n' >"$RFS_WORK/f"
cp "$RFS_WORK/f" "$M/rmtab"
echo 'bad line' >>"$M/rmtab" 2>/dev/null || true
printf '%s\n' "mnt 10.1.0.1 /e" "mnt 10.1.0.1 /e" "mnt ::1 /e" "umnt 10.1.0.1 /e" "dump" |
	"$RFS_TOOLS/mountd_replay" -q "$M" script >/dev/null
"$RFS_TOOLS/gnfs_replay" -q "$M/gnfs-rmtab" mnt 10.2.0.1 /g >/dev/null
"$RFS_TOOLS/gnfs_replay" -q "$M/gnfs-rmtab" umnt 10.2.0.1 /g >/dev/null
echo '10.3.0.1:/from-n' >>"$N/rmtab"
"$RFS_CTL_BIN" -s "$RFS_WORK/m.sock" status >/dev/null
"$RFS_CTL_BIN" -s "$RFS_WORK/m.sock" list --json >/dev/null
"$RFS_CTL_BIN" -s "$RFS_WORK/m.sock" add 10.4.0.1 /ctl >/dev/null
"$RFS_CTL_BIN" -s "$RFS_WORK/m.sock" remove 10.4.0.1 >/dev/null
"$RFS_CTL_BIN" -s "$RFS_WORK/m.sock" compact >/dev/null || true
mkdir "$M/sm" && echo x >"$M/sm/h" && mv "$M/sm/h" "$M/h2" && ls -la "$M" >/dev/null
rm "$M/h2" && rmdir "$M/sm"
for ((i = 0; i < 100; i++)); do grep -q from-n "$M/rmtab" && break; sleep 0.1; done
check "the other node's record arrived" grep -q '10.3.0.1:/from-n' "$M/rmtab"
rfs_stop n "$N" >/dev/null
fusermount3 -u "$M"
set +e
wait "$VGPID"
rc=$?
set -e
check_eq "valgrind: no error, no definite leak (exit status)" 0 "$rc"
if [[ $rc != 0 ]]; then
	grep -E -A12 "Invalid|uninitialised|definitely lost|ERROR SUMMARY" "$VG" | head -n 80 >&2
fi
log "$(grep 'ERROR SUMMARY' "$VG" | tail -1 | sed 's/^==[0-9]*== //')"
rfs_finish
