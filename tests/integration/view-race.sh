#!/bin/bash
# Readers through the page cache against writers of the same view (DESIGN §10): threads
# append records as rpc.mountd's fopen("a") does, or open the view "r+" as its look-up
# does, while other threads read it as Python's read() and stdio do (fstat, st_size + 1
# bytes, then to end of file). Every read must be exactly one committed generation: no
# NUL byte (the cache's padding past a READ that ended early, seen when a writer's append
# moved the size of the kernel inode the readers cache), whole well-formed lines, none
# missing that an earlier read had (tests/tools/view_race.c). Writers must never fail
# (an open refused with ESTALE is retried by the kernel through a new lookup).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"
rfs_setup
M=$RFS_WORK/mnt
mkdir -p "$M"
rfs_start n1 "$M" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1" || die mount
secs=${VIEW_RACE_SECONDS:-20}
# A list of some size, so a read spans pages and the last one ends part-way.
awk 'BEGIN { for (i = 0; i < 300; i++) printf "10.1.%d.%d:/export/base/d%05d:0x00000001\n", int(i / 256), i % 256, i }' >"$M/rmtab"
rc=0
"$RFS_TOOLS/view_race" "$M/rmtab" "$secs" 3 2 >"$RFS_WORK/race.out" 2>"$RFS_WORK/race.err" || rc=$?
log "$(cat "$RFS_WORK/race.out")"
log "daemon: $(rfs_ctl n1 status | grep -E '^view-(reads|opens|generations-made)' | tr '\n' ' ')"
head -20 "$RFS_WORK/race.err" >&2 || true
check "view_race ran ($(cat "$RFS_WORK/race.out"))" grep -q '^reads [1-9][0-9]* ' "$RFS_WORK/race.out"
check "every read was exactly one committed generation, every write landed" test "$rc" -eq 0
check "the records written are all in the view" test "$(grep -c /export/race/ "$M/rmtab")" -eq \
	"$(awk '{ print $6 }' "$RFS_WORK/race.out")"
rfs_finish
