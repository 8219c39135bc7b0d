# shellcheck shell=bash
# mountd-env.sh — run the real, unchanged rpc.mountd of the distribution in a private mount+net
# namespace without a kernel NFS server, so integration tests can drive MNT/UMNT/DUMP through it.
#
# Source it from a bash test script, then:
#   mountd_env_reexec "$0" "$@"     # first thing: re-run the script under unshare -m -n
#   mountd_env_setup                # lo up, tmpfs on /run, own rpcbind
#   mountd_env_statedir_tmpfs       # (only without rmtabfs) tmpfs over /var/lib/nfs, seeded
#   mountd_env_exports /export/a    # dirs + /etc/exports (bind-mounted) + exportfs -ra → etab
#   mountd_start                    # rpc.mountd -F -d all, LD_PRELOAD=fakenfsd.so
#   mnt3 127.0.0.1 mnt /export/a    # (function wrapping "$RFS_MNT3")
#   mountd_stop / mountd_env_teardown (also run by the EXIT trap)
#
# Invariants:
#   - Nothing here touches the host outside the namespace: every mount is made after the
#     re-exec (propagation private), setup refuses to run in the host's namespaces, and the only
#     host-visible files are in $MOUNTD_ENV_WORK (a mktemp dir, removed at teardown unless
#     MOUNTD_ENV_KEEP=1).
#   - Only processes started here are signalled, by the PIDs recorded at start (each started
#     with setsid, so its process group holds exactly it and what it forked).
#   - mountd_env_setup owns the EXIT/INT/TERM traps; add cleanups with mountd_env_at_exit.
#   - Functions return non-zero on failure with a message on stderr; they work under set -euo
#     pipefail and without it.  Call them in the main shell (not in $(...)): they record PIDs.
#
# Inputs (environment):
#   RFS_TOOLS       dir holding the built fakenfsd.so and mnt3 (meson: <build>/tests/tools);
#                   default /tmp, where the development builds go
#   RFS_FAKENFSD    the shim, default $RFS_TOOLS/fakenfsd.so
#   RFS_MNT3        the client, default $RFS_TOOLS/mnt3
#   MOUNTD_BIN      default /usr/sbin/rpc.mountd
#   MOUNTD_WRAP     command words put before mountd (e.g. "strace -f -o FILE"), default none
#   MOUNTD_DEBUG    argument of mountd's -d, default "all"; empty: no -d and no shim log
#                   (quiet and faster, for benchmarks)
#   MOUNTD_STATEDIR default /var/lib/nfs (mountd's compiled-in state dir; use -s to change it)
#   MOUNTD_START_TIMEOUT  seconds to wait for the rpcbind registration, default 10
#   MOUNTD_EXPORT_OPTS    client(options) for mountd_env_exports; "%i" becomes a per-export
#                   fsid; default "*(rw,no_subtree_check,fsid=%i)"
# Outputs: MOUNTD_PID, RPCBIND_PID, MOUNTD_LOG, RPCBIND_LOG, FAKENFSD_LOG, MOUNTD_ENV_WORK.

: "${RFS_TOOLS:=/tmp}"
: "${RFS_FAKENFSD:=$RFS_TOOLS/fakenfsd.so}"
: "${RFS_MNT3:=$RFS_TOOLS/mnt3}"
: "${MOUNTD_BIN:=/usr/sbin/rpc.mountd}"
: "${MOUNTD_DEBUG=all}"
: "${MOUNTD_STATEDIR:=/var/lib/nfs}"
: "${MOUNTD_START_TIMEOUT:=10}"
: "${MOUNTD_EXPORT_OPTS:=*(rw,no_subtree_check,fsid=%i)}"

MOUNTD_PID=
RPCBIND_PID=
MOUNTD_ENV_WORK=${MOUNTD_ENV_WORK-}
MOUNTD_LOG=
RPCBIND_LOG=
FAKENFSD_LOG=
_MOUNTD_ENV_HOOKS=()
_MOUNTD_ENV_TORN=

mountd_env_log() { printf '[mountd-env] %s\n' "$*" >&2; }
mountd_env_die() { mountd_env_log "FAIL: $*"; return 1; }

# Re-execute the calling script inside a private mount+net namespace, once.  Fails when not root
# or when namespaces are unavailable (CI runs as root); inside the namespace it does nothing.
mountd_env_reexec() {
	local script=$1
	shift
	if [[ ${RFS_MOUNTD_NS-} == 1 ]]; then
		return 0
	fi
	if [[ $(id -u) != 0 ]]; then
		echo "FAIL: needs root (unshare, mounts, rpcbind)" >&2
		exit 1
	fi
	if ! unshare -m -n --propagation private true 2>/dev/null; then
		echo "FAIL: unshare -m -n is not possible here" >&2
		exit 1
	fi
	export RFS_MOUNTD_NS=1
	exec unshare -m -n --propagation private -- bash "$script" "$@"
}

# The namespaces must differ from PID 1's: mounting over /run in the host's would break it.
mountd_env_check_ns() {
	local ns
	for ns in mnt net; do
		if [[ $(readlink "/proc/self/ns/$ns") == "$(readlink "/proc/1/ns/$ns")" ]]; then
			mountd_env_die "not in a private $ns namespace (use mountd_env_reexec)"
			return 1
		fi
	done
}

# Register a command to run at teardown, after mountd stopped and before rpcbind stops (e.g.
# unmounting rmtabfs from /var/lib/nfs).  Hooks run last-registered first.
mountd_env_at_exit() { _MOUNTD_ENV_HOOKS+=("$1"); }

_mountd_env_alive() { # PID: running and not yet a zombie
	local st
	st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z ]]
}

# Stop what was started as process group PID (setsid): the leader (mountd, or a wrapper such as
# strace) and anything it forked (mountd -t workers, the traced mountd).
_mountd_env_stop_group() { # PID SECONDS
	local pid=$1 i
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < $2 * 20; i++)); do
		_mountd_env_alive "$pid" || pgrep -g "$pid" >/dev/null || break
		sleep 0.05
	done
	if _mountd_env_alive "$pid" || pgrep -g "$pid" >/dev/null; then
		mountd_env_log "process group $pid ignored SIGTERM for $2 s, killing"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

mountd_env_setup() {
	local user
	mountd_env_check_ns || return 1
	[[ -z $RPCBIND_PID ]] || { mountd_env_die "mountd_env_setup called twice"; return 1; }
	_MOUNTD_ENV_TORN=
	trap mountd_env_teardown EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [[ -z $MOUNTD_ENV_WORK ]]; then
		MOUNTD_ENV_WORK=$(mktemp -d /tmp/mountd-env.XXXXXX) || return 1
		_MOUNTD_ENV_OWN_WORK=1
	fi
	MOUNTD_LOG=$MOUNTD_ENV_WORK/mountd.log
	RPCBIND_LOG=$MOUNTD_ENV_WORK/rpcbind.log
	FAKENFSD_LOG=$MOUNTD_ENV_WORK/fakenfsd.log
	ip link set lo up || { mountd_env_die "ip link set lo up"; return 1; }
	# rpcbind's socket and warm-start files, and mountd's /run bits, stay in the namespace.
	if ! mount -t tmpfs -o mode=0755 mountd-env-run /run; then
		mountd_env_die "tmpfs on /run"
		return 1
	fi
	mkdir -p /run/rpcbind
	# Debian's rpcbind drops to _rpc (older: rpc) and keeps its state files here.
	user=$(getent passwd _rpc rpc | head -n1 | cut -d: -f1) || true
	if [[ -n $user ]]; then
		chown "$user:root" /run/rpcbind
	fi
	setsid rpcbind -f -w >"$RPCBIND_LOG" 2>&1 &
	RPCBIND_PID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -S /run/rpcbind.sock ]] && break
		if ! _mountd_env_alive "$RPCBIND_PID"; then
			cat "$RPCBIND_LOG" >&2
			RPCBIND_PID=
			mountd_env_die "rpcbind exited at start"
			return 1
		fi
		sleep 0.05
	done
	if [[ ! -S /run/rpcbind.sock ]]; then
		mountd_env_die "rpcbind: no /run/rpcbind.sock after 10 s"
		return 1
	fi
	# The socket appears before the inet listeners are all bound; ask over the network too.
	for ((i = 0; i < 100; i++)); do
		rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	mountd_env_die "rpcbind does not answer on 127.0.0.1"
}

# Without rmtabfs: a tmpfs state dir seeded as the Debian package ships it.
mountd_env_statedir_tmpfs() {
	local d=$MOUNTD_STATEDIR
	mountd_env_check_ns || return 1
	if ! mount -t tmpfs -o mode=0755 mountd-env-state "$d"; then
		mountd_env_die "tmpfs on $d"
		return 1
	fi
	: >"$d/etab"
	: >"$d/rmtab"
	mkdir -p "$d/sm" "$d/sm.bak" "$d/v4recovery"
	mountd_env_log "tmpfs state dir at $d"
}

# mountd_env_exports [-o 'CLIENT(OPTIONS)'] DIR...
# Creates the dirs, bind-mounts a generated /etc/exports (and an empty /etc/exports.d) inside the
# namespace, and runs exportfs -ra, which writes etab into the state dir (rmtabfs when mounted).
mountd_env_exports() {
	local opts=$MOUNTD_EXPORT_OPTS d i=0 f
	mountd_env_check_ns || return 1
	if [[ ${1-} == -o ]]; then
		opts=$2
		shift 2
	fi
	[[ $# -gt 0 ]] || { mountd_env_die "mountd_env_exports: no directory"; return 1; }
	f=$MOUNTD_ENV_WORK/exports
	: >"$f"
	for d in "$@"; do
		i=$((i + 1))
		mkdir -p "$d"
		printf '%s %s\n' "$d" "${opts//%i/$i}" >>"$f"
	done
	if ! mountpoint -q /etc/exports; then
		if [[ ! -e /etc/exports ]]; then
			mountd_env_die "/etc/exports missing (nfs-kernel-server)"
			return 1
		fi
		mount --bind "$f" /etc/exports
	fi
	if [[ -d /etc/exports.d ]] && ! mountpoint -q /etc/exports.d; then
		mkdir -p "$MOUNTD_ENV_WORK/exports.d"
		mount --bind "$MOUNTD_ENV_WORK/exports.d" /etc/exports.d
	fi
	# Bind mounts pin the inode: rewrite the file in place when called again.
	if [[ $(stat -c %i /etc/exports) != "$(stat -c %i "$f")" ]]; then
		cat "$f" >/etc/exports
	fi
	exportfs -ra >>"$MOUNTD_ENV_WORK/exportfs.log" 2>&1 || {
		cat "$MOUNTD_ENV_WORK/exportfs.log" >&2
		mountd_env_die "exportfs -ra"
		return 1
	}
	mountd_env_log "exported $*: $(tr '\n' ' ' <"$MOUNTD_STATEDIR/etab" | cut -c1-300)"
}

_mountd_registered() {
	rpcinfo -p 127.0.0.1 2>/dev/null |
		awk '$1 == 100005 && $2 == 3 && $3 == "tcp" { f = 1 } END { exit !f }'
}

# mountd_start [extra rpc.mountd args]
mountd_start() {
	local i args=(-F) wrap=() shimlog=$FAKENFSD_LOG
	[[ -z $MOUNTD_PID ]] || { mountd_env_die "mountd already running ($MOUNTD_PID)"; return 1; }
	if [[ -z $RPCBIND_PID ]]; then
		mountd_env_die "mountd_start before mountd_env_setup"
		return 1
	fi
	if [[ ! -r $RFS_FAKENFSD ]]; then
		mountd_env_die "shim $RFS_FAKENFSD not built (set RFS_TOOLS)"
		return 1
	fi
	if [[ -n $MOUNTD_DEBUG ]]; then
		args+=(-d "$MOUNTD_DEBUG")
	else
		shimlog=
	fi
	[[ -n ${MOUNTD_WRAP-} ]] && read -r -a wrap <<<"$MOUNTD_WRAP"
	if _mountd_registered; then
		mountd_env_die "a mountd is already registered with this rpcbind"
		return 1
	fi
	echo "=== $(date +%T.%N) start: ${wrap[*]} $MOUNTD_BIN ${args[*]} $*" >>"$MOUNTD_LOG"
	# setsid: its own process group, so a wrapper's child is stopped with it.
	LD_PRELOAD=$RFS_FAKENFSD FAKENFSD_LOG=$shimlog \
		setsid "${wrap[@]}" "$MOUNTD_BIN" "${args[@]}" "$@" >>"$MOUNTD_LOG" 2>&1 &
	MOUNTD_PID=$!
	for ((i = 0; i < MOUNTD_START_TIMEOUT * 20; i++)); do
		if ! _mountd_env_alive "$MOUNTD_PID"; then
			wait "$MOUNTD_PID" 2>/dev/null || true
			MOUNTD_PID=
			tail -n 30 "$MOUNTD_LOG" >&2
			mountd_env_die "rpc.mountd exited during start (log: $MOUNTD_LOG)"
			return 1
		fi
		if _mountd_registered; then
			mountd_env_log "rpc.mountd pid $MOUNTD_PID registered"
			return 0
		fi
		sleep 0.05
	done
	tail -n 30 "$MOUNTD_LOG" >&2
	mountd_stop
	mountd_env_die "rpc.mountd not registered with rpcbind after ${MOUNTD_START_TIMEOUT}s"
}

# SIGTERM makes mountd unregister and unlink .etab.lock/.rmtab.lock; wait for it to be gone.
mountd_stop() {
	[[ -n $MOUNTD_PID ]] || return 0
	_mountd_env_stop_group "$MOUNTD_PID" 10
	MOUNTD_PID=
}

mountd_env_teardown() {
	local rc=$? i
	[[ -z $_MOUNTD_ENV_TORN ]] || return "$rc"
	_MOUNTD_ENV_TORN=1
	mountd_stop
	for ((i = ${#_MOUNTD_ENV_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${_MOUNTD_ENV_HOOKS[i]}" ||
			mountd_env_log "teardown hook failed: ${_MOUNTD_ENV_HOOKS[i]}"
	done
	_MOUNTD_ENV_HOOKS=()
	if [[ -n $RPCBIND_PID ]]; then
		_mountd_env_stop_group "$RPCBIND_PID" 5
		RPCBIND_PID=
	fi
	if [[ $rc != 0 && -n $MOUNTD_LOG && -s $MOUNTD_LOG ]]; then
		mountd_env_log "exit status $rc; last lines of $MOUNTD_LOG:"
		tail -n 20 "$MOUNTD_LOG" >&2 || true
	fi
	if [[ -n ${_MOUNTD_ENV_OWN_WORK-} && ${MOUNTD_ENV_KEEP-} != 1 ]]; then
		rm -rf -- "$MOUNTD_ENV_WORK"
	elif [[ -n $MOUNTD_ENV_WORK ]]; then
		mountd_env_log "logs kept in $MOUNTD_ENV_WORK"
	fi
	return "$rc"
}

# The client, with the tool path resolved; same arguments as the mnt3 binary.
mnt3() { "$RFS_MNT3" "$@"; }
