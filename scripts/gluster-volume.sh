#!/usr/bin/env bash
# gluster-volume.sh — create and tear down a throwaway replica-3 Gluster volume
# on this one machine, for rmtabfs tests and benchmarks (see
# shared notes gluster.md, sections 3 and 4).
#
# Everything the script creates is recorded under $STATE_DIR so that `down`
# removes exactly that and nothing else: it never kills a gluster process it
# did not start, never touches volumes it did not create and never wipes
# /var/lib/glusterd.
set -euo pipefail

PROG=${0##*/}
STATE_DIR=${RMTABFS_GLUSTER_STATE_DIR:-/run/rmtabfs-test-gluster}
# Bricks need a file system with trusted.* xattrs; /var/tmp is on disk here
# (a tmpfs /tmp may lack them).
BRICK_PARENT=${RMTABFS_GLUSTER_BRICK_PARENT:-/var/tmp}
DEFAULT_NAME=rmtabfs-test
ONLINE_TIMEOUT=${RMTABFS_GLUSTER_ONLINE_TIMEOUT:-60}   # seconds
GLUSTERD_TIMEOUT=${RMTABFS_GLUSTER_GLUSTERD_TIMEOUT:-30}
HOSTS_TAG="# rmtabfs-test-gluster"
# --mode=script suppresses the interactive y/n prompts of stop/delete.
CLI=(gluster --mode=script)

# Options for an rmtab volume (notes 3.3, 3.5, 3.6): upcalls on, short
# ping-timeout so a hung brick is given up after ~5 s, and every caching /
# delaying performance xlator off so readers never see stale data.
VOLUME_OPTIONS=(
    features.cache-invalidation=on
    network.ping-timeout=5
    performance.quick-read=off
    performance.io-cache=off
    performance.read-ahead=off
    performance.write-behind=off
    performance.stat-prefetch=off
    performance.open-behind=off
    performance.readdir-ahead=off
    performance.client-io-threads=off
)

usage() {
    cat <<EOF
Usage: $PROG COMMAND [ARGS]

Throwaway replica-3 Gluster volume for rmtabfs tests (3 bricks on this host).
NAME defaults to '$DEFAULT_NAME'. Only 'up' and 'url' write to stdout (the URL);
all progress and errors go to stderr.

  up [NAME]              start glusterd if needed, create + tune + start the
                         volume, wait for all bricks; print gluster://HOST/NAME
                         (if NAME is already up from an earlier 'up', just
                         print its URL)
  down [NAME]            unmount its FUSE mounts, stop + delete the volume,
                         remove bricks and run dirs; stop glusterd only if 'up'
                         started it and no other volume is left
  url [NAME]             print the store URL of a volume made by 'up'
  status [NAME]          'gluster volume status' of the volume (to stderr)
  list                   names of the volumes this script manages
  brick-pids NAME        PID of each running brick process, one per line
  kill-brick NAME I      kill -9 brick I (1..3)
  pause-brick NAME I     kill -STOP brick I (a hung brick, for ping-timeout tests)
  resume-brick NAME I    kill -CONT brick I
  restart-bricks NAME    'volume start NAME force' until all bricks are online
  stop-glusterd          stop the glusterd that 'up' started (bricks keep running)
  start-glusterd         start it again
  stop-volume NAME       'volume stop NAME force'
  start-volume NAME      'volume start NAME', wait until all bricks are online
  mount NAME DIR [OPT..] FUSE-mount the volume on DIR with glusterfs (DIR is
                         created if missing; OPTs go to glusterfs, e.g.
                         --attribute-timeout=0)
  umount DIR             unmount a mount made by 'mount'
  help                   this text

Environment:
  RMTABFS_GLUSTER_STATE_DIR     state files (default /run/rmtabfs-test-gluster)
  RMTABFS_GLUSTER_BRICK_PARENT  where the brick directory is made (default /var/tmp)
  RMTABFS_GLUSTER_HOST          brick host name (default: \$(hostname))
  RMTABFS_GLUSTER_EXTRA_OPTS    more 'option=value' words to set on 'up'
  RMTABFS_GLUSTER_KEEP_ON_ERROR=1  do not roll back a failed 'up'
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# Run the gluster CLI with its output on stderr (stdout is reserved for the URL).
cli() { "${CLI[@]}" "$@" >&2; }
# Same, but quiet unless it fails.
cli_quiet() {
    local out
    if ! out=$("${CLI[@]}" "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root (glusterd, bricks and FUSE need it)"; }

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$ ]] ||
        die "bad volume name '$1' (letters, digits, '-', '_'; at most 64)"
}

# Serialise concurrent invocations: state files and /etc/hosts are shared.
take_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/.lock"
    flock -w 300 9 || die "could not lock $STATE_DIR/.lock"
}

state_file() { printf '%s/%s.env' "$STATE_DIR" "$1"; }
mounts_file() { printf '%s/%s.mounts' "$STATE_DIR" "$1"; }
GLOBAL_STATE="$STATE_DIR/global.env"

# Write KEY=VALUE pairs (shell-quoted) into a state file, atomically.
write_state() {
    local file=$1; shift
    local tmp="$file.tmp.$$" kv
    : >"$tmp"
    for kv in "$@"; do
        printf '%s=%q\n' "${kv%%=*}" "${kv#*=}" >>"$tmp"
    done
    mv -f "$tmp" "$file"
}

# Load a volume's state into V_* variables; fails if there is none.
load_state() {
    local f
    f=$(state_file "$1")
    [[ -f $f ]] || return 1
    local NAME='' HOST='' BRICK_ROOT='' CREATED='' SOCKETS=''
    # shellcheck disable=SC1090
    source "$f"
    V_NAME=$NAME V_HOST=$HOST V_BRICK_ROOT=$BRICK_ROOT V_CREATED=$CREATED
    V_SOCKETS=$SOCKETS
}

save_state() {
    write_state "$(state_file "$V_NAME")" NAME="$V_NAME" HOST="$V_HOST" \
        BRICK_ROOT="$V_BRICK_ROOT" CREATED="$V_CREATED" SOCKETS="$V_SOCKETS"
}

require_state() {
    load_state "$1" || die "no volume '$1' made by this script (no $(state_file "$1")); run '$PROG up $1' first"
}

# True if any volume made by this script is still recorded.
have_volume_states() {
    local f
    for f in "$STATE_DIR"/*.env; do
        [[ -e $f && ${f##*/} != global.env ]] && return 0
    done
    return 1
}

glusterd_answers() { "${CLI[@]}" volume list >/dev/null 2>&1; }

volume_exists() { "${CLI[@]}" volume info "$1" >/dev/null 2>&1; }

volume_started() {
    "${CLI[@]}" volume info "$1" 2>/dev/null | grep -q '^Status: Started$'
}

brick_path() { printf '%s/b%s' "$V_BRICK_ROOT" "$1"; }

# ---------------------------------------------------------------- glusterd --

load_global() {
    G_GLUSTERD_PID='' G_RUN_BEFORE='' G_SOCKET_EXISTED='' G_HOSTS_LINE=''
    [[ -f $GLOBAL_STATE ]] || return 0
    local GLUSTERD_PID='' RUN_BEFORE='' SOCKET_EXISTED='' HOSTS_LINE=''
    # shellcheck disable=SC1090
    source "$GLOBAL_STATE"
    G_GLUSTERD_PID=$GLUSTERD_PID G_RUN_BEFORE=$RUN_BEFORE
    G_SOCKET_EXISTED=$SOCKET_EXISTED G_HOSTS_LINE=$HOSTS_LINE
}

save_global() {
    if [[ -z $G_GLUSTERD_PID && -z $G_HOSTS_LINE ]]; then
        rm -f "$GLOBAL_STATE"
    else
        write_state "$GLOBAL_STATE" GLUSTERD_PID="$G_GLUSTERD_PID" \
            RUN_BEFORE="$G_RUN_BEFORE" SOCKET_EXISTED="$G_SOCKET_EXISTED" \
            HOSTS_LINE="$G_HOSTS_LINE"
    fi
}

# PIDs of live glusterd processes (pgrep also lists zombies, and PID 1 here
# may take a while to reap a glusterd that just exited).
live_glusterd_pids() {
    local pid
    for pid in $(pgrep -x glusterd || true); do
        grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null || echo "$pid"
    done
}

is_glusterd_pid() {
    [[ -n $1 && -r /proc/$1/comm ]] && [[ $(</proc/"$1"/comm) == glusterd ]] &&
        ! grep -q '^State:.*Z' /proc/"$1"/status 2>/dev/null
}

ensure_glusterd() {
    load_global
    if glusterd_answers; then
        return 0
    fi
    # A glusterd that exists but does not answer may still be starting (or is
    # someone else's broken one): wait for it rather than start a second one.
    if [[ -n $(live_glusterd_pids) ]]; then
        log "a glusterd is running but not answering yet; waiting up to ${GLUSTERD_TIMEOUT}s"
        wait_glusterd || die "glusterd (pid $(live_glusterd_pids | tr '\n' ' ')) does not answer 'gluster volume list'; not starting another"
        return 0
    fi
    command -v glusterd >/dev/null || die "glusterd not installed (apt-get install glusterfs-server)"
    # Remember what /run held before, so teardown removes only what this
    # glusterd leaves behind (sockets, empty dirs under /run/gluster).
    G_RUN_BEFORE=''
    if [[ -d /run/gluster ]]; then
        G_RUN_BEFORE=$(cd /run/gluster && find . -mindepth 1 | LC_ALL=C sort | tr '\n' ' ')
    fi
    G_SOCKET_EXISTED=$([[ -e /run/glusterd.socket ]] && echo 1 || echo 0)
    local pidfile="$STATE_DIR/glusterd.pid"
    rm -f "$pidfile"
    log "starting glusterd (no systemd here)"
    # fd 9 is our lock and must not be inherited by the daemon; nor may it
    # hold our caller's stdout/stderr pipes open.
    glusterd -p "$pidfile" </dev/null >>"$STATE_DIR/glusterd.out" 2>&1 9>&- || die "glusterd failed to start; see /var/log/glusterfs/glusterd.log"
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s $pidfile ]] && break
        sleep 0.1
    done
    G_GLUSTERD_PID=$(cat "$pidfile" 2>/dev/null || true)
    [[ -n $G_GLUSTERD_PID ]] || G_GLUSTERD_PID=$(live_glusterd_pids | tail -n 1)
    save_global
    wait_glusterd || die "glusterd started (pid $G_GLUSTERD_PID) but does not answer after ${GLUSTERD_TIMEOUT}s; see /var/log/glusterfs/glusterd.log"
    log "glusterd up (pid $G_GLUSTERD_PID)"
}

# Fault tests: stop the glusterd that 'up' started (bricks keep running, as when the
# management daemon dies), and start it again; the state file keeps tracking it.
cmd_stop_glusterd() {
    load_global
    [[ -n $G_GLUSTERD_PID ]] && is_glusterd_pid "$G_GLUSTERD_PID" ||
        die "no glusterd started by '$PROG up' is running"
    kill -TERM "$G_GLUSTERD_PID"
    local deadline=$((SECONDS + 15))
    while is_glusterd_pid "$G_GLUSTERD_PID" && ((SECONDS < deadline)); do sleep 0.1; done
    is_glusterd_pid "$G_GLUSTERD_PID" && die "glusterd $G_GLUSTERD_PID ignored SIGTERM"
    log "glusterd $G_GLUSTERD_PID stopped"
}

# The mount namespace a restarted glusterd belongs in: the one the first glusterd ran in
# (RMTABFS_GLUSTERD_MNTNS, e.g. /proc/PID/ns/mnt of a process that stays there; else that
# of a running brick, which the first glusterd started). A fault test runs in a mount
# namespace of its own: a glusterd started there, and every brick it starts, would keep
# that namespace and every mount it copied alive after the test (an rmtabfs on
# /var/lib/nfs among them could then never see its unmount).
glusterd_mntns() {
    local ns=${RMTABFS_GLUSTERD_MNTNS:-} pid
    if [[ -z $ns ]]; then
        pid=$(pgrep -x glusterfsd | head -n 1 || true)
        [[ -n $pid ]] && ns=/proc/$pid/ns/mnt
    fi
    [[ -n $ns && -e $ns && $(readlink "$ns") != "$(readlink /proc/self/ns/mnt)" ]] || return 0
    echo "$ns"
}

cmd_start_glusterd() {
    load_global
    [[ -n $G_GLUSTERD_PID ]] || die "no glusterd was started by '$PROG up'"
    glusterd_answers && { log "glusterd already answers"; return 0; }
    local pidfile="$STATE_DIR/glusterd.pid" i ns
    local -a enter=()
    rm -f "$pidfile"
    ns=$(glusterd_mntns)
    [[ -n $ns ]] && enter=(nsenter "--mount=$ns" --)
    "${enter[@]}" glusterd -p "$pidfile" </dev/null >>"$STATE_DIR/glusterd.out" 2>&1 9>&- ||
        die "glusterd failed to start"
    for ((i = 0; i < 50; i++)); do
        [[ -s $pidfile ]] && break
        sleep 0.1
    done
    G_GLUSTERD_PID=$(cat "$pidfile" 2>/dev/null || live_glusterd_pids | tail -n 1)
    save_global
    wait_glusterd || die "restarted glusterd does not answer"
    log "glusterd restarted (pid $G_GLUSTERD_PID)"
}

wait_glusterd() {
    local deadline=$((SECONDS + GLUSTERD_TIMEOUT))
    until glusterd_answers; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# Stop glusterd if (and only if) this script started it and it serves no
# volume any more; then remove what it left in /run.
maybe_stop_glusterd() {
    load_global
    [[ -n $G_GLUSTERD_PID ]] || return 0
    if have_volume_states; then
        return 0        # other volumes of ours still need it
    fi
    if ! is_glusterd_pid "$G_GLUSTERD_PID"; then
        log "glusterd pid $G_GLUSTERD_PID that 'up' started is gone already"
    else
        local others
        others=$("${CLI[@]}" volume list 2>/dev/null | grep -v '^No volumes present' || true)
        if [[ -n $others ]]; then
            log "not stopping glusterd (pid $G_GLUSTERD_PID, started by '$PROG up'): it still has volumes not made by this script: ${others//$'\n'/ }"
            return 0
        fi
        log "stopping glusterd pid $G_GLUSTERD_PID (started by '$PROG up')"
        kill -TERM "$G_GLUSTERD_PID" 2>/dev/null || true
        local deadline=$((SECONDS + 15))
        while is_glusterd_pid "$G_GLUSTERD_PID" && ((SECONDS < deadline)); do sleep 0.1; done
        if is_glusterd_pid "$G_GLUSTERD_PID"; then
            log "glusterd did not exit on SIGTERM; sending SIGKILL"
            kill -KILL "$G_GLUSTERD_PID" 2>/dev/null || true
            sleep 0.5
        fi
    fi
    # glusterd leaves its socket and the /run/gluster skeleton behind.
    if [[ $G_SOCKET_EXISTED != 1 && -z $(live_glusterd_pids) ]]; then
        rm -f /run/glusterd.socket
    fi
    cleanup_run_gluster
    rm -f "$STATE_DIR/glusterd.pid" "$STATE_DIR/glusterd.out"
    G_GLUSTERD_PID=''
    save_global
}

# Remove sockets and empty directories under /run/gluster that were not there
# before our glusterd started. Files of other daemons are never touched.
cleanup_run_gluster() {
    [[ -d /run/gluster ]] || return 0
    local p
    while IFS= read -r p; do
        case " $G_RUN_BEFORE " in *" $p "*) continue ;; esac
        p=/run/gluster/${p#./}
        if [[ -S $p ]]; then
            rm -f "$p"
        elif [[ -d $p ]]; then
            rmdir "$p" 2>/dev/null || true
        fi
    done < <(cd /run/gluster && find . -mindepth 1 -depth)
}

# ---------------------------------------------------------------- host name --

# Gluster refuses 'localhost'/127.0.0.1 as brick host but accepts any name
# that resolves, even to 127.0.0.1 (notes 4.1).
ensure_host() {
    local h=$1
    if getent hosts "$h" >/dev/null; then
        return 0
    fi
    load_global
    local line="127.0.0.1 $h $HOSTS_TAG"
    log "host name '$h' does not resolve; adding '$line' to /etc/hosts"
    printf '%s\n' "$line" >>/etc/hosts
    G_HOSTS_LINE=$line
    save_global
    getent hosts "$h" >/dev/null || die "'$h' still does not resolve after editing /etc/hosts"
}

maybe_remove_hosts_line() {
    load_global
    [[ -n $G_HOSTS_LINE ]] || return 0
    if have_volume_states; then
        return 0
    fi
    log "removing '$G_HOSTS_LINE' from /etc/hosts"
    # /etc/hosts may be a bind mount (containers): rewrite in place, no rename.
    local tmp
    tmp=$(mktemp)
    grep -vxF -- "$G_HOSTS_LINE" /etc/hosts >"$tmp" || true
    cat "$tmp" >/etc/hosts
    rm -f "$tmp"
    G_HOSTS_LINE=''
    save_global
}

# ------------------------------------------------------------------ bricks --

# Print "INDEX PID" for each brick process of volume $V_NAME that is alive,
# found from glusterd's pid files and checked against /proc/PID/cmdline, so a
# stale pid file never makes us signal an unrelated process. Works even when
# glusterd itself is down.
brick_procs() {
    local i path pidfile pid cmd
    for i in 1 2 3; do
        path=$(brick_path "$i")
        # glusterd names the pid file HOST-<brick path, '/' -> '-'>.pid
        pidfile=/run/gluster/vols/$V_NAME/$V_HOST-$(printf '%s' "${path#/}" | tr / -).pid
        [[ -r $pidfile ]] || continue
        pid=$(tr -dc 0-9 <"$pidfile")
        [[ -n $pid && -r /proc/$pid/cmdline ]] || continue
        grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null && continue
        cmd=$(tr '\0' ' ' </proc/"$pid"/cmdline)
        case "$cmd" in
            *glusterfsd*" --brick-name $path "*) printf '%s %s\n' "$i" "$pid" ;;
        esac
    done
}

brick_pid() {
    local idx=$1 i pid
    while read -r i pid; do
        [[ $i == "$idx" ]] && { echo "$pid"; return 0; }
    done < <(brick_procs)
    return 1
}

# Number of bricks that glusterd reports online (status 1), from the XML
# status (stable format, unlike the table).
bricks_online() {
    local xml
    xml=$("${CLI[@]}" volume status "$V_NAME" --xml 2>/dev/null) || { echo 0; return 0; }
    printf '%s\n' "$xml" | awk -v root="$V_BRICK_ROOT/" '
        /<node>/      { path = ""; st = "" }
        /<path>/      { p = $0; sub(/.*<path>/, "", p); sub(/<\/path>.*/, "", p); path = p }
        /<status>/    { s = $0; sub(/.*<status>/, "", s); sub(/<\/status>.*/, "", s); st = s }
        /<\/node>/    { if (index(path, root) == 1 && st == "1") n++ }
        END           { print n + 0 }'
}

# Online = glusterd says so AND the process is alive (glusterd may lag a
# SIGKILL by a few ms).
wait_bricks_online() {
    local deadline=$((SECONDS + ${1:-$ONLINE_TIMEOUT}))
    while :; do
        if [[ $(bricks_online) == 3 && $(brick_procs | wc -l) == 3 ]]; then
            return 0
        fi
        ((SECONDS < deadline)) || return 1
        sleep 0.25
    done
}

# Unix sockets of the bricks (-S), recorded so teardown can remove them:
# glusterd leaves them in /run/gluster after the volume is deleted.
record_sockets() {
    local i pid s socks=" $V_SOCKETS "
    while read -r i pid; do
        s=$(tr '\0' '\n' </proc/"$pid"/cmdline | awk 'prev == "-S" { print; exit } { prev = $0 }')
        [[ -n $s ]] || continue
        case "$socks" in *" $s "*) ;; *) socks="$socks$s " ;; esac
    done < <(brick_procs)
    local arr
    read -ra arr <<<"$socks"
    V_SOCKETS=${arr[*]}
    save_state
}

brick_index_arg() {
    [[ ${1:-} =~ ^[123]$ ]] || die "brick index must be 1, 2 or 3 (got '${1:-}')"
}

# ------------------------------------------------------------------ volume --

set_options() {
    local kv opt val got extra=()
    # shellcheck disable=SC2206
    [[ -n ${RMTABFS_GLUSTER_EXTRA_OPTS:-} ]] && extra=($RMTABFS_GLUSTER_EXTRA_OPTS)
    for kv in "${VOLUME_OPTIONS[@]}" "${extra[@]}"; do
        opt=${kv%%=*} val=${kv#*=}
        [[ $opt != "$kv" ]] || die "option '$kv' is not OPTION=VALUE"
        cli_quiet volume set "$V_NAME" "$opt" "$val" ||
            die "glusterd refused 'volume set $V_NAME $opt $val'"
        # Read it back: 'volume set' accepting a value is not proof it took.
        got=$("${CLI[@]}" volume get "$V_NAME" "$opt" 2>/dev/null |
            awk -v o="$opt" '$1 == o { print $2 }')
        [[ $(norm_bool "$got") == $(norm_bool "$val") ]] ||
            die "option $opt: set '$val' but 'volume get' says '${got:-nothing}'"
    done
    log "options set: ${VOLUME_OPTIONS[*]} ${extra[*]}"
}

norm_bool() {
    case "${1,,}" in
        on | yes | true | enable | 1) echo on ;;
        off | no | false | disable | 0) echo off ;;
        *) echo "${1,,}" ;;
    esac
}

url() { printf 'gluster://%s/%s\n' "$V_HOST" "$V_NAME"; }

# EXIT trap of 'up': on failure undo what this run created. The volume is
# torn down only once this run has begun creating it (UP_NEW_VOLUME); a
# glusterd / hosts line this run added goes whenever no volume of ours needs it.
UP_NEW_VOLUME=''
up_rollback() {
    local rc=$?
    trap - EXIT
    if ((rc != 0)) && [[ ${RMTABFS_GLUSTER_KEEP_ON_ERROR:-0} != 1 ]]; then
        log "up failed; undoing what this run created, if anything"
        if [[ -n $UP_NEW_VOLUME ]]; then
            teardown "$UP_NEW_VOLUME" || true
        else
            maybe_remove_hosts_line || true
            maybe_stop_glusterd || true
        fi
    fi
    exit "$rc"
}

cmd_up() {
    local name=$1
    check_name "$name"
    need_root
    take_lock
    trap up_rollback EXIT
    ensure_glusterd

    if load_state "$name"; then
        if volume_exists "$name"; then
            if ! volume_started "$name"; then
                log "volume $name exists (made by an earlier 'up') but is stopped; starting it"
                cli_quiet volume start "$name" || die "could not start volume $name"
            fi
            wait_bricks_online || die "volume $name: bricks not all online after ${ONLINE_TIMEOUT}s"
            log "volume $name is already up"
            trap - EXIT
            url
            return 0
        fi
        log "stale state for $name (volume gone); cleaning up and creating it anew"
        teardown "$name"
        ensure_glusterd
    elif volume_exists "$name"; then
        die "volume '$name' exists but was not created by this script; refusing to touch it (pick another NAME)"
    fi

    local host=${RMTABFS_GLUSTER_HOST:-$(hostname)}
    ensure_host "$host"

    mkdir -p "$BRICK_PARENT"
    V_NAME=$name V_HOST=$host V_CREATED=0 V_SOCKETS=''
    V_BRICK_ROOT=$(mktemp -d "$BRICK_PARENT/rmtabfs-gluster-$name.XXXXXX")
    save_state          # from here on, 'down' can undo a half-made volume
    UP_NEW_VOLUME=$name

    local t0=$SECONDS
    # force: bricks sit on the root partition, and all three replicas on one
    # server (notes 4.1).
    cli_quiet volume create "$name" replica 3 \
        "$host:$(brick_path 1)" "$host:$(brick_path 2)" "$host:$(brick_path 3)" force ||
        die "volume create $name failed"
    V_CREATED=1
    save_state
    set_options
    cli_quiet volume start "$name" || die "volume start $name failed"
    wait_bricks_online || die "volume $name: bricks not all online after ${ONLINE_TIMEOUT}s"
    record_sockets
    trap - EXIT
    log "volume $name up in $((SECONDS - t0))s, bricks under $V_BRICK_ROOT"
    url
}

# Undo everything recorded for volume $1 (used by 'down' and by rollback).
teardown() {
    local name=$1
    if load_state "$name"; then
        teardown_volume "$name"
    fi
    maybe_remove_hosts_line
    maybe_stop_glusterd
}

teardown_volume() {
    local name=$1

    # 1. FUSE mounts of the volume first (notes 4.4).
    local mf
    mf=$(mounts_file "$name")
    if [[ -f $mf ]]; then
        local dir pidfile created
        while IFS=$'\t' read -r dir pidfile created; do
            if [[ -n $dir ]]; then do_umount "$dir" "$pidfile" "$created" || true; fi
        done <"$mf"
        rm -f "$mf"
    fi

    # 2. A SIGSTOPped brick would never act on the SIGTERM of 'volume stop'.
    local i pid
    while read -r i pid; do kill -CONT "$pid" 2>/dev/null || true; done < <(brick_procs)

    # 3. stop + delete, only if we created it and glusterd is reachable.
    if [[ $V_CREATED == 1 ]]; then
        if glusterd_answers; then
            if volume_exists "$name"; then
                record_sockets 2>/dev/null || true
                if volume_started "$name"; then
                    cli_quiet volume stop "$name" force || log "warning: volume stop $name failed"
                fi
                cli_quiet volume delete "$name" || log "warning: volume delete $name failed"
            fi
        else
            log "warning: glusterd does not answer; cannot delete volume $name (its definition stays in /var/lib/glusterd/vols/$name)"
        fi
    fi

    # 4. brick processes that survived (glusterd down): ours by construction,
    #    identified by their brick path.
    while read -r i pid; do
        log "killing leftover brick $i process $pid"
        kill -KILL "$pid" 2>/dev/null || true
    done < <(brick_procs)

    # 5. bricks, sockets, run dirs.
    if [[ -n $V_BRICK_ROOT && $V_BRICK_ROOT == "$BRICK_PARENT"/rmtabfs-gluster-* ]]; then
        rm -rf -- "$V_BRICK_ROOT"
    elif [[ -n $V_BRICK_ROOT ]]; then
        log "warning: not removing unexpected brick root '$V_BRICK_ROOT'"
    fi
    local s
    for s in $V_SOCKETS; do
        [[ $s == /run/gluster/*.socket || $s == /var/run/gluster/*.socket ]] && rm -f -- "$s"
    done
    rmdir /run/gluster/vols/"$name" /run/gluster/shd/"$name" 2>/dev/null || true
    rm -f "$(state_file "$name")" "$STATE_DIR/$name.mount.out"
}

cmd_down() {
    local name=$1
    check_name "$name"
    need_root
    take_lock
    if ! load_state "$name"; then
        if glusterd_answers && volume_exists "$name"; then
            die "volume '$name' exists but was not created by this script; not touching it"
        fi
        log "nothing to do: no volume '$name' made by this script"
        teardown "$name"    # still drop a glusterd / hosts line left by a failed 'up'
        return 0
    fi
    teardown "$name"
    log "volume $name removed"
}

cmd_url() { require_state "$1"; url; }

cmd_status() {
    require_state "$1"
    cli volume status "$1" || true
    brick_procs | while read -r i pid; do log "brick $i: pid $pid $(brick_path "$i")"; done
}

cmd_list() {
    local f
    for f in "$STATE_DIR"/*.env; do
        [[ -e $f && ${f##*/} != global.env ]] || continue
        f=${f##*/}
        echo "${f%.env}"
    done
}

cmd_brick_pids() {
    require_state "$1"
    local i pid n=0
    while read -r i pid; do echo "$pid"; n=$((n + 1)); done < <(brick_procs)
    ((n == 3)) || log "note: only $n of 3 bricks of $1 are running"
}

signal_brick() {
    local sig=$1 name=$2 idx=$3 pid
    require_state "$name"
    brick_index_arg "$idx"
    pid=$(brick_pid "$idx") || die "brick $idx of $name is not running"
    kill "-$sig" "$pid"
    log "sent SIG$sig to brick $idx of $name (pid $pid)"
}

cmd_kill_brick() {
    local name=$1 idx=$2 pid
    need_root
    require_state "$name"
    brick_index_arg "$idx"
    pid=$(brick_pid "$idx") || die "brick $idx of $name is not running"
    # A stopped process still dies on SIGKILL; no SIGCONT needed.
    kill -KILL "$pid"
    local deadline=$((SECONDS + 5))
    while [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null; do
        ((SECONDS < deadline)) || die "brick pid $pid did not die"
        sleep 0.02
    done
    log "killed brick $idx of $name (pid $pid)"
}

cmd_restart_bricks() {
    local name=$1
    need_root
    require_state "$name"
    take_lock
    # 'start force' within ~3 s of a brick's death is silently a no-op
    # (notes 4.3): repeat it until glusterd shows every brick online.
    local deadline=$((SECONDS + ONLINE_TIMEOUT)) tries=0 t0=$SECONDS
    while :; do
        local i pid
        while read -r i pid; do kill -CONT "$pid" 2>/dev/null || true; done < <(brick_procs)
        tries=$((tries + 1))
        cli_quiet volume start "$name" force || log "warning: volume start $name force failed (try $tries)"
        if wait_bricks_online 1; then break; fi
        ((SECONDS < deadline)) || die "bricks of $name not all online after ${ONLINE_TIMEOUT}s ($tries tries)"
        sleep 0.5
    done
    record_sockets
    log "all bricks of $name online after $((SECONDS - t0))s ($tries tries)"
}

cmd_stop_volume() {
    local name=$1
    need_root
    require_state "$name"
    take_lock
    local i pid
    while read -r i pid; do kill -CONT "$pid" 2>/dev/null || true; done < <(brick_procs)
    if ! volume_started "$name"; then
        log "volume $name already stopped"
        return 0
    fi
    cli_quiet volume stop "$name" force || die "volume stop $name failed"
    log "volume $name stopped"
}

cmd_start_volume() {
    local name=$1
    need_root
    require_state "$name"
    take_lock
    if volume_started "$name"; then
        log "volume $name already started"
    else
        cli_quiet volume start "$name" || die "volume start $name failed"
    fi
    wait_bricks_online || die "volume $name: bricks not all online after ${ONLINE_TIMEOUT}s"
    record_sockets
    log "volume $name started"
}

# From the mount table, not stat(): a FUSE mount whose client died answers
# stat() with ENOTCONN but is still mounted and must still be unmounted.
is_mounted() {
    awk -v d="$1" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

cmd_mount() {
    local name=$1 dir=$2; shift 2
    need_root
    require_state "$name"
    take_lock
    volume_started "$name" || die "volume $name is not started"
    local created=0
    if [[ ! -d $dir ]]; then
        mkdir -p -- "$dir"
        created=1
    fi
    dir=$(cd "$dir" && pwd -P)
    is_mounted "$dir" && die "$dir is already a mount point"
    local pidfile
    pidfile="$STATE_DIR/$name.mount.$(printf '%s' "$dir" | md5sum | cut -c1-12).pid"
    rm -f "$pidfile"
    glusterfs --process-name fuse --volfile-server="$V_HOST" --volfile-id="$name" \
        -p "$pidfile" "$@" "$dir" </dev/null >>"$STATE_DIR/$name.mount.out" 2>&1 9>&- || {
        ((created)) && rmdir -- "$dir"
        die "glusterfs mount of $name on $dir failed; see /var/log/glusterfs/$(printf '%s' "${dir#/}" | tr / -).log"
    }
    local deadline=$((SECONDS + 20))
    until is_mounted "$dir" && timeout 5 stat -f -- "$dir" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            do_umount "$dir" "$pidfile" "$created" || true
            die "mount of $name on $dir did not come up in 20s"
        fi
        sleep 0.1
    done
    printf '%s\t%s\t%s\n' "$dir" "$pidfile" "$created" >>"$(mounts_file "$name")"
    log "mounted $name on $dir (glusterfs pid $(cat "$pidfile" 2>/dev/null || echo '?'))"
}

# Unmount DIR and wait for its glusterfs client process to go away.
do_umount() {
    local dir=$1 pidfile=$2 created=$3 pid=''
    [[ -r $pidfile ]] && pid=$(tr -dc 0-9 <"$pidfile")
    if is_mounted "$dir"; then
        umount -- "$dir" 2>/dev/null || {
            log "umount $dir busy; lazy unmount"
            umount -l -- "$dir"
        }
    fi
    if [[ -n $pid ]]; then
        local deadline=$((SECONDS + 10))
        while [[ -d /proc/$pid ]] && ! grep -q '^State:.*Z' /proc/"$pid"/status 2>/dev/null; do
            if ((SECONDS >= deadline)); then
                # only if it still is our glusterfs client of this mount
                if tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | grep -q "glusterfs.* $dir"; then
                    log "glusterfs client $pid of $dir did not exit; killing it"
                    kill -KILL "$pid" 2>/dev/null || true
                fi
                break
            fi
            sleep 0.1
        done
    fi
    rm -f -- "$pidfile"
    if [[ $created == 1 ]]; then rmdir -- "$dir" 2>/dev/null || true; fi
    log "unmounted $dir"
}

cmd_umount() {
    local dir=$1
    need_root
    take_lock
    [[ -d $dir ]] && dir=$(cd "$dir" && pwd -P)
    local mf d p c found=''
    for mf in "$STATE_DIR"/*.mounts; do
        [[ -e $mf ]] || continue
        while IFS=$'\t' read -r d p c; do
            if [[ $d == "$dir" ]]; then found=$mf; break; fi
        done <"$mf"
        [[ -n $found ]] && break
    done
    [[ -n $found ]] || die "$dir was not mounted by '$PROG mount'; not touching it"
    do_umount "$d" "$p" "$c"
    # drop its line from the mounts file
    awk -F '\t' -v d="$d" '$1 != d' "$found" >"$found.tmp"
    mv -f "$found.tmp" "$found"
    [[ -s $found ]] || rm -f "$found"
}

# -------------------------------------------------------------------- main --

main() {
    local cmd=${1:-help}
    (($# > 0)) && shift
    case "$cmd" in
        up)             (($# <= 1)) || die "usage: $PROG up [NAME]"; cmd_up "${1:-$DEFAULT_NAME}" ;;
        down)           (($# <= 1)) || die "usage: $PROG down [NAME]"; cmd_down "${1:-$DEFAULT_NAME}" ;;
        url)            cmd_url "${1:-$DEFAULT_NAME}" ;;
        status)         cmd_status "${1:-$DEFAULT_NAME}" ;;
        list)           cmd_list ;;
        brick-pids)     (($# == 1)) || die "usage: $PROG brick-pids NAME"; cmd_brick_pids "$1" ;;
        kill-brick)     (($# == 2)) || die "usage: $PROG kill-brick NAME I"; cmd_kill_brick "$1" "$2" ;;
        pause-brick)    (($# == 2)) || die "usage: $PROG pause-brick NAME I"; need_root; signal_brick STOP "$1" "$2" ;;
        resume-brick)   (($# == 2)) || die "usage: $PROG resume-brick NAME I"; need_root; signal_brick CONT "$1" "$2" ;;
        restart-bricks) (($# == 1)) || die "usage: $PROG restart-bricks NAME"; cmd_restart_bricks "$1" ;;
        stop-glusterd)  need_root; cmd_stop_glusterd ;;
        start-glusterd) need_root; cmd_start_glusterd ;;
        stop-volume)    (($# == 1)) || die "usage: $PROG stop-volume NAME"; cmd_stop_volume "$1" ;;
        start-volume)   (($# == 1)) || die "usage: $PROG start-volume NAME"; cmd_start_volume "$1" ;;
        mount)          (($# >= 2)) || die "usage: $PROG mount NAME DIR [GLUSTERFS-OPTION...]"; cmd_mount "$@" ;;
        umount|unmount) (($# == 1)) || die "usage: $PROG umount DIR"; cmd_umount "$1" ;;
        help|-h|--help) usage ;;
        *)              usage >&2; die "unknown command '$cmd'" ;;
    esac
}

main "$@"
