#!/usr/bin/env bash
# Builds each fuzz harness (route and JSON parsers, the Lua pattern matcher, and fuzz_server:
# the whole request path of an in-process roomd) with clang's libFuzzer (+ ASan, UBSan) and
# runs it for FUZZ_SECONDS (default 20) from the seeds in seeds/<name>/ and the kept corpus in
# corpus/<name>/ (scripts/fuzz.sh grows it). A crash fails the run and leaves the input in
# out/. FUZZ_ONLY="name ..." runs only those harnesses.
#
# fuzz_server runs in libFuzzer's fork mode with timeouts ignored (each one is kept in out/ and
# listed) while libwebsockets 4.1's spin on a pipelined request whose body is still to come
# stays open (see tests/robustness/battery.py, http.pipelined_body_later): the fuzzer finds it
# within seconds and would stop there. FUZZ_STRICT_TIMEOUTS=1 fails on timeouts as on crashes.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-20}
root=../..
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE
       -I"$root/base" -I"$root/server" -I"$root/rooms" -I"$root/lua" $(pkg-config --cflags luajit jansson))
mkdir -p out
build() { clang "${flags[@]}" -o "out/$1" "$1.c" "${@:2}"; }
build fuzz_route "$root/server/route.c"
build fuzz_ljson "$root/base/utf8.c" "$root/lua/ljson.c" "$root/lua/ljson_decode.c" "$root/lua/ljson_encode.c" $(pkg-config --libs luajit jansson) -lm
build fuzz_lpat "$root/lua/lpat.c"
# fuzz_server compiles server/server.c in and links roomd's own libraries, built here by clang
# with the fuzzer's coverage instrumentation (out/build, a CMake build of its own).
cmake -S "$root" -B out/build -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
    >/dev/null
cmake --build out/build --target roomd_server -j"$(nproc)" >/dev/null
libs=()
for layer in server rooms persistence lua base; do
    libs+=("$(find out/build -name "libroomd_$layer.a" | head -1)")
done
build fuzz_server -I"$root/persistence" -Wl,--start-group "${libs[@]}" -Wl,--end-group \
    $(pkg-config --libs libwebsockets luajit jansson hiredis libjwt) -lm
for name in ${FUZZ_ONLY:-fuzz_route fuzz_ljson fuzz_lpat fuzz_server}; do
    mkdir -p "out/corpus-$name"
    dict=() kept=()
    [ -f "$name.dict" ] && dict=(-dict="$name.dict")
    [ -d "corpus/$name" ] && kept=("corpus/$name")
    mode=()
    [ "$name" = fuzz_server ] && [ "${FUZZ_STRICT_TIMEOUTS:-0}" != 1 ] &&
        mode=(-fork=1 -ignore_timeouts=1 -ignore_ooms=0 -ignore_crashes=0)
    echo "fuzzing $name for ${seconds}s"
    "out/$name" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 "${dict[@]}" "${mode[@]}" \
        -artifact_prefix="out/$name-" "out/corpus-$name" "seeds/$name" "${kept[@]}" \
        2>"out/$name.log" || rc=$?
    # fork mode ends with the timeout status (70) after timeouts it was told to ignore
    if [ "${rc:-0}" != 0 ] && ! { [ "${#mode[@]}" -gt 0 ] && [ "$rc" = 70 ]; }; then
        tail -40 "out/$name.log"
        exit 1
    fi
    rc=0
    grep -E "^Done|stat::number_of_executed_units|^#[0-9]+: cov" "out/$name.log" | tail -1
    ls out/ | grep -E "^$name-timeout" | sed 's/^/  timeout input: out\//' || true
done
