#!/usr/bin/env bash
# Builds each fuzz harness (route and JSON parsers, the Lua pattern matcher, and fuzz_server:
# the whole request path of an in-process roomd) with clang's libFuzzer (+ ASan, UBSan) and
# runs it for FUZZ_SECONDS (default 20) from the seeds in seeds/<name>/ and the kept corpus in
# corpus/<name>/ (scripts/fuzz.sh grows it). A crash fails the run and leaves the input in
# out/. FUZZ_ONLY="name ..." runs only those harnesses.
# A timeout (an input that keeps roomd busy for 5 s) fails the run as a crash does.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-20}
root=../..
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE
       -I"$root/base" -I"$root/server" -I"$root/rooms" -I"$root/lua" $(pkg-config --cflags luajit jansson))
mkdir -p out
build() { clang "${flags[@]}" -o "out/$1" "$1.c" "${@:2}"; }
build fuzz_route "$root/server/route.c" "$root/base/percent.c"
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
    $(pkg-config --libs libwebsockets luajit jansson hiredis libjwt libcurl) -lm
for name in ${FUZZ_ONLY:-fuzz_route fuzz_ljson fuzz_lpat fuzz_server}; do
    mkdir -p "out/corpus-$name"
    dict=() kept=()
    [ -f "$name.dict" ] && dict=(-dict="$name.dict")
    [ -d "corpus/$name" ] && kept=("corpus/$name")
    echo "fuzzing $name for ${seconds}s"
    "out/$name" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 "${dict[@]}" \
        -artifact_prefix="out/$name-" "out/corpus-$name" "seeds/$name" "${kept[@]}" \
        2>"out/$name.log" || { tail -40 "out/$name.log"; exit 1; }
    grep -E "^Done|stat::number_of_executed_units" "out/$name.log" | tail -1
done
