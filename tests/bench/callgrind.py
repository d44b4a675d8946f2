#!/usr/bin/python3
"""make bench, row 7: instructions per frame, figures the machine's load does not move.
build/bench-frame decodes, rectifies and encodes BENCH_CALLGRIND_FRAMES of the bench's frames
through the daemon's own modules (convert.c, rectify.c, encoder.c), one thread; build/bench-floor
decodes and encodes the same frames with TurboJPEG alone (row 1's floor). Each runs under
valgrind --tool=callgrind collecting only its frame loop (--collect-atstart=no
--toggle-collect=bench_frames* / floor_frames*: gcc may rename a static function it specialises),
so loading the calibration and building the maps are left out. Instructions (callgrind's
"Collected" Ir) / frames, and the ratio of the two."""
import json
import os
import re
import subprocess
import tempfile

from benchlib import BUILD, CALLGRIND_FRAMES, EYE_H, EYE_W, QUALITY, inputs, write_result

m = inputs()
n = CALLGRIND_FRAMES


def count(loop, argv):
    """(instructions, the program's JSON) or (None, why)."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        p = subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={loop}*",
                            f"--callgrind-out-file={os.path.join(tmp, 'out')}", *argv], capture_output=True, text=True)
    collected = re.search(r"Collected : (\d+)", p.stderr)
    if p.returncode != 0 or not collected or int(collected.group(1)) == 0:
        return None, f"valgrind {os.path.basename(argv[0])} exited {p.returncode}, collected nothing: {p.stderr[-600:]}"
    return int(collected.group(1)), json.loads(p.stdout)


print(f"== instructions per frame (callgrind, {n} frames): rectified path (decode, rectify, encode) and the floor")
ir, out = count("bench_frames", [os.path.join(BUILD, "bench-frame"), str(EYE_W), str(EYE_H), str(QUALITY), str(n),
                                 m["calibration"], *m["frames"]])
floor_ir, floor_out = count("floor_frames", [os.path.join(BUILD, "bench-floor"), str(QUALITY), str(n), *m["frames"]])
if ir is None or floor_ir is None:
    write_result("callgrind", error=out if ir is None else floor_out)
else:
    write_result("callgrind", frames=out["frames"], instructions=ir, instructions_per_frame=round(ir / out["frames"]),
                 floor_instructions_per_frame=round(floor_ir / floor_out["frames"]),
                 ratio_to_floor=round(ir / floor_ir, 3), out_jpeg_kb=out["out_jpeg_kb"],
                 floor_out_jpeg_kb=floor_out["out_jpeg_kb"],
                 valgrind=subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip())
