#!/usr/bin/env bash
# Installs the Debian packages roomd needs to build, run and test, if any is
# missing. Run as root (or with sudo available).
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
    libluajit-5.1-dev libwebsockets-dev libjansson-dev libhiredis-dev redis-server
    python3 python3-websockets lua-check curl
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
