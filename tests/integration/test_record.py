"""`handrecctl record` in a real terminal: tmux runs it against a real handrecd on a private bus,
the test types as an operator would (send-keys, one key each, no Enter) and reads the screen
(capture-pane). A day of episodes: one kept as a success after Enter was pressed by mistake (it
answers nothing), one recorded again with r, a task changed with t, one discarded; a quality
warning and an incomplete episode (a replay folder that freezes, then ends mid-episode) whose
default is discard; --episodes and --reset; Ctrl-C; handrecd killed mid-episode. The files are
read back with h5py, the manifests with json. HANDREC_RECORD_CAPTURE=FILE keeps the screen of
the quality and incomplete session (for the docs and the closing note)."""
import json
import os
import shlex
import shutil
import signal
import subprocess
import time

import cv2
import h5py
import numpy as np
import pytest

from conftest import HANDRECCTL, hand_conf, make_config, wait_frames
from takecheck import check_take, text

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed "
                                "(scripts/install-deps.sh test installs it)")
TASK = "stack the cups"
DATA = "/usr/share/doc/opencv-doc/examples/data"


class Term:
    """A tmux server of its own (-S), one window of @width x 50 running handrecctl with @args."""

    def __init__(self, tmp, env, args, width=200):
        self.sock = os.path.join(tmp, f"tmux-{time.monotonic_ns()}.sock")  # a server of its own each
        cmd = " ".join(shlex.quote(a) for a in ["env", f"DBUS_SESSION_BUS_ADDRESS={env['DBUS_SESSION_BUS_ADDRESS']}",
                                                HANDRECCTL, "--user", *args])
        cmd += "; echo EXIT=$?; sleep 600"
        self.tmux("new-session", "-d", "-x", str(width), "-y", "50", cmd)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout

    def screen(self, joined=False):
        """The screen and what scrolled off it; @joined: a line the terminal wrapped as one (-J)."""
        return self.tmux("capture-pane", "-p", "-S", "-200", *(["-J"] if joined else []))

    def keys(self, *keys):
        self.tmux("send-keys", *keys)

    def wait(self, what, count=1, timeout=120):
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

    def make(*args, width=200, command="record"):
        made.append(Term(tmp, bus.env, (command, *args), width))
        return made[-1]
    yield make
    for t in made:
        t.close()


def takes(ctl, *args):
    return json.loads(ctl("takes", "--json", *args).stdout)


def manifest(outdir, episode):
    with open(os.path.join(outdir, "episodes", episode + ".json")) as f:
        return json.load(f)


def test_a_day_of_episodes(daemon, ctl, term, outdir):
    t = term("--hand", "all", "--task", TASK, "--operator", "ana")
    t.wait("Recording on left and right; task: stack the cups; operator: ana.")
    t.wait("Episode 1: Space or Enter starts it")
    t.keys("Space")
    t.wait("Episode 1 recording")
    wait_frames(ctl)
    t.keys("Space")
    t.wait("Keep it? k keep, s success")
    # Enter is no answer (it was one, and an Enter meant for the next episode kept this one)
    t.keys("Enter", "s")
    screen = t.wait("kept episode 1 as a success: 2 files")
    assert "Episode 1 complete." in screen and screen.count("quality: ok") == 2, screen
    first = takes(ctl)["takes"][:2]
    # episode 2: recorded again with r (its takes discarded), then with a new task, discarded
    t.wait("Episode 2: Space or Enter starts it")
    t.keys("Space")
    t.wait("Episode 2 recording")
    wait_frames(ctl)
    t.keys("Space")
    t.wait("r again", count=2)  # each question says it: the second
    again = takes(ctl)["takes"][:2]
    t.keys("r")
    t.wait("Recording episode 2 again.")
    t.wait("Episode 2 recording", count=2)
    wait_frames(ctl)
    t.keys("Space")
    t.wait("r again", count=3)
    t.keys("d")
    t.wait("discarded episode 2", count=2)
    t.wait("Episode 2: Space or Enter starts it", count=2)
    t.keys("t")
    t.wait("Task (Enter keeps")
    t.keys("plates", "Enter")
    t.wait("Task: plates")
    t.keys("q")
    screen = t.wait("EXIT=0")
    assert "1 episode kept (1 success, 0 failures), 2 discarded." in screen, screen
    assert {k["hand"] for k in first} == {"left", "right"} and first[0]["episode"] == first[1]["episode"]
    for k in first:
        check_take(k["file"], reason="requested")
        with h5py.File(k["file"], "r") as f:
            assert text(f.attrs["task"]) == TASK and text(f.attrs["operator"]) == "ana"
    m = manifest(outdir, first[0]["episode"])
    assert m["decision"] == "kept" and m["success"] is True and m["operator"] == "ana", m
    for d in again:
        assert not os.path.exists(d["file"]), d
    assert [k["file"] for k in takes(ctl)["takes"]] == [k["file"] for k in first]


def write_freezing_folder(folder, n=150, frozen=range(30, 60)):
    """A replay of @n side-by-side frames of the aloe pair, each a little further along but for a
    frozen stretch (the same picture again, as a camera that stalls gives): 5 s at 30 fps."""
    os.makedirs(folder)
    left, right = (cv2.resize(cv2.imread(os.path.join(DATA, name)), (320 + n, 240)) for name in ("aloeL.jpg", "aloeR.jpg"))
    for i in range(n):
        x = frozen[0] if i in frozen else i
        cv2.imwrite(os.path.join(folder, f"frame{i:03d}.jpg"), np.hstack([left[:, x:x + 320], right[:, x:x + 320]]))


def freezing_config(outdir, folder):
    """The left hand a replay of @folder at the camera's rate, played once; the right one synthetic."""
    left = hand_conf("left", extra=f'path = "{folder}"; rate = "realtime"; loop = false;')
    return make_config(outdir, hands=("right",), top="qc = { sample_every = 1; };") + \
        left.replace('source = "synthetic";', 'source = "replay";')


def test_quality_and_an_incomplete_episode_are_shown_before_the_decision(daemon_factory, ctl, term, outdir, tmp):
    folder = os.path.join(tmp, "freezing")
    write_freezing_folder(folder)
    daemon_factory(freezing_config(outdir, folder))
    t = term("--hand", "all", "--task", TASK, "--operator", "ana", width=100)
    # episode 1: stopped past the frozen stretch, before the replay's end: a quality warning
    t.wait("Episode 1: Space or Enter starts it")
    t.keys("Space")
    wait_frames(ctl, hands=("left",), n=75)
    t.keys("Space")
    screen = t.wait("Keep it? k keep, s success")
    assert "Episode 1 complete." in screen and "quality: 30 frozen frames at " in screen, screen
    t.keys("s")
    t.wait("kept episode 1 as a success")
    # episode 2: the replay ends mid-episode; the right hand is stopped with it
    t.wait("Episode 2: Space or Enter starts it")
    t.keys("Space")
    screen = t.wait("Discard it? d discard, k keep")
    assert "Episode 2 INCOMPLETE: left: end-of-input" in screen, screen
    assert "stopped (partner-stopped)" in screen and "stopped (end-of-input)" in screen, screen
    second = takes(ctl)["takes"][:2]
    t.keys("q")  # the default of an incomplete episode: discard
    screen = t.wait("EXIT=0")
    assert "discarded episode 2" in screen and "1 episode kept (1 success, 0 failures), 1 discarded." in screen
    for d in second:
        assert not os.path.exists(d["file"]), d
    # two hands in 100 columns: no line of the live status, nor a question, wraps
    lines = t.screen(joined=True).splitlines()
    asked = [line for line in lines if line.startswith(("[LEFT]", "[RIGHT]", "Keep it?", "Discard it?"))]
    assert len(asked) >= 6 and all(len(line.rstrip()) <= 100 for line in asked), lines
    if os.environ.get("HANDREC_RECORD_CAPTURE"):
        with open(os.environ["HANDREC_RECORD_CAPTURE"], "w") as f:
            f.write(screen)
    listing = ctl("takes").stdout
    assert f'task "{TASK}", operator ana: complete, kept as a success' in listing, listing


def test_episodes_and_reset_record_a_series(daemon, ctl, term):
    t = term("--hand", "right", "--episodes", "2", "--reset", "1")
    t.wait("Episode 1: Space or Enter starts it")
    t.keys("Space")
    wait_frames(ctl, hands=("right",))
    t.keys("Space")
    t.wait("Keep it? k keep")
    t.keys("k")
    # the countdown starts the next episode by itself
    t.wait("Episode 2 recording")
    wait_frames(ctl, hands=("right",))
    t.keys("Space")
    t.wait("Keep it? k keep", count=2)
    t.keys("f")
    screen = t.wait("EXIT=0")
    assert "kept episode 2 as a failure" in screen and "2 episodes kept: done." in screen, screen
    assert "2 episodes kept (0 successes, 1 failure), 0 discarded." in screen, screen


def test_ctrl_c_while_recording_stops_keeps_and_ends(daemon, ctl, term):
    t = term("--hand", "right")
    t.wait("Episode 1: Space or Enter starts it")
    t.keys("Space")
    wait_frames(ctl, hands=("right",))
    t.keys("C-c")
    screen = t.wait("EXIT=0")
    assert "stopping the takes" in screen and "kept episode 1: 1 file" in screen, screen
    (k,) = takes(ctl)["takes"]
    check_take(k["file"], reason="requested")


def test_handrecd_gone_mid_episode_says_how_to_go_on(daemon, ctl, term, outdir):
    t = term("--hand", "all")
    t.wait("Episode 1: Space or Enter starts it")
    t.keys("Space")
    wait_frames(ctl)
    files = {k["hand"]: k["file"] for k in takes(ctl)["takes"][:2]}
    episode = takes(ctl)["takes"][0]["episode"]
    daemon.stop(signal.SIGKILL)
    t.wait("EXIT=1")
    screen = t.screen(joined=True)
    assert f"handrecd left the bus during episode 1 ({episode})" in screen, screen
    for hand, f in files.items():
        assert f"{hand}: {f} was not finished by handrecd: it is recovered when handrecd starts again" in screen
    assert f"handrecctl keep --episode {episode}" in screen and f"handrecctl discard --episode {episode}" in screen
    # as it says: handrecd back (the takes recovered), the episode decided
    daemon.start()
    ctl("keep", "--episode", episode, "--success")
    m = manifest(outdir, episode)
    assert m["decision"] == "kept" and m["success"] is True
    for f in files.values():
        check_take(f, status="recovered", reason="crash")


def test_discard_asks_on_a_terminal(daemon, ctl, term, tmp):
    ctl("start", "--hand", "all", "--duration", "0.5", "--follow")
    files = [t["file"] for t in takes(ctl)["takes"]]
    episode = takes(ctl)["takes"][0]["episode"]
    t = term("--episode", episode, command="discard")
    t.wait(f"Discard episode {episode}: delete its 2 takes")
    t.keys("n", "Enter")
    screen = t.wait("EXIT=1")
    assert "Nothing was deleted." in screen and all(os.path.exists(f) for f in files)
    t.close()
    t = term("--episode", episode, command="discard")
    t.wait(f"Discard episode {episode}: delete its 2 takes")
    t.keys("y", "Enter")
    t.wait("EXIT=0")
    assert not any(os.path.exists(f) for f in files)
