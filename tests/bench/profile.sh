#!/usr/bin/env bash
# profile.sh: figures that do not depend on how busy the machine is, for roomd
# and the bare libwebsockets peer (tests/bench/peers/bare_lws.c):
#
#   1. instructions per delivery: each server under callgrind, fixed relay
#      workloads (loadgen --count), N=100 with W=1 and W=16;
#   2. syscalls per delivery: each server natively under
#      `perf stat -e raw_syscalls:sys_enter -e 'syscalls:sys_enter_*'`, the
#      same workloads;
#   3. roomd's cost per inbound message, split into parse, Lua, encode,
#      fan-out and the rest: callgrind inclusive costs on 10 members all
#      sending (W=16), turned into microseconds with roomd's own instructions
#      per user CPU-second (native runs of the same workload).
#
# Every figure is the difference between two runs that differ only in the
# message count (C1 < C2): start-up, connecting and shutting down cancel out.
# Servers run pinned to CPU 0, loadgen and roomd's redis-server to CPU 1, as
# in run.sh. Prints the report (tests/bench/profile_report.py); raw files stay
# in $WORK (callgrind outputs, perf outputs, profile.jsonl, server logs).
#
# Environment: PARTS ("callgrind syscalls split"), SERVERS ("roomd bare_lws"),
# COUNTS ("2000 6000": messages per sender for the N=100 cases), S10_COUNTS
# ("1000 4000": per sender, 10 senders), NATIVE_S10_COUNT (30000), NATIVE_RUNS
# (5), PORT (18680), BUILD (1: build first).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/bench
OUT=${OUT:-$BENCH/out}
PARTS=${PARTS:-callgrind syscalls split}
SERVERS=${SERVERS:-roomd bare_lws}
COUNTS=${COUNTS:-2000 6000}
S10_COUNTS=${S10_COUNTS:-1000 4000}
NATIVE_S10_COUNT=${NATIVE_S10_COUNT:-30000}
NATIVE_RUNS=${NATIVE_RUNS:-5}
PORT=${PORT:-18680}
BUILD=${BUILD:-1}
WORK=$(mktemp -d /tmp/roomd-profile.XXXXXX)
RECORDS=$WORK/profile.jsonl
LOADGEN=$OUT/loadgen
LOADGEN_DEADLINE=400 # seconds, per run (callgrind slows the server 5-50x)
SERVER_PID=""
REDIS_PID=""
LOADGEN_WRAP=() # a command loadgen runs under (perf stat)

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

build() {
    log "building roomd and bench programs"
    if [ ! -d "$ROOT/build" ]; then
        cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/build.log" 2>&1
    fi
    cmake --build "$ROOT/build" -j2 >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
    make -C "$BENCH" OUT="$OUT" >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
}

note_uptime() {
    printf '{"kind":"uptime","text":"%s: %s"}\n' "$1" "$(uptime | sed 's/^ *//')" >>"$RECORDS"
}

wait_port() { # up to 60 s: valgrind starts slowly
    for _ in $(seq 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_server roomd|bare_lws [WRAPPER...]: a fresh server on a fresh port, pinned to CPU 0,
# run under WRAPPER (e.g. valgrind) if given.
start_server() {
    local name=$1
    shift
    PORT=$((PORT + 1))
    local cmd
    case $name in
    roomd)
        cmd=("$ROOT/build/roomd" --port "$PORT" --data "$WORK/data-$PORT" --set log_level=warn
            --set limits.messages_per_second=1000000000)
        ;;
    bare_lws) cmd=("$OUT/bare_lws" --port "$PORT") ;;
    esac
    taskset -c 0 "$@" "${cmd[@]}" >"$WORK/server-$PORT.log" 2>&1 &
    SERVER_PID=$!
    wait_port || { log "$name did not start:"; cat "$WORK/server-$PORT.log" >&2; exit 1; }
    REDIS_PID=$(awk '{print $1}' "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null || true)
    if [ -n "$REDIS_PID" ]; then taskset -apc 1 "$REDIS_PID" >/dev/null; fi
    sleep 0.3
}

stop_server() { # SIGTERM, up to 60 s (callgrind writes its file at exit), then SIGKILL
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 600); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        sleep 0.5
        if kill -0 "$REDIS_PID" 2>/dev/null; then
            log "redis child $REDIS_PID outlived its server; killing it"
            kill -KILL "$REDIS_PID" 2>/dev/null || true
        fi
    fi
    SERVER_PID=""
    REDIS_PID=""
}

trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# case_args CASE COUNT: loadgen's arguments for a case.
case_args() {
    local deadline=(--count "$2" --duration "$LOADGEN_DEADLINE")
    case $1 in
    n100-w1) echo relay --conns 100 --rooms 1 --window 1 "${deadline[@]}" ;;
    n100-w16) echo relay --conns 100 --rooms 1 --window 16 "${deadline[@]}" ;;
    n10-s10-w16) echo relay --conns 10 --rooms 1 --senders 10 --window 16 "${deadline[@]}" ;;
    esac
}

# run_loadgen CASE COUNT: one fixed workload against the running server; prints its RESULT json.
run_loadgen() {
    local line
    # shellcheck disable=SC2046 # case_args gives words
    line=$(timeout $((LOADGEN_DEADLINE + 60)) "${LOADGEN_WRAP[@]}" taskset -c 1 "$LOADGEN" \
        $(case_args "$1" "$2") \
        --port "$PORT" --server-pid "$SERVER_PID" --label "$1" 2>>"$WORK/loadgen.err" |
        tee -a "$WORK/loadgen.log" | sed -n 's/^RESULT //p') || true
    if [ -z "$line" ]; then
        log "loadgen $1 count $2: no result ($(tail -c 300 "$WORK/loadgen.err"))"
        line='{"failed":true}'
    fi
    echo "$line"
}

record() { # record KIND SERVER CASE COUNT FILE RESULT
    printf '{"kind":"%s","server":"%s","case":"%s","count":%s,"file":"%s","r":%s}\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" >>"$RECORDS"
}

# callgrind_run SERVER CASE COUNT
callgrind_run() {
    local out="$WORK/callgrind.$1.$2.$3"
    start_server "$1" valgrind -q --tool=callgrind --callgrind-out-file="$out"
    local result
    result=$(run_loadgen "$2" "$3")
    stop_server
    [ -s "$out" ] || { log "no callgrind output for $1 $2 $3"; return 0; }
    record callgrind "$1" "$2" "$3" "$out" "$result"
    log "callgrind $1 $2 count $3 done"
}

# perf_run SERVER CASE COUNT: native server; every syscall it makes while loadgen runs is
# counted (perf stat -p PID counts PID for as long as its own command, here loadgen, runs).
perf_run() {
    local out="$WORK/perf.$1.$2.$3"
    start_server "$1"
    LOADGEN_WRAP=(perf stat -x "," -o "$out" -e raw_syscalls:sys_enter -e 'syscalls:sys_enter_*'
        -p "$SERVER_PID" --)
    local result
    result=$(run_loadgen "$2" "$3")
    LOADGEN_WRAP=()
    stop_server
    record perf "$1" "$2" "$3" "$out" "$result"
    log "perf $1 $2 count $3 done"
}

# native_run SERVER CASE COUNT: no tool; loadgen reads the server's utime and stime.
native_run() {
    start_server "$1"
    local result
    result=$(run_loadgen "$2" "$3")
    stop_server
    record native "$1" "$2" "$3" "" "$result"
    log "native $1 $2 count $3 done"
}

part_callgrind() {
    local server case count
    for server in $SERVERS; do
        for case in n100-w1 n100-w16; do
            for count in $COUNTS; do callgrind_run "$server" "$case" "$count"; done
        done
    done
}

part_syscalls() {
    if ! perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
        log "perf cannot count raw_syscalls:sys_enter here (perf_event_paranoid?): skipping syscalls"
        return 0
    fi
    local server case count
    for server in $SERVERS; do
        for case in n100-w1 n100-w16; do
            for count in $COUNTS; do perf_run "$server" "$case" "$count"; done
        done
    done
}

part_split() {
    local count
    for count in $S10_COUNTS; do callgrind_run roomd n10-s10-w16 "$count"; done
    if perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
        for count in $S10_COUNTS; do perf_run roomd n10-s10-w16 "$count"; done
    fi
    for _ in $(seq "$NATIVE_RUNS"); do native_run roomd n10-s10-w16 "$NATIVE_S10_COUNT"; done
}

main() {
    command -v valgrind >/dev/null || { log "valgrind is not installed"; exit 1; }
    if [ "$BUILD" = 1 ]; then build; fi
    log "results in $WORK"
    local part
    for part in $PARTS; do
        note_uptime "before $part"
        "part_$part"
        note_uptime "after $part"
    done
    python3 "$BENCH/profile_report.py" "$RECORDS" | tee "$WORK/report.txt"
    log "raw results: $WORK"
}

main "$@"
