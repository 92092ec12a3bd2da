#!/usr/bin/env bash
# Builds roomd: build/ (optimised, with debug info) and, with --sanitize,
# build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
if [ "${1:-}" = "--sanitize" ]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DROOMD_SANITIZE=ON >/dev/null
    cmake --build build-asan -j"$(nproc)"
fi
