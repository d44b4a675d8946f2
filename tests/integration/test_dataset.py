"""handrec as a dataset library (issue 22), on episodes the real handrecd records on both hands:
episodes listed from their manifests and, without them, from the takes' own attributes; the
filters (task, success, decision, quality verdict, time, hands); indexing by position and by id;
both hands aligned in time with gaps flagged (a real gap: the daemon stopped mid-episode), frames
decoded in batches at 1, 1/2, 1/4, 1/8 with each JPEG decoded once; takes as sequences; rectifying
a raw take when reading against handrecd's own rectification of the same camera frames; the
export of an episode at its capture times; `pip install ./python` in a venv; the torch Dataset
with DataLoader workers. Object storage: test_dataset_s3.py.

Waits are on counts and events; nothing here is timed."""
import glob
import json
import os
import shutil
import signal
import subprocess
import time

import cv2
import h5py
import numpy as np
import pytest

from conftest import ROOT, make_config, wait_frames, wait_past_the_second_of, wait_until
from test_rectify import chessboard as chessboard_real  # noqa: F401 (a module-scoped fixture: a real calibration)

import handrec  # python/ of the checkout (conftest puts it first on the path)

PY = "/usr/bin/python3"
W, H = 320, 240  # conftest's synthetic eyes
HANDREC = os.path.join(ROOT, "tools", "handrec")


def files_of(stdout):
    return sorted({line.strip() for line in stdout.splitlines() if line.strip().endswith(".h5")
                   and line.strip().startswith("/")})


def record(ctl, task, seconds=0.6):
    """One episode on both hands, in a second of its own (names and started_utc are by the
    second); returns (episode id, {hand: path})."""
    wait_past_the_second_of()
    out = ctl("start", "--hand", "all", "--task", task, "--duration", str(seconds), "--follow", timeout=120).stdout
    paths = files_of(out)
    assert len(paths) == 2, out
    takes = {}
    for p in paths:
        with h5py.File(p, "r") as f:
            takes[f.attrs["hand"].decode() if isinstance(f.attrs["hand"], bytes) else f.attrs["hand"]] = p
            ep = f.attrs["episode"]
    return (ep.decode() if isinstance(ep, bytes) else ep), takes


def manifest(outdir, ep):
    with open(os.path.join(outdir, "episodes", ep + ".json")) as f:
        return json.load(f)


def stamps(img_rgb):
    """The synthetic camera's frame number drawn into one eye (None when unreadable)."""
    gray = cv2.cvtColor(np.ascontiguousarray(img_rgb), cv2.COLOR_RGB2GRAY)
    return handrec.read_stamp(gray, gray.shape[1], 0)


def stored_eyes(path, i, flag=cv2.IMREAD_COLOR):
    """Frame i of a take decoded here, independently, and cut in its two halves (RGB)."""
    with h5py.File(path, "r") as f:
        o, n = int(f["stereo/offset"][i]), int(f["stereo/size"][i])
        jpeg = f["stereo/jpeg"][o:o + n]
    img = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg.tobytes(), np.uint8), flag), cv2.COLOR_BGR2RGB)
    w = img.shape[1] // 2
    return img[:, :w], img[:, w:2 * w]


# ---- listing, filters, indexing ----

def test_episodes_listed_filtered_and_indexed(daemon, ctl, outdir, tmp):
    a, a_takes = record(ctl, "stack the cups")
    ctl("keep", "--episode", a, "--success")
    b, _ = record(ctl, "stack the cups")
    ctl("keep", "--episode", b, "--failure", "--note", "dropped one")
    c, c_takes = record(ctl, "pour the water")
    ctl("discard", "--episode", c, "-y")
    d, _ = record(ctl, "stack the cups")  # undecided
    assert not any(os.path.exists(p) for p in c_takes.values())
    assert manifest(outdir, c)["decision"] == "discarded"

    ds = handrec.Dataset(outdir)
    # discarded episodes are skipped; the rest in the order they started
    assert ds.ids == [a, b, d], ds.ids
    assert len(ds) == 3 and [e.id for e in ds] == [a, b, d] and ds.problems == []
    assert ds[0].id == a and ds[-1].id == d and [e.id for e in ds[1:]] == [b, d]
    assert ds[b].id == b and b in ds and c not in ds
    with pytest.raises(KeyError, match="no episode"):
        ds["nope"]
    ep = ds[a]
    assert (ep.task, ep.decision, ep.success, ep.outcome) == ("stack the cups", "kept", True, "complete")
    assert ds[b].success is False and ds[b].note == "dropped one" and ds[d].decision is None
    assert ep.hand_names == ("right", "left") or set(ep.hand_names) == {"left", "right"}
    # the quality verdicts, as the manifest has them ("ok" unless a loaded machine made the camera skip)
    verdicts = {e: {h: t["qc"]["verdict"] for h, t in manifest(outdir, e)["takes"].items()} for e in (a, b, d)}
    assert ep.qc == verdicts[a] and ep.qc_ok == all(v == "ok" for v in verdicts[a].values())
    qc_ok = [e for e in (a, b, d) if all(v == "ok" for v in verdicts[e].values())]
    assert ep.manifest["episode"] == a and ep.files["left"] == "left/" + os.path.basename(a_takes["left"])
    # ep.hands: each hand's take, opened on first use
    takes = ep.hands
    assert set(takes) == {"left", "right"}
    for hand, t in takes.items():
        assert isinstance(t, handrec.Take) and t.path == a_takes[hand]
        assert t.attrs["hand"] == hand and t.attrs["episode"] == a and t.attrs["task"] == "stack the cups"
        assert "live" not in repr(t) and "complete (duration)" in repr(t), repr(t)
    assert ep.take("left") is takes["left"]  # opened once

    # filters
    assert handrec.Dataset(outdir, task="stack the cups").ids == [a, b, d]
    assert handrec.Dataset(outdir, task="pour the water").ids == []
    assert handrec.Dataset(outdir, task=lambda t: "cups" in t).ids == [a, b, d]
    assert handrec.Dataset(outdir, success=True).ids == [a]
    assert handrec.Dataset(outdir, success=False).ids == [b]
    assert handrec.Dataset(outdir, decision="kept").ids == [a, b]
    assert handrec.Dataset(outdir, decision="undecided").ids == [d]
    assert handrec.Dataset(outdir, decision=("kept", "undecided")).ids == [a, b, d]
    assert handrec.Dataset(outdir, decision="discarded").ids == [c]
    assert handrec.Dataset(outdir, include_discarded=True).ids == [a, b, c, d]
    assert handrec.Dataset(outdir, decision="discarded")[0].hand_names == ()  # its takes are gone
    assert handrec.Dataset(outdir, decision="discarded")[0].missing == ("left", "right") or \
        set(handrec.Dataset(outdir, decision="discarded")[0].missing) == {"left", "right"}
    assert handrec.Dataset(outdir, qc_ok=True).ids == qc_ok
    assert handrec.Dataset(outdir, qc_ok=False).ids == [e for e in (a, b, d) if e not in qc_ok]
    assert handrec.Dataset(outdir, outcome="complete").ids == [a, b, d]
    # time: started_utc is to the second, and each episode began in a second of its own
    sb = ds[b].started_utc
    assert handrec.Dataset(outdir, since=sb).ids == [b, d]
    assert handrec.Dataset(outdir, until=sb).ids == [a]
    assert handrec.Dataset(outdir, since=np.datetime64(sb.rstrip("Z"))).ids == [b, d]
    assert handrec.Dataset(outdir, since="2000-01-01", until="2000-01-02").ids == []
    # hands: only the hands asked for, and only episodes that have each
    one = handrec.Dataset(outdir, hands=("left",), decision="kept")
    assert one.ids == [a, b] and one[0].hand_names == ("left",) and list(one[0].hands) == ["left"]
    assert handrec.Dataset(outdir, hands=("left", "right"))[0].hand_names == ("left", "right")
    assert handrec.Dataset(outdir, hands=("left", "middle")).ids == []
    # filter() narrows without listing again; the filters combine
    kept = ds.filter(decision="kept")
    assert kept.ids == [a, b] and kept.filter(success=True).ids == [a] and kept._records is ds._records
    with pytest.raises(TypeError):
        ds.filter(colour="red")

    # a copy without the manifests: the episodes gathered from the takes' own attributes
    bare = os.path.join(tmp, "bare")
    for hand in ("left", "right"):
        shutil.copytree(os.path.join(outdir, hand), os.path.join(bare, hand))
    fallback = handrec.Dataset(bare)
    assert fallback.ids == [a, b, d] and fallback.problems == []
    fa = fallback[a]
    assert fa.manifest is None and fa.task == "stack the cups" and set(fa.hand_names) == {"left", "right"}
    assert fa.qc == verdicts[a] and fa.decision is None and fa.success is None
    assert fa.started_utc == ds[a].started_utc
    assert fallback.filter(task="stack the cups", hands=("left", "right")).ids == [a, b, d]
    assert fallback.filter(success=True).ids == []  # a judgement only a manifest holds
    # a copy with the manifests but one hand's take of an episode missing
    partial = os.path.join(tmp, "partial")
    shutil.copytree(outdir, partial)
    os.unlink(os.path.join(partial, "right", os.path.basename(a_takes["right"])))
    p = handrec.Dataset(partial, decision="kept")
    assert p.ids == [a, b] and p[a].hand_names == ("left",) and p[a].missing == ("right",)
    assert handrec.Dataset(partial, decision="kept", hands=("left", "right")).ids == [b]
    # a manifest that is not one is reported, not fatal
    with open(os.path.join(partial, "episodes", "broken.json"), "w") as f:
        f.write("{not json")
    p = handrec.Dataset(partial)
    assert p.ids == [a, b, d] and len(p.problems) == 1 and "broken.json" in p.problems[0]
    ds.close()


# ---- time alignment, with a real gap ----

def brute_nearest(ts, t):
    d = np.abs(ts[None, :] - t[:, None])
    return d.argmin(axis=1), ts[d.argmin(axis=1)] - t


def test_align_flags_gaps_and_frames_follow_it(daemon, ctl, outdir, tmp):
    """The daemon stopped (SIGSTOP) mid-episode: both hands' cameras skip the slots meanwhile, as a
    camera drops frames, so both takes have a hole. On a regular grid every step in the hole is
    flagged for each hand; each step's frame is its hand's nearest, as found by brute force."""
    started = json.loads(ctl("start", "--hand", "all", "--task", "with a gap", "--json").stdout)
    ep_id = started["episode"]
    wait_frames(ctl, n=15)
    daemon.proc.send_signal(signal.SIGSTOP)
    # the hole is made of time passing while the daemon cannot run; what it holds is read from the
    # files below, never assumed from this pause
    time.sleep(0.7)
    daemon.proc.send_signal(signal.SIGCONT)
    status = {h["name"]: h["frames_written"] for h in json.loads(ctl("status", "--json").stdout)["hands"]}
    wait_until(lambda: all(h["frames_written"] >= status[h["name"]] + 15
                           for h in json.loads(ctl("status", "--json").stdout)["hands"]), 60,
               "15 more frames on each hand after the pause")
    ctl("stop")
    ds = handrec.Dataset(outdir)
    ep = ds[ep_id]
    assert ep.outcome == "complete" and set(ep.hand_names) == {"left", "right"}
    ts = {h: ep.hands[h].timestamps for h in ("left", "right")}
    period = 1e9 / 30
    for h in ts:
        assert np.all(np.diff(ts[h]) > 0)
        assert np.diff(ts[h]).max() > 8 * period, f"{h}: no hole in the timestamps"
    # the quality verdict at the rig saw it too: the filter on it
    assert ep.qc_ok is False and "gap" in " ".join(ep.qc.values()), ep.qc
    assert ep_id in handrec.Dataset(outdir, qc_ok=False).ids and ep_id not in handrec.Dataset(outdir, qc_ok=True).ids

    # steps at the left hand's frames (the default)
    al = ep.align()
    assert al.reference == "left" and al.clock == "monotonic" and len(al) == len(ts["left"])
    assert np.array_equal(al.t_ns, ts["left"]) and np.array_equal(al.index["left"], np.arange(len(al)))
    assert al.tolerance_ns == {"left": round(period / 2), "right": round(period / 2)}
    idx, err = brute_nearest(ts["right"], al.t_ns)
    assert np.array_equal(al.index["right"], idx) and np.array_equal(al.error_ns["right"], err)
    assert np.array_equal(al.valid["right"], np.abs(err) <= round(period / 2))
    assert al.utc.dtype == np.dtype("datetime64[ns]")
    assert np.array_equal(al.utc.astype(np.int64), ts["left"] + ep.hands["left"].monotonic_to_utc_ns)

    # a regular grid at 30 steps a second: the hole is flagged for both hands, nothing filled
    grid = ep.align(rate=30)
    assert grid.reference is None and ep.alignment is grid
    assert grid.t_ns[0] == ts["left"][0] and np.all(np.abs(np.diff(grid.t_ns) - period) <= 1)
    for h in ("left", "right"):
        idx, err = brute_nearest(ts[h], grid.t_ns)
        assert np.array_equal(grid.index[h], idx) and np.array_equal(grid.error_ns[h], err)
        want = np.abs(err) <= round(period / 2)
        assert np.array_equal(grid.valid[h], want)
        hole = np.argmax(np.diff(ts[h]))
        inside = (grid.t_ns > ts[h][hole] + period) & (grid.t_ns < ts[h][hole + 1] - period)
        assert inside.sum() >= 8 and not grid.valid[h][inside].any()
    assert not grid.ok.all() and np.array_equal(grid.ok, grid.valid["left"] & grid.valid["right"])
    assert np.array_equal(grid.ok_steps, np.nonzero(grid.ok)[0])
    runs = grid.gaps()
    assert {h for h, _, _ in runs} == {"left", "right"}
    for h, first, last in runs:
        assert not grid.valid[h][first:last + 1].any()
        assert (first == 0 or grid.valid[h][first - 1]) and (last == len(grid) - 1 or grid.valid[h][last + 1])
    # a tolerance of a whole second: nothing flagged
    assert ep.align(rate=30, tolerance=1.0).ok.all()
    # the right hand as the reference
    assert np.array_equal(ep.align(reference="right").t_ns, ts["right"])

    # frames at the grid's steps: each hand's nearest frame, the flag beside it
    batch = ep.frames(scale=1 / 4, alignment=grid)
    for h in ("left", "right"):
        s = batch[h]
        assert s.left.shape == (len(grid), H // 4, W // 4, 3) and s.right.shape == s.left.shape
        assert np.array_equal(s.index, grid.index[h]) and np.array_equal(s.valid, grid.valid[h])
    steps = grid.ok_steps[::7]
    full = ep.frames(steps, scale=1, alignment=grid)
    seq = {}
    for h in ("left", "right"):
        with h5py.File(ep.hands[h].path, "r") as f:
            seq[h] = (f["stereo/left_sequence"][()], f["stereo/right_sequence"][()])
        for k, i in enumerate(full[h].index):
            assert stamps(full[h].left[k]) == seq[h][0][i] and stamps(full[h].right[k]) == seq[h][1][i]

    # the export: each hand at its capture times, the hole held on screen, no frame invented
    out = os.path.join(tmp, "video")
    p = subprocess.run([PY, HANDREC, "export", ep_id, "--root", outdir, "--mp4", out], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    side = json.load(open(os.path.join(out, f"{ep_id}.json")))
    assert side["episode"] == ep_id and set(side["hands"]) == {"left", "right"}
    t0 = min(int(ts[h][0]) for h in ("left", "right"))  # one boot: the takes' shared monotonic clock
    for h in ("left", "right"):
        video = os.path.join(out, f"{ep_id}-{h}.mp4")
        pts = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time",
                              "-of", "csv=p=0", video], capture_output=True, text=True, check=True).stdout.split()
        pts = np.array([float(x.strip(",")) for x in pts])
        want = (ts[h] - ts[h][0]) / 1e9
        assert len(pts) == len(want), (h, len(pts), len(want))
        assert np.abs(pts - want).max() <= 2 / 90000 + 1e-6, np.abs(pts - want).max()
        info = side["hands"][h]
        assert info["frames"] == len(ts[h]) and info["take"] == ep.files[h]
        assert abs(info["starts_after_s"] - (int(ts[h][0]) - t0) / 1e9) < 1e-6
        assert info["first_frame_utc"] == str(ep.hands[h].timestamps_utc[0]) + "Z"
    # an existing video is kept unless --force
    p = subprocess.run([PY, HANDREC, "export", ep_id, "--root", outdir, "--mp4", out], capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 1 and "--force" in p.stderr
    # the same from the manifest's path, root found from it
    p = subprocess.run([PY, HANDREC, "export", os.path.join(outdir, "episodes", ep_id + ".json"), "--mp4", out,
                        "--force"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([PY, HANDREC, "export", "no-such-episode", "--root", outdir, "--mp4", out],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "no episode no-such-episode" in p.stderr
    ds.close()


def test_align_times_alone():
    """The arithmetic on made-up times: ties go to the earlier frame, a hand that starts late is
    flagged until it starts, tolerance per hand from its own rate."""
    from handrec.dataset import align_times, nearest
    idx, err = nearest(np.array([0, 10, 20]), np.array([-5, 0, 4, 5, 6, 25, 100]))
    assert idx.tolist() == [0, 0, 0, 0, 1, 2, 2] and err.tolist() == [5, 0, -4, -5, 4, -5, -80]
    ms = 1_000_000
    times = {"left": np.arange(0, 1000, 33) * ms, "right": np.arange(200, 1000, 66) * ms}
    ref, steps, index, error, tol = align_times(times, fps={"left": 30, "right": 15})
    assert ref == "left" and tol == {"left": round(1e9 / 60), "right": round(1e9 / 30)}
    late = steps < 200 * ms - tol["right"]
    assert np.all(np.abs(error["right"][late]) > tol["right"])
    assert np.all(np.abs(error["right"][~late]) <= tol["right"])
    with pytest.raises(ValueError):
        align_times(times, reference="middle")
    with pytest.raises(ValueError):
        align_times(times, rate=0)


# ---- takes as sequences, batches, one decode per frame ----

def test_take_is_a_sequence_and_decodes_each_jpeg_once(daemon, ctl, outdir, monkeypatch):
    ep, takes = record(ctl, "sequences", seconds=1)
    path = takes["right"]
    t = handrec.open(path)
    n = len(t)
    assert n >= 10
    head = t[0:5]
    assert [f.index for f in head] == [0, 1, 2, 3, 4] and all(isinstance(f, handrec.Frame) for f in head)
    assert [f.index for f in t[-3:]] == [n - 3, n - 2, n - 1]
    assert [f.index for f in t[::10]] == list(range(0, n, 10))
    assert [f.index for f in t[[0, -1, 3]]] == [0, n - 1, 3]
    assert [f.jpeg for f in t[2:4]] == [t.frame(2), t.frame(3)] and t[3].timestamp_ns == int(t.timestamps[3])
    assert t[n:] == [] and len(t[:]) == n
    for bad in ("x", 1.5, None):
        with pytest.raises(TypeError):
            t[bad]
    with pytest.raises(IndexError):
        t[n]
    with pytest.raises(IndexError):
        t[[0, n]]

    calls = []
    real = handrec.jpeg.decode

    def counting(jpeg, scale=1, bgr=False):
        calls.append(scale)
        return real(jpeg, scale, bgr)
    monkeypatch.setattr(handrec.jpeg, "decode", counting)
    # t[i].left then t[i].right: one decode
    left, right = t[7].left, t[7].right
    assert len(calls) == 1
    sl, sr = stored_eyes(path, 7)
    assert np.array_equal(left, sl) and np.array_equal(right, sr)
    # a batch: each distinct frame once, whatever the order and repeats
    calls.clear()
    idx = [5, 1, 5, 9, -1, 1]
    b = t.frames(idx, scale=1)
    assert len(calls) == 4 and b.index.tolist() == [5, 1, 5, 9, n - 1, 1] and b.valid.all()
    with h5py.File(path, "r") as f:
        lseq, rseq = f["stereo/left_sequence"][()], f["stereo/right_sequence"][()]
    for k, i in enumerate(b.index):
        assert stamps(b.left[k]) == lseq[i] and stamps(b.right[k]) == rseq[i]
        sl, sr = stored_eyes(path, i)
        assert np.array_equal(b.left[k], sl) and np.array_equal(b.right[k], sr)
    # DCT scaling: the eyes of a reduced decode, the same bytes as OpenCV's own reduced decode
    for scale, flag in ((1 / 2, cv2.IMREAD_REDUCED_COLOR_2), (0.25, cv2.IMREAD_REDUCED_COLOR_4),
                        (1 / 8, cv2.IMREAD_REDUCED_COLOR_8)):
        d = round(1 / scale)
        s = t.frames(range(0, n, 4), scale=scale)
        assert s.left.shape == (len(range(0, n, 4)), H // d, W // d, 3) == s.right.shape
        for k, i in enumerate(range(0, n, 4)):
            sl, sr = stored_eyes(path, i, flag)
            assert np.array_equal(s.left[k], sl) and np.array_equal(s.right[k], sr)
    # threads or not, the same
    a1 = t.frames(slice(None), scale=0.25, threads=1)
    a4 = t.frames(None, scale=0.25, threads=4)
    assert np.array_equal(a1.left, a4.left) and np.array_equal(a1.right, a4.right)
    left4, right4, index4, valid4 = a4  # a tuple too
    assert left4 is a4.left and index4.tolist() == list(range(n))
    with pytest.raises(ValueError, match="1/2, 1/4 or 1/8"):
        t.frames([0], scale=1 / 3)
    assert "complete (duration)" in repr(t) and "live" not in repr(t)
    # no calibration stored: rectify=True is refused, "auto" reads it as stored
    with pytest.raises(ValueError, match="no calibration"):
        handrec.open(path, rectify=True)
    with pytest.raises(ValueError, match="no calibration"):
        t.frames([0], rectify=True)
    assert np.array_equal(handrec.open(path, rectify="auto").frames([0]).left, t.frames([0]).left)
    t.close()


def test_live_take_repr_then_finished(daemon, ctl, outdir):
    """A take opened while it is recorded says so; once finished, the same handle says it is
    complete, not live."""
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=5)
    t = handrec.open(path)
    assert t.live and "recording (live)" in repr(t), repr(t)
    ctl("stop", "--hand", "right")
    wait_until(lambda: t.attrs["status"] == "complete", 60, "the reader to see the take complete")
    assert "live" not in repr(t) and "complete (requested)" in repr(t), repr(t)
    n = len(t)
    assert n == t.attrs["frames"] and t.frames([0, n - 1], scale=1 / 8).left.shape[0] == 2
    t.close()


# ---- decoders: Pillow, and none ----

def run_py(code, *args, cwd=None, env=None):
    e = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), PYTHONDONTWRITEBYTECODE="1", **(env or {}))
    return subprocess.run([PY, "-c", code, *args], capture_output=True, text=True, cwd=cwd, env=e, timeout=300)


def test_pillow_decodes_alike_and_missing_packages_say_how_to_install(daemon, ctl, outdir, tmp):
    _, takes = record(ctl, "decoders")
    path = takes["left"]
    ref = os.path.join(tmp, "ref.npz")
    code = r'''
import sys, numpy as np
if sys.argv[3] == "pil":
    sys.modules["cv2"] = None  # as if OpenCV were not installed
import handrec
t = handrec.open(sys.argv[1])
out = {}
for d in (1, 2, 4, 8):
    s = t.frames(range(0, len(t), 5), scale=1 / d)
    out[f"l{d}"], out[f"r{d}"] = s.left, s.right
np.savez(sys.argv[2], **out)
print(handrec.jpeg.backend()[0])
'''
    p = run_py(code, path, ref, "cv2", cwd=tmp)
    assert p.returncode == 0 and p.stdout.strip() == "cv2", p.stderr
    pil = os.path.join(tmp, "pil.npz")
    p = run_py(code, path, pil, "pil", cwd=tmp)
    assert p.returncode == 0 and p.stdout.strip() == "pil", p.stderr
    a, b = np.load(ref), np.load(pil)
    for k in a.files:
        assert a[k].shape == b[k].shape, k
        # both decode with the distribution's libjpeg-turbo: the same DCT scaling
        assert np.abs(a[k].astype(int) - b[k]).mean() < 1.0, k
    # neither decoder: the first decode says what to install, listing and timestamps still work
    p = run_py(r'''
import sys
sys.modules["cv2"] = None; sys.modules["PIL"] = None
import handrec
t = handrec.open(sys.argv[1])
print(len(t), len(t.timestamps))
try:
    t[0].left
except ImportError as e:
    print("ImportError:", e)
''', path, cwd=tmp)
    assert p.returncode == 0, p.stderr
    assert "ImportError: handrec decodes JPEG with OpenCV or Pillow" in p.stdout, p.stdout
    assert "apt install python3-opencv (or python3-pil)" in p.stdout and "pip install 'handrec[opencv]'" in p.stdout
    # no boto3: an s3:// root says what to install; nothing of torch is ever imported by handrec
    p = run_py(r'''
import sys
sys.modules["boto3"] = None
import handrec
ds = handrec.Dataset(sys.argv[1])
ds[0].frames(scale=1/8)
assert "torch" not in sys.modules, "handrec imported torch"
try:
    handrec.Dataset("s3://takes/rig1")
except ImportError as e:
    print("ImportError:", e)
''', outdir, cwd=tmp)
    assert p.returncode == 0, p.stderr
    assert "ImportError: reading s3:// needs boto3" in p.stdout and "apt install python3-boto3" in p.stdout
    assert "pip install 'handrec[s3]'" in p.stdout
    # torch only in handrec/torch.py
    for f in glob.glob(os.path.join(ROOT, "python", "handrec", "*.py")):
        text = open(f).read()
        has = "import torch" in text or "from torch" in text
        assert has == (os.path.basename(f) == "torch.py"), f


# ---- rectification when reading ----

def i420(path, w, h):
    """A dump of handrecd's planes before JPEG (HANDREC_DEBUG_DUMP_DIR): Y, U, V."""
    raw = np.fromfile(path, np.uint8)
    y = raw[:w * h].reshape(h, w)
    u = raw[w * h:w * h + (w // 2) * (h // 2)].reshape(h // 2, w // 2)
    v = raw[w * h + (w // 2) * (h // 2):w * h + 2 * (w // 2) * (h // 2)].reshape(h // 2, w // 2)
    return y, u, v


def mad(a, b):
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean())


def psnr(a, b):
    m = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255 ** 2 / m) if m else float("inf")


def test_raw_take_rectified_on_read_like_handrecd(daemon_factory, ctl, outdir, tmp):
    """The same replay folder (side-by-side camera JPEGs of opencv-doc's aloe pair) recorded raw,
    as it came (passthrough: no decode, no re-encode), and rectified by handrecd at the default
    quality 85, the planes it encoded dumped before JPEG. The reader's rectification of the raw
    take is compared with those planes, and with the stored rectified JPEG:

      at scale 1, its luma is within 0.5 grey levels (mean) of handrecd's planes, and at most a
      quarter as far from them as handrecd's own JPEG is (the noise of storing it);
      at 1/2 and 1/4, against handrecd's planes averaged down the same way, it is no further than
      that JPEG noise at full size (rectified at twice the size asked, then averaged down: see
      handrec/rectify.py);
      its chroma, against handrecd's half-size U and V, within the JPEG noise of those."""
    from test_passthrough import FRAMES, calibration, replay_config, write_frames
    write_frames(os.path.join(tmp, "images"))
    cal = calibration(os.path.join(tmp, "cal.yml"))
    dump = os.path.join(tmp, "dump")
    os.makedirs(dump)
    daemon_factory(replay_config(outdir, os.path.join(tmp, "images"), calibration_file=cal),
                   env={"HANDREC_DEBUG_DUMP_DIR": dump})

    def take(*opts):
        p = ctl("start", "--hand", "right", "--follow", *opts, timeout=120)
        assert "[RIGHT] stopped (end-of-input)" in p.stdout, p.stdout
        return files_of(p.stdout)[0]
    raw = take("--no-rectify")
    assert glob.glob(os.path.join(dump, "*")) == []  # passed through: no planes
    rect = take("--rectify", "--quality", "85")
    dumps = sorted(glob.glob(os.path.join(dump, "right-*.i420")))
    assert len(dumps) == FRAMES
    planes = [i420(d, 2 * W, H) for d in dumps]

    r = handrec.open(raw, rectify=True)
    s = handrec.open(rect)
    assert not r.rectified and r.attrs["jpeg_origin"] == "camera" and r.calibration is not None
    assert s.rectified and s.attrs["jpeg_quality"] == 85
    np.testing.assert_allclose(r.calibration.eyes["left"]["P"], s.calibration.eyes["left"]["P"])
    assert "rectified" not in repr(r) and ", rectified" in repr(s)
    report = []
    full = r.frames(scale=1)
    stored = s.frames(scale=1)
    for i, (y, u, v) in enumerate(planes):
        ours = np.hstack([full.left[i], full.right[i]])
        theirs = np.hstack([stored.left[i], stored.right[i]])
        ycc = cv2.cvtColor(ours, cv2.COLOR_RGB2YCrCb)  # JPEG's full-range YCbCr
        ycc_stored = cv2.cvtColor(theirs, cv2.COLOR_RGB2YCrCb)
        ours_y, stored_y = ycc[..., 0], ycc_stored[..., 0]
        noise = mad(stored_y, y)  # what storing handrecd's planes as JPEG changes
        ours_mad = mad(ours_y, y)
        report.append(f"frame {i}: luma vs handrecd's planes: reader {ours_mad:.3f} (PSNR {psnr(ours_y, y):.1f} dB), "
                      f"handrecd's JPEG {noise:.3f} ({psnr(stored_y, y):.1f} dB); reader vs stored JPEG "
                      f"{mad(ours, theirs):.3f} ({psnr(ours, theirs):.1f} dB)")
        assert ours_mad <= 0.5 and ours_mad <= noise / 4, report[-1]
        half = (W, H // 2)  # both eyes at half size
        for k, plane in ((1, v), (2, u)):  # YCrCb: Cr (V) is 1, Cb (U) is 2
            ours_c = cv2.resize(ycc[..., k], half, interpolation=cv2.INTER_AREA)
            stored_c = cv2.resize(ycc_stored[..., k], half, interpolation=cv2.INTER_AREA)
            report.append(f"  {('Cr', 'Cb')[k - 1]}: reader {mad(ours_c, plane):.3f}, "
                          f"handrecd's JPEG {mad(stored_c, plane):.3f}")
            assert mad(ours_c, plane) <= max(1.0, mad(stored_c, plane)), report[-1]
        for d in (2, 4):
            small = r.frames([i], scale=1 / d)
            ours_d = cv2.cvtColor(np.hstack([small.left[0], small.right[0]]), cv2.COLOR_RGB2YCrCb)[..., 0]
            want = cv2.resize(y, (2 * W // d, H // d), interpolation=cv2.INTER_AREA)
            report.append(f"  1/{d}: reader vs handrecd's planes averaged down {mad(ours_d, want):.3f} "
                          f"(PSNR {psnr(ours_d, want):.1f} dB)")
            assert mad(ours_d, want) <= noise, report[-1]
    print("\n" + "\n".join(report))
    # without OpenCV (Pillow decoding), the remap in numpy gives the same bytes as cv2.remap
    raw_img = handrec.decode(r.frame(0))
    np.save(os.path.join(tmp, "raw0.npy"), raw_img)
    p = run_py(r'''
import sys, numpy as np
sys.modules["cv2"] = None
import handrec
from handrec.rectify import Rectifier
t = handrec.open(sys.argv[1])
rf = Rectifier(t.calibration, t.eye_width, t.eye_height)
img = np.load(sys.argv[2])
np.save(sys.argv[3], rf.apply(img, 1))
np.save(sys.argv[4], rf.apply(np.ascontiguousarray(img[::4, ::4]), 4))
''', raw, os.path.join(tmp, "raw0.npy"), os.path.join(tmp, "np1.npy"), os.path.join(tmp, "np4.npy"), cwd=tmp)
    assert p.returncode == 0, p.stderr
    from handrec.rectify import Rectifier
    rf = Rectifier(r.calibration, r.eye_width, r.eye_height)
    assert np.array_equal(np.load(os.path.join(tmp, "np1.npy")), rf.apply(raw_img, 1))
    assert np.array_equal(np.load(os.path.join(tmp, "np4.npy")), rf.apply(np.ascontiguousarray(raw_img[::4, ::4]), 4))
    # t[i] and t.frames agree; a take stored rectified is never rectified twice; a raw take without
    # a calibration cannot be rectified, "auto" reads it as stored
    assert np.array_equal(r[2].left, full.left[2])
    for mode in (True, "auto"):
        again = handrec.open(rect, rectify=mode).frames([0, 1])
        assert np.array_equal(again.left, stored.left[:2])
    assert np.array_equal(handrec.open(raw).frames([0]).left[0],
                          cv2.cvtColor(cv2.imdecode(np.frombuffer(r.frame(0), np.uint8), cv2.IMREAD_COLOR),
                                       cv2.COLOR_BGR2RGB)[:, :W])


def calibration_take(daemon_factory, ctl, outdir, tmp, files, size):
    """A short raw take of the synthetic camera at @size with the calibration @files stored."""
    names = ", ".join(f'"{f}"' for f in files)
    conf = make_config(outdir, hands=("right",), width=size[0], height=size[1], warmup=0.0)
    conf = conf.replace("right_hand = {", f"right_hand = {{\n    rectify = false;\n    calibration = [{names}];", 1)
    daemon_factory(conf)
    p = ctl("start", "--hand", "right", "--duration", "0.2", "--follow", timeout=120)
    return files_of(p.stdout)[0]


def compare_with_handrec_rectify(path, files, size, tmp):
    """Our maps from the take's stored calibration, at full and half size, against the daemon's
    own (build/handrec-rectify --out: luma and chroma maps, as float source positions)."""
    from test_rectify import handrec_rectify, load_map
    from handrec.rectify import quantised_map
    out = os.path.join(tmp, "maps")
    os.makedirs(out, exist_ok=True)
    p = handrec_rectify(files, size=size, out=out)
    assert p.returncode == 0, p.stderr
    cal = handrec.open(path).calibration
    worst = 0.0
    for eye in ("left", "right"):
        for denom, plane in ((1, "luma"), (2, "chroma")):
            w, h = size[0] // denom, size[1] // denom
            hx, hy = load_map(out, f"{eye}_{plane}", (w, h))
            qx, qy, inside = quantised_map(cal, eye, size[0], size[1], denom)
            theirs = ~np.isnan(hx)
            # inside or outside alike but for the odd pixel exactly on the edge
            assert (inside != theirs).mean() <= 1e-4, (eye, plane, (inside != theirs).sum())
            both = inside & theirs
            assert both.mean() > 0.5
            d = np.maximum(np.abs(qx[both] / 32 - hx[both]), np.abs(qy[both] / 32 - hy[both]))
            # the same 1/32 grid; a point a rounding away from a half step may land on the next one
            assert d.max() <= 1 / 32 + 1e-6 and (d > 0).mean() <= 1e-3, (eye, plane, d.max(), (d > 0).mean())
            worst = max(worst, float(d.max()))
    return worst


def test_maps_from_the_stored_calibration_are_handrecds(daemon_factory, ctl, outdir, tmp):
    """A raw take's /calibration turned into maps by the reader: the daemon's (handrec-rectify),
    for a real rational-model calibration of opencv-doc's chessboards (computed as stereo_calib
    does) and for a fisheye one."""
    import pathlib
    from test_rectify import W as CW, H as CH, fisheye_setup
    d = pathlib.Path(tmp) / "fisheye"
    d.mkdir()
    fisheye_setup(d)
    path = calibration_take(daemon_factory, ctl, outdir, tmp, [d / "fl.yaml", d / "fr.yaml"], (CW, CH))
    cal = handrec.open(path).calibration
    assert cal.model == "fisheye"
    worst = compare_with_handrec_rectify(path, [d / "fl.yaml", d / "fr.yaml"], (CW, CH), tmp)
    print(f"\nfisheye: reader's maps within {worst * 32:.0f}/32 px of handrecd's")


def test_maps_of_a_real_calibration_are_handrecds(chessboard_real, daemon_factory, ctl, outdir, tmp):
    from test_rectify import W as CW, H as CH
    d, cal, _ = chessboard_real
    files = [d / "intrinsics.yml", d / "extrinsics.yml"]
    path = calibration_take(daemon_factory, ctl, outdir, tmp, files, (CW, CH))
    c = handrec.open(path).calibration
    assert c.model == "plumb_bob" and len(c.eyes["left"]["D"]) == cal["D1"].size
    worst = compare_with_handrec_rectify(path, files, (CW, CH), tmp)
    print(f"\nchessboard calibration (rational model): reader's maps within {worst * 32:.0f}/32 px of handrecd's")


# ---- installable where training runs ----

def test_pip_install_in_a_venv_and_make_install(daemon, ctl, outdir, tmp):
    """`pip install ./python` into a venv (Debian's python3-venv, --system-site-packages for numpy
    and h5py; --no-build-isolation --no-deps: no index), then the module and its commands used from
    outside the checkout; and `make install` still installing every module for /usr/bin/python3."""
    from test_system import PY3, make_install
    ep, takes = record(ctl, "installed")
    ctl("keep", "--episode", ep, "--success")
    src = os.path.join(tmp, "src")
    shutil.copytree(os.path.join(ROOT, "python"), src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                                     "__pycache__"))
    venv = os.path.join(tmp, "venv")
    subprocess.run([PY, "-m", "venv", "--system-site-packages", venv], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL")}
    p = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--no-build-isolation", "--no-deps",
                        "--no-index", src], capture_output=True, text=True, env=env, cwd=tmp, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    code = r'''
import json, sys
import handrec
ds = handrec.Dataset(sys.argv[1], decision="kept", hands=("left", "right"))
b = ds[0].frames(ds[0].align().ok_steps, scale=1/4)
print(json.dumps({"file": handrec.__file__, "ids": ds.ids, "shape": list(b["left"].left.shape)}))
'''
    elsewhere = os.path.join(tmp, "elsewhere")
    os.makedirs(elsewhere)
    p = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code, outdir], capture_output=True, text=True,
                       env=env, cwd=elsewhere, timeout=300)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["file"].startswith(os.path.join(venv, "lib")) and r["ids"] == [ep]
    assert r["shape"][1:] == [H // 4, W // 4, 3]
    for cmd in (["handrec", "info"], ["handrec-info"]):
        p = subprocess.run([os.path.join(venv, "bin", cmd[0]), *cmd[1:], takes["left"]], capture_output=True,
                           text=True, env=env, cwd=elsewhere, timeout=300)
        assert p.returncode == 0 and "hand left, status complete" in p.stdout, p.stderr
    # make install: every module of the reader where /usr/bin/python3 finds it, and usable from there
    destdir = os.path.join(tmp, "destdir")
    make_install(destdir)
    site = os.path.join(destdir, f"usr/local/lib/python{PY3}/dist-packages")
    for f in glob.glob(os.path.join(ROOT, "python", "handrec", "*.py")):
        assert os.path.exists(os.path.join(site, "handrec", os.path.basename(f))), f
    p = subprocess.run([PY, "-c", code, outdir], capture_output=True, text=True, cwd=elsewhere, timeout=300,
                       env=dict(env, PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1"))
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["file"].startswith(site)


# ---- PyTorch ----

def test_torch_dataloader_with_workers(daemon, ctl, outdir, tmp):
    """handrec.torch.StepDataset through a DataLoader with 2 workers: every step of every kept
    episode exactly once, the images those the episode view gives, each worker with its own files
    (the parent has none open when it forks them)."""
    torch = pytest.importorskip("torch", reason="python3-torch (scripts/install-deps.sh installs it)")
    from torch.utils.data import DataLoader
    from handrec.torch import StepDataset
    eps = []
    for task in ("torch one", "torch two"):
        ep, _ = record(ctl, task)
        ctl("keep", "--episode", ep, "--success")
        eps.append(ep)
    record(ctl, "torch undecided")
    steps = StepDataset(outdir, decision="kept", scale=1 / 4, steps="all")
    assert steps.dataset.ids == eps
    assert h5py.h5f.get_obj_ids(types=h5py.h5f.OBJ_FILE) == [], "files left open before the workers fork"
    aligned = {i: ep.align() for i, ep in enumerate(steps.dataset)}
    want = {(i, s) for i, al in aligned.items() for s in range(len(al))}
    assert len(steps) == len(want) > 10
    for ep in steps.dataset:
        ep.close()

    def add_pid(item):
        item["pid"] = os.getpid()
        return item
    steps.transform = add_pid
    loader = DataLoader(steps, batch_size=8, shuffle=True, num_workers=2, generator=torch.Generator().manual_seed(1))
    seen, pids, sample = [], set(), None
    for batch in loader:
        assert batch["left"].dtype == torch.uint8 and batch["left"].shape[1:] == (2, H // 4, W // 4, 3)
        assert batch["right"].shape == batch["left"].shape and batch["valid"].shape[1] == 2
        seen += list(zip(batch["episode"].tolist(), batch["step"].tolist()))
        pids |= set(batch["pid"].tolist())
        if sample is None:
            sample = batch
    assert sorted(seen) == sorted(want) and len(seen) == len(want)
    assert len(pids) == 2 and os.getpid() not in pids
    print(f"\nDataLoader(num_workers=2, batch_size=8): {len(seen)} steps of {len(aligned)} episodes, each once, "
          f"from worker processes {sorted(pids)} (this one {os.getpid()})")
    # the images are the episode view's, frame numbers and times the alignment's
    for k in range(len(sample["step"])):
        e, s = int(sample["episode"][k]), int(sample["step"][k])
        view = steps.dataset[e].frames([s], scale=1 / 4, alignment=aligned[e])
        for j, h in enumerate(("left", "right")):
            assert np.array_equal(sample[h][k][0].numpy(), view[h].left[0])
            assert np.array_equal(sample[h][k][1].numpy(), view[h].right[0])
            assert int(sample["frame"][k][j]) == aligned[e].index[h][s]
            assert bool(sample["valid"][k][j]) == aligned[e].valid[h][s]
        assert int(sample["t_ns"][k]) == aligned[e].t_ns[s]
    # map-style in this process too, only the steps where both hands have a frame (the default),
    # the same dataset given as a handrec.Dataset
    again = StepDataset(handrec.Dataset(outdir), decision="kept", scale=1 / 8)
    assert len(again) == sum(int(al.ok.sum()) for al in aligned.values())
    if len(again):
        assert again[0]["left"].shape == (2, H // 8, W // 8, 3) and again[0]["valid"].all()
    with pytest.raises(IndexError):
        again[len(again)]
    assert len(StepDataset(outdir, decision="kept", steps="all", hands=("right",))) == \
        sum(len(ep.hands["right"]) for ep in handrec.Dataset(outdir, decision="kept"))
