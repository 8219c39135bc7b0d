#!/bin/bash
# rpc.statd's use of the state directory, by the real sm-notify: `sm-notify -d -f -P DIR`
# on a populated sm/ (files owned by statd, as rpc.statd creates them) retires every
# monitored host (sm/X -> sm.bak/X as the owner of sm/), bumps the NSM state number
# (state.new written O_SYNC, renamed over state) and starts notifying. Run once on an
# rmtabfs mount and once on a plain directory of the same file system; the resulting trees
# (names, types, modes, owners, sizes, contents) must be identical.
# Private mount and network namespaces: the hosts are loopback names and addresses only
# (no rpcbind answers there, so sm-notify keeps retrying until we stop it), and its pid
# file goes to a private /run.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/start-modes.sh"
[[ -c /dev/fuse ]] || rfs_need_fuse
if [[ ${RFS_SMN_NS:-} != 1 ]]; then
	export RFS_SMN_NS=1
	exec unshare -m -n --propagation private -- bash ${RFS_SMN_X:+-x} "$0" "$@"
fi
rfs_setup
ip link set lo up || die "no loopback in the private network namespace"
mount -t tmpfs rfs-run /run || die "cannot mount a private /run"
SMN=$(command -v sm-notify) || die "sm-notify missing (nfs-common)"
id statd >/dev/null 2>&1 || die "user statd missing (nfs-common)"

populate() { # DIR: what a running statd leaves behind
	local d=$1 h
	mkdir -p "$d/sm" "$d/sm.bak"
	printf '\x03\x00\x00\x00' >"$d/state"
	chown statd:nogroup "$d/sm" "$d/sm.bak" "$d/state"
	chmod 0700 "$d/sm" "$d/sm.bak"
	chmod 0644 "$d/state"
	for h in 127.0.0.1 localhost 127.0.0.2 ::1; do
		printf '0100007f 000186b5 00000003 00000010 %032x %s %s\n' 0 "$h" "$(hostname)" \
			>"$d/sm/$h"
		chown statd:nogroup "$d/sm/$h"
		chmod 0600 "$d/sm/$h"
	done
	printf '0100007f 000186b5 00000003 00000010 %032x 127.0.0.3 %s\n' 0 "$(hostname)" \
		>"$d/sm.bak/127.0.0.3"
	chown statd:nogroup "$d/sm.bak/127.0.0.3"
	chmod 0600 "$d/sm.bak/127.0.0.3"
}

tree() { # DIR: everything sm-notify may have touched, in a comparable form
	(cd "$1" && find . -path ./rmtab -prune -o -path ./c -prune -o -mindepth 1 \
		-printf '%P %y %m %u %g %s\n' | sort &&
		find . -path ./c -prune -o -type f ! -name rmtab -print0 | sort -z | xargs -0 md5sum)
}

# notify DIR: runs sm-notify until it has retired every host and written the new state.
notify() {
	local d=$1 pid i
	"$SMN" -d -f -P "$d" >"$RFS_WORK/smn.log" 2>&1 &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		[[ -z $(ls -A "$d/sm") && $(od -An -tu4 "$d/state" | tr -d ' ') != 3 ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	sleep 1 # its first round of notifications, and whatever it writes after the moves
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	cat "$RFS_WORK/smn.log" >&2
}

mkdir -p "$RFS_WORK/plain" "$RFS_WORK/nfs"
populate "$RFS_WORK/plain"
populate "$RFS_WORK/nfs"
check_eq "the two directories start equal" "$(tree "$RFS_WORK/plain")" "$(tree "$RFS_WORK/nfs")"
chmod 0755 "$RFS_WORK" "$RFS_WORK/plain" "$RFS_WORK/nfs"
sm_start fg "$RFS_WORK/nfs" "statedir=$RFS_WORK/state,store=dir:$RFS_WORK/store,node=n1,ctl=$RFS_WORK/n1.sock" ||
	die "mount failed"
notify "$RFS_WORK/plain"
notify "$RFS_WORK/nfs"
plain=$(tree "$RFS_WORK/plain")
onmnt=$(tree "$RFS_WORK/nfs")
check "sm-notify retired the hosts (sm/ empty, sm.bak/ holds them)" \
	bash -c "grep -q '^sm.bak/localhost f 600 statd nogroup' <<<'$plain'"
check "sm-notify bumped the state number" test "$(od -An -tu4 "$RFS_WORK/plain/state" | tr -d ' ')" -gt 3
check_eq "the mount ends as the plain directory does" "$plain" "$onmnt"
check "the daemon stops at unmount" sm_stop "$RFS_WORK/nfs"
check_eq "and the directory underneath holds it" "$plain" "$(tree "$RFS_WORK/nfs")"
check "no sanitizer reports from the daemons" sm_no_reports
rfs_finish
