"""Reading handrec takes (HDF5 layout version 1): frames as images, timestamps, attributes.

    import handrec
    t = handrec.open("take.h5")       # complete, being recorded, or left by a crash
    img = t[0].left                    # numpy HxWx3 uint8, RGB (t[0].right, t[0].jpeg: the bytes)
    utc = t.timestamps_utc             # numpy datetime64[ns]; t.timestamps: int64 ns, CLOCK_MONOTONIC
    for frame in t: ...

The frame count is len(/stereo/size): the writer appends `size` last, so while a take is being
recorded the other index datasets can briefly be one batch longer. A take being recorded, or one a
crash left with status "recording", still has HDF5's SWMR flags set: it is opened as an SWMR
reader, and len() follows it as it grows. JPEGs are decoded with OpenCV (python3-opencv) or,
without it, Pillow (python3-pil).
"""
import builtins

import h5py
import numpy as np

builtins_open = builtins.open  # the module defines open() (handrec.open)

__all__ = ["open", "open_take", "Take", "Frame", "decode", "decode_gray", "read_stamp"]

STAMP_BITS = 32
_INDEX = ("jpeg", "offset", "size", "timestamp_ns", "left_timestamp_ns", "right_timestamp_ns",
          "left_sequence", "right_sequence")


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def _value(v):
    """An attribute as plain Python: str, int, float, or a list of them."""
    v = _text(v)
    if isinstance(v, np.ndarray):
        return [_value(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v


# HDF5 superblock (versions 2 and 3, as takes have it, at byte 0): the file consistency flags
_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_OPEN_FOR_WRITING = 0x01 | 0x04  # a writer has it open (any, or SWMR)
# how often a SWMR reader reads metadata whose checksum fails (lib/layout.h, LAYOUT_READ_ATTEMPTS)
READ_ATTEMPTS = 28


def _open_for_writing(path):
    """Whether @path's superblock says a writer has it open (a take being recorded, or one a crash
    left so)."""
    try:
        with builtins_open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[:8] == _SIGNATURE and head[8] >= 2 and bool(head[11] & _OPEN_FOR_WRITING)


def _hdf5_library():
    """The HDF5 library h5py runs on (already loaded: found in this process's mappings), or None."""
    import ctypes
    try:
        with builtins_open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = path.rsplit("/", 1)[-1]
                if name.startswith("libhdf5") and not name.startswith("libhdf5_hl") and "_hl" not in name \
                        and ".so" in name:
                    return ctypes.CDLL(path)
    except OSError:
        pass
    return None


def _open_swmr(path):
    """A SWMR reader of @path that gives up on bad metadata after READ_ATTEMPTS reads (set through
    HDF5's C API: h5py has no call for it; without the library found, HDF5's default)."""
    import ctypes
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    lib = _hdf5_library()
    if lib is not None:
        lib.H5Pset_metadata_read_attempts.argtypes = [ctypes.c_int64, ctypes.c_uint]
        lib.H5Pset_metadata_read_attempts(fapl.id, READ_ATTEMPTS)
    fid = h5py.h5f.open(path.encode() if isinstance(path, str) else path,
                        h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ, fapl=fapl)
    return h5py.File(fid)


class Frame:
    """One stereo frame: .jpeg (bytes), .image (both eyes side by side), .left, .right (numpy
    HxWx3 uint8, RGB), .timestamp_ns (CLOCK_MONOTONIC), .utc (numpy datetime64[ns])."""

    def __init__(self, take, index, jpeg, timestamp_ns):
        self.take = take
        self.index = index
        self.jpeg = jpeg
        self.timestamp_ns = timestamp_ns
        self._image = None

    @property
    def utc(self):
        return np.datetime64(self.timestamp_ns + self.take.monotonic_to_utc_ns, "ns")

    @property
    def image(self):
        if self._image is None:
            self._image = decode(self.jpeg)
            if self._image is None:
                raise ValueError(f"frame {self.index}: not a JPEG")
        return self._image

    @property
    def left(self):
        return self.image[:, :self.take.eye_width]

    @property
    def right(self):
        return self.image[:, self.take.eye_width:2 * self.take.eye_width]

    def __repr__(self):
        return f"<handrec.Frame {self.index} of {self.take.path}: {len(self.jpeg)} bytes>"


class Take:
    """A take file, read-only. len(), t[i] (a Frame; negative indices count from the end),
    iteration, .attrs (a dict), .timestamps, .timestamps_utc, .frame(i) (JPEG bytes), .column()."""

    def __init__(self, path, swmr=None):
        self.path = path
        if swmr is None:
            # a plain open for a finished take; SWMR read only for a file its superblock says is
            # open for writing (being recorded, or left so by a crash): never for a corrupt one,
            # which a SWMR reader would retry for days (HDF5's 100 attempts, each sleep doubling)
            try:
                self.file = h5py.File(path, "r", libver="latest")
            except OSError:
                if not _open_for_writing(path):
                    raise
                self.file = _open_swmr(path)
        elif swmr:
            self.file = _open_swmr(path)
        else:
            self.file = h5py.File(path, "r", libver="latest")
        self.live = self.file.swmr_mode
        fmt = _text(self.file.attrs.get("format", ""))
        if fmt != "handrec":
            self.file.close()
            raise ValueError(f"{path}: not a handrec take (format {fmt!r})")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.file.close()

    def __del__(self):
        try:
            self.file.close()
        except Exception:
            pass

    @property
    def attrs(self):
        """The root attributes as a dict of str, int, float (read again on each use: a take being
        recorded gets its final ones when it completes)."""
        return {k: _value(v) for k, v in self.file.attrs.items()}

    @property
    def eye_width(self):
        return int(self.file.attrs["eye_width"])

    @property
    def eye_height(self):
        return int(self.file.attrs["eye_height"])

    @property
    def monotonic_to_utc_ns(self):
        return int(self.file.attrs["monotonic_to_utc_ns"])

    def refresh(self):
        """Catch up with a take being recorded (len() does this itself)."""
        if self.live:
            for name in _INDEX:
                self.file["stereo/" + name].refresh()

    def __len__(self):
        self.refresh()
        return len(self.file["stereo/size"])

    def frame(self, i):
        """The JPEG bytes of stereo frame i."""
        off = int(self.file["stereo/offset"][i])
        size = int(self.file["stereo/size"][i])
        return self.file["stereo/jpeg"][off:off + size].tobytes()

    def __getitem__(self, i):
        n = len(self)
        if not isinstance(i, (int, np.integer)):
            raise TypeError("a take is indexed by frame number")
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"frame {i} of {n}")
        return Frame(self, int(i), self.frame(i), int(self.file["stereo/timestamp_ns"][i]))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def column(self, name):
        """An index dataset (timestamp_ns, left_sequence, ...) cut to the committed frames."""
        n = len(self)
        return self.file["stereo/" + name][:n]

    @property
    def timestamps(self):
        """Capture times, int64 nanoseconds of CLOCK_MONOTONIC, one per frame."""
        return self.column("timestamp_ns").astype(np.int64)

    @property
    def timestamps_utc(self):
        """Capture times as numpy datetime64[ns] (UTC)."""
        return (self.timestamps + self.monotonic_to_utc_ns).astype("datetime64[ns]")

    def __repr__(self):
        return f"<handrec.Take {self.path}: {len(self)} frames{' (live)' if self.live else ''}>"


def open(path, swmr=None):  # noqa: A001 (the module's entry point, as in gzip.open)
    """Open a take: complete, being recorded, or left by a crash (swmr=None chooses)."""
    return Take(path, swmr=swmr)


def open_take(path, swmr=None):
    return Take(path, swmr=swmr)


def decode(jpeg):
    """A JPEG's pixels as numpy HxWx3 uint8, RGB; None when it does not decode."""
    buf = np.frombuffer(jpeg, np.uint8)
    try:
        import cv2
    except ImportError:
        import io
        from PIL import Image
        try:
            return np.asarray(Image.open(io.BytesIO(buf.tobytes())).convert("RGB"))
        except OSError:
            return None
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def decode_gray(jpeg):
    """A JPEG's luma as numpy HxW uint8; None when it does not decode."""
    try:
        import cv2
    except ImportError:
        import io
        from PIL import Image
        try:
            return np.asarray(Image.open(io.BytesIO(jpeg)).convert("L"))
        except OSError:
            return None
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)


def stamp_block_size(eye_width):
    b = (eye_width // STAMP_BITS) & ~7
    return min(max(b, 8), 64)


def _stamp_word(number):
    n = number & 0xFFFFFF
    check = ~((n >> 16) ^ (n >> 8) ^ n ^ 0x5A) & 0xFF
    return (n << 8) | check


def read_stamp(gray, eye_width, eye=0):
    """The frame number the synthetic camera drew into one eye of a decoded luma image, or None
    when the check bits do not match (daemon/stamp.c is the writer)."""
    b = stamp_block_size(eye_width)
    x0 = eye * eye_width
    word = 0
    for i in range(STAMP_BITS):
        block = gray[b // 4:b - b // 4, x0 + i * b + b // 4:x0 + i * b + b - b // 4]
        word = (word << 1) | int(block.mean() >= 128)
    if _stamp_word(word >> 8) != word:
        return None
    return word >> 8
