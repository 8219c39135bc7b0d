#!/bin/bash
# What administrators do to rmtab with ordinary tools, on a real mount: cat, echo >>,
# sed -i, cp, ": >", truncate, an editor-style write-to-temp-and-rename, and tail of a log.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_setup
M=$RFS_WORK/mnt
mkdir -p "$M"
rfs_start n1 "$M" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1" || die mount
T=$M/rmtab

check_eq "a new mount shows an empty rmtab" "" "$(cat "$T")"
check_eq "mode 0644, owner root" "644 root" "$(stat -c '%a %U' "$T")"
echo '10.0.0.1:/vol/a' >>"$T"
echo '10.0.0.2:/vol/b:0x00000005' >>"$T"
check_eq "echo >> adds records, normalised" \
	"$(printf '10.0.0.1:/vol/a:0x00000001\n10.0.0.2:/vol/b:0x00000005')" "$(cat "$T")"
check_eq "st_size is exact" "$(cat "$T" | wc -c)" "$(stat -c %s "$T")"
echo '10.0.0.1:/vol/a' >>"$T"
check "echo >> of an existing record counts one mount more" \
	grep -qx '10.0.0.1:/vol/a:0x00000002' "$T"
printf '%s\n' 'fe80::1%eth0:/vol/c' >>"$T" 2>/dev/null || true
check "a raw ':' in an appended client is read as the client/path separator (refused)" \
	rfs_absent fe80 "$T"
echo 'fe80;;1%eth0:/vol/c' >>"$T"
check "IPv6 client written with ';'" grep -qx 'fe80;;1%eth0:/vol/c:0x00000001' "$T"
sed -i '/10.0.0.2/d' "$T"
check "sed -i removes a record" rfs_absent 10.0.0.2 "$T"
check_eq "sed -i keeps the others in order" \
	"$(printf '10.0.0.1:/vol/a:0x00000002\nfe80;;1%%eth0:/vol/c:0x00000001')" "$(cat "$T")"
sed -i 's/0x00000002/0x00000007/' "$T"
check "sed -i rewrites a count" grep -qx '10.0.0.1:/vol/a:0x00000007' "$T"
printf '10.5.5.5:/vol/x:0x00000001\n10.6.6.6:/vol/y:0x2\n' >"$RFS_WORK/new"
cp "$RFS_WORK/new" "$T"
check_eq "cp replaces the whole list" \
	"$(printf '10.5.5.5:/vol/x:0x00000001\n10.6.6.6:/vol/y:0x00000002')" "$(cat "$T")"
# An editor: write a temporary file next to it, then rename it over rmtab.
printf '10.7.7.7:/vol/z\n' >"$M/.rmtab.swp"
mv "$M/.rmtab.swp" "$T"
check_eq "rename of a written file over rmtab replaces the list" \
	"10.7.7.7:/vol/z:0x00000001" "$(cat "$T")"
check "the renamed file is gone" rfs_gone "$M/.rmtab.swp"
: >"$T"
check_eq ": > empties rmtab" "" "$(cat "$T")"
echo '10.8.8.8:/vol/q' >>"$T"
truncate -s 0 "$T"
check_eq "truncate -s 0 empties rmtab" "" "$(cat "$T")"
touch "$T"
check "touch works" test -f "$T"

# The mtime moves with every change, never repeats a value.
echo '10.9.9.1:/vol/m' >>"$T"
m1=$(stat -c %Y "$T")
echo '10.9.9.2:/vol/m' >>"$T"
m2=$(stat -c %Y "$T")
check "mtime changes with each change, even within a second ($m1 -> $m2)" test "$m2" -gt "$m1"
m3=$(stat -c %Y "$T")
check_eq "mtime stays without a change" "$m2" "$m3"

# Clean restart: the same list.
want=$(cat "$T")
rfs_stop n1 "$M" >/dev/null
rfs_start n1 "$M" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1" || die remount
check_eq "restart keeps the list" "$want" "$(cat "$T")"
check "mtime after restart is above the last one reported" test "$(stat -c %Y "$T")" -gt "$m3"
rfs_stop n1 "$M" >/dev/null
rfs_finish
