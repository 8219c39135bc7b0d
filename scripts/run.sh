#!/bin/bash
# run.sh: the main job on a fresh Debian 12 machine (as root), on the embedded default store
# (a local directory): installs what is needed, builds, installs rmtabfs, mounts it over
# /var/lib/nfs (records already in /var/lib/nfs/rmtab are imported once, the file underneath
# is left as it was) and shows its state. Stop it with: umount /var/lib/nfs
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
bash scripts/setup.sh
meson install -C build --quiet
mkdir -p /var/lib/nfs
if grep -q ' /var/lib/nfs fuse.rmtabfs ' /proc/mounts; then
	echo "run.sh: rmtabfs is already mounted on /var/lib/nfs"
else
	config=/usr/local/etc/rmtabfs/rmtabfs.conf
	if [[ -f $config ]]; then
		rmtabfs -o "config=$config" /var/lib/nfs
	else
		rmtabfs /var/lib/nfs
	fi
fi
echo "run.sh: mounted:"
grep ' /var/lib/nfs fuse.rmtabfs ' /proc/mounts
rmtabctl status
echo "run.sh: /var/lib/nfs/rmtab:"
cat /var/lib/nfs/rmtab
