#!/bin/bash
# What "meson install" puts where, and that the installed pieces work together:
#  - meson install --destdir lists exactly the expected files (binaries, man pages, unit, its
#    helper and drop-ins, example config), with the build's prefix, sbindir, sysconfdir,
#    mandir, libexecdir and systemd's unit directory;
#  - the man pages format without warnings and document every option and command;
#  - the unit: its ExecStart names the installed binary and config, its ordering, no option
#    that would give it a private mount namespace; "systemctl --root enable" makes the NFS
#    units require it, or only want it where a restart would reach nfs-server; its helper and
#    the drop-ins' check; systemd-analyze verify passes on the unit and finds no ordering cycle
#    among the NFS units once it is enabled (skipped, and said so, if systemd-analyze is
#    missing); its Type=notify contract: READY=1 comes once the mount is there;
#  - the installed example config is valid as it is (the daemon reads it);
#  - the /etc/fstab line of rmtabfs(8), taken from the installed page: what the systemd
#    generator makes of it, and a real "mount" of it (mount(8) -> mount.fuse3 -> rmtabfs
#    SOURCE MOUNTPOINT -o ...), then umount, after which the daemon is gone.
# The test runs in a private mount namespace: the installed binaries are overlaid onto
# sbindir there (mount(8) clears PATH, so its helper finds rmtabfs only in the shell's
# default path), and no mount made here can outlive it.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
rfs_need_fuse
if [[ -z ${RFS_INSTALL_NS:-} ]]; then
	RFS_INSTALL_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
rfs_setup

W=$RFS_WORK
DEST=$W/dest

# run COMMAND...: never fails; sets RC and ERR (stdout is in $W/out).
run() {
	RC=0
	"$@" >"$W/out" 2>"$W/err" || RC=$?
	ERR=$(<"$W/err")
}
# The build's install directories, absolute.
dirs=$(meson introspect --buildoptions "$RFS_BUILD" | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
for k in ("sbindir", "sysconfdir", "mandir", "datadir", "libexecdir"):
	print(os.path.join(o["prefix"], o[k]))')
{ read -r SBINDIR; read -r SYSCONFDIR; read -r MANDIR; read -r DATADIR; read -r LIBEXECDIR; } <<<"$dirs"
HELPER=$LIBEXECDIR/rmtabfs/rmtabfs-units
CTDB_EX=$DATADIR/doc/rmtabfs/examples/ctdb
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
UNITDIR=${UNITDIR:-/lib/systemd/system}
log "sbindir $SBINDIR, sysconfdir $SYSCONFDIR, mandir $MANDIR, unit dir $UNITDIR"

# ---- the installed files ----
run meson install -C "$RFS_BUILD" --destdir "$DEST" --no-rebuild --quiet
check_eq "meson install --destdir succeeds" "0" "$RC"
[[ $RC == 0 ]] || { printf '%s\n' "$ERR" >&2; die "cannot install"; }
expected=$(printf '%s\n' "$SBINDIR/rmtabfs" "$SBINDIR/rmtabctl" "$MANDIR/man8/rmtabfs.8" \
	"$MANDIR/man8/rmtabctl.8" "$UNITDIR/rmtabfs.service" "$HELPER" \
	"$UNITDIR/nfs-mountd.service.d/rmtabfs.conf" "$UNITDIR/rpc-statd.service.d/rmtabfs.conf" \
	"$SYSCONFDIR/rmtabfs/rmtabfs.conf.example" \
	"$CTDB_EX"/{README,ctdb.conf,nodes,public_addresses,script.options,rmtabfs.conf} \
	"$CTDB_EX/rmtabfs-nfs-callout" | sort)
check_eq "exactly the expected files are installed" "$expected" \
	"$(cd "$DEST" && find . -type f -o -type l | sed 's|^\.||' | sort)"
check "both programs are executable" test -x "$DEST$SBINDIR/rmtabfs" -a -x "$DEST$SBINDIR/rmtabctl"
check "the CTDB example callout is executable" test -x "$DEST$CTDB_EX/rmtabfs-nfs-callout"
check "the unit's helper is executable" test -x "$DEST$HELPER"
UNIT=$DEST$UNITDIR/rmtabfs.service
EXAMPLE=$DEST$SYSCONFDIR/rmtabfs/rmtabfs.conf.example
PAGE_FS=$DEST$MANDIR/man8/rmtabfs.8
PAGE_CTL=$DEST$MANDIR/man8/rmtabctl.8

# The installed binaries where mount(8)'s helper and systemd-analyze look for them: sbindir
# itself, overlaid (private to this namespace) with the installed copy on top.
if [[ -d $SBINDIR ]]; then
	mount -t overlay rfs-sbin -o "lowerdir=$DEST$SBINDIR:$SBINDIR" "$SBINDIR" ||
		die "cannot overlay $SBINDIR"
else
	log "note: $SBINDIR does not exist here; the checks that need rmtabfs there will fail"
fi

# ---- man pages ----
render() { MANWIDTH=400 man -P cat -l "$1" 2>/dev/null; }
for page in "$PAGE_FS" "$PAGE_CTL"; do
	run groff -man -ww -z -Tutf8 "$page"
	check_eq "$(basename "$page") formats without warnings" "0:" "$RC:$ERR"
	check "$(basename "$page") has NAME, SYNOPSIS, OPTIONS, EXIT STATUS, SEE ALSO" bash -c \
		'for s in NAME SYNOPSIS OPTIONS "EXIT STATUS" "SEE ALSO"; do
			grep -q "^$s\$" <<<"$1" || exit 1; done' _ "$(render "$page")"
done
missing=""
for opt in $("$DEST$SBINDIR/rmtabfs" --help |
	sed -n 's/^    \([a-z_][a-z_]*\)\(=.*\|  .*\)$/\1/p' | sort -u); do
	render "$PAGE_FS" | grep -qw -- "$opt" || missing+=" $opt"
done
check_eq "rmtabfs(8) documents every -o option of rmtabfs --help" "" "$missing"
missing=""
for cmd in status list add remove prune import export; do
	render "$PAGE_CTL" | grep -q "^ *$cmd\b" || missing+=" $cmd"
done
for opt in --mountpoint --socket --timeout --client --path --json --older-than --dry-run --format; do
	render "$PAGE_CTL" | grep -q -- "$opt" || missing+=" $opt"
done
check_eq "rmtabctl(8) documents every command and option" "" "$missing"
check "rmtabfs(8) names the installed config file" grep -q "$SYSCONFDIR/rmtabfs/rmtabfs.conf" \
	<(render "$PAGE_FS")

# ---- the unit ----
check_eq "the unit runs the installed daemon with the installed config" \
	"ExecStart=$SBINDIR/rmtabfs -f -o config=$SYSCONFDIR/rmtabfs/rmtabfs.conf /var/lib/nfs" \
	"$(grep '^ExecStart=' "$UNIT")"
check "the unit is Type=notify and stops with SIGTERM" bash -c \
	'grep -qx "Type=notify" "$1" && grep -qx "KillSignal=SIGTERM" "$1"' _ "$UNIT"
unit_words() { # KEY: every value of KEY= in the unit, one per line
	sed -n "s/^$1=//p" "$UNIT" | tr ' ' '\n' | sort -u
}
for u in rpc-statd.service nfsdcld.service var-lib-nfs-rpc_pipefs.mount; do
	check "the unit is ordered before and required by $u" bash -c \
		'grep -qx "$1" <<<"$2" && grep -qx "$1" <<<"$3"' _ "$u" "$(unit_words Before)" \
		"$(unit_words RequiredBy)"
done
# Never a Requires=/BindsTo=/PartOf= on these: a restart of rmtabfs (after a crash too) would
# restart nfs-server ("rpc.nfsd 0": locks dropped, a grace period). Wanted, ordered after.
for u in nfs-server.service nfs-mountd.service rpc-statd-notify.service; do
	check "the unit is ordered before and only wanted by $u" bash -c \
		'grep -qx "$1" <<<"$2" && grep -qx "$1" <<<"$3" && ! grep -qx "$1" <<<"$4"' _ "$u" \
		"$(unit_words Before)" "$(unit_words WantedBy)" "$(unit_words RequiredBy)"
done
check "the unit restarts itself quickly after a crash (Restart=on-failure, RestartSec<=1s)" bash -c \
	'grep -qx "Restart=on-failure" "$1" && grep -Eqx "RestartSec=([0-9]{1,3}ms|1s?|0)" "$1"' _ "$UNIT"
check_eq "the unit runs the installed helper before, after start and at stop" \
	"ExecStartPre=-+$HELPER pre-start ExecStartPost=-+$HELPER post-start ExecStop=-+$HELPER stop" \
	"$(grep -E '^Exec(StartPre|StartPost|Stop)=' "$UNIT" | xargs)"
for u in nfs-mountd rpc-statd; do
	check "the $u drop-in runs the installed helper's check before the daemon" grep -qx \
		"ExecStartPre=$HELPER check" "$DEST$UNITDIR/$u.service.d/rmtabfs.conf"
done
check "the unit comes after the network and glusterd, and wants the network" bash -c \
	'grep -qx network-online.target <<<"$1" && grep -qx glusterd.service <<<"$1" &&
	 grep -qx network-online.target <<<"$2"' _ "$(unit_words After)" "$(unit_words Wants)"
check "the unit has no option that would make its mount private" \
	rfs_absent -E "^(Protect(System|Home|Kernel[A-Za-z]*|ControlGroups|Proc|Clock)|Private(Tmp|Devices|Mounts|Network|Users)|(ReadOnly|ReadWrite|Inaccessible|Bind|BindReadOnly)Paths|TemporaryFileSystem|RootDirectory|RootImage|MountFlags|DynamicUser)=" "$UNIT"

ENROOT=$W/enabled
cp -a "$DEST" "$ENROOT"
run systemctl --root="$ENROOT" enable rmtabfs.service
check_eq "systemctl --root enable rmtabfs.service" 0 "$RC"
check_eq "enabling makes the NFS units require or want it and multi-user want it" \
	"$(printf '%s\n' multi-user.target.wants nfs-server.service.wants \
		nfs-mountd.service.wants rpc-statd.service.requires \
		rpc-statd-notify.service.wants nfsdcld.service.requires \
		var-lib-nfs-rpc_pipefs.mount.requires | sort)" \
	"$(cd "$ENROOT/etc/systemd/system" && find . -name rmtabfs.service -type l |
		sed 's|^\./||; s|/rmtabfs.service$||' | sort)"

if command -v systemd-analyze >/dev/null; then
	run env MANPATH="$DEST$MANDIR" systemd-analyze verify "$UNIT"
	check_eq "systemd-analyze verify rmtabfs.service: clean" "0:" "$RC:$ERR"
	# Every NFS unit, the client side and multi-user, with rmtabfs enabled: a start
	# transaction of all of them, where systemd reports any ordering cycle.
	printf '[Unit]\nDescription=probe\nWants=multi-user.target remote-fs.target %s\n' \
		"nfs-server.service rpc-gssd.service nfs-idmapd.service glusterd.service" \
		>"$W/rfs-probe.target"
	run env MANPATH="$DEST$MANDIR" \
		SYSTEMD_UNIT_PATH="$ENROOT/etc/systemd/system:$ENROOT$UNITDIR:" \
		systemd-analyze verify "$W/rfs-probe.target"
	check "enabled among the NFS units: no ordering cycle, no complaint about rmtabfs" \
		bash -c '[[ $1 == 0 ]] && ! grep -Eqi "cycle|rmtabfs" <<<"$2"' _ "$RC" "$ERR" # a string, always read
	[[ -z $ERR ]] || printf '  systemd-analyze: %s\n' "$ERR" >&2
else
	log "SKIPPED (systemd-analyze is not installed): systemd-analyze verify of the unit"
fi

# ---- the example config, and Type=notify as the unit runs the daemon ----
mkdir -p "$W/nmnt"
{
	cat "$EXAMPLE"
	printf '%s\n' "statedir=$W/nstate" "store=dir:$W/store" node=notify "ctl=$W/notify.ctl"
} >"$W/notify.conf"
python3 - "$W/notify.sock" "$W/nmnt" >"$W/notify.out" 2>&1 <<'EOF' &
# Receives the daemon's notification; records whether the mount was there by then.
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
msg = s.recv(4096).decode()
# the top of the mount point's stack (a sentinel rmtabfs may lie under it)
tops = [l for l in open("/proc/self/mountinfo") if l.split()[4] == sys.argv[2]]
mounted = bool(tops) and " - fuse.rmtabfs " in tops[-1]
print(msg, "mounted" if mounted else "not-mounted")
EOF
RFS_PIDS[notify-listener]=$!
wait_for 5 test -S "$W/notify.sock" || die "no notify listener"
NOTIFY_SOCKET=$W/notify.sock "$DEST$SBINDIR/rmtabfs" -f -o "config=$W/notify.conf" "$W/nmnt" \
	>>"$W/notify.log" 2>&1 &
RFS_PIDS[notify]=$!
wait "${RFS_PIDS[notify-listener]}" || true
unset 'RFS_PIDS[notify-listener]'
check_eq "with the example config, READY=1 comes once the mount is there" "READY=1 mounted" \
	"$(cat "$W/notify.out")"
check "the daemon serves rmtab" test -f "$W/nmnt/rmtab"
# A crash leaves a dead FUSE mount; the restart clears it (and only ours).
kill -9 "${RFS_PIDS[notify]}"
wait "${RFS_PIDS[notify]}" 2>/dev/null || true
unset 'RFS_PIDS[notify]'
check "after kill -9 the mount is dead but still there" rfs_is_mounted "$W/nmnt"
# The unit's helper (pre-start, right before mounting again) clears it, and only a dead one.
not_mounted() { ! rfs_is_mounted "$1"; }
pre_start() { sed "s|^mnt=/var/lib/nfs\$|mnt=$W/nmnt|" "$DEST$HELPER" | sh -s pre-start; }
run pre_start
check_eq "the helper's pre-start runs" 0 "$RC"
check "the helper's pre-start clears the dead mount" not_mounted "$W/nmnt"
run pre_start
check_eq "the helper's pre-start is a no-op without a mount" "0:" "$RC:$ERR"

# ---- /etc/fstab ----
fstab_line=$(render "$PAGE_FS" | sed -n 's/^ *\(rmtabfs \/var\/lib\/nfs fuse\.rmtabfs .*\)$/\1/p')
check "rmtabfs(8) holds the /etc/fstab line" test -n "$fstab_line"
log "fstab line of rmtabfs(8): $fstab_line"
GEN=/lib/systemd/system-generators/systemd-fstab-generator
if [[ -x $GEN ]]; then
	mkdir -p "$W/gen"
	printf '%s\n' "$fstab_line" >"$W/gen.fstab"
	run env SYSTEMD_FSTAB="$W/gen.fstab" SYSTEMD_LOG_LEVEL=err "$GEN" "$W/gen" "$W/gen" "$W/gen"
	check_eq "systemd-fstab-generator takes the fstab line" 0 "$RC"
	mount_unit=$W/gen/var-lib-nfs.mount
	before=$(sed -n 's/^Before=//p' "$mount_unit" 2>/dev/null | tr ' ' '\n')
	missing=""
	for u in nfs-server.service nfs-mountd.service rpc-statd.service \
		rpc-statd-notify.service nfsdcld.service remote-fs.target; do
		grep -qx "$u" <<<"$before" || missing+=" $u"
	done
	check_eq "the fstab line orders the mount before the NFS units" "" "$missing"
	check "the fstab line makes nfs-server require the mount" \
		test -L "$W/gen/nfs-server.service.requires/var-lib-nfs.mount"
else
	log "SKIPPED ($GEN is missing): what systemd makes of the fstab line"
fi

# Now really mount it, on a temporary mount point with a test config, through mount(8).
check "rmtabfs is found in the default PATH of mount.fuse3's shell" bash -c \
	'[[ $(env -i sh -c "command -v rmtabfs") == "$1/rmtabfs" ]]' _ "$SBINDIR"
mkdir -p "$W/fmnt"
{
	cat "$EXAMPLE"
	printf '%s\n' "statedir=$W/fstate" "store=dir:$W/store" node=fstab "ctl=$W/fstab.ctl"
} >"$W/fstab.conf"
line=${fstab_line/ \/var\/lib\/nfs / $W/fmnt }
line=${line/config=$SYSCONFDIR\/rmtabfs\/rmtabfs.conf/config=$W/fstab.conf}
printf '%s\n' "$line" >"$W/fstab"
run mount --fstab "$W/fstab" "$W/fmnt"
check_eq "mount of the fstab line succeeds" "0:" "$RC:$ERR"
if [[ $RC != 0 ]] && grep -Eq "invalid argument|bad mount point .rmtabfs'" <<<"$ERR"; then
	log "  the daemon must accept 'rmtabfs SOURCE MOUNTPOINT -o ...': mount.fuse3 runs it so"
fi
if rfs_is_mounted "$W/fmnt"; then
	fpid=$(head -n 1 "$W/fstate/lock" 2>/dev/null || true)
	[[ -n $fpid ]] && RFS_PIDS[fstab]=$fpid # killed at exit if still there
	check_eq "findmnt: source and type" "rmtabfs fuse.rmtabfs" \
		"$(findmnt -n -o SOURCE,FSTYPE "$W/fmnt" | tr -s ' ')"
	check "the mount runs in the background, detached from mount(8)" kill -0 "$fpid"
	run "$DEST$SBINDIR/rmtabctl" -s "$W/fstab.ctl" add 192.0.2.1 /export
	check_eq "the installed rmtabctl reaches the daemon" "0:" "$RC:$ERR"
	check_eq "rmtab of the fstab mount" "192.0.2.1:/export:0x00000001" "$(cat "$W/fmnt/rmtab")"
	run umount "$W/fmnt"
	check_eq "umount" "0:" "$RC:$ERR"
	check "the daemon ends after umount" wait_for 10 bash -c '! kill -0 "$1" 2>/dev/null' _ \
		"$fpid"
	unset 'RFS_PIDS[fstab]'
fi
check "nothing left mounted on the fstab mount point" not_mounted "$W/fmnt"

umount "$SBINDIR" 2>/dev/null || true
rfs_finish
