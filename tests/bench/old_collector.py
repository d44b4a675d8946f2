#!/usr/bin/python3
"""make bench, row 5: the design of the Python collector handrecd replaces, on the bench's frames.

One thread per stage, as the original had them:
  camera   reads the next side-by-side JPEG (the frames the replay source plays, in the same order)
  decode   cv2.imdecode to BGR
  rectify  cv2.remap of each eye, INTER_LINEAR, with the maps of cv2.initUndistortRectifyMap made
           fixed point once by cv2.convertMaps (CV_16SC2 + interpolation table)
  encode   cv2.imencode JPEG at the quality given; frames gathered in batches of 10, each batch put
           on a queue.Queue(maxsize=50)
  writer   h5py: appends every batch to a resizable dataset `stereo_jpeg` of variable-length uint8
           (one JPEG per element) and `timestamp_ns`, resized by a batch at a time, flushed per batch
Stages are joined by small queues, so the camera stage runs as fast as the slowest stage takes frames.
OpenCV's own threading is left as the original left it (its default).

Measured in this process, from the moment the threads start to the moment the writer has closed
the file (imports and building the maps are set-up, as the daemon's start is): CPU time of all
threads (getrusage) per frame, and the peak RSS (ru_maxrss, the whole life of the process).
Prints one JSON object.

  old_collector.py --calibration CAL.yml --quality 85 --frames N --out FILE.h5 FRAME.jpg...
"""
import argparse
import json
import queue
import resource
import threading
import time

import cv2
import h5py
import numpy as np

BATCH = 10
STOP = None


def load_maps(path, eye_w, eye_h):
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    m = {k: fs.getNode(k).mat() for k in ("M1", "D1", "M2", "D2", "R1", "R2", "P1", "P2")}
    fs.release()
    maps = []
    for K, D, R, P in (("M1", "D1", "R1", "P1"), ("M2", "D2", "R2", "P2")):
        mx, my = cv2.initUndistortRectifyMap(m[K], m[D], m[R], m[P], (eye_w, eye_h), cv2.CV_32FC1)
        maps.append(cv2.convertMaps(mx, my, cv2.CV_16SC2))
    return maps


def stage(name, inbox, outbox, work):
    def run():
        while True:
            item = inbox.get()
            if item is STOP:
                outbox.put(STOP)
                return
            outbox.put(work(item))
    return threading.Thread(target=run, name=name)


def camera(files, n, outbox):
    for i in range(n):
        with open(files[i % len(files)], "rb") as f:
            outbox.put((time.monotonic_ns(), np.frombuffer(f.read(), np.uint8)))
    outbox.put(STOP)


def make_encoder(quality, inbox, batches):
    def run():
        batch = []
        while True:
            item = inbox.get()
            if item is STOP:
                break
            ts, img = item
            ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
            assert ok
            batch.append((ts, jpeg.ravel()))
            if len(batch) == BATCH:
                batches.put(batch)
                batch = []
        if batch:
            batches.put(batch)
        batches.put(STOP)
    return threading.Thread(target=run, name="encode")


def make_writer(path, batches, written):
    def run():
        with h5py.File(path, "w") as f:
            jpeg = f.create_dataset("stereo_jpeg", shape=(0,), maxshape=(None,), chunks=(BATCH,),
                                    dtype=h5py.vlen_dtype(np.uint8))
            stamps = f.create_dataset("timestamp_ns", shape=(0,), maxshape=(None,), chunks=(1024,), dtype=np.int64)
            while True:
                batch = batches.get()
                if batch is STOP:
                    break
                n = jpeg.shape[0]
                jpeg.resize((n + len(batch),))
                stamps.resize((n + len(batch),))
                for i, (ts, data) in enumerate(batch):
                    jpeg[n + i] = data
                stamps[n:] = [ts for ts, _ in batch]
                f.flush()
                written.append(len(batch))
    return threading.Thread(target=run, name="writer")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--quality", type=int, default=85)
    ap.add_argument("--frames", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    h, w = cv2.imdecode(np.fromfile(a.files[0], np.uint8), cv2.IMREAD_COLOR).shape[:2]
    eye_w, eye_h = w // 2, h  # side by side
    maps = load_maps(a.calibration, eye_w, eye_h)

    def rectify(item):
        ts, img = item
        eyes = [cv2.remap(img[:, e * eye_w:(e + 1) * eye_w], m1, m2, cv2.INTER_LINEAR) for e, (m1, m2) in
                enumerate(maps)]
        return ts, cv2.hconcat(eyes)

    raw, decoded, rectified = queue.Queue(maxsize=4), queue.Queue(maxsize=4), queue.Queue(maxsize=4)
    batches = queue.Queue(maxsize=50)
    written = []
    threads = [threading.Thread(target=camera, args=(a.files, a.frames, raw), name="camera"),
               stage("decode", raw, decoded, lambda it: (it[0], cv2.imdecode(it[1], cv2.IMREAD_COLOR))),
               stage("rectify", decoded, rectified, rectify),
               make_encoder(a.quality, rectified, batches),
               make_writer(a.out, batches, written)]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    frames = sum(written)
    with h5py.File(a.out, "r") as f:
        stored = f["stereo_jpeg"].shape[0]
        size = sum(f["stereo_jpeg"][i].size for i in range(stored))
    print(json.dumps(dict(frames=frames, stored=stored, cpu_ms_per_frame=round(cpu * 1000 / max(frames, 1), 3),
                          peak_rss_kb=r1.ru_maxrss, out_jpeg_kb=round(size / max(stored, 1) / 1e3, 1),
                          eye_width=eye_w, eye_height=eye_h, opencv_threads=cv2.getNumThreads())))


if __name__ == "__main__":
    main()
