"""Rectification when reading: a take recorded raw (`rectify = false`) with its calibration stored
under /calibration gives the rectified images handrecd would have stored.

The maps are handrecd's own (lib/rectify.c, lib/stereo-rectify.c), computed here with numpy from
the stored K, D, R, P of each eye: a rectified pixel (u, v) comes from the camera pixel
initUndistortRectifyMap gives (inv(P[:, :3] R), the lens model, K), rounded to 1/32 pixel, and a
pixel whose source falls outside the eye is black. At a decode scale of 1/N the map is sampled at
the scaled pixels' centres, as handrecd samples its chroma planes, so a 1/4 decode is rectified at
1/4 the cost. The remap is bilinear in 1/32 pixel with handrecd's rounding: cv2.remap when OpenCV
is there (the same bytes, README "Figures"), else numpy with the same integer arithmetic.

What differs from handrecd's stored frames: handrecd remaps the decoded Y, U and V planes (U and V
at their own half-size sites) and encodes the result again at its jpeg_quality; here the RGB
image decoded from the camera's JPEG is remapped. tests/integration/test_dataset.py measures the
difference on real images against handrecd's own rectification of the same frames.
"""
import numpy as np

FRAC = 32  # 1/32 pixel, RECTIFY_FRAC_BITS
_OUTSIDE = -1000.0  # a source position cv2.remap treats as outside (BORDER_CONSTANT, black)


class Calibration:
    """The /calibration group of a take: model ("plumb_bob" or "fisheye"), and per eye K (3x3),
    D (n), R (3x3), P (3x4); R, T between the cameras when stored."""

    def __init__(self, group):
        a = group.attrs
        model = a.get("model", b"plumb_bob")
        self.model = model.decode() if isinstance(model, bytes) else str(model)
        self.eyes = {}
        for eye in ("left", "right"):
            g = group[eye]
            self.eyes[eye] = {k: np.array(g[k][()], dtype=np.float64) for k in ("K", "D", "R", "P")}
        self.R = np.array(group["R"][()], dtype=np.float64) if "R" in group else None
        self.T = np.array(group["T"][()], dtype=np.float64) if "T" in group else None

    @staticmethod
    def of(h5file):
        """The take's calibration, or None when it has none."""
        g = h5file.get("calibration")
        if g is None or "left" not in g or "right" not in g:
            return None
        return Calibration(g)

    def __repr__(self):
        return f"<handrec.Calibration {self.model}>"


def source_points(cal, eye, u, v):
    """Where rectified pixels (u, v) (float arrays, eye pixels) come from in the camera image of
    @eye: (x, y) float64 arrays, NaN where no image point (stereo_rectify_source_point())."""
    e = cal.eyes[eye]
    K, R, P = e["K"], e["R"], e["P"]
    k = np.zeros(14)
    k[:len(e["D"])] = e["D"]
    iR = np.linalg.inv(P[:, :3] @ R)
    X0 = iR[0, 0] * u + iR[0, 1] * v + iR[0, 2]
    X1 = iR[1, 0] * u + iR[1, 1] * v + iR[1, 2]
    X2 = iR[2, 0] * u + iR[2, 1] * v + iR[2, 2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = 1.0 / X2
        x, y = X0 * w, X1 * w
        if cal.model == "fisheye":
            r = np.sqrt(x * x + y * y)
            theta = np.arctan(r)
            t2 = theta * theta
            t4 = t2 * t2
            theta_d = theta * (1 + k[0] * t2 + k[1] * t4 + k[2] * t4 * t2 + k[3] * t4 * t4)
            scale = np.where(r == 0, 1.0, theta_d / np.where(r == 0, 1.0, r))
            xd, yd = x * scale, y * scale
            bad = ~(X2 > 0)
        else:
            x2, y2 = x * x, y * y
            r2 = x2 + y2
            _2xy = 2 * x * y
            kr = (1 + ((k[4] * r2 + k[1]) * r2 + k[0]) * r2) / (1 + ((k[7] * r2 + k[6]) * r2 + k[5]) * r2)
            xd = x * kr + k[2] * _2xy + k[3] * (r2 + 2 * x2) + k[8] * r2 + k[9] * r2 * r2
            yd = y * kr + k[2] * (r2 + 2 * y2) + k[3] * _2xy + k[10] * r2 + k[11] * r2 * r2
            bad = X2 == 0
        mx = K[0, 0] * xd + K[0, 2]
        my = K[1, 1] * yd + K[1, 2]
    bad |= ~(np.isfinite(mx) & np.isfinite(my))
    mx[bad] = np.nan
    my[bad] = np.nan
    return mx, my


def quantised_map(cal, eye, width, height, denom):
    """(qx, qy, inside) of the plane of one eye decoded at 1/denom: source positions in 1/32
    pixel of that plane (int64), and whether each is inside the eye (lib/rectify.c's map_entry)."""
    s = 1.0 / denom
    w, h = -(-width // denom), -(-height // denom)
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    lx, ly = source_points(cal, eye, (u + 0.5) / s - 0.5, (v + 0.5) / s - 0.5)
    x = (lx + 0.5) * s - 0.5
    y = (ly + 0.5) * s - 0.5
    with np.errstate(invalid="ignore"):
        inside = (x > -1) & (y > -1) & (x < w) & (y < h)
    x = np.where(inside, x, 0.0)
    y = np.where(inside, y, 0.0)
    # lround: half away from zero (x > -1 here, so floor(x * 32 + 0.5) except exactly at -0.5)
    qx = np.sign(x) * np.floor(np.abs(x) * FRAC + 0.5)
    qy = np.sign(y) * np.floor(np.abs(y) * FRAC + 0.5)
    inside &= (qx >= 0) & (qy >= 0) & (qx <= (w - 1) * FRAC) & (qy <= (h - 1) * FRAC)
    return qx.astype(np.int64), qy.astype(np.int64), inside


_shared = {}  # calibration and eye size -> Rectifier: the takes of one rig share their maps


def rectifier_for(calibration, eye_width, eye_height):
    """A Rectifier for @calibration, shared by every take with the same calibration and size."""
    key = (calibration.model, int(eye_width), int(eye_height)) + tuple(
        calibration.eyes[e][k].tobytes() for e in ("left", "right") for k in ("K", "D", "R", "P"))
    r = _shared.get(key)
    if r is None:
        if len(_shared) >= 8:
            _shared.pop(next(iter(_shared)))
        r = _shared[key] = Rectifier(calibration, eye_width, eye_height)
    return r


class Rectifier:
    """Rectifies side-by-side images of a take (both eyes, eye_width x eye_height each at scale
    1) from its calibration; one map per decode scale, made on first use."""

    def __init__(self, calibration, eye_width, eye_height):
        self.cal = calibration
        self.eye_width, self.eye_height = int(eye_width), int(eye_height)
        self._maps = {}

    def _map(self, denom, image_width):
        key = (denom, image_width)
        m = self._maps.get(key)
        if m is not None:
            return m
        ew = image_width // 2
        xs, ys, ins = [], [], []
        for i, eye in enumerate(("left", "right")):
            qx, qy, inside = quantised_map(self.cal, eye, self.eye_width, self.eye_height, denom)
            if qx.shape[1] != ew:  # an odd scaled width: the eye is the half of the decoded image
                qx, qy, inside = qx[:, :ew], qy[:, :ew], inside[:, :ew]
            xs.append(qx + i * ew * FRAC)
            ys.append(qy)
            ins.append(inside)
        qx, qy, inside = np.hstack(xs), np.hstack(ys), np.hstack(ins)
        try:
            import cv2  # noqa: F401
            fx = np.where(inside, qx / FRAC, _OUTSIDE).astype(np.float32)
            fy = np.where(inside, qy / FRAC, _OUTSIDE).astype(np.float32)
            # fixed-point maps, as handrecd's: 1/32 pixel, cv2.remap's INTER_LINEAR on CV_16SC2
            m = ("cv2",) + tuple(cv2.convertMaps(fx, fy, cv2.CV_16SC2, nninterpolation=False))
        except ImportError:
            h, w = qx.shape
            x0, y0 = qx >> 5, qy >> 5
            m = ("numpy", (y0 * image_width + x0).astype(np.int64), (qx & 31).astype(np.int32),
                 (qy & 31).astype(np.int32), inside)
        self._maps[key] = m
        return m

    def decode(self, jpeg, denom=1, bgr=False):
        """The JPEG @jpeg (a raw frame of the take) decoded at 1/@denom and rectified; None when it
        does not decode. At a reduced scale it is decoded and rectified at twice the resolution
        asked, then averaged 2x2: rectifying at the reduced size itself resamples an image that
        DCT scaling has already averaged, and on textured images lands several grey levels from
        handrecd's rectified frame scaled the same way (the test measures both)."""
        from handrec import jpeg as _jpeg
        fine = max(1, denom // 2)
        img = _jpeg.decode(jpeg, fine, bgr=bgr)
        if img is None:
            return None
        img = self.apply(img, fine)
        if fine == denom:
            return img
        return _halve(img, -(-2 * self.eye_width // denom), -(-self.eye_height // denom))

    def apply(self, image, denom=1):
        """@image (HxWx3 uint8, both eyes side by side, decoded at 1/denom) rectified: a new array."""
        h, w = image.shape[:2]
        m = self._map(denom, w)
        if m[0] == "cv2":
            import cv2
            return cv2.remap(np.ascontiguousarray(image), m[1], m[2], cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        _, base, fx, fy, inside = m
        flat = np.ascontiguousarray(image).reshape(h * w, -1).astype(np.int32)
        n = flat.shape[0] - 1
        b = np.where(inside, base, 0)
        # the neighbours a kernel reads even at weight 0, kept inside the image here
        p00 = flat[b]
        p01 = flat[np.minimum(b + 1, n)]
        p10 = flat[np.minimum(b + w, n)]
        p11 = flat[np.minimum(b + w + 1, n)]
        fx = fx[..., None]
        fy = fy[..., None]
        top = p00 * (32 - fx) + p01 * fx
        bot = p10 * (32 - fx) + p11 * fx
        out = (top * (32 - fy) + bot * fy + 512) >> 10
        out[~inside] = 0
        return out.astype(np.uint8).reshape(image.shape)


def _halve(img, w, h):
    """@img averaged 2x2 down to w x h (cv2.INTER_AREA, or numpy: the same means, rounded)."""
    try:
        import cv2
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    except ImportError:
        H, W = img.shape[:2]
        if H < 2 * h or W < 2 * w:  # odd sizes: pad by repeating the last row and column
            img = np.pad(img, ((0, max(0, 2 * h - H)), (0, max(0, 2 * w - W)), (0, 0)), mode="edge")
        img = img[:2 * h, :2 * w].astype(np.uint16)
        s = img[0::2, 0::2] + img[1::2, 0::2] + img[0::2, 1::2] + img[1::2, 1::2]
        return ((s + 2) >> 2).astype(np.uint8)
