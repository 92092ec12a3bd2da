#!/usr/bin/env bash
# Installs what is missing, builds, lints, and runs the whole test suite
# twice: on the optimised build and under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh --sanitize

echo "== benchmark programs build (tests/bench/run.sh runs them; not part of the suite)"
make -s -C tests/bench

echo "== luacheck"
luacheck --quiet conf demos tests/lua tests/cluster tests/bench tests/fuzz tests/specs rooms/storage.lua spec/prelude.lua

echo "== clang-format"
clang-format --dry-run -Werror base/*.[ch] server/*.[ch] rooms/*.[ch] lua/*.[ch] persistence/*.[ch] spec/*.[ch] \
    tests/unit/*.[ch] tests/fuzz/*.c tests/bench/*.[ch] tests/bench/peers/*.[ch]

echo "== fuzzing (tests/fuzz: route and JSON parsers, pattern matcher, the whole request path; 20 s each)"
tests/fuzz/run.sh

echo "== tests (optimised build)"
(cd build && ctest --output-on-failure --timeout 300)

echo "== tests (ASan + UBSan)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
(cd build-asan && ctest --output-on-failure --timeout 600)
