#!/usr/bin/python3
"""make bench, row 13 (issue 23): where the resident memory is. One hand rectified, one hand
passed through and both hands rectified, each recording at 30 fps in real time for
BENCH_SECONDS / 4 (at least 8 s) under build/alloc-map.so (LD_PRELOAD: the large allocations and
who made them), and 2 s before the take's end its /proc/PID/smaps broken down by mapping and by
what the pages hold (smaps.py): the program and libraries, the heap, the malloc arenas, the
anonymous maps (the writer queue's ring, the jobs, the decode windows, the maps...), the stacks.
The peak figures of the targets come from rows 2, 3 and 6, without the shim; these runs say what
the memory is. ALLOC_MAP_SO: another build of the shim (to break down another build's daemon:
BUILD=that build's folder)."""
import os
import tempfile
import time

import smaps
from benchlib import BUILD, SECONDS, Run, daemon_config, hand_config, inputs, proc_status_kb, replay_folder, \
    take_attrs, write_result

SHIM = os.environ.get("ALLOC_MAP_SO") or os.path.join(BUILD, "alloc-map.so")
seconds = max(8.0, round(SECONDS / 4))
m = inputs()
CASES = (("one hand, rectified", ("right",), True), ("one hand, MJPEG passthrough", ("right",), False),
         ("both hands, rectified", ("right", "left"), True))


def breakdown(hands, rectify):
    def config(tmp, out):
        folder = replay_folder(tmp, m["frames"])
        return daemon_config(out, [hand_config(h, folder, "realtime", True, m["calibration"] if rectify else None,
                                               rectify, "MJPEG") for h in hands])

    with tempfile.TemporaryDirectory(prefix="alloc-map-") as tmp, Run(config) as run:
        log = os.path.join(tmp, "allocations")
        run.daemon.extra_env = {"LD_PRELOAD": SHIM, "ALLOC_MAP_FILE": log}
        run.start()
        paths = [run.ctl("start", "--hand", h, "--duration", str(seconds)).strip() for h in hands]
        time.sleep(seconds - 2)
        b = smaps.breakdown(run.pid, log)
        run.wait_idle(hands, timeout=60)
        b["hwm_kb"] = proc_status_kb(run.pid, "VmHWM")
        attrs = [take_attrs(p) for p in paths]
    b["frames"] = sum(int(a.get("frames", 0)) for a in attrs)
    b["frames_dropped"] = sum(int(a.get("frames_dropped", 0)) for a in attrs)
    return b


print(f"== where the memory is (issue 23): smaps by mapping, {seconds:.0f} s takes at 30 fps under alloc-map.so")
if not os.path.exists(SHIM):
    write_result("memory", error=f"{SHIM} is missing (make {os.path.relpath(SHIM)})")
    raise SystemExit(0)
out = {}
for name, hands, rectify in CASES:
    b = breakdown(hands, rectify)
    smaps.print_breakdown(b, f"{name} ({b['frames']} frames, {b['frames_dropped']} dropped)")
    out[name] = b
write_result("memory", seconds=seconds, cases=out)
