#!/bin/bash
# Fail-over with the real CTDB (Debian's ctdb): the client list follows the public IP.
#
# Two NFS servers A and B, each a PID+mount+network namespace (tests/integration/ctdb-node.sh)
# on a bridge in a namespace of its own, each with its own ctdbd, rpcbind, rpc.mountd (fake
# kernel side) and rmtabfs over its /var/lib/nfs, configured with exactly the files shipped
# in scripts/ctdb/ (only the log and cluster lock paths substituted, and the test's NFS
# callout wrapped as RMTABFS_NFS_CALLOUT, see ctdb-callout.sh). A client namespace reaches
# the servers only through the public IP 192.0.2.100: it has no route to the nodes' own
# 198.51.100.0/24. All addresses are TEST-NET-1/2 inside our namespaces; nothing is routed
# to the host. rmtabfs joins its node's PID and mount namespaces but stays in the host's
# network namespace, where the Gluster volume is (as a host on the network reaches it).
#
# Scenarios, with the fail-over times printed (IP on the survivor's eth0; showmount -a
# through the public IP listing the client):
#  1. "ctdb disable" and "ctdb stop" of the node holding the IP, then enable/continue;
#  2. the holder killed (every process of its namespaces, SIGKILL); the client's UMNT through
#     the public IP removes the record; the dead node comes back with the same bytes;
#  3. the store's volume stopped, two MNTs on the holder, the holder killed, the volume back:
#     the survivor lacks the records (they are only in the dead node's journal) until the
#     dead node returns and ships them; a UMNT the survivor got meanwhile removed nothing,
#     so that record comes back too and "rmtabctl remove" clears it (the README's limit);
#  4. rmtabfs killed on the holder: the NFS callout fails CTDB's monitor event, the node
#     turns UNHEALTHY and the IP moves; the callout refuses to start NFS without rmtabfs.
# Afterwards no process of the test's namespaces is left.
#
# At the cluster's first start only, a node whose namespace set-up or ctdbd fails before
# ctdbd logged its first line (nothing of rmtabfs's is involved yet) is started once more,
# with RETRY lines in the output and the work directory kept; any later failure fails.
# RFS_CTDB_START_ONLY=1 runs only the start and the end (to chase start failures).
#
# Needs RFS_GLUSTER_URL and RFS_GLUSTER_VOLUME (the gluster suite; scripts/test.sh) and the
# ctdb package. The cluster lock is a file in the work directory, which every node sees: not
# on the store's volume, which this test stops (see scripts/ctdb/ctdb.conf for why).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
source "$here/lib.sh"
rfs_need_fuse
: "${RFS_GLUSTER_URL:?the ctdb test needs RFS_GLUSTER_URL (scripts/gluster-volume.sh up)}"
: "${RFS_GLUSTER_VOLUME:?the ctdb test needs RFS_GLUSTER_VOLUME (it stops the volume)}"
command -v ctdbd >/dev/null || die "ctdbd missing (Debian package ctdb, scripts/setup.sh)"
command -v ethtool >/dev/null || die "ethtool missing (CTDB's 10.interface needs it)"
rfs_private_ns "$@"
rfs_setup
GV=$top/scripts/gluster-volume.sh
STORE=$RFS_GLUSTER_URL/$(basename "$RFS_WORK")
PUB=192.0.2.100
CLIENT_IP=192.0.2.50
# As in scripts/ctdb/nodes and public_addresses: the nodes talk on 198.51.100.0/24, which
# the client (192.0.2.0/24 only) has no route to.
declare -A NODE_IP=([A]=198.51.100.11 [B]=198.51.100.12)
declare -A UNSHARE=() NSPID=() RFSPID=() NS_SEEN=()
NETGEN=0
log "store: $STORE"

# --- namespaces --------------------------------------------------------------------------

# ns_start NAME CMD...: CMD as PID 1 of new PID, mount and network namespaces; sets NSPID.
ns_start() {
	local name=$1 t0 kids=''
	shift
	unshare --pid --fork --mount-proc -m -n --propagation private -- "$@" \
		>>"$RFS_WORK/$name.ns.log" 2>&1 &
	UNSHARE[$name]=$!
	t0=$(date +%s%N)
	while (($(ms_since "$t0") < 20000)); do
		kids=$(cat "/proc/${UNSHARE[$name]}/task/${UNSHARE[$name]}/children" 2>/dev/null) ||
			true
		[[ -n $kids ]] && break
		sleep 0.02
	done
	if [[ -z $kids ]]; then
		log "$name: unshare made no process in 20 s"
		kill -KILL "${UNSHARE[$name]}" 2>/dev/null || true
		wait "${UNSHARE[$name]}" 2>/dev/null || true
		unset "UNSHARE[$name]"
		return 1
	fi
	NSPID[$name]=${kids%% *}
	ns_hold "$name"
}
# ns_hold NAME: remembers NAME's namespaces for the leftovers check, and keeps them from
# being freed until the end of the test, through a process that holds them open: the
# kernel reuses a freed namespace's inode number for the next namespace made anywhere on
# the machine (another test's), whose processes the check would then count as ours. (The
# holder, not the test's shell: the descriptors would leak into every daemon it starts.)
# A node's network namespace is not held (a held one would keep the dead node's addresses
# answering on the bridge); every process in it is in the node's PID namespace too
# (ctdb-node.sh's children, or "on"), which is held.
HOLDERS=()
ns_hold() {
	local name=$1 ns fd l rc=0 fds=() kinds=(pid mnt)
	[[ $name == node* ]] || kinds+=(net)
	for ns in "${kinds[@]}"; do
		exec {fd}<"/proc/${NSPID[$name]}/ns/$ns" || { rc=1; break; }
		fds+=("$fd")
		l=$(readlink "/proc/self/fd/$fd") || { rc=1; break; }
		NS_SEEN[$l]=1
	done
	if ((rc == 0)); then
		sleep infinity </dev/null >/dev/null 2>&1 &
		HOLDERS+=($!)
	fi
	for fd in "${fds[@]}"; do exec {fd}<&-; done
	return $rc
}
ns_release() {
	local p
	for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${HOLDERS[@]}"; do wait "$p" 2>/dev/null || true; done
	HOLDERS=()
}
# ns_kill NAME: SIGKILL to PID 1 of the namespace: the kernel kills every process in it.
ns_kill() {
	[[ -n ${NSPID[$1]:-} ]] || return 0
	kill -KILL "${NSPID[$1]}" 2>/dev/null || true
	wait "${UNSHARE[$1]}" 2>/dev/null || true
	[[ -n ${RFSPID[$1]:-} ]] && { wait "${RFSPID[$1]}" 2>/dev/null || true; }
	unset "NSPID[$1]" "UNSHARE[$1]" "RFSPID[$1]"
}
in_ns() { # NAME CMD...: in all namespaces of NAME
	local name=$1
	shift
	nsenter -t "${NSPID[$name]}" -m -n -p -- "$@"
}
on() { in_ns "node$1" "${@:2}"; }
cl() { nsenter -t "${NSPID[client]}" -n -- "$@"; }
fab() { nsenter -t "${NSPID[fabric]}" -n -- "$@"; }

# attach NAME IP: a veth from NAME's namespace (eth0) to the bridge.
attach() {
	local name=$1 ip=$2 v
	NETGEN=$((NETGEN + 1))
	v=v$NETGEN
	fab ip link add "$v" type veth peer name "e$v"
	fab ip link set "$v" master br0 up
	fab ip link set "e$v" netns "${NSPID[$name]}"
	in_ns "$name" ip link set "e$v" name eth0
	in_ns "$name" ip addr add "$ip/24" dev eth0
	in_ns "$name" ip link set eth0 up
}

# --- nodes -------------------------------------------------------------------------------

# node_config NAME: the node's disk and configuration, from scripts/ctdb/ (once).
node_config() {
	local n=$1 nd=$RFS_WORK/$1 e ns s
	mkdir -p "$nd"/{nfs/sm,nfs/sm.bak,var-ctdb/volatile,var-ctdb/persistent,var-ctdb/state}
	mkdir -p "$nd"/{rmtabfs-state,etc-ctdb/events/legacy,etc-ctdb/nfs-checks.d}
	: >"$nd/nfs/etab"
	: >"$nd/nfs/rmtab"
	printf '/srv/export/a *(rw,no_subtree_check,fsid=1)\n' >"$nd/exports"
	for ns in mnt net pid; do readlink "/proc/self/ns/$ns"; done >"$nd/host-ns"
	e=$nd/etc-ctdb
	# What Debian's package has in /etc/ctdb and the scripts need.
	cp /etc/ctdb/functions /etc/ctdb/notify.sh /etc/ctdb/debug-hung-script.sh "$e/"
	# The shipped files.
	sed -e "s|location = syslog|location = file:$nd/log.ctdb|" \
		-e "s|log level = NOTICE|log level = INFO|" \
		-e "s|cluster lock = .*|cluster lock = $RFS_WORK/lock/cluster.lock|" \
		"$top/scripts/ctdb/ctdb.conf" >"$e/ctdb.conf"
	cp "$top/scripts/ctdb/nodes" "$top/scripts/ctdb/public_addresses" "$e/"
	sed -e "s|^RMTABFS_NFS_CALLOUT=.*|RMTABFS_NFS_CALLOUT=/etc/ctdb/rmtabfs-test-callout|" \
		-e "s|^#CTDB_NFS_CHECKS_DIR=.*|CTDB_NFS_CHECKS_DIR=/etc/ctdb/nfs-checks.d|" \
		"$top/scripts/ctdb/script.options" >"$e/script.options"
	install -m 0755 "$top/scripts/ctdb/rmtabfs-nfs-callout" "$e/rmtabfs-nfs-callout"
	sed -e "s|^store=.*|store=$STORE|" -e "s|^node=.*|node=$n|" \
		"$top/scripts/ctdb/rmtabfs.conf" >"$nd/rmtabfs.conf"
	# The test's pieces: its NFS callout, and only the checks of what runs here.
	install -m 0755 "$here/ctdb-callout.sh" "$e/rmtabfs-test-callout"
	printf 'RFS_FAKENFSD=%s\nMOUNTD_LOG=%s\n' "$RFS_TOOLS/fakenfsd.so" "$nd/mountd.log" \
		>"$e/rmtabfs-test.env"
	cp /etc/ctdb/nfs-checks.d/00.portmapper.check /etc/ctdb/nfs-checks.d/40.mountd.check \
		"$e/nfs-checks.d/"
	# The substitutions must have matched: never the host's syslog or lock path.
	grep -qx "	location = file:$nd/log.ctdb" "$e/ctdb.conf" &&
		grep -qx "	cluster lock = $RFS_WORK/lock/cluster.lock" "$e/ctdb.conf" &&
		grep -qx "RMTABFS_NFS_CALLOUT=/etc/ctdb/rmtabfs-test-callout" "$e/script.options" &&
		grep -qx "CTDB_NFS_CHECKS_DIR=/etc/ctdb/nfs-checks.d" "$e/script.options" &&
		grep -qx "store=$STORE" "$nd/rmtabfs.conf" && grep -qx "node=$n" "$nd/rmtabfs.conf" ||
		die "scripts/ctdb/ changed: the test's substitutions no longer match"
	# Enabled event scripts: as "ctdb event script enable legacy NAME" makes them.
	for s in 00.ctdb 10.interface 60.nfs; do
		ln -sf "/usr/share/ctdb/events/legacy/$s.script" "$e/events/legacy/$s.script"
	done
}

rfs_mounted_in() { # NAME
	# the top of the stack: test.sh's sentinel rmtabfs may lie under the node's mounts
	on "$1" awk '$5 == "/var/lib/nfs" { f = ($0 ~ / - fuse\.rmtabfs /) } END { exit !f }' \
		/proc/self/mountinfo
}
# (each ctdb call is a client connection in ctdbd's log: poll gently)
node_healthy() { on "$1" ctdb nodestatus >/dev/null 2>&1 || { sleep 0.4; return 1; }; }

# node_start NAME: namespaces, network, rmtabfs over /var/lib/nfs, then ctdbd (which starts
# rpc.mountd through the callout). Returns 2 when the node's namespace did not get ready
# (before rmtabfs was started), 1 on any other failure.
node_start() {
	local n=$1 nd=$RFS_WORK/$1
	rm -f "$nd/stage" "$nd/go" "$nd/ctdbd.rc"
	ns_start "node$n" bash "$here/ctdb-node.sh" "$nd" || { node_logs "$n"; return 2; }
	wait_for 60 test -e "$nd/stage" || { node_logs "$n"; return 2; }
	attach "node$n" "${NODE_IP[$n]}"
	# rmtabfs first: the NFS services must find it when CTDB starts them.
	nsenter -t "${NSPID[node$n]}" -m -p -- "$RFS_BIN" -f \
		-o "config=$nd/rmtabfs.conf,entry_timeout=0,attr_timeout=0" /var/lib/nfs \
		>>"$RFS_WORK/$n.rmtabfs.log" 2>&1 &
	RFSPID[node$n]=$!
	wait_for 10 rfs_mounted_in "$n" || { tail "$RFS_WORK/$n.rmtabfs.log" >&2; return 1; }
	GO[$n]=$(date +%s%N)
	touch "$nd/go"
}
node_logs() { # NAME: the ends of the node's logs
	tail -n 20 "$RFS_WORK/node$1.ns.log" "$RFS_WORK/$1/log.ctdb" "$RFS_WORK/$1/mountd.log" \
		"$RFS_WORK/$1.rmtabfs.log" >&2 || true
}
# ctdbd_logged NAME: ctdbd wrote its first line ("CTDB starting on node", before it forks
# and before it looks at anything of the node's; the log survives restarts of the node).
ctdbd_logged() { grep -qs "CTDB starting on node" "$RFS_WORK/$1/log.ctdb"; }
# node_wait NAME: until CTDB calls the node healthy (0). 2 when its ctdbd never logged a
# line: it exited, its namespace ended, or it wrote nothing in 60 s; 1 on any other failure.
declare -A GO=()
node_wait() {
	local n=$1 nd=$RFS_WORK/$1 t0 why=''
	t0=$(date +%s%N)
	while (($(ms_since "$t0") < 120000)); do
		node_healthy "$n" && return 0
		if ! ctdbd_logged "$n"; then
			if ! kill -0 "${NSPID[node$n]}" 2>/dev/null; then
				why="its namespace ended"
			elif [[ -s $nd/ctdbd.rc ]]; then
				why="ctdbd exited with status $(<"$nd/ctdbd.rc")"
			elif (($(ms_since "${GO[$n]}") > 60000)); then
				why="ctdbd wrote nothing in 60 s"
			fi
			if [[ -n $why ]]; then
				log "node $n: ctdbd never logged a line ($why); the ends of its logs:"
				node_logs "$n"
				return 2
			fi
		fi
		kill -0 "${NSPID[node$n]}" 2>/dev/null || { log "node $n: its namespace ended"; break; }
		work_lost && break
	done
	log "node $n did not become healthy; the ends of its logs:"
	node_logs "$n"
	return 1
}
# work_lost: the work directory (the nodes' configuration, logs and disks) was removed from
# outside while the test ran. Seen on the shared machine: another session's "rm -rf
# /tmp/rfs-*"; ctdbd then loses its configuration and log file, and a node never turns
# healthy. Nothing the test could tell then is about rmtabfs; the EXIT trap says so.
SENTINEL=''
work_lost() { [[ -n $SENTINEL && ! -e $SENTINEL ]]; }
WORK_LOST_MSG="the work directory was removed from outside the test while it ran (another session removing /tmp/rfs-*?): not an rmtabfs failure, run it again"
# rfs_fine NAME: the node's rmtabfs is alive and mounted, or was killed (SIGKILL) with its
# namespace: a node started once more must not hide an rmtabfs that had died on its own.
rfs_fine() {
	local st=0
	if kill -0 "${RFSPID[node$1]}" 2>/dev/null; then
		rfs_mounted_in "$1" && return 0
		log "node $1: rmtabfs is no longer mounted on /var/lib/nfs"
		return 1
	fi
	wait "${RFSPID[node$1]}" 2>/dev/null || st=$?
	((st == 137)) && return 0
	log "node $1: rmtabfs exited with status $st before its namespace ended"
	return 1
}
# node_die MESSAGE: a node failed; counted as a failure, so the work directory is kept.
node_die() {
	fail "$*"
	exit 1
}
# cluster_start: both nodes' ctdbd start together, as at a cluster's first boot. A node
# whose namespace did not get ready or whose ctdbd never logged a line (a start failure of
# the namespace set-up or of ctdbd, in which rmtabfs has no part: ctdbd had not looked at
# anything of the node's yet) is started once more, loudly. Any other failure, a second
# one, or any failure after the cluster was healthy fails the test. (rmtabfs's log is
# appended to, so a sanitizer report of the first attempt still fails it: rfs_finish.)
START_RETRIES=()
cluster_start() {
	local n
	local -A rc=([A]=0 [B]=0)
	for n in A B; do node_start "$n" || rc[$n]=$?; done
	for n in A B; do
		((rc[$n] == 0)) && { node_wait "$n" || rc[$n]=$?; }
		((rc[$n] == 0)) && continue
		if ((rc[$n] != 2)) || work_lost || ! rfs_fine "$n"; then
			node_die "node $n did not start"
		fi
		log "RETRY: node $n failed to start before its ctdbd logged a line (not rmtabfs);" \
			"starting it once more; the logs of both attempts stay in $RFS_WORK"
		START_RETRIES+=("$n")
		RFS_KEEP=1
		ns_kill "node$n"
		echo "=== $(date +%T.%N) ctdb.sh: the node is started once more" |
			tee -a "$RFS_WORK/node$n.ns.log" "$RFS_WORK/$n.rmtabfs.log" >/dev/null
		node_start "$n" && node_wait "$n" || node_die "node $n did not start (second attempt)"
	done
}
node_up() { node_start "$1" && node_wait "$1"; }

# node_down NAME: the orderly way: CTDB's shutdown event stops mountd, rmtabfs unmounts.
node_down() {
	local n=$1
	[[ -n ${NSPID[node$n]:-} ]] || return 0
	on "$n" ctdb shutdown >/dev/null 2>&1 || true
	on "$n" umount /var/lib/nfs 2>/dev/null || true
	[[ -n ${RFSPID[node$n]:-} ]] && { wait "${RFSPID[node$n]}" 2>/dev/null || true; }
	kill -TERM "${NSPID[node$n]}" 2>/dev/null || true
	ns_kill "node$n"
}

holder() { # prints the node whose eth0 has the public IP
	local n a
	for n in A B; do
		[[ -n ${NSPID[node$n]:-} ]] || continue
		a=$(on "$n" ip -o addr show dev eth0 2>/dev/null) || continue
		if grep -qF " $PUB/" <<<"$a"; then
			echo "$n"
			return 0
		fi
	done
	return 1
}
other() { [[ $1 == A ]] && echo B || echo A; }
rmtab_of() { on "$1" cat /var/lib/nfs/rmtab; }
has_rec() { on "$1" grep -qxF "$2" /var/lib/nfs/rmtab; }
lacks_rec() { # NAME LINE: readable and without the line
	local t
	t=$(on "$1" cat /var/lib/nfs/rmtab) || return 1
	! grep -qxF "$2" <<<"$t"
}
M3=$RFS_TOOLS/mnt3
mnt() { cl "$M3" -t 5 "$PUB" mnt "$1" >/dev/null; }
umnt() { cl "$M3" -t 5 "$PUB" umnt "$1" >/dev/null; }
show_lists() { # PATH: showmount -a through the public IP lists the client's mount of PATH
	local out
	out=$(cl timeout 3 showmount -a "$PUB" 2>/dev/null) || return 1
	grep -qxF "$CLIENT_IP:$1" <<<"$out"
}
same_bytes() { [[ $(rmtab_of A) == "$(rmtab_of B)" ]]; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# failover HOW [PATH]: the holder goes away by HOW (disable, stop, kill); prints and records
# the time until the survivor has the IP and (with PATH) until showmount -a through the
# public IP lists the client's mount of PATH.
TIMES=()
failover() {
	local how=$1 path=${2:-} h s t0 t_ip='' t_show=''
	h=$(holder) || { fail "$how: nobody holds $PUB"; return 1; }
	s=$(other "$h")
	t0=$(date +%s%N)
	case $how in
	disable) on "$h" ctdb disable >/dev/null ;;
	stop) on "$h" ctdb stop >/dev/null ;;
	kill) ns_kill "node$h" ;;
	esac
	while (($(ms_since "$t0") < 120000)); do
		if [[ -z $t_ip ]] && [[ $(holder) == "$s" ]]; then
			t_ip=$(ms_since "$t0")
		fi
		[[ -n $t_ip && -z $path ]] && break
		if [[ -n $t_ip ]] && show_lists "$path"; then
			t_show=$(ms_since "$t0")
			break
		fi
		sleep 0.05
	done
	check "$how of $h: $PUB moved to $s" test -n "$t_ip"
	if [[ -n $path ]]; then
		check "$how of $h: showmount -a $PUB lists the client" test -n "$t_show"
	fi
	log "fail-over by '$how' of node $h: IP on $s after ${t_ip:-?} ms," \
		"showmount -a correct after ${t_show:--} ms"
	TIMES+=("$how${path:+ }${path:-, store down}: IP on the survivor after ${t_ip:-?} ms, showmount -a correct after ${t_show:--} ms")
	FAILED=$h SURVIVOR=$s
}

# --- cleanup -----------------------------------------------------------------------------

ctdb_cleanup() {
	local n
	work_lost && log "FAIL: $RFS_WORK: $WORK_LOST_MSG"
	for n in A B; do ns_kill "node$n"; done
	ns_kill client
	ns_kill fabric
	ns_release
	if [[ -n ${VOL_DOWN:-} ]]; then
		bash "$GV" start-volume "$RFS_GLUSTER_VOLUME" >>"$RFS_WORK/gluster.log" 2>&1 || true
	fi
	rfs_cleanup
}
trap ctdb_cleanup EXIT
# A signal (meson's timeout, ^C) ends the test through the cleanup too.
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the end: orderly stop, then nothing of ours may be left --------------------------------

# leftovers [-v]: counts processes still in one of the namespaces the test made (a
# process may take a moment to be reaped after its namespace's PID 1 was killed). A node's
# network namespace is not looked at (see ns_hold).
leftovers() {
	local p ns l left=0
	for p in /proc/[0-9]*; do
		for ns in pid net mnt; do
			l=$(readlink "$p/ns/$ns" 2>/dev/null) || continue
			[[ -n ${NS_SEEN[$l]:-} ]] || continue
			left=$((left + 1))
			[[ ${1:-} == -v ]] && log "left over: ${p#/proc/} ($ns):" \
				"$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
		done
	done
	[[ $left == 0 ]]
}
the_end() {
	node_down A
	node_down B
	ns_kill client
	ns_kill fabric
	wait_for 10 leftovers || true
	check "no process of the test's namespaces is left" leftovers -v
	ns_release
	if work_lost; then
		fail "$WORK_LOST_MSG"
		exit 1
	fi
	for t in "${TIMES[@]}"; do log "fail-over time (loaded machine): $t"; done
	((${#START_RETRIES[@]} == 0)) ||
		log "RETRY: started twice at the cluster's start: node ${START_RETRIES[*]} (see above)"
	rfs_finish
	exit
}

# --- the cluster -------------------------------------------------------------------------

mkdir -p "$RFS_WORK/lock"
SENTINEL=$RFS_WORK/work.sentinel
: >"$SENTINEL"
ns_start fabric sleep infinity || die "fabric namespace"
fab ip link set lo up
fab ip link add br0 type bridge
fab ip link set br0 up
ns_start client sleep infinity || die "client namespace"
cl ip link set lo up
attach client "$CLIENT_IP"
node_config A
node_config B
t0=$(date +%s%N)
cluster_start
wait_for 60 holder >/dev/null || die "nobody took $PUB"
log "cluster up in $(ms_since "$t0") ms; $PUB on $(holder)"
check "the client reaches the cluster through $PUB only" \
	bash -c "! nsenter -t ${NSPID[client]} -n -- timeout 2 '$M3' ${NODE_IP[A]} null 2>/dev/null &&
		! nsenter -t ${NSPID[client]} -n -- timeout 2 '$M3' ${NODE_IP[B]} null 2>/dev/null"
# RFS_CTDB_START_ONLY=1: only the start of the cluster and the end (for chasing start races).
[[ ${RFS_CTDB_START_ONLY:-} == 1 ]] && the_end

# --- 1. the client mounts through the public IP; the holder is disabled, then stopped -----

REC=$CLIENT_IP:/srv/export/a:0x00000001
check "MNT through $PUB" mnt /srv/export/a
h=$(holder)
check "the holder $h records it" has_rec "$h" "$REC"
check "the other node shows it too" wait_for 5 has_rec "$(other "$h")" "$REC"
for how in disable stop; do
	failover "$how" /srv/export/a
	check "$how: $SURVIVOR's rmtab has the record" has_rec "$SURVIVOR" "$REC"
	[[ $how == disable ]] && on "$FAILED" ctdb enable >/dev/null
	[[ $how == stop ]] && on "$FAILED" ctdb continue >/dev/null
	check "$how: node $FAILED healthy again" wait_for 60 node_healthy "$FAILED"
	# CTDB may move the address back (failback); wait until it sits somewhere stable.
	sleep 2
	wait_for 30 holder >/dev/null || fail "$how: nobody holds $PUB afterwards"
done

# --- 2. the holder dies; the client unmounts through the public IP; it comes back ------------

failover kill /srv/export/a
check "kill: UMNT through $PUB" umnt /srv/export/a
check "kill: the record is gone on $SURVIVOR" lacks_rec "$SURVIVOR" "$REC"
not_listed() { # PATH: showmount -a through the public IP answers, without the client's PATH
	local out
	out=$(cl timeout 3 showmount -a "$PUB" 2>/dev/null) || return 1
	! grep -qxF "$CLIENT_IP:$1" <<<"$out"
}
check "kill: showmount -a $PUB no longer lists the client" not_listed /srv/export/a
node_up "$FAILED" || node_die "node $FAILED did not come back"
check "kill: node $FAILED back, same bytes as $SURVIVOR" wait_for 10 same_bytes
check "kill: the unmounted record did not come back on $FAILED" lacks_rec "$FAILED" "$REC"
log "rmtab on both after the return: $(rmtab_of A | tr '\n' ' ')"

# --- 3. an MNT while the store is down, its node dies, the store returns, the node returns --

wait_for 30 holder >/dev/null || die "nobody holds $PUB"
REC2=$CLIENT_IP:/srv/export/a/sub1:0x00000001
bash "$GV" stop-volume "$RFS_GLUSTER_VOLUME" >>"$RFS_WORK/gluster.log" 2>&1 ||
	die "stop-volume"
VOL_DOWN=1
h=$(holder)
REC3=$CLIENT_IP:/srv/export/a/sub2:0x00000001
check "store down: MNT through $PUB (node $h)" mnt /srv/export/a/sub1
check "store down: a second MNT" mnt /srv/export/a/sub2
check "store down: node $h shows them" has_rec "$h" "$REC2"
failover kill
bash "$GV" start-volume "$RFS_GLUSTER_VOLUME" >>"$RFS_WORK/gluster.log" 2>&1 ||
	die "start-volume"
VOL_DOWN=
s=$(other "$h")
connected() {
	local st
	st=$(on "$s" "$RFS_CTL_BIN" status 2>/dev/null) || return 1
	grep -qE '^store: .*: connected' <<<"$st"
}
wait_for 30 connected || fail "store down: $s did not reconnect to the store"
sleep 2
check "store down: $s lacks the dead node's MNT (only in $h's journal)" lacks_rec "$s" "$REC2"
check "store down: so showmount -a $PUB does not list it meanwhile" not_listed /srv/export/a/sub1
# The client unmounts the second path meanwhile: $s's mountd finds no record to remove.
check "store down: UMNT of the second path through $PUB meanwhile" umnt /srv/export/a/sub2
node_up "$h" || node_die "node $h did not come back"
check "store down: $h's MNT reaches $s once $h is back" wait_for 20 has_rec "$s" "$REC2"
check "store down: same bytes on both" wait_for 10 same_bytes
check "store down: showmount -a $PUB lists it" wait_for 10 show_lists /srv/export/a/sub1
# The README's limit: the UMNT made meanwhile could not remove what was only in the journal.
check "store down: the second path came back with $h (README: rmtabctl remove)" \
	has_rec "$s" "$REC3"
check "rmtabctl remove on $s clears it" on "$s" "$RFS_CTL_BIN" remove "$CLIENT_IP" \
	/srv/export/a/sub2
check "gone on $h too" wait_for 5 lacks_rec "$h" "$REC3"
check "UMNT through $PUB" umnt /srv/export/a/sub1
check "the record is gone on A" wait_for 5 lacks_rec A "$REC2"
check "the record is gone on B" wait_for 5 lacks_rec B "$REC2"
check "same bytes at the end" wait_for 5 same_bytes

# --- 4. rmtabfs dies on the holder: CTDB's monitor event (the callout) moves the IP away -----

h=$(holder) || die "nobody holds $PUB"
t0=$(date +%s%N)
on "$h" pkill -KILL -x rmtabfs
moved() { [[ $(holder) == "$(other "$h")" ]]; }
check "rmtabfs dead on $h: $PUB moves to $(other "$h")" wait_for 60 moved
log "fail-over by the death of rmtabfs on node $h (next monitor event):" \
	"IP on $(other "$h") after $(ms_since "$t0") ms"
TIMES+=("rmtabfs killed on the holder: IP on the survivor after $(ms_since "$t0") ms")
status=$(on "$h" ctdb nodestatus 2>&1) || true
check "node $h is UNHEALTHY" grep -q UNHEALTHY <<<"$status"
check "its log says why" grep -q "rmtabfs on /var/lib/nfs does not answer" "$RFS_WORK/$h/log.ctdb"
check "MNT through $PUB works on $(other "$h")" mnt /srv/export/a/sub2
# The callout refuses to start NFS on a bare /var/lib/nfs (here: the mount removed in a
# namespace of its own) and on a dead mount.
check "the callout refuses 'startup' without an rmtabfs mount" \
	bash -c "! nsenter -t ${NSPID[node$h]} -m -n -p -- unshare -m --propagation private \
		sh -c 'umount -l /var/lib/nfs && CTDB_BASE=/etc/ctdb /etc/ctdb/rmtabfs-nfs-callout startup' \
		2>'$RFS_WORK/refuse.err'"
check "and says so" grep -q "rmtabfs is not mounted on /var/lib/nfs" "$RFS_WORK/refuse.err"
check "the callout refuses 'start mountd' on a dead rmtabfs" \
	bash -c "! nsenter -t ${NSPID[node$h]} -m -n -p -- env CTDB_BASE=/etc/ctdb \
		/etc/ctdb/rmtabfs-nfs-callout start mountd 2>/dev/null"
check "UMNT through $PUB" umnt /srv/export/a/sub2
check "the record is gone on $(other "$h")" lacks_rec "$(other "$h")" "$CLIENT_IP:/srv/export/a/sub2:0x00000001"

the_end
