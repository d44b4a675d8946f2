"""Episodes, tasks, ListTakes and DiscardTake (docs/dbus-api.md), driven with python3-dbus and
busctl against a real handrecd on a private bus, the files read back with h5py; the resident
memory the daemon reports against /proc; the status line it sends to the service manager."""
import os
import re
import threading

import dbus
import dbus.mainloop.glib
import h5py
import pytest
from gi.repository import GLib

from conftest import ROOT, make_config, wait_past_the_second_of, wait_until
from test_system import system_bus  # noqa: F401  (the fixture: a system-type dbus-daemon with our policy)
from takecheck import check_take, text

NOT_A_TAKE = "org.handrec1.Error.NotATake"
TAKE_IN_USE = "org.handrec1.Error.TakeInUse"
INVALID = "org.handrec1.Error.InvalidOption"


@pytest.fixture
def conn(daemon):
    return dbus.bus.BusConnection(daemon.bus.address)


@pytest.fixture
def mgr(conn):
    return dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), "org.handrec1.Manager")


def hand_property(conn, hand, name):
    obj = conn.get_object("org.handrec1", f"/org/handrec1/hand/{hand}")
    return obj.Get("org.handrec1.Hand", name, dbus_interface="org.freedesktop.DBus.Properties")


def wait_state(mgr, hand, state, timeout=60):
    wait_until(lambda: str(mgr.Status(hand)["State"]) == state, timeout, f"{hand} to reach {state}")


def wait_written(mgr, hand, frames, timeout=60):
    """Until @hand's take has @frames frames in its file: a count, not a time."""
    def written():
        st = mgr.Status(hand)
        return str(st["State"]) == "recording" and int(st["FramesWritten"]) >= frames
    wait_until(written, timeout, f"{hand} to write {frames} frames")


def record(mgr, hand="right", frames=15, **options):
    """A take of @frames frames or a few more (the writer appends in batches)."""
    path = str(mgr.StartRecording(hand, dbus.Dictionary(options, signature="sv")))
    wait_state(mgr, hand, "recording")
    wait_written(mgr, hand, frames)
    mgr.StopRecording(hand, timeout=60)
    return path


def refused(name, fn, *args):
    with pytest.raises(dbus.exceptions.DBusException) as e:
        fn(*args)
    assert e.value.get_dbus_name() == name, e.value
    return e.value.get_dbus_message()


# ---- episode and task ------------------------------------------------------------------------

def test_one_episode_in_both_hands_files(daemon, conn, mgr):
    task = 'Pick the "red" cup — rotate 90°, place it ↗'
    opts = {"episode": "20261126T043000Z-a1b2", "task": task}
    paths = {h: str(mgr.StartRecording(h, dbus.Dictionary(opts, signature="sv"))) for h in ("left", "right")}
    for h in paths:
        wait_state(mgr, h, "recording")
        assert str(hand_property(conn, h, "Episode")) == opts["episode"]
        assert str(hand_property(conn, h, "Task")) == task
        st = mgr.Status(h)
        assert str(st["Episode"]) == opts["episode"] and str(st["Task"]) == task
    for h in paths:
        wait_written(mgr, h, 15)
    for h in paths:
        mgr.StopRecording(h, timeout=60)
        assert str(hand_property(conn, h, "Episode")) == "" and str(hand_property(conn, h, "Task")) == ""
    for h, path in paths.items():
        attrs, n, _ = check_take(path, hand=h, reason="requested")
        assert n > 0
        assert text(attrs["episode"]) == opts["episode"]
        assert text(attrs["task"]) == task


def test_no_episode_no_attribute(daemon, mgr):
    path = record(mgr, frames=6)
    attrs, _, _ = check_take(path, hand="right")
    assert "episode" not in attrs and "task" not in attrs


@pytest.mark.parametrize("task", ["x" * 1024, "é" * 512, "quotes \" ' and \\ backslash", "日本語のタスク"])
def test_task_accepted(daemon, mgr, task):
    path = record(mgr, frames=3, task=task)
    with h5py.File(path, "r") as f:
        assert text(f.attrs["task"]) == task


@pytest.mark.parametrize("task,words", [
    ("x" * 1025, "The task is 1025 bytes long; describe it in at most 1024 bytes of UTF-8."),
    ("é" * 512 + "x", "The task is 1025 bytes long"),
    ("two\nlines", "The task must be printable text"),
    ("tab\there", "The task must be printable text"),
    ("C1 \u0085 control", "The task must be printable text"),
])
def test_task_refused(daemon, mgr, outdir, task, words):
    msg = refused(INVALID, mgr.StartRecording, "right", dbus.Dictionary({"task": task}, signature="sv"))
    assert words in msg
    assert os.listdir(outdir) == []


def test_task_invalid_utf8_never_reaches_the_daemon(daemon, mgr, outdir):
    """Bytes that are not UTF-8 cannot be sent as a D-Bus string: the client library refuses them
    (the bus would disconnect a client that sent them), so the daemon's own check (unit test) is a
    second line; the daemon keeps running."""
    with pytest.raises((UnicodeError, dbus.exceptions.DBusException, TypeError)):
        mgr.StartRecording("right", dbus.Dictionary({"task": "bad \udcff byte"}, signature="sv"))
    assert os.listdir(outdir) == []
    assert str(mgr.Status("right")["State"]) == "idle"


@pytest.mark.parametrize("episode", ["", "a b", "x" * 65, "ep/1", "épisode"])
def test_bad_episode_refused(daemon, mgr, outdir, episode):
    msg = refused(INVALID, mgr.StartRecording, "right", dbus.Dictionary({"episode": episode}, signature="sv"))
    assert "use 1 to 64 letters, digits, '_', '.' or '-'" in msg
    assert os.listdir(outdir) == []


def test_episode_and_task_with_busctl(daemon, busctl):
    out = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "StartRecording", "sa{sv}",
                 "left", "2", "episode", "s", "ep.1_x-2", "task", "s", "wipe the table").stdout
    path = re.match(r'^s "(.*)"$', out.strip()).group(1)
    wait_until(lambda: int(busctl("get-property", "org.handrec1", "/org/handrec1/hand/left", "org.handrec1.Hand",
                                  "FramesWritten").stdout.split()[1]) >= 15, what="the busctl take to write 15 frames")
    busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "StopRecording", "s", "left")
    attrs, _, _ = check_take(path, hand="left")
    assert text(attrs["episode"]) == "ep.1_x-2" and text(attrs["task"]) == "wipe the table"


# ---- ListTakes -----------------------------------------------------------------------------

def test_list_takes_newest_first_with_the_running_one(daemon, mgr):
    first = record(mgr, "right", 9, episode="e1", task="first", label="one")
    wait_past_the_second_of(first)  # names are by the second: the next take sorts after
    second = record(mgr, "left", 9, episode="e2")
    wait_past_the_second_of(second)
    running = str(mgr.StartRecording("right", dbus.Dictionary({"episode": "e3", "task": "third"},
                                                                signature="sv")))
    wait_state(mgr, "right", "recording")
    takes = [(str(p), {str(k): v for k, v in d.items()}) for p, d in mgr.ListTakes(dbus.Dictionary({}, signature="sv"))]
    assert [p for p, _ in takes] == [running, second, first]
    run, sec, fst = (d for _, d in takes)
    assert run["status"] == "recording" and run["episode"] == "e3" and run["task"] == "third"
    assert run["hand"] == "right" and run["frames"] >= 0 and run["started_utc"].endswith("Z")
    assert fst["status"] == "complete" and fst["stop_reason"] == "requested"
    assert fst["episode"] == "e1" and fst["task"] == "first" and fst["label"] == "one" and fst["hand"] == "right"
    attrs, n, _ = check_take(first, hand="right")
    assert int(fst["frames"]) == n and fst["duration"] == pytest.approx(float(attrs["duration_s"]))
    assert int(fst["bytes"]) == os.path.getsize(first)
    assert fst["started_utc"] == text(attrs["started_utc"])
    assert sec["episode"] == "e2" and sec["task"] == "" and sec["hand"] == "left"
    assert "error" not in fst
    mgr.StopRecording("right", timeout=60)
    # options: one hand, a limit
    only_left = mgr.ListTakes(dbus.Dictionary({"hand": "left"}, signature="sv"))
    assert [str(p) for p, _ in only_left] == [second]
    one = mgr.ListTakes(dbus.Dictionary({"limit": dbus.UInt32(1)}, signature="sv"))
    assert [str(p) for p, _ in one] == [running]
    assert str(one[0][1]["status"]) == "complete"


def test_list_takes_refusals_and_unreadable(daemon, mgr, outdir):
    os.makedirs(os.path.join(outdir, "right"))
    with open(os.path.join(outdir, "right", "20200101-000000.h5"), "w") as f:
        f.write("not HDF5")
    takes = mgr.ListTakes(dbus.Dictionary({}, signature="sv"))
    assert len(takes) == 1
    assert str(takes[0][1]["status"]) == "unreadable" and str(takes[0][1]["error"])
    refused(INVALID, mgr.ListTakes, dbus.Dictionary({"limit": dbus.UInt32(0)}, signature="sv"))
    refused(INVALID, mgr.ListTakes, dbus.Dictionary({"limit": dbus.UInt32(1001)}, signature="sv"))
    refused(INVALID, mgr.ListTakes, dbus.Dictionary({"colour": "red"}, signature="sv"))
    refused("org.handrec1.Error.NoSuchHand", mgr.ListTakes, dbus.Dictionary({"hand": "middle"}, signature="sv"))
    # read as every method's options are (bus-options.c): any number type for the limit, a wrong
    # type named, a fraction refused
    assert len(mgr.ListTakes(dbus.Dictionary({"limit": dbus.Int32(5)}, signature="sv"))) == 1
    refused(INVALID, mgr.ListTakes, dbus.Dictionary({"hand": dbus.UInt32(1)}, signature="sv"))
    refused(INVALID, mgr.ListTakes, dbus.Dictionary({"limit": dbus.Double(2.5)}, signature="sv"))
    refused(INVALID, mgr.ListTakes, dbus.Dictionary({"limit": "ten"}, signature="sv"))


# ---- DiscardTake ---------------------------------------------------------------------------

def test_discard_a_finished_take_with_its_signal(daemon, bus, mgr):
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    conn = dbus.bus.BusConnection(bus.address)
    seen = []
    conn.add_signal_receiver(lambda f: seen.append(str(f)), signal_name="TakeDiscarded",
                             dbus_interface="org.handrec1.Manager")
    loop = GLib.MainLoop()
    threading.Thread(target=loop.run, daemon=True).start()
    try:
        keep = record(mgr, "right", 6)
        wait_past_the_second_of(keep)  # names are by the second: newest first, by name
        gone = record(mgr, "right", 6)
        mgr.DiscardTake(gone)
        assert not os.path.exists(gone) and os.path.exists(keep)
        wait_until(lambda: seen, what="TakeDiscarded")
        assert seen == [gone]
        assert [str(p) for p, _ in mgr.ListTakes(dbus.Dictionary({}, signature="sv"))] == [keep]
        # gone is gone: discarding it again says so
        assert "there is no such file" in refused(NOT_A_TAKE, mgr.DiscardTake, gone)
    finally:
        loop.quit()


def test_discard_refusals(daemon, mgr, outdir, tmp):
    take = record(mgr, "right", 6)
    size = os.path.getsize(take)
    # outside output_dir
    outside = os.path.join(tmp, "elsewhere.h5")
    with h5py.File(outside, "w") as f:
        f.attrs["format"] = "handrec"
    assert "directly in a hand's folder" in refused(NOT_A_TAKE, mgr.DiscardTake, outside)
    assert "directly in a hand's folder" in refused(NOT_A_TAKE, mgr.DiscardTake, os.path.join(
        outdir, "right", "..", "..", "elsewhere.h5"))
    assert "directly in a hand's folder" in refused(NOT_A_TAKE, mgr.DiscardTake, "right/" + os.path.basename(take))
    assert os.path.exists(outside)
    # a folder outside that links into output_dir: not the output folder's path
    alias = os.path.join(tmp, "alias")
    os.symlink(outdir, alias)
    refused(NOT_A_TAKE, mgr.DiscardTake, os.path.join(alias, "right", os.path.basename(take)))
    # a symbolic link in the hand folder, pointing at a real take
    link = os.path.join(outdir, "right", "link.h5")
    os.symlink(take, link)
    assert "symbolic link" in refused(NOT_A_TAKE, mgr.DiscardTake, link)
    assert os.path.islink(link) and os.path.getsize(take) == size
    # a hand folder that is a link
    os.symlink(os.path.join(outdir, "right"), os.path.join(outdir, "middle"))
    refused(NOT_A_TAKE, mgr.DiscardTake, os.path.join(outdir, "middle", os.path.basename(take)))
    # a file handrecd did not write, in the hand folder
    foreign = os.path.join(outdir, "right", "foreign.h5")
    with h5py.File(foreign, "w") as f:
        f.attrs["format"] = "something-else"
    assert "handrecd did not write it" in refused(NOT_A_TAKE, mgr.DiscardTake, foreign)
    notes = os.path.join(outdir, "right", "notes.txt")
    with open(notes, "w") as f:
        f.write("hello")
    assert "cannot be read as an HDF5 file" in refused(NOT_A_TAKE, mgr.DiscardTake, notes)
    os.makedirs(os.path.join(outdir, "right", "sub"))
    assert "not a regular file" in refused(NOT_A_TAKE, mgr.DiscardTake, os.path.join(outdir, "right", "sub"))
    assert all(os.path.exists(p) for p in (foreign, notes, take))
    # the take being recorded
    live = str(mgr.StartRecording("right", dbus.Dictionary({}, signature="sv")))
    wait_state(mgr, "right", "recording")
    msg = refused(TAKE_IN_USE, mgr.DiscardTake, live)
    assert "Hand right is recording" in msg and "handrecctl stop --hand right" in msg
    mgr.StopRecording("right", timeout=60)
    check_take(live, hand="right")
    mgr.DiscardTake(live)  # finished now: it may go
    assert not os.path.exists(live)


def test_policy_allows_discard_only_to_root_and_group_handrec_and_list_to_anyone():
    text_ = open(os.path.join(ROOT, "dbus", "org.handrec1.conf")).read()
    policies = dict((a.strip(), body) for a, body in re.findall(r'<policy ([^>]*)>(.*?)</policy>', text_, re.S))
    everything = 'send_destination="org.handrec1"/>'
    for who in ('group="handrec"', 'user="root"'):
        assert 'send_member="DiscardTake"' in policies[who] or everything in policies[who]
    assert 'send_member="DiscardTake"' not in policies['context="default"']
    assert everything not in policies['context="default"']
    assert 'send_member="ListTakes"' in policies['context="default"']


# ---- resident memory and the status line ------------------------------------------------------

@pytest.mark.native_daemon
def test_resident_memory_is_vmrss(daemon, conn, mgr):
    props = conn.get_object("org.handrec1", "/org/handrec1")
    for _ in range(3):
        before = daemon.rss_kb() * 1024
        got = int(props.Get("org.handrec1.Manager", "ResidentMemory",
                            dbus_interface="org.freedesktop.DBus.Properties"))
        after = daemon.rss_kb() * 1024
        status = int(mgr.Status("right")["ResidentMemory"])
        lo, hi = min(before, after), max(before, after)
        assert lo * 0.9 - (1 << 20) <= got <= hi * 1.1 + (1 << 20), (before, got, after)
        assert lo * 0.9 - (1 << 20) <= status <= hi * 1.1 + (1 << 20), (before, status, after)


def test_status_line_sent_to_the_service_manager(daemon, mgr):
    pattern = re.compile(r"\[RIGHT\] recording: \d+ frames \(\d+\.\ds, \d+\.\dfps, written:\d+, queue:\d+/100, "
                         r"mem:(\d+)MB, \d+\.\d[MG]B, dropped:\d+, gaps:\d+, disk:")

    def status_lines():
        return [m.split("STATUS=", 1)[1].split("\n")[0] for m in daemon.read_notifications() if "STATUS=" in m]
    mgr.StartRecording("right", dbus.Dictionary({}, signature="sv"))
    wait_state(mgr, "right", "recording")
    # STATUS= is sent at most once a second: until one shows the take
    wait_until(lambda: any(pattern.search(line) for line in status_lines()), what="a STATUS= line of the take")
    mgr.StopRecording("right", timeout=60)
    lines = status_lines()
    found = [pattern.search(line) for line in lines]
    found = [m for m in found if m]
    assert found, lines
    assert all(0 < int(m.group(1)) < 2000 for m in found)


def test_discard_on_the_system_bus_by_who_may(system_bus, tmp):
    """The policy in a real system-type dbus-daemon: a user outside group handrec may list takes
    but not discard one (AccessDenied, by name); a member of the group may."""
    import subprocess
    from conftest import HANDRECD
    from test_system import NOBODY

    env, gid = system_bus
    out = os.path.join(tmp, "out")
    conf = os.path.join(tmp, "handrecd.conf")
    with open(conf, "w") as f:
        f.write(make_config(out, hands=("right",)))
    os.makedirs(out)
    os.chmod(out, 0o777)
    daemon = subprocess.Popen([HANDRECD, "--config", conf], env=env, stderr=subprocess.DEVNULL)
    try:
        def call(*args, groups=None):
            cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}"]
            cmd += [f"--groups={groups}"] if groups else ["--clear-groups"]
            py = ("import dbus, sys\n"
                  "m = dbus.Interface(dbus.SystemBus().get_object('org.handrec1', '/org/handrec1'), "
                  "'org.handrec1.Manager')\n"
                  "try:\n"
                  "    print(repr(eval(sys.argv[1])))\n"
                  "except dbus.exceptions.DBusException as e:\n"
                  "    print(e.get_dbus_name())\n")
            return subprocess.run(cmd + ["/usr/bin/python3", "-c", py, *args], env=env, capture_output=True,
                                  text=True, timeout=30).stdout.strip()

        wait_until(lambda: call("m.ListHands()") == "dbus.Array([dbus.String('right')], signature=dbus.Signature('s'))",
                   what="handrecd on the system bus", interval=0.1)
        path = call("str(m.StartRecording('right', dbus.Dictionary({}, signature='sv')))", groups=str(gid)).strip("'")
        assert path.startswith(out), path
        wait_until(lambda: call("str(m.Status('right')['State'])") == "'recording'", what="the take to record",
                   interval=0.1)
        call("m.StopRecording('right')", groups=str(gid))
        assert path in call("[str(p) for p, _ in m.ListTakes(dbus.Dictionary({}, signature='sv'))]")  # anyone may list
        assert call(f"m.DiscardTake({path!r})") == "org.freedesktop.DBus.Error.AccessDenied"
        assert os.path.exists(path)
        assert call(f"m.DiscardTake({path!r})", groups=str(gid)) == "None"
        assert not os.path.exists(path)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
