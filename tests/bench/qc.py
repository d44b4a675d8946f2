#!/usr/bin/python3
"""make bench, row 11: what quality at the rig (lib/qc.h) costs a frame, on both paths, against
issue 20's budget: at most 3 % of a rectified frame's CPU where there are pixels, at most 0.1 ms
a frame where the camera's JPEG is stored as it came. build/bench-qc measures the daemon's own
functions on the bench's frames, one thread: CPU time over BENCH_FRAMES frames, and instructions
under callgrind (figures the machine's load does not move), compared with row 7's instructions of
a rectified frame (decode, rectify, encode) when it ran."""
import json
import os
import re
import subprocess
import tempfile

from benchlib import BUILD, FRAMES, QUICK, RESULTS, inputs, write_result

SAMPLE_EVERY = 120  # the shipped qc.sample_every (lib/qc.h)
m = inputs()
prog = os.path.join(BUILD, "bench-qc")
frames = max(FRAMES, 30)


def instructions(loop):
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        n = 30 if QUICK else 150
        p = subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--toggle-collect={loop}*",
                            f"--callgrind-out-file={os.path.join(tmp, 'out')}", prog, str(n), str(SAMPLE_EVERY),
                            *m["frames"]], capture_output=True, text=True)
    got = re.search(r"Collected : (\d+)", p.stderr)
    return int(got.group(1)) / n if p.returncode == 0 and got else None


print(f"== quality at the rig: its cost a frame ({frames} frames, sample_every {SAMPLE_EVERY})")
p = subprocess.run([prog, str(frames), str(SAMPLE_EVERY), *m["frames"]], capture_output=True, text=True)
if p.returncode != 0:
    write_result("qc", error=f"bench-qc exited {p.returncode}: {p.stderr[-400:]}")
    raise SystemExit(1)
out = json.loads(p.stdout)
ir_planes, ir_jpeg = instructions("qc_planes_frames"), instructions("qc_jpeg_frames")
rect_ir = None
try:
    with open(os.path.join(RESULTS, "callgrind.json")) as f:
        rect_ir = json.load(f).get("instructions_per_frame")
except (OSError, ValueError):
    pass
share = round(100 * ir_planes / rect_ir, 2) if ir_planes and rect_ir else None
write_result("qc", frames=frames, sample_every=SAMPLE_EVERY, planes_us_per_frame=out["planes_us_per_frame"],
             jpeg_us_per_frame=out["jpeg_us_per_frame"], planes_instructions_per_frame=ir_planes and round(ir_planes),
             jpeg_instructions_per_frame=ir_jpeg and round(ir_jpeg), rectified_instructions_per_frame=rect_ir,
             planes_share_of_rectified_pct=share)
print(f"  with pixels (every frame):       {out['planes_us_per_frame']:.1f} µs a frame, "
      f"{ir_planes and round(ir_planes)} instructions" + (f" = {share} % of a rectified frame's" if share else ""))
print(f"  as it came (1/8 decode 1 in {SAMPLE_EVERY}): {out['jpeg_us_per_frame']:.1f} µs a frame, "
      f"{ir_jpeg and round(ir_jpeg)} instructions")
