#!/usr/bin/python3
"""make bench, row 1: the floor. build/bench-floor: TurboJPEG alone decoding each of the bench's
side-by-side JPEGs into YUV planes and encoding the planes again at BENCH_QUALITY, one thread,
the same BENCH_FRAMES frames the daemon plays. CPU ms per frame and peak RSS. (The ratio of row 2
to the floor is taken from runs of both alternated in rectified.py, not from this one.)"""
from benchlib import FRAMES, QUALITY, floor_run, write_result

print(f"== floor: TurboJPEG decode to YUV planes + encode from them, q{QUALITY}, 1 thread, {FRAMES} frames")
write_result("floor", **floor_run())
