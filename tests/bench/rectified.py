#!/usr/bin/python3
"""make bench, row 2: handrecd rectifying one hand, the replay source at rate "max" looping over
the bench's frames until BENCH_FRAMES are written: with one encoder worker (BENCH_CPU_ROUNDS times,
default 3, each after a run of the floor: the medians make the ratio), and with one worker per
core (config `workers`); then at 30 fps in real time, as a camera delivers, with the shipped number
of workers, for BENCH_SECONDS / 3: the peak RSS a camera's rectified take has (at "max" the writer
queue holds whatever the pipeline runs ahead). The replay plays the files as a side-by-side MJPEG
camera (format "MJPEG"): the workers decode, rectify and encode each frame, as for such a camera. CPU ms per frame of the whole daemon over the take, its peak RSS, and
beside it the memory handrecd --check-config computes for that configuration
(daemon/memory-budget.c)."""
import os
import statistics

from benchlib import CORES, FRAMES, QUICK, SECONDS, floor_run, max_rate_take, realtime_take, write_result

# The ratio to the floor: this machine's speed drifts by a fifth between minutes (the floor alone
# measured 15.2 and 18.8 ms a frame in two runs of one day), so the floor and the 1-worker take
# are run in turn, ROUNDS times, and the ratio is that of their medians.
ROUNDS = int(os.environ.get("BENCH_CPU_ROUNDS", 1 if QUICK else 3))


def checked(r):
    if "error" not in r and (r["rectified"] != 1 or r["stop_reason"] != "requested" or r["frames"] < FRAMES):
        r["error"] = (f"the take was not what was asked: rectified={r['rectified']}, "
                      f"stop_reason={r['stop_reason']}, frames={r['frames']}")
    return r


print(f"== handrecd rectified, one hand, replay at rate \"max\", {FRAMES} frames"
      f" (1 worker: {ROUNDS} rounds, each after a run of the floor)")
runs, floors = [], []
for _ in range(ROUNDS):
    f = floor_run()
    r = checked(max_rate_take(workers=1, rectify=True))
    if "error" in f or "error" in r:
        runs = [r if "error" in r else dict(error=f"the floor beside it: {f['error']}")]
        break
    floors.append(f["cpu_ms_per_frame"])
    runs.append(r)
one = runs[-1]
if "error" not in one:
    cpu = [r["cpu_ms_per_frame"] for r in runs]
    one = dict(one, cpu_ms_per_frame=round(statistics.median(cpu), 3), cpu_ms_runs=cpu, floor_ms_runs=floors,
               floor_ms_alternated=round(statistics.median(floors), 3),
               peak_rss_kb=max(r["peak_rss_kb"] for r in runs))
write_result("rectified-1", **one)
write_result("rectified-cores", **checked(max_rate_take(workers=CORES, rectify=True)))

seconds = max(3.0, round(SECONDS / 3))
print(f"== handrecd rectified, one hand, 30 fps real time (as a camera delivers), shipped workers, {seconds:.0f} s")
r = realtime_take(seconds)
if "error" not in r and r["rectified"] != 1:
    r["error"] = f"the take was not rectified: rectified={r['rectified']}"
write_result("rectified-realtime", **r)
