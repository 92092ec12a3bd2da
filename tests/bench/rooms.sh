#!/usr/bin/env bash
# rooms.sh: room scale. For each namespace (default: counter, then relay, whose
# script keeps no state of its own), a fresh roomd activates ROOMS rooms, one
# GET /<ns>/scale-<i> each (tests/bench/httpgen.c, a fixed-count HTTP client),
# and the script reports:
#   - activations per second;
#   - roomd's RSS and Lua heap (GET /healthz lua_bytes) before, right after the
#     activations, and after a full Lua GC with every room still in memory,
#     and so the memory per active room;
#   - the same once every room has been evicted (limits.room_idle_ms=IDLE_MS):
#     rooms back to 0, lua_bytes and RSS, and the longest /healthz answer
#     while the eviction sweep ran (the loop's pause);
#   - a second round over the same ids (rooms come back from Redis): whether
#     memory freed by the eviction is reused (RSS growth in round 2).
#
# Getting a full GC without changing roomd: a "canary" room is activated
# LEAD seconds before the others; the sweep that evicts it (IDLE_MS later)
# asks for a whole collection cycle, which roomd runs in steps of at most
# 10 ms per one-second sweep (ns_collect_step), while the ROOMS rooms are
# still in memory for LEAD more seconds (enough steps for ~100,000 rooms).
# The activations must therefore take less than IDLE_MS - LEAD.
#
# VM_BYTES sets limits.vm_memory_bytes (default here 512 MiB, roomd's own
# default 128 MiB; 100,000 rooms fit in either since a room holds no Lua
# thread between turns, ~0.6 KB of Lua heap each).

# roomd is pinned to CPU 0, httpgen and roomd's redis-server to CPU 1.
# Environment: ROOMS (100000), NAMESPACES ("counter relay"), IDLE_MS (30000),
# LEAD (15 s), VM_BYTES (536870912), CONNS (64, httpgen connections),
# ACT_DEADLINE (120 s for one round of activations), PORT (18780), BUILD (1).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/bench
OUT=${OUT:-$BENCH/out}
ROOMS=${ROOMS:-100000}
NAMESPACES=${NAMESPACES:-counter relay}
IDLE_MS=${IDLE_MS:-30000}
LEAD=${LEAD:-15}
VM_BYTES=${VM_BYTES:-536870912}
ACT_DEADLINE=${ACT_DEADLINE:-120}
CONNS=${CONNS:-64}
PORT=${PORT:-18780}
BUILD=${BUILD:-1}
WORK=$(mktemp -d /tmp/roomd-rooms.XXXXXX)
SERVER_PID=""
REDIS_PID=""
HZ=$(getconf CLK_TCK)

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

build() {
    log "building roomd and bench programs"
    if [ ! -d "$ROOT/build" ]; then
        cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/build.log" 2>&1
    fi
    cmake --build "$ROOT/build" -j2 >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
    make -C "$BENCH" OUT="$OUT" >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
}

wait_port() {
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start_server() {
    PORT=$((PORT + 1))
    taskset -c 0 "$ROOT/build/roomd" --port "$PORT" --data "$WORK/data-$PORT" \
        --set log_level=info --set limits.room_idle_ms="$IDLE_MS" \
        --set limits.vm_memory_bytes="$VM_BYTES" >"$WORK/server-$PORT.log" 2>&1 &
    SERVER_PID=$!
    wait_port || { log "roomd did not start:"; cat "$WORK/server-$PORT.log" >&2; exit 1; }
    REDIS_PID=$(awk '{print $1}' "/proc/$SERVER_PID/task/$SERVER_PID/children" 2>/dev/null || true)
    if [ -n "$REDIS_PID" ]; then taskset -apc 1 "$REDIS_PID" >/dev/null; fi
    sleep 0.5
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        sleep 0.5
        if kill -0 "$REDIS_PID" 2>/dev/null; then
            log "redis child $REDIS_PID outlived roomd; killing it"
            kill -KILL "$REDIS_PID" 2>/dev/null || true
        fi
    fi
    SERVER_PID=""
    REDIS_PID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

cpu_ticks() { # utime+stime of a pid, in clock ticks
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

health() { curl -s --max-time 5 "http://127.0.0.1:$PORT/healthz"; }

field() { # field JSON NAME: a number from a flat JSON object
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"
}

# snapshot LABEL: one line of rooms, lua_bytes, roomd RSS and redis-server RSS.
snapshot() { # a field /healthz did not give (roomd busy for 5 s) is written as -1
    local h rooms lua
    h=$(health) || true
    rooms=$(field "$h" rooms)
    lua=$(field "$h" lua_bytes)
    printf '%s %s %s %s %s\n' "$1" "${rooms:--1}" "${lua:--1}" \
        "$(rss_kb "$SERVER_PID")" "$(rss_kb "${REDIS_PID:-0}")" >>"$WORK/snapshots.$NS"
    log "$NS $1: $h roomd RSS $(rss_kb "$SERVER_PID") KB"
}

# wait_rooms N SECS: until /healthz says N rooms, at most SECS seconds; prints the longest
# /healthz answer (ms) seen meanwhile, polling every 0.1 s.
wait_rooms() {
    local want=$1 end=$(($(date +%s) + $2)) worst=0 t h
    while [ "$(date +%s)" -lt "$end" ]; do
        t=$(curl -s -o "$WORK/h.json" -w '%{time_total}' --max-time 5 \
            "http://127.0.0.1:$PORT/healthz") || t=5
        worst=$(awk -v a="$worst" -v b="$t" 'BEGIN {print (b * 1000 > a) ? b * 1000 : a}')
        h=$(cat "$WORK/h.json" 2>/dev/null || true)
        if [ "$(field "$h" rooms)" = "$want" ]; then
            echo "$worst"
            return 0
        fi
        sleep 0.1
    done
    echo "$worst"
    return 1
}

# activate ROUND: ROOMS GETs over distinct ids; records httpgen's RESULT.
activate() {
    local line c0 c1 r0 r1
    c0=$(cpu_ticks "$SERVER_PID")
    r0=$(cpu_ticks "${REDIS_PID:-0}")
    line=$(timeout $((ACT_DEADLINE + 30)) taskset -c 1 "$OUT/httpgen" --port "$PORT" \
        --conns "$CONNS" --count "$ROOMS" --prefix "/$NS/scale-" --deadline "$ACT_DEADLINE" \
        --label "$NS-round$1" |
        tee -a "$WORK/httpgen.log" | sed -n 's/^RESULT //p') || true
    c1=$(cpu_ticks "$SERVER_PID")
    r1=$(cpu_ticks "${REDIS_PID:-0}")
    [ -n "$line" ] || line='{"failed":true}'
    echo "{\"ns\":\"$NS\",\"round\":$1,\"roomd_cpu_s\":$(awk "BEGIN {print ($c1 - $c0) / $HZ}"),\
\"redis_cpu_s\":$(awk "BEGIN {print ($r1 - $r0) / $HZ}"),\"r\":$line}" >>"$WORK/results.jsonl"
    log "$NS round $1: $(tail -1 "$WORK/httpgen.log")"
}

scale_ns() {
    NS=$1
    start_server
    local idle_s=$((IDLE_MS / 1000)) pause
    snapshot before
    timeout 30 "$OUT/httpgen" --port "$PORT" --count 1 --prefix "/$NS/canary-" >/dev/null
    sleep "$LEAD"
    activate 1
    snapshot activated
    wait_rooms "$ROOMS" $((idle_s + 5)) >/dev/null || log "$NS: the canary room was not evicted"
    snapshot collected
    pause=$(wait_rooms 0 $((idle_s + 30))) || log "$NS: rooms were not all evicted"
    snapshot evicted
    echo "{\"ns\":\"$NS\",\"evict_pause_ms\":$pause}" >>"$WORK/results.jsonl"
    activate 2
    snapshot round2
    wait_rooms 0 $((idle_s + 30)) >/dev/null || log "$NS: round 2 rooms were not all evicted"
    snapshot evicted2
    grep -h "evicted\|hibernated" "$WORK/server-$PORT.log" | tail -4 >&2 || true
    if grep -q "max_rooms" "$WORK/server-$PORT.log"; then log "$NS: max_rooms was hit"; fi
    stop_server
}

report() {
    python3 - "$WORK" "$ROOMS" "$IDLE_MS" "$NAMESPACES" "$VM_BYTES" <<'EOF'
import json, sys
work, rooms, idle_ms, namespaces, vm_bytes = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                              sys.argv[4].split(), sys.argv[5])
results = [json.loads(l) for l in open(work + "/results.jsonl")]
print("== Room scale: %d rooms per namespace, limits.room_idle_ms=%s, limits.vm_memory_bytes=%s" % (
    rooms, idle_ms, vm_bytes))
for ns in namespaces:
    snaps = {}
    for line in open("%s/snapshots.%s" % (work, ns)):
        label, n, lua, rss, redis = line.split()
        snaps[label] = {"rooms": int(n), "lua": int(lua), "rss": int(rss), "redis": int(redis)}
    b, a, c, e, r2, e2 = (snaps[k] for k in ("before", "activated", "collected", "evicted", "round2", "evicted2"))
    act = [x for x in results if x.get("ns") == ns and "round" in x]
    pause = [x["evict_pause_ms"] for x in results if x.get("ns") == ns and "evict_pause_ms" in x]
    print("-- %s" % ns)
    if any(v["rooms"] < 0 or v["lua"] < 0 for v in snaps.values()):
        print("  some /healthz probes got no answer within 5 s (roomd busy): -1 below, and the"
              " figures computed from them are meaningless")
    for i, x in enumerate(act, 1):
        r = x["r"]
        if r.get("failed"):
            print("  round %d: httpgen failed" % i)
            continue
        print("  round %d: %d GETs in %.2f s = %.0f activations/s; %d 2xx, %d other, %d lost;"
              " roomd %.2f CPU-s (%.0f activations per roomd CPU-second), its redis-server %.2f"
              " CPU-s" % (i, r["count"], r["secs"], r["req_per_s"], r["ok"], r["non2xx"], r["lost"],
                          x["roomd_cpu_s"], r["ok"] / max(x["roomd_cpu_s"], 0.01), x["redis_cpu_s"]))
    print("  %-34s %8s %14s %12s %12s" % ("", "rooms", "lua_bytes", "RSS KB", "redis KB"))
    for label, s in (("before", b), ("right after activation", a), ("after full GC, rooms in", c),
                     ("all evicted", e), ("round 2 activated", r2), ("round 2 evicted", e2)):
        print("  %-34s %8d %14s %12s %12s" % (label, s["rooms"], format(s["lua"], ","),
                                             format(s["rss"], ","), format(s["redis"], ",")))
    n = c["rooms"] or rooms
    print("  per active room: RSS %.0f B, Lua heap %.0f B after GC (%.0f B before GC); redis-server %.0f B" % (
        1024.0 * (c["rss"] - b["rss"]) / n, (c["lua"] - b["lua"]) / n, (a["lua"] - b["lua"]) / (a["rooms"] or rooms),
        1024.0 * (c["redis"] - b["redis"]) / n))
    print("  released: rooms %d, lua_bytes %s (%+d vs before), RSS %s KB (%.0f%% of the growth given back)" % (
        e["rooms"], format(e["lua"], ","), e["lua"] - b["lua"], format(e["rss"], ","),
        100.0 * (c["rss"] - e["rss"]) / max(1, c["rss"] - b["rss"])))
    print("  round 2 RSS growth over round 1's peak: %+d KB; longest /healthz during the eviction sweep: %s ms" % (
        r2["rss"] - max(a["rss"], c["rss"]), pause[0] if pause else "-"))
EOF
}

main() {
    command -v curl >/dev/null || { log "curl is needed"; exit 1; }
    if [ "$BUILD" = 1 ]; then build; fi
    log "results in $WORK; $(uptime | sed 's/^ *//')"
    for ns in $NAMESPACES; do scale_ns "$ns"; done
    report | tee "$WORK/report.txt"
    log "done; $(uptime | sed 's/^ *//')"
}

main "$@"
