#!/bin/bash
# Planned restart (rmtabctl restart, SIGUSR2): the real rpc.mountd at 100 MNT/s (open loop), a
# reader of rmtab in a loop and a process writing to files it keeps open under sm/ run while
# the daemon is reloaded 10 times, alternating between two builds whose version strings
# differ. Nothing may notice: 0 failed MNTs, every read of rmtab a whole generation, every
# write to the open files lands, every record reaches a second node. Then a missing, a
# non-executable, a dying and an incompatible (unknown handover format) binary are refused
# with a non-zero exit status and a log line, and the old image keeps serving.
# Prints the longest MNT of the run (the reloads' cost; goal <= 100 ms, not asserted: the
# machine is shared) and the take-over times the old images logged.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/mountd-env.sh"
rfs_need_fuse
mountd_env_reexec "$0" "$@"
mountd_env_setup
rfs_setup

NFS=/var/lib/nfs
EXP=/export/a
NMNT=${RELOAD_MNTS:-2500}
RATE=100
A=$RFS_BIN
B=$RFS_BUILD/tests/rmtabfs-alt
BAD=$RFS_BUILD/tests/rmtabfs-hov99
for f in "$A" "$B" "$BAD"; do [[ -x $f ]] || die "missing build $f"; done
VA=$("$A" --version | awk '{print $2}')
VB=$("$B" --version | awk '{print $2}')
[[ $VA != "$VB" ]] || die "the two builds say the same version ($VA)"
PY=python3
HELPER=$here/../tools/bench_helper.py

# The binary the daemon runs is replaced the way a package manager does: new file, rename.
mkdir -p "$RFS_WORK/sbin"
install_bin() { cp "$1" "$RFS_WORK/sbin/.rmtabfs.new" && mv -f "$RFS_WORK/sbin/.rmtabfs.new" "$RFS_WORK/sbin/rmtabfs"; }
install_bin "$A"
RFS_BIN=$RFS_WORK/sbin/rmtabfs

mount -t tmpfs -o mode=0755 rfs-under "$NFS"
mkdir -p "$NFS/sm" "$NFS/sm.bak" "$NFS/v4recovery"
: >"$NFS/etab"
: >"$NFS/rmtab"
mkdir -p /export
mount -t tmpfs -o mode=0755 rfs-export /export
mkdir -p "$EXP"
(cd "$EXP" && for ((i = 0; i < NMNT; i++)); do printf 'd%05d\n' "$i"; done | xargs mkdir)

STORE="store=dir:$RFS_WORK/store"
rfs_start alpha "$NFS" "statedir=$RFS_WORK/state-a,$STORE,node=alpha" || die "rmtabfs did not mount"
mkdir -p "$RFS_WORK/b"
rfs_start beta "$RFS_WORK/b" "statedir=$RFS_WORK/state-b,$STORE,node=beta" || die "second node did not mount"
mountd_env_exports "$EXP"
mountd_start

# The current daemon of node alpha: a reload gives it a new pid.
version_of() { rfs_ctl alpha status | awk -F': *' '$1 == "version" { print $2 }'; }
version_is() { [[ $(version_of) == "$1" ]]; }
check_eq "build A serves" "$VA" "$(version_of)"

# A reader: each read of rmtab must be whole lines of one generation; records only come
# (distinct paths), so a read that lacks a line an earlier read had is a mixed or stale read.
$PY - "$NFS/rmtab" "$RFS_WORK/reader.stop" >"$RFS_WORK/reader.out" 2>&1 <<'PY' &
import os, re, sys, time
path, stop = sys.argv[1], sys.argv[2]
ok = re.compile(rb'^[^:\n]+:/[^\n]*:0x[0-9a-f]{8}$')
prev, reads, bad = set(), 0, 0
while not os.path.exists(stop):
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as e:
        bad += 1; print('read error', e); time.sleep(0.01); continue
    reads += 1
    if data and not data.endswith(b'\n'):
        bad += 1; print('short read', len(data)); continue
    lines = data.split(b'\n')[:-1] if data else []
    cur = set(lines)
    if len(cur) != len(lines) or any(not ok.match(l) for l in lines):
        bad += 1; print('malformed read'); continue
    if not prev <= cur:
        bad += 1; print('mixed or stale read: %d lines missing' % len(prev - cur))
    prev = cur
    time.sleep(0.002)
print('reads %d bad %d' % (reads, bad))
PY
READER=$!
# A writer keeping files open under sm/ (as statd keeps its monitor files).
$PY - "$NFS/sm" "$RFS_WORK/writer.stop" >"$RFS_WORK/writer.out" 2>&1 <<'PY' &
import os, sys, time
d, stop = sys.argv[1], sys.argv[2]
fds = [os.open(os.path.join(d, 'client%d' % i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for i in range(4)]
n, errors = 0, 0
while not os.path.exists(stop):
    for i, fd in enumerate(fds):
        try:
            os.write(fd, b'%d\n' % n)
        except OSError as e:
            errors += 1; print('write error', e)
    n += 1
    time.sleep(0.02)
for fd in fds:
    try:
        os.fsync(fd); os.close(fd)
    except OSError as e:
        errors += 1; print('close error', e)
want = ''.join('%d\n' % k for k in range(n))
for i in range(len(fds)):
    got = open(os.path.join(d, 'client%d' % i)).read()
    if got != want:
        errors += 1; print('client%d: content differs (%d of %d bytes)' % (i, len(got), len(want)))
print('writes %d errors %d' % (n * len(fds), errors))
PY
WRITER=$!

$PY "$HELPER" feed "$EXP/d" "$NMNT" "$RATE" "$RFS_WORK/feed.stop" |
	"$RFS_MNT3" 127.0.0.1 script 2>&1 | $PY "$HELPER" stamp >"$RFS_WORK/mnt.out" &
FEED=$!
sleep 2

# Sessions open across a reload: an rmtab write session (append, not flushed yet), a reader
# that has read part of its snapshot, and a staging file (rmtab.tmp, as mountd and gNFS
# write) filled but not yet renamed. They finish after the reload, in the new image.
$PY - "$NFS" "$RFS_WORK/session" >"$RFS_WORK/session.out" 2>&1 <<'PY' &
import os, sys, time
nfs, sync = sys.argv[1], sys.argv[2]
rmtab = os.path.join(nfs, 'rmtab')
w = os.open(rmtab, os.O_WRONLY | os.O_APPEND)
os.write(w, b'10.250.0.1:/export/session:0x00000001\n')
r = os.open(rmtab, os.O_RDONLY)
head = os.read(r, 10)
t = os.open(os.path.join(nfs, 'rmtab.tmp'), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
with open(rmtab, 'rb') as f:
    base = f.read()
os.write(t, base + b'10.250.0.2:/export/staged:0x00000001\n')
open(sync + '.ready', 'w').close()
while not os.path.exists(sync + '.go'):
    time.sleep(0.05)
errors = 0
try:
    os.close(w)  # flush: commits the appended line
except OSError as e:
    errors += 1; print('append session: close failed:', e)
rest = b''
while True:
    b = os.read(r, 65536)
    if not b:
        break
    rest += b
snap = head + rest
if len(head) < 10 or not snap.endswith(b'\n') or b'/export/session' in snap:
    errors += 1; print('reader: not the snapshot it opened (%d bytes)' % len(snap))
os.close(r)
os.close(t)
try:
    os.rename(os.path.join(nfs, 'rmtab.tmp'), rmtab)
except OSError as e:
    errors += 1; print('staged rename failed:', e)
with open(rmtab, 'rb') as f:
    now = f.read()
for key in (b'10.250.0.1:/export/session:', b'10.250.0.2:/export/staged:'):
    if key not in now:
        errors += 1; print('missing after the reload:', key.decode())
print('sessions errors %d' % errors)
PY
SESSION=$!
wait_for 10 test -e "$RFS_WORK/session.ready" || die "the session helper did not get ready"


# rmtabctl add in a loop through the reloads: each acknowledged record must survive (a
# command under way when a reload starts finishes first; one that comes during it is refused
# with "restarting" and retried here, or waits in the socket's queue for the new image).
(
	i=0
	while [[ ! -e $RFS_WORK/adder.stop ]]; do
		if out=$(rfs_ctl alpha add "10.251.0.$((i % 250 + 1))" "/export/ctl/a$i" 2>&1); then
			echo "acked $i"
			i=$((i + 1))
		else
			echo "retry $i: $out"
		fi
		sleep 0.02
	done
) >"$RFS_WORK/adder.out" 2>&1 &
ADDER=$!

# Ten reloads, alternating builds; one of them by signal (systemd's ExecReload may send one).
declare -a took=()
for ((r = 1; r <= 10; r++)); do
	if ((r % 2)); then bin=$B want=$VB; else bin=$A want=$VA; fi
	install_bin "$bin"
	t0=$(date +%s%N)
	if ((r == 5)); then
		old=$(pgrep -n -f "^$RFS_WORK/sbin/rmtabfs .*node=alpha")
		[[ -n $old ]] || die "reload $r: no daemon of node alpha found"
		kill -USR2 "$old"
		wait_for 10 version_is "$want" || true
		log "reload $r: SIGUSR2 to pid $old"
	else
		out=$(rfs_ctl alpha restart 2>&1) || fail "reload $r: rmtabctl restart failed: $out"
		log "reload $r: $out"
	fi
	echo "$t0 $(date +%s%N)" >>"$RFS_WORK/reloads"
	check_eq "reload $r: the new build serves" "$want" "$(version_of)"
	if ((r == 1)); then
		touch "$RFS_WORK/session.go"
		wait $SESSION || true
		log "sessions across reload 1: $(tail -1 "$RFS_WORK/session.out")"
		check "open write session, reader and staging file finished in the new image" \
			grep -q '^sessions errors 0$' "$RFS_WORK/session.out"
	fi
	sleep 1.5
done

# Refusals: the old image keeps serving and says why.
refuse() { # WHAT: rmtabctl restart must fail, the log say why, the mount still serve
	local what=$1 before out rc=0 nref
	before=$(version_of)
	nref=$(rfs_count "reload refused" "$RFS_WORK/alpha.log")
	out=$(rfs_ctl alpha restart 2>&1) || rc=$?
	RFS_CHECKS=$((RFS_CHECKS + 1))
	[[ $rc != 0 ]] || fail "$what: rmtabctl restart succeeded"
	log "$what: exit status $rc: $out"
	check_eq "$what: a log line says the reload was refused" "$((nref + 1))" \
		"$(rfs_count "reload refused" "$RFS_WORK/alpha.log")"
	check_eq "$what: the old image still serves" "$before" "$(version_of)"
	check "$what: rmtab still reads" test -n "$(cat "$NFS/rmtab")"
}
rm -f "$RFS_WORK/sbin/rmtabfs"
refuse "missing binary"
install_bin "$A"
chmod a-x "$RFS_WORK/sbin/rmtabfs"
refuse "binary not executable"
printf '#!/bin/sh\nexit 3\n' >"$RFS_WORK/dies"
chmod +x "$RFS_WORK/dies"
install_bin "$RFS_WORK/dies"
refuse "a binary that dies at start"
check "the log gives the dead image's exit status" grep -q "ended before taking over (exit status 3)" "$RFS_WORK/alpha.log"
install_bin "$BAD"
refuse "unknown handover format"
check "the incompatible binary said why" grep -q "handover format" "$RFS_WORK/alpha.log"
install_bin "$A"

wait $FEED || true
touch "$RFS_WORK/reader.stop" "$RFS_WORK/writer.stop" "$RFS_WORK/adder.stop"
wait $ADDER || true
wait $READER || true
wait $WRITER || true

# mnt.out: "TIME_NS mnt PATH ok|STATUS LATENCYus" (reply time). An MNT counts as during a
# reload when it was in flight at any moment of a reload command (start to answer).
read -r nok nbad during outside p99 < <($PY - "$RFS_WORK/mnt.out" "$RFS_WORK/reloads" <<'PY'
import sys
wins = [tuple(map(int, l.split())) for l in open(sys.argv[2])]
ok = bad = 0
during, outside, lat = 0.0, 0.0, []
for line in open(sys.argv[1]):
    w = line.split()
    if len(w) < 5 or w[1] != 'mnt':
        continue
    ms = float(w[-1].rstrip('us')) / 1000
    t = int(w[0])
    if w[3] == 'ok':
        ok += 1
    else:
        bad += 1
    lat.append(ms)
    if any(t - ms * 1e6 <= b and t >= a for a, b in wins):
        during = max(during, ms)
    else:
        outside = max(outside, ms)
lat.sort()
p99 = lat[max(0, (len(lat) * 99 + 99) // 100 - 1)] if lat else 0
print(ok, bad, '%.1f' % during, '%.1f' % outside, '%.1f' % p99)
PY
)
check_eq "every MNT answered" "$NMNT" "$((nok + nbad))"
check_eq "no MNT failed" 0 "$nbad"
log "MNT: $nok ok, $nbad failed at $RATE MNT/s; longest MNT during a reload: $during ms (goal <= 100), longest otherwise: $outside ms, p99 $p99 ms (measured on a loaded machine)"
log "reader: $(tail -1 "$RFS_WORK/reader.out")"
check "no short, mixed or failed read of rmtab" grep -Eq '^reads [1-9][0-9]* bad 0$' "$RFS_WORK/reader.out"
log "writer: $(tail -1 "$RFS_WORK/writer.out")"
check "the open files under sm/ kept working" grep -Eq '^writes [1-9][0-9]* errors 0$' "$RFS_WORK/writer.out"
log "take-over times: $(grep -o 'took over in [0-9]* ms' "$RFS_WORK/alpha.log" | awk '{print $4}' | tr '\n' ' ')"

# Every record reaches the second node.
for ((i = 0; i < 100; i++)); do
	n=$(rfs_count ":$EXP/d" "$RFS_WORK/b/rmtab")
	((n >= NMNT)) && break
	sleep 0.2
done
check_eq "every record is on the second node" "$NMNT" "$(rfs_count ":$EXP/d" "$RFS_WORK/b/rmtab")"
check_eq "alpha lists every record" "$NMNT" "$(rfs_count ":$EXP/d" "$NFS/rmtab")"
nacked=$(rfs_count '^acked ' "$RFS_WORK/adder.out")
log "rmtabctl add during the reloads: $nacked acknowledged, $(rfs_count '^retry ' "$RFS_WORK/adder.out") refused while restarting (retried)"
check "rmtabctl add was acknowledged during the run" test "$nacked" -gt 50
check_eq "every acknowledged rmtabctl add is in rmtab" "$nacked" "$(rfs_count ':/export/ctl/a' "$NFS/rmtab")"

mountd_stop
# Stop the current image (not the shell's child any more): unmount, wait for it to end.
pid=$(pgrep -n -f "^$RFS_WORK/sbin/rmtabfs .*node=alpha")
umount "$NFS"
for ((i = 0; i < 100; i++)); do [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "the reloaded daemon ended at unmount" test -z "$pid" -o ! -d "/proc/$pid"
unset "RFS_MNTS[alpha]" "RFS_PIDS[alpha]" "RFS_WAITS[alpha]"
rfs_stop beta "$RFS_WORK/b"
rfs_finish
