"""handrecctl and the Hand properties: `start --follow` cannot miss the end of a short take, and
Status, the properties and PropertiesChanged agree with dbus/org.handrec1.xml (one table in
daemon/bus.c drives all three)."""
import json
import os
import threading
import xml.etree.ElementTree as ET

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

from conftest import ROOT, make_config, wait_until
from takecheck import check_take, text

# Published on every state change; LIVE ones also 4 times a second while a take runs.
ON_STATE = {"State", "File", "LastError", "CameraFps", "Previews", "Episode", "Task"}
LIVE = {"FramesCaptured", "FramesWritten", "FramesDropped", "DroppedByCause", "QueueDepth", "Fps", "Duration",
        "BytesWritten", "PairSkewMean", "PairSkewMax", "ResidentMemory", "Warnings", "FramesMissing", "DiskFree",
        "DiskTimeLeft"}


def xml_hand_properties():
    root = ET.parse(os.path.join(ROOT, "dbus", "org.handrec1.xml")).getroot()
    hand = next(i for i in root.findall("interface") if i.get("name") == "org.handrec1.Hand")
    return {p.get("name"): p.get("type") for p in hand.findall("property")}


def test_follow_returns_after_a_short_take(daemon_factory, ctl, outdir):
    """A take that ends before the client could listen, if it listened late: a hang test, with a
    camera that needs no warm-up so the take ends as fast as it can."""
    daemon_factory(make_config(outdir, hands=("right",), warmup=0, fps=60))
    for _ in range(5):
        p = ctl("start", "--hand", "right", "--duration", "0.1", "--follow", timeout=30)
        lines = p.stdout.splitlines()
        path = lines[0]
        assert path.startswith(os.path.join(outdir, "right")) and path.endswith(".h5"), lines
        assert lines[-2] == path, lines
        assert lines[-1].startswith("[RIGHT] stopped (duration): "), lines
        check_take(path, hand="right", reason="duration")


def test_start_names_the_operator_as_record_does(daemon_factory, ctl, outdir):
    """`start` without --operator stores who ran it (the login name), as `record` does; --operator
    overrides it."""
    import pwd
    daemon_factory(make_config(outdir, hands=("right",), warmup=0))
    names = {pwd.getpwuid(os.getuid()).pw_name}
    try:
        names.add(os.getlogin())
    except OSError:
        pass  # no controlling terminal's login: handrecctl falls back to the user's name too
    for args, want in (((), names), (("--operator", "bea"), {"bea"})):
        p = ctl("start", "--hand", "right", "--duration", "0.1", "--follow", *args, timeout=30)
        attrs, _, _ = check_take(p.stdout.splitlines()[0], hand="right", reason="duration")
        assert text(attrs["operator"]) in want, (attrs["operator"], want)


def test_status_has_every_property_with_its_type(daemon, busctl):
    status = json.loads(busctl("call", "--json=short", "org.handrec1", "/org/handrec1", "org.handrec1.Manager",
                               "Status", "s", "right").stdout)
    got = {k: v["type"] for k, v in status["data"][0].items()}
    assert got == xml_hand_properties()
    assert status["data"][0]["Name"]["data"] == "right"
    assert status["data"][0]["State"]["data"] == "idle"


def test_properties_changed_lists(daemon, bus):
    """State changes publish every property that can change; the ticks of a take its counters."""
    assert ON_STATE | LIVE == set(xml_hand_properties()) - {"Name", "QueueCapacity"}
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    conn = dbus.bus.BusConnection(bus.address)
    changes = []
    conn.add_signal_receiver(lambda iface, changed, inval, path=None: changes.append(
                                 (path, set(changed), str(changed.get("State", "")))),
                             signal_name="PropertiesChanged", dbus_interface="org.freedesktop.DBus.Properties",
                             path_keyword="path")
    loop = GLib.MainLoop()
    threading.Thread(target=loop.run, daemon=True).start()
    try:
        mgr = dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), "org.handrec1.Manager")
        mgr.StartRecording("right", dbus.Dictionary({"duration": dbus.Double(1.5)}, signature="sv"))
        # until the last change of the take, to idle, has come (the take ends by itself)
        wait_until(lambda: any(path == "/org/handrec1/hand/right" and state == "idle" for path, _, state in changes),
                   what="the right hand's PropertiesChanged to idle")
    finally:
        loop.quit()
    right = [names for path, names, _ in changes if path == "/org/handrec1/hand/right"]
    assert all(names in (ON_STATE | LIVE, LIVE) for names in right), right
    assert right.count(ON_STATE | LIVE) == 4, right  # warming, recording, stopping, idle
    assert right.count(LIVE) >= 3, right
