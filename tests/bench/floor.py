#!/usr/bin/python3
"""make bench, row 1: the floor. build/bench-floor: TurboJPEG alone decoding each of the bench's
side-by-side JPEGs into YUV planes and encoding the planes again at BENCH_QUALITY, one thread,
the same BENCH_FRAMES frames the daemon plays. CPU ms per frame and peak RSS."""
import json
import os
import subprocess

from benchlib import BUILD, FRAMES, QUALITY, inputs, write_result

m = inputs()
print(f"== floor: TurboJPEG decode to YUV planes + encode from them, q{QUALITY}, 1 thread, {FRAMES} frames")
p = subprocess.run([os.path.join(BUILD, "bench-floor"), str(QUALITY), str(FRAMES), *m["frames"]],
                   capture_output=True, text=True)
if p.returncode != 0:
    write_result("floor", error=f"bench-floor exited {p.returncode}: {p.stderr.strip()}")
else:
    write_result("floor", **json.loads(p.stdout))
