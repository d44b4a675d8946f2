#!/usr/bin/python3
"""Writes the fuzzers' seed inputs into tests/fuzz/corpus/<target>/ (run from anywhere; the files
are committed, this says where they came from): the shipped configuration and the kinds the tests
write, OpenCV FileStorage calibrations written by cv2.FileStorage itself and ROS camera_info files
as tests/integration/test_rectify.py writes them (the values of tests/unit/test-calibration.c), and
StartRecording option dictionaries encoded as fuzz-take-options.c reads its input.

It only adds or rewrites its own files: inputs saved from longer runs (tests/fuzz/README.md) stay.
"""
import os
import struct
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import make_config  # noqa: E402

NEXT_FILE = "\n#8<\n"  # fuzz-calibration.h: where the first file ends and the second begins


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


# ---- calibrations ------------------------------------------------------------------------------

M1 = np.array([[520., 0, 318], [0, 521, 243], [0, 0, 1]])
M2 = np.array([[515., 0, 325], [0, 516, 236], [0, 0, 1]])
D1 = np.array([[-0.21, 0.05, 0.001, -0.0008, 0.01]])
D2 = np.array([[-0.19, 0.04, -0.0005, 0.0012, 0.008]])
ROT = np.array([[0.99978448446658963, -0.0052980288746904006, -0.020072755414203013],
                [0.0051010575267207, 0.99993846270304576, -0.0098513968135853884],
                [0.020123713175866819, 0.0097468814044586079, 0.99974998598194675]])
T = np.array([[-0.0625], [0.0011], [0.0018]])
R1 = np.eye(3)
R2 = np.array([[0.8, -0.6, 0], [0.6, 0.8, 0], [0, 0, 1]])
P1 = np.array([[414.5, 0, 352.5, 0], [0, 414.5, 240.1, 0], [0, 0, 1, 0]])
P2 = np.array([[414.5, 0, 352.5, -25.9], [0, 414.5, 240.1, 0], [0, 0, 1, 0]])
FK1 = np.array([[285., 0, 322], [0, 286, 241], [0, 0, 1]])
FK2 = np.array([[288., 0, 318], [0, 288.5, 244], [0, 0, 1]])
FD1 = np.array([[-0.012], [0.047], [-0.041], [0.009]])
FD2 = np.array([[-0.009], [0.039], [-0.036], [0.008]])


def opencv(**items):
    """A FileStorage YAML file as OpenCV writes it."""
    import cv2
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.yml")
        fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
        for k, v in items.items():
            if isinstance(v, str):
                fs.write(k, v)
            elif isinstance(v, tuple):  # imageSize
                fs.write(k, np.array(v, dtype=np.int32).reshape(1, -1))
            else:
                fs.write(k, np.asarray(v, dtype=np.float64))
        fs.release()
        with open(path) as f:
            return f.read()


def ros(name, K, D, R, P, size=(640, 480), model="plumb_bob"):
    """A camera_info file as tests/integration/test_rectify.py (and camera_calibration) write it."""
    def mat(rows, cols, v):
        return f"  rows: {rows}\n  cols: {cols}\n  data: [{', '.join(repr(float(x)) for x in np.ravel(v))}]\n"
    model_line = f"distortion_model: {model}\n" if model else ""
    return (f"image_width: {size[0]}\nimage_height: {size[1]}\ncamera_name: {name}\n"
            f"camera_matrix:\n{mat(3, 3, K)}{model_line}"
            f"distortion_coefficients:\n{mat(1, len(np.ravel(D)), D)}"
            f"rectification_matrix:\n{mat(3, 3, R)}projection_matrix:\n{mat(3, 4, P)}")


def calibrations():
    intrinsics = opencv(imageSize=(640, 480), M1=M1, D1=D1, M2=M2, D2=D2)
    extrinsics = opencv(R=ROT, T=T, R1=R1, R2=R2, P1=P1, P2=P2)
    extrinsics_rt = opencv(R=ROT, T=T)
    write("calibration-opencv", "stereo-calib-rectified.yml", intrinsics + NEXT_FILE + extrinsics)
    write("calibration-opencv", "stereo-calib-rt.yml", intrinsics + NEXT_FILE + extrinsics_rt)
    write("calibration-opencv", "one-file.yml",
          opencv(image_width="640", M1=M1, D1=D1, M2=M2, D2=D2, R=ROT, T=T, R1=R1, R2=R2, P1=P1, P2=P2)
          .replace('image_width: "640"', "image_width: 640\nimage_height: 480"))
    write("calibration-opencv", "fisheye-rt.yml",
          opencv(distortion_model="fisheye", M1=FK1, D1=FD1, M2=FK2, D2=FD2, R=ROT, T=T))
    d8 = np.array([[-0.2, 0.05, 0.001, -0.0008, 0.01, 0.002, 0.001, 0.0005]])
    d14 = np.zeros((1, 14))
    d14[0, :5] = D1[0]
    write("calibration-opencv", "k-rational.yml", opencv(K1=M1, D1=d8, K2=M2, D2=d14, R=ROT, T=T))
    # plain lists instead of !!opencv-matrix, as hand-written files have them
    write("calibration-opencv", "plain-lists.yml",
          "imageSize: [640, 480]\n"
          f"M1: [{', '.join(map(str, M1.ravel()))}]\nD1: [0.1, -0.2, 0, 0]\n"
          f"M2: [{', '.join(map(str, M2.ravel()))}]\nD2: [0.1, -0.2, 0, 0]\n"
          f"R: [{', '.join(map(str, ROT.ravel()))}]\nT: [-0.06, 0, 0]\n")
    write("calibration-opencv", "unknown.yml", "foo: 1\nbar: [1, 2]\n")

    write("calibration-ros", "plumb-bob.yaml",
          ros("left", M1, D1, R1, P1) + NEXT_FILE + ros("right", M2, D2, R2, P2))
    d8 = [-0.2, 0.05, 0.001, -0.0008, 0.01, 0.002, 0.001, 0.0005]
    write("calibration-ros", "rational.yaml",
          ros("left", M1, d8, R1, P1, model="rational_polynomial") + NEXT_FILE +
          ros("right", M2, d8, R1, P2, model="rational_polynomial"))
    write("calibration-ros", "equidistant.yaml",
          ros("left", FK1, FD1, R1, P1, model="equidistant") + NEXT_FILE +
          ros("right", FK2, FD2, R1, P2, model="equidistant"))
    write("calibration-ros", "no-model.yaml",
          ros("left", M1, D1[0, :4], R1, P1, model=None) + NEXT_FILE + ros("right", M2, D2[0, :4], R1, P2, model=None))
    write("calibration-ros", "one-file.yaml", ros("eye", M1, D1, R1, P1))


# ---- configurations ----------------------------------------------------------------------------

def configs():
    with open(os.path.join(ROOT, "etc", "handrecd.conf")) as f:
        write("config", "handrecd.conf", f.read())
    write("config", "integration.conf", make_config("/tmp/handrec-out"))
    write("config", "one-hand.conf", 'right_hand = { camera = { source = "synthetic"; }; };\n')
    write("config", "queue-workers.conf",
          make_config("/tmp/out", hands=("left",), quality=60, min_free_mb=0,
                      queue="queue = { capacity = 64; batch_size = 300; batch_timeout = 0.01; };",
                      top="workers = 16;", width=256, height=64, fps=240.0, warmup=0, extra="disparity = 128;"))
    write("config", "v4l2-side-by-side.conf",
          'right_hand = { camera = { source = "v4l2"; device = "/dev/v4l/by-id/usb-cam-video-index0";\n'
          '  format = "MJPEG"; buffers = 8; width = 1280; height = 720; fps = 60.0; }; };\n')
    write("config", "v4l2-pair.conf",
          'left_hand = { camera = { source = "v4l2"; left_device = "/dev/video0"; right_device = "/dev/video2";\n'
          '  format = "YUYV"; }; };\nright_hand = { enabled = false; camera = { }; };\n')
    write("config", "replay.conf",
          'right_hand = { camera = { source = "replay"; path = "/data/replay"; rate = "max"; loop = true;\n'
          '  width = 640; height = 480; }; };\n')
    # calibrations from the other corpora, relative to the checkout (tests/fuzz/run.sh runs there)
    write("config", "calibration-ros.conf",
          'right_hand = {\n  rectify = true;\n  calibration = ["tests/fuzz/corpus/calibration-ros/one-file.yaml",\n'
          '                 "tests/fuzz/corpus/calibration-ros/one-file.yaml"];\n'
          '  camera = { source = "synthetic"; width = 640; height = 480; };\n};\n')
    write("config", "calibration-opencv.conf",
          'left_hand = {\n  rectify = false;\n  calibration = "tests/fuzz/corpus/calibration-opencv/one-file.yml";\n'
          '  calibration_model = "plumb_bob";\n  rectify_alpha = 0.5;\n'
          '  camera = { source = "synthetic"; width = 640; height = 480; };\n};\n')
    write("config", "every-error.conf",
          'save = {\n  output_dir = "relative";\n  jpeg_quality = 101;\n  colour = 3;\n};\n'
          'queue = { capacity = 0; batch_timeout = -1.0; };\n'
          'right_hand = { camera = {\n  source = "webcam";\n  width = 641;\n  fps = "30";\n}; };\n'
          'left_hand = { rectify = true; calibration_model = "kb9"; camera = 3; };\n')
    write("config", "syntax-error.conf", 'save = {\n output_dir = "/x"\n')


# ---- StartRecording options --------------------------------------------------------------------
# fuzz-take-options.c: a header byte (bit 0: the hand has a calibration), then per entry a key
# byte (0-3: duration, label, jpeg_quality, rectify; 4: ""; 5: "Duration"; 6: episode; 7: task;
# 8: a key from the input), a type byte (an index into its types[]) and the value; a string value
# longer than 79 bytes has a length byte 0xF0 + len // 128, then len % 128.

TYPES = ["d", "i", "u", "x", "t", "n", "q", "y", "b", "s", "o", "g", "v", "as", "ay", "a{sv}", "(id)", "ad"]
KEYS = {"duration": 0, "label": 1, "jpeg_quality": 2, "rectify": 3, "": 4, "Duration": 5, "episode": 6, "task": 7}
PACK = {"d": "<d", "i": "<i", "u": "<I", "x": "<q", "t": "<Q", "n": "<h", "q": "<H", "y": "<B"}


def value(t, v):
    if t in PACK:
        return struct.pack(PACK[t], v)
    if t == "b":
        return bytes([1 if v else 0])
    if t == "s":
        b = v.encode()
        if len(b) >= 80:
            return bytes([0xF0 + len(b) // 128, len(b) % 128]) + b
        return bytes([len(b)]) + b
    if t == "v":  # (type, value) inside
        return bytes([TYPES.index(v[0])]) + value(*v)
    if t == "a{sv}":  # [(key, type, value)]
        out = bytes([len(v)])
        for k, vt, vv in v:
            out += bytes([len(k)]) + k.encode() + bytes([TYPES.index(vt)]) + value(vt, vv)
        return out
    raise ValueError(t)


def options(*entries, calibration=False):
    out = bytes([1 if calibration else 0])
    for key, t, v in entries:
        if key in KEYS:
            out += bytes([KEYS[key]])
        else:
            out += bytes([8, len(key)]) + key.encode()
        out += bytes([TYPES.index(t)]) + value(t, v)
    return out


def take_options():
    t = "take-options"
    write(t, "empty", options())
    write(t, "duration", options(("duration", "d", 10.0)))
    write(t, "all", options(("duration", "d", 60.0), ("label", "s", "pick_cup"), ("jpeg_quality", "i", 90),
                            ("rectify", "b", True), calibration=True))
    write(t, "numbers-of-every-type", options(("duration", "t", 5), ("jpeg_quality", "y", 95)))
    write(t, "quality-unsigned", options(("jpeg_quality", "u", 60), ("duration", "n", 1)))
    write(t, "rectify-no-calibration", options(("rectify", "b", True)))
    write(t, "rectify-false", options(("rectify", "b", False)))
    write(t, "duration-twice", options(("duration", "d", 1.0), ("duration", "d", 2.0)))
    write(t, "unknown-key", options(("colour", "s", "red")))
    write(t, "duration-string", options(("duration", "s", "ten")))
    write(t, "label-int", options(("label", "i", 3)))
    write(t, "label-bad", options(("label", "s", "../x")))
    write(t, "duration-nan", options(("duration", "d", float("nan"))))
    write(t, "duration-huge", options(("duration", "x", 604801)))
    write(t, "quality-fraction", options(("jpeg_quality", "d", 85.5)))
    write(t, "nested-variant", options(("duration", "v", ("d", 3.0))))
    write(t, "dict-in-variant", options(("label", "a{sv}", [("label", "s", "x")])))
    write(t, "episode-task", options(("episode", "s", "20261126T043000Z-a1b2"),
                                     ("task", "s", 'Pick the "red" cup — 90°, gently ↗')))
    write(t, "task-1024", options(("task", "s", "x" * 1024)))
    write(t, "task-1025", options(("task", "s", "é" * 512 + "x")))
    write(t, "task-newline", options(("task", "s", "two\nlines")))
    write(t, "episode-bad", options(("episode", "s", "../ep 1")))
    write(t, "episode-int", options(("episode", "i", 7)))


if __name__ == "__main__":
    calibrations()
    configs()
    take_options()
