"""A disk that stalls (tests/faults/fault-io.c, LD_PRELOAD): the writer queue exists to absorb slow
storage. With the default queue (queue.seconds = 3) at the default camera size (2×1280×720, 30 fps),
a writer stalled for 2 s loses no frame; a 6 s stall drops the newest frames, counted as queue-full
only, and the take goes on to a complete file. Counts, not times: the shim says when its stall
began (CLOCK_MONOTONIC), and the file's own timestamps say which frames came after."""
import os
import re
import subprocess
import time

import pytest

from conftest import BUILD, ROOT, make_config
from takecheck import check_take

import handrec

# an LD_PRELOAD shim or a build of its own: not run again with the ASan daemon (run-all.sh)
pytestmark = pytest.mark.native_daemon

SHIM_SOURCE = os.path.join(ROOT, "tests", "faults", "fault-io.c")
STALL_RE = re.compile(r"fault-io: stall 1 begins \((\d+\.\d\d) s\) at a \w+, CLOCK_MONOTONIC (\d+) ns")
FPS = 30.0
BATCH = 10  # queue.batch_size's default


@pytest.fixture(scope="session")
def fault_shim():
    """$(BUILD)/fault-io.so, built here (as the Makefile's rule does) when make has not."""
    so = os.path.join(BUILD, "fault-io.so")
    if not os.path.exists(so) or os.path.getmtime(so) < os.path.getmtime(SHIM_SOURCE):
        os.makedirs(BUILD, exist_ok=True)
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-pthread", "-o", so, SHIM_SOURCE,
                        "-ldl"], check=True)
    return so


def stalled_daemon(daemon_factory, outdir, shim, fault):
    """One hand at the shipped defaults: 2×1280×720 at 30 fps, no queue group, default workers."""
    return daemon_factory(make_config(outdir, hands=("right",), width=1280, height=720, fps=FPS, warmup=0.5),
                          env={"LD_PRELOAD": shim, "HANDREC_FAULT": fault})


def hand_props(busctl, *names):
    out = busctl("get-property", "org.handrec1", "/org/handrec1/hand/right", "org.handrec1.Hand", *names).stdout
    return [line.split(" ", 1)[1].strip('"') for line in out.strip().splitlines()]


def record(ctl, busctl, seconds):
    """A take of @seconds; returns its file and the deepest queue seen while it ran."""
    path = ctl("start", "--hand", "right", "--duration", str(seconds)).stdout.splitlines()[0]
    peak, deadline = 0, time.monotonic() + seconds + 60
    while time.monotonic() < deadline:
        depth, state = hand_props(busctl, "QueueDepth", "State")
        peak = max(peak, int(depth))
        if state == "idle":
            return path, peak
        time.sleep(0.1)
    raise AssertionError(f"the take did not end: {state}")


def stall_start_ns(daemon, seconds):
    log = daemon.log_text()
    m = STALL_RE.search(log)
    assert m, f"the shim never stalled a write:\n{log}"
    assert m.group(1) == f"{seconds:.2f}"
    assert f"fault-io: stall 1 over after {seconds:.2f} s" in log, log
    return int(m.group(2))


def drops(attrs):
    return {k[len("dropped_"):]: int(v) for k, v in attrs.items() if k.startswith("dropped_")}


# What a stalled disk can cost: frames that found the queue full, or that could not be written.
# Frames the camera skipped or the encoders had no room for come from a starved CPU, not from the
# disk: a loaded machine makes them (takecheck accepts a gap only when a counter says why).
DISK_CAUSES = ("queue_full", "write_failed", "encode_error")


def test_two_second_stall_loses_nothing(daemon_factory, ctl, busctl, outdir, fault_shim):
    d = stalled_daemon(daemon_factory, outdir, fault_shim, "stall=2.0@3.0")
    path, peak = record(ctl, busctl, 9)
    stall_start_ns(d, 2.0)
    attrs, n, _ = check_take(path, hand="right", reason="duration")  # frame numbers, every gap counted
    causes = drops(attrs)
    print(f"\n2 s stall: {n} frames written, deepest queue {peak}, drops {causes}")
    assert all(causes[c] == 0 for c in DISK_CAUSES), causes
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    # the writer really was held: more than a second of frames waited in the queue at once
    assert peak >= FPS, peak


def test_long_stall_drops_newest_as_queue_full(daemon_factory, ctl, busctl, outdir, fault_shim):
    d = stalled_daemon(daemon_factory, outdir, fault_shim, "stall=6.0@3.0")
    capacity = int(hand_props(busctl, "QueueCapacity")[0])
    path, peak = record(ctl, busctl, 13)
    start = stall_start_ns(d, 6.0)
    attrs, n, _ = check_take(path, hand="right", reason="duration")  # complete, every gap counted
    causes = drops(attrs)
    assert causes["queue_full"] > 0, causes
    assert causes["write_failed"] == causes["encode_error"] == 0, causes
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    assert peak == capacity, (peak, capacity)

    with handrec.open_take(path) as take:
        ts = take.column("timestamp_ns")
    # What was queued is written and the newest are dropped: of the frames captured while the
    # writer was held, the file has the queue's worth (less the batch being written when the
    # stall began, and what a loaded machine delays), not one more. 5.5 s: a frame captured at the very end may find room again.
    kept = sum(1 for t in ts if start <= t < start + 5_500_000_000)
    after = sum(1 for t in ts if t >= start + 7_000_000_000)
    print(f"\n6 s stall: queue of {capacity} frames; {kept} frames of the stall kept ({kept / FPS:.2f} s at "
          f"{FPS:.0f} fps), drops {causes}; {after} frames written after it")
    assert capacity - 2 * BATCH <= kept <= capacity, (kept, capacity)
    assert after >= FPS, "the take did not go on after the stall"
