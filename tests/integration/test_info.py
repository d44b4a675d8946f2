"""`handrecctl info FILE [--json]` on a complete take, one being recorded and one a crash left
marked "recording", each field checked against h5py; its errors; `devices --json`; and JSON
doubles written with 15 significant digits at most."""
import json
import os
import re
import shutil
import signal
import subprocess

import h5py
import numpy as np

from conftest import HANDRECCTL, make_config, wait_frames, wait_until
from takecheck import check_duration_slots, check_take, text

TASK = 'pick up the "blue" cup — ça va'


def json_tool(out):
    """Parse as `python3 -m json.tool` does, then as json."""
    p = subprocess.run(["/usr/bin/python3", "-m", "json.tool"], input=out, capture_output=True, text=True)
    assert p.returncode == 0, (out, p.stderr)
    return json.loads(out)


def info(path, *args):
    p = subprocess.run([HANDRECCTL, "info", path, *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    return p.stdout


def start_one(ctl, *args):
    out = ctl("start", "--hand", "right", *args).stdout
    return [line for line in out.splitlines() if line.endswith(".h5")][0]


def expected(path, swmr=False):
    """What info should say of @path, computed here from h5py as info computes it."""
    with h5py.File(path, "r", swmr=swmr, libver="latest") as f:
        a = {k: text(v) if isinstance(v, (bytes, str)) else v for k, v in f.attrs.items()}
        ts = f["stereo/timestamp_ns"][()]
        size = f["stereo/size"][()]
        seq = f["stereo/left_sequence"][()].astype(np.int64)
        cal = f["calibration"].attrs if "calibration" in f else {}
        n = len(size)
        assert len(ts) >= n
        span = float(int(ts[n - 1]) - int(ts[0])) / 1e9 if n > 1 else 0.0
        fps_nominal = float(a["fps_nominal"])
        e = {
            "file": path, "hand": a["hand"], "status": a["status"], "stop_reason": a.get("stop_reason", ""),
            "label": a.get("label", ""), "task": a.get("task", ""), "episode": a.get("episode", ""),
            "started_utc": a["started_utc"], "operator": a.get("operator", ""),
            "qc_verdict": a.get("qc_verdict", ""), "frames": n,
            "duration": span + 1 / fps_nominal if n else span,
            "fps_measured": (n - 1) / span if span > 0 else 0.0, "fps_nominal": fps_nominal,
            "eye_width": int(a["eye_width"]), "eye_height": int(a["eye_height"]),
            "jpeg_quality": int(a["jpeg_quality"]), "rectified": bool(a["rectified"]),
            "bytes": os.path.getsize(path), "jpeg_bytes": int(size.sum()),
            "sequence_gaps": int((seq[1:n] - seq[:n - 1] - 1).sum()) if n > 1 else 0,
            "frames_captured": int(a["frames_captured"]) if "frames_captured" in a else None,
            "frames_dropped": int(a["frames_dropped"]) if "frames_dropped" in a else None,
            "pair_skew_mean_ns": int(a["pair_skew_mean_ns"]) if "pair_skew_mean_ns" in a else None,
            "pair_skew_max_ns": int(a["pair_skew_max_ns"]) if "pair_skew_max_ns" in a else None,
            "calibration": None if "model" not in cal else {
                "model": text(cal["model"]), "width": int(a["eye_width"]), "height": int(a["eye_height"]),
                "rectified": bool(a["rectified"])},
            "camera_controls": {k: a.get(k, "") for k in
                                ("camera_controls", "camera_left_controls", "camera_right_controls")},
        }
        for k in ("duration", "fps_measured", "fps_nominal"):
            e[k] = float(f"{e[k]:.15g}")  # JSON doubles carry 15 significant digits
        return e


def test_info_of_a_complete_take(daemon, ctl):
    path = start_one(ctl, "--task", TASK, "--label", "cup_blue", "--duration", "0.6", "--follow")
    doc = json_tool(info(path, "--json"))
    want = expected(path)
    assert doc == want  # every key; doubles exact to the 15 digits they are printed with
    assert doc["status"] == "complete" and doc["stop_reason"] == "duration" and doc["frames"] >= 1
    # 0.6 s at 30 fps: 18 slots of the camera's, each captured or counted as one it skipped (a loaded
    # machine makes the synthetic camera skip)
    with h5py.File(path, "r") as f:
        check_duration_slots(dict(f.attrs), 0.6)
    assert doc["task"] == TASK and doc["label"] == "cup_blue" and doc["episode"]
    assert doc["frames_captured"] >= doc["frames"] and doc["pair_skew_max_ns"] is not None
    out = info(path)
    assert out.startswith(path + "\n  hand right, status complete (duration)\n"), out
    assert f'label "cup_blue", episode {doc["episode"]}, task "{TASK}"' in out
    assert f"started {doc['started_utc']}" in out
    assert f"  {doc['frames']} frames, {doc['duration']:.2f} s, " in out
    assert "pairing skew: mean " in out and "calibration: none" in out
    assert f"  quality: {doc['qc_verdict']}\n" in out and doc["qc_verdict"]  # "ok", or what was found
    # --json may come before the command too
    p = subprocess.run([HANDRECCTL, "--json", "info", path], capture_output=True, text=True)
    assert p.returncode == 0 and json_tool(p.stdout) == want


def test_info_reads_calibration(daemon, ctl, tmp):
    path = start_one(ctl, "--duration", "0.3", "--follow")
    copy = os.path.join(tmp, "calibrated.h5")
    shutil.copy(path, copy)
    with h5py.File(copy, "r+") as f:
        f["calibration"].attrs["model"] = "fisheye"
        f["calibration"].attrs["rectification_computed"] = 1
        f.attrs["rectified"] = 1
    doc = json_tool(info(copy, "--json"))
    assert doc["calibration"] == {"model": "fisheye", "width": 320, "height": 240, "rectified": True}
    assert doc == expected(copy)
    assert "calibration: fisheye, 320x240, rectified" in info(copy)


def test_info_of_a_take_being_recorded(daemon, ctl):
    path = start_one(ctl, "--task", TASK)
    wait_frames(ctl, hands=("right",), n=3)
    seen = []

    def read():  # while the writer appends: until it grew twice
        nonlocal doc
        doc = json_tool(info(path, "--json"))
        assert doc["status"] == "recording" and doc["task"] == TASK and doc["hand"] == "right"
        assert doc["frames_captured"] is None and doc["pair_skew_mean_ns"] is None  # written at the end
        seen.append(doc["frames"])
        return len(set(seen)) >= 3
    doc = None
    wait_until(read, what="the take to grow twice under handrecctl info", interval=0.1)
    assert "(being recorded, or left by a crash)" in info(path)
    assert 0 < seen[0] and seen == sorted(seen) and len(set(seen)) == 3, seen
    ctl("stop", "--hand", "right")
    attrs, n, _ = check_take(path)  # info disturbed neither the writer nor the file
    assert n >= seen[-1]
    final = json_tool(info(path, "--json"))
    assert final == expected(path) and final["episode"] == doc["episode"]
    assert final["started_utc"] == doc["started_utc"]


def test_info_of_a_crashed_take_leaves_it_as_found(daemon_factory, ctl, outdir):
    daemon = daemon_factory(make_config(outdir))
    path = start_one(ctl)
    wait_frames(ctl, hands=("right",), n=30)  # (it asserts more than 10)
    daemon.stop(signal.SIGKILL)
    before = open(path, "rb").read()
    doc = json_tool(info(path, "--json"))
    assert doc["status"] == "recording" and doc["frames"] > 10
    assert open(path, "rb").read() == before  # read-only: the SWMR flags are still set
    try:
        h5py.File(path, "r").close()
        assert False, "a plain reader opened a crashed take: its flags were cleared"
    except OSError:
        pass
    assert doc == expected(path, swmr=True)


def test_info_errors(tmp):
    def run(*args):
        return subprocess.run([HANDRECCTL, "info", *args], capture_output=True, text=True)
    missing = os.path.join(tmp, "missing.h5")
    p = run(missing)
    assert p.returncode == 1 and f"{missing}: No such file or directory." in p.stderr and not p.stdout
    notes = os.path.join(tmp, "notes.h5")
    with open(notes, "w") as f:
        f.write("not a take\n")
    p = run(notes, "--json")
    assert p.returncode == 1 and f"{notes} is not an HDF5 file, so not a handrec take." in p.stderr and not p.stdout
    other = os.path.join(tmp, "other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    p = run(other)
    assert p.returncode == 1 and f"{other} is an HDF5 file but not a handrec take" in p.stderr
    p = run()
    assert p.returncode == 2 and "no FILE given" in p.stderr
    p = run(tmp)
    assert p.returncode == 1 and "not a regular file" in p.stderr


def test_devices_json_parses():
    p = subprocess.run([HANDRECCTL, "devices", "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = json_tool(p.stdout)
    assert isinstance(doc["devices"], list)
    for d in doc["devices"]:
        assert d["device"].startswith("/dev/video") and isinstance(d["formats"], list)
    p = subprocess.run([HANDRECCTL, "--json", "devices"], capture_output=True, text=True)
    assert p.returncode == 0 and json_tool(p.stdout) == doc


def floats(out):
    return re.findall(r"(?<![\w.\"])-?\d+\.\d+(?:e[-+]?\d+)?(?![\w.])", out)


def test_json_doubles_have_15_significant_digits(daemon, ctl):
    start_one(ctl, "--duration", "30")
    wait_frames(ctl, hands=("right",), n=5)  # figures of a take under way: rates, durations
    outs = [ctl("status", "--json").stdout, ctl("takes", "--json").stdout]
    ctl("stop", "--hand", "right")
    for out in outs:
        json_tool(out)
        toks = floats(out)
        assert toks, out
        for tok in toks:
            digits = len(re.sub(r"e.*|[-.]", "", tok).lstrip("0"))
            assert digits <= 15, (tok, out)  # not json-c's default 17 (30.000000300000004)
    assert '"fps_nominal": 30.0,' in info(outs and json.loads(outs[1])["takes"][0]["file"], "--json")
