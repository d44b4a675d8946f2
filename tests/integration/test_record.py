"""`handrecctl record` in a real terminal: tmux runs it against a real handrecd on a private bus,
the test types as an operator would (send-keys) and reads the screen (capture-pane). One episode
is kept, one discarded; Ctrl-C while recording stops, keeps and ends. The files are read back with
h5py. HANDREC_RECORD_CAPTURE=FILE keeps the last screen (for the docs)."""
import json
import os
import shlex
import shutil
import subprocess
import time

import h5py
import pytest

from conftest import HANDRECCTL, wait_frames
from takecheck import check_take, text

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed "
                                "(scripts/install-deps.sh test installs it)")
TASK = "stack the cups"


class Term:
    """A tmux server of its own (-L), one window of 200x50 running handrecctl record."""

    def __init__(self, tmp, env, args):
        self.sock = os.path.join(tmp, "tmux.sock")
        cmd = " ".join(shlex.quote(a) for a in ["env", f"DBUS_SESSION_BUS_ADDRESS={env['DBUS_SESSION_BUS_ADDRESS']}",
                                                HANDRECCTL, "--user", "record", *args])
        cmd += "; echo EXIT=$?; sleep 600"
        self.tmux("new-session", "-d", "-x", "200", "-y", "50", cmd)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-S", "-200")

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def wait(self, what, count=1, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if s.count(what) >= count:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{what!r} (x{count}) never showed:\n{self.screen()}")

    def close(self):
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def term(tmp, bus):
    made = []

    def make(*args):
        made.append(Term(tmp, bus.env, args))
        return made[-1]
    yield make
    for t in made:
        t.close()


def takes(ctl):
    return json.loads(ctl("takes", "--json").stdout)["takes"]


def test_record_keeps_one_episode_and_discards_another(daemon, ctl, term):
    t = term("--hand", "all", "--task", TASK)
    t.wait("Episode 1: press Enter to start")
    t.keys("Enter")
    t.wait("recording episode")
    wait_frames(ctl)
    t.keys("Enter")
    t.wait("Keep episode 1? [K/d]")
    t.keys("k", "Enter")
    t.wait("kept episode 1")
    kept = takes(ctl)[:2]
    t.wait("Episode 2: press Enter to start")
    t.keys("Enter")
    t.wait("recording episode", count=2)
    wait_frames(ctl)
    t.keys("Enter")
    t.wait("Keep episode 2? [K/d]")
    discarded = takes(ctl)[:2]
    t.keys("d", "Enter")
    t.wait("discarded", count=2)
    t.keys("q", "Enter")
    screen = t.wait("EXIT=0")
    assert "1 episode kept, 1 discarded." in screen
    if os.environ.get("HANDREC_RECORD_CAPTURE"):
        with open(os.environ["HANDREC_RECORD_CAPTURE"], "w") as f:
            f.write(screen)
    assert {k["hand"] for k in kept} == {"left", "right"}
    assert kept[0]["episode"] == kept[1]["episode"]
    for k in kept:
        check_take(k["file"], reason="requested")
        with h5py.File(k["file"], "r") as f:
            assert text(f.attrs["task"]) == TASK
            assert text(f.attrs["episode"]) == k["episode"]
    assert discarded[0]["episode"] == discarded[1]["episode"] != kept[0]["episode"]
    for d in discarded:
        assert not os.path.exists(d["file"]), d
        assert d["file"] in screen
    assert [k["file"] for k in takes(ctl)] == [k["file"] for k in kept]


def test_ctrl_c_while_recording_stops_keeps_and_ends(daemon, ctl, term):
    t = term("--hand", "right")
    t.wait("Episode 1: press Enter to start")
    t.keys("Enter")
    wait_frames(ctl, hands=("right",))
    t.keys("C-c")
    screen = t.wait("EXIT=0")
    assert "stopping the takes" in screen and "kept episode 1 (interrupted)" in screen, screen
    (k,) = takes(ctl)
    check_take(k["file"], reason="requested")
    assert json.loads(ctl("status", "--json").stdout)["hands"][1]["State"] == "idle"
