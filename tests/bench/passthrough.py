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
import time

from benchlib import FRAMES, SECONDS, Run, check_config, cpu_seconds, daemon_config, hand_config, inputs, \
    max_rate_take, proc_status_kb, replay_folder, take_attrs, write_result


def realtime_take(seconds):
    m = inputs()

    def config(tmp, out):
        return daemon_config(out, [hand_config("right", replay_folder(tmp, m["frames"]), "realtime", True, None,
                                               False, "MJPEG")])

    with Run(config) as run:
        ok, budget_mb, said = check_config(run.daemon.config)
        if not ok:
            return dict(error=f"handrecd --check-config refused the configuration: {said}")
        run.start()
        cpu0 = cpu_seconds(run.pid)
        path = run.ctl("start", "--hand", "right", "--duration", str(seconds)).strip()
        time.sleep(seconds)
        run.wait_idle(("right",), timeout=60)
        cpu1 = cpu_seconds(run.pid)
        hwm = proc_status_kb(run.pid, "VmHWM")
        attrs = take_attrs(path)
    frames = int(attrs.get("frames", 0))
    return dict(frames=frames, frames_dropped=int(attrs.get("frames_dropped", 0)), seconds=seconds,
                jpeg_origin=attrs.get("jpeg_origin"), cpu_ms_per_frame=round((cpu1 - cpu0) * 1000 / max(frames, 1), 3),
                peak_rss_kb=hwm, budget_mb=budget_mb)


def pending(r):
    if "error" not in r and r["jpeg_origin"] != "camera":
        r["pending"] = ("the replay source did not pass its JPEG through "
                        f"(the take's jpeg_origin is \"{r['jpeg_origin']}\": decoded and encoded again)")
    return r


print(f"== handrecd passthrough, one hand, replay format \"MJPEG\", rectify off: rate \"max\", {4 * FRAMES} frames")
write_result("passthrough", **pending(max_rate_take(rectify=False, fmt="MJPEG", frames=4 * FRAMES)))
seconds = max(3.0, round(SECONDS / 3))
print(f"== handrecd passthrough, one hand, replay format \"MJPEG\", rectify off: 30 fps real time, {seconds:.0f} s")
write_result("passthrough-realtime", **pending(realtime_take(seconds)))
