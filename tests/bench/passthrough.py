#!/usr/bin/python3
"""make bench, row 3: passthrough. One hand, the replay source at rate "max" as in row 2, with
camera.format = "MJPEG" and rectify off (no calibration): the side-by-side JPEGs should be stored
as they came, neither decoded nor encoded again. CPU ms per frame, peak RSS and the computed
memory, as row 2, with the shipped number of workers, over 4 x BENCH_FRAMES frames: the CPU time
/proc counts in clock ticks (1/100 s) has to add up to many of them when a frame costs a fraction
of a millisecond.

Whether the daemon passed the frames through is read from the take, not assumed: its attribute
jpeg_origin is "camera" only then. Until the replay source can hand its JPEG over (being added),
the take is decoded and encoded again, and this row says "pending" with what was measured."""
from benchlib import FRAMES, max_rate_take, write_result

print(f"== handrecd passthrough, one hand, replay at rate \"max\", format \"MJPEG\", rectify off, {4 * FRAMES} frames")
r = max_rate_take(rectify=False, fmt="MJPEG", frames=4 * FRAMES)
if "error" not in r and r["jpeg_origin"] != "camera":
    r["pending"] = ("the replay source does not pass its JPEG through yet "
                    f"(the take's jpeg_origin is \"{r['jpeg_origin']}\": decoded and encoded again)")
write_result("passthrough", **r)
