#!/usr/bin/python3
"""make bench, part 2: rectification of one stereo frame at 2x1280x720 (I420: Y, U, V of both eyes),
one thread, handrecd's remap against cv2.remap with OpenCV's fixed-point maps (convertMaps to
CV_16SC2 + interpolation table, what remap uses internally for 8-bit images), same planes, same
calibration, same run. Prints milliseconds per stereo frame (CPU time) and the ratio."""
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

BUILD = os.environ.get("BUILD", "build")
W, H, N = 1280, 720, int(os.environ.get("BENCH_REMAP_ITERATIONS", 200))
IMAGE = "/usr/share/doc/opencv-doc/examples/data/aloeL.jpg"

K = np.array([[1000.0, 0, 641.0], [0, 1001.0, 359.0], [0, 0, 1]])
D = np.array([-0.28, 0.09, 0.0008, -0.0004, -0.01])
R, _ = cv2.Rodrigues(np.array([0.004, -0.01, 0.002]))
T = np.array([[-0.12], [0.001], [0.001]])
R1, R2, P1, P2, *_ = cv2.stereoRectify(K, D, K, D, (W, H), R, T, flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)

with tempfile.TemporaryDirectory() as tmp:
    cal = os.path.join(tmp, "cal.yml")
    fs = cv2.FileStorage(cal, cv2.FILE_STORAGE_WRITE)
    for k, v in dict(M1=K, D1=D, M2=K, D2=D, R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2).items():
        fs.write(k, v)
    fs.release()
    img = cv2.resize(cv2.imread(IMAGE), (W, H))
    jpg = os.path.join(tmp, "frame.jpg")
    cv2.imwrite(jpg, img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    out = subprocess.run([os.path.join(BUILD, "bench-remap"), str(W), str(H), str(N), cal, jpg], capture_output=True,
                         text=True, check=True).stdout
ours = dict(line.split() for line in out.splitlines())

# OpenCV: the same planes, maps for luma and for chroma (at the chroma sites, as handrecd builds them)
cv2.setNumThreads(1)
yuv = cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420)
Y = yuv[:H]
U = yuv[H:H + H // 4].reshape(H // 2, W // 2)
V = yuv[H + H // 4:].reshape(H // 2, W // 2)
maps = []
for Re, Pe in ((R1, P1), (R2, P2)):
    lx, ly = cv2.initUndistortRectifyMap(K, D, Re, Pe, (W, H), cv2.CV_32FC1)
    # chroma map: the luma map sampled at the chroma sites, in chroma pixels
    cx = cv2.resize(lx, (W // 2, H // 2), interpolation=cv2.INTER_LINEAR) * 0.5 - 0.25
    cy = cv2.resize(ly, (W // 2, H // 2), interpolation=cv2.INTER_LINEAR) * 0.5 - 0.25
    maps.append((cv2.convertMaps(lx, ly, cv2.CV_16SC2), cv2.convertMaps(cx, cy, cv2.CV_16SC2)))


def opencv_frame():
    for (l1, l2), (c1, c2) in maps:
        cv2.remap(Y, l1, l2, cv2.INTER_LINEAR)
        cv2.remap(U, c1, c2, cv2.INTER_LINEAR)
        cv2.remap(V, c1, c2, cv2.INTER_LINEAR)


opencv_frame()
times = []
for _ in range(N):
    t = time.thread_time_ns()
    opencv_frame()
    times.append(time.thread_time_ns() - t)
cv_ms, cv_best = np.mean(times) / 1e6, np.min(times) / 1e6
h_ms, h_best = float(ours["handrecd_remap_ms"]), float(ours["handrecd_remap_best_ms"])
print(f"rectification of one stereo frame, 2x{W}x{H} I420 (Y, U, V of both eyes), 1 thread, {N} frames, CPU time")
print(f"  handrecd rectify_frame (8-bit weights, 1/256 px)      {h_ms:7.2f} ms   (best {h_best:.2f})")
print(f"  cv2.remap INTER_LINEAR, fixed-point maps (CV_16SC2)   {cv_ms:7.2f} ms   (best {cv_best:.2f})")
print(f"  ratio handrecd / OpenCV                               {h_ms / cv_ms:7.2f}x")
print(f"  (handrecd builds its maps once per hand at start: {float(ours['handrecd_maps_build_ms']):.0f} ms)")
