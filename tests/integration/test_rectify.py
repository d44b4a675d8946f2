"""Stereo rectification checked against OpenCV (python3-opencv) on real images (opencv-doc).

The chessboard pairs shipped with opencv-doc are calibrated here with OpenCV as its stereo_calib
sample does; the result is saved as OpenCV FileStorage YAML and as ROS camera_info YAML. handrecd
(through build/handrec-rectify, which loads calibrations exactly as the daemon does) must produce
the maps cv2.initUndistortRectifyMap produces, and the daemon's rectified planes (dumped before
JPEG by the replay path) must match cv2.remap(INTER_LINEAR) of the same images.
"""
import glob
import json
import os
import subprocess
import textwrap

import cv2
import numpy as np
import pytest

from conftest import BUILD, HANDRECD, make_config
from takecheck import check_take, text

DATA = "/usr/share/doc/opencv-doc/examples/data"
RECTIFY = os.path.join(BUILD, "handrec-rectify")
W, H = 640, 480


def ros_yaml(path, name, K, D, R, P, size, model):
    def mat(rows, cols, v):
        return f"  rows: {rows}\n  cols: {cols}\n  data: [{', '.join(repr(float(x)) for x in np.ravel(v))}]\n"
    with open(path, "w") as f:
        f.write(f"image_width: {size[0]}\nimage_height: {size[1]}\ncamera_name: {name}\n"
                f"camera_matrix:\n{mat(3, 3, K)}distortion_model: {model}\n"
                f"distortion_coefficients:\n{mat(1, len(np.ravel(D)), D)}"
                f"rectification_matrix:\n{mat(3, 3, R)}projection_matrix:\n{mat(3, 4, P)}")


def opencv_yaml(path, **mats):
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_WRITE)
    for k, v in mats.items():
        if isinstance(v, str):
            fs.write(k, v)
        else:
            fs.write(k, np.asarray(v, dtype=np.float64))
    fs.release()


@pytest.fixture(scope="module")
def chessboard(tmp_path_factory):
    """Calibrate opencv-doc's chessboard pairs as samples/cpp/stereo_calib.cpp does."""
    d = tmp_path_factory.mktemp("calib")
    fs = cv2.FileStorage(os.path.join(DATA, "stereo_calib.xml"), cv2.FILE_STORAGE_READ)
    names = [fs.getNode("imagelist").at(i).string() for i in range(fs.getNode("imagelist").size())]
    board = (9, 6)
    obj = np.zeros((board[0] * board[1], 3), np.float32)
    obj[:, :2] = np.mgrid[0:board[0], 0:board[1]].T.reshape(-1, 2)
    objpts, lpts, rpts, pairs = [], [], [], []
    for i in range(0, len(names), 2):
        corners = []
        for n in names[i:i + 2]:
            img = cv2.imread(os.path.join(DATA, n), cv2.IMREAD_GRAYSCALE)
            ok, c = cv2.findChessboardCorners(img, board, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
            if not ok:
                break
            c = cv2.cornerSubPix(img, c, (11, 11), (-1, -1), (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 30, 0.01))
            corners.append(c)
        if len(corners) == 2:
            objpts.append(obj)
            lpts.append(corners[0])
            rpts.append(corners[1])
            pairs.append(tuple(names[i:i + 2]))
    assert len(pairs) >= 10, f"only {len(pairs)} chessboard pairs found"
    M1 = cv2.initCameraMatrix2D(objpts, lpts, (W, H), 0)
    M2 = cv2.initCameraMatrix2D(objpts, rpts, (W, H), 0)
    flags = (cv2.CALIB_FIX_ASPECT_RATIO | cv2.CALIB_ZERO_TANGENT_DIST | cv2.CALIB_USE_INTRINSIC_GUESS |
             cv2.CALIB_SAME_FOCAL_LENGTH | cv2.CALIB_RATIONAL_MODEL | cv2.CALIB_FIX_K3 | cv2.CALIB_FIX_K4 |
             cv2.CALIB_FIX_K5)
    rms, M1, D1, M2, D2, R, T, E, F = cv2.stereoCalibrate(
        objpts, lpts, rpts, M1, None, M2, None, (W, H), flags=flags,
        criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-5))
    assert rms < 1.0, rms
    R1, R2, P1, P2, Q, _, _ = cv2.stereoRectify(M1, D1, M2, D2, (W, H), R, T, flags=cv2.CALIB_ZERO_DISPARITY, alpha=1)
    cal = dict(M1=M1, D1=D1, M2=M2, D2=D2, R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2, Q=Q)
    opencv_yaml(str(d / "intrinsics.yml"), M1=M1, D1=D1, M2=M2, D2=D2)
    opencv_yaml(str(d / "extrinsics.yml"), R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2, Q=Q)
    opencv_yaml(str(d / "extrinsics-rt.yml"), R=R, T=T)  # no rectification: handrecd computes it
    ros_yaml(str(d / "left.yaml"), "left", M1, D1, R1, P1, (W, H), "rational_polynomial")
    ros_yaml(str(d / "right.yaml"), "right", M2, D2, R2, P2, (W, H), "rational_polynomial")
    return d, cal, pairs


def handrec_rectify(files, size=(W, H), out=None, model=None, alpha=None):
    cmd = [RECTIFY, "--size", f"{size[0]}x{size[1]}"]
    if model:
        cmd += ["--model", model]
    if alpha is not None:
        cmd += ["--alpha", str(alpha)]
    if out:
        cmd += ["--out", str(out)]
    p = subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True)
    return p


def load_map(out, name, size):
    m = np.fromfile(os.path.join(out, f"{name}.f32"), dtype=np.float32).reshape(size[1], size[0], 2)
    return m[..., 0], m[..., 1]


def compare_maps(out, cal_eyes, size, fisheye=False):
    """Max difference between handrecd's luma maps and OpenCV's, where both land inside the image."""
    worst = 0.0
    for eye, (K, D, R, P) in zip(("left", "right"), cal_eyes):
        if fisheye:
            mx, my = cv2.fisheye.initUndistortRectifyMap(K, D, R, P, size, cv2.CV_32FC1)
        else:
            mx, my = cv2.initUndistortRectifyMap(K, D, R, P, size, cv2.CV_32FC1)
        hx, hy = load_map(out, f"{eye}_luma", size)
        inside = (~np.isnan(hx)) & (mx >= 0) & (my >= 0) & (mx <= size[0] - 1) & (my <= size[1] - 1)
        assert inside.mean() > 0.5, f"{eye}: only {inside.mean():.0%} of the map is inside the image"
        # nothing handrecd calls outside is inside for OpenCV, away from the border
        far = (mx >= 1) & (my >= 1) & (mx <= size[0] - 2) & (my <= size[1] - 2)
        assert not np.any(np.isnan(hx) & far), f"{eye}: handrecd drops pixels OpenCV maps inside"
        d = np.maximum(np.abs(hx - mx), np.abs(hy - my))[inside]
        worst = max(worst, float(d.max()))
        # the chroma map is the luma map at the chroma sites, in chroma pixels
        cx, cy = load_map(out, f"{eye}_chroma", (size[0] // 2, size[1] // 2))
        ok = ~np.isnan(cx)
        assert ok.mean() > 0.5
    return worst


def test_maps_opencv_yaml_match(chessboard, tmp_path):
    d, cal, _ = chessboard
    p = handrec_rectify([d / "intrinsics.yml", d / "extrinsics.yml"], out=tmp_path)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["model"] == "plumb_bob" and not info["computed"]
    assert len(info["left"]["D"]) in (8, 14)  # OpenCV 4 writes the rational model as 14
    worst = compare_maps(tmp_path, [(cal["M1"], cal["D1"], cal["R1"], cal["P1"]),
                                    (cal["M2"], cal["D2"], cal["R2"], cal["P2"])], (W, H))
    print(f"\nOpenCV YAML: max map difference against cv2.initUndistortRectifyMap {worst:.4f} px")
    assert worst <= 1 / 32


def test_maps_ros_yaml_match(chessboard, tmp_path):
    d, cal, _ = chessboard
    p = handrec_rectify([d / "left.yaml", d / "right.yaml"], out=tmp_path)
    assert p.returncode == 0, p.stderr
    worst = compare_maps(tmp_path, [(cal["M1"], cal["D1"], cal["R1"], cal["P1"]),
                                    (cal["M2"], cal["D2"], cal["R2"], cal["P2"])], (W, H))
    print(f"\nROS camera_info: max map difference {worst:.4f} px")
    assert worst <= 1 / 32


@pytest.mark.parametrize("alpha", [0.0, 1.0, 0.5])
def test_computed_rectification_matches_stereo_rectify(chessboard, tmp_path, alpha):
    """Only R and T in the files: handrecd computes what cv2.stereoRectify computes."""
    d, cal, _ = chessboard
    p = handrec_rectify([d / "intrinsics.yml", d / "extrinsics-rt.yml"], out=tmp_path, alpha=alpha)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["computed"]
    R1, R2, P1, P2, _, _, _ = cv2.stereoRectify(cal["M1"], cal["D1"], cal["M2"], cal["D2"], (W, H), cal["R"], cal["T"],
                                                flags=cv2.CALIB_ZERO_DISPARITY, alpha=alpha)
    ours = {}
    for eye, R, P in (("left", R1, P1), ("right", R2, P2)):
        Ro, Po = np.reshape(info[eye]["R"], (3, 3)), np.reshape(info[eye]["P"], (3, 4))
        ours[eye] = (Ro, Po)
        assert np.allclose(Ro, R, atol=1e-9)
        assert np.allclose(Po[:, 2], P[:, 2], atol=1e-6)  # principal points
        # the scale chosen by alpha: exact at alpha = 1 (outer rectangle); at alpha < 1 OpenCV 4.6
        # finds the inner rectangle of valid pixels differently from the OpenCV source handrecd
        # follows (icvGetRectangles): the focal length differs by well under 0.1 %
        rel = abs(Po[0, 0] / P[0, 0] - 1)
        print(f"\nalpha {alpha}: {eye} focal length {Po[0, 0]:.3f} vs OpenCV {P[0, 0]:.3f} ({rel:.4%})")
        assert rel < (1e-6 if alpha == 1.0 else 1e-3)
        assert np.allclose(Po[:, 3] / Po[0, 0], P[:, 3] / P[0, 0], atol=1e-9)  # the baseline
    worst = compare_maps(tmp_path, [(cal["M1"], cal["D1"], *ours["left"]), (cal["M2"], cal["D2"], *ours["right"])], (W, H))
    assert worst <= 1 / 32


FISHEYE_K = np.array([[285.0, 0, 322.0], [0, 286.0, 241.0], [0, 0, 1]])
FISHEYE_D = [np.array([-0.012, 0.047, -0.041, 0.009]), np.array([-0.009, 0.039, -0.036, 0.008])]


def fisheye_setup(d):
    K1, K2 = FISHEYE_K, FISHEYE_K + np.array([[3.0, 0, -4], [0, 2.5, 3], [0, 0, 0]])
    R, _ = cv2.Rodrigues(np.array([0.01, -0.02, 0.005]))
    T = np.array([[-0.064], [0.0008], [0.0012]])
    R1, R2, P1, P2, _ = cv2.fisheye.stereoRectify(K1, FISHEYE_D[0], K2, FISHEYE_D[1], (W, H), R, T,
                                                  cv2.CALIB_ZERO_DISPARITY, balance=0.0)
    ros_yaml(str(d / "fl.yaml"), "left", K1, FISHEYE_D[0], R1, P1, (W, H), "equidistant")
    ros_yaml(str(d / "fr.yaml"), "right", K2, FISHEYE_D[1], R2, P2, (W, H), "equidistant")
    opencv_yaml(str(d / "fisheye-rt.yml"), M1=K1, D1=FISHEYE_D[0], M2=K2, D2=FISHEYE_D[1], R=R, T=T,
                distortion_model="fisheye")
    return K1, K2, R1, R2, P1, P2


def test_fisheye_maps_match(tmp_path):
    K1, K2, R1, R2, P1, P2 = fisheye_setup(tmp_path)
    out = tmp_path / "maps"
    out.mkdir()
    p = handrec_rectify([tmp_path / "fl.yaml", tmp_path / "fr.yaml"], out=out)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["model"] == "fisheye"
    worst = compare_maps(out, [(K1, FISHEYE_D[0], R1, P1), (K2, FISHEYE_D[1], R2, P2)], (W, H), fisheye=True)
    print(f"\nfisheye: max map difference against cv2.fisheye.initUndistortRectifyMap {worst:.4f} px")
    assert worst <= 1 / 32
    # and computed from R, T as cv2.fisheye.stereoRectify does
    out2 = tmp_path / "maps2"
    out2.mkdir()
    p = handrec_rectify([tmp_path / "fisheye-rt.yml"], out=out2)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["computed"] and info["model"] == "fisheye"
    for eye, R, P in (("left", R1, P1), ("right", R2, P2)):
        assert np.allclose(np.reshape(info[eye]["R"], (3, 3)), R, atol=1e-9)
        assert np.allclose(np.reshape(info[eye]["P"], (3, 4)), P, rtol=1e-4, atol=1e-2), (info[eye]["P"], P)


def read_dump(path, w, h):
    raw = np.fromfile(path, dtype=np.uint8)
    return raw[:2 * w * h].reshape(h, 2 * w)


def remap_compare(ours, ref_img, mx, my, hx):
    """Mean absolute difference and share of pixels off by more than 2, inside the valid area."""
    ref = cv2.remap(ref_img, mx, my, cv2.INTER_LINEAR)
    h, w = ref_img.shape
    valid = (~np.isnan(hx)) & (mx >= 0) & (my >= 0) & (mx <= w - 1) & (my <= h - 1)
    diff = np.abs(ours.astype(int) - ref.astype(int))[valid]
    return float(diff.mean()), float((diff > 2).mean())


def run_replay(daemon_factory, ctl, outdir, tmp, images, cal_files, size, extra_hand="", rectify=True):
    folder = os.path.join(tmp, "images")
    os.makedirs(folder, exist_ok=True)
    for src, name in images:
        os.symlink(src, os.path.join(folder, name))
    dump = os.path.join(tmp, "dump")
    os.makedirs(dump, exist_ok=True)
    files = ", ".join(f'"{f}"' for f in cal_files)
    conf = textwrap.dedent(f"""\
        save = {{ output_dir = "{outdir}"; min_free_mb = 1; }};
        right_hand = {{
            rectify = {"true" if rectify else "false"};
            calibration = [{files}];
            {extra_hand}
            camera = {{ source = "replay"; path = "{folder}"; rate = "max"; loop = false;
                        width = {size[0]}; height = {size[1]}; fps = 30.0; warmup = 0.0; }};
        }};
        """)
    daemon_factory(conf, env={"HANDREC_DEBUG_DUMP_DIR": dump})
    p = ctl("start", "--hand", "right", "--follow", timeout=120)
    path = p.stdout.splitlines()[0]
    assert "[RIGHT] stopped (end-of-input)" in p.stdout, p.stdout
    return path, dump


def test_real_images_rectified_like_cv2_remap(chessboard, daemon_factory, ctl, outdir, tmp):
    d, cal, pairs = chessboard
    images = []
    for i, (l, r) in enumerate(pairs):
        images += [(os.path.join(DATA, l), f"{i:02d}_left.jpg"), (os.path.join(DATA, r), f"{i:02d}_right.jpg")]
    path, dump = run_replay(daemon_factory, ctl, outdir, tmp, images,
                            [d / "intrinsics.yml", d / "extrinsics.yml"], (W, H))
    # the file says it is rectified and carries the calibration
    attrs, n, _ = check_take(path, stamps=False, reason="end-of-input")
    assert n == len(pairs) and int(attrs["rectified"]) == 1
    import h5py
    with h5py.File(path, "r") as f:
        assert np.allclose(f["calibration/left/K"][()], cal["M1"])
        assert np.allclose(f["calibration/right/P"][()], cal["P2"])
        assert f["calibration/left/D"].shape == (cal["D1"].size,)
        assert "M1" in text(f["calibration"].attrs["text"])
    maps = os.path.join(tmp, "maps")
    os.makedirs(maps)
    assert handrec_rectify([d / "intrinsics.yml", d / "extrinsics.yml"], out=maps).returncode == 0
    cvmaps = [cv2.initUndistortRectifyMap(cal["M1"], cal["D1"], cal["R1"], cal["P1"], (W, H), cv2.CV_32FC1),
              cv2.initUndistortRectifyMap(cal["M2"], cal["D2"], cal["R2"], cal["P2"], (W, H), cv2.CV_32FC1)]
    hx = [load_map(maps, "left_luma", (W, H))[0], load_map(maps, "right_luma", (W, H))[0]]
    dumps = sorted(glob.glob(os.path.join(dump, "right-*.i420")))
    assert len(dumps) == len(pairs)
    worst_mean, worst_share = 0.0, 0.0
    for k, (l, r) in enumerate(pairs):
        y = read_dump(dumps[k], W, H)
        for e, name in enumerate((l, r)):
            src = cv2.imread(os.path.join(DATA, name), cv2.IMREAD_GRAYSCALE)
            mean, share = remap_compare(y[:, e * W:(e + 1) * W], src, *cvmaps[e], hx[e])
            worst_mean, worst_share = max(worst_mean, mean), max(worst_share, share)
    print(f"\nchessboard images ({len(pairs)} pairs): rectified luma vs cv2.remap: worst mean |diff| "
          f"{worst_mean:.3f}, worst share > 2: {worst_share:.4%}")
    assert worst_mean <= 0.5 and worst_share <= 0.01


def test_aloe_pair_rectified_like_cv2_remap(daemon_factory, ctl, outdir, tmp):
    """The aloe stereo pair (1282x1110), with a plausible calibration at its size."""
    size = (1282, 1110)
    K = np.array([[1100.0, 0, 640.0], [0, 1102.0, 556.0], [0, 0, 1]])
    D = np.array([-0.08, 0.05, 0.001, -0.0005, 0.0])
    R, _ = cv2.Rodrigues(np.array([0.004, -0.01, 0.002]))
    T = np.array([[-0.16], [0.002], [0.001]])
    R1, R2, P1, P2, *_ = cv2.stereoRectify(K, D, K, D, size, R, T, flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
    cal = os.path.join(tmp, "aloe.yml")
    opencv_yaml(cal, M1=K, D1=D, M2=K, D2=D, R=R, T=T, R1=R1, R2=R2, P1=P1, P2=P2)
    path, dump = run_replay(daemon_factory, ctl, outdir, tmp,
                            [(os.path.join(DATA, "aloeL.jpg"), "aloeL.jpg"), (os.path.join(DATA, "aloeR.jpg"), "aloeR.jpg")],
                            [cal], size)
    maps = os.path.join(tmp, "maps")
    os.makedirs(maps)
    assert handrec_rectify([cal], size=size, out=maps).returncode == 0
    y = read_dump(glob.glob(os.path.join(dump, "right-*.i420"))[0], *size)
    for e, (name, Re, Pe) in enumerate((("aloeL.jpg", R1, P1), ("aloeR.jpg", R2, P2))):
        mx, my = cv2.initUndistortRectifyMap(K, D, Re, Pe, size, cv2.CV_32FC1)
        hx = load_map(maps, ("left", "right")[e] + "_luma", size)[0]
        src = cv2.imread(os.path.join(DATA, name), cv2.IMREAD_GRAYSCALE)
        mean, share = remap_compare(y[:, e * size[0]:(e + 1) * size[0]], src, mx, my, hx)
        print(f"\naloe {('left', 'right')[e]}: mean |diff| {mean:.3f}, share > 2: {share:.4%}")
        assert mean <= 0.5 and share <= 0.01


def test_replay_plays_once_and_ends(daemon_factory, ctl, outdir, tmp, chessboard):
    d, _, pairs = chessboard
    images = [(os.path.join(DATA, l), f"{i:02d}L.jpg") for i, (l, _) in enumerate(pairs[:3])]
    images += [(os.path.join(DATA, r), f"{i:02d}R.jpg") for i, (_, r) in enumerate(pairs[:3])]
    path, _ = run_replay(daemon_factory, ctl, outdir, tmp, images, [d / "left.yaml", d / "right.yaml"], (W, H),
                         rectify=False)
    attrs, n, _ = check_take(path, stamps=False, reason="end-of-input")
    assert n == 3 and int(attrs["rectified"]) == 0 and text(attrs["source"]) == "replay"
    # the calibration is recorded even when a take is not rectified, so it can be rectified later
    import h5py
    with h5py.File(path, "r") as f:
        assert f["calibration/left/K"].shape == (3, 3)


BAD = [
    ("missing", lambda d: ['"/nonexistent/cal.yml"'], "Cannot read calibration file /nonexistent/cal.yml"),
    ("unknown format", lambda d: [f'"{d}/unknown.yml"'], "no camera matrix M1"),
    ("xml", lambda d: [f'"{d}/cal.xml"'], "is XML; save the calibration as YAML"),
    ("unknown model", lambda d: [f'"{d}/badmodel_l.yaml"', f'"{d}/badmodel_r.yaml"'], 'unknown distortion_model "kb9"'),
    ("size", lambda d: [f'"{d}/left.yaml"', f'"{d}/right.yaml"'], "was made for 640x480 images, but the camera gives 800x600"),
    ("singular", lambda d: [f'"{d}/singular.yml"'], "singular"),
    ("nan", lambda d: [f'"{d}/nan.yml"'], "NaN or infinite"),
    ("inf", lambda d: [f'"{d}/inf.yml"'], "NaN or infinite"),
    ("ros one file", lambda d: [f'"{d}/left.yaml"'], "give one per eye"),
]


@pytest.fixture(scope="module")
def bad_files(chessboard):
    d, cal, _ = chessboard
    with open(d / "unknown.yml", "w") as f:
        f.write("foo: 1\nbar: [1, 2]\n")
    with open(d / "cal.xml", "w") as f:
        f.write('<?xml version="1.0"?>\n<opencv_storage></opencv_storage>\n')
    for eye, K, D, R, P in (("l", cal["M1"], cal["D1"], cal["R1"], cal["P1"]), ("r", cal["M2"], cal["D2"], cal["R2"], cal["P2"])):
        ros_yaml(str(d / f"badmodel_{eye}.yaml"), eye, K, D, R, P, (W, H), "kb9")
    opencv_yaml(str(d / "singular.yml"), M1=np.zeros((3, 3)), D1=cal["D1"], M2=cal["M2"], D2=cal["D2"], R1=cal["R1"],
                R2=cal["R2"], P1=cal["P1"], P2=cal["P2"])
    text_ = open(d / "intrinsics.yml").read() + "".join(open(d / "extrinsics.yml").read().splitlines(True)[2:])
    with open(d / "nan.yml", "w") as f:
        f.write(text_.replace("data: [ ", "data: [ .nan, ", 1))
    with open(d / "inf.yml", "w") as f:
        f.write(text_.replace("data: [ ", "data: [ -.inf, ", 1))
    return d


@pytest.mark.parametrize("case,files,message", BAD, ids=[b[0] for b in BAD])
def test_bad_calibration_refused(bad_files, bus, tmp, outdir, case, files, message):
    size = "width = 800; height = 600;" if case == "size" else f"width = {W}; height = {H};"
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write(f'save = {{ output_dir = "{outdir}"; }};\nright_hand = {{\n  rectify = true;\n'
                f'  calibration = [{", ".join(files(bad_files))}];\n'
                f'  camera = {{ source = "synthetic"; {size} }};\n}};\n')
    p = subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True)
    assert p.returncode == 1
    assert f"{conf}:4: right_hand.calibration: " in p.stderr and message in p.stderr, p.stderr
    # and the daemon refuses to start on it: never a silently unrectified take
    p = subprocess.run([HANDRECD, "--user", "--config", conf], capture_output=True, text=True, env=bus.env, timeout=60)
    assert p.returncode == 1 and message in p.stderr
    assert os.listdir(outdir) == []


def test_rectify_without_calibration_refused(tmp, outdir, daemon_factory, ctl):
    conf = os.path.join(tmp, "norect.conf")
    with open(conf, "w") as f:
        f.write('right_hand = { rectify = true; camera = { source = "synthetic"; }; };\n')
    p = subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True)
    assert p.returncode == 1 and "rectify = true needs calibration" in p.stderr
    daemon_factory(make_config(outdir))
    p = ctl("start", "--hand", "right", "--rectify", check=False)
    assert p.returncode == 1 and "Hand right has no calibration to rectify with" in p.stderr
