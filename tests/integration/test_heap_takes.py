"""The daemon keeps nothing per take (issue 23): malloc's bytes in use with both hands idle (in
its arenas and in blocks mapped on their own: a buffer over malloc's mmap threshold kept per take
shows only in the second), asked of the daemon itself through an LD_PRELOAD probe
(tests/alloc/heap-probe.c), after each of TAKES takes on both hands. A count of bytes, not resident pages and not a time.

HDF5 before 1.14.4 keeps a datatype conversion path for each file a variable-length string
attribute was written to or read from (HDFGroup/hdf5#1256), until the library closes; the daemon
closes HDF5 whenever no hand records (layout_library_release()). Measured on the 2-core
development machine, in use after take 5 → after take 25 (20 takes, 40 files):

  before (the library never closed):          +78,080 bytes, in steps of 1,872 (one path a file)
  closed when no hand records:                -32 bytes

malloc's per-thread caches (tcache) are off, as the shipped unit has them (GLIBC_TUNABLES, which
conftest gives every daemon it starts): with them on, what they hold counts as in use, never
trimmed, +81,408 bytes over the same 20 takes with the change (+179,072 without), and the daemon's
resident memory grew about 7 kB a take (tests/bench's 2 s takes, both hands: +196 kB over 28
takes; +16 kB over 30 with them off).
"""
import os

import pytest

from conftest import BUILD, make_config, wait_frames, wait_state, wait_until

# an LD_PRELOAD shim and malloc's own figures: not run again with the ASan daemon (run-all.sh)
pytestmark = pytest.mark.native_daemon

PROBE = os.path.join(BUILD, "heap-probe.so")
TAKES = 25
WARM = 5  # the first takes set up what lives on (the pipelines' buffers, sd-bus's, the logs')
GROWTH_BOUND = 16 * 1024


class HeapProbe:
    """Asks the daemon's probe thread for malloc's bytes in use, and waits for its answer."""

    def __init__(self, tmp):
        self.fifo = os.path.join(tmp, "heap-probe.fifo")
        self.out = os.path.join(tmp, "heap-probe.txt")
        os.mkfifo(self.fifo)
        self.env = {"LD_PRELOAD": PROBE, "HEAP_PROBE_FIFO": self.fifo, "HEAP_PROBE_FILE": self.out}

    def lines(self):
        return open(self.out).read().splitlines() if os.path.exists(self.out) else []

    def in_use(self):
        n = len(self.lines())
        fd = wait_until(lambda: self._open(), 30, "the probe thread to open its FIFO")
        os.write(fd, b"?")
        os.close(fd)
        lines = wait_until(lambda: len(self.lines()) > n and self.lines(), 30, "the probe's answer")
        used, mapped = (int(x) for x in lines[n].split())
        return used, mapped

    def _open(self):
        try:
            return os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: nobody reads it yet
            return None


def test_heap_in_use_does_not_grow_with_takes(daemon_factory, ctl, outdir, tmp):
    probe = HeapProbe(tmp)
    daemon_factory(make_config(outdir), env=probe.env)
    used = []
    for k in range(TAKES):
        ctl("start", "--hand", "all")
        wait_frames(ctl, n=3)
        ctl("stop", "--hand", "all")
        for hand in ("left", "right"):
            wait_state(ctl, hand, "idle")
        used.append(probe.in_use())
    print("\nmalloc in use after each take (bytes, in arenas / mapped):", used)
    total = [arenas + mapped for arenas, mapped in used]
    growth = total[-1] - total[WARM - 1]
    print(f"in use after take {WARM} -> after take {TAKES}: {growth:+,} bytes")
    assert growth < GROWTH_BOUND, (
        f"malloc's bytes in use grew {growth:+,} from take {WARM} to take {TAKES} with both hands idle "
        f"(bound {GROWTH_BOUND:,}): the daemon keeps something per take; {used}")
