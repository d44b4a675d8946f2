#!/usr/bin/python3
"""Writes the fuzzers' seed inputs into tests/fuzz/corpus/<target>/ (run from anywhere; the files
are committed, this says where they came from): the shipped configuration and the kinds the tests
write, OpenCV FileStorage calibrations written by cv2.FileStorage itself and ROS camera_info files
as tests/integration/test_rectify.py writes them (the values of tests/unit/test-calibration.c),
StartRecording, ListTakes and OpenPreview option dictionaries encoded as fuzz-options.h reads its
input, take files recorded by handrecd itself (it needs the build: make; and dbus-daemon, h5py,
h5clear) and regressions/take-file/'s damaged copies of them, handrec-offload state files as
offload/state.c writes them, and rclone's JSON log as rclone 1.60 wrote it.

It only adds or rewrites its own files: inputs saved from longer runs (tests/fuzz/README.md) stay.
"""
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import HANDRECCTL, HANDRECD, Bus, Daemon, make_config, wait_frames  # noqa: E402

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


# ---- ListTakes and OpenPreview options ------------------------------------------------------------
# fuzz-options.h's format, as above, with each target's own key bytes: fuzz-list-takes-options.c
# (0 hand, 1 limit, 2 "", 3 "Limit"; 4: a key from the input), fuzz-preview-options.c (0-4 fps,
# max_width, rectified, guides, quality; 5 "", 6 "Fps"; 7: a key from the input).

def method_options(keys, *entries, flags=0):
    out = bytes([flags])
    for key, t, v in entries:
        if key in keys:
            out += bytes([keys.index(key)])
        else:
            out += bytes([len(keys), len(key)]) + key.encode()
        out += bytes([TYPES.index(t)]) + value(t, v)
    return out


def list_takes_options():
    t = "list-takes-options"
    keys = ["hand", "limit", "", "Limit"]
    def opts(*e):
        return method_options(keys, *e)
    write(t, "empty", opts())
    write(t, "hand", opts(("hand", "s", "right")))
    write(t, "limit", opts(("limit", "u", 20)))
    write(t, "both", opts(("hand", "s", "left"), ("limit", "u", 1000)))
    write(t, "limit-of-every-type", opts(("limit", "y", 3)))
    write(t, "limit-double", opts(("limit", "d", 5.0)))
    write(t, "limit-fraction", opts(("limit", "d", 2.5)))
    write(t, "limit-zero", opts(("limit", "u", 0)))
    write(t, "limit-1001", opts(("limit", "t", 1001)))
    write(t, "limit-negative", opts(("limit", "i", -1)))
    write(t, "limit-huge", opts(("limit", "d", 1e300)))
    write(t, "limit-nan", opts(("limit", "d", float("nan"))))
    write(t, "limit-string", opts(("limit", "s", "10")))
    write(t, "hand-int", opts(("hand", "i", 1)))
    write(t, "hand-twice", opts(("hand", "s", "left"), ("hand", "s", "right")))
    write(t, "unknown", opts(("Limit", "u", 3)))
    write(t, "hand-in-variant", opts(("hand", "v", ("s", "right"))))


def preview_options():
    t = "preview-options"
    keys = ["fps", "max_width", "rectified", "guides", "quality", "", "Fps"]
    def opts(*e, flags=0):
        return method_options(keys, *e, flags=flags)
    write(t, "empty", opts())
    write(t, "empty-rectifying-hand", opts(flags=3))
    write(t, "all", opts(("fps", "d", 5.0), ("max_width", "u", 640), ("rectified", "b", True), ("guides", "b", True),
                         ("quality", "i", 80), flags=1))
    write(t, "fps-int", opts(("fps", "i", 30)))
    write(t, "fps-low", opts(("fps", "d", 0.25)))
    write(t, "fps-nan", opts(("fps", "d", float("nan"))))
    write(t, "fps-inf", opts(("fps", "d", float("inf"))))
    write(t, "max-width-full", opts(("max_width", "u", 0)))
    write(t, "max-width-huge", opts(("max_width", "t", 65536)))
    write(t, "max-width-negative", opts(("max_width", "i", -640)))
    write(t, "max-width-fraction", opts(("max_width", "d", 320.5)))
    write(t, "rectified-no-calibration", opts(("rectified", "b", True)))
    write(t, "rectified-int", opts(("rectified", "i", 1), flags=1))
    write(t, "guides-string", opts(("guides", "s", "yes")))
    write(t, "quality-bounds", opts(("quality", "y", 30), ("fps", "q", 30)))
    write(t, "quality-96", opts(("quality", "i", 96)))
    write(t, "fps-twice", opts(("fps", "d", 1.0), ("fps", "d", 2.0)))
    write(t, "unknown", opts(("Fps", "d", 10.0)))


# ---- take files --------------------------------------------------------------------------------
# fuzz-take-file.c: a take as handrecd writes it, 256x64 pixels an eye at 10 fps, a few frames:
# finished; killed (SIGKILL) mid-take, its SWMR flags set; that one cut short inside its last
# frame's bytes as a power cut leaves it (the superblock names an end past the end); and the
# finished one with a bit of its superblock flipped. Runs of zeros (the unused end of the 512 KiB
# JPEG chunk) are written as ZERO_RUN and a 3-byte little-endian length.

ZERO_RUN = b"\0HRZ"


def pack_zeros(data, min_run=64):
    assert ZERO_RUN not in data
    out, at = bytearray(), 0
    for m in re.finditer(rb"\x00{%d,}" % min_run, data):
        out += data[at:m.start()]
        for n in range(m.end() - m.start(), 0, -0xFFFFFF):
            out += ZERO_RUN + min(n, 0xFFFFFF).to_bytes(3, "little")
        at = m.end()
    return bytes(out + data[at:])


def last_frame_at(path):
    """Where in the file the last committed frame's JPEG bytes begin (read as a SWMR reader)."""
    import h5py
    with h5py.File(path, "r", swmr=True, libver="latest") as f:
        n = len(f["stereo/size"])
        off = int(f["stereo/offset"][n - 1])
        jpeg = f["stereo/jpeg"]
        chunk = jpeg.chunks[0]
        return jpeg.id.get_chunk_info_by_coord((off // chunk * chunk,)).byte_offset + off % chunk


def take_files():
    if not os.access(HANDRECD, os.X_OK) or not os.access(HANDRECCTL, os.X_OK):
        print(f"seeds.py: take-file seeds not written: build {HANDRECD} and {HANDRECCTL} first (make)")
        return
    with tempfile.TemporaryDirectory(prefix="handrec-seeds-") as tmp:
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        bus = Bus(tmp)
        try:
            def ctl(*args):
                return subprocess.run([HANDRECCTL, "--user", *args], env=bus.env, capture_output=True, text=True,
                                      timeout=60, check=True)
            daemon = Daemon(bus, tmp, make_config(out, hands=("right",), quality=60, min_free_mb=0, width=256,
                                                  height=64, fps=10.0, warmup=0)).start()
            complete = ctl("start", "--hand", "right", "--label", "seed").stdout.strip()
            wait_frames(ctl, hands=("right",), n=3)
            ctl("stop", "--hand", "right")
            killed = ctl("start", "--hand", "right", "--label", "killed").stdout.strip()
            wait_frames(ctl, hands=("right",), n=3)
            daemon.stop(signal.SIGKILL)
        finally:
            bus.stop()
        with open(complete, "rb") as f:
            data = f.read()
        with open(killed, "rb") as f:
            swmr = f.read()
        cut = last_frame_at(killed) + 100
        take_file_regressions(complete, killed, tmp)
    t = "take-file"
    write(t, "complete.h5z", pack_zeros(data))
    write(t, "killed-swmr-flags.h5z", pack_zeros(swmr))
    write(t, "power-cut.h5z", pack_zeros(swmr[:cut]))
    flipped = bytearray(data)
    flipped[28] ^= 0x04  # the superblock's end-of-file address (its checksum no longer matches)
    write(t, "superblock-bit-flipped.h5z", pack_zeros(bytes(flipped)))


def take_file_regressions(complete, killed, tmp):
    """regressions/take-file/: the two takes with an attribute or a dataset of another shape than
    handrecd writes (made with h5py), each of which overflowed a buffer before it was checked, one
    whose frame size attributes made libjpeg take gigabytes (tests/fuzz/README.md, "Found so far"),
    and one whose global heap HDF5 1.10.8 overflows on."""
    import shutil

    import h5py
    subprocess.run(["h5clear", "-s", killed], check=True)  # h5py cannot open it with the flags set
    text = h5py.string_dtype("utf-8")

    def attr_array(name, values, dtype=None):
        def edit(f):
            del f.attrs[name]
            f.attrs.create(name, values, dtype=dtype)
        return edit

    def index_2d(name):
        def edit(f):
            v = f[name][:]
            del f[name]
            f.create_dataset(name, data=np.stack([v] * 4, axis=1), maxshape=(None, 4), chunks=(16, 4))
        return edit

    def huge_progressive_frame(f):
        """eye_width and eye_height of 32768 x 65500 (HDF5 takes them), and frame 0 a progressive
        JPEG of 16 x 16 pixels whose header says 65500 x 65500: libjpeg would hold every coefficient
        of that, gigabytes, from a file of 50 KB."""
        import cv2
        ok, jpeg = cv2.imencode(".jpg", np.full((16, 16), 128, np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
        jpeg = bytearray(jpeg.tobytes())
        sof2 = jpeg.index(b"\xff\xc2")
        jpeg[sof2 + 5:sof2 + 9] = struct.pack(">HH", 65500, 65500)
        f.attrs["eye_width"], f.attrs["eye_height"] = np.int64(32768), np.int64(65500)
        f["stereo/jpeg"][0:len(jpeg)] = np.frombuffer(bytes(jpeg), np.uint8)
        f["stereo/size"][0] = len(jpeg)

    edits = [
        (complete, "attr-eye-size-huge-progressive-frame.h5z", huge_progressive_frame),
        (complete, "attr-status-array.h5z", attr_array("status", ["complete", "x", "y", "z"], text)),
        (complete, "attr-eye-width-array.h5z", attr_array("eye_width", np.arange(16, dtype=np.int64))),
        (killed, "killed-attr-fps-nominal-array.h5z", attr_array("fps_nominal", np.ones(16))),
        (complete, "attr-jpeg-quality-array.h5z", attr_array("jpeg_quality", np.arange(64, dtype=np.int64))),
        (complete, "index-size-2d.h5z", index_2d("stereo/size")),
        (complete, "index-left-sequence-2d.h5z", index_2d("stereo/left_sequence")),
    ]
    d = os.path.join(HERE, "regressions", "take-file")
    os.makedirs(d, exist_ok=True)
    for source, name, edit in edits:
        path = os.path.join(tmp, name + ".h5")
        shutil.copy(source, path)
        with h5py.File(path, "r+", libver="latest") as f:
            edit(f)
        with open(path, "rb") as f, open(os.path.join(d, name), "wb") as out:
            out.write(pack_zeros(f.read()))
    # the first global heap object's size made 2^40: H5Aread() of the attribute copies that much
    with open(complete, "rb") as f:
        data = bytearray(f.read())
    g = data.index(b"GCOL")
    data[g + 16 + 8:g + 16 + 16] = (1 << 40).to_bytes(8, "little")
    with open(os.path.join(d, "hdf5-global-heap-object-past-collection.h5z"), "wb") as out:
        out.write(pack_zeros(bytes(data)))


# ---- handrec-offload state files ---------------------------------------------------------------

STATE = ("state={state}\nfile=/var/lib/handrec/right/20261126-043000-pick.h5\n"
         "remote=s3:handrec/takes/right/20261126-043000-pick.h5\nsize=590316\nmtime_ns=1764131400123456789\n"
         "ino=1234567\ncheck={check}\nattempts={attempts}\nerror={error}\nupdated_utc=2026-11-26T04:31:02Z\n")


def offload_states():
    t = "offload-state"
    write(t, "verified", STATE.format(state="uploaded-verified", check="md5:0123456789abcdef0123456789abcdef",
                                      attempts=1, error=""))
    write(t, "download-check", STATE.format(state="uploaded-verified", check="download:md5:" + "ab" * 16,
                                            attempts=2, error=""))
    write(t, "failed", STATE.format(state="failed", check="", attempts=3,
                                    error="rclone copyto failed: Forbidden: Forbidden status code: 403"))
    write(t, "uploading", STATE.format(state="uploading", check="", attempts=0, error=""))
    write(t, "state-only", "state=pending\n")
    write(t, "unknown-keys", "state=failed\nnew_key=1\n=x\nno equals sign\nsize=-1\nattempts=99999999999\n")
    write(t, "crlf", STATE.format(state="failed", check="", attempts=1, error="x").replace("\n", "\r\n"))
    write(t, "not-a-state", "remote=x\nstate=failed\n")
    write(t, "long-values", "state=failed\nremote=" + "r" * 1100 + "\nerror=" + "é" * 300 + "\ncheck=" + "c" * 200 + "\n")


# ---- rclone's JSON log -------------------------------------------------------------------------
# rclone 1.60 (Debian 12) with --use-json-log -v --stats 1s, as handrec-offload runs it: a copy,
# and failures (its last words are plain text, not JSON).

RCLONE_COPY = [
    {"level": "info", "msg": "Starting bandwidth limiter at 1Mi Byte/s", "source": "accounting/token_bucket.go:108",
     "time": "2026-12-06T03:59:04.482437+00:00"},
    {"level": "info", "msg": "\nTransferred:   \t    1.059 MiB / 2.861 MiB, 37%, 0 B/s, ETA -\nTransferred:            "
     "0 / 1, 0%\nElapsed time:         1.2s\nTransferring:\n *                                          a.h5: 37% "
     "/2.861Mi, 0/s, -\n\n", "source": "accounting/stats.go:482",
     "stats": {"bytes": 1110016, "checks": 0, "deletedDirs": 0, "deletes": 0, "elapsedTime": 1.280975681,
               "errors": 0, "eta": None, "fatalError": False, "renames": 0, "retryError": False, "speed": 0,
               "totalBytes": 3000000, "totalChecks": 0, "totalTransfers": 1, "transferTime": 0,
               "transferring": [{"bytes": 1110016, "eta": None, "group": "global_stats", "name": "a.h5",
                                 "percentage": 37, "size": 3000000, "speed": 1059405.3785720626, "speedAvg": 0}],
               "transfers": 0},
     "time": "2026-12-06T03:59:05.531148+00:00"},
    {"level": "info", "msg": "Copied (new)", "object": "a.h5", "objectType": "*local.Object",
     "source": "operations/operations.go:566", "time": "2026-12-06T03:59:07.343772+00:00"},
    {"level": "info", "msg": "\nTransferred:   \t    2.861 MiB / 2.861 MiB, 100%, 1.029 MiB/s, ETA 0s\nTransferred:"
     "            1 / 1, 100%\nElapsed time:         3.0s\n\n", "source": "accounting/stats.go:482",
     "stats": {"bytes": 3000000, "checks": 0, "deletedDirs": 0, "deletes": 0, "elapsedTime": 3.093794063,
               "errors": 0, "eta": 0, "fatalError": False, "renames": 0, "retryError": False,
               "speed": 1078746.5820258681, "totalBytes": 3000000, "totalChecks": 0, "totalTransfers": 1,
               "transferTime": 0, "transfers": 1},
     "time": "2026-12-06T03:59:07.343896+00:00"},
]


def jsonl(*records):
    return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records)


def rclone_json():
    t = "rclone-json"
    write(t, "copy", jsonl(*RCLONE_COPY))
    write(t, "no-config-section",
          '2026/12/06 03:59:07 Failed to create file system for destination "s3x:bucket/right/": '
          "didn't find section in config file\n")
    write(t, "hashsum-not-found",
          jsonl({"level": "error", "msg": "error listing: directory not found", "object": "", "objectType": "string",
                 "source": "walk/walk.go:174", "time": "2026-12-06T03:59:08.178122+00:00"}) +
          "2026/12/06 03:59:08 Failed to hashsum with 2 errors: last error was: directory not found\n")
    write(t, "attempt-failed",
          jsonl({"level": "error", "msg": "Attempt 1/1 failed with 1 errors and: RequestError: send request failed\n"
                 "caused by: Put \"http://127.0.0.1:9/b/right/b.h5\": dial tcp 127.0.0.1:9: connect: connection "
                 "refused", "source": "fs/operations.go:1", "time": "2026-12-06T03:59:09+00:00"}) +
          "2026/12/06 03:59:09 Failed to copyto: RequestError: send request failed\n")
    write(t, "forbidden", jsonl({"level": "critical", "msg": "Failed to copyto: Forbidden: Forbidden\n\tstatus code: "
                                 "403, request id: 17A3, host id: "}))
    write(t, "long-utf8-error",
          jsonl({"level": "error", "msg": "Failed to copy: " + "x" * 492 + "Größe ↗ 😀 " * 4}))
    write(t, "plain-error", "ERROR : right/a.h5: Failed to copy: permission denied\nnot json {\n{\"level\":\n")
    write(t, "no-newline-at-end", jsonl(RCLONE_COPY[2]).rstrip("\n"))


if __name__ == "__main__":
    calibrations()
    configs()
    take_options()
    list_takes_options()
    preview_options()
    offload_states()
    rclone_json()
    take_files()
