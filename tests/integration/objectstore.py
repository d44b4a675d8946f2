"""Real object-store servers for the upload tests (issue 11, handrec-offload): s3rver, an S3 server
installed from the npm registry into $BUILD/node by scripts/install-deps.sh, and rclone's own
`serve webdav` of a local folder. The real rclone talks to them; nothing here imitates rclone.

    from objectstore import s3server, webdav, rclone     # fixtures and the rclone runner

    def test_x(s3server, tmp):
        conf = s3server.write_rclone_conf(os.path.join(tmp, "rclone.conf"))
        rclone(conf, "copyto", local, s3server.remote("right/a.h5"))
        assert s3server.object_bytes("right/a.h5") == open(local, "rb").read()

What the servers do that real ones would not (docs/testing.md): s3rver checks only the access key id of a V4-signed request, never the secret, so a
refused login is a wrong access key id (S3Server.rclone_conf(access_key=...)); a single PUT that
rclone abandons (killed) leaves a truncated object that lists with its short size, where S3 would
store nothing. Its ETag for a multipart object is the plain md5 (S3's ends in "-N"); rclone's md5
comes from the metadata rclone stores itself (x-amz-meta-md5chksum) either way.

rclone's s3 backend fails before any request when AWS_CA_BUNDLE is set ("LoadCustomCABundleError"),
as it is on some machines: rclone_env() is the environment without it, for rclone and for any
program that runs rclone (handrec-offload).
"""
import ctypes
import glob
import json
import os
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD", "build")
if not os.path.isabs(BUILD):
    BUILD = os.path.join(ROOT, BUILD)
S3RVER = os.path.join(BUILD, "node", "node_modules", ".bin", "s3rver")
RCLONE = os.environ.get("RCLONE", "rclone")

# s3rver's files for object KEY in bucket BUCKET: DIR/BUCKET/KEY + one of these
OBJECT_SUFFIX = "._S3rver_object"
METADATA_SUFFIX = "._S3rver_metadata.json"
UPLOADS_DIR = "._S3rver_uploads"  # DIR/BUCKET/._S3rver_uploads/<upload id>/<part>: multipart uploads not completed


def rclone_env(base=None):
    """The environment for rclone: base (os.environ) without AWS_CA_BUNDLE and rclone's own
    RCLONE_* settings, so only the config file given decides."""
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k == "AWS_CA_BUNDLE" or k.startswith("RCLONE_"):
            del env[k]
    return env


def rclone(conf, *args, check=False, timeout=120, **kw):
    """Runs `rclone --config CONF ARGS...` and returns the CompletedProcess (text)."""
    p = subprocess.run([RCLONE, "--config", conf, *args], env=rclone_env(), capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"rclone {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def obscure(password):
    """rclone's obscured form of a password, as rclone.conf wants it."""
    return subprocess.run([RCLONE, "obscure", password], env=rclone_env(), capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _die_with_parent():
    # the server goes when the test run goes, even if pytest itself is killed
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # it stands for a machine elsewhere: on a board its CPU is not there to compete with handrecd
    os.nice(19)


class _Server:
    """A server process on 127.0.0.1:port, logging into a file; start() returns once the port
    accepts connections, stop() ends it, start() again brings it back on the same port."""

    name = "server"

    def __init__(self, tmp, port=None):
        self.tmp = tmp
        self.port = port or free_port()
        self.log = os.path.join(tmp, f"{self.name}-{self.port}.log")
        self.proc = None

    def command(self):
        raise NotImplementedError

    def start(self, timeout=120):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} already running"
        self.proc = subprocess.Popen(self.command(), stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=rclone_env(), preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"{self.name} did not listen on port {self.port} in {timeout}s:\n{self.log_text()}")

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Ends the server (SIGTERM, then SIGKILL if it lingers); its port refuses connections after."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        return self

    def restart(self):
        return self.stop().start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def write_rclone_conf(self, path, **kw):
        """Writes rclone_conf(**kw) to path (mode 0600, as rclone leaves its own) and returns path."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.rclone_conf(**kw))
        return path


class S3Server(_Server):
    """s3rver serving folder tmp/s3rver (kept across stop/start) with one bucket, created at start.
    The rclone remote is `s3test` (rclone_conf()), the takes' place remote(key): `s3test:BUCKET/KEY`."""

    name = "s3rver"
    REMOTE = "s3test"
    ACCESS_KEY = SECRET = "S3RVER"  # s3rver's only account

    def __init__(self, tmp, bucket="takes", port=None):
        super().__init__(tmp, port)
        if not os.access(S3RVER, os.X_OK):
            pytest.fail(f"{S3RVER} is missing: `sh scripts/install-deps.sh all` (make check does) installs s3rver there")
        self.bucket = bucket
        self.folder = os.path.join(tmp, "s3rver")
        os.makedirs(self.folder, exist_ok=True)

    def command(self):
        return [S3RVER, "--directory", self.folder, "--address", "127.0.0.1", "--port", str(self.port),
                "--configure-bucket", self.bucket]

    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def rclone_conf(self, name=REMOTE, access_key=ACCESS_KEY, secret=SECRET, extra=""):
        """The rclone.conf text of the remote: access_key other than S3RVER is refused (403)."""
        return (f"[{name}]\ntype = s3\nprovider = Other\nenv_auth = false\n"
                f"access_key_id = {access_key}\nsecret_access_key = {secret}\n"
                f"endpoint = {self.endpoint()}\nforce_path_style = true\n{extra}")

    def remote(self, key="", name=REMOTE):
        return f"{name}:{self.bucket}/{key}" if key else f"{name}:{self.bucket}"

    def object_path(self, key):
        """The file holding object KEY's bytes, as uploaded (it need not exist)."""
        return os.path.join(self.folder, self.bucket, key) + OBJECT_SUFFIX

    def object_bytes(self, key):
        """Object KEY's bytes as stored on the server's disk; FileNotFoundError when there is none."""
        with open(self.object_path(key), "rb") as f:
            return f.read()

    def object_metadata(self, key):
        """Object KEY's stored headers (content-type, x-amz-meta-*), {} when s3rver wrote none."""
        try:
            with open(os.path.join(self.folder, self.bucket, key) + METADATA_SUFFIX) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def keys(self):
        """Every object key in the bucket, sorted ("right/a.h5"), multipart uploads in progress not included."""
        top = os.path.join(self.folder, self.bucket)
        found = []
        for d, dirs, files in os.walk(top):
            dirs[:] = [x for x in dirs if x != UPLOADS_DIR]
            found += [os.path.relpath(os.path.join(d, f), top)[:-len(OBJECT_SUFFIX)]
                      for f in files if f.endswith(OBJECT_SUFFIX)]
        return sorted(found)

    def unfinished_uploads(self):
        """Upload ids of multipart uploads begun and never completed (what a killed rclone leaves)."""
        return sorted(os.path.basename(p) for p in glob.glob(os.path.join(self.folder, self.bucket, UPLOADS_DIR, "*")))


class WebdavServer(_Server):
    """`rclone serve webdav` of folder tmp/webdav (kept across stop/start), user and password
    required. The rclone remote is `davtest`; WebDAV gives no hashes (lsjson --hash has none), so a
    copy is verified with `rclone check --download`."""

    name = "webdav"
    REMOTE = "davtest"

    def __init__(self, tmp, user="handrec", password="offload-test", port=None):
        super().__init__(tmp, port)
        self.user, self.password = user, password
        self.folder = os.path.join(tmp, "webdav")
        os.makedirs(self.folder, exist_ok=True)

    def command(self):
        return [RCLONE, "serve", "webdav", self.folder, "--addr", f"127.0.0.1:{self.port}",
                "--user", self.user, "--pass", self.password, "--config", os.devnull]

    def rclone_conf(self, name=REMOTE, user=None, password=None):
        return (f"[{name}]\ntype = webdav\nurl = http://127.0.0.1:{self.port}/\nvendor = other\n"
                f"user = {user or self.user}\npass = {obscure(password or self.password)}\n")

    def remote(self, path="", name=REMOTE):
        return f"{name}:{path}"

    def file_path(self, path):
        return os.path.join(self.folder, path)

    def file_bytes(self, path):
        with open(self.file_path(path), "rb") as f:
            return f.read()

    def keys(self):
        found = []
        for d, _, files in os.walk(self.folder):
            found += [os.path.relpath(os.path.join(d, f), self.folder) for f in files]
        return sorted(found)


@pytest.fixture
def s3server(tmp):
    s = S3Server(tmp)
    try:
        yield s.start()
    finally:
        s.stop(signal.SIGKILL)


@pytest.fixture
def webdav(tmp):
    s = WebdavServer(tmp)
    try:
        yield s.start()
    finally:
        s.stop(signal.SIGKILL)
