"""The operator's day (issue 14) through handrecctl against a real handrecd on a private bus:
episodes on both hands from one command with one episode id and the task, `stop` with no hand,
`watch` until the last take, Ctrl-C on `start --follow` (once: the takes stop and their files are
complete; twice: left to the daemon), `takes`, `discard`, every `--json` output parsed by
`python3 -m json.tool`, the status line's queue capacity and resident memory, the exit codes, and
the help text. Files are read back with h5py."""
import json
import os
import re
import signal
import subprocess
import time

import h5py
import pytest

from conftest import BUILD, HANDRECCTL, ROOT, make_config
from takecheck import check_take, text

TASK = 'pick up the "blue" cup — ça va'


def wait_for(cond, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("condition not met")


def states(ctl):
    doc = json.loads(ctl("status", "--json").stdout)
    return {h["name"]: h["state"] for h in doc["hands"]}


def json_tool(out):
    """Parse as `python3 -m json.tool` does (the interpreter's own json module), then as json."""
    p = subprocess.run(["/usr/bin/python3", "-m", "json.tool"], input=out, capture_output=True, text=True)
    assert p.returncode == 0, (out, p.stderr)
    return json.loads(out)


def attrs(path):
    with h5py.File(path, "r") as f:
        return {k: text(v) for k, v in f.attrs.items()}


def test_both_hands_one_episode(daemon, ctl, outdir):
    p = ctl("start", "--hand", "all", "--task", TASK, "--duration", "0.5", "--follow")
    files = [line for line in p.stdout.splitlines() if line.endswith(".h5")]
    left = [f for f in files if "/left/" in f]
    right = [f for f in files if "/right/" in f]
    assert left and right, p.stdout
    assert len(set(files)) == 2, p.stdout
    a, b = attrs(left[0]), attrs(right[0])
    assert a["episode"] == b["episode"] and a["episode"], (a, b)
    assert a["task"] == b["task"] == TASK
    for f in (left[0], right[0]):
        check_take(f, reason="duration")
    # a repeated --hand is counted once; left and right named one by one make one episode too
    p = ctl("start", "--hand", "left", "--hand", "right", "--hand", "left", "--duration", "0.3", "--follow")
    files = sorted({line for line in p.stdout.splitlines() if line.endswith(".h5")})
    assert len(files) == 2, p.stdout
    assert attrs(files[0])["episode"] == attrs(files[1])["episode"] != a["episode"]
    assert "task" not in attrs(files[0])


def test_start_refuses_bad_usage_and_long_task(daemon, ctl):
    p = ctl("start", check=False)
    assert p.returncode == 2 and "--hand" in p.stderr
    p = ctl("start", "--hand", "all", "--task", "x" * 1025, check=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert p.stderr.strip(), "the daemon's sentence is printed"
    assert set(states(ctl).values()) == {"idle"}, "no half episode is left recording"


def test_stop_with_no_hand_stops_every_recording_hand(daemon, ctl):
    started = json_tool(ctl("start", "--hand", "all", "--json").stdout)
    assert {t["hand"] for t in started["takes"]} == {"left", "right"}
    wait_for(lambda: set(states(ctl).values()) == {"recording"})
    doc = json_tool(ctl("stop", "--json").stdout)
    assert {t["hand"] for t in doc["takes"]} == {"left", "right"}
    assert {t["file"] for t in doc["takes"]} == {t["file"] for t in started["takes"]}
    for t in doc["takes"]:
        assert t["summary"]["reason"] == "requested"
        check_take(t["file"], reason="requested")
    assert set(states(ctl).values()) == {"idle"}
    p = ctl("stop", check=False)
    assert p.returncode == 1 and "no hand is recording" in p.stderr


def test_watch_with_both_hands_runs_until_the_last_take_ends(daemon, ctl):
    ctl("start", "--hand", "left", "--duration", "0.4")
    ctl("start", "--hand", "right", "--duration", "1.5")
    p = ctl("watch")
    out = p.stdout.splitlines()
    assert any(line.startswith("[LEFT] stopped (duration)") for line in out), out
    assert out[-1].startswith("[RIGHT] stopped (duration)"), out


def test_sigint_on_follow_stops_the_takes_and_waits(daemon, ctl, bus, outdir):
    p = subprocess.Popen([HANDRECCTL, "--user", "start", "--hand", "all", "--follow"], env=bus.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: set(states(ctl).values()) == {"recording"})
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, (out, err)
    assert "stopping the takes" in err
    stopped = [line for line in out.splitlines() if "stopped (requested)" in line]
    assert len(stopped) == 2, out
    # the files were complete when handrecctl returned, and the hands are idle
    assert set(states(ctl).values()) == {"idle"}
    for f in {line for line in out.splitlines() if line.endswith(".h5")}:
        check_take(f, reason="requested")


@pytest.fixture(scope="session")
def fault_shim():
    """$(BUILD)/fault-io.so (tests/faults/fault-io.c), built here when make has not."""
    so = os.path.join(BUILD, "fault-io.so")
    src = os.path.join(ROOT, "tests", "faults", "fault-io.c")
    if not os.path.exists(so) or os.path.getmtime(so) < os.path.getmtime(src):
        os.makedirs(BUILD, exist_ok=True)
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC", "-pthread", "-o", so, src, "-ldl"],
                       check=True)
    return so


@pytest.mark.native_daemon
def test_second_sigint_leaves_the_takes_to_the_daemon(daemon_factory, ctl, bus, outdir, tmp, fault_shim):
    """The disk is held (fault-io's hold=) so the stop the first Ctrl-C asks for cannot finish
    before the second Ctrl-C: that one leaves the take to handrecd, which completes it once the
    disk lets it."""
    hold = os.path.join(tmp, "hold")
    daemon_factory(make_config(outdir, hands=("right",)), env={"LD_PRELOAD": fault_shim,
                                                              "HANDREC_FAULT": f"hold={hold}"})
    p = subprocess.Popen([HANDRECCTL, "--user", "start", "--hand", "right", "--follow"], env=bus.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: states(ctl)["right"] == "recording")
    open(hold, "w").close()
    p.send_signal(signal.SIGINT)
    wait_for(lambda: states(ctl)["right"] == "stopping")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, (out, err)
    assert "stopping the take" in err and "left to handrecd" in err, err
    file = out.splitlines()[0]
    assert file in err
    os.remove(hold)
    wait_for(lambda: states(ctl)["right"] == "idle")
    check_take(file, reason="requested")


def test_status_line_has_queue_capacity_and_memory(daemon, ctl):
    ctl("start", "--hand", "right")
    wait_for(lambda: states(ctl)["right"] == "recording")
    line = ctl("status", "--hand", "right").stdout.splitlines()[0]
    ctl("stop", "--hand", "right")
    assert line.startswith("[RIGHT] recording: "), line
    m = re.search(r"queue:(\d+)/(\d+), mem:(\d+)MB, ", line)
    assert m, line
    assert int(m.group(2)) > 0 and int(m.group(1)) <= int(m.group(2))
    assert int(m.group(3)) > 0


def test_every_json_output_parses(daemon, ctl):
    assert json_tool(ctl("list", "--json").stdout) == {"hands": ["left", "right"]}
    assert json_tool(ctl("--json", "list").stdout) == {"hands": ["left", "right"]}
    started = json_tool(ctl("start", "--hand", "all", "--task", TASK, "--label", "cup_blue", "--json").stdout)
    assert started["task"] == TASK and started["episode"]
    status = json_tool(ctl("--json", "status").stdout)
    assert {h["name"] for h in status["hands"]} == {"left", "right"}
    for h in status["hands"]:
        assert h["task"] == TASK and h["episode"] == started["episode"]
        assert h["queue_capacity"] > 0 and h["resident_memory"] > 0
    stopped = json_tool(ctl("stop", "--json").stdout)
    takes = json_tool(ctl("takes", "--json").stdout)["takes"]
    assert {t["file"] for t in takes[:2]} == {t["file"] for t in stopped["takes"]}
    for t in takes[:2]:
        assert t["task"] == TASK and t["episode"] == started["episode"] and t["status"] == "complete"
        assert t["label"] == "cup_blue"
    p = ctl("--json", "check", "x", check=False)  # a command without --json says so
    assert p.returncode == 2


def test_status_exits_3_when_a_hand_has_no_device(daemon_factory, ctl, outdir):
    text_ = make_config(outdir).replace('source = "synthetic";', 'source = "v4l2"; device = "/dev/video-missing-42";', 1)
    daemon_factory(text_)
    p = ctl("status", check=False)
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert "no-device" in p.stdout
    p = ctl("status", "--json", check=False)
    assert p.returncode == 3
    assert "no-device" in {h["state"] for h in json_tool(p.stdout)["hands"]}


def test_takes_and_discard(daemon, ctl, outdir, tmp):
    p = ctl("start", "--hand", "all", "--duration", "0.3", "--follow")
    first = sorted({line for line in p.stdout.splitlines() if line.endswith(".h5")})
    p = ctl("start", "--hand", "all", "--duration", "0.3", "--follow")
    second = sorted({line for line in p.stdout.splitlines() if line.endswith(".h5")})
    listing = ctl("takes").stdout
    for f in first + second:
        assert f in listing
    # a file outside output_dir, a file that is not a take, and one being recorded are refused
    stray = os.path.join(tmp, "stray.h5")
    with h5py.File(stray, "w") as f:
        f.attrs["format"] = "handrec"
    p = ctl("discard", stray, check=False)
    assert p.returncode == 1 and os.path.exists(stray), p.stderr
    ctl("start", "--hand", "right")
    live = json.loads(ctl("status", "--json", "--hand", "right").stdout)["hands"][0]["file"]
    p = ctl("discard", live, check=False)
    assert p.returncode == 1 and os.path.exists(live), p.stderr
    p = ctl("discard", "--last", "--hand", "right", check=False)
    assert p.returncode == 1 and "being recorded" in p.stderr
    ctl("stop")
    ctl("discard", live)
    assert not os.path.exists(live)
    # --last: the newest take and the other hand's take of its episode
    p = ctl("discard", "--last")
    assert sorted(line.split(" ", 1)[1] for line in p.stdout.splitlines()) == second
    assert not any(os.path.exists(f) for f in second)
    assert all(os.path.exists(f) for f in first)
    assert ctl("discard", check=False).returncode == 2


def test_help_speaks_to_a_new_user(ctl):
    out = ctl("--help").stdout
    assert "--version" in out and "record" in out and "--json" in out
    assert "old collector" not in out
    for cmd in ("start", "stop", "status", "watch", "record", "takes", "discard", "list"):
        p = ctl(cmd, "--help")
        assert p.stdout.startswith("Usage: handrecctl " + cmd), cmd
        assert "old collector" not in p.stdout
