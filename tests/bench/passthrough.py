#!/usr/bin/python3
"""make bench, row 3: passthrough. One hand, the replay source at rate "max" with camera.format =
"MJPEG" and rectify off: the side-by-side JPEGs should be stored as they came, neither decoded nor
encoded again. CPU ms per frame, peak RSS and the computed memory, as row 2.

Whether the daemon passed the frames through is read from the take, not assumed: its attribute
jpeg_origin is "camera" only then. Until the replay source can hand its JPEG over (being added),
the take is decoded and encoded again, and this row says "pending" with what was measured."""
from benchlib import FRAMES, max_rate_take, write_result

print(f"== handrecd passthrough, one hand, replay at rate \"max\", format \"MJPEG\", rectify off, {FRAMES} frames")
r = max_rate_take(rectify=False, fmt="MJPEG")
if "error" not in r and r["jpeg_origin"] != "camera":
    r["pending"] = ("the replay source does not pass its JPEG through yet "
                    f"(the take's jpeg_origin is \"{r['jpeg_origin']}\": decoded and encoded again)")
write_result("passthrough", **r)
