"""Quality at the rig (issue 20): each fault made as it happens for real, in a replay folder of
opencv-doc's aloe pair played at the camera's rate — a frozen stretch (the same file repeated), an
eye covered (black), frames blurred (a Gaussian blur of the real images) — found by the daemon
while it records, on the path that decodes the camera's JPEG and on the one that stores it as it
came; stored as qc_* attributes and in the verdict, shown live in Warnings and in the episode's
manifest. A take the replay ends mid-take is judged as far as it went."""
import json
import os

import cv2
import numpy as np
import pytest

from conftest import make_config
from takecheck import check_take, text

DATA = "/usr/share/doc/opencv-doc/examples/data"
W, H = 320, 240
N = 60
FROZEN = range(20, 30)  # ten frames alike
DARK = range(35, 40)    # the left eye covered
BLURRED = range(45, 51)


def eyes():
    return [cv2.resize(cv2.imread(os.path.join(DATA, name)), (W + 2 * N, H)) for name in ("aloeL.jpg", "aloeR.jpg")]


def write_faulty_folder(folder):
    os.makedirs(folder)
    left, right = eyes()
    for i in range(N):
        x = 2 * (FROZEN[0] if i in FROZEN else i)  # each frame a little further along, but the frozen ones
        img = np.hstack([left[:, x:x + W], right[:, x:x + W]])
        if i in DARK:
            img[:, :W] = 0
        if i in BLURRED:
            img = cv2.GaussianBlur(img, (0, 0), 6)
        cv2.imwrite(os.path.join(folder, f"frame{i:03d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])


def config(outdir, folder, passthrough):
    fmt = 'format = "MJPEG";' if passthrough else ""
    text_ = make_config(outdir, hands=("right",), width=W, height=H, fps=30.0, warmup=0.0,
                        extra=f'path = "{folder}"; rate = "realtime"; loop = false; {fmt}',
                        top="qc = { sample_every = 1; };")  # every frame looked at: the test counts them
    return text_.replace('source = "synthetic";', 'source = "replay";')


@pytest.mark.parametrize("passthrough", [False, True], ids=["decoded", "as-came"])
def test_faults_are_found_where_they_are(daemon_factory, ctl, outdir, tmp, passthrough):
    folder = os.path.join(tmp, "faulty")
    write_faulty_folder(folder)
    daemon_factory(config(outdir, folder, passthrough))
    out = json.loads(ctl("--json", "start", "--hand", "right", "--task", "qc").stdout)
    path = out["takes"][0]["file"]
    ctl("watch", "--hand", "right", timeout=120)
    attrs, n, _ = check_take(path, stamps=False, reason="end-of-input")
    assert text(attrs["jpeg_origin"]) == ("camera" if passthrough else "handrecd")
    # each fault, where it was: counted for the frames stored (a loaded machine may drop some)
    stored = int(attrs["frames"])
    assert stored == n and int(attrs["qc_frames_measured"]) == n
    frozen = int(attrs["qc_frozen_frames"])
    assert 3 <= frozen <= len(FROZEN), frozen
    assert 1 <= int(attrs["qc_dark_frames_left"]) <= len(DARK) and int(attrs["qc_dark_frames_right"]) == 0
    assert int(attrs["qc_blurred_frames_left"]) >= 1 and int(attrs["qc_blurred_frames_right"]) >= 1
    assert int(attrs["qc_blurred_frames_left"]) <= len(BLURRED) + 1
    assert int(attrs["qc_overexposed_frames_left"]) == 0 and int(attrs["qc_overexposed_frames_right"]) == 0
    verdict = text(attrs["qc_verdict"])
    assert f"{frozen} frozen frames at " in verdict and "left eye dark in" in verdict and "blurred" in verdict, verdict
    # where: the frozen stretch between its first and last frame (30 fps), as the verdict says it
    at = verdict.split(" frozen frames at ")[1].split(" s")[0]
    first, last = (float(v) for v in at.split("–"))
    assert FROZEN[0] / 30 - 0.5 <= first <= last <= FROZEN[-1] / 30 + 0.5, verdict
    # the episode's manifest has it too; the hand's Warnings said it
    with open(os.path.join(outdir, "episodes", out["episode"] + ".json")) as f:
        m = json.load(f)
    assert m["takes"]["right"]["qc"]["verdict"] == verdict
    assert m["takes"]["right"]["qc"]["frozen_frames"] == frozen
    status = json.loads(ctl("status", "--json").stdout)["hands"][0]
    assert status["warnings"] == verdict


def test_a_clean_take_finds_no_fault(daemon_factory, ctl, outdir):
    # the synthetic camera: nothing frozen, dark, overexposed or blurred (gaps a loaded machine may
    # cause are counted, not asserted away)
    daemon_factory(make_config(outdir, hands=("right",)))
    path = ctl("start", "--hand", "right", "--duration", "2", "--follow", timeout=120).stdout.splitlines()[0]
    attrs, n, _ = check_take(path, reason="duration")
    for k in ("qc_frozen_frames", "qc_dark_frames_left", "qc_dark_frames_right", "qc_overexposed_frames_left",
              "qc_overexposed_frames_right"):
        assert int(attrs[k]) == 0, (k, int(attrs[k]))
    assert int(attrs["qc_frames_measured"]) == n
    v = text(attrs["qc_verdict"])
    assert v == "ok" or all(p.split(" at ")[0].split(" ", 1)[1] in ("camera gaps", "timestamp gaps")
                            for p in v.split("; ")), v


def test_the_preview_page_shows_the_warnings_and_the_last_error(daemon_factory, ctl, outdir, tmp, bus):
    # what the operator looks at while recording: a frozen stretch in the take so far, in the
    # page's status line of the hand (headless Chromium's DOM) and in /status.json
    from test_preview_client import Preview, chromium
    import re
    import time
    folder = os.path.join(tmp, "faulty")
    write_faulty_folder(folder)
    daemon_factory(config(outdir, folder, False).replace("loop = false;", "loop = true;"))
    ctl("start", "--hand", "right")
    deadline = time.monotonic() + 120
    while "frozen frames" not in json.loads(ctl("status", "--json").stdout)["hands"][0]["warnings"]:
        assert time.monotonic() < deadline, "no frozen stretch in the take's Warnings"
        time.sleep(0.1)
    p = Preview(bus, tmp, "--hand", "right")
    try:
        status = json.loads(p.get("/status.json?hand=right").read())
        assert "frozen frames at " in status["warnings"] and status["last_error"] == "", status
        dom = chromium(p.page_url, tmp, "--dump-dom").stdout
        m = re.search(r'<figcaption id="status-right"[^>]*>([^<]*)</figcaption>', dom)
        assert m and "\nquality: " in m.group(1) and " frozen frames at " in m.group(1), dom
    finally:
        p.stop()
        ctl("stop")
