"""A take's camera warm-up: StopRecording during it returns at once, with a complete file."""
import time

import h5py

from conftest import make_config
from takecheck import text


def test_stop_during_long_warmup_returns_quickly(daemon_factory, ctl, outdir):
    daemon_factory(make_config(outdir, hands=("right",), warmup=20.0))
    path = ctl("start", "--hand", "right").stdout.strip()
    time.sleep(0.3)
    t0 = time.monotonic()
    p = ctl("stop", "--hand", "right", timeout=30)
    waited = time.monotonic() - t0
    print(f"StopRecording during a 20 s warm-up returned after {waited:.3f} s")
    # not a speed limit: the warm-up it must cut short is 20 s, and it used to wait all of it
    assert waited < 10, waited
    assert p.stdout.splitlines()[0] == path
    assert "stopped (requested)" in p.stdout
    with h5py.File(path, "r") as f:
        assert text(f.attrs["status"]) == "complete"
        assert text(f.attrs["stop_reason"]) == "requested"
        assert len(f["stereo/size"]) == 0
