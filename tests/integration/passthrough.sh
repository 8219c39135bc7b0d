#!/bin/bash
# Passthrough on a non-empty directory, file by file, against the directory underneath:
# listings, inode numbers, contents, ownership of new files, renames within and across
# directories (statd's sm/X -> sm.bak/X, exportfs's etab.tmp -> etab), symlinks, links,
# chmod/chown/truncate/utimens, O_EXCL|O_SYNC creation, statfs and permission checks.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup

D=$RFS_WORK/nfs
U=$RFS_WORK/under
mkdir -p "$D" "$U"
# The seeded directory a running NFS server would have.
printf '/export\t*(rw)\n' >"$D/etab"
printf '\x03\x00\x00\x00' >"$D/state"
mkdir -p "$D/sm" "$D/sm.bak" "$D/v4recovery" "$D/nfsdcld" "$D/shared"
chown nobody:nogroup "$D/sm" "$D/sm.bak"
chmod 0700 "$D/sm"
echo "mon" >"$D/sm/client1"
chown nobody:nogroup "$D/sm/client1"
chmod 2777 "$D/shared"
chgrp nogroup "$D/shared"
ln -s etab "$D/etab.link"
mkfifo "$D/fifo"
printf 'old:/x:0x00000001\n' >"$D/rmtab"
mount --bind "$D" "$U"
rfs_start n1 "$D" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1" ||
	die "mount failed"

listing() { # DIR: name inode type size mode owner for every entry but rmtab
	(cd "$1" && find . -mindepth 1 ! -name rmtab -printf '%p %i %y %s %m %u %g\n' | sort)
}
check_eq "listings and inode numbers equal the directory underneath" "$(listing "$U")" \
	"$(listing "$D")"
check_eq "file content passes through" "$(cat "$U/etab")" "$(cat "$D/etab")"
check_eq "binary state file passes through" "$(od -An -tx1 "$U/state")" \
	"$(od -An -tx1 "$D/state")"
check_eq "symlink reads back" "etab" "$(readlink "$D/etab.link")"
check "rmtab is a view, the file underneath is hidden" test "$(ls "$D" | grep -c '^rmtab$')" = 1

echo "new export" >>"$D/etab"
check_eq "append lands underneath" "$(cat "$D/etab")" "$(cat "$U/etab")"

# exportfs: etab.tmp then rename over etab: a new inode number through the mount.
ino=$(stat -c %i "$D/etab")
printf '/export2\t*(ro)\n' >"$D/etab.tmp"
mv "$D/etab.tmp" "$D/etab"
check "rename over etab gives it a new inode" test "$(stat -c %i "$D/etab")" != "$ino"
check_eq "its inode is the one underneath" "$(stat -c %i "$U/etab")" "$(stat -c %i "$D/etab")"

# statd: sm/X -> sm.bak/X keeps the inode; its files stay statd's (nobody here).
ino=$(stat -c %i "$D/sm/client1")
mv "$D/sm/client1" "$D/sm.bak/client1"
check_eq "cross-directory rename keeps the inode" "$ino" "$(stat -c %i "$D/sm.bak/client1")"
check "renamed file is gone from sm underneath" rfs_gone "$U/sm/client1"

# New files belong to their creator, as statd (a non-root user) creates them.
su -s /bin/sh nobody -c "echo mon2 > '$D/sm/client2'"
check_eq "a file created by nobody is owned by nobody underneath" "nobody" \
	"$(stat -c %U "$U/sm/client2")"
su -s /bin/sh nobody -c "mkdir '$D/shared/d'"
check_eq "set-gid directory: new directory takes its group" "nogroup" \
	"$(stat -c %G "$U/shared/d")"
check "default_permissions: nobody cannot write root's etab" \
	bash -c "! su -s /bin/sh nobody -c 'echo x >> \"$D/etab\"' 2>/dev/null"
check "default_permissions: nobody cannot remove from root's directory" \
	bash -c "! su -s /bin/sh nobody -c 'rm -f \"$D/state\"' 2>/dev/null"

# statd's sm/<host> creation: O_WRONLY|O_CREAT|O_EXCL|O_SYNC, 0600; twice is EEXIST.
python3 - "$D/sm/client3" <<'PY'
import os, sys, errno
p = sys.argv[1]
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_SYNC, 0o600)
os.write(fd, b"x\n"); os.close(fd)
try:
    os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_SYNC, 0o600)
    sys.exit(1)
except OSError as e:
    sys.exit(0 if e.errno == errno.EEXIST else 2)
PY
check_eq "O_EXCL|O_SYNC create, then EEXIST" 0 "$?"
check_eq "mode 0600 underneath" "600" "$(stat -c %a "$U/sm/client3")"

# state.new -> state as rpc.statd does it.
printf '\x05\x00\x00\x00' >"$D/state.new"
mv "$D/state.new" "$D/state"
check_eq "state replaced by rename" "$(od -An -tx1 "$U/state")" "$(od -An -tx1 "$D/state")"

chmod 0640 "$D/etab"
check_eq "chmod" "640" "$(stat -c %a "$U/etab")"
chown nobody:nogroup "$D/etab"
check_eq "chown" "nobody:nogroup" "$(stat -c %U:%G "$U/etab")"
truncate -s 3 "$D/etab"
check_eq "truncate" "3" "$(stat -c %s "$U/etab")"
touch -d '2001-02-03 04:05:06' "$D/etab"
check_eq "utimens" "$(stat -c %Y "$U/etab")" "$(stat -c %Y "$D/etab")"
check_eq "utimens value" "$(date -d '2001-02-03 04:05:06' +%s)" "$(stat -c %Y "$U/etab")"
ln "$D/etab" "$D/etab.hard"
check_eq "hard link shares the inode" "$(stat -c %i "$U/etab")" "$(stat -c %i "$U/etab.hard")"
ln -s sm "$D/sm.link"
check_eq "new symlink" "sm" "$(readlink "$U/sm.link")"
mkdir "$D/v4recovery/abcdef" && rmdir "$D/v4recovery/abcdef"
check "mkdir and rmdir" rfs_gone "$U/v4recovery/abcdef"
rm "$D/etab.hard"
check "unlink" rfs_gone "$U/etab.hard"
check_eq "statfs is the underlying file system's" "$(stat -f -c '%b %S' "$U")" \
	"$(stat -f -c '%b %S' "$D")"
check "a FIFO passes through as a FIFO" test -p "$D/fifo"
check "rmdir of a non-empty directory fails" bash -c "! rmdir '$D/sm' 2>/dev/null"
check_eq "listings still equal after all that" "$(listing "$U")" "$(listing "$D")"
check_eq "the underlying rmtab was never touched" "old:/x:0x00000001" "$(cat "$U/rmtab")"
rfs_stop n1 "$D" >/dev/null
rfs_finish
