#!/usr/bin/env bash
# Installs what is missing, builds, and starts roomd with the shipped rooms,
# reloading a room script when it is saved (--watch). Extra arguments go to
# roomd (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh
port=8080
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [ "${args[$i]}" = "--port" ] && port="${args[$((i + 1))]}"
done
echo "roomd: open http://127.0.0.1:${port}/ (Ctrl-C stops it)"
exec build/roomd --watch "$@"
