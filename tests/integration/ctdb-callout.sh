#!/bin/sh
# ctdb-callout.sh: the test's stand-in for CTDB's nfs-linux-kernel-callout (wrapped by
# scripts/ctdb/rmtabfs-nfs-callout, as RMTABFS_NFS_CALLOUT). The stock callout runs
# "service nfs-kernel-server start" and friends, which inside a test namespace would reach
# the host's systemd, and its manual fallbacks "killall -9 rpc.mountd"; this one runs the
# node's own rpc.mountd (with the fake kernel side, tests/tools/fakenfsd.c) as a child of
# CTDB inside the node's namespaces, and nothing else: there is no kernel nfsd, lockd or
# statd in the test, so only the portmapper and mountd checks are enabled.
# Settings come from $CTDB_BASE/rmtabfs-test.env (RFS_FAKENFSD, MOUNTD_LOG).
set -e
. "${CTDB_BASE:?}/rmtabfs-test.env"
pidfile=/run/rmtabfs-test-mountd.pid

mountd_running()
{
	[ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

mountd_stop()
{
	mountd_running || { rm -f "$pidfile"; return 0; }
	_pid=$(cat "$pidfile")
	kill -TERM "$_pid" 2>/dev/null || true
	for _i in $(seq 1 100); do
		kill -0 "$_pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$_pid" 2>/dev/null || true
	rm -f "$pidfile"
}

mountd_start()
{
	mountd_running && return 0
	# As nfs-server.service's ExecStartPre: etab (on rmtabfs, passed through) from exports.
	exportfs -ra
	echo "=== $(date +%T.%N) callout $*: rpc.mountd start" >>"$MOUNTD_LOG"
	# -F: stays our child (setsid: out of the event script's process group, so CTDB does
	# not wait for it); fixed port, as CTDB's NFS guide asks (MOUNTD_PORT).
	LD_PRELOAD=$RFS_FAKENFSD setsid /usr/sbin/rpc.mountd -F -p 20048 \
		</dev/null >>"$MOUNTD_LOG" 2>&1 &
	echo $! >"$pidfile"
	for _i in $(seq 1 100); do
		if rpcinfo -p 127.0.0.1 2>/dev/null | grep ' 100005 *3 *tcp ' >/dev/null; then
			# rpc.mountd reads etab on MNT, EXPORT and kernel upcalls, not on UMNT: a
			# mountd that has seen none of them ignores a UMNT ("unmount request from
			# unknown host"). A real nfsd's first upcall comes with the first NFS
			# request a client sends after the fail-over; here EXPORT stands in for it.
			showmount -e 127.0.0.1 >/dev/null 2>&1 || true
			return 0
		fi
		sleep 0.05
	done
	echo "rpc.mountd did not register" >&2
	return 1
}

case "$1" in
register)
	printf '%s\n' startup shutdown stop start monitor-list-shares monitor-post
	;;
startup)
	mountd_stop
	mountd_start startup
	;;
shutdown)
	mountd_stop
	;;
start)
	[ "$2" = mountd ] && mountd_start "start $2"
	;;
stop)
	[ "$2" = mountd ] && mountd_stop
	;;
monitor-list-shares)
	# What the stock callout prints: the exported directories, one a line.
	exportfs -v | sed -n 's@^\(/[^[:space:]]*\).*@\1@p' | sort -u
	;;
monitor-post)
	:
	;;
esac
exit 0
