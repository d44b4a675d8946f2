"""handrec-offload (issue 11): finished takes uploaded with the real rclone, verified, their state
durable, space reclaimed only from verified takes, and every fault leaving nothing lost.

The remotes: a folder (rclone's local backend) here; a real S3 server (s3rver) and WebDAV
(rclone serve) in test_offload_remote.py."""
import filecmp
import json
import os
import signal
import subprocess
import time

import dbus
import h5py
import pytest

from conftest import make_config, wait_frames, wait_until
from offload import Offload, offload_conf, read_state
from takecheck import check_take, text


@pytest.fixture
def setup(tmp, outdir, daemon_factory, bus):
    """(daemon, offload, remote folder, state folder) with a folder as the remote."""
    remote = os.path.join(tmp, "remote")
    state = os.path.join(tmp, "state")
    os.makedirs(remote)
    rclone_conf = os.path.join(tmp, "rclone.conf")
    open(rclone_conf, "w").close()
    made = []

    def make(start_offload=True, hands=("right", "left"), min_free_mb=1, out=None, camera={}, **settings):
        text = make_config(out or outdir, hands=hands, min_free_mb=min_free_mb, **camera)
        text += offload_conf(remote, rclone_conf, state, **settings)
        d = daemon_factory(text)
        o = Offload(bus, tmp, d.config)
        made.append(o)
        if start_offload:
            o.start()
        return d, o, remote, state

    yield make
    for o in made:
        if o.proc and o.proc.poll() is None:
            o.stop(signal.SIGKILL)


def point_remote(config, old, new):
    """Edit the config's offload.remote (the service reads it when it starts)."""
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(text.replace(f'remote = "{old}"', f'remote = "{new}"'))


def record(ctl, *hands, seconds=1):
    args = ["start", "--duration", str(seconds), "--follow"]
    for h in hands:
        args += ["--hand", h]
    out = ctl(*args, timeout=60).stdout
    return sorted({line.strip() for line in out.splitlines() if line.strip().endswith(".h5")
                   and line.strip().startswith("/")})


def slow_upload(setup, ctl):
    """One hand's 2 s take uploading at 300 kB/s (seconds of it): (offload, remote, state folder,
    take), once the copy has moved some bytes."""
    d, o, remote, state = setup(hands=("right",), camera=dict(width=640, height=480), bwlimit="300k")
    f = record(ctl, "right", seconds=2)[0]
    o.wait_uploading(f)
    return o, remote, state, f


def remote_copy(remote, path):
    return os.path.join(remote, *path.split("/")[-2:])


def test_finished_takes_are_uploaded_and_verified(setup, ctl):
    d, o, remote, state = setup()
    files = record(ctl, "right", "left")
    assert len(files) == 2, files
    up = o.wait_verified(files + manifests(files))  # the episode's manifest after them
    for f in files:
        check_take(f)
        assert filecmp.cmp(f, remote_copy(remote, f), shallow=False)  # the bytes, compared
        s = read_state(state, f)
        assert s["state"] == "uploaded-verified" and s["check"].startswith("md5:") and s["error"] == ""
        assert int(s["size"]) == os.path.getsize(f) and int(s["attempts"]) == 1 and s["file"] == f
        assert up[f]["remote"] == remote_copy(remote, f) and up[f]["take_status"] == "complete"
        assert oct(os.stat(os.path.join(state, f.split("/")[-2])).st_mode & 0o777) == "0o755"
    st = o.status()
    assert st["State"] == "idle" and st["TakesBehind"] == 0 and st["BytesBehind"] == 0 and st["Uploaded"] == 2
    assert st["LastError"] == "" and st["Remote"] == remote
    # learnt from RecordingStopped: the periodic scan is an hour away in the tests (offload.py)
    assert "Uploaded and verified" in o.log_text()


def manifest_of(path):
    """The manifest of the episode the take @path is of, and its path."""
    with h5py.File(path, "r") as f:
        episode = text(f.attrs["episode"])
    out = os.path.join(os.path.dirname(os.path.dirname(path)), "episodes", episode + ".json")
    with open(out) as f:
        return json.load(f), out


def manifests(files):
    """The manifests of the episodes of the takes @files."""
    return sorted({manifest_of(f)[1] for f in files})


def decision_on_remote(copy):
    """The decision in the remote's copy of a manifest, or None while rclone is still writing it
    again (seen once: read empty between its truncation and its bytes)."""
    try:
        with open(copy) as f:
            return json.load(f).get("decision")
    except ValueError:
        return None


def test_manifests_are_uploaded_and_again_after_a_decision(setup, ctl):
    # issue 20: handrec-offload uploads the episodes' manifests with their takes, to
    # <remote>/episodes/<id>.json, again when the operator decides; not counted as takes
    d, o, remote, state = setup()
    files = record(ctl, "right", "left")
    m, local = manifest_of(files[0])
    o.wait_verified(files + [local])
    copy = os.path.join(remote, "episodes", os.path.basename(local))
    assert json.load(open(copy)) == m and m["outcome"] == "complete" and not m["decision"]
    st = o.status()
    assert st["Uploaded"] == 2 and st["TakesBehind"] == 0, st
    ctl("keep", "--episode", m["episode"], "--success", "--note", "fine")
    # EpisodeDecided: the new manifest goes up, its state verified against the new bytes
    o.wait_for(lambda u: decision_on_remote(copy) == "kept" and u[local]["state"] == "uploaded-verified",
               what="the decided manifest on the remote")
    assert filecmp.cmp(local, copy, shallow=False)
    assert json.load(open(copy))["success"] is True and json.load(open(copy))["note"] == "fine"
    assert int(read_state(state, local)["attempts"]) >= 1 and o.status()["Uploaded"] == 2


def test_takes_recorded_while_it_was_down_are_found_at_start(setup, ctl):
    d, o, remote, state = setup(start_offload=False)
    files = record(ctl, "right") + record(ctl, "left")
    assert not os.listdir(remote)
    o.start()
    o.wait_verified(files + manifests(files))
    for f in files:
        assert filecmp.cmp(f, remote_copy(remote, f), shallow=False)
    # and a restart uploads nothing again: the state is durable
    o.stop()
    o.start()
    assert o.status()["Uploaded"] == 0 and o.status()["TakesBehind"] == 0
    assert all(u["state"] == "uploaded-verified" and u["attempts"] == 1 for u in o.uploads().values()), o.uploads()


def test_a_take_being_recorded_is_not_uploaded_and_a_recovered_one_is(setup, ctl, daemon_factory):
    d, o, remote, state = setup(hands=("right",))
    path = ctl("start", "--hand", "right").stdout.strip().splitlines()[0]
    wait_frames(ctl, hands=("right",), n=40)  # a take well under way
    up = o.wait_for(lambda u: path in u, what="the take to be listed from its RecordingStarted")
    assert up[path]["state"] == "pending" and up[path]["take_status"] != "complete", up
    assert o.status()["TakesBehind"] == 0  # not behind: it is not finished
    assert not os.path.exists(remote_copy(remote, path))
    # a crash leaves it "recording"; handrecd recovers it at its next start, and then it goes
    d.stop(signal.SIGKILL)
    time.sleep(1)
    assert not os.path.exists(remote_copy(remote, path))
    d.start()
    up = o.wait_verified([path])
    assert up[path]["take_status"] == "recovered"
    check_take(path, status="recovered", decode=False, stamps=False)
    assert filecmp.cmp(path, remote_copy(remote, path), shallow=False)


def test_a_take_discarded_before_its_upload_is_not_uploaded(setup, ctl):
    # while the service is down
    d, o, remote, state = setup(start_offload=False, hands=("right",))
    gone = record(ctl, "right")[0]
    kept = record(ctl, "right")[0]
    ctl("discard", gone)
    o.start()
    o.wait_verified([kept])
    assert not os.path.exists(remote_copy(remote, gone)) and gone not in o.uploads()
    # while it runs but cannot upload (the remote refuses): the discarded take's state goes too
    o.stop()
    point_remote(d.config, remote, "nosuchremote:bucket")
    o.start()
    failed = record(ctl, "right")[0]
    o.wait_for(lambda u: u.get(failed, {}).get("state") == "failed", what="the upload to fail")
    assert "nosuchremote" in o.uploads()[failed]["error"]
    assert os.path.exists(os.path.join(state, "right", os.path.basename(failed) + ".state"))
    ctl("discard", failed)
    o.wait_for(lambda u: failed not in u, what="the discarded take to be forgotten")
    # an attempt may have left a partial copy, and the remote cannot be reached to delete it: the
    # state file that names the copy stays, for the next start
    o.wait_for(lambda u: "tried again when handrec-offload next starts" in o.log_text(),
               what="the failed deletion to be said")
    failed_state = os.path.join(state, "right", os.path.basename(failed) + ".state")
    assert os.path.exists(failed_state)
    o.stop()
    o.start()  # the remote still cannot be reached: tried again, and kept again
    o.wait_for(lambda u: o.log_text().count("tried again when handrec-offload next starts") == 2,
               what="the deletion to be tried again")
    assert os.path.exists(failed_state)
    o.stop()
    point_remote(d.config, "nosuchremote:bucket", remote)
    o.start()  # that remote is no longer configured: said, with what to do, and the state goes
    o.wait_for(lambda u: not os.path.exists(failed_state), what="the discarded take's state to go")
    assert (f"right/{os.path.basename(failed)} is no longer here; a partial copy of it may be left at "
            f"nosuchremote:bucket/right/{os.path.basename(failed)}, on a remote that offload.remote no longer "
            "names: remove it there by hand if it is.") in o.log_text()
    # the verified one keeps its state
    assert read_state(state, kept)["state"] == "uploaded-verified"


def test_a_take_discarded_while_the_service_was_down_mid_upload_leaves_no_copy(setup, ctl):
    """Killed mid-upload (as a power cut leaves it), the take discarded before the next start: the
    partial copy on the remote is deleted then, and only then is the take's state forgotten."""
    o, remote, state, f = slow_upload(setup, ctl)
    o.wait_for(lambda u: os.path.exists(remote_copy(remote, f)), what="a partial copy on the remote")
    o.stop(signal.SIGKILL)
    assert read_state(state, f)["state"] == "uploading"
    ctl("discard", f)
    assert os.path.exists(remote_copy(remote, f))  # nothing has run to remove it
    o.start()
    o.wait_for(lambda u: not os.path.exists(remote_copy(remote, f)),
               what="the partial copy to be removed from the remote")
    o.wait_for(lambda u: not os.path.exists(os.path.join(state, "right", os.path.basename(f) + ".state")),
               what="the take's state to be forgotten")
    log = o.log_text()
    assert "is no longer here; its partial copy" in log and "a partial copy of a take that was discarded" in log


def test_without_an_offload_group_it_says_so_and_uploads_nothing(tmp, outdir, daemon_factory, bus, ctl):
    d = daemon_factory(make_config(outdir, hands=("right",)))
    o = Offload(bus, tmp, d.config).start()
    try:
        record(ctl, "right")
        time.sleep(1)
        st = o.status()
        assert st["State"] == "off" and "no offload group in" in st["LastError"]
        assert "Getting takes off the board" in st["LastError"]
    finally:
        o.stop()


def test_bad_offload_settings_are_refused_with_the_line(tmp, outdir):
    conf = os.path.join(tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write(make_config(outdir, hands=("right",)) + 'offload = {\n  keep_free_gb = -2.0;\n};\n')
    from offload import OFFLOAD
    p = subprocess.run([OFFLOAD, "--user", "--config", conf], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "offload.remote: missing: where takes go" in p.stderr
    assert "offload.keep_free_gb: -2 is out of range" in p.stderr
    assert "is not usable; fix the lines above" in p.stderr


def free_mb(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 1e6


def fill(disk, leave_mb):
    with open(os.path.join(disk, "filler"), "wb") as f:
        while free_mb(disk) > leave_mb + 1:
            f.write(b"\0" * 1_000_000)
            f.flush()


def test_space_is_reclaimed_only_from_verified_takes(setup, ctl, small_disk):
    # a 40 MB disk with 24 MB free; keep 15 MB free
    fill(small_disk, 24)
    d, o, remote, state = setup(hands=("right",), out=small_disk, camera=dict(width=640, height=480),
                                keep_free_gb=0.015)
    first = []
    for _ in range(12):
        first.append(record(ctl, "right", seconds=1)[0])
        o.wait_for(lambda u: all(u.get(p, {}).get("state") == "uploaded-verified" for p in first
                                 if os.path.exists(p)), what="the takes to be verified")
        if not all(os.path.exists(p) for p in first):
            break
    o.wait_for(lambda u: free_mb(small_disk) >= 15, what="space to be reclaimed")
    removed = [p for p in first if not os.path.exists(p)]
    # handrecd deletes a take before it answers DiscardTake; the service forgets it on the answer
    o.wait_for(lambda u: o.status()["Removed"] >= len(removed), what="the last removal to be answered")
    assert removed and removed == first[:len(removed)], ("the oldest go first", removed, first)
    assert len(removed) < len(first), "only as many as needed"
    for p in first:  # every take is on the remote, whole
        assert os.path.getsize(remote_copy(remote, p)) > 0
        if os.path.exists(p):
            assert filecmp.cmp(p, remote_copy(remote, p), shallow=False)
        else:
            assert not os.path.exists(os.path.join(state, "right", os.path.basename(p) + ".state"))
    assert o.status()["Removed"] == len(removed)
    assert o.log_text().count("Removing ") == len(removed)

    # now the remote refuses: new takes stay, verified ones are removed for them, never the others
    o.stop()
    point_remote(d.config, remote, "nosuchremote:bucket")
    o.start()
    backlog = []
    for _ in range(20):
        p = ctl("start", "--hand", "right", "--duration", "1", "--follow", check=False, timeout=60)
        if p.returncode != 0:
            refusal = p.stderr
            break
        backlog.append(p.stdout.splitlines()[0].strip())
        o.wait_for(lambda u: u.get(backlog[-1], {}).get("state") == "failed", what="the upload to fail")
    else:
        pytest.fail("the disk never filled")
    for p in backlog:
        assert os.path.exists(p), f"{p} was removed unverified"
    for p in first:
        assert not os.path.exists(p), f"{p} (verified) was kept while the disk filled"
    assert "StorageFull" in refusal or "Only" in refusal, refusal
    n = len(backlog)
    assert f"{n} takes" in refusal and "not yet uploaded and verified by handrec-offload" in refusal, refusal
    assert "the upload backlog is what fills the disk" in refusal, refusal
    note = o.status()["SpaceNote"]
    assert "no take here is uploaded and verified" in note and f"{n} takes" in note, note
    assert o.log_text().count("no take here is uploaded and verified") == 1  # said once, not per scan


def test_introspection_xml_matches_the_service(setup, bus):
    from conftest import ROOT
    d, o, remote, state = setup(hands=("right",))
    live = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "introspect.py"), "--offload", "--user"],
                          env=bus.env, capture_output=True, text=True, check=True).stdout
    shipped = open(os.path.join(ROOT, "dbus", "org.handrec1.Offload.xml")).read()
    assert live.strip() == shipped.strip(), "dbus/org.handrec1.Offload.xml is out of date: run scripts/introspect.py --offload"


def test_an_unwritable_state_folder_is_said_once_and_uploads_go_on(tmp, outdir, daemon_factory, bus, ctl):
    blocker = os.path.join(tmp, "not-a-folder")
    open(blocker, "w").close()
    remote = os.path.join(tmp, "remote")
    os.makedirs(remote)
    conf = os.path.join(tmp, "rclone.conf")
    open(conf, "w").close()
    d = daemon_factory(make_config(outdir, hands=("right",)) + offload_conf(remote, conf, blocker + "/state"))
    o = Offload(bus, tmp, d.config).start()
    try:
        files = [record(ctl, "right"), record(ctl, "right")]
        files = [f[0] for f in files]
        o.wait_verified(files)
        for f in files:
            assert filecmp.cmp(f, remote_copy(remote, f), shallow=False)
        log = o.log_text()
        assert log.count("cannot write upload states in") == 1, log
        assert "let user handrec-offload write there (offload.state_dir)" in log
    finally:
        o.stop()


def test_rclone_runs_at_the_lowest_priorities_with_the_bandwidth_limit(setup, ctl):
    o, remote, state, f = slow_upload(setup, ctl)
    pids = o.rclone_pids()
    assert pids
    for pid in pids:
        with open(f"/proc/{pid}/cmdline", "rb") as c:
            argv = c.read().split(b"\0")
        assert b"copyto" in argv and argv[argv.index(b"--bwlimit") + 1] == b"300k", argv
        with open(f"/proc/{pid}/stat") as s:
            assert int(s.read().rsplit(")", 1)[1].split()[16]) == 19  # nice
        assert "idle" in subprocess.run(["ionice", "-p", str(pid)], capture_output=True, text=True).stdout
    o.stop()


def test_stopped_mid_upload_it_exits_cleanly_and_the_take_is_pending(setup, ctl):
    o, remote, state, f = slow_upload(setup, ctl)
    children = o.rclone_pids()
    assert o.stop(signal.SIGTERM) == 0
    s = read_state(state, f)
    assert s["state"] == "pending" and s["error"] == "interrupted: handrec-offload stopped", s
    for pid in children:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_a_take_discarded_mid_upload_leaves_no_copy_on_the_remote(setup, ctl):
    o, remote, state, f = slow_upload(setup, ctl)
    ctl("discard", f)
    o.wait_for(lambda u: f not in u and not os.path.exists(remote_copy(remote, f)),
               what="the partial copy to be removed from the remote")
    # said once rclone deletefile has ended (the copy may be gone a moment before), then the state goes
    o.wait_for(lambda u: "a partial copy of a take that was discarded" in o.log_text(),
               what="the removal of the partial copy to be said")
    o.wait_for(lambda u: not os.path.exists(os.path.join(state, "right", os.path.basename(f) + ".state")),
               what="the take's state to go")
    # and the service goes on with the next take
    g = record(ctl, "right")[0]
    o.wait_verified([g])


def take_without_episode(d, hand="right", seconds=1.0):
    """A take started by StartRecording with no episode (so no manifest), once it has ended."""
    conn = dbus.bus.BusConnection(d.bus.address)
    try:
        m = dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), "org.handrec1.Manager")
        f = str(m.StartRecording(hand, dbus.Dictionary({"duration": dbus.Double(seconds)}, signature="sv")))
        wait_until(lambda: str(m.Status(hand)["State"]) == "idle" and str(m.Status(hand)["File"]) == f,
                   what="the take to end")
        return f
    finally:
        conn.close()


def test_retry_ends_the_wait(setup, ctl):
    d, o, remote, state = setup(start_offload=False, hands=("right",), retry_seconds=600.0, retry_max_seconds=900.0)
    point_remote(d.config, remote, "nosuchremote:bucket")
    o.start()
    # a take of no episode (StartRecording): nothing else to upload, so the one try is its
    f = take_without_episode(d)
    o.wait_for(lambda u: u.get(f, {}).get("state") == "failed", what="the upload to fail")
    st = o.status()
    assert st["State"] == "waiting" and 590 < st["NextRetry"] <= 600, st
    o.retry()
    o.wait_for(lambda u: u[f]["attempts"] >= 2 and u[f]["state"] == "failed", what="Retry to try again")
    st = o.status()
    assert st["State"] == "waiting" and 890 < st["NextRetry"] <= 900, st  # failed again: 600 doubled, capped


def test_max_takes_gb_removes_verified_takes_only(setup, ctl):
    # at most 1 kB of takes: every take is removed, each once it is verified, never before
    d, o, remote, state = setup(hands=("right",), max_takes_gb=0.000001)
    files = [record(ctl, "right")[0] for _ in range(2)]
    o.wait_for(lambda u: not any(os.path.exists(f) for f in files), what="the verified takes to be removed")
    # handrecd deletes a take before it answers DiscardTake; the service counts it on the answer
    o.wait_for(lambda u: o.status()["Removed"] >= 2, what="the last removal to be answered")
    for f in files:
        assert os.path.getsize(remote_copy(remote, f)) > 0
    assert o.status()["Removed"] == 2
    assert o.log_text().count("Removing ") == 2 and "Uploaded and verified" in o.log_text()


def test_a_hand_folder_it_cannot_read_keeps_its_takes_state(setup, ctl, outdir):
    d, o, remote, state = setup()
    right = record(ctl, "right")[0]
    o.wait_verified([right])
    os.rename(os.path.join(outdir, "right"), os.path.join(outdir, "right.away"))
    try:
        left = record(ctl, "left")[0]  # its signals make the service scan both folders
        o.wait_verified([left])
        assert read_state(state, right)["state"] == "uploaded-verified"
        assert "cannot read " in o.log_text() and "/right: " in o.log_text()
        assert "nothing of it is uploaded or removed until it is back" in o.status()["LastError"]
    finally:
        os.rename(os.path.join(outdir, "right.away"), os.path.join(outdir, "right"))
    record(ctl, "left")
    up = o.wait_for(lambda u: right in u, what="the folder to be read again")
    assert up[right]["state"] == "uploaded-verified" and up[right]["attempts"] == 1  # never uploaded twice
