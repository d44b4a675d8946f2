"""Bad input stays harmless, and a daemon that loses its bus does not linger uncontrollable."""
import os
import signal
import subprocess
import time

from conftest import HANDRECD, make_config, wait_frames, wait_past_the_second_of, wait_until
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
    wait_frames(ctl, hands=("right",), n=30)  # (it asserts more than 10)
    bus.proc.send_signal(signal.SIGKILL)
    bus.proc.wait(timeout=60)
    rc = daemon.proc.wait(timeout=60)
    assert rc != 0, daemon.log_text()
    assert "Lost the connection to the bus" in daemon.log_text()
    attrs, frames, _ = check_take(path, reason="shutdown")
    assert frames > 10


def test_take_swapped_for_a_symlink_is_never_written_through(daemon, ctl, outdir, tmp):
    import hashlib
    import h5py
    # a file someone cares about, in HDF5 so that a writer following the link could write to it
    victim = os.path.join(tmp, "precious.h5")
    with h5py.File(victim, "w") as f:
        f.attrs["mine"] = "do not touch"
    before = hashlib.sha256(open(victim, "rb").read()).hexdigest()
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=30)  # (it asserts more than 10)
    moved = path + ".moved"
    os.rename(path, moved)          # the take keeps its inode under another name
    os.symlink(victim, path)        # and a link waits under its name for the reopen at the end
    p = ctl("stop", "--hand", "right")
    assert p.stdout.splitlines()[0] == path
    assert hashlib.sha256(open(victim, "rb").read()).hexdigest() == before
    with h5py.File(victim, "r") as f:
        assert "status" not in f.attrs
    attrs, n, _ = check_take(moved, reason="requested")  # the reserved file was finished
    assert n > 10


def test_planted_link_under_the_next_name_is_skipped(daemon_factory, ctl, outdir, tmp):
    victim = os.path.join(tmp, "victim.txt")
    with open(victim, "w") as f:
        f.write("precious\n")
    daemon_factory(make_config(outdir))
    os.makedirs(os.path.join(outdir, "right"), exist_ok=True)
    # a link under the name of the second the take starts in. Not under later ones: a name ahead of
    # the clock makes the daemon name its take one second after it (names never step back). Planted
    # early in a second, then the take started; should the second turn before the daemon names the
    # take (a loaded machine), its name is a later one: planted again, in a later second
    for _ in range(20):
        wait_until(lambda: 0.05 <= time.time() % 1 < 0.5, what="the start of a second", interval=0.01)
        name = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + ".h5"
        os.symlink(victim, os.path.join(outdir, "right", name))
        path = ctl("start", "--hand", "right", "--duration", "0.5", "--follow").stdout.splitlines()[0]
        assert not os.path.islink(path)
        assert open(victim).read() == "precious\n"
        if os.path.basename(path) == name.replace(".h5", "_02.h5"):
            break  # the link under the take's name was met, and passed by
        assert os.path.basename(path) > name, (path, name)  # named for a later second: again
        wait_past_the_second_of(path)
    else:
        raise AssertionError(f"20 takes started, none in the second it was planted for: {os.listdir(os.path.dirname(path))}")
    assert open(victim).read() == "precious\n"
    check_take(path, reason="duration")
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert (os.stat(os.path.join(outdir, "right")).st_mode & 0o777) == 0o750


def test_check_config_warns_of_an_output_dir_under_tmp(tmp):
    conf = os.path.join(tmp, "c.conf")
    with open(conf, "w") as f:
        f.write(make_config(os.path.join(tmp, "takes"), hands=("right",)))
    p = subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "is under /tmp: as a service (PrivateTmp=yes)" in p.stderr and "the takes vanish when it stops" in p.stderr


def test_long_names_are_cut_on_a_character_boundary(daemon, busctl):
    # 79 ASCII bytes and then two-byte characters: a cut at byte 80 (or 64) would split one, and
    # sd-bus cannot send an error whose text is not UTF-8 (the caller got no sentence at all)
    label = "a" * 79 + "é" * 10
    p = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "StartRecording", "sa{sv}", "right",
               "1", "label", "s", label, check=False)
    assert p.returncode != 0
    assert "is not allowed: use 1 to 64 letters, digits" in p.stderr, p.stderr
    hand = "b" * 63 + "é" * 10
    p = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "Status", "s", hand, check=False)
    assert "There is no hand" in p.stderr, p.stderr
