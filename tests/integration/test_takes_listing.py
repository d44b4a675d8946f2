"""What ListTakes and a hand's Status tell the operator (issue 20): takes by episode, task and
time; the operator and the quality verdict of each; a recovered take's duration from its frames;
the frames the camera never gave and the disk's time left, live."""
import json
import os
import signal

import dbus
import pytest

from conftest import make_config, wait_until
from takecheck import check_take

MANAGER = "org.handrec1.Manager"


@pytest.fixture
def mgr(bus):
    conn = dbus.bus.BusConnection(bus.address)
    yield lambda: dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), MANAGER)
    conn.close()


def opts(**kw):
    return dbus.Dictionary(kw, signature="sv")


def wait_written(m, hand, n):
    wait_until(lambda: str(m.Status(hand)["State"]) == "recording" and int(m.Status(hand)["FramesWritten"]) >= n,
               what=f"{hand} to write {n} frames")


def record_episode(m, episode, task, hands=("left", "right"), operator="ana"):
    _, takes = m.StartEpisode(list(hands), opts(episode=episode, task=task, operator=operator))
    for h in hands:
        wait_written(m, h, 6)
    for h in hands:
        m.StopRecording(h)
    return {str(h): str(f) for h, f in takes}


def listed(m, **kw):
    return {str(p): {str(k): v for k, v in e.items()} for p, e in m.ListTakes(opts(**kw))}


def test_takes_are_found_by_episode_task_and_time(daemon, mgr):
    m = mgr()
    first = record_episode(m, "ep-one", "cups")
    second = record_episode(m, "ep-two", "plates")
    everything = listed(m)
    assert set(everything) == set(first.values()) | set(second.values())
    assert set(listed(m, episode="ep-one")) == set(first.values())
    assert set(listed(m, task="plates")) == set(second.values())
    assert listed(m, task="cup") == {}  # a task is matched whole
    # since: the second episode's start, as its takes say it
    since = min(str(e["started_utc"]) for p, e in everything.items() if p in second.values())
    got = listed(m, since=since)
    assert set(second.values()) <= set(got) and all(str(e["started_utc"]) >= since for e in got.values())
    assert listed(m, since="2999-01-01T00:00:00Z") == {}
    # the newest that match, limit of them
    assert len(listed(m, episode="ep-one", limit=dbus.UInt32(1))) == 1
    e = everything[first["left"]]
    assert str(e["operator"]) == "ana" and str(e["qc_verdict"]) == "ok" and str(e["stop_reason"]) == "requested"


@pytest.mark.parametrize("since", ["2026-12-06", "yesterday", "2026-12-06T09:30:00", "2026-13-06T09:30:00Z"])
def test_since_must_be_a_utc_time(daemon, mgr, since):
    with pytest.raises(dbus.DBusException) as e:
        mgr().ListTakes(opts(since=since))
    assert e.value.get_dbus_name() == "org.handrec1.Error.InvalidOption"
    assert "written as 2026-12-06T09:30:00Z" in e.value.get_dbus_message()


def test_a_recovered_take_has_its_duration(daemon_factory, ctl, mgr, outdir):
    d = daemon_factory(make_config(outdir))
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_written(mgr(), "right", 45)
    d.stop(signal.SIGKILL)
    d.start()  # recovers the take
    attrs, n, _ = check_take(path, status="recovered", reason="crash")
    e = listed(mgr(), hand="right")[path]
    assert str(e["status"]) == "recovered" and int(e["frames"]) == n >= 45
    # from its frames' timestamps: n frames at 30 fps, give or take the camera's skips
    assert float(e["duration"]) == pytest.approx(float(attrs["duration_s"])) and float(e["duration"]) >= (n - 1) / 30


def test_status_tells_the_disk_and_the_frames_the_camera_never_gave(daemon, mgr, outdir):
    m = mgr()
    st = m.Status("right")
    assert float(st["DiskTimeLeft"]) == -1  # no take yet: no rate
    free = os.statvfs(outdir)
    assert int(st["DiskFree"]) == pytest.approx(free.f_bavail * free.f_frsize, rel=0.05)
    m.StartRecording("right", opts())
    wait_until(lambda: float(m.Status("right")["Duration"]) >= 1.5, what="a take of 1.5 s")
    st = m.Status("right")
    rate = int(st["BytesWritten"]) / float(st["Duration"])
    left = (int(st["DiskFree"]) - 1_000_000) / rate  # min_free_mb = 1
    assert float(st["DiskTimeLeft"]) == pytest.approx(left, rel=0.3)
    causes = {str(k): int(v) for k, v in st["DroppedByCause"].items()}
    assert int(st["FramesMissing"]) == causes["camera"] + causes["unpaired-left"] + causes["unpaired-right"]
    m.StopRecording("right")


def test_takes_by_episode_from_the_command_line(daemon, ctl, mgr):
    m = mgr()
    first = record_episode(m, "ep-one", "cups")
    second = record_episode(m, "ep-two", "plates", operator="bo")
    m.DecideEpisode("ep-one", opts(keep=True, success=False))
    out = ctl("takes").stdout
    # grouped: each episode's line, then its takes, the newest episode first
    assert out.index("Episode ep-two") < out.index("Episode ep-one"), out
    assert 'Episode ep-one, task "cups", operator ana: complete, kept as a failure' in out, out
    assert 'Episode ep-two, task "plates", operator bo: complete, undecided' in out, out
    block = out[out.index("Episode ep-one"):]
    assert first["left"] in block and first["right"] in block and second["left"] not in block
    got = json.loads(ctl("takes", "--json", "--episode", "ep-two").stdout)
    assert {t["file"] for t in got["takes"]} == set(second.values())
    assert [e["episode"] for e in got["episodes"]] == ["ep-two"] and got["episodes"][0]["decision"] == ""
    assert {t["file"] for t in json.loads(ctl("takes", "--json", "--task", "cups").stdout)["takes"]} == \
        set(first.values())
    assert len(json.loads(ctl("takes", "--json", "--since", "1h").stdout)["takes"]) == 4
    assert json.loads(ctl("takes", "--json", "--since", "2999-01-01T00:00:00Z").stdout)["takes"] == []
    p = ctl("takes", "--since", "last tuesday", check=False)
    assert p.returncode == 2 and "--since takes 90m, 2h, 3d, today, yesterday" in p.stderr
    # decided from the command line: kept as a success, then discarded (no terminal: no question)
    assert ctl("keep", "--episode", "ep-two", "--success", "--note", "clean grasp").stdout.strip() == \
        "episode ep-two kept as a success"
    (e,) = json.loads(ctl("takes", "--json", "--episode", "ep-two").stdout)["episodes"]
    assert e["decision"] == "kept" and e["success"] == "success" and e["note"] == "clean grasp"
    out = ctl("discard", "--episode", "ep-one").stdout
    assert "episode ep-one discarded" in out and not any(os.path.exists(f) for f in first.values())
    p = ctl("keep", "--episode", "no-such", check=False)
    assert p.returncode == 1 and "no-such" in p.stderr
