"""Fixtures for the integration tests: a private dbus-daemon, a real handrecd on it (ready when it
says READY=1 over sd_notify, as systemd would wait for it), handrecctl, busctl and python-dbus as
clients, and h5py to read back every file.
"""
import calendar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
# HANDRECD_BIN: another build of the daemon (make check runs the suite once more with the ASan+UBSan one)
HANDRECD = os.environ.get("HANDRECD_BIN") or os.path.join(BUILD, "handrecd")
HANDRECCTL = os.path.join(BUILD, "handrecctl")
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.dirname(__file__))


def hand_conf(name, width=320, height=240, fps=30.0, warmup=0.2, extra=""):
    return textwrap.dedent(f"""\
        {name}_hand = {{
            camera = {{
                source = "synthetic";
                width = {width};
                height = {height};
                fps = {fps};
                warmup = {warmup};
                {extra}
            }};
        }};
        """)


def make_config(output_dir, hands=("right", "left"), quality=85, min_free_mb=1, queue="", top="", **camera):
    text = textwrap.dedent(f"""\
        save = {{
            output_dir = "{output_dir}";
            jpeg_quality = {quality};
            min_free_mb = {min_free_mb};
        }};
        {queue}
        {top}
        """)
    for h in hands:
        text += hand_conf(h, **camera)
    return text


class Bus:
    """A private session-type dbus-daemon."""

    def __init__(self, tmp):
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1", f"--address=unix:dir={tmp}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # (it warns it cannot raise its fd limit)
        self.address = self.proc.stdout.readline().strip()
        assert self.address.startswith("unix:"), "dbus-daemon did not start"
        self.env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=self.address)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def unit_environment():
    """The Environment= the shipped unit (systemd/handrecd.service.in) gives handrecd: the tests
    and the bench run it as systemd does (malloc's settings above all)."""
    env = {}
    with open(os.path.join(ROOT, "systemd", "handrecd.service.in")) as f:
        for line in f:
            if line.startswith("Environment="):
                k, v = line[len("Environment="):].strip().split("=", 1)
                env[k] = v
    return env


class Daemon:
    """handrecd --user on a private bus, in the unit's environment (unit_environment()); started
    with start(), which waits for READY=1."""

    def __init__(self, bus, tmp, config_text, env=None):
        self.bus = bus
        self.extra_env = env or {}
        self.tmp = tmp
        self.config = os.path.join(tmp, "handrecd.conf")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.log = os.path.join(tmp, "handrecd.log")
        self.proc = None
        self.notifications = []

    def start(self, timeout=20, extra_args=()):
        sock_path = os.path.join(self.tmp, "notify.sock")
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(sock_path)
        self.notify.settimeout(0.2)
        self.ready = threading.Event()
        # Read every notification as systemd does: sd_notify() blocks once the socket's queue
        # (net.unix.max_dgram_qlen, often 10) is full.
        threading.Thread(target=self._read_notifications, daemon=True).start()
        env = dict(self.bus.env, NOTIFY_SOCKET=sock_path, **{**unit_environment(), **self.extra_env})
        self.proc = subprocess.Popen([HANDRECD, "--user", "--config", self.config, *extra_args],
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.2):
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"handrecd exited with {self.proc.returncode}:\n{self.log_text()}")
        raise AssertionError(f"handrecd did not send READY=1 in {timeout}s:\n{self.log_text()}")

    def _read_notifications(self):
        while True:
            try:
                msg = self.notify.recv(4096).decode()
            except socket.timeout:
                if self.proc is not None and self.proc.poll() is not None:
                    return
                continue
            except OSError:
                return
            self.notifications.append(msg)
            if "READY=1" in msg.split("\n"):
                self.ready.set()

    def read_notifications(self):
        return list(self.notifications)

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


def pytest_configure(config):
    config.addinivalue_line("markers", "native_daemon: needs the plain build of handrecd (an LD_PRELOAD shim, "
                            "RSS figures); skipped by the run with the ASan+UBSan daemon")


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="handrec-it-") as d:
        yield d


@pytest.fixture
def bus(tmp):
    b = Bus(tmp)
    yield b
    b.stop()


@pytest.fixture
def outdir(tmp):
    d = os.path.join(tmp, "out")
    os.makedirs(d)
    return d


@pytest.fixture
def small_disk(tmp):
    """A 40 MB tmpfs (needs root), for the full-disk and space tests."""
    mnt = os.path.join(tmp, "small")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk tests (needs root): {r.stderr}")
    yield mnt
    subprocess.run(["umount", "-l", mnt])


@pytest.fixture
def daemon_factory(bus, tmp):
    started = []

    def make(config_text, start=True, env=None):
        d = Daemon(bus, tmp, config_text, env=env)
        started.append(d)
        return d.start() if start else d

    yield make
    for d in started:
        if d.proc and d.proc.poll() is None:
            d.stop(signal.SIGKILL)


@pytest.fixture
def daemon(daemon_factory, outdir):
    return daemon_factory(make_config(outdir))


@pytest.fixture
def ctl(bus):
    def run(*args, check=True, timeout=60):
        p = subprocess.run([HANDRECCTL, "--user", *args], env=bus.env, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"handrecctl {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p
    return run


@pytest.fixture
def busctl(bus):
    def run(*args, check=True):
        p = subprocess.run(["busctl", "--user", *args], env=bus.env, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"busctl {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p
    return run


def wait_until(predicate, timeout=60, what="the condition", interval=0.05):
    """Poll @predicate every @interval s until it returns something true, and return that; after
    @timeout s fail, saying what was awaited. For events and counts: never a fixed sleep."""
    end = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        if time.monotonic() >= end:
            raise AssertionError(f"waited {timeout} s for {what}, in vain")
        time.sleep(interval)


def hand_status(ctl, hand):
    """@hand's Status, from `handrecctl --json status`."""
    return next(h for h in json.loads(ctl("status", "--json").stdout)["hands"] if h["name"] == hand)


def wait_frames(ctl, hands=("left", "right"), n=10, timeout=60):
    """Until each of @hands has written @n frames of its take: a count, not a time."""
    end = time.monotonic() + timeout
    status = None
    while time.monotonic() < end:
        status = json.loads(ctl("status", "--json").stdout)["hands"]
        if all(h["state"] == "recording" and h["frames_written"] >= n for h in status if h["name"] in hands):
            return
        time.sleep(0.05)
    seen = {h["name"]: (h["state"], h["frames_written"]) for h in status or [] if h["name"] in hands}
    raise AssertionError(f"the takes did not get going: waited {timeout} s for {n} frames written by each of "
                         f"{hands}; (state, frames written): {seen}")


def wait_state(ctl, hand, state, timeout=60):
    """Until @hand's State is @state."""
    wait_until(lambda: hand_status(ctl, hand)["state"] == state, timeout, f"hand {hand} to be {state}")


def wait_past_the_second_of(path=None):
    """Take names are by the second (UTC, the daemon's time() when the take started): until the wall
    clock is past the second @path is named for (or, with no path, the current second), so that a
    take started now is named for a later second and sorts after it. 50 ms past: time() may lag
    the precise clock by a tick."""
    if path:
        stamp = re.search(r"(\d{8}-\d{6})[^/]*\.h5$", path).group(1)
        second = calendar.timegm(time.strptime(stamp, "%Y%m%d-%H%M%S"))
    else:
        second = int(time.time())
    wait_until(lambda: time.time() >= second + 1.05, 10, f"the wall clock to pass the second {second}",
               interval=0.01)


def notify_barrier(daemon, timeout=60):
    """Send a datagram of our own to @daemon's notify socket and wait until its reader has it: the
    socket is first in, first out, so every notification the daemon sent before this call is then in
    daemon.notifications. Returns the barrier's index there."""
    token = f"X_TEST_BARRIER={time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(token.encode(), os.path.join(daemon.tmp, "notify.sock"))
    return wait_until(lambda: next((i + 1 for i, m in enumerate(daemon.notifications) if m == token), None),
                      timeout, "our own datagram to come through the daemon's notify socket") - 1


class Lines:
    """The lines a child process prints on its stdout (a text pipe), collected by a thread as they
    come, so that a test can wait for one."""

    def __init__(self, proc):
        self.proc, self.lines = proc, []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def text(self):
        return "".join(self.lines)

    def wait_for(self, needle, timeout=60):
        """Until a line holding @needle came; returns all the text so far."""
        return wait_until(lambda: any(needle in line for line in list(self.lines)) and self.text(), timeout,
                          f"{needle!r} from {self.proc.args[0]}")

    def finish(self, timeout=60):
        """Wait for the process to end (the caller ended it or made it end) and return all its text."""
        self.proc.wait(timeout=timeout)
        self.thread.join(timeout)
        return self.text()
