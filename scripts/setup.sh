#!/bin/bash
# setup.sh: installs every Debian 12 package that building, testing and benchmarking rmtabfs
# need, then builds it into ./build (and, with --sanitize, an ASan+UBSan build into
# ./build-san; with --tsan, a ThreadSanitizer build into ./build-tsan). Run as root from
# anywhere; safe to run again.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sanitize=0
tsan=0
for arg in "$@"; do
	case $arg in
	--sanitize) sanitize=1 ;;
	--tsan) tsan=1 ;;
	--no-build) build=0 ;;
	*) echo "usage: $0 [--sanitize] [--tsan] [--no-build]" >&2; exit 2 ;;
	esac
done

packages=(
	# build
	build-essential meson ninja-build pkg-config
	libfuse3-dev fuse3 libglusterfs-dev libtirpc-dev libcmocka-dev
	# sanitizers and fuzzing
	clang libclang-rt-14-dev valgrind clang-format
	# the real programs the tests drive
	glusterfs-server glusterfs-client nfs-kernel-server nfs-common rpcbind
	ctdb ethtool     # tests/integration/ctdb.sh (ethtool: CTDB's 10.interface monitor)
	# test and benchmark tooling
	iproute2 procps psmisc util-linux e2fsprogs strace python3 bc
	# the SQLite test (nfsdcld keeps a database under /var/lib/nfs)
	sqlite3
	# tests/integration/systemd.sh boots a systemd in a container (systemd-nspawn)
	systemd-container
)
if [[ $(id -u) != 0 ]]; then
	echo "setup.sh: run as root (it installs packages)" >&2
	exit 1
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# Installing nfs-kernel-server, glusterfs-server and ctdb must not start services here.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -q --no-install-recommends "${missing[@]}"
	rm -f /usr/sbin/policy-rc.d
fi

if [[ ${build:-1} == 1 ]]; then
	cd "$top"
	[[ -d build ]] || meson setup build -Dwerror=true
	ninja -C build
	if [[ $sanitize == 1 ]]; then
		[[ -d build-san ]] || CC=clang meson setup build-san -Dwerror=true \
			-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
		ninja -C build-san
	fi
	if [[ $tsan == 1 ]]; then
		# libfuse, glibc and libglusterfs stay uninstrumented: TSan sees their pthread
		# calls, not their memory accesses (tests/tsan.supp).
		[[ -d build-tsan ]] || CC=clang meson setup build-tsan -Dwerror=true \
			-Db_sanitize=thread -Db_lundef=false -Dbuildtype=debug
		ninja -C build-tsan
	fi
fi
