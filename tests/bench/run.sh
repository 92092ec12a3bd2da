#!/usr/bin/env bash
# run.sh: roomd's benchmark suite, first slice. Builds roomd and the bench
# programs, then, for ROUNDS rounds, runs every case against a fresh roomd and
# a fresh bare_lws (tests/bench/peers/), alternating them; servers pinned to
# CPU 0, the generator (loadgen, wrk) and roomd's Redis child to CPU 1.
# Prints a table of medians and roomd/bare_lws ratios; raw results (one JSON
# line per run) stay in $WORK/results.jsonl.
#
# Environment: ROUNDS (3), DUR (5 s measured per relay/wrk case), WARM (2 s),
# BIG (1: also one 19,000-connection run per server), PORT (first port, 18480).
# roomd runs with limits.messages_per_second raised: the senders here exceed
# the per-connection default on purpose.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/bench
OUT=${OUT:-$BENCH/out}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
WARM=${WARM:-2}
BIG=${BIG:-1}
PORT=${PORT:-18480}
WORK=$(mktemp -d /tmp/roomd-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
LOADGEN=$OUT/loadgen
SERVER_PID=""
REDIS_PID=""

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

build() {
    log "building roomd and bench programs"
    cmake --build "$ROOT/build" -j2 >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
    make -C "$BENCH" OUT="$OUT" >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
}

cpu_ticks() { # utime+stime of a pid, in clock ticks
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_server roomd|bare_lws: a fresh server on a fresh port, pinned to CPU 0.
start_server() {
    PORT=$((PORT + 1))
    case $1 in
    roomd)
        taskset -c 0 "$ROOT/build/roomd" --port "$PORT" --data "$WORK/data-$PORT" \
            --set log_level=warn --set limits.messages_per_second=1000000000 >"$WORK/server-$PORT.log" 2>&1 &
        ;;
    bare_lws)
        taskset -c 0 "$OUT/bare_lws" --port "$PORT" >"$WORK/server-$PORT.log" 2>&1 &
        ;;
    esac
    SERVER_PID=$!
    wait_port || { log "$1 did not start:"; cat "$WORK/server-$PORT.log" >&2; exit 1; }
    REDIS_PID=$(cat "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null | awk '{print $1}')
    if [ -n "$REDIS_PID" ]; then taskset -pc 1 "$REDIS_PID" >/dev/null; fi
    sleep 0.3
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        sleep 0.5
        kill -0 "$REDIS_PID" 2>/dev/null && { log "redis child $REDIS_PID outlived roomd; killing it"; kill -KILL "$REDIS_PID" 2>/dev/null || true; }
    fi
    SERVER_PID=""
    REDIS_PID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# loadgen_case SERVER CASE ARGS...: one fresh server, one loadgen run.
loadgen_case() {
    local server=$1 case=$2
    shift 2
    start_server "$server"
    local line
    line=$(timeout 120 taskset -c 1 "$LOADGEN" "$@" --port "$PORT" --server-pid "$SERVER_PID" \
        --label "$case" 2>"$WORK/loadgen.err" | tee -a "$WORK/loadgen.log" | sed -n 's/^RESULT //p') || true
    stop_server
    if [ -z "$line" ]; then
        log "$server $case: no result ($(head -c 300 "$WORK/loadgen.err"))"
        line="{\"label\":\"$case\",\"failed\":true}"
    fi
    echo "{\"server\":\"$server\",\"case\":\"$case\",\"r\":$line}" >>"$RESULTS"
    log "$server $case done"
}

# wrk_case CASE SCRIPT: roomd only; requests per second and per server CPU-second.
wrk_case() {
    local case=$1 script=$2
    start_server roomd
    ROOMS=100 taskset -c 1 wrk -t1 -c64 -d1s -s "$BENCH/$script" "http://127.0.0.1:$PORT" >/dev/null
    local c0 r0 c1 r1 out
    c0=$(cpu_ticks "$SERVER_PID")
    r0=$(cpu_ticks "${REDIS_PID:-0}")
    out=$(ROOMS=100 taskset -c 1 timeout 60 wrk -t1 -c64 -d"${DUR}s" --latency -s "$BENCH/$script" \
        "http://127.0.0.1:$PORT")
    c1=$(cpu_ticks "$SERVER_PID")
    r1=$(cpu_ticks "${REDIS_PID:-0}")
    stop_server
    echo "$out" >>"$WORK/wrk.log"
    local rps p50 p99 non2xx hz
    hz=$(getconf CLK_TCK)
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    echo "{\"server\":\"roomd\",\"case\":\"$case\",\"r\":{\"req_per_s\":${rps:-0},\"server_cpu_s\":$(awk "BEGIN{print ($c1 - $c0) / $hz}"),\"redis_cpu_s\":$(awk "BEGIN{print ($r1 - $r0) / $hz}"),\"secs\":$DUR,\"p50\":\"$p50\",\"p99\":\"$p99\",\"non2xx\":${non2xx:-0}}}" >>"$RESULTS"
    log "roomd $case done"
}

relay_cases() {
    local s=$1 d=(--duration "$DUR" --warmup "$WARM")
    loadgen_case "$s" relay-n100-w1 relay --conns 100 --rooms 1 --window 1 "${d[@]}"
    loadgen_case "$s" relay-n100-w16 relay --conns 100 --rooms 1 --window 16 "${d[@]}"
    loadgen_case "$s" relay-n1000-w1 relay --conns 1000 --rooms 1 --window 1 "${d[@]}"
    loadgen_case "$s" relay-n10-s10-w16 relay --conns 10 --rooms 1 --senders 10 --window 16 "${d[@]}"
    loadgen_case "$s" open-n100-500 relay --conns 100 --rooms 1 --rate 500 "${d[@]}"
    loadgen_case "$s" connect-5000 connect --conns 5000 --rooms 100 --hold 1
}

main() {
    build
    log "results in $WORK"
    for round in $(seq "$ROUNDS"); do
        log "round $round of $ROUNDS"
        relay_cases roomd
        relay_cases bare_lws
        wrk_case wrk-post-counter counter_post.lua
        wrk_case wrk-get-vote vote_get.lua
    done
    if [ "$BIG" = 1 ]; then
        loadgen_case roomd connect-19000 connect --conns 19000 --rooms 100 --hold 2 --connect-timeout 60
        loadgen_case bare_lws connect-19000 connect --conns 19000 --rooms 100 --hold 2 --connect-timeout 60
    fi
    python3 "$BENCH/summarize.py" "$RESULTS"
    log "raw results: $RESULTS"
}

main "$@"
