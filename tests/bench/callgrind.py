#!/usr/bin/python3
"""make bench, row 7: instructions per frame of handrecd's rectified path, a figure that does not
move with the machine's load. build/bench-frame decodes, rectifies and encodes
BENCH_CALLGRIND_FRAMES of the bench's frames through the daemon's own modules (convert.c,
rectify.c, encoder.c), one thread, under valgrind --tool=callgrind; only its bench_frames()
function is collected (--collect-atstart=no --toggle-collect), so loading the calibration and
building the maps are left out. Instructions (callgrind's "Collected" Ir) / frames."""
import json
import os
import re
import subprocess
import tempfile

from benchlib import BUILD, CALLGRIND_FRAMES, EYE_H, EYE_W, QUALITY, inputs, write_result

m = inputs()
print(f"== instructions per frame, rectified path (decode, rectify, encode), callgrind, {CALLGRIND_FRAMES} frames")
with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
    p = subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=bench_frames*",
                        f"--callgrind-out-file={os.path.join(tmp, 'out')}",
                        os.path.join(BUILD, "bench-frame"), str(EYE_W), str(EYE_H), str(QUALITY),
                        str(CALLGRIND_FRAMES), m["calibration"], *m["frames"]], capture_output=True, text=True)
collected = re.search(r"Collected : (\d+)", p.stderr)
if p.returncode != 0 or not collected or int(collected.group(1)) == 0:
    write_result("callgrind", error=f"valgrind exited {p.returncode}, collected nothing: {p.stderr[-600:]}")
else:
    out = json.loads(p.stdout)
    ir = int(collected.group(1))
    write_result("callgrind", frames=out["frames"], instructions=ir,
                 instructions_per_frame=round(ir / out["frames"]), out_jpeg_kb=out["out_jpeg_kb"],
                 valgrind=subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip())
