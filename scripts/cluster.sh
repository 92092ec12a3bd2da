#!/usr/bin/env bash
# A roomd cluster on this machine (docs/cluster.md): one Redis (append-only
# file), N roomd nodes in cluster mode, and HAProxy in front of them
# (conf/haproxy.cfg). For trying cluster mode out, and for tests/bench/cluster.sh.
#
#   scripts/cluster.sh start [N]     Redis, N nodes (default 3), HAProxy
#   scripts/cluster.sh status        what runs, and HAProxy's view of the nodes
#   scripts/cluster.sh add           one more node, then HAProxy sends it rooms
#   scripts/cluster.sh remove NAME   takes node NAME out of HAProxy, stops it
#                                    gracefully (its rooms move), forgets it
#   scripts/cluster.sh restart NAME  starts node NAME again if it is not running
#                                    (after a crash, or kill -9 in a test)
#   scripts/cluster.sh stop          stops everything (nodes gracefully)
#
# Environment (all optional):
#   ROOMD_CLUSTER_DIR   data, logs and pid files (default: cluster-data in the repository)
#   ROOMD_CLUSTER_PORT  HAProxy's port (default 8080); node K listens on PORT+K and
#                       has its admin API on PORT+100+K
#   ROOMD_CLUSTER_CONF  the nodes' config (default conf/default.lua)
#   ROOMD_CLUSTER_FSYNC Redis's appendfsync: everysec (default, like roomd's own
#                       Redis) or always (nothing acknowledged is lost even if Redis dies)
#   ROOMD_CLUSTER_ARGS  more arguments for every node, e.g. "--set cluster.lease_ms=2000"
#   ROOMD_BIN           the roomd binary (default build/roomd, built if missing)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${ROOMD_CLUSTER_DIR:-$root/cluster-data}"
port="${ROOMD_CLUSTER_PORT:-8080}"
conf="${ROOMD_CLUSTER_CONF:-$root/conf/default.lua}"
fsync="${ROOMD_CLUSTER_FSYNC:-everysec}"
bin="${ROOMD_BIN:-$root/build/roomd}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
redis_sock="$dir/redis/redis.sock"
admin_sock="$dir/run/haproxy.sock"
nodes_file="$dir/run/nodes" # one line per node: name port admin_port id

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

alive() { # pid file -> whether its process runs (a zombie does not: the processes started
    # here are the init process's children once this script exits, and it may never reap them)
    local state
    [ -f "$1" ] || return 1
    state=$(sed 's/.*) //' "/proc/$(cat "$1")/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

wait_for() { # seconds description command...: polls every 0.1 s
    local tries=$(($1 * 10)) what=$2
    shift 2
    for ((i = 0; i < tries; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    die "$what did not come up within ${tries}00 ms (logs in $dir/logs)"
}

haproxy_cmd() { # a command to HAProxy's runtime API; prints the answer
    python3 - "$admin_sock" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
EOF
}

need() {
    command -v "$1" >/dev/null || die "$1 is not installed: run scripts/deps.sh"
}

start_redis() {
    mkdir -p "$dir/redis"
    alive "$dir/run/redis.pid" && return 0
    (cd "$dir/redis"
        nohup redis-server --port 0 --unixsocket "$redis_sock" \
        --unixsocketperm 700 --dir "$dir/redis" --appendonly yes --appendfsync "$fsync" \
        --save "" --daemonize no --logfile "$dir/logs/redis.log" </dev/null \
        >>"$dir/logs/redis.out" 2>&1 &
        echo $! >"$dir/run/redis.pid")
    wait_for 15 "Redis" redis-cli -s "$redis_sock" ping
}

start_node() { # name port admin_port
    # ROOMD_CLUSTER_ARGS is split into words on purpose: several arguments.
    # shellcheck disable=SC2086
    (nohup "$bin" --conf "$conf" --cluster --node "$1" --port "$2" --admin-port "$3" \
        --redis "unix://$redis_sock" ${ROOMD_CLUSTER_ARGS:-} </dev/null \
        >>"$dir/logs/$1.log" 2>&1 &
        echo $! >"$dir/run/$1.pid")
    wait_for 30 "node $1" curl -fsS -o /dev/null "http://127.0.0.1:$2/healthz"
}

render_haproxy() { # conf/haproxy.cfg with the nodes of $nodes_file
    local rooms="" writes="" name p admin id
    while read -r name p admin id; do
        rooms+="    server $name 127.0.0.1:$p id $id check"$'\n'
        writes+="    server $name 127.0.0.1:$p id $id track rooms/$name"$'\n'
    done <"$nodes_file"
    ROOMS="$rooms" WRITES="$writes" python3 - "$root/conf/haproxy.cfg" "$port" "$admin_sock" \
        >"$dir/run/haproxy.cfg" <<'EOF'
import os, sys
text = open(sys.argv[1]).read()
text = text.replace("@PORT@", sys.argv[2]).replace("@BIND@", "127.0.0.1")
text = text.replace("@ADMIN_SOCKET@", sys.argv[3])
text = text.replace("    # @SERVERS rooms@\n", os.environ["ROOMS"])
text = text.replace("    # @SERVERS rooms_writes@\n", os.environ["WRITES"])
sys.stdout.write(text)
EOF
    haproxy -c -q -f "$dir/run/haproxy.cfg" || die "haproxy refused $dir/run/haproxy.cfg"
}

# Starts HAProxy, or reloads it without dropping connections: the new process
# takes the listening socket over from the old one (-x), which then finishes
# its connections and exits (-sf).
start_haproxy() {
    render_haproxy
    local reload=()
    if alive "$dir/run/haproxy.pid"; then
        reload=(-x "$admin_sock" -sf "$(cat "$dir/run/haproxy.pid")")
    fi
    (nohup haproxy -db -f "$dir/run/haproxy.cfg" "${reload[@]}" </dev/null \
        >>"$dir/logs/haproxy.log" 2>&1 &
        echo $! >"$dir/run/haproxy.pid")
    wait_for 10 "HAProxy" haproxy_cmd "show info"
}

stop_pid() { # pid file, seconds: SIGTERM, then SIGKILL once the time is out
    alive "$1" || {
        rm -f "$1"
        return 0
    }
    local pid
    pid=$(cat "$1")
    kill -TERM "$pid"
    for ((i = 0; i < $2 * 10; i++)); do
        alive "$1" || break
        sleep 0.1
    done
    if alive "$1"; then
        echo "cluster.sh: pid $pid did not stop within $2 s: killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

next_node() { # the name of a node not in $nodes_file: n<highest id + 1>
    local id
    id=$(awk 'BEGIN { m = 0 } { if ($4 > m) m = $4 } END { print m + 1 }' "$nodes_file" 2>/dev/null || echo 1)
    echo "n$id"
}

add_node() {
    local name id
    name=$(next_node)
    id=${name#n}
    start_node "$name" $((port + id)) $((port + 100 + id))
    echo "$name $((port + id)) $((port + 100 + id)) $id" >>"$nodes_file"
    echo "node $name on http://127.0.0.1:$((port + id))/ (admin API on $((port + 100 + id)), log $dir/logs/$name.log)"
}

cmd_start() {
    local n=${1:-3}
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || die "start takes a number of nodes (at least 1)"
    alive "$dir/run/haproxy.pid" && die "a cluster runs in $dir already (scripts/cluster.sh stop first)"
    need redis-server
    need redis-cli
    need haproxy
    need curl
    need python3
    if [ ! -x "$bin" ]; then
        echo "building roomd (scripts/build.sh)"
        "$root/scripts/build.sh"
    fi
    mkdir -p "$dir/logs" "$dir/run"
    : >"$nodes_file"
    start_redis
    for ((k = 0; k < n; k++)); do
        add_node
    done
    start_haproxy
    cat <<EOF

roomd cluster: $n nodes on one Redis, behind HAProxy.
  use:    http://127.0.0.1:$port/   (e.g. curl -X POST http://127.0.0.1:$port/counter/a)
  logs:   $dir/logs/ (redis.log, haproxy.log, n1.log, ...)
  Redis:  unix://$redis_sock
  HAProxy's runtime API: $admin_sock
  scripts/cluster.sh status | add | remove NAME | stop
EOF
}

cmd_status() {
    [ -f "$nodes_file" ] || {
        echo "no cluster in $dir"
        return 0
    }
    local name p admin id state
    alive "$dir/run/redis.pid" && state="running" || state="NOT RUNNING"
    echo "redis    $state  unix://$redis_sock"
    while read -r name p admin id; do
        if alive "$dir/run/$name.pid"; then
            state="running (pid $(cat "$dir/run/$name.pid"))"
            curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$p/healthz" || state+=", /healthz FAILING"
        else
            state="NOT RUNNING"
        fi
        echo "$name       $state  http://127.0.0.1:$p/  admin :$admin"
    done <"$nodes_file"
    if alive "$dir/run/haproxy.pid"; then
        echo "haproxy  running  http://127.0.0.1:$port/"
        haproxy_cmd "show stat" | awk -F, '$1 == "rooms" && $2 != "BACKEND" && $2 != "FRONTEND" {
            printf "  haproxy sees %-4s %s\n", $2, $18 }'
    else
        echo "haproxy  NOT RUNNING"
    fi
}

cmd_add() {
    alive "$dir/run/haproxy.pid" || die "no cluster runs in $dir"
    add_node
    start_haproxy
    echo "HAProxy now sends rooms to it; they move there by handover (their sockets close with 1012)"
}

cmd_remove() {
    local name=${1:-}
    [ -n "$name" ] || die "remove takes a node's name (scripts/cluster.sh status lists them)"
    grep -q "^$name " "$nodes_file" 2>/dev/null || die "no node $name"
    [ "$(wc -l <"$nodes_file")" -gt 1 ] || die "$name is the last node: use stop"
    # New requests for its rooms go elsewhere at once; those elsewhere ask it
    # for the rooms (handover) or wait out a lease. Then the graceful stop
    # finishes its turns, closes its sockets with 1012 and releases its leases.
    haproxy_cmd "set server rooms/$name state maint" >/dev/null
    stop_pid "$dir/run/$name.pid" 30
    grep -v "^$name " "$nodes_file" >"$nodes_file.new" || true
    mv "$nodes_file.new" "$nodes_file"
    start_haproxy
    echo "node $name removed (its log stays in $dir/logs/$name.log)"
}

cmd_restart() {
    local name=${1:-} p admin id
    read -r name p admin id < <(grep "^${name:-?} " "$nodes_file" 2>/dev/null) || die "no node ${1:-}"
    alive "$dir/run/$name.pid" && die "$name runs already"
    start_node "$name" "$p" "$admin"
    echo "node $name started again; HAProxy sends it its rooms once its checks pass"
}

cmd_stop() {
    local name p admin id
    stop_pid "$dir/run/haproxy.pid" 10
    if [ -f "$nodes_file" ]; then
        while read -r name p admin id; do
            stop_pid "$dir/run/$name.pid" 30
        done <"$nodes_file"
    fi
    stop_pid "$dir/run/redis.pid" 30
    echo "stopped (data stays in $dir/redis; rm -r $dir to start afresh)"
}

case "${1:-}" in
start) cmd_start "${2:-3}" ;;
status) cmd_status ;;
add) cmd_add ;;
remove) cmd_remove "${2:-}" ;;
restart) cmd_restart "${2:-}" ;;
stop) cmd_stop ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 2
    ;;
esac
