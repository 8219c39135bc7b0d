#!/bin/bash
# ctdb-node.sh NODEDIR: one NFS server of the CTDB test (tests/integration/ctdb.sh), run as
# PID 1 of its own PID, mount and network namespaces ("unshare --pid --fork --mount-proc -m
# -n"), so that killing it kills every process of the node, as a crash of the machine would.
#
# It gives the node what a host has, all of it private: /run (tmpfs), /var/lib with nfs/,
# ctdb/ and rmtabfs/ bound from NODEDIR (the node's "disk", kept across restarts),
# /etc/ctdb from NODEDIR/etc-ctdb (the configuration under test), /etc/exports and /srv.
# Then it starts rpcbind, writes NODEDIR/stage (the test then configures eth0 and mounts
# rmtabfs over /var/lib/nfs from outside), waits for NODEDIR/go and starts ctdbd, which
# starts rpc.mountd through the NFS callout. SIGTERM: "ctdb shutdown", then exit.
set -euo pipefail
ND=$1
# A namespace that ends says why (set -e ends it silently otherwise): the test retries a
# node whose ctdbd never logged a line once, and prints this file when it gives up.
trap 'rc=$?; echo "=== $(date +%T.%N) ctdb-node.sh: exit $rc" >&2' EXIT
[[ $$ == 1 ]] || { echo "ctdb-node.sh: must be PID 1 of its namespace" >&2; exit 1; }
# NODEDIR/host-ns holds the test's own namespaces (it runs in the host's network and PID
# namespaces): mounting over /run or /var/lib there would break the host.
[[ -s $ND/host-ns ]] || { echo "ctdb-node.sh: $ND/host-ns missing" >&2; exit 1; }
for ns in mnt net pid; do
	if grep -qxF "$(readlink /proc/self/ns/$ns)" "$ND/host-ns"; then
		echo "ctdb-node.sh: still in the host's $ns namespace" >&2
		exit 1
	fi
done
ip link set lo up
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 ctdb-node-run /run
mkdir -p /run/ctdb /run/rpcbind /run/lock
chown "$(getent passwd _rpc | cut -d: -f1 || echo root)" /run/rpcbind 2>/dev/null || true
mount -t tmpfs -o mode=0755 ctdb-node-varlib /var/lib
mkdir -p /var/lib/nfs /var/lib/ctdb /var/lib/rmtabfs
mount --bind "$ND/nfs" /var/lib/nfs
mount --bind "$ND/var-ctdb" /var/lib/ctdb
mount --bind "$ND/rmtabfs-state" /var/lib/rmtabfs
mount --bind "$ND/etc-ctdb" /etc/ctdb
mount --bind "$ND/exports" /etc/exports
mount -t tmpfs -o mode=0755 ctdb-node-srv /srv
mkdir -p /srv/export/a/sub1 /srv/export/a/sub2
setsid rpcbind -f -w </dev/null >>"$ND/rpcbind.log" 2>&1 &
for ((i = 0; i < 200; i++)); do
	[[ -S /run/rpcbind.sock ]] && break
	sleep 0.05
done
trap 'ctdb shutdown >/dev/null 2>&1 || true; exit 0' TERM
echo "=== $(date +%T.%N) ctdb-node.sh: ready" >&2
echo ready >"$ND/stage"
while [[ ! -e $ND/go ]]; do sleep 0.05; done
rm -f "$ND/go" "$ND/ctdbd.rc"
echo "=== $(date +%T.%N) ctdb-node.sh: ctdbd start" >&2
# ctdbd logs its first line ("CTDB starting on node") before it forks; the parent's status
# goes to NODEDIR/ctdbd.rc, where the test looks when that line does not come.
rc=0
ctdbd || rc=$?
echo "$rc" >"$ND/ctdbd.rc"
echo "=== $(date +%T.%N) ctdb-node.sh: ctdbd (the parent that daemonises) exited $rc" >&2
((rc == 0)) || exit "$rc"
while :; do
	sleep 1 &
	wait $! || true
done
