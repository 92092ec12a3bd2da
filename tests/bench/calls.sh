#!/usr/bin/env bash
# calls.sh: rooms.call between two rooms of one roomd, as fast as one caller goes: each round
# asks one room for N calls in a row to another (tests/bench/calls_room.lua) and reports calls
# per second (wall) and per roomd CPU-second. Environment: N (20000), ROUNDS (5), PORT (18960).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${N:-20000}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18960}
WORK=$(mktemp -d /tmp/roomd-calls.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
printf 'return { namespaces = { cb = { script = "%s" } } }\n' "$ROOT/tests/bench/calls_room.lua" \
    >"$WORK/conf.lua"
taskset -c 0 "$ROOT/build/roomd" --conf "$WORK/conf.lua" --port "$PORT" --data "$WORK/data" \
    --set log_level=warn >"$WORK/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
for r in $(seq "$ROUNDS"); do
    before=$(cpu)
    out=$(curl -sf "http://127.0.0.1:$PORT/cb/r$r?n=$N")
    after=$(cpu)
    ms=$(echo "$out" | sed 's/.*"ms":\([0-9.]*\).*/\1/')
    awk -v n="$N" -v ms="$ms" -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { per_cpu = ticks > 0 ? n / (ticks / hz) : 0
                 printf "round: %d calls in %d ms: %.0f calls/s, %.0f per roomd CPU-second\n",
                     n, ms, n / (ms / 1000), per_cpu }'
done
