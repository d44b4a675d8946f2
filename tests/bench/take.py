#!/usr/bin/python3
"""make bench, part 1: one hand recording a long take on the synthetic camera.

Prints RSS at the start and the end of the take and its peak, how long StopRecording took, the
daemon's CPU time per frame, and beside it the baseline from bench-encode (TurboJPEG alone, same
frames, same run). BENCH_SECONDS (default 60), BENCH_WIDTH/HEIGHT (one eye, default 1280x720).
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import conftest  # noqa: E402

seconds = float(os.environ.get("BENCH_SECONDS", 60))
width, height = int(os.environ.get("BENCH_WIDTH", 1280)), int(os.environ.get("BENCH_HEIGHT", 720))
build = conftest.BUILD
hz = os.sysconf("SC_CLK_TCK")


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / hz


with tempfile.TemporaryDirectory(prefix="handrec-bench-") as tmp:
    bus = conftest.Bus(tmp)
    out = os.path.join(tmp, "out")
    os.makedirs(out)
    d = conftest.Daemon(bus, tmp, conftest.make_config(out, hands=("right",), width=width, height=height,
                                                       fps=30.0, warmup=0.5))
    d.start()
    pid = d.proc.pid

    def ctl(*args):
        return subprocess.run([conftest.HANDRECCTL, "--user", *args], env=bus.env, capture_output=True, text=True,
                              check=True).stdout

    rss_idle = proc_status(pid, "VmRSS")
    path = ctl("start", "--hand", "right").strip()
    while "recording" not in ctl("status", "--hand", "right"):
        time.sleep(0.05)
    time.sleep(2)  # the first batches: every buffer has been touched once
    rss_start = proc_status(pid, "VmRSS")
    cpu0 = cpu_seconds(pid)
    samples = []
    t_end = time.monotonic() + seconds - 2
    while time.monotonic() < t_end:
        time.sleep(1)
        samples.append(proc_status(pid, "VmRSS"))
    rss_end = proc_status(pid, "VmRSS")
    cpu1 = cpu_seconds(pid)
    t0 = time.monotonic()
    summary = ctl("stop", "--hand", "right")
    stop_ms = (time.monotonic() - t0) * 1000
    hwm = proc_status(pid, "VmHWM")
    d.stop()
    bus.stop()
    frames_line = summary.splitlines()[1]
    import re
    m = re.search(r"(\d+) frames written of (\d+) captured, (\d+) dropped", frames_line)
    written, captured, dropped = (int(x) for x in m.groups())
    size_mb = os.path.getsize(path) / 1e6
    frames_in_window = (seconds - 2) * 30

base = subprocess.run([os.path.join(build, "bench-encode"), str(width), str(height), "85", "150"],
                      capture_output=True, text=True, check=True).stdout
b = dict(line.split() for line in base.splitlines())
daemon_ms = (cpu1 - cpu0) * 1000 / frames_in_window

print(f"take: one hand, 2x{width}x{height} at 30 fps, JPEG quality 85, {seconds:.0f} s, synthetic camera")
print(f"  frames: {written} written of {captured} captured, {dropped} dropped; file {size_mb:.1f} MB")
print(f"  RSS idle (daemon ready)        {rss_idle / 1024:7.1f} MB")
print(f"  RSS at the start of the take   {rss_start / 1024:7.1f} MB   (2 s in)")
print(f"  RSS at the end of the take     {rss_end / 1024:7.1f} MB   ({seconds:.0f} s in)")
print(f"  RSS min/max during the take    {min(samples) / 1024:7.1f} / {max(samples) / 1024:.1f} MB")
print(f"  peak RSS (VmHWM)               {max(hwm, max(samples)) / 1024:7.1f} MB")
print(f"  StopRecording took             {stop_ms:7.1f} ms  (queue drained, file completed and fsynced)")
print(f"  CPU per frame, whole daemon    {daemon_ms:7.2f} ms  (all threads, /proc/<pid>/stat)")
print(f"  baseline: TurboJPEG encode     {float(b['baseline_encode_ms']):7.2f} ms  (bench-encode, same frames, 1 thread)")
print(f"  baseline: drawing the frame    {float(b['baseline_draw_ms']):7.2f} ms  (synthetic camera's own cost)")
print(f"  daemon / (encode + draw)       {daemon_ms / (float(b['baseline_encode_ms']) + float(b['baseline_draw_ms'])):7.2f}x")
