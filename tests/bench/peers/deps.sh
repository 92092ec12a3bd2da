#!/usr/bin/env bash
# deps.sh: the Debian packages only the benchmarks need (CI does not run
# them, so scripts/deps.sh leaves them out): wrk, and nginx with
# lua-nginx-module for the nginx peer. libnginx-mod-http-lua runs on the
# OpenResty branch of LuaJIT, libluajit2-5.1-2, the one scripts/deps.sh
# builds roomd against, so both link the same LuaJIT. Debian starts an
# installed nginx as a service where the machine allows it; this stops it
# again, since the bench starts its own. Run as root (or with sudo available).
set -euo pipefail

packages=(wrk nginx-light libnginx-mod-http-lua)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
if command -v service >/dev/null && service nginx status >/dev/null 2>&1; then
    $sudo service nginx stop || true
fi
