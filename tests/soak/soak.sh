#!/usr/bin/env bash
# soak.sh: roomd under a steady half load for a long time, watched for growth. Not part of the
# test suite (it takes an hour by default); results go in docs/soak.md.
#
# Starts build/roomd (conf/test.lua, its embedded Redis in a temporary data folder) on a free
# loopback port, measures the capacity of the driver's mix (tests/soak/driver.py: relay
# messages, durable counter POSTs, WebSocket joins and leaves) for MEASURE seconds unless
# CAPACITY (operations per second) is given, then runs the mix at half of it for SOAK_SECONDS
# (default 3600), reloading every script with SIGHUP every RELOAD_SECONDS (60). Every
# SAMPLE_SECONDS (10) it writes roomd's RSS and open fds and redis-server's RSS to the CSV
# ($OUT/soak.csv); at the end tests/soak/summarize.py prints first/last/max and the slope per
# hour of each, and this script exits non-zero if roomd's RSS or fds grew past their bounds,
# if the driver saw errors, or if roomd did not stop cleanly.
#
# Environment: ROOMD_BIN (build/roomd), SOAK_SECONDS, CAPACITY, MEASURE (20), RELOAD_SECONDS,
# SAMPLE_SECONDS, OUT (a new temporary folder; it keeps the CSV, the driver's and roomd's logs).
# Run it under `nice` on a shared machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${ROOMD_BIN:-$ROOT/build/roomd}
SOAK_SECONDS=${SOAK_SECONDS:-3600}
MEASURE=${MEASURE:-20}
RELOAD_SECONDS=${RELOAD_SECONDS:-60}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-10}
OUT=${OUT:-$(mktemp -d /tmp/roomd-soak-XXXXXX)}
PY=/usr/bin/python3
mkdir -p "$OUT/data"
port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

roomd_pid=
cleanup() {
    [ -n "$roomd_pid" ] && kill "$roomd_pid" 2>/dev/null || true
    [ -n "${driver_pid:-}" ] && kill "$driver_pid" 2>/dev/null || true
}
trap cleanup EXIT

# The relay senders and churn joins of a fast machine may pass one connection's default rate.
(cd "$ROOT" && exec "$BIN" --conf conf/test.lua --port "$port" --data "$OUT/data" \
    --set limits.messages_per_second=100000) >"$OUT/roomd.log" 2>&1 &
roomd_pid=$!
for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fs "http://127.0.0.1:$port/healthz" >/dev/null || { echo "roomd did not start"; cat "$OUT/roomd.log"; exit 1; }
redis_pid=$(pgrep -P "$roomd_pid" redis-server | head -1)
echo "roomd pid $roomd_pid (redis-server $redis_pid) on port $port; output in $OUT"

if [ -z "${CAPACITY:-}" ]; then
    CAPACITY=$($PY "$ROOT/tests/soak/driver.py" --port "$port" --measure "$MEASURE" --seed 7 |
        awk '/^CAPACITY/ {print $2}')
    echo "measured capacity of the mix: $CAPACITY ops/s over ${MEASURE}s"
fi
rate=$((CAPACITY / 2))
echo "soaking at $rate ops/s (half of $CAPACITY) for ${SOAK_SECONDS}s, SIGHUP every ${RELOAD_SECONDS}s"

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }

$PY "$ROOT/tests/soak/driver.py" --port "$port" --rate "$rate" --seconds "$SOAK_SECONDS" \
    >"$OUT/driver.log" 2>&1 &
driver_pid=$!
echo "seconds,roomd_rss_kib,roomd_fds,redis_rss_kib" >"$OUT/soak.csv"
start=$(date +%s)
next_reload=$RELOAD_SECONDS
while kill -0 "$driver_pid" 2>/dev/null; do
    now=$(($(date +%s) - start))
    kill -0 "$roomd_pid" 2>/dev/null || { echo "roomd died at ${now}s"; tail -40 "$OUT/roomd.log"; exit 1; }
    echo "$now,$(rss_kib "$roomd_pid"),$(fds "$roomd_pid"),$(rss_kib "$redis_pid")" >>"$OUT/soak.csv"
    if [ "$now" -ge "$next_reload" ]; then
        kill -HUP "$roomd_pid"
        next_reload=$((next_reload + RELOAD_SECONDS))
    fi
    sleep "$SAMPLE_SECONDS"
done
driver_rc=0
wait "$driver_pid" || driver_rc=$?
driver_pid=
tail -3 "$OUT/driver.log"

kill -TERM "$roomd_pid"
roomd_rc=0
wait "$roomd_pid" || roomd_rc=$?
roomd_pid=
reloads=$(grep -c "reloading every namespace" "$OUT/roomd.log" || true)
echo "roomd exited $roomd_rc; log: $(wc -l <"$OUT/roomd.log") lines, $reloads reloads"

summary_rc=0
$PY "$ROOT/tests/soak/summarize.py" "$OUT/soak.csv" || summary_rc=$?
echo "CSV: $OUT/soak.csv"
[ "$driver_rc" = 0 ] || echo "FAIL: the driver saw errors (see $OUT/driver.log)"
[ "$roomd_rc" = 0 ] || echo "FAIL: roomd exited $roomd_rc"
[ "$driver_rc" = 0 ] && [ "$roomd_rc" = 0 ] && [ "$summary_rc" = 0 ]
