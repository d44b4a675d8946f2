"""The watchdog is fed only while the threads make progress: a writer stuck in a disk write
(tests/faults/fault-io.c holding every write of the take file) starves it, so that systemd
restarts the daemon; once the write goes through, feeding resumes. WATCHDOG_USEC as systemd sets
it with WatchdogSec= (2 s here: stuck means busy with one piece of work for over 1 s)."""
import os
import time

from conftest import make_config
from test_stall import fault_shim  # noqa: F401  (the fixture that builds the shim)
import pytest

# an LD_PRELOAD shim or a build of its own: not run again with the ASan daemon (run-all.sh)
pytestmark = pytest.mark.native_daemon


def pings(daemon):
    return sum(1 for n in daemon.read_notifications() if "WATCHDOG=1" in n.split("\n"))


def test_watchdog_starves_while_the_writer_is_stuck(daemon_factory, ctl, outdir, tmp, fault_shim):
    hold = os.path.join(tmp, "hold-writes")
    daemon = daemon_factory(make_config(outdir, hands=("right",)),
                            env={"LD_PRELOAD": fault_shim, "HANDREC_FAULT": f"hold={hold}", "WATCHDOG_USEC": "2000000"})
    time.sleep(2)
    assert pings(daemon) >= 2, "an idle daemon feeds the watchdog"
    path = ctl("start", "--hand", "right").stdout.strip()
    time.sleep(1)
    open(hold, "w").close()  # from now on the writer's next write does not return
    time.sleep(2.5)
    before = pings(daemon)
    time.sleep(3)
    assert pings(daemon) == before, "fed while the writer was stuck"
    assert "right: the writer thread (in a disk write) has made no progress" in daemon.log_text(), daemon.log_text()[-600:]
    os.unlink(hold)  # the disk answers again
    time.sleep(2)
    assert pings(daemon) > before, "not fed again after the writer recovered"
    ctl("stop", "--hand", "right")
    assert os.path.exists(path)
