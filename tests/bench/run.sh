#!/bin/sh
# make bench: every figure of issues 13 and 23 in one run, on the same input, then the ratios against
# their targets. Figures, not asserts. One script per job; they hand their figures to the summary
# as JSON under $BUILD/bench/results/ (docs/testing.md, "Benchmarks"):
#   inputs.py       frames (opencv-doc's aloe pair, 2x1280x720) and calibration (its chessboards); cached
#   floor.py        1. TurboJPEG decode + encode alone (build/bench-floor)
#   rectified.py    2. handrecd rectifying, replay at rate "max", 1 worker and one per core
#   passthrough.py  3. handrecd storing the JPEGs as they came (MJPEG, rectify off)
#   remap.py        4. the remap alone against cv2.remap
#   old.py          5. the old collector's design (old_collector.py)
#   realtime.py     6. both hands at 30 fps in real time, 2 minutes with the RSS growth (BENCH_SOAK=3600: the hour)
#   memory.py      13. where the memory is: smaps by mapping and by what it holds (smaps.py, alloc-map.so)
#   callgrind.py    7. instructions per frame of the rectified path (build/bench-frame)
#   qc.py          11. what quality at the rig costs a frame, both paths (build/bench-qc)
#   preview.py      9. what a preview costs at 10 fps, and a take recorded under two previews (issue 10)
#   offload.py     10. uploads with handrec-offload to S3 (s3rver) against rclone alone; a take during one
#   reader.py      12. reading takes back with the handrec module: frames/s, full and 1/4, local and bucket
#   sync.py         the cost of durability (save.sync_interval), synthetic camera
#   summary.py      8. the table and the ratios, met or not
# BENCH_QUICK=1: few frames and short runs, to check the bench end to end in a couple of minutes.
# BENCH_DIR: where inputs and results go instead of $BUILD/bench (the smoke test's own folder).
set -u
BUILD=${BUILD:-build}
export BUILD
PY=/usr/bin/python3
B=tests/bench
bench=${BENCH_DIR:-$BUILD/bench}
results=$bench/results
if [ "${BENCH_QUICK:-0}" != 0 ]; then
        export BENCH_REMAP_ITERATIONS=${BENCH_REMAP_ITERATIONS:-10} BENCH_SYNC_SECONDS=${BENCH_SYNC_SECONDS:-1}
fi
failed=""
# run one measurement; a failure is reported and the others still run
step() {
        "$@" || { echo "bench: $* exited $?"; failed="$failed $1"; }
}

rm -rf "$results" "$bench/work"
mkdir -p "$results"
$PY $B/inputs.py || exit 1
echo
step $PY $B/floor.py
step $PY $B/rectified.py
step $PY $B/passthrough.py
echo "== remap alone (remap.py)"
if $PY $B/remap.py >"$results/remap.txt" 2>&1; then
        cat "$results/remap.txt"
else
        cat "$results/remap.txt"
        echo "bench: remap.py failed"
        failed="$failed remap.py"
fi
step $PY $B/old.py
step $PY $B/realtime.py
step $PY $B/memory.py
step $PY $B/callgrind.py
step $PY $B/qc.py
step $PY $B/preview.py
step $PY $B/offload.py
step $PY $B/reader.py
echo
echo "== durability (BENCH_SYNC_SECONDS=${BENCH_SYNC_SECONDS:-20})"
step $PY $B/sync.py
echo
$PY $B/summary.py || failed="$failed summary"
[ -z "$failed" ] || { echo "bench: failed:$failed"; exit 1; }
