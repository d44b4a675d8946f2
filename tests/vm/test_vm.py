"""handrecd against a real kernel: the vivid V4L2 driver in a qemu VM (tests/vm/vm.py boots it,
tests/vm/guest.sh drives the daemon inside). This file judges, on the host, what the guest
recorded: every file is read back with h5py and h5dump.

The VM boots once for the whole module; each test checks one scenario.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

import vm  # noqa: E402
from takecheck import check_take, text  # noqa: E402


@pytest.fixture(scope="module")
def guest():
    out = tempfile.mkdtemp(prefix="handrec-vm-")
    os.chmod(out, 0o777)
    try:
        t0 = time.monotonic()
        rc, secs = vm.run(os.path.join(HERE, "guest.sh"), out, timeout=900)
    except vm.Unavailable as e:
        pytest.skip(f"qemu cannot run on this machine, so the VM tests cannot: {e}")
    results = vm.results(out)
    print(f"\nVM: booted and ran the scenarios in {time.monotonic() - t0:.1f} s (qemu exit {rc})")
    assert results.get("done") == "1", "the guest script did not finish:" + vm.logs(out, "console.log", "guest.log")

    def host_path(guest_path):
        assert guest_path.startswith("/run/out/"), guest_path
        return os.path.join(out, guest_path[len("/run/out/"):])

    def read(name):
        with open(os.path.join(out, name)) as f:
            return f.read()

    yield results, host_path, read
    shutil.rmtree(out, ignore_errors=True)


def attrs_of(path, **kw):
    attrs, n, _ = check_take(path, stamps=False, **kw)
    return attrs, n


def check_duration_take(path, attrs, n, seconds, fps):
    """A take stopped by its duration, judged by what holds on a loaded TCG guest (vivid then
    skips frames, which the camera's sequence numbers show): at least one frame; every frame
    captured is stored or counted as dropped; every gap in the stored sequence numbers is counted
    (the camera's own, or handrecd's); and the stored frames span the duration by their
    timestamps, less at most one period and the largest gap between two of them."""
    import handrec
    assert n >= 1
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    with handrec.open_take(path) as t:
        seq, ts = t.column("left_sequence"), t.column("timestamp_ns")
    gaps = int((seq[-1] - seq[0] + 1) - n)
    # a left frame missing is the camera's gap, a frame handrecd dropped, or (two devices) a left
    # frame that found no right one within half a period
    counted = int(attrs["dropped_camera"]) + int(attrs["frames_dropped"]) + int(attrs["dropped_unpaired_left"])
    assert gaps <= counted, (gaps, dict(attrs))
    period = 1e9 / fps
    span = int(ts[-1]) - int(ts[0])
    largest = int(max(ts[1:] - ts[:-1])) if n > 1 else 0
    assert span <= seconds * 1e9, span
    assert span >= seconds * 1e9 - period - largest, (span, largest)


def controls_of(attrs, name):
    """A take's camera_controls attribute ("name=value; ...") as a dict."""
    t = text(attrs[name])
    return {k: int(v) for k, v in (kv.split("=") for kv in t.split("; "))} if t else {}


def test_devices_lists_vivid(guest):
    results, _, read = guest
    assert results["devices_exit"] == "0"
    out = read("devices.txt")
    assert "/dev/video0: vivid" in out and "/dev/video1: vivid" in out
    assert "YUYV (YUYV 4:2:2): " in out and "640x360@" in out
    # the controls camera.controls takes, by v4l2-ctl's names, with range, step, default and value
    assert "    controls (camera.controls = { name = value; ... }):\n" in out
    assert "      brightness (int): min=0 max=255 step=1 default=128 value=128\n" in out
    assert "      gain_automatic (bool): min=0 max=1 step=1 default=1 value=1\n" in out
    assert "      menu (menu): min=1 max=4 step=1 default=3 value=3\n          1: Menu Item 1\n          3: Menu Item 3\n" in out
    assert "      read_only_integer_32_bits (int): min=0 max=255 step=1 default=0 value=0 read-only\n" in out
    stable = read("devices-stable.txt")
    assert "/dev/v4l/by-path/platform-vivid.1-video-index0" in stable


def test_side_by_side_yuyv(guest):
    results, host_path, _ = guest
    assert results["sbs.warm"] == "0", "the camera never became idle (open and warm)"
    assert results["sbs.start_exit"] == "0"
    # the rate measured while the camera warmed up, reported in the status (vivid skipping frames
    # on a loaded guest can only lower it)
    assert 0 < float(results["sbs.camera_fps"]) < 15 * 1.1, results["sbs.camera_fps"]
    assert "fps measured while warming up" in guest[2]("sbs.status.out")
    path = host_path(results["sbs.file"])
    attrs, n = attrs_of(path, hand="right", reason="duration")
    check_duration_take(path, attrs, n, 4, 15)
    assert int(attrs["eye_width"]) == 320 and int(attrs["eye_height"]) == 360
    assert text(attrs["source"]) == "v4l2" and text(attrs["camera_format"]) == "YUYV"
    assert text(attrs["camera_device"]) == "/dev/video0"
    assert text(attrs["timestamp_source"]) == "driver"
    assert text(attrs["jpeg_origin"]) == "handrecd"
    import handrec
    with handrec.open_take(path) as t:
        seq = t.column("left_sequence")
        # one device: both eyes carry its sequence numbers, increasing
        assert list(t.column("right_sequence")) == list(seq)
        assert all(b > a for a, b in zip(seq, seq[1:])), "driver sequence numbers not increasing"


def test_dropped_buffers_are_counted(guest):
    results, host_path, _ = guest
    assert results["drop.ctl_exit"] == "0"
    attrs, n = attrs_of(host_path(results["drop.file"]), reason="duration")
    import handrec
    with handrec.open_take(host_path(results["drop.file"])) as t:
        seq = t.column("left_sequence")
        gaps = int((seq[1:] - seq[:-1] - 1).sum())
    # vivid dropped about a quarter of the buffers: every one is counted, none silently (a gap in
    # the file is the camera's, or a frame handrecd dropped and counted)
    assert gaps > 0 and int(attrs["dropped_camera"]) > 0
    assert gaps <= int(attrs["dropped_camera"]) + int(attrs["frames_dropped"])
    # the camera's gaps were never captured: frames_dropped counts only what handrecd lost
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    check_duration_take(host_path(results["drop.file"]), attrs, n, 4, 15)


def test_unplug_mid_take(guest):
    results, host_path, read = guest
    assert results["unplug.ctl_exit"] == "0"
    attrs, n = attrs_of(host_path(results["unplug.file"]), reason="device-lost")
    assert results["unplug.written"] == "0", "the take never wrote 20 frames before the unplug"
    assert n >= 20  # unplugged once 20 frames were written: the file keeps them
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    assert "The camera stopped delivering frames" in text(attrs["last_error"])
    watch = read("unplug.watch.out")
    assert "[RIGHT] stopped (device-lost)" in watch
    assert results["unplug.no_device"] == "0", "State did not become no-device"
    assert "No such device" in read("unplug.lasterror.txt")
    assert results["unplug.start_while_missing_exit"] == "1"
    assert "camera is not available" in read("unplug.refused.out")
    assert results["unplug.back_idle"] == "0", "the daemon did not pick the camera up again"
    path = host_path(results["replug.file"])
    attrs, n = attrs_of(path, reason="duration")
    check_duration_take(path, attrs, n, 2, 15)
    assert results["sbs.daemon_exit"] == "0"


def test_unplug_one_hand_mid_episode(guest):
    """Issue 20: one hand's camera unplugged mid-episode ends the other hand's take within a
    frame or so (partner-stopped, its LastError naming why), the episode is incomplete, and the
    watch of it exits 1."""
    import json
    results, host_path, read = guest
    assert results["episode.warm"] == "0" and results["episode.start_exit"] == "0", read("episode.start.err")
    start = json.loads(read("episode.start.json"))
    files = {t["hand"]: host_path(t["file"]) for t in start["takes"]}
    assert results["episode.written"] == "0", "the takes never wrote 20 frames before the unplug"
    attrs, n = attrs_of(files["right"], hand="right", reason="device-lost")
    assert n >= 20 and int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    attrs, n = attrs_of(files["left"], hand="left", reason="partner-stopped")
    assert n >= 20 and "The right hand's take of episode" in text(attrs["last_error"])
    assert "device-lost" in text(attrs["last_error"])
    with open(host_path(f"/run/out/takes/episodes/{start['episode']}.json")) as f:
        m = json.load(f)
    assert m["outcome"] == "incomplete" and m["reason"].startswith("right: device-lost"), m
    assert m["takes"]["left"]["stop_reason"] == "partner-stopped"
    watch = read("episode.watch.out")
    assert "[RIGHT] stopped (device-lost)" in watch and "[LEFT] stopped (partner-stopped)" in watch, watch
    assert "ended for a fault (device-lost)" in watch and results["episode.watch_exit"] == "1", watch
    assert results["episode.left_idle"] == "0" and results["episode.back_idle"] == "0"
    assert results["episode.daemon_exit"] == "0"


def test_two_devices_paired(guest):
    results, host_path, _ = guest
    assert results["pair.warm"] == "0" and results["pair.start_exit"] == "0"
    path = host_path(results["pair.file"])
    attrs, n = attrs_of(path, hand="left", reason="duration")
    # 4 s at 15 fps, stored or counted as dropped (a loaded TCG guest makes vivid skip frames)
    check_duration_take(path, attrs, n, 4, 15)
    assert int(attrs["eye_width"]) == 640
    # camera.controls set on both devices alike, read back by v4l2-ctl and stored for each
    assert guest[2]("pair.left.ctrl").strip() == "brightness: 60"
    assert guest[2]("pair.right.ctrl").strip() == "brightness: 60"
    assert controls_of(attrs, "camera_left_controls")["brightness"] == 60
    assert controls_of(attrs, "camera_right_controls")["brightness"] == 60
    assert text(attrs["camera_controls"]) == ""
    assert text(attrs["camera_left_device"]) == "/dev/video0"
    assert text(attrs["camera_right_device"]) == "/dev/video1"
    import handrec
    with handrec.open_take(path) as t:
        lts, rts = t.column("left_timestamp_ns"), t.column("right_timestamp_ns")
        skew = abs(lts - rts)
    half_period = 1e9 / 15 / 2
    assert skew.max() <= half_period
    # over the pairs stored, whatever was dropped (docs/file-format.md)
    assert int(attrs["pair_skew_max_ns"]) == int(skew.max())
    assert abs(int(attrs["pair_skew_mean_ns"]) - skew.mean()) <= 1
    print(f"\npairing skew on vivid's two devices at 15 fps: mean {skew.mean() / 1e6:.2f} ms, "
          f"max {skew.max() / 1e6:.2f} ms (limit {half_period / 1e6:.1f} ms); "
          f"unpaired left {int(attrs['dropped_unpaired_left'])}, right {int(attrs['dropped_unpaired_right'])}")


def test_yuv420_through_libv4l2(guest):
    results, host_path, _ = guest
    assert results["yu12.warm"] == "0"
    path = host_path(results["yu12.file"])
    attrs, n = attrs_of(path, reason="duration")
    check_duration_take(path, attrs, n, 2, 15)
    assert text(attrs["camera_format"]) == "YU12"


def test_size_the_device_cannot_do(guest):
    results, _, read = guest
    assert results["badsize.state"] == "no-device"
    err = read("badsize.lasterror.txt")
    assert "/dev/video0 cannot give 200x64 YUYV" in err and "it can give:" in err and "640x360@" in err
    assert results["badsize.start_exit"] == "1"
    assert "cannot give 200x64" in read("badsize.start.out")


def test_rate_the_device_cannot_do(guest):
    results, _, read = guest
    assert results["badfps.state"] == "no-device"
    err = read("badfps.lasterror.txt")
    assert "cannot give 7 fps at 640x360 YUYV" in err and "640x360@1,2,4,5,10,12.5,15,25,30,40" in err
    assert results["badfps.start_exit"] == "1"


def test_nothing_recorded_for_refused_starts(guest):
    results, host_path, _ = guest
    import json
    takes = sorted(os.listdir(host_path("/run/out/takes/right")))
    expected = {os.path.basename(results[k]) for k in ("sbs.file", "drop.file", "unplug.file", "replug.file",
                                                        "yu12.file", "ctl.file")}
    episode = json.loads(open(host_path("/run/out/episode.start.json")).read()) if results.get(
        "episode.start_exit") == "0" else {"takes": []}
    expected |= {os.path.basename(t["file"]) for t in episode["takes"] if t["hand"] == "right"}
    assert set(takes) == expected, takes


def test_stable_device_names(guest):
    results, _, _ = guest
    assert results["stable.warm"] == "0"


# camera.controls, as the guest set them on vivid (guest.sh, part D)
CONTROLS = {"brightness": 200, "contrast": 90, "saturation": 30, "hue": -20, "gain_automatic": 0, "gain": 77}


def get_ctrl(out):
    """v4l2-ctl --get-ctrl's "name: value" lines as a dict."""
    return {k: int(v) for k, v in (line.split(": ") for line in out.splitlines() if ": " in line)}


def test_camera_controls_set_read_back_and_stored(guest):
    results, host_path, read = guest
    assert results["ctl.check_good_exit"] == "0", read("ctl.check-good.out")
    assert results["ctl.warm"] == "0"
    # set when the daemon opened the camera: v4l2-ctl reads them back while it runs
    assert get_ctrl(read("ctl.running.ctrl")) == CONTROLS
    # the values in force, read back when the camera was opened (after they were set), every
    # control of the device, in the take
    path = host_path(results["ctl.file"])
    attrs, n = attrs_of(path, hand="right", reason="duration")
    check_duration_take(path, attrs, n, 2, 15)
    stored = controls_of(attrs, "camera_controls")
    assert {k: stored[k] for k in CONTROLS} == CONTROLS
    assert stored["volume"] == 200 and stored["menu"] == 3  # vivid's defaults, not configured
    assert "button" not in stored and "string" not in stored  # no value to keep
    assert text(attrs["camera_left_controls"]) == "" and text(attrs["camera_right_controls"]) == ""
    # vivid reloaded comes back with its defaults (brightness 128): the daemon sets them again
    assert results["ctl.no_device"] == "0" and results["ctl.back_idle"] == "0"
    assert get_ctrl(read("ctl.replugged.ctrl")) == CONTROLS
    assert results["ctl.daemon_exit"] == "0"


def test_camera_controls_refused(guest):
    results, _, read = guest
    conf = "/run/vmtest/ctl-bad.conf"
    out = read("ctl.check-bad.out")
    assert results["ctl.check_bad_exit"] == "1", out
    prefix = "right_hand.camera.controls."
    assert (f'{conf}:5: {prefix}brightnes: /dev/video0 has no control "brightnes" (brightness?); it has: brightness, contrast, '
            "saturation, hue, volume, mute, gain_automatic, gain,") in out
    contrast = (f"{conf}:6: {prefix}contrast: /dev/video0: contrast = 300 is out of range: it takes 0 to 255 "
                "(step 1, default 128)")
    assert contrast in out
    assert (f"{conf}:7: {prefix}menu: /dev/video0: menu = 2 is not an item of its menu; the items are "
            "1 (Menu Item 1), 3 (Menu Item 3), 4 (Menu Item 4)") in out
    assert (f"{conf}:8: {prefix}read_only_integer_32_bits: /dev/video0: read_only_integer_32_bits is read-only "
            "(the camera sets it itself); remove it") in out
    assert f"{conf}:9: {prefix}button: /dev/video0: button is a button (an action, not a setting)" in out
    assert f"{conf}:10: {prefix}string: /dev/video0: string is not a number (a str control)" in out
    # the daemon refuses to start with the same sentences
    start = read("ctl.start-bad.out")
    assert results["ctl.start_bad_exit"] == "1"
    assert contrast in start and "is not usable" in start
    # a camera that appears later with a value it refuses: not opened, LastError says why
    assert results["ctl.late_state"] == "no-device"
    late = read("ctl.late.lasterror.txt")
    assert "/dev/video0: brightness = 999 is out of range: it takes 0 to 255 (step 1, default 128)" in late, late
