"""The daemon's memory does not grow with the length of a take (issue 13).

A 10-minute take at 2×1280×720 grew the daemon's RSS by about 58 bytes a frame, the size of one
frame's index entries. The cause was HDF5's raw-data chunk caches: H5Fstart_swmr_write() reopens
every open dataset with the file's default access properties (HDF5 before 1.14, HDFGroup/hdf5#1730),
so the small caches writer.c asked for became the default 1 MiB each, and each of the 7 index
datasets kept every chunk it wrote until its 1 MiB was full: 7 MiB, reached after 131,072 frames
(73 minutes at 30 fps). layout.c now turns the chunk cache off for the whole file and holds HDF5's
metadata cache at a fixed size, now 16 KiB, with HDF5's free lists bounded (issue 23;
tests/unit/test-writer.c checks the caches on an open writer).

Here a long take is recorded fast: a replay of small images (64×64 eyes) at rate "max", looping,
until TAKE_FRAMES frames are written, with the daemon's RSS sampled against the frames written.
The growth between 25 % and 100 % of the take (50,000 → 200,000 frames) must stay under
GROWTH_BOUND_KB. Measured on the 2-core development machine:

  old code (chunk caches reset to 1 MiB by SWMR):     +4,556 kB (about 30 bytes a frame)
  new code (no chunk cache, fixed metadata cache):    +76 kB and +80 kB (two runs)
  issue 23 (16 KiB metadata cache, free lists bounded, the working sets resident at once): +52 kB

RSS growth is a count, not a time; how long the take takes is never asserted (about 20–40 s).
"""
import os
import re
import textwrap
import time

import pytest

from takecheck import check_take

# the RSS of the plain build: the ASan daemon's allocator holds freed memory in quarantine
pytestmark = pytest.mark.native_daemon

TAKE_FRAMES = 200_000
EARLY = TAKE_FRAMES // 4
GROWTH_BOUND_KB = 512
WRITTEN_RE = re.compile(r"written:(\d+)")


def small_images(folder, pairs=4):
    """A few small left/right JPEG pairs (64×64) for the replay to loop over."""
    import cv2
    import numpy as np

    os.makedirs(folder)
    rng = np.random.default_rng(13)
    for i in range(pairs):
        for eye in ("left", "right"):
            img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            ok, jpeg = cv2.imencode(".jpg", img)
            assert ok
            with open(os.path.join(folder, f"{i:02d}_{eye}.jpg"), "wb") as f:
                f.write(jpeg.tobytes())


def written(ctl):
    m = WRITTEN_RE.search(ctl("status").stdout)
    return int(m.group(1)) if m else 0


def test_rss_does_not_grow_with_the_take(daemon_factory, ctl, outdir, tmp):
    folder = os.path.join(tmp, "images")
    small_images(folder)
    conf = textwrap.dedent(f"""\
        save = {{ output_dir = "{outdir}"; min_free_mb = 1; }};
        right_hand = {{
            camera = {{ source = "replay"; path = "{folder}"; rate = "max"; loop = true;
                        width = 64; height = 64; fps = 30.0; warmup = 0.0; }};
        }};
        """)
    d = daemon_factory(conf)
    path = ctl("start", "--hand", "right").stdout.strip()
    samples = []  # (frames written, RSS kB), during the take
    while True:
        n, rss = written(ctl), d.rss_kb()
        samples.append((n, rss))
        if n >= TAKE_FRAMES:
            break
        assert d.proc.poll() is None, d.log_text()
        time.sleep(0.25)
    ctl("stop", "--hand", "right")
    early = next(rss for n, rss in samples if n >= EARLY)
    late = samples[-1][1]
    trace = ", ".join(f"{n}:{rss}" for n, rss in samples[::max(1, len(samples) // 12)])
    print(f"\nRSS at {EARLY} frames {early} kB, at {samples[-1][0]} frames {late} kB: "
          f"{late - early:+d} kB (frames:kB {trace})")
    assert late - early < GROWTH_BOUND_KB, \
        f"RSS grew by {late - early} kB between {EARLY} and {samples[-1][0]} frames ({trace})"
    _, frames, _ = check_take(path, reason="requested", decode=False, stamps=False)
    assert frames >= TAKE_FRAMES
