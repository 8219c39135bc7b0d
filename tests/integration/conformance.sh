#!/bin/bash
# Passthrough conformance: tests/tools/conform runs one list of system-call steps (root and
# two unprivileged users, by numeric ids) on a plain directory and on an rmtabfs mount over a
# directory of the same file system, once per start mode (RFS_CONFORM_MODES, default "fg bg
# mount"), with the daemon's default cache timeouts. The outcomes must be equal step by
# step; the only differences allowed are the ones README ("What the passthrough supports")
# lists, each with the exact outcome the mount must give.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/start-modes.sh"
[[ -c /dev/fuse ]] || rfs_need_fuse
rfs_private_ns "$@"
rfs_setup

CONFORM=$RFS_TOOLS/conform
[[ -x $CONFORM ]] || die "missing $CONFORM"

# Steps whose outcome on the mount differs by design: "text of the step" -> the mount's
# outcome (what follows the step's text on its line, up to the first " |").
declare -A ALLOWED=(
	["R open O_TMPFILE"]="-> EOPNOTSUPP"
)

mkdir -p "$RFS_WORK/plain/c"
chmod 0755 "$RFS_WORK" "$RFS_WORK/plain" "$RFS_WORK/plain/c"
"$CONFORM" "$RFS_WORK/plain/c" >"$RFS_WORK/plain.out" 2>"$RFS_WORK/plain.err" ||
	die "conform on the plain directory: $(cat "$RFS_WORK/plain.err")"
nsteps=$(wc -l <"$RFS_WORK/plain.out")
log "plain directory: $nsteps steps"
((nsteps > 500)) || fail "only $nsteps steps"

# compare FILE: prints the differing steps (mount vs plain), returns how many are not allowed.
compare() {
	python3 - "$RFS_WORK/plain.out" "$1" "$(declare -p ALLOWED)" <<'PY'
import re, sys
plain = open(sys.argv[1]).read().splitlines()
mnt = open(sys.argv[2]).read().splitlines()
allowed = dict(re.findall(r'\["([^"]*)"\]="([^"]*)"', sys.argv[3]))
bad = 0
if len(plain) != len(mnt):
    print(f"  step count differs: plain {len(plain)}, mount {len(mnt)}")
    bad += 1
for p, m in zip(plain, mnt):
    if p == m:
        continue
    head = m.split(" -> ")[0][5:]
    outcome = "-> " + m.split(" -> ", 1)[1].split(" |")[0] if " -> " in m else ""
    if allowed.get(head) == outcome:
        print(f"  allowed: {m[:160]}")
        continue
    bad += 1
    print(f"  plain: {p}\n  mount: {m}")
print(f"  {bad} difference(s)")
sys.exit(min(bad, 100))
PY
}

modes=${RFS_CONFORM_MODES:-fg bg mount}
for mode in $modes; do
	mnt=$RFS_WORK/nfs-$mode
	mkdir -p "$mnt"
	chmod 0755 "$mnt"
	opts="statedir=$RFS_WORK/state-$mode,store=dir:$RFS_WORK/store-$mode,node=n-$mode"
	opts+=",ctl=$RFS_WORK/$mode.sock"
	sm_start "$mode" "$mnt" "$opts" || { fail "$mode: mount failed"; cat "$RFS_WORK/$mode.log" >&2; continue; }
	mkdir "$mnt/c" && chmod 0755 "$mnt/c" || fail "$mode: mkdir through the mount"
	t0=$(date +%s.%N)
	"$CONFORM" "$mnt/c" >"$RFS_WORK/$mode.out" 2>"$RFS_WORK/$mode.err" ||
		fail "$mode: conform failed: $(cat "$RFS_WORK/$mode.err")"
	t1=$(date +%s.%N)
	log "$mode: $(wc -l <"$RFS_WORK/$mode.out") steps on the mount in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
	RFS_CHECKS=$((RFS_CHECKS + 1))
	if compare "$RFS_WORK/$mode.out" >"$RFS_WORK/$mode.diff"; then
		log "ok: $mode: every step as on the plain directory"
		grep '^  allowed' "$RFS_WORK/$mode.diff" >&2 || true
	else
		fail "$mode: outcomes differ from the plain directory"
		head -n 80 "$RFS_WORK/$mode.diff" >&2
	fi
	check "$mode: the daemon stops at unmount" sm_stop "$mnt"
done
check "no sanitizer reports from the daemons" sm_no_reports
rfs_finish
