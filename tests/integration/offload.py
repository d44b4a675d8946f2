"""handrec-offload in the tests: started on the private bus beside handrecd --user, ready when it
says READY=1 over sd_notify (as systemd waits for it), and read back through its own D-Bus API and
its state files. rclone runs for real; the remotes are real servers (objectstore.py) or a folder."""
import os
import signal
import socket
import subprocess
import threading
import time

import dbus

from conftest import BUILD

# HANDREC_OFFLOAD_BIN: another build (make check's run against the ASan+UBSan programs)
OFFLOAD = os.environ.get("HANDREC_OFFLOAD_BIN") or os.path.join(BUILD, "handrec-offload")


def offload_conf(remote, rclone_config, state_dir, **settings):
    """The offload group; settings as given (strings quoted, numbers as they are)."""
    lines = [f'remote = "{remote}";', f'rclone_config = "{rclone_config}";', f'state_dir = "{state_dir}";']
    settings.setdefault("retry_seconds", 0.5)
    settings.setdefault("retry_max_seconds", 2.0)
    for k, v in settings.items():
        lines.append(f'{k} = "{v}";' if isinstance(v, str) else f"{k} = {float(v)};")
    return "offload = {\n    " + "\n    ".join(lines) + "\n};\n"


def rclone_env(env):
    # A machine-wide AWS_CA_BUNDLE breaks rclone's S3 backend even over http (tests/integration/objectstore.py)
    env = dict(env)
    env.pop("AWS_CA_BUNDLE", None)
    return env


class Offload:
    def __init__(self, bus, tmp, config_path):
        self.bus, self.tmp, self.config = bus, tmp, config_path
        self.log = os.path.join(tmp, "offload.log")
        self.proc = None
        self.ready = threading.Event()

    def start(self, timeout=60):
        sock_path = os.path.join(self.tmp, "offload-notify.sock")
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(0.2)
        self.ready.clear()
        self.notifications = []
        # the minute's scan out of the way: what the tests see comes from handrecd's signals
        env = rclone_env(dict(self.bus.env, NOTIFY_SOCKET=sock_path, HANDREC_OFFLOAD_SCAN_SECONDS="3600"))
        self.proc = subprocess.Popen([OFFLOAD, "--user", "--config", self.config],
                                     stdout=open(self.log, "a"), stderr=subprocess.STDOUT, env=env)
        proc = self.proc

        def read():
            while proc.poll() is None:
                try:
                    msg = sock.recv(4096).decode()
                except socket.timeout:
                    continue
                self.notifications.append(msg)
                if "READY=1" in msg.split("\n"):
                    self.ready.set()
            sock.close()
        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.2):
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"handrec-offload exited with {self.proc.returncode}:\n{self.log_text()}")
        raise AssertionError(f"handrec-offload did not send READY=1 in {timeout}s:\n{self.log_text()}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode if self.proc else None

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def _iface(self):
        b = dbus.bus.BusConnection(self.bus.address)
        return b, dbus.Interface(b.get_object("org.handrec1.Offload", "/org/handrec1/offload"),
                                 "org.handrec1.Offload")

    def status(self):
        b, i = self._iface()
        try:
            return {str(k): v for k, v in i.Status().items()}
        finally:
            b.close()

    def uploads(self):
        b, i = self._iface()
        try:
            return {str(p): {str(k): v for k, v in d.items()} for p, d in i.ListUploads()}
        finally:
            b.close()

    def retry(self):
        b, i = self._iface()
        try:
            i.Retry()
        finally:
            b.close()

    def rclone_pids(self):
        """The rclone children running now."""
        pids = []
        for tid in os.listdir(f"/proc/{self.proc.pid}/task"):
            with open(f"/proc/{self.proc.pid}/task/{tid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        return pids

    # rclone runs at nice 19 and I/O class idle: a loaded machine leaves it little, so the bounds
    # below are generous (they only bound a hang)
    def wait_for(self, predicate, timeout=240, what="the offload"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"handrec-offload exited with {self.proc.returncode}:\n{self.log_text()}")
            last = self.uploads()
            if predicate(last):
                return last
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; uploads: {last}\nstatus: {self.status()}\n"
                             f"log:\n{self.log_text()}")

    def wait_uploading(self, path, timeout=240):
        """Until the copy of @path has moved some bytes; its Status then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st["Current"] == path and st["State"] == "uploading" and st["CurrentDone"] > 0:
                return st
            time.sleep(0.05)
        raise AssertionError(f"the upload of {path} did not start: {self.status()}\n{self.log_text()}")

    def wait_verified(self, paths, timeout=240):
        return self.wait_for(lambda u: all(u.get(p, {}).get("state") == "uploaded-verified" for p in paths),
                             timeout, f"{paths} to be uploaded and verified")


def read_state(state_dir, path):
    hand, name = path.split("/")[-2:]
    with open(os.path.join(state_dir, hand, name + ".state")) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f)
