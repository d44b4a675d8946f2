"""Who may see `handrecctl preview`, and slow clients (the outside audit's findings 4 and 5):

  4. the preview was open to every local user and to DNS rebinding: every request now needs the
     token of the URL handrecctl prints (as ?token=, or the cookie the page sets) and a Host that
     names the server as it listens; `--allow-host NAME` adds a name (`--listen 0.0.0.0`);
  5. 70 connections sending a header byte every few seconds locked everyone out: a connection
     now has HEAD_DEADLINE s from its start to make an admitted request, whatever bytes trickle
     in, and a client not of this machine at most 16 such connections.

Previews come from the stand-in tests/integration/fake_preview.py (the HTTP side is handrecctl's
alone); the page in Chromium is tried against the real handrecd too (test_preview_client.py's
`source`). Waits are on events and counts, with bounds that only turn a hang into a failure; the
one lower bound asserted (a slow connection is not cut before its deadline) is the server's own
guarantee, measured from a point before the server's clock starts.
"""
import http.client
import json
import os
import re
import select
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request

import cv2
import pytest

from conftest import HANDRECCTL as _HANDRECCTL
from test_preview_client import (FRAME_H, FRAME_W, Preview, chromium, decode, matches, read_parts, source,  # noqa: F401
                                 start_fake)

HANDRECCTL = os.environ.get("HANDRECCTL_BIN") or _HANDRECCTL
HEAD_DEADLINE = 10  # s: HEAD_DEADLINE_S of client/handrecctl-preview-http.c
RESOURCES = ("/", "/stream?hand=right", "/snapshot.jpg?hand=right", "/status.json?hand=right")
NO_TOKEN = "This preview is only for whoever started it: open the URL handrecctl preview printed, with its token"
WRONG_TOKEN = "That is not this preview's token"


@pytest.fixture
def fake(bus, tmp):
    proc = start_fake(bus, tmp)
    yield proc
    proc.terminate()
    proc.wait(timeout=10)


class Served:
    """`handrecctl --user preview ARGS`: its line, url (the root), token (None: not printed), port."""

    def __init__(self, bus, tmp, *args):
        self.err_path = os.path.join(tmp, f"preview-{time.monotonic_ns()}.err")
        self.proc = subprocess.Popen([HANDRECCTL, "--user", "preview", *args], env=bus.env, stdout=subprocess.PIPE,
                                     stderr=open(self.err_path, "w"), text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        self.line = self.proc.stdout.readline() if ready else ""
        m = re.search(r" on (http://(\S+):(\d+)/)\?token=(\S+) \((.*)\)$", self.line)
        assert m, f"no 'Serving ...' line: {self.line!r}\n{self.stderr()}"
        self.url, self.port, self.note = m.group(1), int(m.group(3)), m.group(5)
        self.token = None if m.group(4) == "..." else m.group(4)

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@pytest.fixture
def serve(bus, tmp):
    started = []

    def start(*args):
        s = Served(bus, tmp, *args)
        started.append(s)
        return s
    yield start
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


@pytest.fixture
def preview(bus, tmp):  # test_preview_client's, on 127.0.0.1:0
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


def request(port, path, host="127.0.0.1", headers=(), address="127.0.0.1", timeout=30):
    """GET @path with exactly the Host @host (None: none, HTTP/1.0 as tools send it) and @headers:
    (status, headers, body); of a stream, its first part only."""
    c = http.client.HTTPConnection(address, port, timeout=timeout)
    if host is None:
        c._http_vsn, c._http_vsn_str = 10, "HTTP/1.0"
    c.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    if host is not None:
        c.putheader("Host", host)
    for k, v in headers:
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    try:
        if r.status == 200 and r.headers["Content-Type"].startswith("multipart/"):
            body = read_parts(r, 1)[0][1]
        else:
            body = r.read()
    finally:
        c.close()
    return r.status, r.headers, body


def with_token(path, token):
    return path + ("&" if "?" in path else "?") + "token=" + token


def run_as_nobody(url):
    """GET @url as user nobody (another local user): (status, body)."""
    code = ("import sys, urllib.request, urllib.error\n"
            "try:\n"
            "    r = urllib.request.urlopen(sys.argv[1], timeout=30); print(r.status); print(r.read(200))\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code); print(e.read().decode())\n")
    p = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", code, url], capture_output=True,
                       text=True, timeout=60, cwd="/")
    assert p.returncode == 0, p.stderr
    status, body = p.stdout.split("\n", 1)
    return int(status), body


def global_address():
    """An IPv4 address of this machine other than loopback, or None."""
    p = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True)
    m = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", p.stdout)
    return m.group(1) if m else None


def wait_until(predicate, timeout, what):
    end = time.monotonic() + timeout
    while True:
        got = predicate()
        if got:
            return got
        assert time.monotonic() < end, f"waited {timeout} s for {what}, in vain"
        time.sleep(0.05)


def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Threads:")).split()[1])


# ---- finding 4: the token --------------------------------------------------------------


def test_every_resource_needs_the_token(fake, preview):
    p = preview("--hand", "right")
    port = int(p.url.rsplit(":", 1)[1].rstrip("/"))
    for path in RESOURCES + ("/nothing",):
        status, headers, body = request(port, path)
        assert status == 403, (path, status)
        text = body.decode()
        assert text.startswith(NO_TOKEN) and "/stream?hand=NAME&token=..." in text, text
        assert headers["Connection"] == "close" and headers["Content-Type"].startswith("text/plain"), headers
        assert p.token not in text
        status, _, body = request(port, with_token(path, "0" * 48))
        assert status == 403 and body.decode().startswith(WRONG_TOKEN) and p.token not in body.decode(), body
        # a token that is its beginning, or longer, is another token
        for other in (p.token[:-1], p.token + "0", p.token.upper()):
            assert request(port, with_token(path, other))[0] == 403, (path, other)
    # with the token, each is served (the 404 of a page that is not one only then)
    assert request(port, with_token("/", p.token))[0] == 200
    assert decode(request(port, with_token("/stream?hand=right", p.token))[2]).shape == (FRAME_H, FRAME_W, 3)
    assert decode(request(port, with_token("/snapshot.jpg?hand=right", p.token))[2]).shape == (FRAME_H, FRAME_W, 3)
    assert json.loads(request(port, with_token("/status.json?hand=right", p.token))[2])["hand"] == "right"
    assert request(port, with_token("/nothing", p.token))[0] == 404
    assert p.proc.poll() is None and p.stderr() == ""


def test_another_local_user_is_refused(fake, preview):
    """The audit's request as user nobody: refused without the token, which nobody can read from
    handrecctl's command line or environment either."""
    p = preview("--hand", "right")
    for path in RESOURCES:
        status, body = run_as_nobody(p.url + path.lstrip("/"))
        assert status == 403 and body.startswith(NO_TOKEN), (path, status, body)
    for name in ("cmdline", "environ"):
        with open(f"/proc/{p.proc.pid}/{name}", "rb") as f:
            assert p.token.encode() not in f.read(), name
    # the token is the key, not the user: nobody with it is served (it is only in the URL printed)
    status, _ = run_as_nobody(p.with_token("/snapshot.jpg?hand=right"))
    assert status == 200


def test_the_cookie(fake, preview):
    """The page, loaded with the token, sets the cookie its own requests carry: HttpOnly,
    SameSite=Strict, Path=/, named by the port the browser sees (ssh -L may forward another)."""
    p = preview("--hand", "right")
    port = int(p.url.rsplit(":", 1)[1].rstrip("/"))
    host = f"127.0.0.1:{port}"  # as a browser sends it

    def get(path, headers=()):
        return request(port, path, host=host, headers=headers)
    status, headers, _ = get(with_token("/", p.token))
    assert status == 200
    cookie = headers["Set-Cookie"]
    name, rest = cookie.split("=", 1)
    value, *attrs = [a.strip() for a in rest.split(";")]
    assert name == f"handrec_preview_{port}" and value == p.token, cookie
    assert sorted(attrs) == ["HttpOnly", "Path=/", "SameSite=Strict"], cookie
    assert headers["Referrer-Policy"] == "no-referrer"
    # the page's requests: the cookie alone
    jar = [("Cookie", f"handrec_preview_{port}={p.token}")]
    assert json.loads(get("/status.json?hand=right", jar)[2])["hand"] == "right"
    assert decode(get("/stream?hand=right", jar)[2]).shape == (FRAME_H, FRAME_W, 3)
    assert get("/", jar)[0] == 200 and "Set-Cookie" not in get("/", jar)[1]
    # the cookie of another preview, or this token under another preview's name: refused
    assert get("/status.json?hand=right", [("Cookie", f"handrec_preview_{port}={'1' * 48}")])[0] == 403
    assert get("/status.json?hand=right", [("Cookie", f"handrec_preview_1={p.token}")])[0] == 403
    # ssh -L 9000:localhost:PORT: the browser sees port 9000, and the cookie is named by it
    status, headers, _ = request(port, with_token("/", p.token), host="localhost:9000")
    assert status == 200 and headers["Set-Cookie"].startswith(f"handrec_preview_9000={p.token};")
    assert request(port, "/status.json?hand=right", host="localhost:9000",
                   headers=[("Cookie", f"handrec_preview_9000={p.token}")])[0] == 200


def test_page_in_chromium_through_the_cookie(source, preview, tmp):  # noqa: F811
    """Headless Chromium opens the URL printed: the page's <img src="/stream?hand=..."> and its
    fetch of /status.json carry no token, only the cookie, and show frames and status lines."""
    p = preview("--hand", "right", "--hand", "left")
    assert "token=" not in request(int(p.url.rsplit(":", 1)[1].rstrip("/")), with_token("/", p.token))[2].decode()
    dom = chromium(p.page_url, tmp, "--dump-dom").stdout
    for hand in ("right", "left"):
        m = re.search(rf'<figcaption id="status-{hand}"[^>]*>([^<]*)</figcaption>', dom)
        assert m, dom
        assert m.group(1).startswith(f"[{hand.upper()}] idle") and f"{FRAME_W}x{FRAME_H}, frame " in m.group(1), dom
    shot = os.path.join(tmp, "page.png")
    for profile in ("2", "3"):
        os.makedirs(os.path.join(tmp, profile))
    r = chromium(p.page_url, os.path.join(tmp, "2"), "--window-size=1400,420", f"--screenshot={shot}")
    assert os.path.exists(shot), r.stderr[-2000:]
    img = cv2.imread(shot, cv2.IMREAD_COLOR)
    frame = decode(p.get("/snapshot.jpg?hand=right").read())
    assert matches(frame[FRAME_H - FRAME_H // 6:, :], img), "the right hand's stream is not in the screenshot"
    # the same page without the token: the sentence, no stream
    dom = chromium(p.url, os.path.join(tmp, "3"), "--dump-dom").stdout
    assert NO_TOKEN in dom and "figcaption" not in dom, dom


# ---- finding 4: the Host ---------------------------------------------------------------


def test_foreign_host_is_refused(fake, preview):
    """DNS rebinding: a page of attacker.example whose name now resolves to 127.0.0.1 sends Host:
    attacker.example. Refused even with the token; the names the preview listens as are served."""
    p = preview("--hand", "right")
    port = int(p.url.rsplit(":", 1)[1].rstrip("/"))
    for path in RESOURCES:
        status, headers, body = request(port, with_token(path, p.token), host="attacker.example")
        text = body.decode()
        assert status == 403 and headers["Connection"] == "close", (path, status)
        assert text.startswith("This preview answers to the names it listens as (127.0.0.1, localhost, [::1]"), text
        assert "not to 'attacker.example'" in text and "start it with --allow-host attacker.example." in text, text
        assert p.token not in text
    for host in (f"attacker.example:{port}", "127.0.0.1.attacker.example", "localhost.attacker.example:80",
                 "127.0.0.2", "[::2]", "a b", "localhost:x", "[::1", "", ":80"):
        status, _, body = request(port, with_token("/status.json?hand=right", p.token), host=host)
        assert status == 403 and body.startswith(b"This preview answers to the names it listens as"), (host, body)
    # the names it listens as, with or without a port (any: ssh -L may forward another), any case;
    # no Host at all: an HTTP/1.0 tool, not a browser
    for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost", f"localhost:{port}", "LocalHost.:9000", "[::1]",
                 f"[::1]:{port}", "[0:0::1]:1", None):
        status, _, body = request(port, with_token("/status.json?hand=right", p.token), host=host)
        assert status == 200 and json.loads(body)["hand"] == "right", (host, status, body)


def test_foreign_host_in_chromium(fake, preview, tmp):
    """The same in a browser: Chromium resolving attacker.example to 127.0.0.1 gets the refusal,
    even with the token in the URL."""
    p = preview("--hand", "right")
    url = p.page_url.replace("127.0.0.1", "attacker.example")
    dom = chromium(url, tmp, "--dump-dom", "--host-resolver-rules=MAP attacker.example 127.0.0.1").stdout
    assert "not to 'attacker.example'" in dom and "figcaption" not in dom, dom


def test_listen_on_the_network_with_allow_host(fake, serve):
    """--listen 0.0.0.0: the token is still required; the Host may name the address the client
    came to, the --listen address, or a name given with --allow-host (repeatable); the refusal
    says which option to give."""
    s = serve("--hand", "right", "--listen", "0.0.0.0:0")
    assert s.url == f"http://0.0.0.0:{s.port}/" and s.token and "open to the network" in s.note, s.line
    assert "--allow-host NAME" in s.note
    status, _, body = request(s.port, with_token("/status.json?hand=right", s.token), host=f"board.example:{s.port}")
    assert status == 403 and "start it with --allow-host board.example." in body.decode(), body
    assert request(s.port, with_token("/status.json?hand=right", s.token), host=f"0.0.0.0:{s.port}")[0] == 200
    s.stop()

    s = serve("--hand", "right", "--listen", "0.0.0.0:0", "--allow-host", "Board.Example", "--allow-host", "fd00::7")
    for host in (f"board.example:{s.port}", "BOARD.example", f"[fd00::7]:{s.port}", f"127.0.0.1:{s.port}"):
        status, _, body = request(s.port, with_token("/status.json?hand=right", s.token), host=host)
        assert status == 200, (host, status, body)
    status, _, body = request(s.port, with_token("/status.json?hand=right", s.token), host="other.example")
    assert status == 403 and "(127.0.0.1, localhost, [::1], 0.0.0.0, board.example, [fd00::7]" in body.decode(), body
    assert request(s.port, "/status.json?hand=right", host=f"board.example:{s.port}")[0] == 403  # no token
    address = global_address()
    if address:  # from the network: this machine's address in the Host needs no --allow-host
        for path in RESOURCES:
            status, _, body = request(s.port, path, host=f"{address}:{s.port}", address=address)
            assert status == 403 and body.decode().startswith(NO_TOKEN), (path, status, body)
        status, _, body = request(s.port, with_token("/status.json?hand=right", s.token), host=f"{address}:{s.port}",
                                  address=address)
        assert status == 200, body


def test_allow_host_and_token_file_usage(fake, ctl):
    r = ctl("preview", "--listen", "0.0.0.0:0", "--allow-host", "board:8080", check=False)
    assert r.returncode == 2 and "--allow-host takes the name or address by which the preview is reached, without " \
        "a port, such as board.local or 192.168.1.20, not 'board:8080'" in r.stderr, r.stderr
    r = ctl("preview", "--hand", "right", "--output", "-", "--allow-host", "board", check=False)
    assert r.returncode == 2 and "--allow-host and --token-file are for the page" in r.stderr, r.stderr
    r = ctl("preview", "--help")
    assert "--allow-host NAME" in r.stdout and "--token-file FILE" in r.stdout and "&token=TOKEN" in r.stdout


def test_token_file(fake, serve, ctl, tmp):
    """--token-file: made with mode 0600 the first time, the same token at the next start, never
    printed; one that others may read is refused."""
    path = os.path.join(tmp, "preview-token")
    s = serve("--hand", "right", "--listen", "127.0.0.1:0", "--token-file", path)
    assert s.token is None and s.note.startswith(f"the token is in {path}; loopback only"), s.line
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        token = f.read().strip()
    assert re.fullmatch(r"[0-9a-f]{48}", token), token
    assert request(s.port, with_token("/status.json?hand=right", token))[0] == 200
    assert request(s.port, "/status.json?hand=right")[0] == 403
    s.stop()
    s = serve("--hand", "right", "--listen", "127.0.0.1:0", "--token-file", path)
    assert request(s.port, with_token("/status.json?hand=right", token))[0] == 200
    s.stop()
    os.chmod(path, 0o644)
    p = ctl("preview", "--listen", "127.0.0.1:0", "--token-file", path, check=False)
    assert p.returncode == 1 and f"the token file {path} can be read by others (mode 0644)" in p.stderr, p.stderr
    assert token not in p.stdout + p.stderr


# ---- finding 5: slow clients -----------------------------------------------------------


class Trickle:
    """@n connections to @address:@port each sending a byte of a request head every @gap s; when
    each one was opened and when the server ended it (monotonic)."""

    def __init__(self, port, n, gap=2.0, address="127.0.0.1"):
        self.socks, self.opened, self.ended = [], {}, {}
        for _ in range(n):
            opened = time.monotonic()  # before the server's clock for it starts (at its accept)
            s = socket.create_connection((address, port))
            self.opened[s] = opened
            self.socks.append(s)
            self.send(s, b"G")
        self.gap, self.next = gap, time.monotonic() + gap

    def send(self, s, data):
        try:
            s.sendall(data)
        except OSError:  # the server has closed it
            self.ended.setdefault(s, time.monotonic())

    def step(self):
        """Wait up to 0.2 s for the server to end connections; send the next bytes when due."""
        live = [s for s in self.socks if s not in self.ended]
        ready, _, _ = select.select(live, [], [], max(0.0, min(0.2, self.next - time.monotonic())))
        for s in ready:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            assert not data, data  # nothing is answered to an unfinished head
            self.ended[s] = time.monotonic()
        if time.monotonic() >= self.next:
            self.next += self.gap
            for s in live:
                if s not in self.ended:
                    self.send(s, b"E")

    def pump(self, until, timeout, what):
        """Step until @until() or every connection has ended; fail after @timeout s."""
        end = time.monotonic() + timeout
        while not until() and len(self.ended) < len(self.socks):
            assert time.monotonic() < end, f"waited {timeout} s for {what}, in vain: {len(self.ended)} ended"
            self.step()

    def close(self):
        for s in self.socks:
            s.close()


def test_slow_clients_do_not_lock_the_user_out(fake, preview):
    """The audit's 70 connections, a byte every 2 s: a real request is served at once (within the
    deadline plus a margin, whatever the load), a stream opened before goes on after every slow
    connection has been cut at its deadline (not before), and handrecctl's threads come back."""
    p = preview("--hand", "right")
    port = int(p.url.rsplit(":", 1)[1].rstrip("/"))
    base_threads = threads(p.proc.pid)
    stream = p.get("/stream?hand=right", timeout=60)
    read_parts(stream, 1)
    slow = Trickle(port, 70)
    try:
        started = time.monotonic()
        served = None
        while served is None:
            try:
                served = decode(p.get("/snapshot.jpg?hand=right", timeout=HEAD_DEADLINE + 20).read())
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException, TimeoutError):
                assert time.monotonic() < started + HEAD_DEADLINE + 20, "the real request was not served"
                slow.step()
        assert time.monotonic() - started < HEAD_DEADLINE + 20
        # the slow ones end at their deadline, however their bytes trickle in
        slow.pump(lambda: False, HEAD_DEADLINE + 60, "the server to end the 70 slow connections")
        lived = sorted(slow.ended[s] - slow.opened[s] for s in slow.socks)
        assert lived[0] >= HEAD_DEADLINE - 0.05, lived
        # the stream of the real user was not cut
        numbers = [int(h["x-frame-number"]) for h, _ in read_parts(stream, 5)]
        assert numbers == sorted(set(numbers))
        print(f"real request served {served is not None} in {time.monotonic() - started:.3f} s; slow connections "
              f"cut {lived[0]:.2f} to {lived[-1]:.2f} s after their connect")
    finally:
        slow.close()
        stream.close()
    wait_until(lambda: threads(p.proc.pid) == base_threads, 60, "handrecctl's threads to come back")
    assert p.proc.poll() is None


def test_a_network_client_has_at_most_16_slow_connections(fake, serve):
    """From an address not of this machine's loopback: at most 16 connections without an admitted
    request; more are closed at once (the 16 only at their deadline), and the user is served."""
    address = global_address()
    if not address:
        pytest.skip("this machine has no IPv4 address besides loopback to come from")
    s = serve("--hand", "right", "--listen", "0.0.0.0:0")
    slow = Trickle(s.port, 20, address=address)
    try:
        slow.pump(lambda: len(slow.ended) >= 4, HEAD_DEADLINE + 60, "the server to refuse 4 connections")
        status, _, _ = request(s.port, with_token("/snapshot.jpg?hand=right", s.token))  # from loopback
        assert status == 200
        slow.pump(lambda: False, HEAD_DEADLINE + 60, "the server to end the 16 others")
        lived = sorted(slow.ended[k] - slow.opened[k] for k in slow.socks)
        # the 16 held live to their deadline at least; the 4 refused are closed long before
        assert len([t for t in lived if t < HEAD_DEADLINE - 0.5]) == 4, lived
        assert lived[4] >= HEAD_DEADLINE - 0.05, lived
    finally:
        slow.close()
