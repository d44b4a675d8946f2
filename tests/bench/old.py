#!/usr/bin/python3
"""make bench, row 5: the old Python collector's design (old_collector.py, in a process of its own)
on the same BENCH_FRAMES frames with the same calibration and quality: CPU ms per frame of that
process and its peak RSS. Its file is written under the build tree and removed."""
import json
import os
import subprocess
import sys
import tempfile

from benchlib import FRAMES, QUALITY, WORK, inputs, write_result

m = inputs()
print(f"== old collector's design: thread per stage, cv2 + h5py, q{QUALITY}, {FRAMES} frames")
os.makedirs(WORK, exist_ok=True)
with tempfile.TemporaryDirectory(prefix="old-", dir=WORK) as tmp:
    p = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "old_collector.py"),
                        "--calibration", m["calibration"], "--quality", str(QUALITY), "--frames", str(FRAMES),
                        "--out", os.path.join(tmp, "take.h5"), *m["frames"]], capture_output=True, text=True)
if p.returncode != 0:
    write_result("old", error=f"old_collector.py exited {p.returncode}: {p.stderr.strip()[-600:]}")
else:
    write_result("old", **json.loads(p.stdout))
