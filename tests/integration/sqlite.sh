#!/bin/bash
# SQLite through the passthrough (nfsdcld keeps nfsdcld/main.sqlite under /var/lib/nfs):
# two processes write one database concurrently, in rollback-journal and in WAL mode
# (WAL maps the -shm file MAP_SHARED: the passthrough's files use the page cache, not
# direct I/O), then PRAGMA integrity_check. The same run on a plain directory of the same
# file system must agree: no error on either, every row there, the same counters.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/start-modes.sh"
rfs_setup
N=${RFS_SQLITE_TXNS:-1000} # transactions per process and mode

cat >"$RFS_WORK/writer.py" <<'PY'
import sqlite3, sys
db, who, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = sqlite3.connect(db, timeout=120, isolation_level=None)
for i in range(n):
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO t(w, i, pad) VALUES (?, ?, ?)", (who, i, "x" * (50 + i % 200)))
    con.execute("UPDATE c SET n = n + 1 WHERE w = ?", (who,))
    if i % 100 == 99:
        con.execute("DELETE FROM t WHERE w = ? AND i = ?", (who, i - 50))
    con.execute("COMMIT")
con.close()
PY

# run DIR MODE: prints the outcome; returns non-zero on any error.
run() {
	local dir=$1 mode=$2 db=$1/$2.sqlite p1 p2 rc=0
	python3 - "$db" "$mode" <<'PY' || return 1
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
mode = con.execute("PRAGMA journal_mode=" + ("wal" if sys.argv[2] == "wal" else "delete")).fetchone()[0]
assert mode == sys.argv[2], mode
con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, w INT, i INT, pad TEXT)")
con.execute("CREATE TABLE c(w INT PRIMARY KEY, n INT)")
con.execute("INSERT INTO c VALUES (1, 0), (2, 0)")
PY
	python3 "$RFS_WORK/writer.py" "$db" 1 "$N" 2>"$dir/$mode.err1" &
	p1=$!
	python3 "$RFS_WORK/writer.py" "$db" 2 "$N" 2>"$dir/$mode.err2" &
	p2=$!
	wait "$p1" || rc=1
	wait "$p2" || rc=1
	cat "$dir/$mode.err1" "$dir/$mode.err2" >&2
	sqlite3 "$db" "PRAGMA integrity_check; PRAGMA journal_mode; SELECT count(*), sum(i) FROM t; SELECT group_concat(n) FROM c;" ||
		rc=1
	return $rc
}

mkdir -p "$RFS_WORK/plain" "$RFS_WORK/nfs"
mnt=$RFS_WORK/nfs
sm_start fg "$mnt" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1,ctl=$RFS_WORK/n1.sock" ||
	die "mount failed"
mkdir -p "$mnt/nfsdcld"
for mode in delete wal; do
	t0=$(date +%s.%N)
	plain=$(run "$RFS_WORK/plain" "$mode") || fail "$mode: errors on the plain directory"
	t1=$(date +%s.%N)
	onmnt=$(run "$mnt/nfsdcld" "$mode") || fail "$mode: errors on the mount"
	t2=$(date +%s.%N)
	log "$mode: $((2 * N)) transactions from 2 processes: plain $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, mount $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s (loaded machine)"
	check_eq "$mode: integrity, rows and counters as on the plain directory" "$plain" "$onmnt"
	check_eq "$mode: integrity_check ok, all rows" "ok $mode $((2 * (N - N / 100)))" \
		"$(head -n 3 <<<"$onmnt" | cut -d'|' -f1 | tr '\n' ' ' | sed 's/ $//')"
done
check "the daemon stops at unmount" sm_stop "$mnt"
check "no sanitizer reports from the daemons" sm_no_reports
rfs_finish
