"""Every bad input gets its named error and a sentence a person can act on; nothing is written or
changed by a refused request; killed and stopped daemons leave readable files; a full disk ends a
take cleanly."""
import glob
import os
import re
import signal
import subprocess

import pytest

from conftest import HANDRECD, make_config, wait_frames
from takecheck import check_take, text


def call(busctl, method, *args):
    # "--": values such as -1 are arguments, not options
    return busctl("call", "--", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", method, *args, check=False)


def files(outdir):
    return sorted(glob.glob(os.path.join(outdir, "*", "*.h5")))


def state(busctl, hand="right"):
    return busctl("get-property", "org.handrec1", f"/org/handrec1/hand/{hand}", "org.handrec1.Hand",
                  "State").stdout.strip()


BAD_STARTS = [
    # (arguments to StartRecording, error name, words of the message)
    (["sa{sv}", "middle", "0"], "org.handrec1.Error.NoSuchHand", "configured hands are: left, right"),
    (["sa{sv}", "right", "1", "label", "s", "../x"], "org.handrec1.Error.InvalidOption", "1 to 64 letters"),
    (["sa{sv}", "right", "1", "label", "s", "a" * 65], "org.handrec1.Error.InvalidOption", "1 to 64 letters"),
    (["sa{sv}", "right", "1", "label", "s", ""], "org.handrec1.Error.InvalidOption", "1 to 64 letters"),
    (["sa{sv}", "right", "1", "jpeg_quality", "i", "101"], "org.handrec1.Error.InvalidOption", "from 60 to 95"),
    (["sa{sv}", "right", "1", "jpeg_quality", "i", "59"], "org.handrec1.Error.InvalidOption", "from 60 to 95"),
    (["sa{sv}", "right", "1", "colour", "s", "red"], "org.handrec1.Error.InvalidOption", "Unknown option"),
    (["sa{sv}", "right", "1", "duration", "s", "ten"], "org.handrec1.Error.InvalidOption", "must be a number"),
    (["sa{sv}", "right", "1", "label", "i", "3"], "org.handrec1.Error.InvalidOption", "must be a string"),
    (["sa{sv}", "right", "1", "duration", "d", "-1"], "org.handrec1.Error.InvalidOption", "out of range"),
    (["sa{sv}", "right", "1", "duration", "d", "nan"], "org.handrec1.Error.InvalidOption", "out of range"),
    (["sa{sv}", "right", "2", "duration", "d", "1", "duration", "d", "2"], "org.handrec1.Error.InvalidOption",
     "given twice"),
    (["sa{sv}", "right", "1", "rectify", "b", "true"], "org.handrec1.Error.InvalidOption", "rectif"),
]


@pytest.mark.parametrize("args,error,words", BAD_STARTS, ids=[e[1].split(".")[-1] + "-" + str(i)
                                                               for i, e in enumerate(BAD_STARTS)])
def test_bad_start_is_refused(daemon, busctl, outdir, args, error, words):
    p = call(busctl, "StartRecording", *args)
    assert p.returncode != 0
    assert words in p.stderr, p.stderr
    # busctl prints only the message; ask python-dbus for the error's name
    import dbus
    conn = dbus.bus.BusConnection(daemon.bus.address)
    mgr = dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), "org.handrec1.Manager")
    opts = {}
    rest = args[3:]
    duplicate = False
    while rest:
        k, t, v = rest[:3]
        rest = rest[3:]
        duplicate = duplicate or k in opts
        opts[k] = {"s": dbus.String, "i": lambda x: dbus.Int32(int(x)), "d": lambda x: dbus.Double(float(x)),
                   "b": lambda x: dbus.Boolean(x == "true")}[t](v)
    if duplicate:
        # a Python dict cannot hold a key twice; gdbus sends the GVariant as written
        g = subprocess.run(["gdbus", "call", "--session", "--dest", "org.handrec1", "--object-path", "/org/handrec1",
                            "--method", "org.handrec1.Manager.StartRecording", args[1],
                            "{'duration': <1.0>, 'duration': <2.0>}"],
                           capture_output=True, text=True, env=daemon.bus.env)
        assert g.returncode != 0
        assert f"GDBus.Error:{error}: " in g.stderr, g.stderr
    else:
        with pytest.raises(dbus.exceptions.DBusException) as e:
            mgr.StartRecording(args[1], dbus.Dictionary(opts, signature="sv"))
        assert e.value.get_dbus_name() == error
    assert files(outdir) == []
    assert state(busctl) == 's "idle"'


def test_start_while_recording_and_stop_while_idle(daemon, ctl, busctl, outdir):
    p = ctl("stop", "--hand", "right", check=False)
    assert p.returncode == 1
    assert "Hand right is not recording; start a take with handrecctl start --hand right." in p.stderr
    path = ctl("start", "--hand", "right").stdout.strip()
    p = ctl("start", "--hand", "right", check=False)
    assert p.returncode == 1
    assert f"Hand right is already recording to {path}; stop it first" in p.stderr
    assert files(outdir) == [path]
    assert state(busctl) in ('s "warming"', 's "recording"')
    p = ctl("start", "--hand", "thumb", check=False)
    assert p.returncode == 1 and 'There is no hand "thumb"' in p.stderr
    p = ctl("start", "--hand", "left", "--quality", "99", check=False)
    assert p.returncode == 1 and "JPEG quality 99 is out of range" in p.stderr
    ctl("stop", "--hand", "right")
    assert files(outdir) == [path]
    check_take(path, reason="requested")


def test_storage_errors(daemon_factory, tmp, busctl, ctl):
    # not enough free space for a take: refused before anything is created
    out = os.path.join(tmp, "big")
    daemon = daemon_factory(make_config(out, min_free_mb=10 ** 8))
    p = ctl("start", "--hand", "right", check=False)
    assert p.returncode == 1
    assert "a take needs the reserve (save.min_free_mb = 100000000 MB) plus room for 3 s of recording" in p.stderr
    assert "Free some space or point save.output_dir elsewhere." in p.stderr
    assert files(out) == []
    daemon.stop()


def test_unwritable_output_dir(daemon_factory, tmp, ctl):
    blocker = os.path.join(tmp, "file-not-dir")
    open(blocker, "w").close()
    daemon_factory(make_config(blocker))
    p = ctl("start", "--hand", "right", check=False)
    assert p.returncode == 1
    # the output folder itself is a file: the message names it and says why
    assert f"Cannot create the output folder {blocker}: Not a directory" in p.stderr


def test_handrecctl_without_daemon(bus, ctl):
    p = ctl("status", check=False)
    assert p.returncode == 1
    assert "handrecd is not running on the session bus; start it with handrecd --user." in p.stderr


BAD_CONFIGS = [
    ('save = { output_dir = "/tmp"; jpeg_quality = 101; };\nright_hand = { camera = { source = "synthetic"; }; };\n',
     ":1: save.jpeg_quality: 101 is out of range; use 60 to 95"),
    ('save = { output_dir = "/tmp"; };\nright_hand = { camera = { source = "synthetic"; fsp = 30; }; };\n',
     ":2: right_hand.camera.fsp: unknown setting"),
    ('right_hand = { camera = { source = "synthetic"; width = 100000; }; };\n',
     ":1: right_hand.camera.width: 100000 is out of range"),
    ('right_hand = { camera = { source = "synthetic"; width = ; }; };\n', ":1: syntax error"),
]


@pytest.mark.parametrize("text_,message", BAD_CONFIGS)
def test_bad_config_refused(bus, tmp, text_, message):
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write(text_)
    p = subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True)
    assert p.returncode == 1
    assert conf + message in p.stderr, p.stderr
    # the daemon itself refuses to start, says the same, and never takes the bus name
    p = subprocess.run([HANDRECD, "--user", "--config", conf], capture_output=True, text=True, env=bus.env,
                       timeout=60)
    assert p.returncode == 1
    assert conf + message in p.stderr
    assert "fix the lines above and start handrecd again" in p.stderr
    names = subprocess.run(["busctl", "--user", "list", "--no-legend"], capture_output=True, text=True,
                           env=bus.env).stdout
    assert "org.handrec1" not in names


def test_check_config_ok(tmp, outdir):
    conf = os.path.join(tmp, "ok.conf")
    with open(conf, "w") as f:
        f.write(make_config(outdir))
    p = subprocess.run([HANDRECD, "--check-config", "-c", conf], capture_output=True, text=True)
    assert p.returncode == 0
    assert re.fullmatch(re.escape(conf) + r": OK \(2 hands; needs at most \d+ of save.max_memory_mb = 1024 MB\)",
                        p.stdout.strip()), p.stdout


def test_second_daemon_refused(daemon, bus):
    p = subprocess.run([HANDRECD, "--user", "--config", daemon.config], capture_output=True, text=True, env=bus.env,
                       timeout=60)
    assert p.returncode == 1
    assert "Another process already owns org.handrec1" in p.stderr


def test_sigkill_mid_take_leaves_every_indexed_frame(daemon, ctl, tmp):
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=40)  # (it asserts 10 at least)
    daemon.stop(signal.SIGKILL)
    # readable with swmr=True as it is, status still "recording"
    attrs, n, numbers = check_take(path, status="recording", swmr=True)
    assert n >= 10, n
    # and readable by any tool after h5clear -s
    subprocess.run(["h5clear", "-s", path], check=True)
    attrs2, n2, _ = check_take(path, status="recording")
    assert n2 == n


def test_sigterm_mid_take_completes_files(daemon, ctl):
    right = ctl("start", "--hand", "right").stdout.strip()
    left = ctl("start", "--hand", "left").stdout.strip()
    wait_frames(ctl, n=25)  # a count, not a time: the ASan daemon is slower
    assert daemon.stop(signal.SIGTERM) == 0
    for path, hand in ((right, "right"), (left, "left")):
        attrs, n, _ = check_take(path, hand=hand, reason="shutdown")
        assert n > 20
    assert "Shutting down: finishing every open take." in daemon.log_text()


def test_disk_full_ends_take_cleanly(daemon_factory, small_disk, ctl):
    daemon_factory(make_config(small_disk, width=640, height=480, fps=60.0))
    # the disk fills long before the duration: 40 MB at about 3 MB/s, if the encoders keep up
    p = ctl("start", "--hand", "right", "--duration", "600", "--follow", timeout=660, check=False)
    lines = p.stdout.splitlines()
    path = lines[0]
    # the take ended for a fault: said, and exit status 1 (it was 0: the "start --follow exited 0")
    assert p.returncode == 1 and f"the right hand's take ended for a fault (disk-full): {path}" in p.stderr, p
    stopped = next(i for i, line in enumerate(lines) if line.startswith("[RIGHT] stopped (disk-full): "))
    assert lines[-1].startswith("[RIGHT] last error: The disk holding "), lines[stopped:]
    attrs, n, _ = check_take(path, reason="disk-full")
    assert n > 30
    assert "is full" in text(attrs["last_error"])
    # what reached the queue but not the disk is counted, never silent
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    # one rule: the take stopped at the reserve (1 MB), not at some other threshold
    st = os.statvfs(small_disk)
    assert st.f_bavail * st.f_frsize >= 1_000_000


def test_start_needs_room_above_the_reserve(daemon_factory, small_disk, ctl):
    # nearly full: 6 MB left; the reserve is 2 MB, and 3 s at 640x480x2, 60 fps needs ~21 MB more
    with open(os.path.join(small_disk, "filler"), "wb") as f:
        while os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize > 6_000_000:
            f.write(b"\0" * 1_000_000)
            f.flush()
    daemon_factory(make_config(small_disk, min_free_mb=2, width=640, height=480, fps=60.0))
    for _ in range(3):  # refused each time, never accepted and ended at once with 0 frames
        p = ctl("start", "--hand", "right", check=False)
        assert p.returncode == 1, p.stdout
        assert "a take needs the reserve (save.min_free_mb = 2 MB) plus room for 3 s of recording" in p.stderr
    assert not os.path.exists(os.path.join(small_disk, "right")) or os.listdir(os.path.join(small_disk, "right")) == []
