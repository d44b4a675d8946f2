"""Bad input stays harmless, and a daemon that loses its bus does not linger uncontrollable."""
import os
import signal
import subprocess
import time

from conftest import HANDRECD, make_config
from takecheck import check_take


def test_negative_quality_is_refused_not_ignored(daemon, ctl, outdir):
    p = ctl("start", "--hand", "right", "--quality", "-5", check=False)
    assert p.returncode == 1
    assert "JPEG quality -5 is out of range" in p.stderr
    assert not os.path.exists(os.path.join(outdir, "right")) or os.listdir(os.path.join(outdir, "right")) == []


def test_no_such_hand_does_not_echo_huge_input(daemon, busctl):
    name = "x" * 100_000
    p = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "StartRecording", "sa{sv}", name, "0",
               check=False)
    assert p.returncode != 0
    assert "There is no hand" in p.stderr and "configured hands are: " in p.stderr
    assert len(p.stderr) < 400, len(p.stderr)


def test_directory_as_config_file_says_so(tmp):
    p = subprocess.run([HANDRECD, "--check-config", "--config", tmp], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "it is a directory; give the configuration file itself" in p.stderr + p.stdout


def test_bus_lost_mid_take_finishes_file_and_exits_nonzero(daemon_factory, bus, ctl, outdir):
    daemon = daemon_factory(make_config(outdir))
    path = ctl("start", "--hand", "right").stdout.strip()
    time.sleep(1.0)
    bus.proc.send_signal(signal.SIGKILL)
    bus.proc.wait(timeout=10)
    rc = daemon.proc.wait(timeout=30)
    assert rc != 0, daemon.log_text()
    assert "Lost the connection to the bus" in daemon.log_text()
    attrs, frames, _ = check_take(path, reason="shutdown")
    assert frames > 10
