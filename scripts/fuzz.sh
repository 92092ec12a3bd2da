#!/usr/bin/env bash
# fuzz.sh: a long fuzzing run of every harness in tests/fuzz/ (tests/fuzz/run.sh builds them),
# FUZZ_SECONDS in all (default 3600), split between the harnesses by weight: fuzz_server, the
# whole request path, gets half; the parsers share the rest. The corpus each run grows is
# merged, minimised, into tests/fuzz/corpus/<name>/ (kept in the repository: commit it), so the
# next run and the brief CI run start from it. Crashes and timeouts stay in tests/fuzz/out/.
# Run it under `nice` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/../tests/fuzz"
total=${FUZZ_SECONDS:-3600}
declare -A weight=([fuzz_server]=6 [fuzz_ljson]=2 [fuzz_lpat]=2 [fuzz_route]=2)
sum=12
status=0
for name in fuzz_server fuzz_ljson fuzz_lpat fuzz_route; do
    seconds=$((total * ${weight[$name]} / sum))
    [ "$seconds" -ge 1 ] || seconds=1
    FUZZ_SECONDS=$seconds FUZZ_ONLY=$name ./run.sh || status=1
    # Keep only what adds coverage: merge the run's corpus into the kept one, minimised.
    mkdir -p "corpus/$name" out/merge
    rm -rf "out/merge/$name" && mkdir -p "out/merge/$name"
    "out/$name" -merge=1 -timeout=5 -rss_limit_mb=2048 "out/merge/$name" "corpus/$name" \
        "out/corpus-$name" "seeds/$name" >"out/$name-merge.log" 2>&1 || status=1
    rm -rf "corpus/$name" && mv "out/merge/$name" "corpus/$name"
    echo "$name: corpus $(ls "corpus/$name" | wc -l) files, $(cat "corpus/$name"/* | wc -c) bytes"
done
exit $status
