#!/bin/bash
# The real, unchanged Debian rpc.mountd with rmtabfs mounted over /var/lib/nfs, driven by
# MOUNT v3 RPCs (MNT, UMNT, UMNTALL, DUMP) and showmount, in a private mount+net namespace
# with its own rpcbind; the kernel side of nfsd is faked by tests/tools/fakenfsd.so.
# Also: first start imports the underlying rmtab and leaves it as it was; a DUMP in the same
# second as an MNT lists it; kill -9 loses nothing; SIGTERM unmounts in under a second.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/mountd-env.sh"
rfs_need_fuse
mountd_env_reexec "$0" "$@"
mountd_env_setup
rfs_setup

NFS=/var/lib/nfs
UNDER=$RFS_WORK/under
EXP=/export/a
OPTS="statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=alpha"

# The directory underneath: a seeded tmpfs, also reachable through a bind mount so the test
# can see what lies under the overlay.
mount -t tmpfs -o mode=0755 rfs-under "$NFS"
mkdir -p "$UNDER" "$NFS/sm" "$NFS/sm.bak" "$NFS/v4recovery"
: >"$NFS/etab"
printf '10.9.9.9:/export/a:0x00000003\n' >"$NFS/rmtab"
mount --bind "$NFS" "$UNDER"
under_before=$(cat "$UNDER/rmtab")

mkdir -p /export
mount -t tmpfs -o mode=0755 rfs-export /export
mkdir -p "$EXP"/sub{1..40}

rfs_start alpha "$NFS" "$OPTS" || die "rmtabfs did not mount"
check_eq "first start imports the underlying rmtab" "10.9.9.9:/export/a:0x00000003" \
	"$(cat $NFS/rmtab)"

etab_ino_before=$(stat -c %i "$NFS/etab")
mountd_env_exports "$EXP"
check "exportfs replaced etab through the mount (new inode)" \
	test "$(stat -c %i "$NFS/etab")" != "$etab_ino_before"
check "etab lists the export" grep -q "^$EXP" "$NFS/etab"
mountd_start

mnt3 127.0.0.1 mnt "$EXP" >/dev/null
mnt3 127.0.0.1 mnt "$EXP" >/dev/null
check "two MNT from 127.0.0.1 count 2" grep -qx "127.0.0.1:$EXP:0x00000002" "$NFS/rmtab"
mnt3 ::1 mnt "$EXP" >/dev/null
check "MNT from ::1 is written with ';'" grep -qx ";;1:$EXP:0x00000001" "$NFS/rmtab"
check_eq "rmtab in first-seen order" \
	"10.9.9.9:$EXP:0x00000003 127.0.0.1:$EXP:0x00000002 ;;1:$EXP:0x00000001" \
	"$(tr '\n' ' ' <"$NFS/rmtab" | sed 's/ $//')"

# DUMP right after MNT, many times: mountd caches by st_mtime seconds, so a repeated
# mtime would hide the new client.
stale=0
for i in $(seq 1 40); do
	mnt3 127.0.0.1 mnt "$EXP/sub$i" >/dev/null
	mnt3 127.0.0.1 dump | grep -q "^127.0.0.1 $EXP/sub$i\$" || stale=$((stale + 1))
done
check_eq "DUMP right after each of 40 MNTs lists the new mount" 0 "$stale"
check "showmount -a lists IPv4 and IPv6 clients" \
	bash -c "showmount -a 127.0.0.1 | grep -q '^127.0.0.1:$EXP\$' &&
		showmount -a 127.0.0.1 | grep -q '^::1:$EXP\$'"

mnt3 127.0.0.1 umnt "$EXP" >/dev/null
check "UMNT decrements in place" grep -qx "127.0.0.1:$EXP:0x00000001" "$NFS/rmtab"
mnt3 127.0.0.1 umnt "$EXP/sub7" >/dev/null
check "UMNT of a count-1 record removes it" rfs_absent ":$EXP/sub7:" "$NFS/rmtab"
before=$(cat "$NFS/rmtab")
mnt3 127.0.0.1 umntall >/dev/null
check_eq "UMNTALL (no reverse name matches) keeps every record" "$before" "$(cat $NFS/rmtab)"
check "no rmtab.tmp is left underneath" rfs_gone "$UNDER/rmtab.tmp"
check_eq "the underlying rmtab is left as it was" "$under_before" "$(cat "$UNDER/rmtab")"
check "the store holds this node's log" test -s "$RFS_WORK/store/nodes/alpha.log"
check "mountd logged no malformed rmtab" rfs_absent -i malformed "$MOUNTD_LOG"

# kill -9: every acknowledged change is in the journal.
want=$(cat "$NFS/rmtab")
rfs_kill9 alpha "$NFS"
rfs_start alpha "$NFS" "$OPTS" || die "restart after kill -9"
check_eq "kill -9 and restart: same records" "$want" "$(cat "$NFS/rmtab")"
mnt3 127.0.0.1 mnt "$EXP/sub7" >/dev/null
check "MNT works after the restart" grep -qx "127.0.0.1:$EXP/sub7:0x00000001" "$NFS/rmtab"
want=$(cat "$NFS/rmtab")

# SIGTERM: unmounted and gone within a second.
t0=$(date +%s%N)
kill -TERM "${RFS_PIDS[alpha]}"
rfs_reap alpha
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
log "SIGTERM to exit: $ms ms"
check_eq "SIGTERM: the daemon exits 0" 0 "$RFS_EXIT"
check "SIGTERM stops the daemon within a second ($ms ms)" test "$ms" -lt 1000
not_mounted() { ! rfs_is_mounted "$1"; }
check "SIGTERM unmounted" not_mounted "$NFS"
rfs_start alpha "$NFS" "$OPTS" || die "restart after SIGTERM"
check_eq "clean restart: same records" "$want" "$(cat "$NFS/rmtab")"
rfs_stop alpha "$NFS"
secs=$RFS_STOP_SECS
log "fusermount3 -u to exit: $secs s"
check "fusermount3 -u ends the daemon within a second" awk -v s="$secs" 'BEGIN { exit !(s < 1) }'
mountd_stop
rfs_finish
