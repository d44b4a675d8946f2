#!/usr/bin/python3
"""make bench, part 2: rectification of one stereo frame at 2x1280x720 (I420: Y, U, V of both eyes),
one thread, CPU time: handrecd's remap with each kernel this machine has (scalar reference, AVX2
or NEON; whole frames, and in bands of 16 rows as the encoder does) against cv2.remap with
OpenCV's fixed-point maps (convertMaps to CV_16SC2 + interpolation table, what remap uses
internally for 8-bit images) on the same planes, same calibration, same run. Also the maps'
bytes, and how many bytes of handrecd's frame differ from cv2.remap's through handrecd's own
maps (dumped by handrec-rectify). Figures, no asserts."""
import os
import subprocess
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


def planes(raw):
    """Y, U, V of an I420 stereo frame (2W x H)."""
    y = raw[:2 * W * H].reshape(H, 2 * W)
    u = raw[2 * W * H:2 * W * H + W * H // 2].reshape(H // 2, W)
    v = raw[2 * W * H + W * H // 2:3 * W * H].reshape(H // 2, W)
    return y, u, v


def load_map(path, w, h):
    """handrec-rectify's dump (x, y per pixel, NaN outside) as OpenCV fixed-point maps."""
    m = np.fromfile(path, dtype=np.float32).reshape(h, w, 2)
    m = np.where(np.isnan(m), np.float32(-10), m)  # far outside: the border colour
    return cv2.convertMaps(m[..., 0], m[..., 1], cv2.CV_16SC2)


with tempfile.TemporaryDirectory() as tmp:
    cal = os.path.join(tmp, "cal.yml")
    fs = cv2.FileStorage(cal, cv2.FILE_STORAGE_WRITE)
    for k, v in dict(M1=K, D1=D, M2=K, D2=D, R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2).items():
        fs.write(k, v)
    fs.release()
    img = cv2.resize(cv2.imread(IMAGE), (W, H))
    jpg = os.path.join(tmp, "frame.jpg")
    cv2.imwrite(jpg, img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    frames = os.path.join(tmp, "frames.yuv")
    out = subprocess.run([os.path.join(BUILD, "bench-remap"), str(W), str(H), str(N), cal, jpg, frames],
                         capture_output=True, text=True, check=True).stdout
    raw = np.fromfile(frames, dtype=np.uint8)
    subprocess.run([os.path.join(BUILD, "handrec-rectify"), "--size", f"{W}x{H}", "--out", tmp, cal],
                   capture_output=True, check=True)
    ours_maps = [(load_map(os.path.join(tmp, f"{e}_luma.f32"), W, H),
                  load_map(os.path.join(tmp, f"{e}_chroma.f32"), W // 2, H // 2)) for e in ("left", "right")]
ours = {k: float(v) for k, v in (line.split() for line in out.splitlines())}
src, rectified = planes(raw[:3 * W * H]), planes(raw[3 * W * H:])

# OpenCV: the same planes (the frame bench-remap decoded), maps for luma and for chroma (at the
# chroma sites, as handrecd builds them)
cv2.setNumThreads(1)
eyes = [[p[:, e * p.shape[1] // 2:(e + 1) * p.shape[1] // 2].copy() for p in src] for e in range(2)]
maps = []
for Re, Pe in ((R1, P1), (R2, P2)):
    lx, ly = cv2.initUndistortRectifyMap(K, D, Re, Pe, (W, H), cv2.CV_32FC1)
    # chroma map: the luma map sampled at the chroma sites, in chroma pixels
    cx = cv2.resize(lx, (W // 2, H // 2), interpolation=cv2.INTER_LINEAR) * 0.5 - 0.25
    cy = cv2.resize(ly, (W // 2, H // 2), interpolation=cv2.INTER_LINEAR) * 0.5 - 0.25
    maps.append((cv2.convertMaps(lx, ly, cv2.CV_16SC2), cv2.convertMaps(cx, cy, cv2.CV_16SC2)))


def opencv_frame():
    for (Y, U, V), ((l1, l2), (c1, c2)) in zip(eyes, maps):
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

# handrecd's frame against cv2.remap through handrecd's own maps, plane by plane
differ = 0
for e, ((Y, U, V), ((l1, l2), (c1, c2))) in enumerate(zip(eyes, ours_maps)):
    for plane, m1, m2, border, ref in ((Y, l1, l2, 0, rectified[0]), (U, c1, c2, 128, rectified[1]),
                                       (V, c1, c2, 128, rectified[2])):
        want = cv2.remap(plane, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
        w = plane.shape[1]
        differ += int(np.count_nonzero(ref[:, e * w:(e + 1) * w] != want))

full_bytes = 2 * 4 * (W * H + (W // 2) * (H // 2))  # a whole map: one 4-byte entry a pixel (before issue 23)
print(f"rectification of one stereo frame, 2x{W}x{H} I420 (Y, U, V of both eyes), 1 thread, {N} frames, CPU time")
for k in ("scalar", "avx2", "neon"):
    if f"{k}_frame_ms" in ours:
        print(f"  handrecd {k:6s} rectify_frame                         {ours[f'{k}_frame_ms']:7.2f} ms   "
              f"(best {ours[f'{k}_frame_best_ms']:.2f})")
        print(f"  handrecd {k:6s} rectify_rows, bands of 16 rows        {ours[f'{k}_bands_ms']:7.2f} ms   "
              f"(best {ours[f'{k}_bands_best_ms']:.2f})")
print(f"  cv2.remap INTER_LINEAR, fixed-point maps (CV_16SC2)   {cv_ms:7.2f} ms   (best {cv_best:.2f})")
fast = min(v for k, v in ours.items() if k.endswith("_frame_ms"))
print(f"  ratio handrecd (fastest kernel) / OpenCV              {fast / cv_ms:7.2f}x")
print(f"  bytes of handrecd's frame that differ from cv2.remap through the same maps: {differ} of {3 * W * H}")
print(f"  maps per hand: {ours['maps_bytes'] / 1e6:.2f} MB (a grid every {ours['maps_grid_step']:.0f} pixels, "
      f"{ours['maps_grid_step_chroma']:.0f} for chroma, and 4 bits a pixel; whole maps of 4-byte entries: "
      f"{full_bytes / 1e6:.1f} MB), built once at start in "
      f"{ours['maps_build_ms']:.0f} ms; a band decoder keeps {ours['maps_window_rows']:.0f} source rows of {H}")
