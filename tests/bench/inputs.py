#!/usr/bin/python3
"""make bench, step 0: the inputs every measurement uses, made once under $BUILD/bench/inputs/.

- frames/aloe-NN.jpg: opencv-doc's aloe pair (aloeL.jpg, aloeR.jpg, 1282x1110) each cropped a few
  pixels differently per frame (so no two frames are the same image), scaled to 1280x720 per eye
  and put side by side: 2560x720 JPEGs at quality 90, 4:2:0, as a side-by-side MJPEG camera sends.
- calibration.yml: opencv-doc's chessboard pairs (left01..14.jpg, right01..14.jpg) calibrated with
  cv2.stereoCalibrate as tests/integration/test_rectify.py does (its stereo_calib sample's
  steps), the camera matrices scaled from the 640x480 chessboard images to 1280x720, and the
  rectification computed by cv2.stereoRectify at 1280x720: M1 D1 M2 D2 R T R1 R2 P1 P2 in one
  OpenCV FileStorage YAML file, as handrecd reads it.
- inputs.json: the manifest (paths, sizes, the chessboard pairs used, the calibration's error).

Nothing is made again while inputs.json has this script's VERSION.
"""
import json
import os
import shutil

import cv2
import numpy as np

from benchlib import EYE_H, EYE_W, INPUTS

VERSION = 1
DATA = "/usr/share/doc/opencv-doc/examples/data"
N_FRAMES = 8
CHESS_W, CHESS_H = 640, 480


def cached():
    try:
        with open(os.path.join(INPUTS, "inputs.json")) as f:
            m = json.load(f)
        return m.get("version") == VERSION and all(os.path.exists(p) for p in m["frames"] + [m["calibration"]])
    except (OSError, ValueError, KeyError):
        return False


def make_frames(folder):
    left, right = cv2.imread(os.path.join(DATA, "aloeL.jpg")), cv2.imread(os.path.join(DATA, "aloeR.jpg"))
    h, w = left.shape[:2]
    paths = []
    for k in range(N_FRAMES):
        # frame k: the view moved by (3k, 2k) pixels and zoomed in by 2k pixels a side, both eyes alike
        x0, y0, cut = 3 * k, 2 * k, 24 + 2 * k
        eyes = [cv2.resize(img[y0:y0 + h - cut, x0:x0 + w - cut], (EYE_W, EYE_H), interpolation=cv2.INTER_AREA)
                for img in (left, right)]
        path = os.path.join(folder, f"aloe-{k:02d}.jpg")
        assert cv2.imwrite(path, cv2.hconcat(eyes), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def chessboard_corners():
    board = (9, 6)
    obj = np.zeros((board[0] * board[1], 3), np.float32)
    obj[:, :2] = np.mgrid[0:board[0], 0:board[1]].T.reshape(-1, 2)
    objpts, lpts, rpts, pairs = [], [], [], []
    for i in range(1, 15):
        corners = []
        for eye in ("left", "right"):
            path = os.path.join(DATA, f"{eye}{i:02d}.jpg")  # opencv-doc has no left10.jpg
            img = cv2.imread(path, cv2.IMREAD_GRAYSCALE) if os.path.exists(path) else None
            if img is None:
                break
            ok, c = cv2.findChessboardCorners(img, board, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
            if not ok:
                break
            corners.append(cv2.cornerSubPix(img, c, (11, 11), (-1, -1),
                                            (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 30, 0.01)))
        if len(corners) == 2:
            objpts.append(obj)
            lpts.append(corners[0])
            rpts.append(corners[1])
            pairs.append(i)
    assert len(pairs) >= 10, f"only {len(pairs)} chessboard pairs found in {DATA}"
    return objpts, lpts, rpts, pairs


def scale_camera(K, sx, sy):
    """K for the same camera's images scaled by sx, sy (pixel centres kept: (c + 0.5) s - 0.5)."""
    S = K.copy()
    S[0, 0], S[0, 2] = K[0, 0] * sx, (K[0, 2] + 0.5) * sx - 0.5
    S[1, 1], S[1, 2] = K[1, 1] * sy, (K[1, 2] + 0.5) * sy - 0.5
    return S


def make_calibration(path):
    objpts, lpts, rpts, pairs = chessboard_corners()
    size = (CHESS_W, CHESS_H)
    M1 = cv2.initCameraMatrix2D(objpts, lpts, size, 0)
    M2 = cv2.initCameraMatrix2D(objpts, rpts, size, 0)
    flags = (cv2.CALIB_FIX_ASPECT_RATIO | cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_USE_INTRINSIC_GUESS |
             cv2.CALIB_SAME_FOCAL_LENGTH | cv2.CALIB_RATIONAL_MODEL | cv2.CALIB_FIX_K3 | cv2.CALIB_FIX_K4 |
             cv2.CALIB_FIX_K5)
    rms, M1, D1, M2, D2, R, T, _, _ = cv2.stereoCalibrate(
        objpts, lpts, rpts, M1, None, M2, None, size, flags=flags,
        criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-5))
    sx, sy = EYE_W / CHESS_W, EYE_H / CHESS_H
    M1, M2 = scale_camera(M1, sx, sy), scale_camera(M2, sx, sy)
    R1, R2, P1, P2, *_ = cv2.stereoRectify(M1, D1, M2, D2, (EYE_W, EYE_H), R, T, flags=cv2.CALIB_ZERO_DISPARITY,
                                           alpha=0)
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    for k, v in dict(M1=M1, D1=D1, M2=M2, D2=D2, R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2).items():
        fs.write(k, np.asarray(v, dtype=np.float64))
    fs.release()
    return float(rms), pairs


def main():
    if cached():
        print(f"inputs: cached in {INPUTS}")
        return
    shutil.rmtree(INPUTS, ignore_errors=True)
    frames_dir = os.path.join(INPUTS, "frames")
    os.makedirs(frames_dir)
    frames = make_frames(frames_dir)
    cal = os.path.join(INPUTS, "calibration.yml")
    rms, pairs = make_calibration(cal)
    manifest = dict(version=VERSION, frames=frames, calibration=cal, eye_width=EYE_W, eye_height=EYE_H,
                    jpeg_kb=round(sum(os.path.getsize(p) for p in frames) / len(frames) / 1e3, 1),
                    chessboard_pairs=pairs, calibration_rms_px=round(rms, 4))
    with open(os.path.join(INPUTS, "inputs.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"inputs: {len(frames)} side-by-side frames 2x{EYE_W}x{EYE_H} ({manifest['jpeg_kb']} kB each) and a "
          f"calibration from {len(pairs)} chessboard pairs (RMS {rms:.3f} px) in {INPUTS}")


if __name__ == "__main__":
    main()
