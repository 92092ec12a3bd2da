#!/usr/bin/env bash
# Builds each fuzz harness (route and JSON parsers, the Lua pattern matcher) with
# clang's libFuzzer (+ ASan, UBSan) and runs it for FUZZ_SECONDS (default 20) from
# the seeds in seeds/<name>/. A crash fails the run and
# leaves the input in out/.
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
for name in fuzz_route fuzz_ljson fuzz_lpat; do
    mkdir -p "out/corpus-$name"
    echo "fuzzing $name for ${seconds}s"
    "out/$name" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 \
        -artifact_prefix="out/$name-" "out/corpus-$name" "seeds/$name" 2>"out/$name.log" ||
        { tail -40 "out/$name.log"; exit 1; }
    grep -E "^Done|stat::number_of_executed_units" "out/$name.log" | tail -1
done
