"""handrecctl preview and snapshot (issue 10), read by clients nobody here wrote: headless
Chromium loads the page and its screenshot shows the streams' pixels where the <img>s are;
Python's urllib (the multipart parsed here) and ffmpeg read /stream; OpenCV decodes every JPEG.

Each test runs against two sources of previews, the fixture `source`:
  - "fake": tests/integration/fake_preview.py, a stand-in that answers OpenPreview with frames in
    the wire format of lib/preview-protocol.h (always runs);
  - "daemon": the real handrecd on its synthetic camera; skipped, saying so, while the build's
    handrecd has no OpenPreview (the daemon side of issue 10 lands separately).
Timing is never asserted: waits have generous deadlines that only turn a hang into a failure.
"""
import os
import re
import select
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest

from conftest import BUILD, HANDRECCTL, make_config

# HANDRECCTL_BIN: another build of handrecctl for the preview's own processes (a ThreadSanitizer one, say)
HANDRECCTL = os.environ.get("HANDRECCTL_BIN") or HANDRECCTL

HERE = os.path.dirname(os.path.abspath(__file__))
EYE_W, EYE_H = 320, 240  # the fake's eyes and the synthetic camera's in make_config()
FRAME_W, FRAME_H = 2 * EYE_W, EYE_H
SHOTS = os.path.join(BUILD, "preview-tests")  # screenshots kept for docs/preview.png


class Source:
    """Where previews come from: the fake service or handrecd, on the private bus."""

    def __init__(self, kind, bus, proc=None, daemon=None):
        self.kind, self.bus, self.proc, self.daemon = kind, bus, proc, daemon

    def end_previews(self):
        """Make the daemon end every preview (EOF): the fake on SIGUSR1, handrecd by quitting."""
        if self.kind == "fake":
            self.proc.send_signal(signal.SIGUSR1)
        else:
            self.daemon.stop()


def start_fake(bus, tmp, hands=("right", "left"), no_device=()):
    args = ["/usr/bin/python3", os.path.join(HERE, "fake_preview.py"), "--address", bus.address, "--eye", f"{EYE_W}x{EYE_H}"]
    for h in hands:
        args += ["--hand", h]
    for h in no_device:
        args += ["--no-device", h]
    log = open(os.path.join(tmp, "fake_preview.log"), "w")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready and proc.stdout.readline().strip() == "READY", "fake_preview.py did not start"
    return proc


def daemon_has_preview(busctl):
    p = busctl("introspect", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", check=False)
    return "OpenPreview" in p.stdout


@pytest.fixture(params=["fake", "daemon"])
def source(request, bus, tmp, daemon_factory, outdir, busctl):
    if request.param == "fake":
        proc = start_fake(bus, tmp)
        yield Source("fake", bus, proc=proc)
        proc.terminate()
        proc.wait(timeout=10)
        return
    d = daemon_factory(make_config(outdir, width=EYE_W, height=EYE_H))
    if not daemon_has_preview(busctl):
        pytest.skip("this build's handrecd has no OpenPreview yet (the daemon side of issue 10): "
                    "tested against the stand-in fake_preview.py only")
    yield Source("daemon", bus, daemon=d)


@pytest.fixture
def no_device_source(bus, tmp, daemon_factory, outdir, busctl, request):
    """A source whose hand "left" has no camera connected; param "fake" or "daemon"."""
    kind = request.param
    if kind == "fake":
        proc = start_fake(bus, tmp, no_device=("left",))
        yield Source("fake", bus, proc=proc)
        proc.terminate()
        proc.wait(timeout=10)
        return
    conf = make_config(outdir, hands=("right",), width=EYE_W, height=EYE_H) + (
        'left_hand = { camera = { source = "v4l2"; device = "/dev/v4l/by-id/handrec-test-absent"; '
        f'width = {EYE_W * 2}; height = {EYE_H}; fps = 30.0; }}; }};\n')
    d = daemon_factory(conf)
    if not daemon_has_preview(busctl):
        pytest.skip("this build's handrecd has no OpenPreview yet: tested against the stand-in only")
    yield Source("daemon", bus, daemon=d)


class Preview:
    """`handrecctl --user preview ... --listen 127.0.0.1:0`, its URL read from its first line: url the
    server's root, page_url the URL printed (with its token), token the token every request needs."""

    def __init__(self, bus, tmp, *args):
        self.err_path = os.path.join(tmp, f"preview-{time.monotonic_ns()}.err")
        self.proc = subprocess.Popen([HANDRECCTL, "--user", "preview", "--listen", "127.0.0.1:0", *args],
                                     env=bus.env, stdout=subprocess.PIPE, stderr=open(self.err_path, "w"),
                                     text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        self.line = self.proc.stdout.readline() if ready else ""
        m = re.search(r"on ((http://127\.0\.0\.1:(\d+)/)\?token=([0-9a-f]{48})) "
                      r"\(loopback only; --listen 0\.0\.0\.0:\3 to serve", self.line)
        assert m, f"no 'Serving ...' line: {self.line!r}\n{self.stderr()}"
        self.page_url, self.url, self.token = m.group(1), m.group(2), m.group(4)

    def with_token(self, path):
        """The URL of @path with the token (as players and scripts give it)."""
        return self.url + path.lstrip("/") + ("&" if "?" in path else "?") + "token=" + self.token

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def get(self, path, timeout=20):
        return urllib.request.urlopen(self.with_token(path), timeout=timeout)

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def threads(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(next(line for line in f if line.startswith("Threads:")).split()[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=20)
        return self.proc.returncode


@pytest.fixture
def preview(bus, tmp):
    started = []

    def start(*args):
        p = Preview(bus, tmp, *args)
        started.append(p)
        return p
    yield start
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()


def decode(jpeg):
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, f"a JPEG of {len(jpeg)} bytes does not decode"
    return img


def read_parts(resp, n):
    """The first @n parts of a multipart/x-mixed-replace response: [(headers, body)]."""
    ctype = resp.headers["Content-Type"]
    m = re.fullmatch(r"multipart/x-mixed-replace;\s*boundary=(\S+)", ctype)
    assert m, ctype
    return read_multipart(resp, m.group(1), n)


def read_multipart(f, boundary, n):
    boundary = b"--" + boundary.encode()
    parts = []
    while len(parts) < n:
        line = f.readline()
        assert line, "the stream ended"
        if line == b"\r\n":
            continue
        assert line.rstrip(b"\r\n") == boundary, line
        headers = {}
        while (line := f.readline()) != b"\r\n":
            k, v = line.decode().split(":", 1)
            headers[k.strip().lower()] = v.strip()
        assert headers["content-type"] == "image/jpeg", headers
        body = f.read(int(headers["content-length"]))
        assert f.read(2) == b"\r\n"
        parts.append((headers, body))
    return parts


def chromium(url, tmp, *args):
    return subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={tmp}/chromium", "--virtual-time-budget=4000", *args, url],
                          capture_output=True, text=True, timeout=120)


def matches(template, image, threshold=0.9):
    """Where @template is found in @image (normalised correlation above @threshold), best first. Both
    are blurred first: the synthetic camera's grain differs from frame to frame, its scene does not."""
    image, template = (cv2.GaussianBlur(i, (9, 9), 0) for i in (image, template))
    res = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
    found = []
    while True:
        _, score, _, (x, y) = cv2.minMaxLoc(res)
        if score < threshold:
            return found
        found.append((x, y))
        h, w = template.shape[:2]
        res[max(0, y - h // 2):y + h // 2, max(0, x - w // 2):x + w // 2] = -1


# ---- the page in a browser --------------------------------------------------------------


def test_page_in_headless_chromium(source, preview, tmp):
    p = preview("--hand", "right", "--hand", "left")
    assert p.line.startswith("Serving the preview of right, left on http://127.0.0.1:")
    shot = os.path.join(tmp, "page.png")
    width, height = 1400, 420
    r = chromium(p.page_url, tmp, f"--window-size={width},{height}", f"--screenshot={shot}")
    assert os.path.exists(shot), r.stderr[-2000:]
    img = cv2.imread(shot, cv2.IMREAD_COLOR)
    assert img.shape == (height, width, 3)
    assert img.std() > 20, "the screenshot is blank"
    os.makedirs(SHOTS, exist_ok=True)
    cv2.imwrite(os.path.join(SHOTS, f"page-{source.kind}.png"), img)
    # each hand's latest frame is in the screenshot, at full size, the hands side by side in the
    # order asked (the synthetic camera's hands may show the same scene: either may match both)
    found = {}
    for hand in ("right", "left"):
        frame = decode(p.get(f"/snapshot.jpg?hand={hand}").read())
        assert frame.shape == (FRAME_H, FRAME_W, 3)
        # the frame number's stamp (top rows) and the synthetic camera's bar (which moves along the
        # middle rows) change from frame to frame: match the bottom rows, the still scene
        found[hand] = matches(frame[FRAME_H - FRAME_H // 6:, :], img)
        assert found[hand], f"the {hand} hand's image is not in the screenshot"
    assert any(lx >= rx + FRAME_W and abs(ly - ry) <= 1 for rx, ry in found["right"] for lx, ly in found["left"]), \
        found


def test_page_status_lines(source, preview, tmp):
    """The page's script fills each hand's status line from /status.json."""
    p = preview("--hand", "right", "--hand", "left")
    dom = chromium(p.page_url, tmp, "--dump-dom").stdout
    for hand in ("right", "left"):
        m = re.search(rf'<figcaption id="status-{hand}"[^>]*>([^<]*)</figcaption>', dom)
        assert m, dom
        assert m.group(1).startswith(f"[{hand.upper()}] idle"), m.group(1)
        assert f"{FRAME_W}x{FRAME_H}, frame " in m.group(1), m.group(1)


# ---- the raw resources ------------------------------------------------------------------


def test_stream_read_by_urllib(source, preview):
    p = preview("--hand", "right", "--fps", "15")
    with p.get("/stream?hand=right") as resp:
        assert resp.status == 200
        parts = read_parts(resp, 8)
    numbers = [int(h["x-frame-number"]) for h, _ in parts]
    assert numbers == sorted(set(numbers)), numbers  # each part a newer frame, none twice
    for _, jpeg in parts:
        assert decode(jpeg).shape == (FRAME_H, FRAME_W, 3)


def test_stream_read_by_ffmpeg(source, preview, tmp):
    p = preview("--hand", "left")
    url = p.with_token("stream?hand=left")
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of",
                            "compact", url], capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == f"stream|codec_name=mjpeg|width={FRAME_W}|height={FRAME_H}", probe.stderr
    out = os.path.join(tmp, "ff%d.jpg")
    subprocess.run(["ffmpeg", "-v", "error", "-i", url, "-frames:v", "4", "-c", "copy", "-f", "image2", out],
                   check=True, timeout=60)
    for i in range(1, 5):
        with open(out % i, "rb") as f:
            assert decode(f.read()).shape == (FRAME_H, FRAME_W, 3)


def test_snapshot_and_status_json(source, preview):
    import json
    p = preview("--hand", "right", "--max-width", str(FRAME_W // 2))
    assert decode(p.get("/snapshot.jpg?hand=right").read()).shape == (FRAME_H // 2, FRAME_W // 2, 3)
    s = json.load(p.get("/status.json?hand=right"))
    assert s["hand"] == "right" and s["state"] == "idle" and s["line"].startswith("[RIGHT] idle")
    assert s["frames_received"] >= 1 and s["frame"]["width"] == FRAME_W // 2 and not s["ended"]
    # with one hand, ?hand= may be left out
    assert decode(p.get("/snapshot.jpg").read()).shape == (FRAME_H // 2, FRAME_W // 2, 3)


def test_not_found(source, preview):
    p = preview("--hand", "right")
    for path, sentence in [("/nothing", "No such page: /nothing."),
                           ("/stream?hand=left", "No hand 'left' in this preview."),
                           ("/snapshot.jpg?hand=x", "No hand 'x' in this preview.")]:
        with pytest.raises(urllib.error.HTTPError) as e:
            p.get(path)
        assert e.value.code == 404
        body = e.value.read().decode()
        assert body.startswith(sentence) and "/stream?hand=NAME" in body, body


# ---- the commands -----------------------------------------------------------------------


def test_snapshot_command(source, ctl, bus, tmp):
    path = os.path.join(tmp, "shots", "right.jpg")
    os.makedirs(os.path.dirname(path))
    r = ctl("snapshot", "--hand", "right", "--output", path)
    size = os.path.getsize(path)
    assert r.stdout == f"{path}: {size} bytes, {FRAME_W}x{FRAME_H}, frame " + r.stdout.split(", frame ")[1]
    with open(path, "rb") as f:
        assert decode(f.read()).shape == (FRAME_H, FRAME_W, 3)
    assert os.listdir(os.path.dirname(path)) == ["right.jpg"]  # no temporary file left
    ctl("snapshot", "--hand", "left", "--output", path, "--max-width", str(FRAME_W // 4 + 1))
    with open(path, "rb") as f:
        assert decode(f.read()).shape == (FRAME_H // 4, FRAME_W // 4, 3)
    r = subprocess.run([HANDRECCTL, "--user", "snapshot", "--hand", "left", "--output", "-", "--max-width", "0"],
                       env=bus.env, capture_output=True, timeout=60, check=True)
    assert decode(r.stdout).shape == (FRAME_H, FRAME_W, 3)


def test_output_to_stdout(source, bus):
    """--output -: JPEGs back to back, each decoding; SIGTERM ends it with status 0."""
    proc = subprocess.Popen([HANDRECCTL, "--user", "preview", "--hand", "right", "--output", "-", "--fps", "20"],
                            env=bus.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    data = b""
    deadline = time.monotonic() + 60
    while data.count(b"\xff\xd8\xff") < 6 and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 5)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, proc.stderr.read().decode()
            data += chunk
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    starts = [m.start() for m in re.finditer(b"\xff\xd8\xff", data)]
    assert starts[0] == 0 and len(starts) >= 6
    for a, b in zip(starts, starts[1:]):
        assert data[b - 2:b] == b"\xff\xd9"  # each JPEG ends where the next begins
        assert decode(data[a:b]).shape == (FRAME_H, FRAME_W, 3)


def test_output_read_by_ffmpeg(source, bus, tmp):
    """`handrecctl preview --output - | ffmpeg -f mjpeg -i -` as the README says."""
    ctl = subprocess.Popen([HANDRECCTL, "--user", "preview", "--hand", "right", "--output", "-"], env=bus.env,
                           stdout=subprocess.PIPE)
    out = os.path.join(tmp, "pipe%d.jpg")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "mjpeg", "-i", "-", "-frames:v", "3", "-c", "copy", out],
                   stdin=ctl.stdout, check=True, timeout=60)
    ctl.stdout.close()
    assert ctl.wait(timeout=20) == 0  # the reader left: not an error
    for i in range(1, 4):
        with open(out % i, "rb") as f:
            assert decode(f.read()).shape == (FRAME_H, FRAME_W, 3)


# ---- errors -----------------------------------------------------------------------------


def test_usage_and_listen_errors(source, ctl):
    r = ctl("preview", "--listen", "8080", check=False)
    assert r.returncode == 2 and "--listen takes ADDRESS:PORT, such as 127.0.0.1:8080" in r.stderr
    r = ctl("preview", "--listen", "127.0.0.1:70000", check=False)
    assert r.returncode == 2 and "--listen takes ADDRESS:PORT" in r.stderr
    r = ctl("preview", "--listen", "192.0.2.1:8080", check=False)
    assert r.returncode == 1 and "no network interface of this machine has the address 192.0.2.1" in r.stderr
    r = ctl("preview", "--output", "x.mjpeg", check=False)
    assert r.returncode == 2 and "--output takes - (standard output)" in r.stderr
    r = ctl("preview", "--hand", "right", "--hand", "left", "--output", "-", check=False)
    assert r.returncode == 2 and "--output - shows one hand" in r.stderr
    r = ctl("preview", "--fps", "fast", check=False)
    assert r.returncode == 2 and "--fps takes a number" in r.stderr
    r = ctl("snapshot", "--output", "x.jpg", check=False)
    assert r.returncode == 2 and "--hand is required" in r.stderr
    r = ctl("snapshot", "--hand", "right", check=False)
    assert r.returncode == 2 and "--output FILE.jpg is required" in r.stderr
    assert "preview [--hand H]..." in ctl("--help").stdout and "snapshot --hand H" in ctl("--help").stdout


def test_busy_port(source, ctl):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    try:
        r = ctl("preview", "--listen", f"127.0.0.1:{port}", check=False)
    finally:
        s.close()
    assert r.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in r.stderr and "choose another port" in r.stderr


def test_unknown_hand_and_refused_options(source, ctl, tmp):
    for cmd in (["preview", "--listen", "127.0.0.1:0"], ["snapshot", "--output", os.path.join(tmp, "x.jpg")]):
        r = ctl(*cmd, "--hand", "nope", check=False, timeout=30)
        assert r.returncode == 1 and "nope" in r.stderr and r.stderr.startswith("handrecctl: "), r.stderr
        r = ctl(*cmd, "--hand", "right", "--fps", "1000", check=False, timeout=30) if cmd[0] == "preview" else \
            ctl(*cmd, "--hand", "right", "--rectified", check=False, timeout=30)
        assert r.returncode == 1 and r.stderr.startswith("handrecctl: "), r.stderr
    assert not os.path.exists(os.path.join(tmp, "x.jpg"))


@pytest.mark.parametrize("no_device_source", ["fake", "daemon"], indirect=True)
def test_no_device_hand(no_device_source, ctl, tmp):
    """A hand whose camera is not connected: the daemon's sentence, at once, not a hang."""
    for cmd in (["preview", "--hand", "left", "--listen", "127.0.0.1:0"],
                ["snapshot", "--hand", "left", "--output", os.path.join(tmp, "x.jpg")]):
        r = ctl(*cmd, check=False, timeout=30)
        assert r.returncode == 1
        assert "left hand's camera is not connected" in r.stderr and "check the cable" in r.stderr, r.stderr


def test_daemon_ends_the_preview(source, preview):
    p = preview("--hand", "right", "--hand", "left")
    assert decode(p.get("/snapshot.jpg?hand=right").read()) is not None
    source.end_previews()
    assert p.proc.wait(timeout=30) == 1
    assert "handrecd ended the preview of " in p.stderr(), p.stderr()


def test_ctrl_c_ends_cleanly(source, preview):
    p = preview("--hand", "right")
    with p.get("/stream?hand=right") as resp:
        read_parts(resp, 1)
        assert p.stop() == 0  # with a stream still open
    assert p.stderr() == ""


# ---- many clients, slow clients ---------------------------------------------------------


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_clients_that_drop_do_not_leak(source, preview):
    p = preview("--hand", "right", "--hand", "left")
    base_threads = p.threads()  # the main thread, a reader per hand, the server's: no connection yet
    base_fds = p.fds()  # (a connection's socket is closed just after its thread ends: counted before any)
    with p.get("/stream?hand=right") as resp:  # one of each, so every lazy allocation is made
        read_parts(resp, 1)
    p.get("/snapshot.jpg?hand=left").read()
    assert wait_for(lambda: p.threads() == base_threads), (p.threads(), base_threads)
    assert wait_for(lambda: p.fds() == base_fds), (p.fds(), base_fds)
    for i in range(20):
        hand = ("right", "left")[i % 2]
        resp = p.get(f"/stream?hand={hand}")
        read_parts(resp, 1 + i % 3)
        resp.close()  # mid-stream
        s = socket.create_connection(("127.0.0.1", int(p.url.rsplit(":", 1)[1].rstrip("/"))))
        s.sendall(f"GET /stream?hand={hand}&token={p.token} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        s.recv(100)
        s.close()  # after a few bytes
    # each connection's thread ends at its stream's next frame
    assert wait_for(lambda: p.fds() == base_fds), (p.fds(), base_fds)
    assert wait_for(lambda: p.threads() == base_threads), (p.threads(), base_threads)
    assert p.proc.poll() is None


def test_stalled_client_does_not_hold_up_others(source, preview):
    """A client that reads nothing: another still gets every frame (10 MB of them), the feed goes
    on, and the stalled one, once it reads again, gets the newest frame (a gap), not the ones it
    missed."""
    import json
    p = preview("--hand", "right", "--fps", "30")
    port = int(p.url.rsplit(":", 1)[1].rstrip("/"))
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", port))
    # HTTP/1.0: parts without chunks
    stalled.sendall(f"GET /stream?hand=right&token={p.token} HTTP/1.0\r\n\r\n".encode())
    try:
        before = json.load(p.get("/status.json?hand=right"))["frames_received"]
        parts = []
        with p.get("/stream?hand=right") as resp:
            # more than the stalled connection's buffers can take: the kernel grows a loopback
            # socket's send buffer to 4 MB (tcp_wmem); frames are tens of kB
            while sum(len(b) for _, b in parts) < 10 << 20:
                parts += read_parts(resp, 10)
        numbers = [int(h["x-frame-number"]) for h, _ in parts]
        after = json.load(p.get("/status.json?hand=right"))["frames_received"]
        assert after - before >= len(parts) - 1, (before, after)
        assert numbers == sorted(set(numbers))
        f = stalled.makefile("rb")
        assert f.readline().startswith(b"HTTP/1.")
        while f.readline() != b"\r\n":
            pass
        seen = []
        while not seen or seen[-1] < numbers[-1]:
            seen += [int(h["x-frame-number"]) for h, _ in read_multipart(f, "handrecframe", 1)]
        assert max(b - a for a, b in zip(seen, seen[1:])) > 1, seen  # it skipped what it could not take
        assert p.proc.poll() is None
    finally:
        stalled.close()
