"""handrecctl's side of handrec-offload (issue 11): the upload line of `status`, the UPLOAD column
of `takes`, their --json keys, and nothing of it while the uploader is not on the bus.

The hands and takes come from the real handrecd on a private bus; the uploader is
tests/integration/fake_offload.py, a stand-in answering Status and ListUploads with what each
test writes in its state file: these tests check handrecctl's formatting only. The real service
end to end is tested in test_offload.py."""
import json
import os
import re
import select
import stat
import subprocess
import textwrap

import pytest

from conftest import HANDRECCTL, Bus, Daemon, make_config, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REMOTE = "takes-s3:handrec-takes/rig1"
OFF_SENTENCE = ("no offload group in /etc/handrec/handrecd.conf: nothing is uploaded "
                "(README: Getting takes off the board)")
# every key of Status, with its type, as docs/dbus-api.md lists them
STATUS_KEYS = {"State": str, "Remote": str, "TakesBehind": int, "BytesBehind": int, "Rate": float, "Current": str,
               "CurrentDone": int, "CurrentSize": int, "LastError": str, "NextRetry": float, "Uploaded": int,
               "Removed": int, "FreeBytes": int, "KeepFreeBytes": int, "MaxTakesBytes": int, "SpaceNote": str}


def snake(key):
    """TakesBehind: takes_behind, as handrecctl(1) says every --json key is written."""
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


class Offload:
    """fake_offload.py on the private bus, answering what set() last wrote."""

    def __init__(self, bus, tmp):
        self.state = os.path.join(tmp, "offload-state.json")
        self.set(status={"State": "idle", "Remote": REMOTE})
        self.log = open(os.path.join(tmp, "fake_offload.log"), "w")
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "fake_offload.py"), "--address",
                                      bus.address, "--state", self.state], stdout=subprocess.PIPE, stderr=self.log,
                                     text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        assert ready and self.proc.stdout.readline().strip() == "READY", "fake_offload.py did not start"

    def set(self, status=None, uploads=None, error=None):
        with open(self.state, "w") as f:
            json.dump({"status": status or {}, "uploads": uploads or {}, "error": error}, f)

    def calls(self):
        with open(self.state + ".calls") as f:
            return f.read().split()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def offload(bus, tmp):
    o = Offload(bus, tmp)
    yield o
    if o.proc.poll() is None:
        o.stop()


def hand_lines(out):
    return [line for line in out.splitlines() if not line.startswith("upload:")]


# ---- status ------------------------------------------------------------------------------------

LINES = [
    ({"State": "uploading", "TakesBehind": 3, "BytesBehind": 12_100_000_000, "Rate": 8_400_000.0},
     "upload: 3 takes, 12.1GB behind, 8.4MB/s"),
    ({"State": "uploading", "TakesBehind": 1, "BytesBehind": 52_300_000, "Rate": 512_000.0},
     "upload: 1 take, 52.3MB behind, 0.5MB/s"),
    ({"State": "uploading", "TakesBehind": 2, "BytesBehind": 2_000_000_000, "Rate": 0.0},
     "upload: 2 takes, 2.0GB behind"),
    ({"State": "verifying", "TakesBehind": 2, "BytesBehind": 1_000_000_000},
     "upload: 2 takes, 1.0GB behind, verifying"),
    ({"State": "idle", "Remote": REMOTE}, f"upload: nothing behind ({REMOTE})"),
    ({"State": "waiting", "TakesBehind": 3, "BytesBehind": 12_100_000_000, "NextRetry": 24.2,
      "LastError": "couldn't connect to the remote: dial tcp: lookup s3.example.org: no such host"},
     "upload: 3 takes, 12.1GB behind; failed: couldn't connect to the remote: dial tcp: lookup s3.example.org: "
     "no such host; retry in 25 s"),
    ({"State": "off", "LastError": OFF_SENTENCE}, f"upload: off ({OFF_SENTENCE})"),
]


@pytest.mark.parametrize("status,line", LINES, ids=[s["State"] + str(i) for i, (s, _) in enumerate(LINES)])
def test_status_upload_line(daemon, ctl, offload, status, line):
    offload.set(status=dict({"Remote": REMOTE}, **status))
    p = ctl("status")
    lines = p.stdout.splitlines()
    assert lines[-1] == line, p.stdout
    assert [x for x in lines if x.startswith("upload")] == [line]  # once, after the hands
    assert lines[0].startswith("[RIGHT]") or lines[0].startswith("[LEFT]"), p.stdout
    assert p.stderr == ""
    assert offload.calls() == ["Status"]


def test_status_json_has_the_status_dict(daemon, ctl, offload):
    status = {"State": "waiting", "Remote": REMOTE, "TakesBehind": 3, "BytesBehind": 12_100_000_000,
              "LastError": 'rclone: "quota" exceeded ↗', "NextRetry": 25.0, "Uploaded": 7, "Removed": 2,
              "FreeBytes": 5_000_000_000, "KeepFreeBytes": 10_000_000_000, "MaxTakesBytes": 0,
              "SpaceNote": "only takes not yet uploaded are left: nothing can be removed"}
    offload.set(status=status)
    doc = json.loads(ctl("status", "--json").stdout)
    assert {h["name"] for h in doc["hands"]} == {"right", "left"}
    up = doc["upload"]  # the Status dictionary, its keys in the one style of every --json key
    assert set(up) == {snake(k) for k in STATUS_KEYS}
    for key, kind in STATUS_KEYS.items():
        assert type(up[snake(key)]) is kind, (key, up[snake(key)])
        assert up[snake(key)] == status.get(key, kind()), key
    # --json before the command too
    assert json.loads(ctl("--json", "status").stdout)["upload"] == up


def test_status_without_the_service_says_nothing_of_uploads(daemon, ctl, offload):
    offload.set(status={"State": "waiting", "TakesBehind": 3, "BytesBehind": 1, "LastError": "x"})
    present = ctl("status")
    assert present.stdout.splitlines()[-1].startswith("upload: 3 takes")
    offload.stop()
    absent = ctl("status")
    assert "upload" not in absent.stdout and absent.stderr == ""
    assert absent.stdout.splitlines() == hand_lines(present.stdout)
    doc = json.loads(ctl("status", "--json").stdout)
    assert "upload" not in doc and len(doc["hands"]) == 2


def test_status_exit_code_is_the_hands_alone(daemon_factory, ctl, offload, outdir):
    conf = make_config(outdir).replace('source = "synthetic";', 'source = "v4l2"; device = "/dev/video-missing-42";', 1)
    daemon_factory(conf)
    offload.set(status={"State": "waiting", "TakesBehind": 1, "BytesBehind": 5, "LastError": "no network"})
    p = ctl("status", check=False)
    assert p.returncode == 3 and p.stdout.splitlines()[-1].startswith("upload: 1 take, "), p.stdout
    assert ctl("status", "--json", check=False).returncode == 3
    offload.set(status={"State": "idle", "Remote": REMOTE})
    assert ctl("status", check=False).returncode == 3
    offload.stop()
    p = ctl("status", check=False)
    assert p.returncode == 3 and "upload" not in p.stdout


def test_status_when_the_service_refuses_notes_it_and_goes_on(daemon, ctl, offload):
    offload.set(error="org.freedesktop.DBus.Error.AccessDenied")
    p = ctl("status")
    assert "upload" not in p.stdout
    assert "handrec-offload" in p.stderr and "left out" in p.stderr, p.stderr
    assert "upload" not in json.loads(ctl("status", "--json").stdout)


def activation_bus(tmp):
    """A private bus that can start org.handrec1.Offload: its "service" only leaves a mark."""
    services, mark = os.path.join(tmp, "services"), os.path.join(tmp, "activated")
    os.makedirs(services)
    script = os.path.join(tmp, "activate.sh")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\necho started >> {mark}\n")
    os.chmod(script, stat.S_IRWXU)
    with open(os.path.join(services, "org.handrec1.Offload.service"), "w") as f:
        f.write(f"[D-BUS Service]\nName=org.handrec1.Offload\nExec={script}\n")
    conf = os.path.join(tmp, "bus.conf")
    with open(conf, "w") as f:
        f.write(textwrap.dedent(f"""\
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>session</type>
              <listen>unix:dir={tmp}</listen>
              <servicedir>{services}</servicedir>
              <policy context="default">
                <allow send_destination="*" eavesdrop="true"/>
                <allow eavesdrop="true"/>
                <allow own="*"/>
              </policy>
            </busconfig>
            """))
    bus = Bus.__new__(Bus)
    bus.proc = subprocess.Popen(["dbus-daemon", "--nofork", "--print-address=1", f"--config-file={conf}"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    bus.address = bus.proc.stdout.readline().strip()
    assert bus.address.startswith("unix:"), "dbus-daemon did not start"
    bus.env = dict(os.environ, DBUS_SESSION_BUS_ADDRESS=bus.address)
    return bus, mark


def test_status_and_takes_never_start_the_service(tmp, outdir):
    bus, mark = activation_bus(tmp)
    d = Daemon(bus, tmp, make_config(outdir, hands=("right",)))
    try:
        d.start()
        for args in (["status"], ["status", "--json"], ["takes"], ["takes", "--json"]):
            p = subprocess.run([HANDRECCTL, "--user", *args], env=bus.env, capture_output=True, text=True,
                               timeout=60)
            assert p.returncode == 0 and p.stderr == "", (args, p.stdout, p.stderr)
            assert "upload:" not in p.stdout and '"upload"' not in p.stdout
        assert not os.path.exists(mark), "handrecctl started the uploader"
        # the control: a client that lets the bus start services does start it
        subprocess.run(["busctl", "--user", "--timeout=60", "call", "org.handrec1.Offload", "/org/handrec1/offload",
                        "org.handrec1.Offload", "Status"], env=bus.env, capture_output=True, timeout=90)
        wait_until(lambda: os.path.exists(mark),
                   what="the bus to start the stand-in service (else the check above proves nothing)")
    finally:
        d.stop()
        bus.stop()


# ---- takes -------------------------------------------------------------------------------------

def record_episode(ctl):
    """One take on each hand (one episode); their files, {hand: file}."""
    out = ctl("start", "--hand", "all", "--duration", "0.3", "--follow").stdout
    files = [line for line in out.splitlines() if line.endswith(".h5")]
    return {("right" if "/right/" in f else "left"): f for f in files}


def takes_rows(out):
    """{file: (upload column, file line)} of `handrecctl takes`, read under its header: takes by
    episode, each an "Episode ..." line, then each take's row and its file on the next line."""
    lines = out.splitlines()
    header = lines[0]
    start = header.index("UPLOAD")
    assert header[:start].rstrip().endswith("SIZE"), header
    rows, n_takes = {}, 0
    for i, row in enumerate(lines[1:], 1):
        if not row.startswith("  ") or row.startswith("         "):
            assert row == "" or row.startswith(("Episode ", "No episode")) or row.startswith("         /"), row
            continue
        n_takes += 1
        second = lines[i + 1]
        assert second.startswith("         /"), second
        file = second.strip().split(": ", 1)[0]
        assert row[start - 1] == " " and row[start] != " ", (header, row)  # under its header
        rows[file] = (row[start:].split()[0], second.strip())
    assert len(rows) == n_takes, out
    return rows


def test_takes_upload_column_and_json(daemon, ctl, offload):
    first, second = record_episode(ctl), record_episode(ctl)
    error = "Failed to copy: AccessDenied: Access Denied\tstatus code: 403"
    uploads = {
        first["right"]: {"state": "failed", "error": error, "remote": f"{REMOTE}/right/x.h5", "attempts": 3},
        first["left"]: {"state": "uploaded-verified", "remote": f"{REMOTE}/left/{os.path.basename(first['left'])}",
                        "check": "md5:0123", "size": 123},
        second["right"]: {"state": "uploading", "remote": f"{REMOTE}/right/y.h5"},
        "/var/lib/handrec/right/not-listed-by-handrecd.h5": {"state": "failed", "error": "stray"},
        # second["left"]: not listed by the uploader: pending
    }
    offload.set(uploads=uploads)
    rows = takes_rows(ctl("takes").stdout)
    assert set(rows) == set(first.values()) | set(second.values())
    assert rows[first["right"]] == ("failed", f"{first['right']}: upload failed: {error}")
    assert rows[first["left"]] == ("uploaded-verified", first["left"])
    assert rows[second["right"]] == ("uploading", second["right"])
    assert rows[second["left"]] == ("pending", second["left"])
    assert offload.calls() == ["ListUploads"]

    takes = json.loads(ctl("takes", "--json").stdout)["takes"]
    by_file = {t["file"]: t for t in takes}
    assert set(by_file) == set(rows)
    for f, t in by_file.items():
        want = uploads.get(f, {"state": "pending"})
        assert t["upload"] == {"state": want["state"], "error": want.get("error", ""),
                               "remote": want.get("remote", "")}, f
        assert t["status"] == "complete"  # ListTakes' own keys are still there


def test_takes_without_the_service(daemon, ctl, offload):
    files = record_episode(ctl)
    offload.set(uploads={files["right"]: {"state": "failed", "error": "boom"}})
    assert takes_rows(ctl("takes").stdout)[files["right"]][0] == "failed"
    offload.stop()
    p = ctl("takes")
    rows = takes_rows(p.stdout)
    assert p.stderr == ""
    assert {f: r for f, r in rows.items()} == {f: ("-", f) for f in files.values()}
    takes = json.loads(ctl("takes", "--json").stdout)["takes"]
    assert len(takes) == 2 and not any("upload" in t for t in takes)
