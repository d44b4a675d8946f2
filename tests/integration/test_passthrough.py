"""A replay folder played as a side-by-side MJPEG camera (camera.format = "MJPEG").

A take that is not rectified stores each file's bytes unchanged (compared by sha256), and the
file says so (jpeg_origin "camera", jpeg_quality 0); a rectified take decodes, rectifies and
re-encodes. A truncated file is counted and the take goes on. What cannot be passed through is
refused with a sentence: a format a replay cannot have (--check-config), left/right pairs and
files larger than a frame's JPEG buffer (at the start of the take). The images are opencv-doc's
aloe pair, resized and side by side, shifted a little per frame so that no two files are alike.
"""
import hashlib
import os
import subprocess

import cv2
import h5py
import numpy as np
import pytest

from conftest import HANDRECD, make_config, wait_frames
from takecheck import check_take, text

DATA = "/usr/share/doc/opencv-doc/examples/data"
W, H = 320, 240  # one eye
FRAMES = 6


def sha(data):
    return hashlib.sha256(bytes(data)).hexdigest()


def eyes():
    return [cv2.resize(cv2.imread(os.path.join(DATA, name)), (W + 32, H)) for name in ("aloeL.jpg", "aloeR.jpg")]


def write_frames(folder, n=FRAMES, quality=90):
    """n side-by-side JPEG files (2W x H), each cut from the aloe pair at another column; returns
    their paths in name order."""
    os.makedirs(folder, exist_ok=True)
    left, right = eyes()
    paths = []
    for i in range(n):
        x = 4 * i
        img = np.hstack([left[:, x:x + W], right[:, x:x + W]])
        path = os.path.join(folder, f"frame{i:03d}.jpg")
        assert cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        paths.append(path)
    return paths


def calibration(path):
    """A plausible calibration at the eye size (OpenCV FileStorage, as stereo_calib saves it)."""
    K = np.array([[300.0, 0, W / 2], [0, 301.0, H / 2], [0, 0, 1]])
    D = np.array([-0.05, 0.02, 0.001, -0.0005, 0.0])
    R, _ = cv2.Rodrigues(np.array([0.004, -0.01, 0.002]))
    T = np.array([[-0.06], [0.001], [0.001]])
    R1, R2, P1, P2, *_ = cv2.stereoRectify(K, D, K, D, (W, H), R, T, flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    for k, v in dict(M1=K, D1=D, M2=K, D2=D, R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2).items():
        fs.write(k, np.asarray(v, dtype=np.float64))
    fs.release()
    return path


def replay_config(outdir, folder, fmt='format = "MJPEG";', calibration_file=None):
    """make_config's one right hand, its camera a replay of @folder played once, as fast as the
    pipeline takes it (every image processed)."""
    text_ = make_config(outdir, hands=("right",), width=W, height=H, fps=30.0, warmup=0.0,
                        extra=f'path = "{folder}"; rate = "max"; loop = false; {fmt}')
    assert 'source = "synthetic";' in text_
    text_ = text_.replace('source = "synthetic";', 'source = "replay";')
    if calibration_file:
        text_ = text_.replace("right_hand = {", f'right_hand = {{\n    calibration = "{calibration_file}";', 1)
    return text_


def record(ctl, *options):
    p = ctl("start", "--hand", "right", "--follow", *options, timeout=120)
    assert "[RIGHT] stopped (end-of-input)" in p.stdout, p.stdout
    return p.stdout.splitlines()[0]


def stored_frames(path):
    with h5py.File(path, "r") as f:
        off, size, jpeg = f["stereo/offset"][()], f["stereo/size"][()], f["stereo/jpeg"]
        return [jpeg[int(o):int(o) + int(s)].tobytes() for o, s in zip(off, size)]


def test_unrectified_take_stores_each_file_unchanged(daemon_factory, ctl, outdir, tmp):
    files = write_frames(os.path.join(tmp, "images"))
    assert len({sha(open(p, "rb").read()) for p in files}) == FRAMES  # all different
    daemon_factory(replay_config(outdir, os.path.join(tmp, "images")))
    path = record(ctl)
    attrs, n, _ = check_take(path, stamps=False, reason="end-of-input")
    assert n == FRAMES and int(attrs["frames_captured"]) == FRAMES and int(attrs["frames_dropped"]) == 0
    # every stored frame is its file, byte for byte, in name order
    assert [sha(f) for f in stored_frames(path)] == [sha(open(p, "rb").read()) for p in files]
    # and the file says the JPEG is not ours: no quality of ours, not rectified
    assert text(attrs["jpeg_origin"]) == "camera"
    assert int(attrs["jpeg_quality"]) == 0 and int(attrs["rectified"]) == 0
    assert text(attrs["source"]) == "replay"


def test_rectified_take_is_reencoded(daemon_factory, ctl, outdir, tmp):
    files = write_frames(os.path.join(tmp, "images"))
    cal = calibration(os.path.join(tmp, "cal.yml"))
    daemon_factory(replay_config(outdir, os.path.join(tmp, "images"), calibration_file=cal))
    # the same daemon: a take that is not rectified passes through, one that is re-encodes
    plain = record(ctl, "--no-rectify")
    assert [sha(f) for f in stored_frames(plain)] == [sha(open(p, "rb").read()) for p in files]
    path = record(ctl, "--rectify", "--quality", "70")
    attrs, n, _ = check_take(path, stamps=False, reason="end-of-input")
    assert n == FRAMES and int(attrs["rectified"]) == 1
    assert text(attrs["jpeg_origin"]) == "handrecd" and int(attrs["jpeg_quality"]) == 70
    stored = stored_frames(path)
    assert not {sha(f) for f in stored} & {sha(open(p, "rb").read()) for p in files}
    for f in stored:
        img = cv2.imdecode(np.frombuffer(f, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (H, 2 * W, 3)  # the rectified stereo frame: both eyes at the calibrated size


@pytest.mark.parametrize("rectify", [False, True], ids=["passthrough", "decoded"])
def test_truncated_file_is_counted_and_the_take_goes_on(daemon_factory, ctl, outdir, tmp, rectify):
    folder = os.path.join(tmp, "images")
    files = write_frames(folder)
    data = open(files[2], "rb").read()
    with open(files[2], "wb") as f:  # the header whole, the image data cut at 60 %
        f.write(data[:len(data) * 6 // 10])
    cal = calibration(os.path.join(tmp, "cal.yml"))
    d = daemon_factory(replay_config(outdir, folder, calibration_file=cal))
    path = record(ctl, "--rectify" if rectify else "--no-rectify")
    attrs, n, _ = check_take(path, stamps=False, reason="end-of-input")
    assert n == FRAMES - 1 and int(attrs["frames_captured"]) == FRAMES
    assert int(attrs["dropped_encode_error"]) == 1 and int(attrs["frames_dropped"]) == 1
    if not rectify:
        good = [p for i, p in enumerate(files) if i != 2]
        assert [sha(f) for f in stored_frames(path)] == [sha(open(p, "rb").read()) for p in good]
    assert f"{files[2]}:" in d.log_text()


def check_config(tmp, conf_text):
    conf = os.path.join(tmp, "check.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    return conf, subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True,
                                timeout=30)


def test_replay_formats_at_check_config(tmp, outdir):
    folder = os.path.join(tmp, "images")
    write_frames(folder, n=1)
    for fmt in ('format = "MJPEG";', 'format = "mjpg";', ""):
        conf, p = check_config(tmp, replay_config(outdir, folder, fmt=fmt))
        assert p.returncode == 0, (fmt, p.stderr)
    conf, p = check_config(tmp, replay_config(outdir, folder, fmt='format = "YUYV";'))
    assert p.returncode == 1
    line = next(i for i, s in enumerate(open(conf), 1) if 'format = "YUYV"' in s)
    assert f'{conf}:{line}: right_hand.camera.format: a replay reads JPEG images, not "YUYV"; write ' \
           'format = "MJPEG"' in p.stderr, p.stderr
    assert "or remove the line to decode every image" in p.stderr


def last_error(ctl):
    """A folder that cannot be played is refused when the daemon starts (the hand is in error, its
    LastError says why) and again when a take is asked for, before any file is made; returns why."""
    status = ctl("status", "--hand", "right", check=False)
    assert status.returncode == 3 and status.stdout.startswith("[RIGHT] error: "), status.stdout
    p = ctl("start", "--hand", "right", check=False, timeout=60)
    assert p.returncode == 1, p.stdout
    prefix = "handrecctl: Hand right: The replay folder cannot be played: "
    line = next(s for s in p.stderr.splitlines() if s.startswith(prefix))
    assert line.endswith(". Fix the folder, then start again."), line
    return line[len(prefix):-len(". Fix the folder, then start again.")]


def test_pairs_are_refused_with_mjpeg(daemon_factory, ctl, outdir, tmp):
    folder = os.path.join(tmp, "images")
    os.makedirs(folder)
    left, right = eyes()
    for i in range(2):
        cv2.imwrite(os.path.join(folder, f"{i:02d}_left.jpg"), left[:, :W])
        cv2.imwrite(os.path.join(folder, f"{i:02d}_right.jpg"), right[:, :W])
    daemon_factory(replay_config(outdir, folder))
    assert last_error(ctl) == (
        f"{folder} holds left/right image pairs, two JPEGs a "
        'frame, which cannot be stored as one MJPEG frame; remove camera.format = "MJPEG" to have them decoded '
        "and encoded side by side, or give side-by-side images")


def test_file_larger_than_the_frame_buffer_is_refused(daemon_factory, ctl, outdir, tmp):
    folder = os.path.join(tmp, "images")
    files = write_frames(folder, n=2)
    # a valid JPEG made large by comment segments (COM, 64 KiB each) after its start marker
    data = open(files[1], "rb").read()
    com = b"\xff\xfe" + (65535).to_bytes(2, "big") + b"x" * 65533
    with open(files[1], "wb") as f:
        f.write(data[:2] + com * 4 + data[2:])
    assert cv2.imread(files[1]) is not None
    limit = 2 * W * H * 3 // 2 + 65536
    size = os.path.getsize(files[1])
    assert size > limit
    daemon_factory(replay_config(outdir, folder))
    assert f"{files[1]} is {size} bytes, more than the {limit} a side-by-side MJPEG frame of {2 * W}x{H} may " \
           "take (the raw I420 frame plus 64 KiB)" in last_error(ctl)


@pytest.mark.parametrize("rectify", ["--no-rectify", "--rectify"])
def test_stopping_a_paced_replay_drops_nothing(daemon_factory, ctl, outdir, tmp, rectify):
    """A replay at rate "max" waits for the pipeline instead of dropping, so a take stopped in the
    middle must count no drop: the source, woken by the stop while it waited for a free job,
    used to read one more frame and count it as encoder-busy."""
    folder = os.path.join(tmp, "images")
    write_frames(folder)
    cal = calibration(os.path.join(tmp, "cal.yml"))
    text_ = replay_config(outdir, folder, calibration_file=cal).replace("loop = false;", "loop = true;")
    daemon_factory(text_)
    path = ctl("start", "--hand", "right", rectify).stdout.strip()
    wait_frames(ctl, hands=("right",), n=60)
    ctl("stop", "--hand", "right")
    attrs, n, _ = check_take(path, stamps=False, reason="requested")
    assert n >= 60 and int(attrs["frames_dropped"]) == 0, {k: v for k, v in attrs.items() if "drop" in k}
    assert int(attrs["frames_captured"]) == n
