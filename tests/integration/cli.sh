#!/bin/bash
# rmtabctl against real rmtabfs daemons on temporary mount points (store dir:, state in the
# work directory): every command and its output (status and status --json, the list table and
# --json, add,
# remove, prune, import, export), each change as it shows in the mounted rmtab (here and on a
# second node sharing the store), the socket found from -m, and the errors: no daemon (exit 1,
# one clear line), bad arguments (exit 2, nothing sent), a bad import file (exit 1, naming the
# line), an unknown record, a non-root caller, a daemon that never answers, a full stdout;
# status --json in each of those (valid JSON, typed members, every line the daemon sends and
# everything the text status shows, an error object when the daemon cannot be reached).
# Also --help and --version of both programs.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
rfs_setup

W=$RFS_WORK
CTL=$RFS_CTL_BIN
MNT=$W/mnt
MNT2=$W/mnt2
mkdir -p "$MNT" "$MNT2"
OPTS="statedir=$W/state,store=dir:$W/store,node=n1"
# Local times are checked in a zone with a half-hour offset and no tzdata needed.
export TZ=XST-5:30

# run COMMAND...: never fails; sets RC, OUT and ERR.
run() {
	RC=0
	"$@" >"$W/out" 2>"$W/err" || RC=$?
	OUT=$(<"$W/out")
	ERR=$(<"$W/err")
}
one_line_matching() { # PATTERN: stderr is one line and matches
	if [[ -n $ERR && $(printf '%s\n' "$ERR" | wc -l) == 1 && $ERR =~ $1 ]]; then
		return 0
	fi
	printf '  stderr: %q\n' "$ERR" >&2
	return 1
}
# expect_fail DESCRIPTION STATUS PATTERN COMMAND...
expect_fail() {
	local what=$1 status=$2 pattern=$3
	shift 3
	run "$@"
	check_eq "$what: exit status $status" "$status" "$RC"
	check "$what: one line on stderr" one_line_matching "$pattern"
}
# expect_ok DESCRIPTION COMMAND...: exit 0 and nothing on stderr
expect_ok() {
	local what=$1
	shift
	run "$@"
	check_eq "$what: exit status 0" "0:" "$RC:$ERR"
}
rmtab() { cat "$MNT/rmtab"; }
json() { # PYTHON-EXPRESSION over d (the parsed JSON of $OUT)
	python3 -c "import json, sys; d = json.loads(sys.stdin.read()); print($1)" <<<"$OUT"
}
# status_json_error KIND ERRNO...: $OUT is the --json document of a failed status: the error
# object names KIND and one of the ERRNOs and carries stderr's message, status is null.
status_json_error() {
	python3 "$W/status_err.py" "$ERR" "$@" <<<"$OUT"
}
cat >"$W/status_err.py" <<'EOF'
import json, sys
err, kind, errnos = sys.argv[1], sys.argv[2], sys.argv[3:]
d = json.load(sys.stdin)
assert d["schema_version"] == 1 and d["ok"] is False and d["status"] is None, d
e = d["error"]
assert e["kind"] == kind and e["errno"] in errnos, e
assert "rmtabctl: " + e["message"] == err, (e, err)
assert isinstance(d["socket"], str) and d["socket"], d
EOF
# raw_status SOCKET: the daemon's own status lines, straight from the control socket.
raw_status() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"status\n\n")
s.shutdown(socket.SHUT_WR)
data = b""
while chunk := s.recv(65536):
    data += chunk
head, _, body = data.decode().partition("\n")
assert head == "ok", head
sys.stdout.write(body)' "$1"
}
# status_json_complete JSON-FILE RAW-FILE TEXT-FILE: every key the daemon sent is in the JSON
# (with '-' as '_'), known keys have their documented types, and every line of the text status
# comes from a member of the JSON whose value it shows.
status_json_complete() {
	python3 "$W/status_check.py" "$@"
}
cat >"$W/status_check.py" <<'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
raw = open(sys.argv[2]).read().splitlines()
text = open(sys.argv[3]).read().splitlines()
assert d["schema_version"] == 1 and d["ok"] is True and d["error"] is None, d
st = d["status"]
ints = ["records", "tombstones", "journal_ops", "commits", "ops_local", "ops_remote",
        "refused_writes", "last_seq", "shipped_seq", "backlog", "shipped_ops", "snapshot",
        "log_segment"]
strs = ["node", "mountpoint", "statedir", "version", "gnfs_view", "store", "state",
        "last_error"]
secs = ["state_since", "stuck_call", "clock_hlc_ahead"]
stable = ["records", "tombstones"]
for line in raw:
    k, sep, v = line.partition(": ")
    if not sep:
        continue
    key = k.replace("-", "_")
    assert key in st, ("daemon key missing from the JSON", k)
    val = st[key]
    # (the three were taken one after the other: counters and ages may have moved)
    if key in ints:
        assert type(val) is int and (str(val) == v or key not in stable), (key, val, v)
    elif key in strs:
        assert val == v, (key, val, v)
    elif key in secs:
        assert type(val) in (int, float) and abs(val - float(v.split()[0])) < 30, (key, val, v)
    elif key in ("peer", "clock_skew"):
        assert isinstance(val, list) and any(p["node"] == v.split()[0] for p in val), (key, val)
    else:
        assert val is not None, (key, val)
for p in st["peer"]:
    for f in ("seq", "segment", "offset", "behind"):
        assert type(p[f]) is int, p
    assert type(p["damaged"]) is bool, p
# the text status: which members each of its lines shows
label = {"node": ["node"], "mount point": ["mountpoint"], "store": ["store", "state"],
         "backlog": ["backlog"], "last error": ["last_error"],
         "records": ["records", "tombstones"], "journal": ["journal_ops"],
         "gNFS view": ["gnfs_view"], "state dir": ["statedir"], "version": ["version"],
         "warning": ["stuck_call"], "refused": ["refused"], "clock skew": ["clock_skew"],
         "counters": ["commits", "ops_local", "ops_remote", "refused_writes", "shipped_ops"]}
in_nodes = False
shown = 0
for line in text:
    if line == "nodes:":
        in_nodes = True
        continue
    if in_nodes and line.startswith("  "):
        name, seq = line.split()[:2]
        if name == "NODE":
            continue
        if "(this node)" in line:
            assert name == st["node"] and seq == str(st["last_seq"]), line
        else:
            assert any(p["node"] == name and str(p["seq"]) == seq for p in st["peer"]), line
        shown += 1
        continue
    in_nodes = False
    m = re.match(r"^([A-Za-z][A-Za-z -]*): +(.*)$", line)
    assert m, ("a text status line of unknown shape", line)
    keys = label.get(m.group(1), [m.group(1).replace("-", "_")])
    for key in keys:
        assert st.get(key) is not None, ("text status line without its member", line, key)
    if m.group(1) == "counters":
        for key in keys:
            assert "%s %d" % (key.replace("_", "-"), st[key]) in line, (line, key)
    shown += 1
assert shown >= 10, ("too few status lines compared", shown)
EOF

# ---- help and version of both programs ----
expect_ok "rmtabctl --help" "$CTL" --help
check "rmtabctl --help names every command" \
	bash -c 'for c in status list add remove prune import export; do
		grep -q "^  $c" <<<"$1" || exit 1; done' _ "$OUT"
check "rmtabctl --help names status --json" grep -q "^  status \[--json\]" "$W/out"
expect_ok "rmtabctl -h" "$CTL" -h
expect_ok "rmtabctl list --help" "$CTL" list --help
check "rmtabctl list --help prints the usage" grep -q "^usage: rmtabctl" "$W/out"
expect_ok "rmtabctl --version" "$CTL" --version
check "rmtabctl --version is 'rmtabctl VERSION'" grep -Eqx 'rmtabctl [0-9]+\.[0-9]+\.[0-9]+' \
	"$W/out"
ctl_version=${OUT#rmtabctl }
expect_ok "rmtabfs --help" "$RFS_BIN" --help
check "rmtabfs --help shows the usage and the store= option" \
	bash -c 'grep -q "^usage: " "$1" && grep -q "store=dir:" "$1"' _ "$W/out"
expect_ok "rmtabfs --version" "$RFS_BIN" --version
check_eq "rmtabfs and rmtabctl report the same version" "rmtabfs $ctl_version" \
	"$(cut -d' ' -f1,2 <<<"$OUT")"

# ---- no daemon ----
expect_fail "status without a daemon (-s)" 1 \
	"^rmtabctl: cannot reach the rmtabfs daemon at $W/n1.sock: No such file or directory \(is the rmtabfs daemon running\?\)$" \
	"$CTL" -s "$W/n1.sock" status
sock2=/run/rmtabfs/$(systemd-escape --path "$MNT2").sock
expect_fail "status without a daemon (-m)" 1 \
	"^rmtabctl: cannot reach the rmtabfs daemon at ${sock2//\\/\\\\}: No such file or directory \(is rmtabfs mounted on $MNT2\?\)$" \
	"$CTL" -m "$MNT2" status
run "$CTL" -s "$W/n1.sock" status --json
check_eq "status --json without a daemon: exit status 1" 1 "$RC"
check "status --json without a daemon: one line on stderr" one_line_matching \
	"^rmtabctl: cannot reach the rmtabfs daemon at $W/n1.sock: No such file or directory"
check "status --json without a daemon: an error object (unreachable, ENOENT)" \
	status_json_error unreachable ENOENT
run "$CTL" status
check "status without -m or -s looks for /run/rmtabfs/var-lib-nfs.sock" \
	bash -c '[[ $1 == 0 ]] || grep -q "at /run/rmtabfs/var-lib-nfs.sock: .*(is rmtabfs mounted on /var/lib/nfs?)" "$2"' \
	_ "$RC" "$W/err"

# ---- usage errors: exit 2, one line, nothing sent (no daemon is needed to tell) ----
S=(-s "$W/none.sock")
expect_fail "no command" 2 "no command given" "$CTL" "${S[@]}"
expect_fail "unknown command" 2 "unknown command 'frob'" "$CTL" "${S[@]}" frob
expect_fail "unknown global option" 2 "unknown option '--frob'" "$CTL" --frob status
expect_fail "-m and -s together" 2 "exclude each other" "$CTL" -m /x -s /y status
expect_fail "-s without a value" 2 "needs a value" "$CTL" -s
expect_fail "bad timeout" 2 "bad timeout 'soon'" "$CTL" -t soon status
expect_fail "status with an argument" 2 "status: takes no arguments" "$CTL" "${S[@]}" status x
expect_fail "status --json with an argument" 2 "status: takes no arguments" \
	"$CTL" "${S[@]}" status --json x
expect_fail "status with an option of another command" 2 "status: option '--client' does not apply" \
	"$CTL" "${S[@]}" status --client x
expect_fail "list with an unknown option" 2 "list: unknown option '--bogus'" \
	"$CTL" "${S[@]}" list --bogus
expect_fail "list with an option of another command" 2 "list: option '--format' does not apply" \
	"$CTL" "${S[@]}" list --format gnfs
expect_fail "list with a positional argument" 2 "list: unexpected argument" \
	"$CTL" "${S[@]}" list c1
expect_fail "add with one argument" 2 "add: expected CLIENT PATH \[COUNT\]" \
	"$CTL" "${S[@]}" add c1
expect_fail "add with four arguments" 2 "add: expected" "$CTL" "${S[@]}" add c /p 1 2
expect_fail "add with count 0" 2 "add: bad count '0'" "$CTL" "${S[@]}" add c /p 0
expect_fail "add with a count above 2^32-1" 2 "bad count '4294967296'" \
	"$CTL" "${S[@]}" add c /p 4294967296
expect_fail "add with a relative path" 2 "add: bad record: path does not start with '/'" \
	"$CTL" "${S[@]}" add c p
expect_fail "add with ';' in the client" 2 "add: bad record: client holds ';'" \
	"$CTL" "${S[@]}" add 'a;b' /p
expect_fail "add with a newline in the client" 2 "bad record: client holds a NUL or newline" \
	"$CTL" "${S[@]}" add $'a\nstatus' /p
expect_fail "add with a 256-byte client" 2 "client of 256 bytes \(limit 255\)" \
	"$CTL" "${S[@]}" add "$(printf 'c%.0s' {1..256})" /p
expect_fail "remove without a client" 2 "remove: expected CLIENT \[PATH\]" \
	"$CTL" "${S[@]}" remove
expect_fail "prune without --older-than" 2 "prune: --older-than DURATION is required" \
	"$CTL" "${S[@]}" prune
expect_fail "prune with a bad duration" 2 "prune: bad duration '3w'" \
	"$CTL" "${S[@]}" prune --older-than 3w
expect_fail "prune --older-than without a value" 2 "option '--older-than' needs a value" \
	"$CTL" "${S[@]}" prune --older-than
expect_fail "import without a file" 2 "import: expected one FILE" "$CTL" "${S[@]}" import
expect_fail "import with an unknown format" 2 "import: unknown format 'xml'" \
	"$CTL" "${S[@]}" import /dev/null --format xml
expect_fail "export with an unknown format" 2 "export: unknown format 'csv' \(kernel or gnfs\)" \
	"$CTL" "${S[@]}" export --format csv

# ---- a daemon; a second one on the same store, reached by its default socket (-m) ----
rfs_start n1 "$MNT" "$OPTS" || die "rmtabfs n1 did not mount"
# n2's default socket goes into /run/rmtabfs (the host's): remove the directory afterwards
# if n2 made it.
[[ -d /run/rmtabfs ]] || RUNDIR_MADE=1
"$RFS_BIN" -f -o "entry_timeout=0,attr_timeout=0,statedir=$W/state2,store=dir:$W/store,node=n2" \
	"$MNT2" >>"$W/n2.log" 2>&1 &
RFS_PIDS[n2]=$!
RFS_MNTS[n2]=$MNT2
wait_for 10 rfs_is_mounted "$MNT2" || die "rmtabfs n2 did not mount"
wait_for 5 test -S "$sock2" || die "n2 has no control socket at $sock2"
ctl1() { "$CTL" -s "$W/n1.sock" "$@"; }

expect_ok "status" ctl1 status
check "status: node n1" grep -Eq '^node: +n1$' "$W/out"
check "status: the mount point" grep -Eq "^mount point: +$MNT\$" "$W/out"
check "status: the store, connected" grep -Eq "^store: +dir:$W/store: connected" "$W/out"
check "status: the backlog" grep -Eq '^backlog: +0 op\(s\)' "$W/out"
check "status: the last error" grep -Eq '^last error: +none$' "$W/out"
check "status: the record count" grep -Eq '^records: +0 ' "$W/out"
check "status: this node in the nodes table" grep -Eq '^  n1 +[0-9]+ +\(this node\)' "$W/out"
# (n1 sees n2 first: the three views compared below are taken one after the other)
check "n1 reads n2's log" wait_for 10 bash -c '"$1" -s "$2" status | grep -q "^  n2 "' _ "$CTL" \
	"$W/n1.sock"
raw_status "$W/n1.sock" >"$W/status.raw"
expect_ok "status --json" ctl1 status --json
cp "$W/out" "$W/status.json"
check_eq "status --json: the node, the store state, counts as numbers" \
	"n1 connected 0 0 True" \
	"$(json '" ".join(str(x) for x in (d["status"]["node"], d["status"]["state"],
		d["status"]["records"], d["status"]["backlog"],
		type(d["status"]["state_since"]) in (int, float)))')"
ctl1 status >"$W/status.txt"
check "status --json: every line the daemon sends and all the text status shows, typed" \
	status_json_complete "$W/status.json" "$W/status.raw" "$W/status.txt"
check "the daemon sent status lines to compare with" grep -q '^records: ' "$W/status.raw"
expect_ok "status through -m (the default socket of a mount point)" "$CTL" -m "$MNT2" status
check "status -m: node n2" grep -Eq '^node: +n2$' "$W/out"
expect_ok "status through -m with a trailing slash" "$CTL" -m "$MNT2/" status
check "status -m DIR/: node n2" grep -Eq '^node: +n2$' "$W/out"

# ---- add and list ----
expect_ok "add 10.0.0.1 /export/a" ctl1 add 10.0.0.1 /export/a
check_eq "add prints nothing" "" "$OUT"
expect_ok "add 10.0.0.2 /export/b 5" ctl1 add 10.0.0.2 /export/b 5
expect_ok "add fe80::1 /export/a" ctl1 add fe80::1 /export/a
check_eq "rmtab shows the three records, IPv6 ':' as ';'" \
	$'10.0.0.1:/export/a:0x00000001\n10.0.0.2:/export/b:0x00000005\nfe80;;1:/export/a:0x00000001' \
	"$(rmtab)"
expect_ok "add again without a count" ctl1 add 10.0.0.1 /export/a
check "add without a count leaves the count (at least 1)" \
	grep -qx '10.0.0.1:/export/a:0x00000001' "$MNT/rmtab"
expect_ok "add with a count sets it" ctl1 add 10.0.0.1 /export/a 3
check "add with count 3 sets 3" grep -qx '10.0.0.1:/export/a:0x00000003' "$MNT/rmtab"
expect_ok "add with a lower count sets it too" ctl1 add 10.0.0.1 /export/a 2
check "add with count 2 sets 2" grep -qx '10.0.0.1:/export/a:0x00000002' "$MNT/rmtab"
check "the second node shows the same rmtab" \
	wait_for 5 bash -c 'cmp -s "$1/rmtab" "$2/rmtab"' _ "$MNT" "$MNT2"

expect_ok "list" ctl1 list
check_eq "list: header and three rows" 4 "$(wc -l <"$W/out")"
check "list: the columns line up under their headers" python3 - "$W/out" <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
head = lines[0]
cols = ["CLIENT", "PATH", "COUNT", "ORIGIN", "FIRST SEEN", "LAST CHANGE"]
assert [c for c in cols if c in head] == cols, head
starts = [head.index(c) for c in cols]
for row in lines[1:]:
    # every column but COUNT (right-aligned) starts where its header starts
    for i, c in enumerate(cols):
        if c == "COUNT":
            continue
        s = starts[i]
        assert row[s] != " " and (s == 0 or row[s - 1] == " "), (c, row)
EOF
check "list: row of 10.0.0.2 with count 5 and origin n1" \
	grep -Eq '^10\.0\.0\.2 +/export/b +5 +n1 +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} +[0-9-]{10} [0-9:]{8}$' \
	"$W/out"

expect_ok "list --json" ctl1 list --json
check_eq "list --json: three records with their counts, origins and writers" \
	"10.0.0.1 /export/a 2 n1 n1|10.0.0.2 /export/b 5 n1 n1|fe80::1 /export/a 1 n1 n1" \
	"$(json '"|".join("%s %s %d %s %s" % (r["client"], r["path"], r["count"], r["origin"],
		r["writer"]) for r in d)')"
check_eq "list --json: RFC 3339 local times that match the nanoseconds" "ok" "$(json '
"ok" if all(__import__("datetime").datetime.fromisoformat(r[k]).timestamp() ==
	    r[k + "_ns"] // 10**9 and r[k].endswith("+05:30") for r in d
	    for k in ("first_seen", "changed")) and
	all(r["changed_ns"] >= r["first_seen_ns"] for r in d) else d')"
born=$(json 'd[1]["first_seen_ns"] // 10**9')
check "list: FIRST SEEN is the local time of first_seen_ns" \
	grep -q "^10\.0\.0\.2 .* $(date -d "@$born" '+%Y-%m-%d %H:%M:%S')  " <(ctl1 list)

expect_ok "list --client" ctl1 list --client 10.0.0.2
check_eq "list --client: header and one row" 2 "$(wc -l <"$W/out")"
expect_ok "list --path (filtered without a client)" ctl1 list --path /export/a
check_eq "list --path /export/a: two rows" "10.0.0.1 fe80::1" \
	"$(tail -n +2 "$W/out" | awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
expect_ok "list --client --path --json" ctl1 list --client fe80::1 --path /export/a --json
check_eq "list --client fe80::1 --path /export/a --json: that one record" "1 fe80::1 /export/a" \
	"$(json '"%d %s %s" % (len(d), d[0]["client"], d[0]["path"])')"
expect_ok "list of a client without records" ctl1 list --client nobody
check_eq "an empty list is the header alone" 1 "$(wc -l <"$W/out")"
expect_ok "an empty list --json" ctl1 list --client nobody --json
check_eq "an empty list --json is []" "[]" "$OUT"

# Bytes the protocol and JSON must survive: a tab inside a path, a byte that is not UTF-8.
expect_ok "add a path holding a tab" ctl1 add tabby $'/p\tq'
expect_ok "add a client that is not UTF-8" ctl1 add $'caf\xe9' /latin1
expect_ok "add a client holding an encoded surrogate" ctl1 add $'s\xed\xa0\x80' /latin1
expect_ok "list --json with those" ctl1 list --json
check_eq "list --json keeps the tab in the path and escapes the bytes that are not UTF-8" \
	"['/p\\tq', 'caf\\xe9', 's\\xed\\xa0\\x80']" \
	"$(json 'ascii([r["path"] for r in d if r["client"] == "tabby"] + [r["client"] for r in d
		if r["path"] == "/latin1"])')"
expect_ok "list with those" ctl1 list --client tabby
check "list shows the path with its tab" grep -q "^tabby  *"$'/p\tq'" " "$W/out"
ctl1 remove tabby >/dev/null
ctl1 remove $'caf\xe9' >/dev/null
ctl1 remove $'s\xed\xa0\x80' >/dev/null

# ---- remove ----
expect_ok "remove CLIENT PATH" ctl1 remove 10.0.0.2 /export/b
check_eq "remove prints how many" "removed 1" "$OUT"
check "the removed record is gone from rmtab" rfs_absent "^10.0.0.2:" "$MNT/rmtab"
ctl1 add fe80::1 /export/c >/dev/null
expect_ok "remove CLIENT (all its paths)" ctl1 remove fe80::1
check_eq "remove CLIENT removed both" "removed 2" "$OUT"
check_eq "rmtab after the removals" "10.0.0.1:/export/a:0x00000002" "$(rmtab)"
expect_fail "remove of an unknown client" 1 "^rmtabctl: remove: no record of nobody$" \
	ctl1 remove nobody
expect_fail "remove of a known client with an unknown path" 1 \
	"^rmtabctl: remove: no record of 10.0.0.1:/nope$" ctl1 remove 10.0.0.1 /nope
check_eq "the failed removals changed nothing" "10.0.0.1:/export/a:0x00000002" "$(rmtab)"
check "the second node follows the removals" \
	wait_for 5 bash -c 'cmp -s "$1/rmtab" "$2/rmtab"' _ "$MNT" "$MNT2"

# ---- export ----
expect_ok "export" ctl1 export
check_eq "export is the rmtab file" "$(rmtab)" "$OUT"
ctl1 add h6:x /e6 >/dev/null
expect_ok "export --format gnfs" ctl1 export --format gnfs
check_eq "export --format gnfs" \
	$'hostname-0=10.0.0.1\nmountpoint-0=/export/a\nhostname-1=h6:x\nmountpoint-1=/e6' "$OUT"
expect_ok "export --format kernel" ctl1 export --format kernel
check_eq "export --format kernel" $'10.0.0.1:/export/a:0x00000002\nh6;x:/e6:0x00000001' "$OUT"

# ---- import ----
printf 'k1:/ek:0x3\nk2;x:/ek\nk1:/ek:2\n' >"$W/kernel.rmtab"
expect_ok "import a kernel rmtab" ctl1 import "$W/kernel.rmtab"
check_eq "import prints how many records" "imported 2" "$OUT"
check "import: lines of one record add up, ';' is ':'" bash -c \
	'grep -qx "k1:/ek:0x00000005" "$1" && grep -qx "k2;x:/ek:0x00000001" "$1"' _ "$MNT/rmtab"
printf 'hostname-0=g1\nmountpoint-0=/g\nhostname-1=g2\nmountpoint-1=/g2\n' >"$W/gnfs.rmtab"
expect_ok "import --format gnfs" ctl1 import --format gnfs "$W/gnfs.rmtab"
check_eq "import --format gnfs prints how many" "imported 2" "$OUT"
check "import --format gnfs: both records, count 1" bash -c \
	'grep -qx "g1:/g:0x00000001" "$1" && grep -qx "g2:/g2:0x00000001" "$1"' _ "$MNT/rmtab"
expect_ok "import from stdin" bash -c 'printf "s1:/s\n" | "$1" -s "$2" import -' _ "$CTL" \
	"$W/n1.sock"
check "import -: the record is there" grep -qx "s1:/s:0x00000001" "$MNT/rmtab"
expect_ok "import of an empty file" ctl1 import /dev/null
check_eq "an empty import imports nothing" "imported 0" "$OUT"

before=$(rmtab)
printf 'ok1:/a:1\nok2:/b\nbroken line\n' >"$W/bad.rmtab"
expect_fail "import of a bad kernel file" 1 \
	"^rmtabctl: $W/bad.rmtab:3: no ':' separator \(nothing imported\)$" \
	ctl1 import "$W/bad.rmtab"
printf 'hostname-0=x\nmountpoint-0=/x\nhostname-1=y\n' >"$W/bad.gnfs"
expect_fail "import of a bad gNFS file" 1 "^rmtabctl: $W/bad.gnfs:3: .*\(nothing imported\)$" \
	ctl1 import "$W/bad.gnfs" --format gnfs
expect_fail "import of a gNFS file as kernel" 1 "$W/gnfs.rmtab:1: .*use --format gnfs" \
	ctl1 import "$W/gnfs.rmtab"
printf 'c:/x:0x0\n' >"$W/zero.rmtab"
expect_fail "import of a count of 0" 1 "$W/zero.rmtab:1: " ctl1 import "$W/zero.rmtab"
expect_fail "import of a missing file" 1 \
	"^rmtabctl: cannot read $W/missing: No such file or directory$" ctl1 import "$W/missing"
printf 't:/a\tb\n' >"$W/tab.rmtab"
expect_fail "import of a path holding a tab" 1 "$W/tab.rmtab:1: .*tab" \
	ctl1 import "$W/tab.rmtab"
check_eq "the refused imports changed nothing" "$before" "$(rmtab)"

# Round trip: export, remove everything, import the export, same rmtab.
ctl1 export >"$W/exported"
for c in $(ctl1 list --json | python3 -c 'import json, sys
print(" ".join(sorted({r["client"] for r in json.load(sys.stdin)})))'); do
	ctl1 remove "$c" >/dev/null
done
check_eq "everything removed" "" "$(rmtab)"
expect_ok "import of the export" ctl1 import "$W/exported"
# (the same records; an import adds them in key order, not in their old first-seen order)
check_eq "export, remove, import: the same records" "$(sort <<<"$before")" "$(rmtab | sort)"

# A large import, far beyond one read of the daemon's socket.
python3 -c 'for i in range(5000): print("big%d.example.net:/export/%d:0x%08x" % (i, i % 7, i + 1))' \
	>"$W/big.rmtab"
expect_ok "import of 5000 records" ctl1 import "$W/big.rmtab"
check_eq "import of 5000 records: all there" "imported 5000" "$OUT"
check_eq "rmtab holds them all" "$(($(wc -l <<<"$before") + 5000))" "$(wc -l <"$MNT/rmtab")"
check "the second node holds them all" wait_for 10 bash -c \
	'[[ $(wc -l <"$1/rmtab") == $(wc -l <"$2/rmtab") ]]' _ "$MNT" "$MNT2"
run ctl1 status
check "status: the record count" grep -Eq "^records: +$(wc -l <"$MNT/rmtab") " "$W/out"
check "status: n2 in the nodes table, with its sequence" grep -Eq '^  n2 +[0-9]+ ' "$W/out"
expect_ok "status on n2" "$CTL" -m "$MNT2" status
check "status on n2: n1 in its nodes table" grep -Eq '^  n1 +[0-9]+ +(up to date|[0-9]+ byte)' \
	"$W/out"
raw_status "$sock2" >"$W/status.raw"
"$CTL" -m "$MNT2" status --json >"$W/status.json"
"$CTL" -m "$MNT2" status >"$W/status.txt"
check "status --json on n2: its peer n1, typed, and everything the text shows" \
	status_json_complete "$W/status.json" "$W/status.raw" "$W/status.txt"
check_eq "status --json on n2: n1 is a peer object with a numeric seq and damaged false" \
	"n1 int False" "$(python3 -c 'import json, sys
p = [p for p in json.load(open(sys.argv[1]))["status"]["peer"] if p["node"] == "n1"][0]
print(p["node"], type(p["seq"]).__name__, p["damaged"])' "$W/status.json")"
sleep 1.1
ctl1 prune --older-than 0 >/dev/null
check_eq "prune --older-than 0 removes everything (changed before this second)" "" "$(rmtab)"

# ---- prune ----
ctl1 add old1 /o >/dev/null
ctl1 add old2 /o >/dev/null
sleep 3.2
ctl1 add new1 /n >/dev/null
expect_ok "prune --dry-run" ctl1 prune --older-than 2 --dry-run
check_eq "prune --dry-run lists the old records" "old1:/o old2:/o|would remove 2" \
	"$(grep '^would remove .*:' "$W/out" | awk '{ printf "%s%s", s, $3; s = " " }')|$(tail -n 1 "$W/out")"
check_eq "prune --dry-run changes nothing" 3 "$(wc -l <"$MNT/rmtab")"
expect_ok "prune --older-than 1d" ctl1 prune --older-than 1d
check_eq "nothing is a day old" "removed 0" "$OUT"
expect_ok "prune --older-than 2" ctl1 prune --older-than 2
check_eq "prune removed the two old records" "removed 2" "$OUT"
check_eq "prune kept the recent one" "new1:/n:0x00000001" "$(rmtab)"
expect_ok "prune --older-than 1m (suffix)" ctl1 prune --older-than 1m
check_eq "prune 1m: nothing" "removed 0" "$OUT"

# ---- failures at the daemon or around it ----
expect_fail "a caller that is not root" 1 \
	"cannot reach the rmtabfs daemon at $W/n1.sock: Permission denied \(rmtabctl must run as root\)" \
	setpriv --reuid 65534 --regid 65534 --clear-groups "$CTL" -s "$W/n1.sock" status
run setpriv --reuid 65534 --regid 65534 --clear-groups "$CTL" -s "$W/n1.sock" status --json
check_eq "status --json as a caller that is not root: exit status 1" 1 "$RC"
check "status --json as a caller that is not root: unreachable, EACCES" \
	status_json_error unreachable EACCES
expect_fail "output to a full device" 1 "^rmtabctl: cannot write the output: No space left" \
	bash -c '"$1" -s "$2" list >/dev/full' _ "$CTL" "$W/n1.sock"
# A socket that accepts and never answers: -t bounds the wait.
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
conns = []
while True:
	conns.append(s.accept())' "$W/mute.sock" &
RFS_PIDS[mute]=$!
wait_for 5 test -S "$W/mute.sock"
t0=$SECONDS
expect_fail "a daemon that never answers" 1 \
	"^rmtabctl: no answer from the rmtabfs daemon at $W/mute.sock within 0.5 s$" \
	"$CTL" -s "$W/mute.sock" -t 0.5 status
check "-t 0.5 gave up within seconds" test $((SECONDS - t0)) -le 3
run "$CTL" -s "$W/mute.sock" -t 0.5 status --json
check_eq "status --json of a daemon that never answers: exit status 1" 1 "$RC"
check "status --json of a daemon that never answers: a timeout error object" \
	status_json_error timeout ETIMEDOUT
kill "${RFS_PIDS[mute]}" && wait "${RFS_PIDS[mute]}" 2>/dev/null || true
unset 'RFS_PIDS[mute]'

# A hung daemon (stopped): -m must not stat the mount point (the daemon would have to
# answer), and the wait for the answer is bounded.
kill -STOP "${RFS_PIDS[n2]}"
t0=$SECONDS
expect_fail "-m on a hung daemon" 1 \
	"^rmtabctl: no answer from the rmtabfs daemon at ${sock2//\\/\\\\} within 1 s$" \
	timeout 20 "$CTL" -m "$MNT2" -t 1 status
check "-m on a hung daemon gave up within seconds" test $((SECONDS - t0)) -le 5
kill -CONT "${RFS_PIDS[n2]}"

rfs_stop n1 "$MNT" >/dev/null
rfs_stop n2 "$MNT2" >/dev/null
check "n2's default socket is gone with it" rfs_gone "$sock2"
[[ -z ${RUNDIR_MADE:-} ]] || rmdir /run/rmtabfs 2>/dev/null || true
expect_fail "status after the daemon stopped" 1 "cannot reach the rmtabfs daemon at $W/n1.sock" \
	ctl1 status
run ctl1 status --json
check_eq "status --json after the daemon stopped: exit status 1" 1 "$RC"
check "status --json after the daemon stopped: unreachable (no socket, or refused)" \
	status_json_error unreachable ENOENT ECONNREFUSED

rfs_finish
