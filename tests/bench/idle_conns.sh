#!/usr/bin/env bash
# idle_conns.sh: what open kept-alive connections cost the others' requests. For each count
# in COUNTS ("0 1000 3000"), a fresh roomd (CPU 0; its redis-server on CPU 1) gets that many
# kept-alive connections, each sending a GET every 2 s (idle_clients.py, CPU 1), and, 4 s
# later, `wrk -t1 -c64` GETs over 100 counter rooms (1 s warm-up, then DUR s, CPU 1). Prints
# GETs per roomd CPU-second (wrk's and the idle clients' together). ROUNDS (1) repeats the
# whole set; PORT (18790); ROOMD (build/roomd) the binary. Needs wrk (tests/bench/peers/deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/bench
COUNTS=${COUNTS:-0 1000 3000}
ROUNDS=${ROUNDS:-1}
DUR=${DUR:-5}
PORT=${PORT:-18790}
ROOMD=${ROOMD:-$ROOT/build/roomd}
WORK=$(mktemp -d /tmp/roomd-idle.XXXXXX)
SERVER_PID="" # roomd itself, whose CPU is read
SERVER_TPID="" # its `timeout` parent

stop() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [ -n "$SERVER_TPID" ]; then wait "$SERVER_TPID" 2>/dev/null || true; fi
    SERVER_PID="" SERVER_TPID=""
}
trap 'stop; rm -rf "$WORK"' EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

one() { # one COUNT
    local n=$1 clients="" c0 c1 done_reqs
    rm -rf "$WORK/data"
    timeout 120 taskset -c 0 "$ROOMD" --port "$PORT" --data "$WORK/data" \
        --set log_level=warn >"$WORK/roomd.log" 2>&1 &
    SERVER_TPID=$!
    for _ in $(seq 20); do
        SERVER_PID=$(pgrep -P "$SERVER_TPID" || true)
        [ -z "$SERVER_PID" ] || break
        sleep 0.1
    done
    for _ in $(seq 50); do
        curl -s -m 1 "http://127.0.0.1:$PORT/healthz" >/dev/null && break
        sleep 0.1
    done
    local redis
    redis=$(cat "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null | awk '{print $1}')
    [ -z "$redis" ] || taskset -apc 1 "$redis" >/dev/null
    if [ "$n" -gt 0 ]; then
        timeout 60 taskset -c 1 python3 "$BENCH/idle_clients.py" "$PORT" "$n" $((DUR + 9)) &
        clients=$!
        sleep 4
    fi
    ROOMS=100 timeout 30 taskset -c 1 wrk -t1 -c64 -d1s -s "$BENCH/counter_get.lua" "http://127.0.0.1:$PORT" >/dev/null
    c0=$(cpu_ticks "$SERVER_PID")
    done_reqs=$(ROOMS=100 timeout 60 taskset -c 1 wrk -t1 -c64 -d"${DUR}s" -s "$BENCH/counter_get.lua" \
        "http://127.0.0.1:$PORT" | awk '/requests in/ {print $1}')
    c1=$(cpu_ticks "$SERVER_PID")
    if [ -n "$clients" ]; then wait "$clients" || true; fi
    stop
    # the idle clients sent n/2 GETs a second during the DUR s
    awk -v r="$done_reqs" -v n="$n" -v d="$DUR" -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%6d kept-alive others: %8.0f GETs per roomd CPU-second (wrk: %d GETs)\n", n, (r + n / 2 * d) / (t / hz), r }'
}

for _ in $(seq "$ROUNDS"); do
    for n in $COUNTS; do one "$n"; done
done
