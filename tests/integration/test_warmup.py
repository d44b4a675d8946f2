"""A take's camera warm-up: StopRecording during it returns at once, with a complete file."""
import time

import h5py

from conftest import make_config, wait_state
from takecheck import text

WARMUP = 60.0  # the longest camera.warmup there is


def test_stop_during_long_warmup_returns_quickly(daemon_factory, ctl, outdir):
    daemon_factory(make_config(outdir, hands=("right",), warmup=WARMUP))
    t0 = time.monotonic()  # the warm-up begins after this
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_state(ctl, "right", "warming")
    t1 = time.monotonic()
    p = ctl("stop", "--hand", "right", timeout=2 * WARMUP)
    waited = time.monotonic() - t1
    print(f"StopRecording during a {WARMUP:.0f} s warm-up returned after {waited:.3f} s")
    # not a speed limit: the stop returned before the warm-up could have ended by itself (it used to
    # wait all of it)
    assert time.monotonic() - t0 < WARMUP, waited
    assert p.stdout.splitlines()[0] == path
    assert "stopped (requested)" in p.stdout
    with h5py.File(path, "r") as f:
        assert text(f.attrs["status"]) == "complete"
        assert text(f.attrs["stop_reason"]) == "requested"
        assert len(f["stereo/size"]) == 0
