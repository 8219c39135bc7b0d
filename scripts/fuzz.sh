#!/bin/bash
# fuzz.sh: builds the libFuzzer targets of tests/fuzz/ with clang (ASan + UBSan + libFuzzer,
# the project's parser/journal sources compiled in directly) and runs each for a bounded time
# on a private copy of its seed corpus. Exits non-zero if any target crashes, leaks, times out,
# runs out of memory, or if a saved reproducer in tests/fuzz/regressions/<target>/ still fails.
#
# usage: scripts/fuzz.sh [options] [SECONDS] [TARGET...]
#   SECONDS            run time per target (default $FUZZ_TIME, else 60)
#   TARGET             fuzz_rmtab fuzz_gnfs fuzz_oplog fuzz_journal fuzz_diff (default: all)
#   -j N               run N targets at a time (default $FUZZ_JOBS, else 1)
#   --build-only       build, run the regression reproducers, do not fuzz
#   --keep             keep the work directory (grown corpora, logs) even on success
#   --make-seeds       (re)write the seeds of tests/fuzz/corpus/ with tests/fuzz/make_seeds.c
#                      and exit; other files there are listed, never removed
#   -h, --help
# environment:
#   FUZZ_TIME, FUZZ_JOBS     as above
#   FUZZ_BUILD               build directory (default /tmp/rmtabfs-fuzz/build)
#   FUZZ_WORK                parent of the per-run work directory (default /tmp)
#   FUZZ_ARGS                extra libFuzzer arguments for every target
#   CC                       compiler (default clang; must support -fsanitize=fuzzer)
#   FUZZ_SKIP_KNOWN=1        steer the targets around bugs already saved as regression
#                            reproducers (so a long run can look for others); the
#                            reproducers themselves still run and still fail the script
# A crash leaves its input as <workdir>/<target>/crash-* (or leak-*, timeout-*, oom-*); the
# work directory is then kept and its path printed. Reproduce with
#   $FUZZ_BUILD/<target> <file>
# and save the file under tests/fuzz/regressions/<target>/ once understood.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzzdir=$top/tests/fuzz
all_targets=(fuzz_rmtab fuzz_gnfs fuzz_oplog fuzz_journal fuzz_diff)
# The project sources the targets exercise (no FUSE, no store): pure code plus the journal.
lib_sources=(buf record rmtab_fmt gnfs_fmt oplog diff journal checkpoint table log)

secs=${FUZZ_TIME:-60}
jobs=${FUZZ_JOBS:-1}
build_only=0
keep=0
make_seeds=0
targets=()

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

while (($#)); do
	case $1 in
	-j) jobs=${2:?-j needs a number}; shift ;;
	-j*) jobs=${1#-j} ;;
	--build-only) build_only=1 ;;
	--keep) keep=1 ;;
	--make-seeds) make_seeds=1 ;;
	-h | --help) usage; exit 0 ;;
	[0-9]*) secs=$1 ;;
	fuzz_*) targets+=("$1") ;;
	*) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
((${#targets[@]})) || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
	[[ -f $fuzzdir/$t.c ]] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
done
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || { echo "fuzz.sh: bad time '$secs'" >&2; exit 2; }
[[ $jobs =~ ^[0-9]+$ && $jobs -gt 0 ]] || { echo "fuzz.sh: bad job count '$jobs'" >&2; exit 2; }

cc=${CC:-clang}
build=${FUZZ_BUILD:-/tmp/rmtabfs-fuzz/build}
mkdir -p "$build/obj"

# ---- toolchain check ----
if ! command -v "$cc" >/dev/null; then
	echo "fuzz.sh: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi
probe=$build/probe
cat >"$probe.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return (int)(d && n) * 0; }
EOF
if ! "$cc" -fsanitize=fuzzer,address,undefined "$probe.c" -o "$probe" 2>"$probe.log"; then
	echo "fuzz.sh: $cc cannot link -fsanitize=fuzzer,address,undefined" \
		"(libclang-rt-14-dev missing?):" >&2
	cat "$probe.log" >&2
	exit 1
fi

# ---- build ----
# shellcheck disable=SC2054 # the commas are clang's
common=(-std=gnu11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
	-I"$top/include" -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes
	-Wmissing-prototypes -Wvla -fsanitize=address,undefined -fno-sanitize-recover=all)
echo "== building into $build ($("$cc" --version | head -1))"
objs=()
pids=()
for s in "${lib_sources[@]}"; do
	"$cc" "${common[@]}" -fsanitize=fuzzer-no-link -c "$top/fs/$s.c" -o "$build/obj/$s.o" &
	pids+=($!)
	objs+=("$build/obj/$s.o")
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
((fail == 0)) || { echo "fuzz.sh: building the project sources failed" >&2; exit 1; }

if ((make_seeds)); then
	"$cc" "${common[@]}" "$fuzzdir/make_seeds.c" "${objs[@]}" -fsanitize=fuzzer-no-link \
		-o "$build/make_seeds" -lpthread
	# Written beside, then copied over: files it does not write are left alone, only listed.
	rm -rf "$build/seeds"
	"$build/make_seeds" "$build/seeds"
	cp -r "$build/seeds/." "$fuzzdir/corpus/"
	echo "== seeds written to $fuzzdir/corpus"
	(cd "$fuzzdir/corpus" && find . -type f | sort) >"$build/seeds.all"
	(cd "$build/seeds" && find . -type f | sort) >"$build/seeds.new"
	if comm -23 "$build/seeds.all" "$build/seeds.new" | grep -q .; then
		echo "   not written by make_seeds (remove them if they are stale):"
		comm -23 "$build/seeds.all" "$build/seeds.new" | sed 's|^\./|     corpus/|'
	fi
	exit 0
fi

pids=()
for t in "${targets[@]}"; do
	"$cc" "${common[@]}" -fsanitize=fuzzer "$fuzzdir/$t.c" "${objs[@]}" -o "$build/$t" \
		-lpthread &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
((fail == 0)) || { echo "fuzz.sh: building the fuzz targets failed" >&2; exit 1; }

work=$(mktemp -d "${FUZZ_WORK:-/tmp}/rmtabfs-fuzz.XXXXXX")
# The journal target's files go to a private tmpfs directory when there is one.
if [[ -d /dev/shm && -w /dev/shm ]]; then
	shm=$(mktemp -d /dev/shm/rmtabfs-fuzz.XXXXXX)
else
	shm=$work/tmp
	mkdir -p "$shm"
fi
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	rm -rf "$shm"
}
trap cleanup EXIT

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export FZ_TMPDIR=$shm

# Largest input per target: room for several long lines, or a long journal.
declare -A max_len=([fuzz_rmtab]=8192 [fuzz_gnfs]=8192 [fuzz_oplog]=8192 [fuzz_journal]=16384
	[fuzz_diff]=16384)

status=0

# ---- regression reproducers: each must now pass ----
for t in "${targets[@]}"; do
	reg=$fuzzdir/regressions/$t
	compgen -G "$reg/*" >/dev/null || continue
	if env -u FUZZ_SKIP_KNOWN "$build/$t" -runs=1 "$reg"/* >"$work/$t.regressions.log" 2>&1; then
		echo "== $t: $(find "$reg" -type f | wc -l) regression reproducer(s) pass"
	else
		echo "== $t: a regression reproducer FAILS (log: $work/$t.regressions.log)"
		grep -m3 -E 'FUZZ INVARIANT|ERROR: |runtime error' "$work/$t.regressions.log" |
			sed 's/^/     /' || true
		status=1
	fi
done
if ((build_only)); then
	if ((status)); then
		echo "fuzz.sh: FAILED (work directory kept: $work)"
	else
		rm -rf "$work"
	fi
	exit $status
fi

# ---- fuzzing ----
run_target() {
	local t=$1 dir=$work/$1 rc=0
	local -a dict=()

	mkdir -p "$dir/corpus"
	cp -r "$fuzzdir/corpus/$t/." "$dir/corpus/" 2>/dev/null || true
	[[ -f $fuzzdir/$t.dict ]] && dict=(-dict="$fuzzdir/$t.dict")
	# shellcheck disable=SC2086
	(cd "$dir" && exec "$build/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 \
		-max_len="${max_len[$t]}" -print_final_stats=1 -artifact_prefix="$dir/" \
		"${dict[@]}" ${FUZZ_ARGS:-} corpus) >"$dir/log" 2>&1 || rc=$?
	echo "$rc" >"$dir/rc"
}

echo "== fuzzing ${targets[*]}: ${secs}s each, $jobs at a time, work directory $work"
running=0
for t in "${targets[@]}"; do
	run_target "$t" &
	running=$((running + 1))
	if ((running >= jobs)); then
		wait -n || true
		running=$((running - 1))
	fi
done
wait || true

printf '\n%-13s %-6s %12s %9s %7s %8s %16s\n' target result execs exec/s cov ft corpus
for t in "${targets[@]}"; do
	dir=$work/$t
	rc=$(cat "$dir/rc" 2>/dev/null || echo 99)
	log=$dir/log
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
	if [[ $rc == 0 ]] && ! grep -q -E '^==[0-9]+==ERROR|FUZZ INVARIANT|runtime error' "$log"; then
		result=ok
	else
		result=FAIL
		status=1
	fi
	printf '%-13s %-6s %12s %9s %7s %8s %16s\n' "$t" "$result" "${execs:-?}" "${speed:-?}" \
		"${cov:-?}" "${ft:-?}" "${corp:-?} (files/bytes)"
done
for t in "${targets[@]}"; do
	dir=$work/$t
	[[ $(cat "$dir/rc" 2>/dev/null) == 0 ]] && continue
	echo
	echo "== $t failed (exit $(cat "$dir/rc" 2>/dev/null)), log $dir/log:"
	grep -m5 -E 'FUZZ INVARIANT|^==[0-9]+==ERROR|runtime error|SUMMARY|^  ' "$dir/log" |
		sed 's/^/     /' || true
	find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
		-o -name 'oom-*' \) | sed 's/^/     reproducer: /'
done
if ((status)); then
	echo "fuzz.sh: FAILED (work directory kept: $work)"
elif ((keep)); then
	echo "fuzz.sh: ok (work directory kept: $work)"
else
	rm -rf "$work"
	echo "fuzz.sh: ok"
fi
exit $status
