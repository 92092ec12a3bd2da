#!/bin/sh
# docs/lua-api.md holds the table `roomd --limits` prints, between its two markers.
# Usage: tests/docs_limits.sh ROOMD_BINARY
cd "$(dirname "$0")/.." || exit 2
want=$("$1" --limits) || exit 2
have=$(sed -n '/^<!-- limits: build\/roomd --limits -->$/,/^<!-- end of limits -->$/p' docs/lua-api.md |
    sed '1d;$d')
[ "$want" = "$have" ] && exit 0
echo "docs/lua-api.md's limits table differs from roomd --limits; put this in it:"
echo "$want"
exit 1
