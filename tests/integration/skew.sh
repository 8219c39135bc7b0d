#!/bin/bash
# Clock skew: three daemons on one dir: store, the third with a wall clock an hour ahead
# (then, in a second round, an hour behind), faked with tests/tools/fakeclock.so. Checks:
#  - all three views converge to identical bytes, equal to a model of the changes;
#  - changes the good nodes make after the skewed node's ops win (they are stamped after the
#    records they replace), and so do the skewed node's later changes;
#  - the good nodes' clocks are not dragged: a record n1 adds afterwards is stamped within
#    maxskew of real time, and `prune --older-than` on n1 removes it a few seconds later;
#  - the skewed node is logged and shown by `rmtabctl status` (an hour ahead: on the good
#    nodes; an hour behind: on itself, which sees every other node ahead).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
rfs_need_fuse
# A private mount namespace: no other test's namespace can hold these mounts (and with them
# the daemons) alive after they are unmounted here.
rfs_private_ns "$@"
rfs_setup
SHIM=$RFS_TOOLS/fakeclock.so
[[ -r $SHIM ]] || die "missing $SHIM"
# An ASan build wants its runtime first; the shim only wraps three libc calls.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

list_raw() { # NAME: "client path count born origin time writer" lines of the daemon
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"list\n\n")
data = b""
while True:
    b = s.recv(65536)
    if not b: break
    data += b
lines = data.decode().split("\n")
assert lines[0] == "ok", lines[0]
print("\n".join(l for l in lines[1:] if l))' "$RFS_WORK/$1.sock"
}
declare -A MODEL
model_text() { # the model's records, sorted, as rmtab lines
	local k
	for k in "${!MODEL[@]}"; do
		[[ ${MODEL[$k]} == 0 ]] || printf '%s:0x%08x\n' "$k" "${MODEL[$k]}"
	done | sort
}
converged() { # all three views byte-identical and, sorted, equal to the model
	local a b c
	a=$(cat "$RFS_WORK/m1/rmtab") && b=$(cat "$RFS_WORK/m2/rmtab") && c=$(cat "$RFS_WORK/m3/rmtab") &&
		[[ $a == "$b" && $b == "$c" && $(sort <<<"$a" | sed '/^$/d') == "$(model_text)" ]]
}
settle() { # DESCRIPTION
	RFS_CHECKS=$((RFS_CHECKS + 1))
	if wait_for 10 converged; then
		log "ok: $1"
	else
		fail "$1"
		for n in 1 2 3; do log "n$n:"; cat "$RFS_WORK/m$n/rmtab" >&2; done
		log "model:"; model_text >&2
	fi
}

round() { # OFFSET (seconds) of n3's clock
	local off=$1 n sd now t
	MODEL=()
	for n in 1 2 3; do mkdir -p "$RFS_WORK/m$n"; done
	sd=$RFS_WORK/round$off
	mkdir -p "$sd"
	rfs_start n1 "$RFS_WORK/m1" "statedir=$sd/s1,store=dir:$sd/store,node=n1" || die "n1"
	rfs_start n2 "$RFS_WORK/m2" "statedir=$sd/s2,store=dir:$sd/store,node=n2" || die "n2"
	# Only the daemon gets the shim, through a wrapper in place of the binary.
	printf '#!/bin/sh\nexec env LD_PRELOAD=%q RFS_FAKE_CLOCK_OFFSET=%q %q "$@"\n' \
		"$SHIM" "$off" "$RFS_BIN" >"$RFS_WORK/skewed-rmtabfs"
	chmod +x "$RFS_WORK/skewed-rmtabfs"
	RFS_BIN=$RFS_WORK/skewed-rmtabfs \
		rfs_start n3 "$RFS_WORK/m3" "statedir=$sd/s3,store=dir:$sd/store,node=n3" || die "n3"
	log "round: n3's clock is $off s off"

	echo 'c1:/e/a' >>"$RFS_WORK/m1/rmtab"
	MODEL[c1:/e/a]=1
	settle "[$off] a record of n1 shows everywhere"
	# The skewed node adds two records and changes n1's.
	echo 'c3:/e/b' >>"$RFS_WORK/m3/rmtab"
	echo 'c3:/e/c' >>"$RFS_WORK/m3/rmtab"
	rfs_ctl n3 add c1 /e/a 5 >/dev/null
	MODEL[c3:/e/b]=1 MODEL[c3:/e/c]=1 MODEL[c1:/e/a]=5
	settle "[$off] the skewed node's changes show everywhere"
	# The good nodes change all three afterwards: their changes win.
	rfs_ctl n1 remove c3 /e/b >/dev/null
	rfs_ctl n2 add c1 /e/a 2 >/dev/null
	rfs_ctl n2 add c3 /e/c 7 >/dev/null
	MODEL[c3:/e/b]=0 MODEL[c1:/e/a]=2 MODEL[c3:/e/c]=7
	settle "[$off] the good nodes' later changes of the skewed node's records win everywhere"
	# And the skewed node's later changes win too.
	rfs_ctl n3 remove c1 /e/a >/dev/null
	echo 'c2:/e/d' >>"$RFS_WORK/m3/rmtab"
	MODEL[c1:/e/a]=0 MODEL[c2:/e/d]=1
	settle "[$off] the skewed node's later changes win everywhere"
	# n1's clock was not dragged: its new record is stamped at real time.
	echo 'g:/e/new' >>"$RFS_WORK/m1/rmtab"
	MODEL[g:/e/new]=1
	settle "[$off] a new record of n1 shows everywhere"
	now=$(date +%s)
	t=$(list_raw n1 | awk -F'\t' '$1 == "g" { print int($6 / 1e9) }')
	check "[$off] n1's new record is stamped within maxskew of real time ($((t - now)) s)" \
		test "${t:-0}" -gt $((now - 300)) -a "${t:-0}" -lt $((now + 300))

	if ((off > 0)); then
		check "[$off] n1's status shows n3 ahead" \
			bash -c "'$RFS_CTL_BIN' -s '$RFS_WORK/n1.sock' status | grep -qE 'clock skew: +node n3 stamps its changes 3[56][0-9][0-9] s ahead'"
		check "[$off] n2's status shows n3 ahead" \
			bash -c "'$RFS_CTL_BIN' -s '$RFS_WORK/n2.sock' status | grep -q 'clock skew: *node n3 stamps'"
		check "[$off] n1 logged it" grep -q "clock skew: changes of node n3 are stamped 3[56][0-9][0-9] s ahead" "$RFS_WORK/n1.log"
		rfs_ctl n1 list >"$RFS_WORK/list.out"
		check "[$off] rmtabctl list on n1 marks n3's record as stamped ahead" \
			grep -qE '^c2 .*stamped ahead of this clock' "$RFS_WORK/list.out"
		check "[$off] and not n1's own" grep -qE '^g ' "$RFS_WORK/list.out"
		check "[$off] (n1's own is not marked)" rfs_absent -E '^g .*stamped ahead' "$RFS_WORK/list.out"
		check "[$off] n3's status sees no other node ahead" \
			bash -c "s=\$('$RFS_CTL_BIN' -s '$RFS_WORK/n3.sock' status) && grep -q '^node: *n3' <<<\"\$s\" && ! grep -q 'node n[12] stamps' <<<\"\$s\""
	else
		check "[$off] n3's status shows n1 and n2 ahead and says its clock is probably behind" \
			bash -c "s=\$('$RFS_CTL_BIN' -s '$RFS_WORK/n3.sock' status) && grep -q 'node n1 stamps its changes 3[56][0-9][0-9] s ahead' <<<\"\$s\" && grep -q 'node n2 stamps' <<<\"\$s\" && grep -q 'this node.s clock is probably behind' <<<\"\$s\""
		check "[$off] n3 logged it" grep -q "clock skew: changes of node n[12] are stamped" "$RFS_WORK/n3.log"
		check "[$off] n1's status shows no skew (n3's stamps are behind, not ahead)" \
			bash -c "s=\$('$RFS_CTL_BIN' -s '$RFS_WORK/n1.sock' status) && grep -q '^node: *n1' <<<\"\$s\" && ! grep -q 'clock skew' <<<\"\$s\""
	fi

	# prune on a good node: records stamped at real time go, those stamped an hour ahead
	# stay until their stamps are old (a delay of the skew, not forever).
	sleep 3
	rfs_ctl n1 prune --older-than 2s >/dev/null
	MODEL[g:/e/new]=0
	if ((off > 0)); then
		# c3:/e/c (n2 changed it after n3's stamp) and c2:/e/d (n3's) are stamped ahead.
		:
	else
		MODEL[c3:/e/c]=0 MODEL[c2:/e/d]=0
	fi
	settle "[$off] prune --older-than 2s on n1 removes what is 2 s old by its stamp, everywhere"
	for n in 1 2 3; do rfs_stop "n$n" "$RFS_WORK/m$n" >/dev/null; done
}

round 3600
round -3600
rfs_finish
