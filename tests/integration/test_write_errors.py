"""Every write error ends in a readable file (tests/faults/fault-io.c fails the take file's writes):
the take ends with the right reason, the whole error reaches LastError, the RecordingStopped
summary and the log on one line, and a file that could not be finished is recovered at the next
start."""
import subprocess

import pytest

from conftest import make_config
from takecheck import check_take, text
from test_stall import fault_shim  # noqa: F401  (the fixture that builds the shim)

# an LD_PRELOAD shim or a build of its own: not run again with the ASan daemon (run-all.sh)
pytestmark = pytest.mark.native_daemon


def take_until_error(daemon_factory, ctl, busctl, outdir, shim, fault):
    daemon = daemon_factory(make_config(outdir, hands=("right",), width=640, height=480, fps=30.0),
                            env={"LD_PRELOAD": shim, "HANDREC_FAULT": fault})
    p = ctl("start", "--hand", "right", "--duration", "60", "--follow", timeout=90, check=False)
    lines = p.stdout.splitlines()
    # a take ended by a fault: said, and exit status 1
    assert p.returncode == 1 and "take ended for a fault (" in p.stderr, (p.stdout, p.stderr)
    last_error = busctl("get-property", "org.handrec1", "/org/handrec1/hand/right", "org.handrec1.Hand",
                        "LastError").stdout.strip()
    return daemon, lines, last_error


def test_transient_enospc_ends_take_as_disk_full_with_complete_file(daemon_factory, ctl, busctl, outdir, fault_shim):
    daemon, lines, last_error = take_until_error(daemon_factory, ctl, busctl, outdir, fault_shim,
                                                 "enospc@8000000,times=1")
    path = lines[0]
    assert lines[-2].startswith("[RIGHT] stopped (disk-full): "), lines[-3:]
    assert lines[-1].startswith("[RIGHT] last error: Cannot ") and path + ": No space left on device" in lines[-1]
    assert "\n" not in last_error and "No space left on device" in last_error
    assert "fault-io: " in daemon.log_text()  # the fault did happen
    attrs, n, _ = check_take(path, reason="disk-full")
    assert n >= 10
    assert "No space left on device" in text(attrs["last_error"])
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    assert int(attrs["dropped_write_failed"]) > 0


def test_persistent_eio_leaves_a_file_recovered_at_next_start(daemon_factory, ctl, busctl, outdir, fault_shim):
    daemon, lines, last_error = take_until_error(daemon_factory, ctl, busctl, outdir, fault_shim, "eio@8000000")
    path = lines[0]
    assert lines[-2].startswith("[RIGHT] stopped (io-error): "), lines[-3:]
    assert "Input/output error" in last_error
    # finishing needs writes too: it failed, and says what happens to the file
    assert "recovered when handrecd starts again" in last_error
    log = daemon.log_text()
    assert any("Input/output error" in l and "recovered when handrecd starts again" in l for l in log.splitlines())
    daemon.stop()
    daemon.extra_env = {}  # the disk is healthy again
    daemon.start()
    attrs, n, _ = check_take(path, status="recovered", reason="crash")
    assert n >= 10
    assert f"Recovered {path} after a crash" in daemon.log_text()


def test_failed_create_removes_the_empty_file_and_says_disk_full(daemon_factory, ctl, busctl, outdir, fault_shim):
    daemon, lines, last_error = take_until_error(daemon_factory, ctl, busctl, outdir, fault_shim, "enospc@0")
    path = lines[0]
    assert lines[-2].startswith("[RIGHT] stopped (disk-full): "), lines[-3:]
    assert "No space left on device" in last_error and "the empty file was removed" in last_error
    import os
    assert not os.path.exists(path)
