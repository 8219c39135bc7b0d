#!/bin/bash
# Replays rpc.mountd 2.6.2's rmtab code paths syscall for syscall (tests/tools/mountd_replay:
# r+ in-place bump, append, rmtab.tmp renamed before it is written, UMNTALL rewrite, DUMP
# gated on st_mtime seconds, the ha-callout child's extra flushes) on a plain directory and on
# rmtabfs, and requires the same bytes in rmtab; then concurrent writers lose nothing.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup
R=$RFS_TOOLS/mountd_replay
PLAIN=$RFS_WORK/plain
M=$RFS_WORK/mnt
mkdir -p "$PLAIN" "$M"
: >"$PLAIN/rmtab"
rfs_start n1 "$M" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1" || die mount

# A callout that does what a real one may: nothing but exist (its exit flushes our fds).
callout=$RFS_WORK/callout
printf '#!/bin/sh\nexit 0\n' >"$callout"
chmod +x "$callout"

script=$RFS_WORK/script
{
	for i in 1 2 3 4 5; do echo "mnt 10.0.0.$i /export/a"; done
	echo "mnt 10.0.0.3 /export/a"
	echo "mnt ::1 /export/a"
	echo "mnt fe80::1%eth0 /export/b"
	echo "mnt 10.0.0.3 /export/a"
	echo "umnt 10.0.0.2 /export/a"
	echo "umnt 10.0.0.3 /export/a"
	echo "umnt 10.0.0.9 /export/a"
	echo "umntall localhost"
	echo "mnt 10.0.0.2 /export/a"
	echo "mnt 10.0.0.2 /export/with space"
	for i in $(seq 1 60); do echo "mnt 10.1.0.$i /export/a/sub$i"; done
	for i in $(seq 1 60 | sort -R --random-source=<(yes)); do echo "umnt 10.1.0.$i /export/a/sub$i"; done
	echo "dump"
} >"$script"
"$R" -q -H "$callout" "$PLAIN" script <"$script" >"$RFS_WORK/plain.out"
"$R" -q -H "$callout" "$M" script <"$script" >"$RFS_WORK/mnt.out"
check_eq "same rmtab bytes on rmtabfs as on a plain directory" "$(cat "$PLAIN/rmtab")" \
	"$(cat "$M/rmtab")"
check_eq "same replies to every operation" "$(grep -v '^dump' "$RFS_WORK/plain.out")" \
	"$(grep -v '^dump' "$RFS_WORK/mnt.out")"
check "no rmtab.tmp left" rfs_gone "$M/rmtab.tmp"

# The DUMP cache: after each MNT, a DUMP in the same process must see it (mtime changed).
{
	for i in $(seq 1 30); do
		echo "mnt 10.2.0.$i /export/c"
		echo "dump"
	done
} | "$R" -q "$M" script >"$RFS_WORK/dump.out"
stale=0
for i in $(seq 1 30); do
	awk -v c="10.2.0.$i" -v n="$i" '
		/^dump/ { d++ } d == n && $1 == c { found = 1 } END { exit !found }' \
		"$RFS_WORK/dump.out" || stale=$((stale + 1))
done
check_eq "every DUMP right after an MNT lists it (mtime never repeats)" 0 "$stale"

# Four mountd processes at once (as mountd -t 4): serialised by .rmtab.lock, nothing lost.
writers=()
for w in 1 2 3 4; do
	(for i in $(seq 1 100); do echo "mnt 10.3.$w.$((i % 10)) /export/par$w"; done) |
		"$R" -q "$M" script >/dev/null &
	writers+=($!)
done
wait "${writers[@]}"
total=0
while IFS=: read -r _ path count; do
	[[ $path == /export/par* ]] && total=$((total + count))
done <"$M/rmtab"
check_eq "4 concurrent writers x 100 MNT: counts add up to 400" 400 "$total"
check_eq "40 distinct records" 40 "$(grep -c ":/export/par" "$M/rmtab")"
rfs_stop n1 "$M" >/dev/null
rfs_finish
