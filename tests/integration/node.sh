#!/bin/bash
# node.sh NAME WORK: one simulated NFS server for multi-node tests, in its own mount+net
# namespace (its own /var/lib/nfs, /run, rpcbind and rpc.mountd, like a separate host).
# It seeds /var/lib/nfs, writes its PID to WORK/NAME.nspid and waits for WORK/NAME.go, which
# the test creates once it has mounted rmtabfs there (rmtabfs itself runs in the test's
# network namespace, so it reaches the store's servers like a host on the network would);
# then it exports /export/a, starts the real rpc.mountd, writes WORK/NAME.ready and waits.
# The test enters it with nsenter -t PID -m -n. SIGTERM stops everything it started.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NAME=$1 WORK=$2
source "$here/mountd-env.sh"
mountd_env_reexec "$0" "$@"
set -euo pipefail
export MOUNTD_ENV_WORK=$WORK/$NAME.mountd MOUNTD_ENV_KEEP=1 MOUNTD_DEBUG=
mkdir -p "$MOUNTD_ENV_WORK"
mountd_env_setup
NFS=/var/lib/nfs
mount -t tmpfs -o mode=0755 "rfs-$NAME" "$NFS"
mkdir -p "$NFS/sm" "$NFS/sm.bak"
: >"$NFS/etab"
mkdir -p /export
mount -t tmpfs -o mode=0755 "rfs-export-$NAME" /export
mkdir -p /export/a/sub{1..20}
trap 'exit 0' TERM
echo $$ >"$WORK/$NAME.nspid.tmp"
mv "$WORK/$NAME.nspid.tmp" "$WORK/$NAME.nspid"
while [[ ! -e $WORK/$NAME.go ]]; do sleep 0.05; done
mountd_env_exports /export/a
mountd_start
touch "$WORK/$NAME.ready"
while :; do sleep 1; done
