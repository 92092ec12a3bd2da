#!/usr/bin/env bash
# Installs the Debian packages roomd needs to build, run and test, if any is
# missing. Run as root (or with sudo available).
set -euo pipefail

# LuaJIT: libluajit2-5.1-dev, the OpenResty branch Debian packages (maintained;
# the same ABI and `pkg-config luajit`), not libluajit-5.1-dev: the bench's
# nginx peer (tests/bench/peers/deps.sh) needs libluajit2-5.1-2, which
# replaces Debian's LuaJIT, so the project builds against that one everywhere.
packages=(
    build-essential cmake pkg-config clang-format clang libclang-rt-14-dev
    libluajit2-5.1-dev libwebsockets-dev libjansson-dev libhiredis-dev libjwt-dev
    libcurl4-openssl-dev openssl redis-server
    python3 python3-websockets lua-check curl chromium fonts-dejavu-core
    prometheus # promtool checks GET /metrics; test_prometheus scrapes roomd with the server
    haproxy # in front of a cluster: scripts/cluster.sh, tests/cluster (Debian 12: HAProxy 2.6)
)
# npm, to install tests/browser's packages: Debian's (with its Node 18), unless
# the machine has one already. The browser tests themselves run on the Node
# those packages bring (see below).
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

# tests/browser's npm packages, as package-lock.json pins them: playwright-core
# and, for x64 and arm64, the Node.js the tests run on (node-linux-<cpu>; the
# Node Debian 12 ships is too old for playwright-core). node_modules records
# what it was installed from; another lockfile, Node, npm or CPU installs anew.
browser_tests="$(dirname "$0")/../tests/browser"
stamp="$browser_tests/node_modules/.roomd-installed"
installed_from="lock $(sha256sum <"$browser_tests/package-lock.json" | cut -d' ' -f1)"
installed_from+=" node $(node --version) npm $(npm --version) $(node -p 'process.platform + "-" + process.arch')"
if [ "$(cat "$stamp" 2>/dev/null)" != "$installed_from" ]; then
    echo "installing tests/browser's npm packages"
    (cd "$browser_tests" && npm ci --no-audit --no-fund)
    printf '%s\n' "$installed_from" >"$stamp"
fi

# The Node the browser tests run on (CMake picks it the same way: the package's
# own bin/node, since npm 9 may leave node_modules/.bin/node out when the other
# CPU's package is skipped): warn, not fail, when it is too old, since only the
# browser tests need it.
test_node=$(command -v node)
for n in "$browser_tests"/node_modules/node-linux-*/bin/node; do
    [ -x "$n" ] && test_node=$n
done
node_major=$("$test_node" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
    echo "warning: the browser tests need Node.js >= 20, and $test_node is" \
        "$("$test_node" --version 2>&1) (tests/browser brings one for Linux on x64 and arm64 only)" >&2
fi
