#!/usr/bin/env bash
# jit.sh: Lua at JIT speed (issue 17). One roomd serves tests/bench/physics_room.lua twice: as
# namespace "bounded" (limits.turn_cpu_ms: LuaJIT's interpreter, a hook every few thousand
# instructions) and as "compiled" (jit = true: no per-turn bound, the watchdog instead). Each
# round asks both for the same work and prints both times and the ratio; the answers must
# agree. Environment: STEPS (2000), ROUNDS (5), PORT (18970).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STEPS=${STEPS:-2000}
ROUNDS=${ROUNDS:-5}
PORT=${PORT:-18970}
WORK=$(mktemp -d /tmp/roomd-jit.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
script="$ROOT/tests/bench/physics_room.lua"
printf 'return { limits = { turn_cpu_ms = 60000 }, namespaces = {\n  bounded = { script = "%s" },\n  compiled = { script = "%s", jit = true },\n} }\n' \
    "$script" "$script" >"$WORK/conf.lua"
taskset -c 0 "$ROOT/build/roomd" --conf "$WORK/conf.lua" --port "$PORT" --data "$WORK/data" \
    --set log_level=warn >"$WORK/log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
field() { sed "s/.*\"$1\":\([0-9.]*\).*/\1/"; }
for r in $(seq "$ROUNDS"); do
    b=$(curl -sf "http://127.0.0.1:$PORT/bounded/r$r?steps=$STEPS")
    c=$(curl -sf "http://127.0.0.1:$PORT/compiled/r$r?steps=$STEPS")
    [ "$(echo "$b" | field energy)" = "$(echo "$c" | field energy)" ] || { echo "answers differ: $b $c"; exit 1; }
    awk -v b="$(echo "$b" | field ms)" -v c="$(echo "$c" | field ms)" \
        'BEGIN { ratio = c > 0 ? b / c : 0; printf "round: bounded %d ms, compiled %d ms: %.1fx\n", b, c, ratio }'
done
