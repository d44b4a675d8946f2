"""Checks every test runs on a file handrecd wrote, with h5py and h5dump (real readers)."""
import subprocess

import numpy as np

import handrec

REQUIRED_ATTRS = {
    "format", "format_version", "hand", "status", "stop_reason", "started_utc", "software_version", "host",
    "eye_width", "eye_height", "layout", "jpeg_quality", "rectified", "fps_nominal", "clock",
    "monotonic_to_utc_ns", "config",
}
FINAL_ATTRS = {"frames", "frames_captured", "frames_dropped", "stopped_utc", "duration_s", "fps_measured"}


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_stored_figures(attrs, ts, lts, rts):
    """The figures a take stores over its frames (docs/file-format.md) are those of the frames in
    it: a reader computing them again from the index gets the same numbers."""
    n = len(ts)
    if "pair_skew_mean_ns" in attrs:
        skew = np.abs(lts.astype(np.int64) - rts.astype(np.int64))
        mean = int(round(float(skew.mean()))) if n else 0
        assert abs(int(attrs["pair_skew_mean_ns"]) - mean) <= 1, (int(attrs["pair_skew_mean_ns"]), mean)
        assert int(attrs["pair_skew_max_ns"]) == (int(skew.max()) if n else 0)
    if "duration_s" in attrs and n:
        span = (int(ts[-1]) - int(ts[0])) / 1e9
        assert abs(float(attrs["duration_s"]) - (span + 1 / float(attrs["fps_nominal"]))) < 1e-6
        if n > 1:
            assert abs(float(attrs["fps_measured"]) - (n - 1) / span) < 1e-6 * max(1.0, (n - 1) / span)


def check_duration_slots(attrs, seconds, fps=30.0):
    """A complete take stopped by its duration of @seconds at @fps: its frames captured and the
    camera's skips counted (dropped_camera: between them, and those just before the frame that
    ended the take whose slots fall within it) cover the camera's slots of that duration exactly,
    however late the camera was. Returns the slots covered."""
    slots = round(seconds * fps)
    covered = int(attrs["frames_captured"]) + int(attrs["dropped_camera"])
    assert covered == slots, \
        (f"{covered} slots covered of {slots}", {k: int(v) for k, v in attrs.items() if k.startswith(("frames", "dropped"))})
    return covered

def check_take(path, hand=None, status="complete", reason=None, swmr=False, decode=True, stamps=True):
    """Open the take, check its layout and every frame; return (take attrs as dict, frame count,
    the frame numbers read back from the pixels)."""
    with handrec.open_take(path, swmr=swmr) as take:
        attrs = {k: take.attrs[k] for k in take.attrs}
        missing = REQUIRED_ATTRS - set(attrs)
        assert not missing, f"attributes missing: {missing}"
        assert text(attrs["format"]) == "handrec"
        assert int(attrs["format_version"]) == 1
        assert text(attrs["layout"]) == "side-by-side"
        assert text(attrs["clock"]) == "CLOCK_MONOTONIC"
        assert text(attrs["status"]) == status, f"status {text(attrs['status'])}"
        if hand:
            assert text(attrs["hand"]) == hand
        if reason:
            assert text(attrs["stop_reason"]) == reason, f"stop_reason {text(attrs['stop_reason'])}"
        if status == "complete":
            assert not (FINAL_ATTRS - set(attrs)), f"final attributes missing: {FINAL_ATTRS - set(attrs)}"
        n = len(take)
        off, size = take.column("offset"), take.column("size")
        ts = take.column("timestamp_ns")
        lts, rts = take.column("left_timestamp_ns"), take.column("right_timestamp_ns")
        assert len(off) == len(ts) == len(lts) == len(rts) == n
        if n:
            assert off[0] == 0
            assert np.all(off[1:] == off[:-1] + size[:-1]), "frames are not back to back"
            assert int(off[-1]) + int(size[-1]) <= len(take.file["stereo/jpeg"])
            assert np.all(np.diff(ts) > 0), "timestamps not strictly increasing"
        if status == "complete":
            assert int(attrs["frames"]) == n
        check_stored_figures(attrs, ts, lts, rts)
        width = int(attrs["eye_width"])
        numbers = []
        if decode:
            for i in range(n):
                jpeg = take.frame(i)
                assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9", f"frame {i} is not a whole JPEG"
                gray = handrec.decode_gray(jpeg)
                assert gray is not None, f"frame {i} does not decode"
                assert gray.shape == (int(attrs["eye_height"]), 2 * width)
                if stamps:
                    left = handrec.read_stamp(gray, width, 0)
                    right = handrec.read_stamp(gray, width, 1)
                    assert left is not None and left == right, f"frame {i}: stamps {left} / {right}"
                    numbers.append(left)
        if stamps and numbers:
            # in capture order, and every gap accounted for: a frame is missing only when a
            # counter says why (a loaded machine makes the synthetic camera skip, as a camera would)
            assert all(b > a for a, b in zip(numbers, numbers[1:])), f"frame numbers out of order: {numbers[:10]}"
            gaps = numbers[-1] - numbers[0] + 1 - len(numbers)
            counted = int(attrs.get("frames_dropped", 0)) + int(attrs.get("dropped_camera", 0))
            if status == "complete":
                assert gaps <= counted, \
                    f"{gaps} frames missing between the first and last but {counted} counted as dropped: " \
                    f"{numbers[:5]}...{numbers[-5:]}"
            elif "frames_dropped" not in attrs:
                pass  # a take cut short by a crash has no counters: order is what can be checked
            seq = take.column("left_sequence")
            assert list(seq) == numbers, "sequence numbers differ from the stamped numbers"
    if not swmr:
        h = subprocess.run(["h5dump", "-H", path], capture_output=True, text=True)
        assert h.returncode == 0, h.stderr
        assert '"/stereo/jpeg"' in h.stdout or "DATASET \"jpeg\"" in h.stdout
    return attrs, n, numbers
