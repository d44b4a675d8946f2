"""JPEG decoding for the reader: OpenCV (cv2) when it is there, else Pillow, each at full size or
scaled by 1/2, 1/4 or 1/8 in the DCT domain (libjpeg decodes only the coefficients it needs:
cv2.IMREAD_REDUCED_COLOR_N, Pillow's draft mode), which is several times faster than a full
decode followed by a resize. Images come out RGB, HxWx3 uint8.

Neither decoder is a hard dependency of handrec (a Jetson may carry NVIDIA's own OpenCV): the
first decode without one raises ImportError with the line that installs one.
"""
import io

import numpy as np

INSTALL_DECODER = ("handrec decodes JPEG with OpenCV or Pillow, and neither is installed: "
                   "apt install python3-opencv (or python3-pil); in a venv or conda environment: "
                   "pip install 'handrec[opencv]' (or 'handrec[pillow]')")

SCALES = (1, 2, 4, 8)  # the denominators libjpeg scales by in the DCT domain

_backend = None  # ("cv2", module) or ("pil", Image module)


def backend():
    """("cv2", cv2) or ("pil", PIL.Image): the decoder in use; ImportError with the install line
    when there is none."""
    global _backend
    if _backend is None:
        try:
            import cv2
            _backend = ("cv2", cv2)
        except ImportError:
            try:
                from PIL import Image
                _backend = ("pil", Image)
            except ImportError:
                raise ImportError(INSTALL_DECODER) from None
    return _backend


def denominator(scale):
    """1, 2, 4 or 8 for scale 1, 1/2, 1/4, 1/8 (a float or the denominator itself: 4 is 1/4)."""
    if scale is None:
        return 1
    s = float(scale)
    d = s if s >= 1 else 1.0 / s if s > 0 else 0
    n = int(round(d))
    if n not in SCALES or abs(d - n) > 1e-6:
        raise ValueError(f"scale {scale!r}: JPEGs are scaled in the DCT domain by 1, 1/2, 1/4 or 1/8")
    return n


def scaled_size(width, height, denom):
    """The size libjpeg decodes a width x height image to at 1/denom (rounded up)."""
    return -(-width // denom), -(-height // denom)


def decode(jpeg, scale=1, bgr=False):
    """A JPEG's pixels as numpy HxWx3 uint8 (RGB; BGR with bgr=True, OpenCV's order, which with
    OpenCV costs no channel swap), decoded at scale 1, 1/2, 1/4 or 1/8; None when it does not
    decode."""
    d = denominator(scale)
    kind, mod = backend()
    buf = np.frombuffer(jpeg, np.uint8)
    if kind == "cv2":
        flag = {1: mod.IMREAD_COLOR, 2: mod.IMREAD_REDUCED_COLOR_2, 4: mod.IMREAD_REDUCED_COLOR_4,
                8: mod.IMREAD_REDUCED_COLOR_8}[d]
        img = mod.imdecode(buf, flag | mod.IMREAD_IGNORE_ORIENTATION)
        if img is None:
            return None
        return img if bgr else mod.cvtColor(img, mod.COLOR_BGR2RGB)
    try:
        im = mod.open(io.BytesIO(buf.tobytes()))
        if d > 1:
            w, h = im.size
            # draft picks the largest reduction whose size is still at least the one asked for
            im.draft("RGB", (max(1, w // d), max(1, h // d)))
        img = np.asarray(im.convert("RGB"))
    except (OSError, SyntaxError, ValueError):
        return None
    return img[:, :, ::-1] if bgr else img


def decode_gray(jpeg, scale=1):
    """A JPEG's luma as numpy HxW uint8; None when it does not decode."""
    d = denominator(scale)
    kind, mod = backend()
    if kind == "cv2":
        flag = {1: mod.IMREAD_GRAYSCALE, 2: mod.IMREAD_REDUCED_GRAYSCALE_2, 4: mod.IMREAD_REDUCED_GRAYSCALE_4,
                8: mod.IMREAD_REDUCED_GRAYSCALE_8}[d]
        return mod.imdecode(np.frombuffer(jpeg, np.uint8), flag)
    try:
        im = mod.open(io.BytesIO(bytes(jpeg)))
        if d > 1:
            w, h = im.size
            im.draft("L", (max(1, w // d), max(1, h // d)))
        return np.asarray(im.convert("L"))
    except (OSError, SyntaxError, ValueError):
        return None
