#!/usr/bin/python3
"""make bench, row 3: passthrough. One hand, the replay source with camera.format = "MJPEG" and
rectify off (no calibration): the side-by-side JPEGs should be stored as they came, neither
decoded nor encoded again. Two runs:

- at rate "max", as row 2, over 4 x BENCH_FRAMES frames (the CPU time /proc counts in clock ticks
  of 1/100 s has to add up to many of them when a frame costs a fraction of a millisecond): the
  CPU per frame. Its peak RSS is not a camera's: nothing limits the rate but the disk, so the
  writer queue fills as it would in a disk stall (the computed figure is that bound).
- at 30 fps in real time, as a side-by-side MJPEG camera delivers, for BENCH_SECONDS / 3: the CPU
  per frame at a camera's rate (the daemon's idle work included) and the peak RSS a camera's
  passthrough take has.

Whether the daemon passed the frames through is read from the take, not assumed: its attribute
jpeg_origin is "camera" only then; otherwise the row says "pending" with what was measured."""
from benchlib import FRAMES, SECONDS, max_rate_take, realtime_take, write_result


def pending(r):
    if "error" not in r and r["jpeg_origin"] != "camera":
        r["pending"] = ("the replay source did not pass its JPEG through "
                        f"(the take's jpeg_origin is \"{r['jpeg_origin']}\": decoded and encoded again)")
    return r


print(f"== handrecd passthrough, one hand, replay format \"MJPEG\", rectify off: rate \"max\", {4 * FRAMES} frames")
write_result("passthrough", **pending(max_rate_take(rectify=False, fmt="MJPEG", frames=4 * FRAMES)))
seconds = max(3.0, round(SECONDS / 3))
print(f"== handrecd passthrough, one hand, replay format \"MJPEG\", rectify off: 30 fps real time, {seconds:.0f} s")
write_result("passthrough-realtime", **pending(realtime_take(seconds, rectify=False)))
