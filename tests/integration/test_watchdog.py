"""The watchdog is fed only while the threads make progress: a writer stuck in a disk write
(tests/faults/fault-io.c holding every write of the take file) starves it, so that systemd
restarts the daemon; once the write goes through, feeding resumes. WATCHDOG_USEC as systemd sets
it with WatchdogSec= (2 s here: stuck means busy with one piece of work for over 1 s)."""
import os
import time

from conftest import make_config, notify_barrier, wait_frames, wait_until
from test_stall import fault_shim  # noqa: F401  (the fixture that builds the shim)
import pytest

# an LD_PRELOAD shim or a build of its own: not run again with the ASan daemon (run-all.sh)
pytestmark = pytest.mark.native_daemon

STARVED = "right: the writer thread (in a disk write) has made no progress"


def pings(daemon, since=0):
    return sum(1 for n in daemon.read_notifications()[since:] if "WATCHDOG=1" in n.split("\n"))


def test_watchdog_starves_while_the_writer_is_stuck(daemon_factory, ctl, outdir, tmp, fault_shim):
    hold = os.path.join(tmp, "hold-writes")
    daemon = daemon_factory(make_config(outdir, hands=("right",)),
                            env={"LD_PRELOAD": fault_shim, "HANDREC_FAULT": f"hold={hold}", "WATCHDOG_USEC": "2000000"})
    wait_until(lambda: pings(daemon) >= 2, what="an idle daemon to feed the watchdog twice")
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=10)  # the writer writes
    said = daemon.log_text().count(STARVED)
    open(hold, "w").close()  # from now on the writer's next write does not return
    # stuck for over 1 s (half of WATCHDOG_USEC): it says so once, and feeds no more
    wait_until(lambda: daemon.log_text().count(STARVED) > said, what="the daemon to see its writer stuck")
    # every ping sent before it said so is read then (the notify socket is first in, first out)
    starved = notify_barrier(daemon)
    time.sleep(3)  # a window for pings that must not come: the writer stays stuck all along
    assert pings(daemon, starved) == 0, "fed while the writer was stuck"
    assert STARVED in daemon.log_text(), daemon.log_text()[-600:]
    os.unlink(hold)  # the disk answers again
    wait_until(lambda: pings(daemon, starved) > 0, what="the watchdog to be fed again after the writer recovered")
    ctl("stop", "--hand", "right")
    assert os.path.exists(path)
