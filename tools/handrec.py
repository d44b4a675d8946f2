"""Reading handrec takes (HDF5 layout version 1) in Python, with h5py.

    import handrec
    with handrec.open_take("take.h5") as take:
        jpeg = take.frame(0)          # bytes of one JPEG: both eyes side by side

The frame count is len(/stereo/size): the writer appends `size` last, so while a take is being
recorded (open with swmr=True) the other index datasets can briefly be one batch longer.
"""
import h5py
import numpy as np

STAMP_BITS = 32


class Take:
    def __init__(self, path, swmr=False):
        self.file = h5py.File(path, "r", swmr=swmr, libver="latest")
        self.attrs = self.file.attrs

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def close(self):
        self.file.close()

    def refresh(self):
        for name in ("jpeg", "offset", "size", "timestamp_ns", "left_timestamp_ns", "right_timestamp_ns",
                     "left_sequence", "right_sequence"):
            self.file["stereo/" + name].refresh()

    def __len__(self):
        return len(self.file["stereo/size"])

    def frame(self, i):
        """The JPEG bytes of stereo frame i."""
        off = int(self.file["stereo/offset"][i])
        size = int(self.file["stereo/size"][i])
        return self.file["stereo/jpeg"][off:off + size].tobytes()

    def column(self, name):
        """An index dataset (timestamp_ns, left_sequence, ...) cut to the committed frames."""
        return self.file["stereo/" + name][:len(self)]


def open_take(path, swmr=False):
    return Take(path, swmr=swmr)


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


def decode_gray(jpeg):
    import cv2
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
