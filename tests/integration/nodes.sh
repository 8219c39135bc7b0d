# shellcheck shell=bash
# nodes.sh: simulated NFS servers for multi-node tests (source after lib.sh, inside a private
# mount namespace). node_up NAME starts a host (tests/integration/node.sh: own mount+net
# namespace, /var/lib/nfs, rpcbind, the real rpc.mountd) with rmtabfs mounted over its
# /var/lib/nfs on $STORE (extra rmtabfs options in $NODE_OPTS); on NAME CMD runs a command
# in that host; node_down NAME stops it. An EXIT trap stops every host and daemon.
declare -A NODE_PIDS=()

node_up() { # NAME: the host, then rmtabfs mounted in its mount namespace, then its mountd
	local name=$1 pid i
	rm -f "$RFS_WORK/$name".{nspid,go,ready}
	RFS_MOUNTD_NS= bash "$here/node.sh" "$name" "$RFS_WORK" >>"$RFS_WORK/$name.node.log" 2>&1 &
	NODE_PIDS[$name]=$!
	for ((i = 0; i < 300; i++)); do
		[[ -s $RFS_WORK/$name.nspid ]] && break
		sleep 0.05
	done
	node_rmtabfs "$name" || true
	touch "$RFS_WORK/$name.go"
	for ((i = 0; i < 300; i++)); do
		[[ -e $RFS_WORK/$name.ready ]] && return 0
		kill -0 "${NODE_PIDS[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	tail -n 30 "$RFS_WORK/$name.node.log" "$RFS_WORK/$name.log" >&2 || true
	return 1
}
# node_rmtabfs NAME: (re)starts rmtabfs over the host's /var/lib/nfs and waits (10 s at most)
# until it is mounted; the host must be up and its /var/lib/nfs not mounted by rmtabfs.
node_rmtabfs() {
	local name=$1 pid i
	pid=$(cat "$RFS_WORK/$name.nspid")
	nsenter -t "$pid" -m -- "$RFS_BIN" -f -o "entry_timeout=0,attr_timeout=0,node=$name" \
		-o "store=$STORE,statedir=$RFS_WORK/$name.state,ctl=$RFS_WORK/$name.sock" \
		${NODE_OPTS:+-o "$NODE_OPTS"} \
		/var/lib/nfs >>"$RFS_WORK/$name.log" 2>&1 &
	RFS_PIDS[$name]=$!
	for ((i = 0; i < 200; i++)); do
		# the top of /var/lib/nfs's stack (test.sh's sentinel rmtabfs may lie under it)
		nsenter -t "$pid" -m -- awk '$5 == "/var/lib/nfs" { f = ($0 ~ / - fuse\.rmtabfs /) }
			END { exit !f }' /proc/self/mountinfo && return 0
		kill -0 "${RFS_PIDS[$name]}" 2>/dev/null || break
		sleep 0.05
	done
	return 1
}
node_down() { # NAME: mountd and the host first (mountd keeps etab open), then rmtabfs
	[[ -n ${NODE_PIDS[$1]:-} ]] || return 0
	kill -TERM "$(cat "$RFS_WORK/$1.nspid")" 2>/dev/null || true
	wait "${NODE_PIDS[$1]}" 2>/dev/null || true
	unset "NODE_PIDS[$1]"
	# The daemon keeps the host's mount namespace alive: unmount from inside it.
	# (A test may have killed the daemon itself: nothing left to stop then.)
	[[ -n ${RFS_PIDS[$1]:-} ]] || return 0
	nsenter -t "${RFS_PIDS[$1]}" -m -- umount /var/lib/nfs 2>/dev/null ||
		kill -TERM "${RFS_PIDS[$1]}" 2>/dev/null || true
	rfs_reap "$1"
	RFS_CHECKS=$((RFS_CHECKS + 1))
	[[ $RFS_EXIT == 0 ]] || fail "rmtabfs of host $1 exited with status $RFS_EXIT at stop"
}
on() { # NAME CMD...: run in that host's namespaces
	local name=$1
	shift
	nsenter -t "$(cat "$RFS_WORK/$name.nspid")" -m -n -- "$@"
}
cleanup_nodes() {
	local n
	for n in "${!NODE_PIDS[@]}"; do node_down "$n"; done
	rfs_cleanup
}
trap cleanup_nodes EXIT


