"""The object-store servers of the upload tests (objectstore.py) with the real rclone: what lands
on the server's disk is byte for byte what was sent, a server stopped refuses and comes back on its
port with its objects, wrong credentials are refused; and the rclone 1.60 behaviours
handrec-offload is written against (docs/testing.md): md5 of a multipart object, `[]` for a missing
object, JSON progress lines, `check` needing --download on WebDAV, what a killed upload leaves.
"""
import hashlib
import json
import os
import signal
import subprocess
import time

from objectstore import RCLONE, rclone, rclone_env, s3server, webdav  # noqa: F401 (fixtures)

FAST_FAIL = ("--retries", "1", "--low-level-retries", "1", "--contimeout", "5s", "--timeout", "30s")


def make_file(path, size, seed):
    data = hashlib.sha256(seed.encode()).digest() * (size // 32) + os.urandom(size % 32)
    with open(path, "wb") as f:
        f.write(data)
    return data


def lsjson(conf, remote):
    p = rclone(conf, "lsjson", "--hash", remote, check=True)
    return json.loads(p.stdout)


def wait_for(what, cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_s3_upload_lands_byte_for_byte_with_md5(s3server, tmp):
    conf = s3server.write_rclone_conf(os.path.join(tmp, "rclone.conf"))
    local = os.path.join(tmp, "20261126-101500.h5")
    data = make_file(local, 5_000_000, "a")
    rclone(conf, "copyto", local, s3server.remote("right/20261126-101500.h5"), *FAST_FAIL, check=True)
    assert s3server.keys() == ["right/20261126-101500.h5"]
    assert s3server.object_bytes("right/20261126-101500.h5") == data
    [entry] = lsjson(conf, s3server.remote("right/20261126-101500.h5"))
    assert entry["Size"] == len(data)
    assert entry["Hashes"] == {"md5": hashlib.md5(data).hexdigest()}
    # the local side, as handrec-offload hashes it
    p = rclone(conf, "hashsum", "md5", local, check=True)
    assert p.stdout == f"{hashlib.md5(data).hexdigest()}  20261126-101500.h5\n"
    # a key never uploaded lists as an empty array, and rclone succeeds
    assert lsjson(conf, s3server.remote("right/nothing.h5")) == []


def test_s3_multipart_upload_keeps_its_md5(s3server, tmp):
    # the cutoff lowered from 200M so 12 MB goes in parts, as a real take does
    conf = s3server.write_rclone_conf(os.path.join(tmp, "rclone.conf"),
                                      extra="upload_cutoff = 5M\nchunk_size = 5M\n")
    local = os.path.join(tmp, "big.h5")
    data = make_file(local, 12_000_000, "b")
    rclone(conf, "copyto", local, s3server.remote("left/big.h5"), *FAST_FAIL, check=True)
    assert "x-amz-meta-md5chksum" in s3server.object_metadata("left/big.h5"), "not a multipart upload"
    assert s3server.object_bytes("left/big.h5") == data
    assert s3server.unfinished_uploads() == []
    [entry] = lsjson(conf, s3server.remote("left/big.h5"))
    assert (entry["Size"], entry["Hashes"].get("md5")) == (len(data), hashlib.md5(data).hexdigest())


def test_s3_stopped_refuses_then_comes_back_with_its_objects(s3server, tmp):
    conf = s3server.write_rclone_conf(os.path.join(tmp, "rclone.conf"))
    a = make_file(os.path.join(tmp, "a.h5"), 100_000, "a")
    make_file(os.path.join(tmp, "b.h5"), 100_000, "b")
    rclone(conf, "copyto", os.path.join(tmp, "a.h5"), s3server.remote("right/a.h5"), *FAST_FAIL, check=True)
    port = s3server.port
    s3server.stop()
    p = rclone(conf, "copyto", os.path.join(tmp, "b.h5"), s3server.remote("right/b.h5"), *FAST_FAIL)
    assert p.returncode == 1, p.stderr
    assert "connect: connection refused" in p.stderr
    s3server.start()
    assert s3server.port == port
    assert s3server.object_bytes("right/a.h5") == a
    rclone(conf, "copyto", os.path.join(tmp, "b.h5"), s3server.remote("right/b.h5"), *FAST_FAIL, check=True)
    assert s3server.keys() == ["right/a.h5", "right/b.h5"]


def test_s3_wrong_access_key_refused(s3server, tmp):
    conf = s3server.write_rclone_conf(os.path.join(tmp, "bad.conf"), access_key="NOTME")
    make_file(os.path.join(tmp, "a.h5"), 100_000, "a")
    p = rclone(conf, "copyto", os.path.join(tmp, "a.h5"), s3server.remote("right/a.h5"), *FAST_FAIL)
    assert p.returncode == 1
    assert "Failed to copyto: Forbidden: Forbidden" in p.stderr
    assert "status code: 403" in p.stderr
    assert s3server.keys() == []


def test_s3rver_checks_the_access_key_not_the_secret(s3server, tmp):
    # documented in docs/testing.md: a test of refused credentials must change the access key
    conf = s3server.write_rclone_conf(os.path.join(tmp, "secret.conf"), secret="not-the-secret")
    make_file(os.path.join(tmp, "a.h5"), 1000, "a")
    p = rclone(conf, "copyto", os.path.join(tmp, "a.h5"), s3server.remote("right/a.h5"), *FAST_FAIL)
    assert p.returncode == 0, p.stderr
    assert s3server.keys() == ["right/a.h5"]


def test_rclone_json_log_progress_and_error_lines(s3server, tmp):
    conf = s3server.write_rclone_conf(os.path.join(tmp, "rclone.conf"))
    local = os.path.join(tmp, "a.h5")
    data = make_file(local, 3_000_000, "a")
    args = ("--stats", "1s", "--use-json-log", "-v")
    p = rclone(conf, "copyto", local, s3server.remote("right/a.h5"), *FAST_FAIL, *args, "--bwlimit", "1M", check=True)
    assert p.stdout == ""
    records = [json.loads(line) for line in p.stderr.splitlines()]  # every line is one JSON object
    stats = [r["stats"] for r in records if "stats" in r]
    assert len(stats) >= 2
    # the total is the file's once rclone has looked at it (a stats line before that, which a loaded
    # machine can give, says 0)
    assert all(s["totalBytes"] in (0, len(data)) for s in stats if s["transfers"] == 0), stats
    assert any(s["totalBytes"] == len(data) for s in stats), stats
    assert stats[-1]["bytes"] == len(data) and stats[-1]["transfers"] == 1 and "transferring" not in stats[-1]
    # same name on both sides: "Copied (new)" and the name in "object" ("... to: NAME" only when they differ)
    assert [(r["msg"], r["object"]) for r in records if "object" in r] == [("Copied (new)", "a.h5")]
    # a failure: the error record is JSON, rclone's last words ("Failed to copyto: ...") are not
    s3server.stop()
    p = rclone(conf, "copyto", local, s3server.remote("right/b.h5"), *FAST_FAIL, *args)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    errors = [json.loads(line) for line in lines if line.startswith("{") and '"level":"error"' in line]
    assert errors and "connection refused" in errors[-1]["msg"]
    assert errors[-1]["msg"].startswith("Attempt 1/1 failed with 1 errors and: RequestError: send request failed\n")
    assert any(line.startswith("Failed to copyto: ") or " Failed to copyto: " in line for line in lines)


def killed_upload(conf, local, remote, until):
    """Starts rclone copyto at 1 MB/s, SIGKILLs it once until() is true."""
    proc = subprocess.Popen([RCLONE, "--config", conf, "copyto", local, remote, "--bwlimit", "1M", *FAST_FAIL],
                            env=rclone_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("the upload to start", lambda: until() or proc.poll() is not None)
        assert proc.poll() is None, "rclone finished before it could be killed"
    finally:
        proc.kill()
        proc.wait()


def test_s3_killed_single_put_leaves_a_short_visible_object(s3server, tmp):
    conf = s3server.write_rclone_conf(os.path.join(tmp, "rclone.conf"))
    local = os.path.join(tmp, "a.h5")
    data = make_file(local, 5_000_000, "a")
    path = s3server.object_path("right/a.h5")
    killed_upload(conf, local, s3server.remote("right/a.h5"),
                  lambda: os.path.exists(path) and os.path.getsize(path) >= 500_000)

    def settled():  # the server has seen the connection close and written what it got
        [entry] = lsjson(conf, s3server.remote("right/a.h5"))
        return entry["Size"] == os.path.getsize(path)
    wait_for("s3rver to settle", settled, timeout=30)
    [entry] = lsjson(conf, s3server.remote("right/a.h5"))
    assert 500_000 <= entry["Size"] < len(data)
    assert "Hashes" not in entry or entry["Hashes"].get("md5") != hashlib.md5(data).hexdigest()
    assert s3server.object_bytes("right/a.h5") == data[:entry["Size"]]


def test_s3_killed_multipart_upload_leaves_no_object(s3server, tmp):
    conf = s3server.write_rclone_conf(os.path.join(tmp, "rclone.conf"), extra="upload_cutoff = 5M\nchunk_size = 5M\n")
    local = os.path.join(tmp, "big.h5")
    make_file(local, 12_000_000, "b")
    killed_upload(conf, local, s3server.remote("right/big.h5"), lambda: s3server.unfinished_uploads() != [])
    assert s3server.keys() == []
    assert lsjson(conf, s3server.remote("right/big.h5")) == []
    assert len(s3server.unfinished_uploads()) == 1


def test_webdav_has_no_hash_so_check_needs_download(webdav, tmp):
    conf = webdav.write_rclone_conf(os.path.join(tmp, "rclone.conf"))
    os.makedirs(os.path.join(tmp, "local"))
    local = os.path.join(tmp, "local", "20261126-101500.h5")
    data = make_file(local, 2_000_000, "a")
    rclone(conf, "copyto", local, webdav.remote("right/20261126-101500.h5"), *FAST_FAIL, check=True)
    assert webdav.keys() == ["right/20261126-101500.h5"]
    assert webdav.file_bytes("right/20261126-101500.h5") == data
    [entry] = lsjson(conf, webdav.remote("right/20261126-101500.h5"))
    assert entry["Size"] == len(data) and "Hashes" not in entry

    listing = os.path.join(tmp, "files")
    with open(listing, "w") as f:
        f.write("20261126-101500.h5\n")
    check = ("check", "--one-way", "--files-from-raw", listing, os.path.join(tmp, "local"), webdav.remote("right"))
    assert rclone(conf, *check, "--download").returncode == 0
    # one byte changed on the server, same size: only --download sees it
    with open(webdav.file_path("right/20261126-101500.h5"), "r+b") as f:
        f.seek(len(data) - 1)
        f.write(bytes([data[-1] ^ 0xFF]))
    p = rclone(conf, *check)
    assert p.returncode == 0 and "1 hashes could not be checked" in p.stderr
    p = rclone(conf, *check, "--download")
    assert p.returncode == 1 and "1 differences found" in p.stderr


def test_webdav_password_and_restart(webdav, tmp):
    make_file(os.path.join(tmp, "a.h5"), 100_000, "a")
    bad = webdav.write_rclone_conf(os.path.join(tmp, "bad.conf"), password="wrong")
    p = rclone(bad, "copyto", os.path.join(tmp, "a.h5"), webdav.remote("right/a.h5"), *FAST_FAIL)
    assert p.returncode == 1 and "401" in p.stderr, p.stderr
    assert webdav.keys() == []
    conf = webdav.write_rclone_conf(os.path.join(tmp, "rclone.conf"))
    webdav.stop()
    p = rclone(conf, "copyto", os.path.join(tmp, "a.h5"), webdav.remote("right/a.h5"), *FAST_FAIL)
    # exit 5 ("temporary error") here, where S3 says 1 for the same refused connection
    assert p.returncode == 5 and "connect: connection refused" in p.stderr, p.stderr
    webdav.start()
    rclone(conf, "copyto", os.path.join(tmp, "a.h5"), webdav.remote("right/a.h5"), *FAST_FAIL, check=True)
    assert webdav.keys() == ["right/a.h5"]
