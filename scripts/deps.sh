#!/usr/bin/env bash
# Installs the Debian packages roomd needs to build, run and test, if any is
# missing. Run as root (or with sudo available).
set -euo pipefail

packages=(
    build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
    libluajit-5.1-dev libwebsockets-dev libjansson-dev libhiredis-dev libjwt-dev
    libcurl4-openssl-dev openssl redis-server
    python3 python3-websockets lua-check curl chromium fonts-dejavu-core
)
# Node.js for the browser tests: Debian's, unless the machine has one already.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# playwright-core for the browser tests, at the version package-lock.json pins.
browser_tests="$(dirname "$0")/../tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ]; then
    echo "installing tests/browser's npm packages"
    (cd "$browser_tests" && npm ci --no-audit --no-fund)
fi
