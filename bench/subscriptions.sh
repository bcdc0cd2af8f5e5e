#!/bin/sh
# bench/subscriptions.sh: subscription fan-out benchmark (clarifications #4). Builds if needed, then runs
# bench/subscriptions.py: 1 publisher actor, N (1,000) subscriber actors over two subscriber daemons.
# Environment knobs (printed by the run): N, BURST, SHARDS, CONC, PER_ORIGIN, POLL_MS, PERF=1.
set -e
cd "$(dirname "$0")/.."
[ -f build/Makefile ] || make build >/dev/null  # a fresh clone: packages, configure, build
cmake --build build --target actingwebd machine -j2 >/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
AWD_BIN=${AWD_BIN:-build/actingwebd} exec python3 -B bench/subscriptions.py "$@"
