"""OpenPreview through the bus with python3-dbus (a client nobody here wrote): frames and their
headers (lib/preview-protocol.h), scaling, rectification, guide lines that never reach the
take, a take under a stalled preview without a drop, refusals, resources freed, the bus policy."""
import os
import re
import socket
import struct
import time

import cv2
import dbus
import numpy as np
import pytest

from conftest import ROOT, make_config, wait_frames
from takecheck import check_duration_slots, check_take
from test_passthrough import calibration
from test_stall import DISK_CAUSES

HEADER = struct.Struct("<4sIIIqQII")
assert HEADER.size == 40
PREVIEW_RECTIFIED, PREVIEW_GUIDES, PREVIEW_RECORDING = 1, 2, 4


def manager(bus):
    if not hasattr(bus, "dbus_conn"):
        bus.dbus_conn = dbus.bus.BusConnection(bus.address)
    conn = bus.dbus_conn
    return dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), "org.handrec1.Manager"), conn


def open_preview(bus, hand="right", **options):
    mgr, _ = manager(bus)
    fd = mgr.OpenPreview(hand, dbus.Dictionary(options, signature="sv"))
    sock = socket.socket(fileno=fd.take())
    sock.settimeout(60)
    return sock


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    magic, size, width, height, ts, number, flags, reserved = HEADER.unpack(read_exact(sock, HEADER.size))
    assert magic == b"HRP1" and reserved == 0
    jpeg = read_exact(sock, size)
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "the JPEG does not decode"
    assert img.shape[:2] == (height, width), (img.shape, width, height)
    return dict(width=width, height=height, ts=ts, number=number, flags=flags, img=img)


def guide_rows(img):
    """Rows bright right across both eyes: the guide lines (the synthetic scene has none)."""
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    return int(np.sum(np.percentile(gray, 5, axis=1) > 200))


def config(outdir, **kw):
    kw.setdefault("hands", ("right",))
    return make_config(outdir, **kw)


def preview_threads(pid):
    names = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            names.append(open(f"/proc/{pid}/task/{t}/comm").read().strip())
        except FileNotFoundError:
            pass
    return [n for n in names if n.startswith("hr-pv-")]


def wait_for(cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_frames_headers_and_default_scaling(daemon_factory, bus, outdir):
    d = daemon_factory(config(outdir, width=1280, height=720))
    s = open_preview(bus)
    frames = [read_frame(s) for _ in range(5)]
    for f in frames:
        # 2 x 1280 wide: the default max_width 1280 halves it
        assert (f["width"], f["height"]) == (1280, 360)
        assert f["flags"] == 0
    numbers = [f["number"] for f in frames]
    assert numbers == sorted(numbers) and len(set(numbers)) == 5
    # about 10 fps of a 30 fps camera: every third frame or so, never every frame
    assert all(b - a >= 2 for a, b in zip(numbers, numbers[1:])), numbers
    assert preview_threads(d.proc.pid) == ["hr-pv-right"]
    s.close()
    assert wait_for(lambda: preview_threads(d.proc.pid) == []), "the preview thread outlived its last client"


@pytest.mark.parametrize("max_width,expected", [(0, (640, 240)), (640, (640, 240)), (639, (320, 120)),
                                                (200, (160, 60)), (10, (80, 30))])
def test_max_width(daemon_factory, bus, outdir, max_width, expected):
    daemon_factory(config(outdir))
    s = open_preview(bus, max_width=dbus.UInt32(max_width))
    f = read_frame(s)
    assert (f["width"], f["height"]) == expected


def test_guides_in_the_preview_never_in_the_take(daemon_factory, bus, ctl, outdir):
    daemon_factory(config(outdir))
    plain, guided = open_preview(bus, max_width=dbus.UInt32(0)), open_preview(bus, max_width=dbus.UInt32(0),
                                                                              guides=True)
    fp, fg = read_frame(plain), read_frame(guided)
    assert fg["flags"] & PREVIEW_GUIDES and not fp["flags"] & PREVIEW_GUIDES
    assert guide_rows(fg["img"]) >= 7 * 2 - 2, guide_rows(fg["img"])
    assert guide_rows(fp["img"]) == 0
    p = ctl("start", "--hand", "right", "--duration", "1", "--follow")
    path = p.stdout.splitlines()[0].split()[-1] if "/" in p.stdout.splitlines()[0] else None
    path = path or re.search(r"(/\S+\.h5)", p.stdout).group(1)
    f = read_frame(guided)
    assert f["flags"] & PREVIEW_GUIDES
    attrs, n, _ = check_take(path, hand="right")
    # 1 s at 30 fps: 30 slots of the camera's, each captured or counted as one it skipped (a loaded
    # machine makes the synthetic camera skip); the frames there are, each checked below
    check_duration_slots(attrs, 1)
    assert n >= 1 and int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    import handrec
    with handrec.open_take(path) as take:
        for i in range(0, n, 5):
            gray = handrec.decode_gray(take.frame(i))
            assert guide_rows(gray) == 0, f"guide lines in the take's frame {i}"


def test_rectified_preview(daemon_factory, bus, outdir, tmp):
    cal = calibration(os.path.join(tmp, "cal.yml"))
    text = config(outdir).replace("right_hand = {", f'right_hand = {{\n    calibration = "{cal}";', 1)
    daemon_factory(text)
    s = open_preview(bus, rectified=True, max_width=dbus.UInt32(0))
    f = read_frame(s)
    assert f["flags"] & PREVIEW_RECTIFIED and (f["width"], f["height"]) == (640, 240)
    raw = read_frame(open_preview(bus, rectified=False, max_width=dbus.UInt32(0)))
    assert not raw["flags"] & PREVIEW_RECTIFIED
    # rectified differs from raw (the remap moved pixels; black corners where it maps outside)
    assert np.mean(np.abs(f["img"].astype(int) - raw["img"].astype(int))) > 3


def test_take_under_two_previews_one_stalled_drops_nothing(daemon_factory, bus, ctl, outdir):
    daemon_factory(config(outdir, width=640, height=480, fps=30.0))
    stalled = open_preview(bus, max_width=dbus.UInt32(0), fps=30.0)  # never read
    read = open_preview(bus, fps=10.0)
    read_frame(read)
    p = ctl("start", "--hand", "right", "--duration", "4")
    path = p.stdout.strip().splitlines()[-1].split()[-1]
    # read all through the take: until its frames (flagged) have come and ended
    got, recording, ended = 0, 0, False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ended:
        f = read_frame(read)
        got += 1
        recording += bool(f["flags"] & PREVIEW_RECORDING)
        ended = recording > 0 and not f["flags"] & PREVIEW_RECORDING
    assert ended, f"the take did not end under the preview: {got} frames read, {recording} of the take"
    assert recording >= 10, "the preview that is read stopped getting frames during the take"
    ctl("status", "--hand", "right")
    assert wait_for(lambda: "idle" in ctl("status", "--hand", "right").stdout)
    attrs, n, _ = check_take(path, hand="right")
    drops = {k[len("dropped_"):]: int(v) for k, v in attrs.items() if k.startswith("dropped_")}
    # nothing lost past the encoders (no queue-full, write-failed, encode-error): what a stalled
    # preview could cost. The camera's skips and the encoders' lack of room (encoder-busy) come from
    # a starved CPU, which a loaded machine makes (test_stall.py); each counted
    assert all(drops[c] == 0 for c in DISK_CAUSES), drops
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"]) == n + drops["encoder_busy"], drops
    # 4 s at 30 fps: the camera's slots, each captured or counted as one it skipped
    check_duration_slots(attrs, 4)
    stalled.close()


@pytest.mark.parametrize("options,needle", [
    ({"fps": 0.1}, "out of range"), ({"fps": 31.0}, "out of range"), ({"fps": "ten"}, "must be a number"),
    ({"quality": 29}, "out of range"), ({"quality": 96}, "out of range"), ({"quality": 70.5}, "out of range"),
    ({"max_width": -1}, "out of range"), ({"guides": 1}, "boolean"), ({"rectified": True}, "no calibration"),
    ({"colour": True}, "Unknown preview option"),
])
def test_invalid_options_refused(daemon_factory, bus, outdir, options, needle):
    daemon_factory(config(outdir))
    mgr, _ = manager(bus)
    with pytest.raises(dbus.DBusException) as e:
        mgr.OpenPreview("right", dbus.Dictionary(options, signature="sv"))
    assert e.value.get_dbus_name() == "org.handrec1.Error.InvalidOption"
    assert needle in e.value.get_dbus_message(), e.value.get_dbus_message()


def test_no_such_hand(daemon_factory, bus, outdir):
    daemon_factory(config(outdir))
    mgr, _ = manager(bus)
    with pytest.raises(dbus.DBusException) as e:
        mgr.OpenPreview("middle", dbus.Dictionary({}, signature="sv"))
    assert e.value.get_dbus_name() == "org.handrec1.Error.NoSuchHand"


def test_no_device_refused_at_once(daemon_factory, bus, outdir):
    text = config(outdir).replace('source = "synthetic";', 'source = "v4l2"; device = "/dev/video-missing-42";')
    daemon_factory(text)
    mgr, _ = manager(bus)
    # at once: not held as StartRecording is while a camera is first opened (up to 10 s), which
    # would end this call in NoReply
    with pytest.raises(dbus.DBusException) as e:
        mgr.OpenPreview("right", dbus.Dictionary({}, signature="sv"), timeout=9)
    assert e.value.get_dbus_name() == "org.handrec1.Error.DeviceUnavailable"
    assert "not connected" in e.value.get_dbus_message() and "check the cable" in e.value.get_dbus_message()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def hundred_previews(daemon_factory, bus, outdir):
    """100 previews opened and closed (some read, some not, various options). Returns the daemon,
    its descriptors and RSS before them (one preview opened and closed first), and the hand's
    properties; when it returns every preview thread is gone and Previews is back to 0."""
    d = daemon_factory(config(outdir))
    mgr, conn = manager(bus)
    props = dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1/hand/right"),
                           "org.freedesktop.DBus.Properties")
    s = open_preview(bus)
    read_frame(s)
    s.close()
    assert wait_for(lambda: preview_threads(d.proc.pid) == [])
    # as at the end: the main thread has reaped the preview (its descriptors closed) once Previews is 0
    assert wait_for(lambda: int(props.Get("org.handrec1.Hand", "Previews")) == 0)
    fds, rss = fd_count(d.proc.pid), d.rss_kb()
    for i in range(100):
        s = open_preview(bus, guides=bool(i % 2), max_width=dbus.UInt32(0 if i % 3 else 320))
        if i % 4:
            read_frame(s)
        if i == 0:
            assert int(props.Get("org.handrec1.Hand", "Previews")) == 1
        s.close()
    assert wait_for(lambda: preview_threads(d.proc.pid) == [])
    assert wait_for(lambda: int(props.Get("org.handrec1.Hand", "Previews")) == 0)
    return d, fds, rss


def test_hundred_previews_free_everything(daemon_factory, bus, outdir):
    """Descriptors and threads: also under the ASan daemon, whose leak check at exit covers the heap."""
    d, fds, _ = hundred_previews(daemon_factory, bus, outdir)
    assert fd_count(d.proc.pid) == fds


@pytest.mark.native_daemon
def test_hundred_previews_keep_memory_flat(daemon_factory, bus, outdir):
    """RSS: the native daemon only (AddressSanitizer keeps freed memory in quarantine)."""
    d, fds, rss = hundred_previews(daemon_factory, bus, outdir)
    assert fd_count(d.proc.pid) == fds
    assert d.rss_kb() - rss < 4096, (rss, d.rss_kb())


def test_too_many_previews(daemon_factory, bus, outdir):
    daemon_factory(config(outdir))
    socks = [open_preview(bus) for _ in range(8)]
    mgr, _ = manager(bus)
    with pytest.raises(dbus.DBusException) as e:
        mgr.OpenPreview("right", dbus.Dictionary({}, signature="sv"))
    assert e.value.get_dbus_name() == "org.freedesktop.DBus.Error.LimitsExceeded"
    for s in socks:
        s.close()


def test_reload_removing_the_hand_ends_its_previews(daemon_factory, bus, outdir):
    d = daemon_factory(make_config(outdir, hands=("right", "left")))
    s = open_preview(bus, hand="left")
    read_frame(s)
    with open(d.config, "w") as f:
        f.write(make_config(outdir, hands=("right",)))
    d.proc.send_signal(1)
    with pytest.raises(EOFError):
        for _ in range(100):
            read_frame(s)


def test_policy_allows_preview_only_to_root_and_group_handrec():
    text = open(os.path.join(ROOT, "dbus", "org.handrec1.conf")).read()
    policies = re.findall(r'<policy ([^>]*)>(.*?)</policy>', text, re.S)
    allowed = {attrs.strip(): "OpenPreview" in body or 'send_destination="org.handrec1"/>' in body
               for attrs, body in policies}
    assert allowed['group="handrec"'] and allowed['user="root"']
    assert not allowed['context="default"'], "any local user could watch the workspace"


@pytest.mark.native_daemon
def test_source_thread_allocates_nothing_per_frame_under_a_preview(daemon_factory, bus, ctl, outdir, tmp):
    """test_alloc.py's check with a preview open and read all along (the tap's copy each frame it
    is wanted): the source thread's allocations do not grow with the take's length."""
    import signal
    import threading
    from test_alloc import SHIM

    def counts(seconds, name):
        """Over a take of @seconds at 30 fps as a count: 30 frames a second written, 10 a second
        previewed (a loaded machine makes the camera skip, and the preview thread runs at nice 10)."""
        out = os.path.join(tmp, f"alloc-pv-{name}.txt")
        d = daemon_factory(config(outdir), env={"LD_PRELOAD": SHIM, "ALLOC_COUNT_FILE": out})
        s = open_preview(bus, fps=30.0, guides=True)
        got = []

        def reader():
            try:
                while True:
                    got.append(read_frame(s)["flags"])
            except (EOFError, OSError):
                pass
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        ctl("start", "--hand", "right")
        wait_frames(ctl, hands=("right",), n=30 * seconds)
        wait_for(lambda: sum(1 for f in got if f & PREVIEW_RECORDING) >= 10 * seconds)
        ctl("stop", "--hand", "right")
        assert d.stop(signal.SIGTERM) == 0
        th.join(10)
        assert sum(1 for f in got if f & PREVIEW_RECORDING) >= 10 * seconds, len(got)
        return {k: int(v) for k, v in (line.rsplit(" ", 1) for line in open(out))}

    short, long_ = counts(1, "short"), counts(4, "long")
    assert long_.get("hr-src-right", 0) == short.get("hr-src-right", 0), (short, long_)
    # and the preview thread renders without allocating (the synthetic camera gives planes: no decoder)
    assert long_.get("hr-pv-right", 0) == short.get("hr-pv-right", 0), (short, long_)
