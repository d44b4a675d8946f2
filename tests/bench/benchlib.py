"""make bench: what every measurement script shares. Where things go, how many frames, how a
process's CPU time and memory are read, how a handrecd on a private bus is run on the replay
source, and how a figure is handed to the summary (one JSON file per measurement).

Layout under the build tree ($BUILD/bench/, or BENCH_DIR):
  inputs/          the frames and the calibration (inputs.py; cached, remade when its version changes)
  results/*.json   one file per measurement; summary.py reads them all
  work/            takes and replay folders while a measurement runs (removed after; the
                   private bus's and the daemon's sockets go under /tmp, where paths are short)

Settings (environment): BENCH_QUICK=1 (few frames, short realtime runs: checks the bench runs end
to end in a couple of minutes), BENCH_FRAMES (frames per max-rate measurement, default 300, quick
20), BENCH_SECONDS (the realtime run, default 60, quick 5), BENCH_SOAK (seconds, default 120, quick 0:
the realtime run lasts the longer of the two, and from 2 minutes on reports the RSS growth from
minute 1 to its end; BENCH_SOAK=3600 for the hour), BENCH_CALLGRIND_FRAMES (default 10, quick 2),
BENCH_QUALITY (default 85).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import conftest  # noqa: E402  (Bus, Daemon, BUILD, HANDRECD, HANDRECCTL)

BUILD = conftest.BUILD
BENCH = os.environ.get("BENCH_DIR") or os.path.join(BUILD, "bench")
INPUTS = os.path.join(BENCH, "inputs")
RESULTS = os.path.join(BENCH, "results")
WORK = os.path.join(BENCH, "work")

QUICK = os.environ.get("BENCH_QUICK", "0") not in ("", "0")
FRAMES = int(os.environ.get("BENCH_FRAMES", 20 if QUICK else 300))
SECONDS = float(os.environ.get("BENCH_SECONDS", 5 if QUICK else 60))
SOAK = float(os.environ.get("BENCH_SOAK", 0 if QUICK else 120))
CALLGRIND_FRAMES = int(os.environ.get("BENCH_CALLGRIND_FRAMES", 2 if QUICK else 10))
QUALITY = int(os.environ.get("BENCH_QUALITY", 85))
EYE_W, EYE_H = 1280, 720
HZ = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1


def inputs():
    """The manifest inputs.py wrote: frames (paths), calibration (path), sizes."""
    path = os.path.join(INPUTS, "inputs.json")
    if not os.path.exists(path):
        sys.exit(f"bench: no inputs in {INPUTS}; run tests/bench/inputs.py first")
    with open(path) as f:
        return json.load(f)


def frame_sequence(manifest, n=FRAMES):
    """The n frames every measurement feeds, in order: the distinct frames over and over."""
    files = manifest["frames"]
    return [files[i % len(files)] for i in range(n)]


def write_result(name, **figures):
    os.makedirs(RESULTS, exist_ok=True)
    figures.setdefault("quick", QUICK)
    with open(os.path.join(RESULTS, f"{name}.json"), "w") as f:
        json.dump(figures, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"  -> {os.path.relpath(os.path.join(RESULTS, name + '.json'), ROOT)}: "
          + ", ".join(f"{k}={v}" for k, v in sorted(figures.items()) if not isinstance(v, (dict, list))))


def proc_kb(path, key):
    """A "Key: N kB" figure of a /proc file (/proc/meminfo, /proc/<pid>/status), or None when the
    file is gone (the process ended) or has no such key."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


def proc_status_kb(pid, key):
    """A /proc/<pid>/status figure in kB (VmRSS, VmHWM), or None once the process is gone."""
    return proc_kb(f"/proc/{pid}/status", key)


def cpu_seconds(pid):
    """User + system CPU time of every thread of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def replay_folder(parent, files):
    """A folder the replay source plays in name order: one symbolic link per frame."""
    folder = os.path.join(parent, "replay")
    os.makedirs(folder)
    for i, src in enumerate(files):
        os.symlink(src, os.path.join(folder, f"frame{i:06d}.jpg"))
    return folder


def hand_config(hand, folder, rate, loop, calibration=None, rectify=True, fmt=None):
    cal = f'calibration = ["{calibration}"];' if calibration else ""
    fmt_line = f'format = "{fmt}";' if fmt else ""
    return textwrap.dedent(f"""\
        {hand}_hand = {{
            rectify = {"true" if rectify else "false"};
            {cal}
            camera = {{ source = "replay"; path = "{folder}"; rate = "{rate}"; loop = {"true" if loop else "false"};
                        width = {EYE_W}; height = {EYE_H}; fps = 30.0; warmup = 0.0; {fmt_line} }};
        }};
        """)


def daemon_config(out, hands_text, workers=None):
    top = f"workers = {workers};\n" if workers else ""
    return (f'save = {{ output_dir = "{out}"; jpeg_quality = {QUALITY}; min_free_mb = 1; }};\n' + top +
            "".join(hands_text))


def check_config(config_path):
    """handrecd --check-config: (ok, the memory the daemon computes for the configuration in MB or
    None when it does not print it, its output)."""
    p = subprocess.run([conftest.HANDRECD, "--check-config", "--config", config_path], capture_output=True,
                       text=True)
    m = re.search(r"needs at most (\d+) of save\.max_memory_mb", p.stdout)
    return p.returncode == 0, (int(m.group(1)) if m else None), (p.stdout + p.stderr).strip()


class Run:
    """A private dbus-daemon and handrecd, with a config; ctl() runs handrecctl on that bus. The
    takes and the replay folder go under $BUILD/bench/work (a real disk, as a take's fdatasync
    needs); the sockets, the config and the log under /tmp (a socket's path is short). Use as a
    context manager; config_for_dir(work folder, output folder) returns the config text."""

    def __init__(self, config_for_dir):
        os.makedirs(WORK, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="run-", dir=WORK)
        self.tmp = tempfile.mkdtemp(prefix="handrec-bench-")
        self.out = os.path.join(self.work, "out")
        os.makedirs(self.out)
        self.config_text = config_for_dir(self.work, self.out)
        self.bus = self.daemon = None

    def __enter__(self):
        self.bus = conftest.Bus(self.tmp)
        self.daemon = conftest.Daemon(self.bus, self.tmp, self.config_text)
        return self

    def start(self):
        self.daemon.start(timeout=120)
        self.pid = self.daemon.proc.pid
        return self

    def ctl(self, *args, timeout=None):
        return subprocess.run([conftest.HANDRECCTL, "--user", *args], env=self.bus.env, capture_output=True,
                              text=True, check=True, timeout=timeout).stdout

    def wait_idle(self, hands, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all("idle" in self.ctl("status", "--hand", h) for h in hands):
                return
            time.sleep(0.2)
        raise RuntimeError(f"the takes of {hands} did not end within {timeout:.0f} s")

    def __exit__(self, *exc):
        if self.daemon and self.daemon.proc:
            self.daemon.stop()
        if self.bus:
            self.bus.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)


def take_attrs(path):
    import h5py
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def floor_run(frames=FRAMES):
    """build/bench-floor once over the bench's frames: its figures (cpu_ms_per_frame, ...), or
    {"error": ...}."""
    m = inputs()
    p = subprocess.run([os.path.join(BUILD, "bench-floor"), str(QUALITY), str(frames), *m["frames"]],
                       capture_output=True, text=True)
    if p.returncode != 0:
        return dict(error=f"bench-floor exited {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def frames_written(run, hand):
    m = re.search(r"written:(\d+)", run.ctl("status", "--hand", hand))
    return int(m.group(1)) if m else 0


def realtime_take(seconds, rectify=True, fmt="MJPEG", workers=None):
    """One hand plays the bench's frames in a loop at 30 fps in real time, as a camera delivers,
    for @seconds (the take's duration). Returns the daemon's CPU time per frame over the take (its
    idle work included), its peak RSS (VmHWM), the computed memory and the take's figures."""
    m = inputs()

    def config(tmp, out):
        hand = hand_config("right", replay_folder(tmp, m["frames"]), "realtime", True,
                           m["calibration"] if rectify else None, rectify, fmt)
        return daemon_config(out, [hand], workers)

    with Run(config) as run:
        ok, budget_mb, said = check_config(run.daemon.config)
        if not ok:
            return dict(error=f"handrecd --check-config refused the configuration: {said}")
        run.start()
        cpu0 = cpu_seconds(run.pid)
        path = run.ctl("start", "--hand", "right", "--duration", str(seconds)).strip()
        time.sleep(seconds)
        run.wait_idle(("right",), timeout=60)
        cpu1 = cpu_seconds(run.pid)
        hwm = proc_status_kb(run.pid, "VmHWM")
        attrs = take_attrs(path)
    frames = int(attrs.get("frames", 0))
    return dict(frames=frames, frames_dropped=int(attrs.get("frames_dropped", 0)), seconds=seconds,
                jpeg_origin=attrs.get("jpeg_origin"), rectified=int(attrs.get("rectified", 0)), workers=workers,
                cpu_ms_per_frame=round((cpu1 - cpu0) * 1000 / max(frames, 1), 3), peak_rss_kb=hwm,
                budget_mb=budget_mb)


def max_rate_take(workers=None, rectify=True, fmt="MJPEG", frames=FRAMES):
    """One hand plays the bench's distinct frames in a loop as fast as the pipeline takes them
    (replay, rate "max") until @frames are written, then the take is stopped (StopRecording returns
    once the file is complete). Returns the daemon's CPU time per frame in the file over the take
    (every thread, /proc/<pid>/stat), its peak RSS (VmHWM) over its whole life, the memory
    handrecd --check-config computes for the configuration, and the take file's attributes.
    A loop over the few distinct frames, not a folder of FRAMES links: the replay source reads
    every image of its folder once when a take starts, which a camera does not."""
    m = inputs()

    def config(tmp, out):
        folder = replay_folder(tmp, m["frames"])
        hand = hand_config("right", folder, "max", True, m["calibration"] if rectify else None, rectify, fmt)
        return daemon_config(out, [hand], workers)

    with Run(config) as run:
        ok, budget_mb, said = check_config(run.daemon.config)
        if not ok:
            return dict(error=f"handrecd --check-config refused the configuration: {said}")
        run.start()
        cpu0 = cpu_seconds(run.pid)
        path = run.ctl("start", "--hand", "right").strip()
        deadline = time.monotonic() + 60 + frames
        while frames_written(run, "right") < frames and time.monotonic() < deadline:
            time.sleep(0.1)
        run.ctl("stop", "--hand", "right", timeout=120)
        cpu1 = cpu_seconds(run.pid)
        hwm = proc_status_kb(run.pid, "VmHWM")
        attrs = take_attrs(path)
    frames = int(attrs.get("frames", 0))  # a few more than asked: the take is stopped after
    return dict(frames=frames, frames_dropped=int(attrs.get("frames_dropped", 0)),
                stop_reason=attrs.get("stop_reason"), jpeg_origin=attrs.get("jpeg_origin"),
                rectified=int(attrs.get("rectified", 0)), workers=workers,
                cpu_ms_per_frame=round((cpu1 - cpu0) * 1000 / max(frames, 1), 3), peak_rss_kb=hwm,
                budget_mb=budget_mb)
