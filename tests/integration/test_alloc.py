"""The hot path allocates nothing: the same take, short and long, under an LD_PRELOAD shim that
counts allocations per thread (tests/alloc/alloc-count.c). A count, not a time."""
import os
import re
import signal

import cv2
import numpy as np
import pytest

from conftest import BUILD, make_config, wait_frames

DATA = "/usr/share/doc/opencv-doc/examples/data"

# an LD_PRELOAD shim or a build of its own: not run again with the ASan daemon (run-all.sh)
pytestmark = pytest.mark.native_daemon

SHIM = os.path.join(BUILD, "alloc-count.so")


def counts_for(daemon_factory, ctl, outdir, tmp, frames, name, config=None):
    """Allocations by thread name over a take stopped once it wrote @frames frames (a few more may
    come before the stop): a count, not a time, since a loaded machine makes the camera skip."""
    out = os.path.join(tmp, f"alloc-{name}.txt")
    config = config or make_config(outdir, hands=("right",), width=320, height=240, fps=30.0, warmup=0.2)
    d = daemon_factory(config, env={"LD_PRELOAD": SHIM, "ALLOC_COUNT_FILE": out})
    ctl("start", "--hand", "right")
    wait_frames(ctl, hands=("right",), n=frames)
    p = ctl("stop", "--hand", "right")
    frames = int(re.search(r"\): (\d+) frames written of ", p.stdout).group(1))
    assert d.stop(signal.SIGTERM) == 0
    counts = {}
    for line in open(out):
        k, v = line.rsplit(" ", 1)
        counts[k] = int(v)
    return counts, frames


def replay_passthrough_config(outdir, tmp):
    """A replay of side-by-side JPEG files as an MJPEG camera, looped at 30 fps: each file read
    into the frame's JPEG buffer and stored as it is (test_passthrough.py)."""
    folder = os.path.join(tmp, "images")
    os.makedirs(folder, exist_ok=True)
    left, right = (cv2.resize(cv2.imread(os.path.join(DATA, n)), (320, 240)) for n in ("aloeL.jpg", "aloeR.jpg"))
    for i in range(5):
        cv2.imwrite(os.path.join(folder, f"frame{i}.jpg"), np.roll(np.hstack([left, right]), 8 * i, axis=1))
    text = make_config(outdir, hands=("right",), width=320, height=240, fps=30.0, warmup=0.2,
                       extra=f'path = "{folder}"; loop = true; format = "MJPEG";')
    return text.replace('source = "synthetic";', 'source = "replay";')


@pytest.mark.parametrize("source", ["synthetic", "replay-passthrough"])
def test_source_thread_allocates_nothing_per_frame(daemon_factory, ctl, outdir, tmp, source):
    config = replay_passthrough_config(outdir, tmp) if source == "replay-passthrough" else None
    short, n1 = counts_for(daemon_factory, ctl, outdir, tmp, 30, "short", config)
    long_, n2 = counts_for(daemon_factory, ctl, outdir, tmp, n1 + 90, "long", config)
    assert n2 - n1 >= 60, (n1, n2)
    per_frame = {k: (long_.get(k, 0) - short.get(k, 0)) / (n2 - n1) for k in sorted(set(short) | set(long_))}
    print("\nallocations per frame, by thread (long take minus short take):")
    for k, v in per_frame.items():
        print(f"  {k:16s} {v:6.2f}")
    # our capture path: not one allocation per frame (the encoders and the writer allocate inside
    # TurboJPEG and HDF5, per image and per batch; the main thread in sd-bus, per message)
    assert long_.get("hr-src-right", 0) == short.get("hr-src-right", 0), per_frame
