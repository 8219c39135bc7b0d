#!/bin/bash
# propagation-bench.sh: propagation A -> B, side by side for daemon option sets (by default the
# store's wake-up hint on and off), on each store given. Two daemons (node ids pa, pb) share a
# fresh store per run; tests/tools/propagation.py writes on A and watches B's rmtab.
#
# Usage (as root; RFS_BUILD = the meson build directory):
#   RFS_BUILD=build bash tests/tools/propagation-bench.sh [--stores "dir URL..."] [--count N]
#       [--burst K] [--gap-ms "LO HI"] [--variants "watch=on watch=off"] [--poll S]
#   --stores    "dir" (a dir: store in the work directory) and/or gluster:// URLs (a fresh
#               directory inside the volume per run); default "dir", plus $RFS_GLUSTER_URL if set
#   --variants  daemon options per run, "-" for none (default "watch=on watch=off")
#   --poll S    poll= for every run (default: the daemon's own default)
#   --split     also split each delay into A -> store and store -> B (propagation.py
#               --store-log): on Gluster through a glusterfs FUSE mount of $RFS_GLUSTER_VOLUME
# Prints a table: store, variant, n, lost, reordered, p50/p90/p99/max in ms, same; then the p50
# and p99 ratio of each variant to the first one. A benchmark: it never fails on a number, only
# when it cannot measure (a daemon does not start). Numbers on a loaded machine are noisy.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RFS_TEST=propagation-bench
# shellcheck source=../integration/lib.sh
source "$here/../integration/lib.sh"
rfs_need_fuse
rfs_private_ns "$@"

stores="dir${RFS_GLUSTER_URL:+ $RFS_GLUSTER_URL}" count=300 burst=1 gap="5 35"
variants="watch=on watch=off" poll= split=0
while (($#)); do
	case $1 in
	--stores) stores=$2 ;;
	--count) count=$2 ;;
	--burst) burst=$2 ;;
	--gap-ms) gap=$2 ;;
	--variants) variants=$2 ;;
	--poll) poll=$2 ;;
	--split) split=1 && shift && continue ;;
	*) die "unknown argument $1 (see the header of $0)" ;;
	esac
	shift 2
done
rfs_setup
if [[ $split == 1 && $stores == *gluster://* ]]; then
	: "${RFS_GLUSTER_VOLUME:?--split on Gluster needs RFS_GLUSTER_VOLUME (a FUSE mount of it)}"
	bash "$here/../../scripts/gluster-volume.sh" mount "$RFS_GLUSTER_VOLUME" "$RFS_WORK/gm" \
		--attribute-timeout=0 --entry-timeout=0 >&2 || die "cannot FUSE-mount $RFS_GLUSTER_VOLUME"
fi
results=$RFS_WORK/results
: >"$results"
run=0
for st in $stores; do
	for v in $variants; do
		run=$((run + 1))
		d=$RFS_WORK/r$run
		mkdir -p "$d/ma" "$d/mb"
		if [[ $st == dir ]]; then
			store=dir:$d/store
			slog=$d/store/nodes/pa.log
		else
			store=$st/$(basename "$RFS_WORK")-r$run
			# The volume's root is gluster://HOST/VOLUME's; a URL with a directory adds it.
			sub=${store#gluster://*/}
			sub=${sub#*/}
			slog=$RFS_WORK/gm/$sub/nodes/pa.log
		fi
		extra=()
		[[ $split == 1 ]] && extra=(--store-log "$slog")
		opts="store=$store${poll:+,poll=$poll}"
		[[ $v == - ]] || opts+=",$v"
		rfs_start pa$run "$d/ma" "node=pa,statedir=$d/sa,$opts" || die "daemon A ($opts) did not start"
		rfs_start pb$run "$d/mb" "node=pb,statedir=$d/sb,$opts" || die "daemon B ($opts) did not start"
		sleep 1 # both have met the store (and each other's log) before the clock starts
		log "run $run: ${st%%:*} store, $v, $count records in bursts of $burst"
		python3 "$here/propagation.py" "$d/ma/rmtab" "$d/mb/rmtab" "$count" --burst "$burst" \
			--gap-ms $gap --label "$v" "${extra[@]}" >"$d/prop.out" || die "propagation.py failed"
		line=$(grep '^prop ' "$d/prop.out")
		printf '%s %s %s\n' "${st%%:*}" "$v" "$line" >>"$results"
		log "  $line"
		rfs_stop pa$run "$d/ma"
		rfs_stop pb$run "$d/mb"
		grep -h 'wake-up hint' "$RFS_WORK/pa$run.log" "$RFS_WORK/pb$run.log" >&2 || true
	done
done

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
printf '\n%-8s %-12s %6s %5s %5s %8s %8s %8s %8s %5s\n' store variant n lost reord p50_ms p90_ms \
	p99_ms max_ms same
while read -r st v line; do
	printf '%-8s %-12s %6s %5s %5s %8s %8s %8s %8s %5s\n' "$st" "$v" "$(field n "$line")" \
		"$(field lost "$line")" "$(field reordered "$line")" "$(field p50_ms "$line")" \
		"$(field p90_ms "$line")" "$(field p99_ms "$line")" "$(field max_ms "$line")" \
		"$(field same "$line")"
done <"$results"
if [[ $split == 1 ]]; then
	printf '\nwhere the time goes (ms): close() on A -> op on the store -> shown on B\n'
	printf '%-8s %-12s %12s %12s %14s %14s\n' store variant ship_p50 ship_p99 pickup_p50 pickup_p99
	while read -r st v line; do
		printf '%-8s %-12s %12s %12s %14s %14s\n' "$st" "$v" "$(field ship_p50_ms "$line")" \
			"$(field ship_p99_ms "$line")" "$(field pickup_p50_ms "$line")" \
			"$(field pickup_p99_ms "$line")"
	done <"$results"
fi
echo
awk '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (!($1 in b50)) { b50[$1] = f["p50_ms"]; b99[$1] = f["p99_ms"]; bv[$1] = $2 }
	else printf "%s: %s / %s = %.2f (p50), %.2f (p99)\n", $1, $2, bv[$1],
		f["p50_ms"] / b50[$1], f["p99_ms"] / b99[$1] }' "$results"
[[ -d $RFS_WORK/gm ]] && bash "$here/../../scripts/gluster-volume.sh" umount "$RFS_WORK/gm" >&2
rfs_finish
