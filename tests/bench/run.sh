#!/usr/bin/env bash
# run.sh: roomd's benchmark suite. Builds roomd, the bench programs and the
# peers (tests/bench/peers/: bare_lws in C, node = Node.js ws + ioredis +
# redis-server, workerd = Cloudflare's runtime with Durable Objects, nginx =
# nginx + lua-nginx-module (counter GET only); npm ci where node_modules is
# missing, tests/bench/peers/deps.sh for wrk and nginx), checks each server answers the room
# contract, then for ROUNDS rounds runs every case once per server, each
# against a fresh server, the servers alternating case by case (the order
# rotates every round). Servers are pinned to CPU 0; the generator (loadgen,
# wrk) and every redis-server (roomd's child, node's own) to CPU 1.
# Prints a table of medians with roomd / peer ratios; the raw results (one
# JSON line per run) and the logs stay in $WORK (the servers' data does not).
#
# Environment: ROUNDS (3), DUR (5 s measured per relay/wrk case), WARM (2 s),
# BIG (1: also one 19,000-connection run per server), PORT (first port,
# 18480), PEERS ("bare_lws node workerd nginx": which peers run beside roomd;
# raw_lws, the GET on lws without its HTTP parser, runs only when named),
# FANOUT_RATE (msgs/s of the fan-out case; default: half of bare_lws's
# closed-loop maximum in the same round), SERVER_DEADLINE (600 s: no
# server or redis-server outlives it), EXTRAS ("profile rooms": the scripts
# run after the table, tests/bench/profile.sh ~7 min and rooms.sh ~5 min;
# EXTRAS="" for the table alone), CASES (names of the cases to run, e.g.
# "wrk-post-counter wrk-get-counter"; all when empty). roomd runs with
# limits.messages_per_second raised: the senders here exceed the
# per-connection default on purpose.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/tests/bench
OUT=${OUT:-$BENCH/out}
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
WARM=${WARM:-2}
BIG=${BIG:-1}
EXTRAS=${EXTRAS-profile rooms}
PORT=${PORT:-18480}
PEERS=${PEERS-bare_lws node workerd nginx}
FANOUT_RATE=${FANOUT_RATE:-}
CASES=${CASES:-}
SERVER_DEADLINE=${SERVER_DEADLINE:-600}
WORK=$(mktemp -d /tmp/roomd-bench.XXXXXX)
RESULTS=$WORK/results.jsonl
LOADGEN=$OUT/loadgen
NODE_DIR=$BENCH/peers/node
WORKERD_DIR=$BENCH/peers/workerd
NGINX_DIR=$BENCH/peers/nginx
SERVERS=()
SERVER_PID=""  # the server process itself (CPU and RSS are read from it)
SERVER_TPID="" # its `timeout` parent, which enforces SERVER_DEADLINE
REDIS_PID=""   # roomd's redis-server child, or node's redis-server
REDIS_TPID=""  # the `timeout` parent of node's redis-server
ROUND=0        # the round a result belongs to (0: before the rounds, or BIG)
RATE=0         # this round's fan-out rate (set_fanout_rate)

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

workerd_bin() {
    case $(uname -m) in
    x86_64) echo "$WORKERD_DIR/node_modules/@cloudflare/workerd-linux-64/bin/workerd" ;;
    aarch64) echo "$WORKERD_DIR/node_modules/@cloudflare/workerd-linux-arm64/bin/workerd" ;;
    *) echo "/nonexistent/workerd-for-$(uname -m)" ;;
    esac
}

npm_ci() { # npm_ci DIR: install the locked packages when node_modules is missing
    [ -d "$1/node_modules" ] && return 0
    log "npm ci in ${1#"$ROOT"/}"
    (cd "$1" && timeout 600 npm ci --no-audit --no-fund) >>"$WORK/build.log" 2>&1
}

# has_peer NAME: NAME is in PEERS.
has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

drop_peer() { # drop_peer NAME WHY
    log "skipping peer $1: $2"
    PEERS=$(echo " $PEERS " | sed "s/ $1 / /; s/^ *//; s/ *$//")
}

build() {
    log "building roomd, bench programs and peers"
    "$BENCH/peers/deps.sh" >"$WORK/build.log" 2>&1 || drop_peer nginx "its packages did not install (see $WORK/build.log)"
    [ -f "$ROOT/build/CMakeCache.txt" ] ||
        cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >>"$WORK/build.log" 2>&1
    cmake --build "$ROOT/build" -j2 >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
    make -C "$BENCH" OUT="$OUT" >>"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }
    if has_peer node; then npm_ci "$NODE_DIR" || drop_peer node "npm ci failed (see $WORK/build.log)"; fi
    if has_peer workerd; then
        npm_ci "$WORKERD_DIR" || drop_peer workerd "npm ci failed (see $WORK/build.log)"
    fi
    if has_peer workerd && ! "$(workerd_bin)" --version >>"$WORK/build.log" 2>&1; then
        drop_peer workerd "its binary does not run here (see $WORK/build.log)"
    fi
    if has_peer nginx && ! nginx -V >>"$WORK/build.log" 2>&1; then
        drop_peer nginx "nginx does not run here (see $WORK/build.log)"
    fi
    read -ra SERVERS <<<"roomd $PEERS"
}

# serves SERVER WHAT: SERVER has WHAT (relay: the WebSocket relay room;
# counter-post: the durable counter's POST; counter-get: the counter's GET).
# bare_lws, raw_lws and nginx hold the counter in memory only (no durable
# POST to compare), nginx and raw_lws have no relay, node and workerd have
# all three.
serves() {
    case $1:$2 in
    bare_lws:counter-post | nginx:relay | nginx:counter-post) return 1 ;;
    raw_lws:relay | raw_lws:counter-post) return 1 ;;
    *) return 0 ;;
    esac
}

# start_nginx DIR: the config from nginx.conf.in, with its own prefix in DIR.
start_nginx() {
    mkdir -p "$1"
    sed -e "s|@PORT@|$PORT|g" -e "s|@PREFIX@|$1|g" -e "s|@DIR@|$NGINX_DIR|g" \
        "$NGINX_DIR/nginx.conf.in" >"$1/nginx.conf"
    spawn 0 "$2" nginx -p "$1" -e stderr -c "$1/nginx.conf"
}

cpu_ticks() { # utime+stime of a pid (all its threads), in clock ticks
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

cpu_s() { awk "BEGIN { print ($2 - $1) / $(getconf CLK_TCK) }"; }

# child_of PID: the first child of PID, waiting up to 2 s for it to appear.
child_of() {
    local kids
    for _ in $(seq 20); do
        kids=$(cat "/proc/$1/task/$1/children" 2>/dev/null || true)
        if [ -n "$kids" ]; then
            echo "${kids%% *}"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# spawn CPU LOG CMD...: CMD on CPU, killed at SERVER_DEADLINE at the latest.
# Sets SPAWN_TPID (the timeout process) and SPAWN_PID (CMD itself).
spawn() {
    local cpu=$1 logfile=$2
    shift 2
    timeout -k 5 "$SERVER_DEADLINE" taskset -c "$cpu" "$@" >"$logfile" 2>&1 &
    SPAWN_TPID=$!
    SPAWN_PID=$(child_of "$SPAWN_TPID") || SPAWN_PID=$SPAWN_TPID
}

wait_port() {
    for _ in $(seq 150); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# start_node_redis DIR: node's own redis-server on a unix socket, configured
# like roomd's embedded one (AOF, appendfsync everysec, no RDB snapshots).
start_node_redis() {
    mkdir -p "$1"
    spawn 1 "$1/redis.out" redis-server --port 0 --unixsocket "$1/redis.sock" --unixsocketperm 700 \
        --dir "$1" --appendonly yes --appendfsync everysec --save "" --daemonize no
    REDIS_TPID=$SPAWN_TPID
    REDIS_PID=$SPAWN_PID
    for _ in $(seq 50); do
        timeout 2 redis-cli -s "$1/redis.sock" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "node's redis-server did not start:"
    cat "$1/redis.out" >&2
    exit 1
}

# start_server roomd|bare_lws|raw_lws|node|workerd|nginx: a fresh server on a fresh port,
# pinned to CPU 0, with fresh storage.
start_server() {
    PORT=$((PORT + 1))
    local logfile=$WORK/server-$PORT.log
    case $1 in
    roomd)
        spawn 0 "$logfile" "$ROOT/build/roomd" --port "$PORT" --data "$WORK/data-$PORT" \
            --set log_level=warn --set limits.messages_per_second=1000000000
        ;;
    bare_lws) spawn 0 "$logfile" "$OUT/bare_lws" --port "$PORT" ;;
    raw_lws) spawn 0 "$logfile" "$OUT/raw_lws" --port "$PORT" ;;
    node)
        start_node_redis "$WORK/data-$PORT"
        spawn 0 "$logfile" node "$NODE_DIR/server.js" --port "$PORT" --redis "$WORK/data-$PORT/redis.sock"
        ;;
    workerd)
        mkdir -p "$WORK/data-$PORT"
        spawn 0 "$logfile" "$(workerd_bin)" serve "$WORKERD_DIR/config.capnp" \
            --socket-addr "http=127.0.0.1:$PORT" --directory-path "do-disk=$WORK/data-$PORT"
        ;;
    nginx) start_nginx "$WORK/data-$PORT" "$logfile" ;;
    esac
    SERVER_TPID=$SPAWN_TPID
    SERVER_PID=$SPAWN_PID
    wait_port || { log "$1 did not start:"; cat "$logfile" >&2; exit 1; }
    if [ "$1" = roomd ]; then
        REDIS_PID=$(child_of "$SERVER_PID" || true)
        if [ -n "$REDIS_PID" ]; then taskset -apc 1 "$REDIS_PID" >/dev/null; fi
    fi
    sleep 0.3
}

# stop_pid PID TPID: SIGTERM, up to 5 s, then SIGKILL; reap the timeout parent.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    if [ -n "$2" ]; then wait "$2" 2>/dev/null || true; fi
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    stop_pid "$SERVER_PID" "$SERVER_TPID"
    if [ -n "$REDIS_TPID" ]; then # node's redis-server
        stop_pid "$REDIS_PID" "$REDIS_TPID"
    elif [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then # roomd's child
        sleep 0.5
        kill -0 "$REDIS_PID" 2>/dev/null && {
            log "redis child $REDIS_PID outlived roomd; killing it"
            kill -KILL "$REDIS_PID" 2>/dev/null || true
        }
    fi
    SERVER_PID="" SERVER_TPID="" REDIS_PID="" REDIS_TPID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

# expect SERVER PATH METHOD BODY: one request of the contract check.
expect() {
    local got
    got=$(curl -s -m 5 -X "$3" "http://127.0.0.1:$PORT$2" | tr -d ' \n')
    [ "$got" = "$4" ] || { log "$1: $3 $2 answered '$got', expected '$4'"; exit 1; }
}

# check_contract SERVER: the HTTP half of the room contract, on a fresh
# server (the WebSocket half is checked by every relay run: loadgen counts
# missing, duplicate and malformed deliveries).
check_contract() {
    start_server "$1"
    if serves "$1" relay && [ "$1" != bare_lws ]; then expect "$1" /relay/check GET '{"connections":0}'; fi
    if serves "$1" counter-get; then
        expect "$1" /counter/check GET '{"value":0}'
        expect "$1" /counter/check POST '{"value":1}'
        expect "$1" /counter/check POST '{"value":2}'
        expect "$1" /counter/check GET '{"value":2}'
    fi
    stop_server
    if [ "$1" = workerd ]; then check_workerd_alarm; fi
    log "$1 answers the contract"
}

# check_workerd_alarm: the Counter's expiry alarm fires (a 1 s time-to-live;
# the benchmark runs keep the default week, so there it is only set).
check_workerd_alarm() {
    COUNTER_TTL_MS=1000 start_server workerd
    expect workerd /counter/alarm POST '{"value":1}'
    local got=""
    for _ in $(seq 50); do
        got=$(curl -s -m 5 "http://127.0.0.1:$PORT/counter/alarm" | tr -d ' \n')
        [ "$got" != '{"value":0}' ] || break
        sleep 0.1
    done
    stop_server
    [ "$got" = '{"value":0}' ] || { log "workerd: the counter's alarm did not fire in 5 s ($got)"; exit 1; }
}

record() { # record SERVER CASE JSON [REDIS_CPU_S]
    echo "{\"server\":\"$1\",\"case\":\"$2\",\"round\":$ROUND,\"redis_cpu_s\":${4:-null},\"r\":$3}" >>"$RESULTS"
}

# died SERVER CASE: say so when the server exited during a case.
died() {
    kill -0 "$SERVER_PID" 2>/dev/null && return 0
    log "$1 exited during $2: $(tail -c 300 "$WORK/server-$PORT.log" | tr '\n' ' ')"
}

# loadgen_case SERVER CASE ARGS...: one fresh server, one loadgen run.
loadgen_case() {
    local server=$1 case=$2
    shift 2
    serves "$server" relay || return 0
    start_server "$server"
    local line r0 r1
    r0=$(cpu_ticks "${REDIS_PID:-0}")
    line=$(timeout 150 taskset -c 1 "$LOADGEN" "$@" --port "$PORT" --server-pid "$SERVER_PID" \
        --label "$case" 2>"$WORK/loadgen.err" | tee -a "$WORK/loadgen.log" | sed -n 's/^RESULT //p') || true
    r1=$(cpu_ticks "${REDIS_PID:-0}")
    died "$server" "$case"
    stop_server
    if [ -z "$line" ]; then
        log "$server $case: no result ($(head -c 300 "$WORK/loadgen.err"))"
        line="{\"label\":\"$case\",\"failed\":true}"
    fi
    record "$server" "$case" "$line" "$(cpu_s "$r0" "$r1")"
    log "$server $case done"
}

# wrk_case SERVER CASE SCRIPT: requests per second, per server CPU-second,
# and the Redis CPU beside it (roomd's child, node's redis-server).
wrk_case() {
    local server=$1 case=$2 script=$3 c0 r0 c1 r1 out
    start_server "$server"
    ROOMS=100 timeout 30 taskset -c 1 wrk -t1 -c64 -d1s -s "$BENCH/$script" "http://127.0.0.1:$PORT" >/dev/null || true
    c0=$(cpu_ticks "$SERVER_PID")
    r0=$(cpu_ticks "${REDIS_PID:-0}")
    out=$(ROOMS=100 timeout 60 taskset -c 1 wrk -t1 -c64 -d"${DUR}s" --latency -s "$BENCH/$script" \
        "http://127.0.0.1:$PORT") || true
    c1=$(cpu_ticks "$SERVER_PID")
    r1=$(cpu_ticks "${REDIS_PID:-0}")
    died "$server" "$case"
    stop_server
    echo "== $server $case" >>"$WORK/wrk.log"
    echo "$out" >>"$WORK/wrk.log"
    local rps p50 p99 non2xx errs
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    errs=$(echo "$out" | awk '/Socket errors/ {print $0}')
    [ -z "$errs" ] || log "$server $case: $errs"
    record "$server" "$case" "{\"req_per_s\":${rps:-0},\"server_cpu_s\":$(cpu_s "$c0" "$c1"),\
\"secs\":$DUR,\"p50\":\"$p50\",\"p99\":\"$p99\",\"non2xx\":${non2xx:-0}}" "$(cpu_s "$r0" "$r1")"
    log "$server $case done"
}

# w16_rate CASE: the sender's msgs/s in bare_lws's last good CASE run (N=100,
# W=16), or nothing.
w16_rate() {
    python3 - "$RESULTS" "$1" <<'EOF'
import json, sys
rate = ""
for line in open(sys.argv[1]):
    rec = json.loads(line)
    if rec["server"] == "bare_lws" and rec["case"] == sys.argv[2] and "sent_per_s" in rec["r"]:
        rate = rec["r"]["sent_per_s"]
print(rate)
EOF
}

# set_fanout_rate: RATE = FANOUT_RATE when set; else half of bare_lws's
# closed-loop maximum (N=100, W=16) in this round, so the load follows the
# machine's drift; without bare_lws among the servers, half of one
# calibration run's.
set_fanout_rate() {
    local max=0
    if [ -n "$FANOUT_RATE" ]; then
        RATE=$FANOUT_RATE
        return 0
    elif has_peer bare_lws; then
        max=$(w16_rate relay-n100-w16)
    else
        [ -n "$(w16_rate calibrate-n100-w16)" ] ||
            loadgen_case bare_lws calibrate-n100-w16 relay --conns 100 --rooms 1 --window 16 \
                --duration "$DUR" --warmup "$WARM"
        max=$(w16_rate calibrate-n100-w16)
    fi
    if [ -z "$max" ] || [ "$max" = 0 ]; then
        [ "$RATE" -gt 0 ] || { log "no closed-loop maximum of bare_lws to take half of"; exit 1; }
        log "no bare_lws maximum this round; the fan-out rate stays $RATE msgs/s"
        return 0
    fi
    RATE=$(awk "BEGIN { printf \"%d\", $max / 2 }")
    log "fan-out rate: $RATE msgs/s (half of bare_lws's $max), $((RATE * 100)) deliveries/s"
}

# rotated ROUND: SERVERS, rotated by ROUND-1, so no server always goes first.
rotated() {
    local n=${#SERVERS[@]} i
    for ((i = 0; i < n; i++)); do echo "${SERVERS[$(((i + $1 - 1) % n))]}"; done
}

# each_server ROUND FUNCTION ARGS...: FUNCTION SERVER ARGS... for every server.
each_server() {
    local round=$1 s
    shift
    for s in $(rotated "$round"); do "$1" "$s" "${@:2}"; done
}

# counter_case SERVER: the durable counter under wrk (bare_lws has no counter).
counter_case() {
    serves "$1" counter-post || return 0
    wrk_case "$1" wrk-post-counter counter_post.lua
}

# counter_get_case SERVER: GET /counter/<id> under wrk, roomd against nginx,
# bare_lws and raw_lws (each room's first GET activates it in roomd, in the warm-up;
# after that all answer from memory). node and workerd are left out to
# keep the run short: their GET goes to storage.
counter_get_case() {
    [[ $1 == roomd || $1 == nginx || $1 == bare_lws || $1 == raw_lws ]] || return 0
    wrk_case "$1" wrk-get-counter counter_get.lua
}

# wanted CASE: CASE is among CASES (all when CASES is empty).
wanted() { [ -z "$CASES" ] || [[ " $CASES " == *" $1 "* ]]; }

# relay_case ROUND CASE LOADGEN-ARGS...: a loadgen case on every server, when wanted.
relay_case() {
    if wanted "$2"; then each_server "$1" loadgen_case "$2" "${@:3}"; fi
}

round() {
    local r=$1 d=(--duration "$DUR" --warmup "$WARM")
    relay_case "$r" relay-n100-w1 relay --conns 100 --rooms 1 --window 1 "${d[@]}"
    relay_case "$r" relay-n100-w16 relay --conns 100 --rooms 1 --window 16 "${d[@]}"
    relay_case "$r" relay-n1000-w1 relay --conns 1000 --rooms 1 --window 1 "${d[@]}"
    relay_case "$r" relay-n10-s10-w16 relay --conns 10 --rooms 1 --senders 10 --window 16 "${d[@]}"
    relay_case "$r" open-n100-500 relay --conns 100 --rooms 1 --rate 500 "${d[@]}"
    if wanted fanout-n100-half; then
        set_fanout_rate
        each_server "$r" loadgen_case fanout-n100-half relay --conns 100 --rooms 1 --rate "$RATE" "${d[@]}"
    fi
    relay_case "$r" connect-5000 connect --conns 5000 --rooms 100 --hold 1
    if wanted wrk-post-counter; then each_server "$r" counter_case; fi
    if wanted wrk-get-counter; then each_server "$r" counter_get_case; fi
    if wanted wrk-get-vote; then wrk_case roomd wrk-get-vote vote_get.lua; fi
}

main() {
    : >"$RESULTS"
    build
    log "results in $WORK; servers: ${SERVERS[*]}; load: $(uptime | sed 's/.*load/load/')"
    for s in "${SERVERS[@]}"; do check_contract "$s"; done
    for ROUND in $(seq "$ROUNDS"); do
        log "round $ROUND of $ROUNDS"
        round "$ROUND"
    done
    ROUND=0
    if [ "$BIG" = 1 ] && wanted connect-19000; then
        each_server 1 loadgen_case connect-19000 connect --conns 19000 --rooms 100 --hold 2 --connect-timeout 60
    fi
    log "load at the end: $(uptime | sed 's/.*load/load/')"
    rm -rf "$WORK"/data-* # the servers' storage; results and logs stay
    python3 "$BENCH/summarize.py" "$RESULTS"
    log "raw results: $RESULTS"
    # The noise-free figures (instructions and syscalls per delivery, cost per inbound message)
    # and room scale have scripts of their own; EXTRAS="" skips them.
    for extra in $EXTRAS; do
        log "tests/bench/$extra.sh"
        BUILD=0 "$BENCH/$extra.sh"
    done
}

main "$@"
