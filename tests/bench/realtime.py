#!/usr/bin/python3
"""make bench, row 6: both hands recording at once at 30 fps in real time, rectified, the replay
source looping over the bench's frames at its configured rate ("realtime"), for BENCH_SECONDS
(default 60). Frames written and dropped per hand (the takes' attributes), the daemon's peak RSS
(VmHWM) and its RSS sampled every second.

BENCH_SOAK=600: the same run as a soak of that many seconds, reporting RSS at minute 1 and at the
end and the growth between them (memory must not grow with the length of a take).
The takes are written under the build tree (about 25 MB a second for both hands) and removed."""
import os
import shutil
import time

from benchlib import SECONDS, SOAK, WORK, Run, check_config, cpu_seconds, daemon_config, hand_config, inputs, \
    proc_status_kb, replay_folder, take_attrs, write_result

HANDS = ("right", "left")
seconds = SOAK or SECONDS
m = inputs()
os.makedirs(WORK, exist_ok=True)
need = 2 * 30 * seconds * m["jpeg_kb"] * 1e3 * 1.5
free = shutil.disk_usage(WORK).free
print(f"== both hands, 30 fps realtime, rectified, {seconds:.0f} s{' (soak)' if SOAK else ''}")
if free < need:
    write_result("realtime", error=f"{free / 1e9:.1f} GB free under {WORK}, the takes need about {need / 1e9:.1f} GB")
    raise SystemExit(0)


def config(tmp, out):
    folder = replay_folder(tmp, m["frames"])
    return daemon_config(out, [hand_config(h, folder, "realtime", True, m["calibration"], True, "MJPEG") for h in HANDS])


with Run(config) as run:
    ok, budget_mb, said = check_config(run.daemon.config)
    if not ok:
        write_result("realtime", error=f"handrecd --check-config refused the configuration: {said}")
        raise SystemExit(0)
    run.start()
    cpu0 = cpu_seconds(run.pid)
    paths = [run.ctl("start", "--hand", h, "--duration", str(seconds)).strip() for h in HANDS]
    t0 = time.monotonic()
    samples = []  # (seconds into the takes, VmRSS kB)
    while time.monotonic() - t0 < seconds - 0.5:
        time.sleep(1)
        samples.append((time.monotonic() - t0, proc_status_kb(run.pid, "VmRSS")))
    run.wait_idle(HANDS, timeout=60)
    cpu1 = cpu_seconds(run.pid)
    hwm = proc_status_kb(run.pid, "VmHWM")
    loadavg = [round(x, 2) for x in os.getloadavg()]  # drops on a shared machine: was it busy?
    attrs = [take_attrs(p) for p in paths]

frames = sum(int(a.get("frames", 0)) for a in attrs)
r = dict(seconds=seconds, soak=bool(SOAK), budget_mb=budget_mb, peak_rss_kb=hwm, loadavg=loadavg,
         frames=frames, frames_captured=sum(int(a.get("frames_captured", 0)) for a in attrs),
         frames_dropped=sum(int(a.get("frames_dropped", 0)) for a in attrs),
         stop_reasons=[a.get("stop_reason") for a in attrs],
         dropped_by_cause={k[len("dropped_"):]: sum(int(a.get(k, 0)) for a in attrs)
                           for k in sorted(set().union(*attrs)) if k.startswith("dropped_")},
         cpu_ms_per_frame=round((cpu1 - cpu0) * 1000 / max(frames, 1), 3),
         rss_first_kb=samples[0][1], rss_end_kb=samples[-1][1],
         rss_max_kb=max(kb for _, kb in samples))
if seconds >= 120:
    minute1 = next(kb for t, kb in samples if t >= 60)
    r.update(rss_minute1_kb=minute1, rss_growth_kb=samples[-1][1] - minute1)
write_result("realtime", **r)
