#!/bin/bash
# Hostile and broken input through the mount: each case gets its exact errno, a log line, and
# leaves the records as they were. Also damaged state: a corrupt journal, a torn journal tail,
# a corrupt line in another node's log on the store.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup
M=$RFS_WORK/mnt
T=$M/rmtab
LOGF=$RFS_WORK/n1.log
OPTS="statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1"
mkdir -p "$M"
rfs_start n1 "$M" "$OPTS" || die mount
printf '10.0.0.1:/vol/a:0x00000002\n10.0.0.2:/vol/b:0x00000001\n' >"$T"
GOOD=$(cat "$T")

# write_errno MODE DATA-GENERATOR(python expr) [OFFSET]: prints the errno name of the first
# failing call among open/write/close, or OK.
write_errno() {
	python3 - "$T" "$1" "$2" "${3:-}" <<'PY'
import errno, os, sys
path, mode, expr, off = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
data = eval(expr)
flags = {"append": os.O_WRONLY | os.O_APPEND, "trunc": os.O_WRONLY | os.O_TRUNC,
         "rw": os.O_RDWR}[mode]
try:
    fd = os.open(path, flags)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit()
try:
    if off:
        os.pwrite(fd, data, int(off))
    else:
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:1 << 20]); view = view[n:]
except OSError as e:
    print(errno.errorcode[e.errno])
    try:
        os.close(fd)   # the session is refused as a whole: close fails too
    except OSError:
        pass
    sys.exit()
try:
    os.close(fd)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit()
print("OK")
PY
}
lines_before=0
expect_refused() { # DESCRIPTION ERRNO MODE EXPR [OFFSET]
	local got
	lines_before=$(wc -l <"$LOGF")
	got=$(write_errno "$3" "$4" "${5:-}")
	check_eq "$1: $2" "$2" "$got"
	check_eq "$1: records unchanged" "$GOOD" "$(cat "$T")"
	check "$1: logged" bash -c "tail -n +$((lines_before + 1)) '$LOGF' | grep -q refused"
}

expect_refused "a 10 MB line" EINVAL append "b'a' * (10 << 20) + b'\n'"
expect_refused "a 10 MB line without newline" EINVAL append "b'a' * (10 << 20)"
expect_refused "NUL bytes" EINVAL append "b'10.0.0.3:/vol/\0c:0x1\n'"
expect_refused "a client of 256 bytes" EINVAL append "b'c' * 256 + b':/vol/a\n'"
expect_refused "a path of 1025 bytes" EINVAL append "b'10.0.0.3:/' + b'p' * 1024 + b'\n'"
expect_refused "a path not starting with /" EINVAL append "b'10.0.0.3:vol/a\n'"
expect_refused "a line without a separator" EINVAL append "b'garbage\n'"
expect_refused "an empty line" EINVAL append "b'\n'"
expect_refused "a count of 0" EINVAL append "b'10.0.0.3:/vol/a:0x00000000\n'"
expect_refused "a count over 0xffffffff" EINVAL append "b'10.0.0.3:/vol/a:0x100000000\n'"
expect_refused "a malformed count" EINVAL append "b'10.0.0.3:/vol/a:0x1fzz\n'"
expect_refused "a bad line among good ones" EINVAL trunc \
	"b'10.0.0.1:/vol/a:0x2\n10.0.0.2:/vol/b\nbad\n10.0.0.4:/vol/d\n'"
expect_refused "a write at a huge offset" EFBIG rw "b'x'" $((1 << 40))
expect_refused "a write leaving a hole" EINVAL rw "b'10.0.0.9:/vol/z\n'" 100000
expect_refused "600 000 valid records (limit 500 000)" ENOSPC trunc \
	"b''.join(b'10.%d.%d.%d:/export/r\n' % (i >> 16, (i >> 8) & 255, i & 255) for i in range(600000))"
got=$(write_errno trunc \
	"b''.join(b'10.%d.%d.%d:/export/r\n' % (i >> 16, (i >> 8) & 255, i & 255) for i in range(100000))")
check_eq "100 000 valid records in one write are accepted" OK "$got"
check_eq "and all are there" 100000 "$(wc -l <"$T")"
printf '%s\n' "$GOOD" >"$T"
check_eq "back to the small list" "$GOOD" "$(cat "$T")"

# Renames onto rmtab of things that are not regular files; removal and attributes.
mkdir "$M/adir"
ln -s etab "$M/alink"
mkfifo "$M/afifo"
check "rename of a directory onto rmtab fails (ENOTDIR)" \
	bash -c "python3 -c \"import os,errno,sys
try: os.rename('$M/adir', '$T')
except OSError as e: sys.exit(0 if e.errno == errno.ENOTDIR else 1)
sys.exit(1)\""
for f in alink afifo; do
	check "rename of a $f onto rmtab fails (EINVAL)" \
		bash -c "python3 -c \"import os,errno,sys
try: os.rename('$M/$f', '$T')
except OSError as e: sys.exit(0 if e.errno == errno.EINVAL else 1)
sys.exit(1)\""
	check "$f is still there" test -L "$M/$f" -o -p "$M/$f"
done
check "rm rmtab is refused (EPERM)" bash -c "! rm -f '$T' 2>/dev/null && test -e '$T'"
check "chmod of rmtab is refused" bash -c "! chmod 600 '$T' 2>/dev/null"
check "mv rmtab away is refused (EBUSY)" bash -c "! mv '$T' '$M/x' 2>/dev/null"
check "mknod of a file named rmtab fails (EEXIST)" \
	bash -c "python3 -c \"import os,errno,stat,sys
try: os.mknod('$T', 0o644 | stat.S_IFREG)
except OSError as e: sys.exit(0 if e.errno == errno.EEXIST else 1)
sys.exit(1)\""
for cmd in "rm -f '$T'" "chmod 666 '$T'" "chown nobody '$T'" "truncate -s 0 '$T'" \
	"sh -c ': > $T'"; do
	check "as a non-root user: $cmd fails" \
		bash -c "! su -s /bin/sh nobody -c \"$cmd\" 2>/dev/null"
done
check_eq "after all that the records are unchanged" "$GOOD" "$(cat "$T")"

# Damaged journal: ops of the damaged line are lost, nothing else; no crash.
echo '10.0.0.5:/vol/e' >>"$T"
echo '10.0.0.6:/vol/f' >>"$T"
echo '10.0.0.7:/vol/g' >>"$T"
rfs_kill9 n1 "$M"
rm -f "$RFS_WORK/state/view" "$RFS_WORK/store/nodes/n1.log"
J=$RFS_WORK/state/journal
line=$(grep -n ' 10.0.0.6 ' "$J" | cut -d: -f1)
sed -i "${line}s/10.0.0.6/10.0.0.66/" "$J"
printf 's 99 123 n1 1 123 n1 10.0.0.8 /vol/h' >>"$J"   # torn last line
rfs_start n1 "$M" "$OPTS" || die "restart on a damaged journal"
check "damaged journal line: its op is dropped" rfs_absent 10.0.0.6 "$T"
check "the ops around it survive" bash -c "grep -q 10.0.0.5 '$T' && grep -q 10.0.0.7 '$T'"
check "the torn tail never becomes a record" rfs_absent 10.0.0.8 "$T"
check "the damaged line is logged" grep -q "damaged line" "$LOGF"
check "the torn tail is logged" grep -q "torn last line" "$LOGF"
echo '10.0.0.9:/vol/i' >>"$T"
check "appends work after the cut" grep -q 10.0.0.9 "$T"

# A corrupt line in another node's log: ops before it apply, it and later ones do not.
want=$(cat "$T")
python3 - "$RFS_WORK/store/nodes/evil.log" <<'PY'
import sys, zlib
def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff
def line(seq, client):
    body = b"s %d %d evil 1 %d evil %s /vol/evil " % (seq, 10**18 + seq, 10**18 + seq, client)
    return body + b"%08x\n" % crc32c(body)
bad = line(2, b"10.66.0.2").replace(b"/vol/evil", b"/vol/EVIL")
open(sys.argv[1], "wb").write(line(1, b"10.66.0.1") + bad + line(3, b"10.66.0.3"))
PY
for i in $(seq 1 50); do grep -q 10.66.0.1 "$T" && break; sleep 0.1; done
check "another node's op before the damage is applied" grep -q '10.66.0.1:/vol/evil' "$T"
check "the damaged op and what follows are not" rfs_absent '10.66.0.[23]' "$T"
check "the damage is logged with the node" grep -q "log of node evil is damaged" "$LOGF"
check "the daemon still runs" kill -0 "${RFS_PIDS[n1]}"
rfs_stop n1 "$M" >/dev/null
rfs_finish
