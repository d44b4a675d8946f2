#!/usr/bin/python3
"""make bench, row 2: handrecd rectifying one hand, the replay source at rate "max" looping over
the bench's frames until BENCH_FRAMES are written: with one encoder worker, and with one worker per
core (config `workers`); then at 30 fps in real time, as a camera delivers, with the shipped number
of workers, for BENCH_SECONDS / 3: the peak RSS a camera's rectified take has (at "max" the writer
queue holds whatever the pipeline runs ahead). The replay plays the files as a side-by-side MJPEG
camera (format "MJPEG"): the workers decode, rectify and encode each frame, as for such a camera. CPU ms per frame of the whole daemon over the take, its peak RSS, and
beside it the memory handrecd --check-config computes for that configuration
(daemon/memory-budget.c)."""
from benchlib import CORES, FRAMES, SECONDS, max_rate_take, realtime_take, write_result

print(f"== handrecd rectified, one hand, replay at rate \"max\", {FRAMES} frames")
for name, workers in (("rectified-1", 1), ("rectified-cores", CORES)):
    r = max_rate_take(workers=workers, rectify=True)
    if "error" not in r and (r["rectified"] != 1 or r["stop_reason"] != "requested" or r["frames"] < FRAMES):
        r["error"] = (f"the take was not what was asked: rectified={r['rectified']}, "
                      f"stop_reason={r['stop_reason']}, frames={r['frames']}")
    write_result(name, **r)

seconds = max(3.0, round(SECONDS / 3))
print(f"== handrecd rectified, one hand, 30 fps real time (as a camera delivers), shipped workers, {seconds:.0f} s")
r = realtime_take(seconds)
if "error" not in r and r["rectified"] != 1:
    r["error"] = f"the take was not rectified: rectified={r['rectified']}"
write_result("rectified-realtime", **r)
