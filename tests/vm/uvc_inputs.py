#!/usr/bin/python3
"""The inputs of the UVC VM tests (tests/vm/test_uvc.py), made once under $BUILD/vm-uvc-inputs/:

- frames/2560x720/aloe-NN.jpg, frames/1280x480/aloe-NN.jpg: opencv-doc's aloe pair (aloeL.jpg,
  aloeR.jpg) cropped a little differently per frame, scaled to one eye's size and put side by side:
  what a side-by-side stereo UVC camera sends (quality 90, 4:2:0), as tests/bench/inputs.py makes
  them. tests/uvc's camera sends these, and a replay folder of the same files is the comparison.
- calibration-640x480.yml: opencv-doc's chessboard pairs (640x480 each eye) calibrated with
  cv2.stereoCalibrate and rectified by cv2.stereoRectify, in OpenCV FileStorage YAML as handrecd
  reads it: for rectified takes of the 1280x480 (two 640x480 eyes) stream.

    uvc_inputs.py [DIR]     make them (or say they are there) and print DIR
"""
import json
import os
import shutil
import sys

import cv2
import numpy as np

VERSION = 1
DATA = "/usr/share/doc/opencv-doc/examples/data"
SIZES = [(1280, 720), (640, 480)]  # one eye
N_FRAMES = 8


def default_dir():
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    build = os.environ.get("BUILD", "build")
    return os.path.join(build if os.path.isabs(build) else os.path.join(root, build), "vm-uvc-inputs")


def make_frames(folder, eye_w, eye_h):
    left, right = cv2.imread(os.path.join(DATA, "aloeL.jpg")), cv2.imread(os.path.join(DATA, "aloeR.jpg"))
    h, w = left.shape[:2]
    os.makedirs(folder, exist_ok=True)
    for k in range(N_FRAMES):
        x0, y0, cut = 3 * k, 2 * k, 24 + 2 * k  # frame k: the view moved and zoomed a little
        eyes = [cv2.resize(img[y0:y0 + h - cut, x0:x0 + w - cut], (eye_w, eye_h), interpolation=cv2.INTER_AREA)
                for img in (left, right)]
        assert cv2.imwrite(os.path.join(folder, f"aloe-{k:02d}.jpg"), cv2.hconcat(eyes),
                           [cv2.IMWRITE_JPEG_QUALITY, 90])


def make_calibration(path):
    board = (9, 6)
    obj = np.zeros((board[0] * board[1], 3), np.float32)
    obj[:, :2] = np.mgrid[0:board[0], 0:board[1]].T.reshape(-1, 2)
    objpts, lpts, rpts = [], [], []
    crit = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 30, 0.01)
    for i in range(1, 15):
        corners = []
        for eye in ("left", "right"):
            p = os.path.join(DATA, f"{eye}{i:02d}.jpg")  # opencv-doc has no left10.jpg
            img = cv2.imread(p, cv2.IMREAD_GRAYSCALE) if os.path.exists(p) else None
            ok, c = cv2.findChessboardCorners(img, board) if img is not None else (False, None)
            if not ok:
                break
            corners.append(cv2.cornerSubPix(img, c, (11, 11), (-1, -1), crit))
        if len(corners) == 2:
            objpts.append(obj), lpts.append(corners[0]), rpts.append(corners[1])
    size = (640, 480)
    M1, M2 = cv2.initCameraMatrix2D(objpts, lpts, size, 0), cv2.initCameraMatrix2D(objpts, rpts, size, 0)
    flags = (cv2.CALIB_FIX_ASPECT_RATIO | cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_USE_INTRINSIC_GUESS |
             cv2.CALIB_SAME_FOCAL_LENGTH | cv2.CALIB_RATIONAL_MODEL | cv2.CALIB_FIX_K3 | cv2.CALIB_FIX_K4 |
             cv2.CALIB_FIX_K5)
    _, M1, D1, M2, D2, R, T, _, _ = cv2.stereoCalibrate(objpts, lpts, rpts, M1, None, M2, None, size, flags=flags)
    R1, R2, P1, P2, *_ = cv2.stereoRectify(M1, D1, M2, D2, size, R, T, flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    for k, v in dict(M1=M1, D1=D1, M2=M2, D2=D2, R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2).items():
        fs.write(k, np.asarray(v, dtype=np.float64))
    fs.release()


def make(folder=None):
    """Make the inputs in @folder (default $BUILD/vm-uvc-inputs) unless they are there; return it."""
    folder = os.path.abspath(folder or default_dir())
    stamp = os.path.join(folder, "inputs.json")
    try:
        if json.load(open(stamp)).get("version") == VERSION:
            return folder
    except (OSError, ValueError):
        pass
    # made aside and renamed into place: another run may be reading the folder
    work = f"{folder}.tmp{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    for w, h in SIZES:
        make_frames(os.path.join(work, "frames", f"{2 * w}x{h}"), w, h)
    make_calibration(os.path.join(work, "calibration-640x480.yml"))
    with open(os.path.join(work, "inputs.json"), "w") as f:
        json.dump({"version": VERSION, "frames": N_FRAMES}, f)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rename(work, folder)
    except OSError:  # another run put its own there meanwhile: the same files
        shutil.rmtree(work, ignore_errors=True)
    return folder


if __name__ == "__main__":
    print(make(sys.argv[1] if len(sys.argv) > 1 else None))
