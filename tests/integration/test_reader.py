"""The reader as installed (make install into a DESTDIR, imported from there, never from python/ of
the checkout): `import handrec; t = handrec.open(path)` on a complete take, a take being recorded
and a take a crash left; frames as images of the right shape whose eyes are the right eyes (the
synthetic camera's frame stamps read back from each), timestamps in ns and UTC, iteration,
attributes as a dict; `handrec export --mp4` through ffmpeg, checked with ffprobe."""
import json
import os
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import make_config
from test_recovery import crash_mid_take, plain_open_fails
from test_system import PY3, make_install

WIDTH, HEIGHT = 320, 240  # conftest's hands: one eye

# Run by the system's python3 with only the installed tree added to its path; prints JSON.
PROBE = r'''
import json, sys
import numpy as np
import handrec, cv2
path, destdir = sys.argv[1], sys.argv[2]
assert handrec.__file__.startswith(destdir), handrec.__file__
t = handrec.open(path)
n = len(t)
out = {"module": handrec.__file__, "n": n, "live": t.live, "attrs": t.attrs}
out["attr_types"] = sorted({type(v).__name__ for v in t.attrs.values()})
ts = t.timestamps
out["ts_dtype"] = str(ts.dtype)
out["ts_equal"] = bool(np.array_equal(ts, t.column("timestamp_ns")))
utc = t.timestamps_utc
out["utc_dtype"] = str(utc.dtype)
out["utc_ok"] = bool(np.array_equal(utc.astype(np.int64), ts + int(t.attrs["monotonic_to_utc_ns"])))
out["utc0"] = str(utc[0])
frames = []
for i in sorted({0, n // 2, n - 1}):
    f = t[i]
    left, right = f.left, f.right
    gray = lambda img: cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    whole = handrec.decode_gray(f.jpeg)
    # the stored JPEG decoded here, independently: left is its left half, right its right half (RGB)
    rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(t.file["stereo/jpeg"][int(t.file["stereo/offset"][i]):
                       int(t.file["stereo/offset"][i]) + int(t.file["stereo/size"][i])], np.uint8),
                       cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    w = rgb.shape[1] // 2
    frames.append({"i": i, "left": [list(left.shape), str(left.dtype)], "right": [list(right.shape), str(right.dtype)],
                   "jpeg_soi": f.jpeg[:2].hex(), "jpeg_is_stored": f.jpeg == t.frame(i),
                   "stamp_left": handrec.read_stamp(gray(left), left.shape[1], 0),
                   "stamp_right": handrec.read_stamp(gray(right), right.shape[1], 0),
                   "stamp_whole": [handrec.read_stamp(whole, left.shape[1], 0),
                                   handrec.read_stamp(whole, left.shape[1], 1)],
                   "left_is_left_half": bool(np.array_equal(left, rgb[:, :w])),
                   "right_is_right_half": bool(np.array_equal(right, rgb[:, w:])),
                   "eyes_differ": not np.array_equal(left, right),
                   "utc": str(f.utc), "utc_i": str(utc[i])})
out["frames"] = frames
# t[-1] is the last frame now: a take being recorded may have grown since n was read
last = t[-1]
out["last_is_minus_one"] = last.index >= n - 1 and last.jpeg == t.frame(last.index)
seen = [f.index for f in t]
out["iterated"] = len(seen) >= n and seen[:n] == list(range(n))
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    destdir = str(tmp_path_factory.mktemp("destdir"))
    make_install(destdir)
    return destdir


def pythonpath(destdir):
    return os.path.join(destdir, f"usr/local/lib/python{PY3}/dist-packages")


def installed_env(destdir, bus=None):
    env = dict(bus.env if bus else os.environ)
    env["PYTHONPATH"] = pythonpath(destdir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def probe(installed, path, cwd):
    # cwd is a temporary folder: nothing of the checkout is on the path
    p = subprocess.run(["/usr/bin/python3", "-c", PROBE, path, installed], capture_output=True, text=True,
                       cwd=cwd, env=installed_env(installed), timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def check_frames(r, status):
    assert r["n"] > 0
    a = r["attrs"]
    assert a["format"] == "handrec" and a["hand"] == "right" and a["status"] == status
    assert isinstance(a["eye_width"], int) and a["eye_width"] == WIDTH
    assert "bytes" not in r["attr_types"] and "ndarray" not in r["attr_types"], r["attr_types"]
    assert r["ts_dtype"] == "int64" and r["ts_equal"]
    assert r["utc_dtype"] == "datetime64[ns]" and r["utc_ok"]
    # the UTC conversion lands on the day the take started (started_utc: ISO 8601, seconds)
    assert r["utc0"][:10] == a["started_utc"][:10]
    for f in r["frames"]:
        assert f["left"] == [[HEIGHT, WIDTH, 3], "uint8"] and f["right"] == [[HEIGHT, WIDTH, 3], "uint8"], f
        assert f["jpeg_soi"] == "ffd8" and f["jpeg_is_stored"]
        # each eye's image is that eye: its stamp reads back as from the whole frame's half
        assert f["stamp_left"] is not None and f["stamp_right"] is not None, f
        assert [f["stamp_left"], f["stamp_right"]] == f["stamp_whole"], f
        # the synthetic camera's eyes differ (its disparity): a swapped or repeated eye shows
        assert f["left_is_left_half"] and f["right_is_right_half"] and f["eyes_differ"], f
        assert f["utc"] == f["utc_i"]
    assert r["last_is_minus_one"] and r["iterated"]


def test_complete_take(installed, daemon, ctl, tmp):
    path = ctl("start", "--hand", "right", "--duration", "1", "--follow").stdout.splitlines()[0]
    r = probe(installed, path, tmp)
    check_frames(r, "complete")
    with h5py.File(path, "r") as f:
        assert r["n"] == len(f["stereo/size"]) == int(f.attrs["frames"])
    assert r["attrs"]["stop_reason"] == "duration"


def test_live_take_grows_while_read(installed, daemon, ctl, tmp):
    path = ctl("start", "--hand", "right").stdout.strip()
    script = r'''
import json, sys, time
import handrec
t = handrec.open(sys.argv[1])
assert t.live
counts = []
deadline = time.monotonic() + 60
while time.monotonic() < deadline and (len(counts) < 2 or counts[-1] <= counts[0]):
    n = len(t)
    if n and (not counts or n > counts[-1]):
        counts.append(n)
        img = t[n - 1].right
        assert img.shape == (240, 320, 3) and img.dtype.name == "uint8", img.shape
    time.sleep(0.1)
print(json.dumps({"counts": counts, "status": t.attrs["status"]}))
'''
    p = subprocess.run(["/usr/bin/python3", "-c", script, path], capture_output=True, text=True, cwd=tmp,
                       env=installed_env(installed), timeout=120)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    # len() followed the writer: at least two growing counts while the file said "recording"
    assert len(r["counts"]) >= 2 and r["counts"][-1] > r["counts"][0], r
    assert r["status"] == "recording"
    check_frames(probe(installed, path, tmp), "recording")
    ctl("stop", "--hand", "right")


def test_crashed_take(installed, daemon_factory, ctl, outdir, tmp):
    daemon, path = crash_mid_take(daemon_factory, ctl, outdir)
    assert plain_open_fails(path)  # SWMR flags still set: a crashed take, not yet recovered
    r = probe(installed, path, tmp)
    check_frames(r, "recording")
    assert r["live"]


def test_export_mp4(installed, daemon, ctl, tmp, bus):
    path = ctl("start", "--hand", "right", "--duration", "1", "--follow").stdout.splitlines()[0]
    with h5py.File(path, "r") as f:
        n = len(f["stereo/size"])
    out = os.path.join(tmp, "take.mp4")
    p = subprocess.run([os.path.join(installed, "usr/local/bin/handrec"), "export", path, "--mp4", out],
                       capture_output=True, text=True, cwd=tmp, env=installed_env(installed), timeout=300)
    assert p.returncode == 0, p.stderr
    assert f"{n} frames, {2 * WIDTH}x{HEIGHT}" in p.stdout
    probe_out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                                "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json",
                                out], capture_output=True, text=True, check=True).stdout
    s = json.loads(probe_out)["streams"][0]
    assert (s["codec_name"], s["width"], s["height"], int(s["nb_read_frames"])) == ("h264", 2 * WIDTH, HEIGHT, n), s
    # an existing file is kept unless --force
    p = subprocess.run([os.path.join(installed, "usr/local/bin/handrec"), "export", path, "--mp4", out],
                       capture_output=True, text=True, cwd=tmp, env=installed_env(installed), timeout=300)
    assert p.returncode == 1


def test_installed_tools_without_pythonpath(installed, daemon, ctl, tmp):
    """handrec and handrec-info as installed find the module beside them, with no PYTHONPATH."""
    path = ctl("start", "--hand", "right", "--duration", "0.5", "--follow").stdout.splitlines()[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for cmd in (["handrec", "info", "--check"], ["handrec-info", "--check"]):
        p = subprocess.run([os.path.join(installed, "usr/local/bin", cmd[0]), *cmd[1:], path], capture_output=True,
                           text=True, cwd=tmp, env=env)
        assert p.returncode == 0, p.stderr
        n = int(p.stdout.split(" frames,")[0].split()[-1])
        assert n > 0 and f"decoded {n} of {n} JPEGs" in p.stdout, p.stdout
    p = subprocess.run([os.path.join(installed, "usr/local/bin/handrec"), "info", os.path.join(tmp, "nope.h5")],
                       capture_output=True, text=True, cwd=tmp, env=env)
    assert p.returncode == 1 and "cannot read" in p.stderr
