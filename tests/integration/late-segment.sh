#!/bin/bash
# A segment of another node's log that looked complete when its node had begun the next one,
# and then grew: Gluster served a segment short (a replica that was behind, after bricks had
# died in turn) and whole a moment later, and a reader that went on for good never applied
# its last ops (CI chaos-gluster: one node lacked 47 of another's changes for good). Made by
# hand on a dir: store: node x's 15 ops are split into segment N (ops 1-5) and N+1 (ops
# 11-15); a reader y starting then shows 10 records; ops 6-10 are then appended to segment N
# (the replica healed): y must show all 15 within seconds, and say so in its log.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
rfs_setup
S=$RFS_WORK/store
mkdir -p "$RFS_WORK/x" "$RFS_WORK/y"
rfs_start x "$RFS_WORK/x" "node=x,store=dir:$S,statedir=$RFS_WORK/x.state" || die "x did not start"
for i in $(seq 1 15); do echo "10.5.0.$i:/export/x" >>"$RFS_WORK/x/rmtab"; done
shipped() { rfs_ctl x status 2>/dev/null | grep -q '^backlog: *0 op'; }
wait_for 20 shipped || die "x did not ship its 15 ops"
rfs_stop x "$RFS_WORK/x"

# Segment 0 is nodes/x.log, segment N > 0 nodes/x.log.N (fs/store/layout.c).
seg=$(cd "$S/nodes" && ls x.log* | sed 's/^x\.log\.\{0,1\}//; s/^$/0/' | sort -n | tail -n 1)
seg_path() { if (($1 == 0)); then echo "$S/nodes/x.log"; else echo "$S/nodes/x.log.$1"; fi; }
LOG=$(seg_path "$seg")
check_eq "x's 15 ops are in one segment ($LOG)" 15 "$(rfs_count '^s ' "$LOG")"
awk 'NR >= 6 && NR <= 10' "$LOG" >"$RFS_WORK/late"
awk 'NR >= 11' "$LOG" >"$(seg_path $((seg + 1)))"
awk 'NR <= 5' "$LOG" >"$RFS_WORK/short" && cat "$RFS_WORK/short" >"$LOG"
check_eq "the late part holds ops 6-10" 5 "$(rfs_count -E '10\.5\.0\.([6-9]|10) ' "$RFS_WORK/late")"

rfs_start y "$RFS_WORK/y" "node=y,store=dir:$S,statedir=$RFS_WORK/y.state" || die "y did not start"
ten() { [[ $(rfs_count . "$RFS_WORK/y/rmtab") == 10 ]]; }
wait_for 20 ten || fail "y does not show the 10 records of the short segment and the next"
check "y does not show op 6 yet" rfs_absent '^10\.5\.0\.6:' "$RFS_WORK/y/rmtab"

cat "$RFS_WORK/late" >>"$LOG" # the replica that was behind is whole again
t0=$(date +%s%N)
fifteen() { [[ $(rfs_count . "$RFS_WORK/y/rmtab") == 15 ]]; }
if wait_for 20 fifteen; then
	log "y shows the late ops after $((($(date +%s%N) - t0) / 1000000)) ms"
else
	fail "y never applied the ops that appeared late in segment $seg"
fi
check "y says it applied a segment that grew after it went on" \
	grep -q "segment $seg grew from .* after this node had gone on" "$RFS_WORK/y.log"
rfs_stop y "$RFS_WORK/y"
rfs_finish
