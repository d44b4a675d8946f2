"""A take a crash left unfinished: recovered when handrecd starts again, and by hand; checked."""
import os
import signal
import subprocess

import h5py
import numpy as np
import pytest

from conftest import HANDRECCTL, Lines, make_config, wait_frames
from takecheck import check_take, text


def crash_mid_take(daemon_factory, ctl, outdir, frames=40):
    """SIGKILL once the take has @frames frames in its file (a count, not a time)."""
    daemon = daemon_factory(make_config(outdir))
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=frames)
    daemon.stop(signal.SIGKILL)
    return daemon, path


def plain_open_fails(path):
    try:
        h5py.File(path, "r").close()
        return False
    except OSError:
        return True


def test_killed_take_is_recovered_at_start(daemon_factory, ctl, busctl, bus, outdir):
    daemon, path = crash_mid_take(daemon_factory, ctl, outdir)
    assert plain_open_fails(path)  # SWMR flags still set: what the recovery is for
    monitor = subprocess.Popen(["dbus-monitor", "--session",
                                "type='signal',interface='org.handrec1.Manager',member='TakeRecovered'"],
                               env=bus.env, stdout=subprocess.PIPE, text=True)
    lines = Lines(monitor)
    lines.wait_for("member=NameLost")  # it became a monitor (which drops its name): it sees what follows
    daemon.start()
    with h5py.File(path, "r") as f:  # a plain reader, no h5clear, no swmr=True
        assert text(f.attrs["status"]) == "recovered"
        assert text(f.attrs["stop_reason"]) == "crash"
        n = int(f.attrs["frames"])
        assert n == len(f["stereo/size"]) and n > 10
    check_take(path, status="recovered", reason="crash")
    assert f"Recovered {path} after a crash: {n} frames kept" in daemon.log_text()
    # announced on the bus: the signal at start, and the list for whoever asks later
    lines.wait_for(f'string "{path}"')
    monitor.terminate()
    out = lines.finish()
    assert "member=TakeRecovered" in out and f'string "{path}"' in out and 'string "right"' in out, out
    listed = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "ListRecovered").stdout
    assert listed.startswith('a(ssa{sv}) 1 "right" "' + path + '" 3 "frames" t ' + str(n)), listed
    p = ctl("recover", path)
    assert "nothing to do (status recovered)" in p.stdout
    assert ctl("check", path).stdout.startswith(f"{path}: OK (recovered): {n} frames")


def test_broken_last_frame_is_cut_off(daemon_factory, ctl, outdir):
    daemon, path = crash_mid_take(daemon_factory, ctl, outdir)
    # a power cut can leave the last frame's bytes unwritten: zero them
    subprocess.run(["h5clear", "-s", path], check=True)
    with h5py.File(path, "r+") as f:
        n = len(f["stereo/size"])
        off, size = int(f["stereo/offset"][n - 1]), int(f["stereo/size"][n - 1])
        f["stereo/jpeg"][off:off + size] = np.zeros(size, np.uint8)
    p = subprocess.run([HANDRECCTL, "check", path], capture_output=True, text=True)
    assert p.returncode == 1
    assert f"{n - 1} good frames of {n}; frame {n - 1}: not a JPEG" in p.stdout
    p = subprocess.run([HANDRECCTL, "recover", path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert f"recovered: {n - 1} frames kept of {n}; cut at frame {n - 1}" in p.stdout
    attrs, kept, _ = check_take(path, status="recovered", reason="crash")
    assert kept == n - 1 and int(attrs["frames_cut"]) == 1


def frames_and_file_offset(path, back):
    """The frames committed, and where in the file the JPEG bytes of the frame @back from the end
    begin (as a SWMR reader finds them)."""
    with h5py.File(path, "r", swmr=True, libver="latest") as f:
        n = len(f["stereo/size"])
        off = int(f["stereo/offset"][n - back])
        jpeg = f["stereo/jpeg"]
        chunk = jpeg.chunks[0]
        info = jpeg.id.get_chunk_info_by_coord((off // chunk * chunk,))
        return n, info.byte_offset + off % chunk


def test_a_file_whose_end_never_reached_the_disk_is_recovered(daemon_factory, ctl, outdir):
    """A power cut can leave the superblock naming an end of file past the bytes on the disk:
    HDF5 refuses to open such a file for writing ("truncated file"). Recovery reads the lost end
    as zeros, as a SWMR reader does, and keeps the frames before it."""
    daemon, path = crash_mid_take(daemon_factory, ctl, outdir)
    n, cut_at = frames_and_file_offset(path, 3)
    os.truncate(path, cut_at + 100)  # the last three frames' bytes are lost
    with pytest.raises(OSError, match="truncated file"):  # what HDF5 itself says of it
        h5py.File(path, "r")
    daemon.start()
    with h5py.File(path, "r") as f:  # a plain reader
        assert text(f.attrs["status"]) == "recovered"
        kept = int(f.attrs["frames"])
        note = text(f.attrs["recovery_note"])
    assert kept == n - 3 and len(h5py.File(path, "r")["stereo/size"]) == kept, (kept, n)
    assert f"frame {n - 3}:" in note and "bytes never reached the disk (a power cut)" in note, note
    attrs, got, _ = check_take(path, status="recovered", reason="crash")
    assert got == kept and int(attrs["frames_cut"]) == 3
    assert f"Recovered {path} after a crash: {kept} frames kept; cut at frame {n - 3}" in daemon.log_text()


def test_recover_refuses_a_take_being_recorded_and_leaves_it_whole(daemon, ctl):
    """A running take's file has the SWMR flags a crash leaves too: only the daemon knows it is being
    recorded. `handrecctl recover` asks it, and refuses, rather than cut the file under the writer."""
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=5)
    p = ctl("recover", path, check=False)  # on the daemon's bus, as a person on the board would
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert f"{path} is being recorded by handrecd: there is nothing to recover. Stop the take first" in p.stderr
    wait_frames(ctl, hands=("right",), n=40)  # the writer goes on
    ctl("stop", "--hand", "right")
    attrs, n, _ = check_take(path, status="complete", reason="requested")
    assert n >= 40 and "frames_cut" not in attrs
    # once it is complete, recover has nothing to do
    assert "nothing to do (status complete)" in ctl("recover", path).stdout


def test_check_reports_missing_file_and_good_take(daemon, ctl, outdir, tmp):
    path = ctl("start", "--hand", "right", "--duration", "1", "--follow").stdout.splitlines()[0]
    p = subprocess.run([HANDRECCTL, "check", path], capture_output=True, text=True)
    assert p.returncode == 0 and "OK (complete)" in p.stdout
    p = subprocess.run([HANDRECCTL, "check", os.path.join(tmp, "nope.h5")], capture_output=True, text=True)
    assert p.returncode == 1 and "BAD: Cannot open" in p.stdout
