#!/bin/sh
# bench/fanout.sh N [more fanout args]: build if needed, then run build/bench/fanout N.
# Prints `fanout N=<N> wall_ms=<ms> cpu_ms=<ms> rss_kb=<kb> form=... run=...` per run, then the min / median /
# max wall time of the runs that reused connections (`--runs R`, default 3), between two `machine ...` lines
# (bench/machine.c: this VM's speed right now).
set -e
cd "$(dirname "$0")/.."
N=${1:-1000}
[ $# -gt 0 ] && shift
if [ ! -x build/bench/fanout ] || [ ! -x build/bench/machine ] ||
   [ -n "$(find src bench include -newer build/bench/fanout -name '*.[ch]' 2>/dev/null | head -1)" ]; then
  [ -f build/Makefile ] || make build >/dev/null  # a fresh clone: packages, configure, build
  cmake --build build --target fanout machine -j2 >/dev/null
fi
# This VM's speed right now (bench/machine.c), before and after: a slow minute shows there too.
build/bench/machine
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
build/bench/fanout "$N" "$@"
build/bench/machine
