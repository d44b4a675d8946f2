"""Reading handrec takes (HDF5 layout version 1): frames as images, timestamps, attributes; and
datasets of episodes, from a folder of takes or a bucket (handrec.Dataset, handrec.dataset).

    import handrec
    t = handrec.open("take.h5")       # complete, being recorded, or left by a crash; or s3://...
    img = t[0].left                    # numpy HxWx3 uint8, RGB (t[0].right, t[0].jpeg: the bytes)
    left, right, *_ = t.frames(range(0, 100, 10), scale=1/4)   # a batch, decoded on threads
    utc = t.timestamps_utc             # numpy datetime64[ns]; t.timestamps: int64 ns, CLOCK_MONOTONIC
    for frame in t[0:5]: ...

    ds = handrec.Dataset("/var/lib/handrec", task="stack the cups", decision="kept", hands=("left", "right"))
    for ep in ds:
        steps = ep.align()             # per step each hand's nearest frame, gaps flagged
        batch = ep.frames(steps.ok_steps, scale=1/4)   # {"left": Stereo, "right": Stereo}

The frame count is len(/stereo/size): the writer appends `size` last, so while a take is being
recorded the other index datasets can briefly be one batch longer. A take being recorded, or one a
crash left with status "recording", still has HDF5's SWMR flags set: it is opened as an SWMR
reader, and len() follows it as it grows. JPEGs are decoded with OpenCV (python3-opencv) or,
without it, Pillow (python3-pil); neither is needed until a frame is decoded.
"""
import builtins
import collections
import concurrent.futures
import os
import threading

import h5py
import numpy as np

from handrec import jpeg as _jpeg

builtins_open = builtins.open  # the module defines open() (handrec.open)

__all__ = ["open", "open_take", "Take", "Frame", "Stereo", "decode", "decode_gray", "decode_batch", "read_stamp",
           "Dataset", "Episode", "Alignment"]

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


class Stereo(tuple):
    """A batch of decoded frames of one take: .left and .right (numpy N x H x W x 3 uint8, RGB, each
    eye), .index (the frame numbers, int64[N]), .valid (bool[N]: for an episode's steps, whether the
    hand had a frame within the tolerance; all True for a take's own frames). A tuple (left, right,
    index, valid), so `left, right, *_ = t.frames(...)` works."""

    __slots__ = ()

    def __new__(cls, left, right, index, valid):
        return tuple.__new__(cls, (left, right, index, valid))

    left = property(lambda self: self[0])
    right = property(lambda self: self[1])
    index = property(lambda self: self[2])
    valid = property(lambda self: self[3])

    def __repr__(self):
        return f"<handrec.Stereo {len(self[2])} frames, eyes {self[0].shape[1:3]}>"


class Frame:
    """One stereo frame: .jpeg (bytes), .image (both eyes side by side), .left, .right (numpy
    HxWx3 uint8, RGB), .timestamp_ns (CLOCK_MONOTONIC), .utc (numpy datetime64[ns]). The JPEG is
    decoded once for .image, .left and .right, also through another Frame object of the same
    take and index (t[i].left then t[i].right: one decode)."""

    def __init__(self, take, index, jpeg, timestamp_ns):
        self.take = take
        self.index = index
        self.jpeg = jpeg
        self.timestamp_ns = timestamp_ns

    @property
    def utc(self):
        return np.datetime64(self.timestamp_ns + self.take.monotonic_to_utc_ns, "ns")

    @property
    def image(self):
        return self.take._decoded(self.index, self.jpeg, 1)

    def eyes(self, scale=1):
        """(left, right) at scale 1, 1/2, 1/4 or 1/8 (the JPEG decoded once per scale)."""
        img = self.take._decoded(self.index, self.jpeg, _jpeg.denominator(scale))
        half = img.shape[1] // 2
        return img[:, :half], img[:, half:2 * half]

    @property
    def left(self):
        return self.image[:, :self.take.eye_width]

    @property
    def right(self):
        return self.image[:, self.take.eye_width:2 * self.take.eye_width]

    def __repr__(self):
        return f"<handrec.Frame {self.index} of {self.take.path}: {len(self.jpeg)} bytes>"


RECTIFY_MODES = (False, True, "auto")


class Take:
    """A take file, read-only: a sequence of Frames. len(); t[i] (a Frame; negative indices count
    from the end); t[a:b] and t[[i, j]] (lists of Frames); iteration; t.frames(indices, scale)
    (a batch decoded on threads, both eyes from one decode); .attrs (a dict), .timestamps,
    .timestamps_utc, .frame(i) (JPEG bytes), .column(), .calibration.

    rectify: False (images as stored), True (rectified: a take stored rectified as it is, one
    recorded raw rectified on read from its /calibration; a raw take without one is an error) or
    "auto" (rectified when the take has a calibration, else as stored)."""

    def __init__(self, path, swmr=None, rectify=False, fileobj=None):
        self.path = path
        if rectify not in RECTIFY_MODES:
            raise ValueError(f"rectify={rectify!r}: False, True or 'auto'")
        self._fileobj = fileobj
        if fileobj is not None:
            # an object store's take (handrec.s3): finished takes only, read through ranged GETs;
            # no chunk cache, so that a frame reads its own bytes, not its whole 512 KiB chunk
            self.file = h5py.File(fileobj, "r", rdcc_nbytes=0)
        elif swmr is None:
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
        self._index = None  # (offset, size, timestamp_ns) of a finished take, read once
        self._cache = collections.OrderedDict()  # (index, denominator) -> decoded image
        self._cache_lock = threading.Lock()
        self._rectifier = None
        self.rectify = rectify
        if rectify is True and not self.rectified and self.calibration is None:
            self.file.close()
            raise ValueError(f"{path}: recorded raw with no calibration stored: it cannot be rectified "
                             "(rectify='auto' reads it as stored)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.file.close()
        if self._fileobj is not None:
            self._fileobj.close()

    def __del__(self):
        try:
            self.file.close()
        except Exception:
            pass

    def _catch_up(self):
        """A take opened while it was recorded, once handrecd has finished it: opened again, plainly,
        so that its final attributes are seen (a SWMR reader keeps the root's attributes it first
        read, and cannot read past the end of the file it first saw). HDF5 opens a file once per
        process, so the SWMR handle is closed first. In the moment between handrecd closing its
        SWMR file and reopening it to mark it complete the status still says "recording": the take
        stays live, and is opened again next time."""
        if not self.live or self._fileobj is not None or _open_for_writing(self.path):
            return
        self.file.close()
        self._index = None
        try:
            self.file = h5py.File(self.path, "r", libver="latest")
        except OSError:  # handrecd has it open again
            self.file = _open_swmr(self.path)
            return
        if _text(self.file.attrs.get("status", "")) != "recording":
            self.live = False

    @property
    def attrs(self):
        """The root attributes as a dict of str, int, float (read again on each use: a take being
        recorded gets its final ones when it completes)."""
        self._catch_up()
        return {k: _value(v) for k, v in self.file.attrs.items()}

    @property
    def hand(self):
        return _text(self.file.attrs.get("hand", ""))

    @property
    def status(self):
        self._catch_up()
        return _text(self.file.attrs.get("status", ""))

    @property
    def eye_width(self):
        return int(self.file.attrs["eye_width"])

    @property
    def eye_height(self):
        return int(self.file.attrs["eye_height"])

    @property
    def monotonic_to_utc_ns(self):
        return int(self.file.attrs["monotonic_to_utc_ns"])

    @property
    def fps_nominal(self):
        return float(self.file.attrs.get("fps_nominal", 0.0))

    @property
    def rectified(self):
        """Whether the stored frames are rectified (handrecd rectified them while recording)."""
        return bool(int(self.file.attrs.get("rectified", 0)))

    @property
    def calibration(self):
        """The stored calibration (handrec.rectify.Calibration: model, K, D, R, P of each eye), or
        None when the take has none."""
        from handrec.rectify import Calibration
        return Calibration.of(self.file)

    def _rectifies(self, rectify=None):
        """Whether frames read with @rectify (None: the take's own setting) are rectified here."""
        mode = self.rectify if rectify is None else rectify
        if mode not in RECTIFY_MODES:
            raise ValueError(f"rectify={mode!r}: False, True or 'auto'")
        if not mode or self.rectified:
            return False
        if self._rectifier is None:
            cal = self.calibration
            if cal is None:
                if mode is True:
                    raise ValueError(f"{self.path}: recorded raw with no calibration stored: it cannot be "
                                     "rectified (rectify='auto' reads it as stored)")
                return False
            from handrec.rectify import rectifier_for
            self._rectifier = rectifier_for(cal, self.eye_width, self.eye_height)
        return True

    def refresh(self):
        """Catch up with a take being recorded (len() does this itself)."""
        self._catch_up()
        if self.file.swmr_mode:
            for name in _INDEX:
                self.file["stereo/" + name].refresh()

    def _finished(self):
        return not self.live or self.status != "recording"

    def _index_arrays(self):
        """(offset, size, timestamp_ns) of the committed frames; read once for a finished take."""
        if self._index is not None:
            return self._index
        self.refresh()
        s = self.file["stereo"]
        n = len(s["size"])
        idx = (s["offset"][:n].astype(np.int64), s["size"][:n].astype(np.int64),
               s["timestamp_ns"][:n].astype(np.int64))
        if self._finished():
            self._index = idx
        return idx

    def __len__(self):
        if self._index is not None:
            return len(self._index[1])
        self.refresh()
        return len(self.file["stereo/size"])

    def frame(self, i):
        """The JPEG bytes of stereo frame i."""
        if self._index is None and self.live:  # a take being recorded: no reading it whole each time
            o, n = int(self.file["stereo/offset"][i]), int(self.file["stereo/size"][i])
        else:
            off, size, _ = self._index_arrays()
            o, n = int(off[i]), int(size[i])
        return self.file["stereo/jpeg"][o:o + n].tobytes()

    def _timestamp(self, i):
        if self._index is None and self.live:
            return int(self.file["stereo/timestamp_ns"][i])
        return int(self._index_arrays()[2][i])

    def jpegs(self, indices):
        """The JPEG bytes of frames @indices (ints, in any order), reading each run of consecutive
        frames in one go (one request per run from an object store)."""
        off, size, _ = self._index_arrays()
        idx = np.asarray(indices, dtype=np.int64)
        out = [None] * len(idx)
        if not len(idx):
            return out
        order = np.argsort(idx, kind="stable")
        jpeg = self.file["stereo/jpeg"]
        run = [order[0]]

        def flush(run):
            a, b = idx[run[0]], idx[run[-1]]
            lo, hi = int(off[a]), int(off[b] + size[b])
            if hi - lo > 64 * (1 << 20) or not all(off[j + 1] == off[j] + size[j] for j in range(a, b)):
                for k in run:
                    j = idx[k]
                    out[k] = jpeg[int(off[j]):int(off[j] + size[j])].tobytes()
                return
            span = jpeg[lo:hi]
            for k in run:
                j = idx[k]
                out[k] = span[int(off[j]) - lo:int(off[j] + size[j]) - lo].tobytes()

        for k in order[1:]:
            if idx[k] - idx[run[-1]] <= 1 and len(run) < 256:
                run.append(k)
            else:
                flush(run)
                run = [k]
        flush(run)
        return out

    def _decoded(self, index, jpeg, denom, rectify=None):
        """Frame @index decoded at 1/@denom (rectified per the take's setting), from a small cache."""
        rect = self._rectifies(rectify)
        key = (index, denom, rect)
        with self._cache_lock:
            img = self._cache.get(key)
            if img is not None:
                self._cache.move_to_end(key)
                return img
        img = self._rectifier.decode(jpeg, denom) if rect else _jpeg.decode(jpeg, denom)
        if img is None:
            raise ValueError(f"{self.path}: frame {index}: not a JPEG")
        img = np.ascontiguousarray(img)  # shared by the Frames of this index: t[i].left, t[i].right
        with self._cache_lock:
            self._cache[key] = img
            while len(self._cache) > 4:
                self._cache.popitem(last=False)
        return img

    def _positions(self, i, n):
        if isinstance(i, slice):
            return range(*i.indices(n))
        idx = np.asarray(i)
        if idx.dtype == bool:
            if idx.shape != (n,):
                raise IndexError(f"a boolean mask of {idx.shape} for {n} frames")
            return np.nonzero(idx)[0]
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError("a take is indexed by frame number, a slice, or a sequence of frame numbers")
        idx = np.where(idx < 0, idx + n, idx)
        bad = (idx < 0) | (idx >= n)
        if bad.any():
            raise IndexError(f"frame {int(np.asarray(i)[bad][0])} of {n}")
        return idx

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
            if i < 0:
                i += n
            if not 0 <= i < n:
                raise IndexError(f"frame {i} of {n}")
            return Frame(self, int(i), self.frame(i), self._timestamp(i))
        if isinstance(i, (str, bytes, float)) or i is None:
            raise TypeError("a take is indexed by frame number, a slice, or a sequence of frame numbers")
        idx = [int(j) for j in self._positions(i, n)]
        ts = self._index_arrays()[2]
        return [Frame(self, j, jp, int(ts[j])) for j, jp in zip(idx, self.jpegs(idx))]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def frames(self, indices=None, scale=1, rectify=None, threads=None):
        """Frames @indices (frame numbers, negative from the end; a slice; None: every frame)
        decoded at @scale (1, 1/2, 1/4 or 1/8, in the DCT domain), each JPEG once and on @threads
        threads (None: one per core; 1: this thread): a Stereo of .left and .right, numpy
        N x H x W x 3 uint8 (RGB), and .index. @rectify: None, the take's setting, or False, True,
        "auto" (see Take)."""
        n = len(self)
        idx = np.asarray(self._positions(slice(None) if indices is None else indices, n), dtype=np.int64)
        denom = _jpeg.denominator(scale)
        rect = self._rectifies(rectify)
        left, right = decode_batch([(self, idx, denom, rect)], threads)[0]
        return Stereo(left, right, idx, np.ones(len(idx), bool))

    def column(self, name):
        """An index dataset (timestamp_ns, left_sequence, ...) cut to the committed frames."""
        n = len(self)
        return self.file["stereo/" + name][:n]

    @property
    def timestamps(self):
        """Capture times, int64 nanoseconds of CLOCK_MONOTONIC, one per frame."""
        if self._index is not None:
            return self._index[2].copy()
        return self.column("timestamp_ns").astype(np.int64)

    @property
    def timestamps_utc(self):
        """Capture times as numpy datetime64[ns] (UTC)."""
        return (self.timestamps + self.monotonic_to_utc_ns).astype("datetime64[ns]")

    def __repr__(self):
        try:
            status = self.status
            reason = _text(self.file.attrs.get("stop_reason", ""))
            n = len(self)
        except Exception:  # a closed file
            return f"<handrec.Take {self.path}: closed>"
        if status == "recording":
            state = "recording (live)" if self.live else "recording"
        else:
            state = status + (f" ({reason})" if reason else "")
        return (f"<handrec.Take {self.path}: {n} frames, {2 * self.eye_width}x{self.eye_height}"
                f"{', rectified' if self.rectified else ''}, {state}>")


def open(path, swmr=None, rectify=False, **s3_options):  # noqa: A001 (the module's entry point, as in gzip.open)
    """Open a take: complete, being recorded, or left by a crash (swmr=None chooses); a path, or
    s3://bucket/key read through ranged GETs (handrec.s3; endpoint_url=..., boto3 needed).
    @rectify: False, True or "auto" (see Take)."""
    if str(path).startswith("s3://"):
        from handrec import s3
        return s3.open_take(str(path), rectify=rectify, **s3_options)
    if s3_options:
        raise TypeError(f"{sorted(s3_options)}: options of s3:// takes, not of a file")
    return Take(path, swmr=swmr, rectify=rectify)


def open_take(path, swmr=None, rectify=False, **s3_options):
    return open(path, swmr=swmr, rectify=rectify, **s3_options)


def decode(jpeg, scale=1):
    """A JPEG's pixels as numpy HxWx3 uint8, RGB, at scale 1, 1/2, 1/4 or 1/8; None when it does
    not decode. ImportError, with the install line, without OpenCV or Pillow."""
    img = _jpeg.decode(jpeg, scale)
    return None if img is None else np.ascontiguousarray(img)


def decode_gray(jpeg, scale=1):
    """A JPEG's luma as numpy HxW uint8; None when it does not decode."""
    return _jpeg.decode_gray(jpeg, scale)


# ---- batches, decoded on threads ----

_pool = None
_pool_key = None


def _executor(threads):
    """A thread pool of @threads for this process (a forked child, e.g. a DataLoader worker, gets
    its own: the parent's threads are not in it)."""
    global _pool, _pool_key
    key = (os.getpid(), threads)
    if _pool_key != key:
        _pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="handrec-decode")
        _pool_key = key
    return _pool


def decode_batch(jobs, threads=None):
    """Decode several takes' frames in one pool: @jobs, a list of (take, frame numbers, scale
    denominator, rectify here or not); returns [(left, right)] per job, numpy N x H x W x 3 RGB.
    Bytes are read first, in this thread (HDF5 serialises reads anyway), each distinct frame
    decoded once (cv2 and Pillow release the GIL while decoding), split into eyes after."""
    work = []  # (take, frame, jpeg, denom, rect, [(out_left, out_right, row)])
    results = []
    for take, idx, denom, rect in jobs:
        idx = np.asarray(idx, dtype=np.int64)
        uniq, inverse = np.unique(idx, return_inverse=True) if len(idx) else (idx, idx)
        h = -(-take.eye_height // denom)
        w = -(-2 * take.eye_width // denom) // 2
        left = np.empty((len(idx), h, w, 3), np.uint8)
        right = np.empty((len(idx), h, w, 3), np.uint8)
        results.append((left, right))
        rows = [[] for _ in uniq]
        for r, u in enumerate(inverse):
            rows[u].append(r)
        for j, jpeg, rs in zip(uniq, take.jpegs(uniq), rows):
            work.append((take, int(j), jpeg, denom, rect, left, right, rs))

    kind, mod = _jpeg.backend() if work else (None, None)
    bgr = kind == "cv2"  # OpenCV decodes to BGR: turned RGB as it is copied into place (cvtColor, SIMD)

    def one(item):
        take, j, jpeg, denom, rect, left, right, rs = item
        img = take._rectifier.decode(jpeg, denom, bgr=bgr) if rect else _jpeg.decode(jpeg, denom, bgr=bgr)
        if img is None:
            raise ValueError(f"{take.path}: frame {j}: not a JPEG")
        w = left.shape[2]
        if img.shape[0] != left.shape[1] or img.shape[1] // 2 != w:
            raise ValueError(f"{take.path}: frame {j} is {img.shape[1]}x{img.shape[0]} at 1/{denom}, the take's "
                             f"eyes {take.eye_width}x{take.eye_height} say {2 * w}x{left.shape[1]}")
        for r in rs:
            if bgr:
                mod.cvtColor(img[:, :w], mod.COLOR_BGR2RGB, dst=left[r])
                mod.cvtColor(img[:, w:2 * w], mod.COLOR_BGR2RGB, dst=right[r])
            else:
                left[r] = img[:, :w]
                right[r] = img[:, w:2 * w]

    n = threads or os.cpu_count() or 1
    if n == 1 or len(work) <= 1:
        for item in work:
            one(item)
    else:
        list(_executor(n).map(one, work))
    return results


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


from handrec.dataset import Alignment, Dataset, Episode  # noqa: E402  (it uses Take)
