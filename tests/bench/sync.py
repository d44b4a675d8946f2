#!/usr/bin/python3
"""make bench, part 3: the cost of durability. The same take three times, one hand, synthetic
camera: save.sync_interval = 60 (in effect no sync until the take ends: the baseline), 1 (the
default) and 0 (after every batch). Prints the syncs, the time spent in fdatasync per frame, the
daemon's CPU per frame and the drops. BENCH_SYNC_SECONDS (default 20), BENCH_WIDTH/HEIGHT.
The output folder is under the build tree (a real disk), not /tmp (often a tmpfs, where a sync
costs nothing)."""
import os
import subprocess
import sys
import tempfile
import time

import h5py

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import conftest  # noqa: E402

seconds = float(os.environ.get("BENCH_SYNC_SECONDS", 20))
width, height = int(os.environ.get("BENCH_WIDTH", 1280)), int(os.environ.get("BENCH_HEIGHT", 720))
hz = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hz


def take(interval):
    os.makedirs(conftest.BUILD, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="handrec-bench-sync-", dir=conftest.BUILD) as tmp:
        bus = conftest.Bus(tmp)
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        text = conftest.make_config(out, hands=("right",), width=width, height=height, fps=30.0, warmup=0.5)
        text = text.replace("min_free_mb = 1;", f"min_free_mb = 1;\n    sync_interval = {interval};")
        d = conftest.Daemon(bus, tmp, text)
        d.start()
        run = lambda *a: subprocess.run([conftest.HANDRECCTL, "--user", *a], env=bus.env, capture_output=True,
                                        text=True, check=True).stdout
        cpu0 = cpu_seconds(d.proc.pid)
        path = run("start", "--hand", "right", "--duration", str(seconds)).strip()
        while "idle" not in run("status", "--hand", "right"):
            time.sleep(0.2)
        cpu1 = cpu_seconds(d.proc.pid)
        with h5py.File(path, "r") as f:
            a = dict(f.attrs)
        d.stop()
        bus.stop()
    frames = int(a["frames"])
    return frames, int(a["frames_dropped"]), int(a["syncs"]), float(a["sync_seconds"]), (cpu1 - cpu0) / max(frames, 1)


print(f"durability: one hand, 2x{width}x{height} at 30 fps, {seconds:.0f} s takes, output under {conftest.BUILD}")
print(f"  {'sync_interval':>14} {'frames':>7} {'dropped':>7} {'syncs':>6} {'fdatasync ms/frame':>19} "
      f"{'fdatasync ms/sync':>18} {'daemon CPU ms/frame':>20}")
for interval, label in ((60, "60 (baseline)"), (1.0, "1 (default)"), (0, "0 (every batch)")):
    frames, dropped, syncs, sync_s, cpu = take(interval)
    print(f"  {label:>14} {frames:7d} {dropped:7d} {syncs:6d} {sync_s * 1000 / max(frames, 1):19.3f} "
          f"{sync_s * 1000 / max(syncs, 1):18.2f} {cpu * 1000:20.2f}")
