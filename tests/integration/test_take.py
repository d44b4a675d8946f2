"""Takes recorded end to end: handrecctl, busctl and python-dbus driving a real handrecd."""
import os
import re
import shutil
import subprocess
import tempfile
import threading

import dbus
import dbus.mainloop.glib
import h5py
import pytest
from gi.repository import GLib  # noqa: F401  (python3-dbus' main loop)

from conftest import BUILD, HANDRECCTL, Lines, hand_status, make_config, wait_frames, wait_until
from takecheck import check_duration_slots, check_take, text

# queue: depth/capacity; mem: the daemon's resident memory, left out while the client does not pass it
STATUS_RE = re.compile(r"^\[RIGHT\] recording: (\d+) frames \((\d+\.\d)s, (\d+\.\d)fps, written:(\d+), queue:(\d+)/100, "
                       r"mem:\d+MB, \d+\.\d[MG]B, dropped:0, gaps:\d+, disk:\d+\.\d[MG]B free(, (<1m|\d+m|\d+h\d\dm|\d+d\d\dh) left)?\)$")


def test_start_status_stop_with_handrecctl(daemon, ctl, outdir):
    p = ctl("start", "--hand", "right", "--label", "demo_1")
    path = p.stdout.strip()
    assert re.fullmatch(re.escape(outdir) + r"/right/\d{8}-\d{6}-demo_1\.h5", path), path
    assert os.path.exists(path)
    wait_frames(ctl, hands=("right",), n=45)
    st = ctl("status", "--hand", "right").stdout.splitlines()
    camera = hand_status(ctl, "right")["dropped_by_cause"]["camera"]  # counted by then, or a little later
    m = STATUS_RE.match(st[0])
    assert m, st
    captured, fps = int(m.group(1)), float(m.group(3))
    # the rate measured over the frames captured, which the camera's own skips lower (a loaded
    # machine makes the synthetic camera skip slots, as a real one drops frames, and counts them):
    # with the slots it skipped, 30 fps
    assert captured > 20 and fps * (captured - 1 + camera) / (captured - 1) == pytest.approx(30, abs=1.5), \
        (st[0], camera)
    assert st[1].strip() == f"file: {path}"
    all_hands = ctl("status").stdout
    assert "[LEFT] idle: no take yet" in all_hands and "[RIGHT] recording:" in all_hands

    p = ctl("stop", "--hand", "right")
    lines = p.stdout.splitlines()
    assert lines[0] == path
    # (the camera's own skips, which a loaded machine makes, are named beside: never captured, not dropped)
    m = re.match(r"\[RIGHT\] stopped \(requested\): (\d+) frames written of (\d+) captured, 0 dropped"
                 r"(?: \(camera:\d+\))?, ", lines[1])
    assert m, lines
    assert m.group(1) == m.group(2)
    attrs, n, numbers = check_take(path, hand="right", reason="requested")
    assert n == int(m.group(1))
    assert text(attrs["label"]) == "demo_1"
    assert int(attrs["jpeg_quality"]) == 85
    assert int(attrs["frames_dropped"]) == 0
    # the daemon's own status after the take still shows it
    assert "[RIGHT] idle: " in ctl("status", "--hand", "right").stdout


def test_list_and_help(daemon, ctl):
    assert ctl("list").stdout.split() == ["left", "right"]
    for cmd in ("start", "stop", "status", "watch", "list"):
        out = ctl(cmd, "--help").stdout
        assert out.startswith(f"Usage: handrecctl {cmd}")
    assert "Commands:" in ctl("--help").stdout
    bad = ctl("start", check=False)
    assert bad.returncode == 2 and "--hand is required" in bad.stderr
    bad = ctl("frobnicate", check=False)
    assert bad.returncode == 2 and "unknown command" in bad.stderr


def test_busctl_client(daemon, busctl, outdir):
    """A client nobody here wrote drives the whole API."""
    out = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "StartRecording", "sa{sv}",
                 "right", "2", "label", "s", "viaBusctl", "jpeg_quality", "i", "70").stdout
    path = re.match(r'^s "(.*)"$', out.strip()).group(1)
    assert path.startswith(os.path.join(outdir, "right")) and path.endswith("-viaBusctl.h5")

    def captured():
        return int(busctl("get-property", "org.handrec1", "/org/handrec1/hand/right", "org.handrec1.Hand",
                          "FramesCaptured").stdout.split()[1])
    seen = wait_until(captured, what="the busctl take to capture a frame")  # frames of a take: it records
    state = busctl("get-property", "org.handrec1", "/org/handrec1/hand/right", "org.handrec1.Hand", "State").stdout
    assert state.strip() == 's "recording"'
    assert seen > 0
    status = busctl("call", "--json=short", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "Status", "s",
                    "right").stdout
    assert '"State":{"type":"s","data":"recording"}' in status
    assert '"QueueCapacity":{"type":"u","data":100}' in status  # queue.seconds = 3 at 30 fps + a batch
    hands = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "ListHands").stdout
    assert hands.strip() == 'as 2 "left" "right"'
    intro = busctl("introspect", "org.handrec1", "/org/handrec1").stdout
    for member in ("StartRecording", "StopRecording", "Status", "ListHands", "RecordingStarted",
                   "RecordingStopped"):
        assert member in intro
    out = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "StopRecording", "s",
                 "right").stdout
    assert re.match(rf'sa\{{sv\}} "{re.escape(path)}" \d+ "file" s "{re.escape(path)}" "reason" s "requested"', out), out
    attrs, n, _ = check_take(path, hand="right", reason="requested")
    assert int(attrs["jpeg_quality"]) == 70 and n >= seen  # nothing captured is lost


def _signal_collector(bus):
    """python-dbus, the third client: collects handrecd's signals in a GLib loop thread."""
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    conn = dbus.bus.BusConnection(bus.address)
    events = []
    conn.add_signal_receiver(lambda *a: events.append(("started",) + tuple(str(x) for x in a)),
                             signal_name="RecordingStarted", dbus_interface="org.handrec1.Manager")
    conn.add_signal_receiver(lambda hand, f, reason, summary: events.append(("stopped", str(hand), str(f), str(reason),
                                                                              dict(summary))),
                             signal_name="RecordingStopped", dbus_interface="org.handrec1.Manager")
    conn.add_signal_receiver(lambda iface, changed, inval, path=None: events.append(("changed", path, dict(changed))),
                             signal_name="PropertiesChanged", dbus_interface="org.freedesktop.DBus.Properties",
                             path_keyword="path")
    loop = GLib.MainLoop()
    t = threading.Thread(target=loop.run, daemon=True)
    t.start()
    return conn, events, loop


def test_duration_stops_by_itself_with_signal(daemon, bus, outdir):
    conn, events, loop = _signal_collector(bus)
    try:
        mgr = dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), "org.handrec1.Manager")
        path = str(mgr.StartRecording("left", dbus.Dictionary({"duration": dbus.Double(4.0)}, signature="sv")))
        wait_until(lambda: any(e[0] == "stopped" for e in events), what="RecordingStopped")
        # the last PropertiesChanged (State idle) follows the signal: everything published is in then
        wait_until(lambda: any(e[0] == "changed" and e[1] == "/org/handrec1/hand/left" and
                               str(e[2].get("State", "")) == "idle" for e in events), what="State idle")
    finally:
        loop.quit()
    assert ("started", "left", path) in events
    stopped = [e for e in events if e[0] == "stopped"]
    assert len(stopped) == 1
    _, hand, f, reason, summary = stopped[0]
    assert (hand, f, reason) == ("left", path, "duration")
    assert int(summary["frames_written"]) == int(summary["frames_captured"])
    attrs, n, numbers = check_take(path, hand="left", reason="duration")
    assert int(summary["frames_written"]) == n
    # 4 s at 30 fps: 120 slots of the camera's, from the first frame's; those a loaded machine made
    # it skip are counted: between the frames stored (they and the skips fill the span of the
    # stamped numbers) and just before the frame that ended the take, when the camera was late then
    camera = int(summary["dropped_by_cause"]["camera"])
    assert numbers[-1] - numbers[0] + 1 <= n + camera == check_duration_slots(attrs, 4), (numbers[:3], n, camera)
    # progress was published while recording, a few times a second, with growing counts
    changes = [e[2] for e in events if e[0] == "changed" and e[1] == "/org/handrec1/hand/left"
               and "FramesCaptured" in e[2]]
    counts = [int(c["FramesCaptured"]) for c in changes]
    assert len(counts) >= 5, counts
    assert counts == sorted(counts) and counts[-1] >= n - 1
    states = [str(e[2]["State"]) for e in events if e[0] == "changed" and "State" in e[2]]
    assert states[:2] == ["warming", "recording"] and states[-2:] == ["stopping", "idle"], states


def test_both_hands_at_once(daemon, ctl):
    right = ctl("start", "--hand", "right").stdout.strip()
    left = ctl("start", "--hand", "left", "--quality", "60").stdout.strip()
    assert right != left
    wait_frames(ctl, n=11)
    st = ctl("status").stdout
    assert "[LEFT] recording:" in st and "[RIGHT] recording:" in st
    ctl("stop", "--hand", "left")
    ctl("stop", "--hand", "right")
    ra, rn, _ = check_take(right, hand="right", reason="requested")
    la, ln, _ = check_take(left, hand="left", reason="requested")
    assert rn > 10 and ln > 10
    assert int(la["jpeg_quality"]) == 60


def test_live_reader_sees_frames_grow(daemon, ctl):
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=3)
    counts = []
    with h5py.File(path, "r", swmr=True, libver="latest") as f:
        size = f["stereo/size"]

        def read():  # until read 4 times and grown
            size.refresh()
            f["stereo/offset"].refresh()
            f["stereo/jpeg"].refresh()
            n = len(size)
            counts.append(n)
            if n:  # the newest frame is complete and readable while the take goes on
                off = int(f["stereo/offset"][n - 1])
                assert len(f["stereo/jpeg"]) >= off + int(size[n - 1])
            return len(counts) >= 4 and counts[-1] > counts[0]
        wait_until(read, what="the file to grow under the reader", interval=0.2)
        assert f.attrs["status"] == "recording"
    ctl("stop", "--hand", "right")
    assert counts == sorted(counts) and counts[-1] > counts[0] > 0, counts
    check_take(path, reason="requested")


def test_watch_follows_take_to_the_end(daemon, ctl):
    p = ctl("start", "--hand", "right", "--duration", "2", "--follow", timeout=60)
    lines = p.stdout.splitlines()
    path = lines[0]
    assert path.endswith(".h5")
    live = [l for l in lines if l.startswith("[RIGHT] recording:")]
    assert len(live) >= 1
    # the file, its summary, then its quality verdict when it is not "ok" (a loaded machine makes
    # the camera skip: "1 camera gaps at 1.8–1.8 s")
    end = next(i for i, line in enumerate(lines) if line.startswith("[RIGHT] stopped (duration): "))
    assert lines[end - 1] == path and all(line.startswith("[RIGHT] quality: ") for line in lines[end + 1:]), lines
    check_take(path, reason="duration")

    # watch on an existing take, from another client, until someone else stops it
    path = ctl("start", "--hand", "left").stdout.strip()
    w = subprocess.Popen([HANDRECCTL, "--user", "watch", "--hand", "left"], env=daemon.bus.env,
                         stdout=subprocess.PIPE, text=True)
    lines = Lines(w)
    lines.wait_for("[LEFT] recording:")
    ctl("stop", "--hand", "left")
    out = lines.finish()
    assert w.returncode == 0
    assert "[LEFT] recording:" in out and "[LEFT] stopped (requested)" in out


def test_sd_notify_status_and_ready(daemon, ctl):
    assert any("READY=1" in n for n in daemon.notifications)
    ctl("start", "--hand", "right")
    # STATUS= comes at most once a second: until one says the take records
    wait_until(lambda: any(n.startswith("STATUS=") and "[RIGHT] recording:" in n for n in daemon.read_notifications()),
               what="a STATUS= line with the right hand recording")
    ctl("stop", "--hand", "right")


@pytest.mark.native_daemon  # RSS of the plain build
def test_memory_stays_flat(daemon_factory, outdir, ctl):
    """RSS growth over a take is bounded by configuration, not by its length (a count, not a time)."""
    d = daemon_factory(make_config(outdir, hands=("right",), width=640, height=480))
    ctl("start", "--hand", "right")
    wait_frames(ctl, hands=("right",), n=90)  # 3 s at 30 fps
    early = d.rss_kb()
    wait_frames(ctl, hands=("right",), n=360, timeout=120)  # 9 s more
    late = d.rss_kb()
    ctl("stop", "--hand", "right")
    assert late - early < 3 * 1024, f"RSS grew from {early} kB to {late} kB during the take"


def test_a_finished_take_leaves_the_page_cache(daemon_factory, ctl, tmp):
    """What a take wrote leaves the page cache once it is on the disk (writer.c, drop_cached()):
    two hands write 25 MB a second, and a board's memory would otherwise fill with the takes'
    pages until the kernel reclaims them, from the writer's own writes among others. The count
    of resident pages after the take (fincore, mincore(2)) is what is asserted; on tmpfs the page
    cache is the storage, so the takes go under the build tree, on the disk."""
    out = tempfile.mkdtemp(prefix="page-cache-", dir=BUILD)
    try:
        if subprocess.run(["stat", "-f", "-c", "%T", out], capture_output=True, text=True).stdout.strip() == "tmpfs":
            pytest.fail(f"{BUILD} is on tmpfs: this test needs a folder on a disk")
        daemon_factory(make_config(out, hands=("right",)))
        path = ctl("start", "--hand", "right").stdout.strip()
        wait_frames(ctl, hands=("right",), n=60)
        ctl("stop", "--hand", "right")
        size = os.path.getsize(path)
        res = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES", path],
                             capture_output=True, text=True, check=True)
        resident = int(res.stdout)
        print(f"{size} bytes written, {resident} resident in the page cache after the take")
        assert size > 1_000_000, size
        assert resident <= size // 20, (resident, size)
    finally:
        shutil.rmtree(out, ignore_errors=True)
