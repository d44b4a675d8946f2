"""SIGHUP (systemctl reload): the configuration is read again when no take runs; a take running
is not disturbed; a broken file is reported and the running configuration kept."""
import signal
import time

from conftest import hand_status, make_config, notify_barrier, wait_frames
from takecheck import check_take


def props(busctl, *names):
    out = busctl("get-property", "org.handrec1", "/org/handrec1/hand/right", "org.handrec1.Hand", *names).stdout
    return out.split()


def wait_log(daemon, text, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in daemon.log_text():
            return True
        time.sleep(0.1)
    return False


def test_reload_when_idle_applies_the_new_file(daemon_factory, ctl, busctl, outdir):
    daemon = daemon_factory(make_config(outdir, hands=("right",), fps=30.0))
    assert ctl("list").stdout.split() == ["right"]
    with open(daemon.config, "w") as f:
        f.write(make_config(outdir, hands=("right", "left"), fps=15.0))
    daemon.proc.send_signal(signal.SIGHUP)
    assert wait_log(daemon, "read again: 2 hands"), daemon.log_text()
    assert ctl("list").stdout.split() == ["left", "right"]
    notify_barrier(daemon)  # RELOADING=1 was sent before the line above: read by now
    assert any("RELOADING=1" in n for n in daemon.read_notifications())
    path = ctl("start", "--hand", "left", "--duration", "1", "--follow").stdout.splitlines()[0]
    attrs, n, _ = check_take(path, reason="duration")
    assert float(attrs["fps_nominal"]) == 15.0


def test_reload_during_a_take_disturbs_nothing(daemon_factory, ctl, outdir):
    daemon = daemon_factory(make_config(outdir, hands=("right",)))
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=10)
    daemon.proc.send_signal(signal.SIGHUP)
    assert wait_log(daemon, f"Reload asked while hand right records {path}")
    written = hand_status(ctl, "right")["frames_written"]
    wait_frames(ctl, hands=("right",), n=max(21, written + 10))  # the take goes on after it
    ctl("stop", "--hand", "right")
    attrs, n, _ = check_take(path, reason="requested")
    assert n > 20 and int(attrs["frames_dropped"]) == 0


def test_reload_of_a_broken_file_keeps_the_running_configuration(daemon_factory, ctl, outdir):
    daemon = daemon_factory(make_config(outdir, hands=("right",)))
    with open(daemon.config, "a") as f:
        f.write("workers = 99;\n")
    daemon.proc.send_signal(signal.SIGHUP)
    assert wait_log(daemon, "has errors (above); keeping the configuration handrecd runs with.")
    assert "workers: 99 is out of range" in daemon.log_text()
    path = ctl("start", "--hand", "right", "--duration", "0.5", "--follow").stdout.splitlines()[0]
    check_take(path, reason="duration")
