#!/bin/sh
# make bench: benchmarks with their baselines, in one run on this machine. Figures, not asserts.
set -eu
BUILD=${BUILD:-build}
echo "== handrecd take benchmark (BENCH_SECONDS=${BENCH_SECONDS:-60})"
BUILD=$BUILD /usr/bin/python3 tests/bench/take.py
echo
echo "== rectification benchmark"
BUILD=$BUILD /usr/bin/python3 tests/bench/remap.py
echo
echo "== durability benchmark (BENCH_SYNC_SECONDS=${BENCH_SYNC_SECONDS:-20})"
BUILD=$BUILD /usr/bin/python3 tests/bench/sync.py
