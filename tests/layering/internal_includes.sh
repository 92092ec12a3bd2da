#!/bin/sh
# rooms/*_internal.h hold the structs of rooms/: only rooms/ (and its unit tests) include them.
cd "$(dirname "$0")/../.." || exit 2
found=$(grep -rln --include='*.c' --include='*.h' '#include "[a-z_]*_internal\.h"' . |
    grep -v -e '^\./rooms/' -e '^\./tests/unit/' -e '^\./build')
[ -z "$found" ] && exit 0
echo "rooms' internal headers included outside rooms/: $found"
exit 1
