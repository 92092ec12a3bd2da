#!/usr/bin/env bash
# cluster.sh: what cluster mode costs and buys, on this machine (not in CI; the
# figures go to docs/cluster.md, "Measured"). Every cluster is scripts/cluster.sh's
# (Redis with an append-only file, nodes with --cluster, HAProxy from
# conf/haproxy.cfg), in a folder of its own that goes at the end.
#
#   (i)   scale: 1 node, then 2 nodes (pinned to CPU 0 and CPU 1), behind HAProxy:
#         the relay room (loadgen) and the durable counter's POST (httpgen),
#         aggregate throughput and its 2-node / 1-node ratio, and HAProxy's own
#         CPU per request or message (utime + stime from /proc/<pid>/stat).
#         HAProxy, Redis and the generator are not pinned: with 2 cores they
#         share them with the nodes, as they would on a 2-core machine.
#   (ii)  failover: 3 nodes; KILLS times (20) a fresh vote room is opened
#         through HAProxy, the node serving it is killed with SIGKILL, and the
#         time to the first 200 for that room through HAProxy is measured
#         (then the node starts again): median and max.
#   (iii) lease overhead: 1 node holding ROOMS_HELD (10,000) active rooms, idle:
#         lease renewal round trips per second (roomd_lease_renewals_total) and
#         Redis's CPU, against the same node holding none.
#
# Environment: PORT (first port, 18600), DUR (relay seconds, 8), POSTS (counter
# POSTs per run, 30000), ROUNDS (3 of 1 node and 2 nodes each), KILLS (20),
# ROOMS_HELD (10000), LEASE_MS (3000), CASES ("scale failover lease": which
# parts run). The summary gives the machine's load average before and after:
# on a shared machine, other work moves the scale figures most.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/bench
OUT=${OUT:-$BENCH/out}
PORT=${PORT:-18600}
DUR=${DUR:-8}
POSTS=${POSTS:-30000}
KILLS=${KILLS:-20}
ROOMS_HELD=${ROOMS_HELD:-10000}
LEASE_MS=${LEASE_MS:-3000}
CASES=${CASES:-scale failover lease}
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d /tmp/roomd-bench-cluster.XXXXXX)
TICKS=$(getconf CLK_TCK)
SUMMARY=()
export ROOMD_CLUSTER_PORT=$PORT
export ROOMD_CLUSTER_ARGS="--set cluster.lease_ms=$LEASE_MS --set limits.room_idle_ms=600000 --set limits.messages_per_second=1000000 --set log_level=warn"

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

cluster() { "$ROOT/scripts/cluster.sh" "$@"; }

cleanup() {
    [ -n "${ROOMD_CLUSTER_DIR:-}" ] && [ -d "$ROOMD_CLUSTER_DIR" ] && cluster stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# new_cluster N: a fresh cluster of N nodes in its own folder.
new_cluster() {
    [ -n "${ROOMD_CLUSTER_DIR:-}" ] && cluster stop >/dev/null 2>&1 || true
    export ROOMD_CLUSTER_DIR=$WORK/c$RANDOM
    cluster start "$1" >/dev/null
    wait_up "$1"
}

pid_of() { cat "$ROOMD_CLUSTER_DIR/run/$1.pid"; }

cpu_ticks() { # utime + stime of a pid, in clock ticks
    sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

wait_up() { # every one of the first N nodes UP in HAProxy
    for _ in $(seq 100); do
        [ "$(cluster status | grep -c 'haproxy sees .* UP$')" -ge "$1" ] && return 0
        sleep 0.1
    done
    log "HAProxy does not see $1 nodes up"
    cluster status >&2
    exit 1
}

metric() { # metric ADMIN_PORT NAME
    curl -fsS "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

json_field() { # json_field 'RESULT {...}' NAME
    python3 -c 'import json, sys; print(json.loads(sys.argv[1].split(" ", 1)[1])[sys.argv[2]])' "$1" "$2"
}

# ---------------------------------------------------------------- (i) scale

relay_run() { # label: loadgen through HAProxy; prints deliveries/s and HAProxy CPU per 1000 deliveries
    local hp t0 t1 line dps deliveries c0 s0
    hp=$(pid_of haproxy)
    t0=$(cpu_ticks "$hp")
    c0=$(cpu_all)
    s0=$(date +%s.%N)
    line=$(timeout 120 "$OUT/loadgen" relay --port "$PORT" --prefix /relay/bench- --conns 400 \
        --rooms 40 --senders 2 --window 8 --size 64 --warmup 2 --duration "$DUR" \
        --label "$1" | grep '^RESULT')
    t1=$(cpu_ticks "$hp")
    log "$1: $(cores_used "$c0" "$(cpu_all)" "$(python3 -c "import time; print(time.time() - $s0)")"), generator $(python3 -c "print('%.2f' % ($(json_field "$line" gen_cpu_s) / $DUR))") (measured window)"
    dps=$(json_field "$line" deliveries_per_s)
    deliveries=$(json_field "$line" deliveries)
    # HAProxy's CPU covers warm-up too: per delivery over the whole run, a bound from above
    echo "$dps $(python3 -c "print('%.2f' % (($t1 - $t0) / $TICKS * 1e6 / max(1, $deliveries * ($DUR + 2) / $DUR)))")"
}

post_run() { # label: counter POSTs through HAProxy; prints POSTs/s and HAProxy CPU us per POST
    local hp t0 t1 line rps c0 s0
    hp=$(pid_of haproxy)
    timeout 120 "$OUT/httpgen" --port "$PORT" --method POST --prefix /counter/bench- --rooms 200 \
        --count 2000 --conns 32 --label warm >/dev/null || true
    t0=$(cpu_ticks "$hp")
    c0=$(cpu_all)
    s0=$(date +%s.%N)
    line=$(timeout 300 "$OUT/httpgen" --port "$PORT" --method POST --prefix /counter/bench- \
        --rooms 200 --count "$POSTS" --conns 32 --deadline 280 --label "$1" | grep '^RESULT')
    t1=$(cpu_ticks "$hp")
    log "$1: $(cores_used "$c0" "$(cpu_all)" "$(python3 -c "import time; print(time.time() - $s0)")")"
    rps=$(json_field "$line" req_per_s)
    [ "$(json_field "$line" non2xx)" = 0 ] || log "$1: non-2xx answers: $line"
    echo "$rps $(python3 -c "print('%.2f' % (($t1 - $t0) / $TICKS * 1e6 / $POSTS))")"
}

cpu_all() { # CPU ticks so far of: the nodes (together), HAProxy, Redis
    local nodes=0 name
    for name in $(awk '{ print $1 }' "$ROOMD_CLUSTER_DIR/run/nodes"); do
        nodes=$((nodes + $(cpu_ticks "$(pid_of "$name")")))
    done
    echo "$nodes $(cpu_ticks "$(pid_of haproxy)") $(cpu_ticks "$(pid_of redis)")"
}

cores_used() { # "before" "after" seconds: cores each used over the run
    python3 - "$1" "$2" "$3" "$TICKS" <<'EOF'
import sys
b, a = [list(map(int, x.split())) for x in sys.argv[1:3]]
secs, ticks = float(sys.argv[3]), int(sys.argv[4])
u = [(y - x) / ticks / secs for x, y in zip(b, a)]
print("cores used: nodes %.2f, HAProxy %.2f, Redis %.2f" % tuple(u))
EOF
}

pin_nodes() { # node K on CPU K-1
    local k=0 name
    for name in $(awk '{ print $1 }' "$ROOMD_CLUSTER_DIR/run/nodes"); do
        taskset -pc $((k % $(nproc))) "$(pid_of "$name")" >/dev/null
        k=$((k + 1))
    done
}

scale_run() { # N: one cluster of N nodes; appends "relay_dps relay_us post_rps post_us" to SCALE_N
    local r p
    log "(i) scale: $1 node(s)"
    new_cluster "$1"
    pin_nodes
    r=$(relay_run "relay-$1")
    p=$(post_run "post-$1")
    printf '%s %s\n' "$r" "$p" >>"$WORK/scale-$1"
}

median_of() { # FILE COLUMN: the median of a column, then every value
    awk -v c="$2" '{ print $c }' "$1" | python3 -c '
import statistics, sys
v = [float(x) for x in sys.stdin.read().split()]
print("%.6g (%s)" % (statistics.median(v), ", ".join("%.6g" % x for x in v)))'
}

ratio_of() { # COLUMN: median of 2-node runs / median of 1-node runs
    paste -d' ' <(awk -v c="$1" '{ print $c }' "$WORK/scale-1") <(awk -v c="$1" '{ print $c }' "$WORK/scale-2") |
        python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print("%.2f" % (statistics.median(r[1] for r in rows) / statistics.median(r[0] for r in rows)))'
}

case_scale() { # ROUNDS rounds, the order alternating, so a change in the machine's load hits both
    for round in $(seq "$ROUNDS"); do
        if [ $((round % 2)) = 1 ]; then
            scale_run 1
            scale_run 2
        else
            scale_run 2
            scale_run 1
        fi
    done
    SUMMARY+=("(i) relay through HAProxy ($ROUNDS rounds, median (each)): 1 node $(median_of "$WORK/scale-1" 1) deliveries/s, 2 nodes $(median_of "$WORK/scale-2" 1); ratio of medians $(ratio_of 1)")
    SUMMARY+=("    HAProxy CPU per delivery, us: 1 node $(median_of "$WORK/scale-1" 2), 2 nodes $(median_of "$WORK/scale-2" 2)")
    SUMMARY+=("(i) counter POST through HAProxy: 1 node $(median_of "$WORK/scale-1" 3) POSTs/s, 2 nodes $(median_of "$WORK/scale-2" 3); ratio of medians $(ratio_of 3)")
    SUMMARY+=("    HAProxy CPU per POST, us: 1 node $(median_of "$WORK/scale-1" 4), 2 nodes $(median_of "$WORK/scale-2" 4)")
}

# ---------------------------------------------------------------- (ii) failover

case_failover() {
    log "(ii) failover: 3 nodes, $KILLS kills"
    new_cluster 3
    local times=()
    for i in $(seq "$KILLS"); do
        local room node t
        room="fo-$i-$RANDOM"
        node=$(curl -fsS "http://127.0.0.1:$PORT/vote/$room" | python3 -c 'import json,sys; print(json.load(sys.stdin)["node"])')
        t=$(python3 - "$PORT" "/vote/$room" "$(pid_of "$node")" <<'EOF'
import http.client, os, signal, sys, time
port, path, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
os.kill(pid, signal.SIGKILL)
t0 = time.monotonic()
while time.monotonic() - t0 < 60:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.request("GET", path)
        if c.getresponse().status == 200:
            print("%.3f" % (time.monotonic() - t0))
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.01)
print("nan")
EOF
        )
        times+=("$t")
        log "  kill $i: $node, room back after ${t}s"
        cluster restart "$node" >/dev/null
        wait_up 3
    done
    SUMMARY+=("(ii) failover (lease_ms $LEASE_MS), SIGKILL to first 200 through HAProxy over $KILLS kills: $(printf '%s\n' "${times[@]}" | python3 -c '
import statistics, sys
v = sorted(float(x) for x in sys.stdin.read().split())
print("median %.2f s, max %.2f s, min %.2f s" % (statistics.median(v), v[-1], v[0]))')")
}

# ---------------------------------------------------------------- (iii) lease overhead

idle_window() { # seconds: prints "renewals/s redis_cpu_ms/s node_cpu_ms/s leases_held"
    local admin r0 r1 c0 c1 n0 n1 rp np
    admin=$(awk '$1 == "n1" { print $3 }' "$ROOMD_CLUSTER_DIR/run/nodes")
    rp=$(pid_of redis)
    np=$(pid_of n1)
    r0=$(metric "$admin" roomd_lease_renewals_total)
    c0=$(cpu_ticks "$rp")
    n0=$(cpu_ticks "$np")
    sleep "$1"
    r1=$(metric "$admin" roomd_lease_renewals_total)
    c1=$(cpu_ticks "$rp")
    n1=$(cpu_ticks "$np")
    python3 -c "print('%.1f %.1f %.1f' % (($r1 - $r0) / $1, ($c1 - $c0) / $TICKS * 1000 / $1, ($n1 - $n0) / $TICKS * 1000 / $1), end=' ')"
    metric "$admin" roomd_leases_held
}

case_lease() {
    log "(iii) lease overhead: $ROOMS_HELD rooms held by one node"
    new_cluster 1
    local base held
    base=$(idle_window 10)
    timeout 300 "$OUT/httpgen" --port "$PORT" --prefix /counter/held- --count "$ROOMS_HELD" \
        --conns 32 --deadline 280 --label activate | grep -v '^RESULT' >&2
    held=$(idle_window 10)
    read -r b_ren b_redis b_node _ <<<"$base"
    read -r h_ren h_redis h_node h_held <<<"$held"
    SUMMARY+=("(iii) lease overhead (lease_ms $LEASE_MS), idle node: with 0 rooms $b_ren renewals/s, Redis $b_redis ms CPU/s, node $b_node ms CPU/s; with $h_held leases held $h_ren renewals/s, Redis $h_redis ms CPU/s, node $h_node ms CPU/s")
}

# ----------------------------------------------------------------

make -s -C "$BENCH" OUT="$OUT" "$OUT/loadgen" "$OUT/httpgen"
[ -x "$ROOT/build/roomd" ] || "$ROOT/scripts/build.sh"
log "work folder $WORK; machine: $(nproc) CPUs, $(uname -r)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for c in $CASES; do
    "case_$c"
done
cluster stop >/dev/null 2>&1 || true
echo
echo "== cluster benchmark summary ($(date -u +%F), $(nproc) CPUs, commit $(git -C "$ROOT" rev-parse --short HEAD); load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%s\n' "${SUMMARY[@]}"
