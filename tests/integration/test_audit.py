"""What an outside audit broke (issue 19), each as it was reproduced: a regression test first.

Bad files are made the way the audit made them: a take's superblock bytes flipped, a take file
whose index claims millions of frames in 7 KB, a frame that is a 20000x20000 progressive JPEG,
an empty .h5, a YAML calibration 200,000 brackets deep, a FIFO named like a state file, a take
name with a newline in it, an output_dir with a trailing slash."""
import json
import os
import signal
import subprocess
import tempfile
import time

import h5py
import numpy as np
import pytest

from conftest import HANDRECCTL, HANDRECD, ROOT, make_config, wait_frames, wait_until
from offload import Offload, offload_conf
from takecheck import check_take, text
from test_offload import record, setup  # noqa: F401 (setup is the fixture)


def run_measured(args, timeout=60):
    """Run @args under GNU time (a small parent: the peak is the program's own, not a forked
    copy of this test's); (exit status, what it printed, its peak RSS in MB)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *args], capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout + p.stderr, int(rss.read().split()[-1]) / 1024


def take_of(ctl, seconds=1, hand="right"):
    out = ctl("start", "--hand", hand, "--duration", str(seconds), "--follow", timeout=60).stdout
    return [ln.strip() for ln in out.splitlines() if ln.strip().endswith(".h5") and ln.strip().startswith("/")][0]


def corrupt_superblock(path):
    """The audit's corrupt take: superblock bytes 20-27 flipped (its checksum then fails)."""
    with open(path, "r+b") as f:
        f.seek(20)
        b = bytearray(f.read(8))
        f.seek(20)
        f.write(bytes(x ^ 0xFF for x in b))


# ---- 1. boot recovery leaves finished takes alone ------------------------------------------

def test_restart_changes_no_finished_take(daemon_factory, ctl, outdir):
    d = daemon_factory(make_config(outdir, hands=("right",)))
    files = [take_of(ctl) for _ in range(2)]
    before = {f: os.stat(f) for f in files}
    d.stop()
    d.start()  # boot recovery looks at every take
    for f in files:
        st = os.stat(f)
        assert (st.st_mtime_ns, st.st_size) == (before[f].st_mtime_ns, before[f].st_size), f
    # a take a crash left is still recovered
    path = ctl("start", "--hand", "right").stdout.strip()
    wait_frames(ctl, hands=("right",), n=10)
    d.stop(signal.SIGKILL)
    d.start()
    check_take(path, status="recovered", reason="crash")


def test_uploaded_takes_are_removed_for_space_after_handrecd_restarts(setup, ctl):  # noqa: F811
    # four verified takes; handrecd restarted; then a space limit they all exceed: each removed
    d, o, remote, state = setup(hands=("right",))
    files = [record(ctl, "right")[0] for _ in range(4)]
    o.wait_verified(files)
    o.stop()
    d.stop()
    d.start()
    with open(d.config) as f:
        conf = f.read()
    with open(d.config, "w") as f:
        f.write(conf.replace("offload = {", "offload = {\n    max_takes_gb = 0.000001;"))
    o.start()
    o.wait_for(lambda u: not any(os.path.exists(f) for f in files), what="the verified takes to be removed")
    # handrecd deletes a take before it answers DiscardTake; the service counts it on the answer
    o.wait_for(lambda u: o.status()["Removed"] >= 4, what="the last removal to be answered")
    assert o.status()["Removed"] == 4, o.log_text()


# ---- 2. a corrupt take never freezes anyone -------------------------------------------------

def test_a_corrupt_take_costs_the_daemon_no_time(daemon_factory, ctl, outdir, busctl):
    d = daemon_factory(make_config(outdir, hands=("right",)))
    path = take_of(ctl)
    corrupt_superblock(path)
    t0 = time.monotonic()
    out = json.loads(ctl("takes", "--json", timeout=30).stdout)["takes"]
    listed = [t for t in out if t["file"] == path][0]
    assert listed["status"] == "unreadable" and listed["error"]
    # the main thread answers at once (the audit's daemon slept inside HDF5 for minutes)
    assert ctl("status", timeout=30).returncode == 0
    for args in (["check", path], ["info", path]):
        p = subprocess.run([HANDRECCTL, *args], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1
        # the reason, and no unrelated errno text beside it
        said = p.stdout + p.stderr
        assert "checksum" in said and "No such file or directory" not in said, said
    import handrec
    with pytest.raises(OSError):
        handrec.open_take(path)
    # DiscardTake refuses it as it refuses any file it cannot read as a take, at once too
    p = ctl("discard", path, check=False, timeout=30)
    assert p.returncode == 1 and "cannot be read as an HDF5 file" in p.stderr, p.stderr
    # every one of these in seconds, not the minutes HDF5's 100 growing retries took: the bound
    # is the calls' own timeouts above; what is asserted is that each answered
    print(f"corrupt take: takes, status, check, info, the reader and discard in {time.monotonic() - t0:.2f} s")


# ---- 3. one spelling of output_dir ----------------------------------------------------------

def test_a_trailing_slash_in_output_dir_changes_nothing(daemon_factory, ctl, outdir):
    daemon_factory(make_config(outdir + "//", hands=("right",)))
    path = take_of(ctl)
    assert "//" not in path and path.startswith(outdir + "/right/")
    assert [t["file"] for t in json.loads(ctl("takes", "--json").stdout)["takes"]] == [path]
    ctl("discard", path)
    assert not os.path.exists(path)


# ---- 6. a FIFO in the uploader's state folder ------------------------------------------------

def test_a_fifo_named_like_a_state_file_freezes_nothing(tmp, daemon_factory, ctl, small_disk):
    state = os.path.join(tmp, "state")
    os.makedirs(os.path.join(state, "right"))
    rclone_conf = os.path.join(tmp, "rclone.conf")
    open(rclone_conf, "w").close()
    conf = make_config(small_disk, hands=("right",), min_free_mb=1) + offload_conf(tmp, rclone_conf, state)
    d = daemon_factory(conf)
    path = take_of(ctl)
    os.mkfifo(os.path.join(state, "right", os.path.basename(path) + ".state"))
    # the disk too full for a take: the refusal counts the upload backlog from the state files
    with open(os.path.join(small_disk, "filler"), "wb") as f:
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        f.write(b"\0" * max(0, free - 512 * 1024))
    p = ctl("start", "--hand", "right", check=False, timeout=30)
    assert p.returncode == 1 and "not yet uploaded" in p.stderr, p.stderr
    assert ctl("status", timeout=30).returncode == 0


# ---- 7. hostile take files: bounded by what a take can be ------------------------------------

INDEX = [("offset", "u8"), ("timestamp_ns", "i8"), ("left_timestamp_ns", "i8"), ("right_timestamp_ns", "i8"),
         ("left_sequence", "u4"), ("right_sequence", "u4"), ("size", "u4")]


def claiming_file(path, frames, status="complete"):
    """7 KB of HDF5 whose index claims @frames frames (chunks never written read as zeros)."""
    with h5py.File(path, "w", libver="latest") as f:
        f.attrs["format"] = "handrec"
        f.attrs["status"] = status
        f.attrs["eye_width"] = 320
        f.attrs["eye_height"] = 240
        for name, dt in INDEX:
            f.create_dataset("stereo/" + name, shape=(frames,), maxshape=(None,), dtype=dt, chunks=(1024,))
        f.create_dataset("stereo/jpeg", shape=(10 ** 9,), maxshape=(None,), dtype="u1", chunks=(512 * 1024,))


@pytest.mark.native_daemon  # peak RSS of the tools: the ASan build's shadow memory would be counted
def test_a_file_claiming_millions_of_frames_costs_no_memory(tmp):
    path = os.path.join(tmp, "claims.h5")
    claiming_file(path, 50_000_000)
    assert os.path.getsize(path) < 16384
    crashed = os.path.join(tmp, "claims-recording.h5")  # what recovery opens
    claiming_file(crashed, 50_000_000, status="recording")
    for args in (["check", path], ["info", path], ["recover", crashed]):
        rc, said, mb = run_measured([HANDRECCTL, *args])
        assert rc == 1, (args, said)
        assert "claims 50000000 frames, more than a file of" in said, said
        assert mb < 100, (args, mb)


def progressive_jpeg(width, height):
    """A small progressive JPEG whose frame header claims @width x @height (the audit's 12 KB file:
    libjpeg holds every coefficient of a progressive image, whatever it decodes to)."""
    import cv2
    img = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_QUALITY, 50])
    assert ok
    b = bytearray(buf.tobytes())
    sof = b.index(b"\xff\xc2")  # SOF2: length (2), precision (1), height (2), width (2)
    b[sof + 5:sof + 7] = height.to_bytes(2, "big")
    b[sof + 7:sof + 9] = width.to_bytes(2, "big")
    return bytes(b)


@pytest.mark.native_daemon  # peak RSS, as above
def test_a_huge_progressive_jpeg_in_a_take_costs_no_memory(daemon_factory, ctl, outdir):
    d = daemon_factory(make_config(outdir, hands=("right",)))
    path = take_of(ctl)
    d.stop()
    big = progressive_jpeg(20000, 20000)
    with h5py.File(path, "r+") as f:
        # frame 0 replaced by a 20000x20000 JPEG of the same few bytes' length or less
        size = int(f["stereo/size"][0])
        assert len(big) <= size, (len(big), size)
        f["stereo/jpeg"][0:len(big)] = np.frombuffer(big, np.uint8)
        f["stereo/size"][0] = len(big)
    rc, said, mb = run_measured([HANDRECCTL, "check", path])
    assert rc == 1 and "20000x20000, larger than the take's 640x240 frames" in said, said
    assert mb < 100, mb


def test_an_empty_h5_is_left_empty(daemon_factory, ctl, outdir):
    os.makedirs(os.path.join(outdir, "right"), mode=0o750)
    empty = os.path.join(outdir, "right", "20200101-000000.h5")
    open(empty, "w").close()
    d = daemon_factory(make_config(outdir, hands=("right",)))  # boot recovery looks at it
    assert os.path.getsize(empty) == 0
    assert f"Cannot recover {empty}, left as it is: {empty} is empty" in d.log_text()
    p = subprocess.run([HANDRECCTL, "recover", empty], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "is empty: not a take" in p.stderr and os.path.getsize(empty) == 0
    listed = [t for t in json.loads(ctl("takes", "--json").stdout)["takes"] if t["file"] == empty][0]
    assert listed["status"] == "unreadable" and listed["error"] == "an empty file, not a take"


def test_an_hdf5_file_that_is_not_a_take_is_listed_as_such(daemon_factory, ctl, outdir):
    os.makedirs(os.path.join(outdir, "right"), mode=0o750)
    other = os.path.join(outdir, "right", "20200101-000000.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    daemon_factory(make_config(outdir, hands=("right",)))
    listed = [t for t in json.loads(ctl("takes", "--json").stdout)["takes"] if t["file"] == other][0]
    assert listed["status"] == "unreadable" and "not a take" in listed["error"]


def test_sequence_numbers_that_go_back_are_not_billions_of_gaps(daemon_factory, ctl, outdir):
    daemon_factory(make_config(outdir, hands=("right",)))
    path = take_of(ctl)
    with h5py.File(path, "r+") as f:
        seq = f["stereo/left_sequence"]
        seq[len(seq) // 2] = 0  # a camera that restarted its numbers
    out = ctl("info", path).stdout
    assert "times the sequence numbers went back" in out
    for line in out.splitlines():
        if "frames missing" in line:
            assert int(line.split()[0]) < 1000, line


# ---- 8. a calibration nested 200,000 deep ----------------------------------------------------

def test_a_deeply_nested_calibration_is_refused_at_its_line(tmp, outdir):
    deep = os.path.join(tmp, "deep.yaml")
    with open(deep, "w") as f:
        f.write("%YAML:1.0\ncamera_matrix: " + "[" * 200000 + "]" * 200000 + "\n")
    conf = os.path.join(tmp, "deep.conf")
    with open(conf, "w") as f:
        f.write(make_config(outdir, hands=("right",)).replace(
            "right_hand = {", f'right_hand = {{\n    calibration = "{deep}";', 1))
    p = subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert f"{deep}:2: nested more than 64 deep" in p.stderr, p.stderr


# ---- 9. a take name with a newline ------------------------------------------------------------

def test_a_name_with_a_newline_is_never_uploaded_nor_removed(setup, ctl, outdir):  # noqa: F811
    d, o, remote, state = setup(hands=("right",), max_takes_gb=0.000001)
    real = record(ctl, "right")[0]
    o.wait_for(lambda u: not os.path.exists(real), what="the real take to be uploaded and removed")
    evil = os.path.join(outdir, "right", "20300101-000000.h5\nstate=uploaded-verified\nx.h5")
    with open(real.replace(".h5", ".x"), "w"):
        pass
    # a copy of a take under a hostile name, complete and eligible but for its name
    subprocess.run(["cp", os.path.join(remote, "right", os.path.basename(real)), evil], check=True)
    o.stop()
    o.start()  # the scan at start sees it
    ctl("takes")  # a signal-free moment: the service has scanned by now if it is ready
    o.wait_for(lambda u: True)
    assert os.path.exists(evil)
    assert not any("\n" in p for p in o.uploads())
    assert not os.path.exists(os.path.join(state, "right", os.path.basename(evil) + ".state"))


# ---- 11. the clock stepped back ------------------------------------------------------------------

def test_names_keep_the_order_takes_began_when_the_clock_is_behind(daemon_factory, ctl, outdir):
    daemon_factory(make_config(outdir, hands=("right", "left")))
    first = take_of(ctl)
    # a take named while the clock ran ahead (a wrong RTC, put right by NTP since): the clock is
    # now behind the newest name, as after a step back
    ahead = os.path.join(outdir, "right", "20991231-235959.h5")
    subprocess.run(["cp", "-p", first, ahead], check=True)
    newer = take_of(ctl, hand="left")
    assert os.path.basename(newer) == "21000101-000000.h5", newer
    listed = [t["file"] for t in json.loads(ctl("takes", "--json").stdout)["takes"]]
    assert listed[0] == newer and listed[1] == ahead, listed
    with h5py.File(newer, "r") as f:
        # what the clock said, and what never steps back within a boot
        assert text(f.attrs["started_utc"]) < "2099"
        assert text(f.attrs["boot_id"]) == open("/proc/sys/kernel/random/boot_id").read().strip()
        assert 0 < int(f.attrs["started_monotonic_ns"]) <= int(f["stereo/timestamp_ns"][0])
    # discard --last deletes the take just recorded, not the one the clock named later
    ctl("discard", "--last")
    assert not os.path.exists(newer) and os.path.exists(ahead)


def test_a_read_only_output_folder_is_said_as_such(tmp, daemon_factory, ctl):
    ro = os.path.join(tmp, "ro")
    os.makedirs(ro)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", ro], check=True)
    try:
        os.makedirs(os.path.join(ro, "right"), mode=0o755)
        os.chmod(os.path.join(ro, "right"), 0o755)  # others may read: handrecd would make it 0750
        subprocess.run(["mount", "-o", "remount,ro", ro], check=True)
        daemon_factory(make_config(ro, hands=("right",)))
        p = ctl("start", "--hand", "right", check=False)
        assert p.returncode == 1
        assert "is on a read-only file system" in p.stderr and "written by others" not in p.stderr, p.stderr
    finally:
        subprocess.run(["umount", "-l", ro])


def unpack_zeros(data):
    """A take of tests/fuzz/regressions/take-file/: runs of zeros written as b"\\0HRZ" and a 3-byte
    little-endian length (tests/fuzz/seeds.py)."""
    out, at = bytearray(), 0
    while (i := data.find(b"\0HRZ", at)) >= 0:
        out += data[at:i] + bytes(int.from_bytes(data[i + 4:i + 7], "little"))
        at = i + 7
    return bytes(out + data[at:])


def test_a_take_hdf5_loops_on_does_not_hold_the_start(daemon_factory, ctl, outdir):
    # the fuzzer's find: a take a crash left open (its SWMR flags set) whose global heap has a
    # free-space object of size 0, on which HDF5 1.10.8 loops forever; handrecd's start read every
    # take's status with HDF5 and never became ready, nor stopped on SIGTERM. Now a take left open
    # has its status read in a child process given RECOVER_PROBE_SECONDS (10); finished takes are
    # not opened at start at all (their superblock says they are finished).
    src = os.path.join(ROOT, "tests", "fuzz", "regressions", "take-file", "hdf5-global-heap-free-space-size-0.h5z")
    data = unpack_zeros(open(src, "rb").read())
    assert data[:8] == b"\x89HDF\r\n\x1a\n" and data[8] in (2, 3) and data[11] & 0x05  # left open by a writer
    os.makedirs(os.path.join(outdir, "right"))
    bad = os.path.join(outdir, "right", "20000101-000000.h5")
    with open(bad, "wb") as f:
        f.write(data)
    d = daemon_factory(make_config(outdir), start=False)
    d.start(timeout=120)  # READY=1 after the probe's 10 s: the start is not held (it was, forever)
    assert f"Cannot recover {bad}, left as it is: HDF5 did not read the status of {bad} in 10 s" in d.log_text()
    assert open(bad, "rb").read() == data  # left as it was
    ctl("start", "--hand", "right", "--duration", "0.5", "--follow")
    d.stop()
    assert d.proc.returncode == 0


def damaged_take(path):
    """The fuzzer's take whose global heap HDF5 1.10.8 goes round in forever, at @path."""
    src = os.path.join(ROOT, "tests", "fuzz", "regressions", "take-file", "hdf5-global-heap-free-space-size-0.h5z")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(unpack_zeros(open(src, "rb").read()))
    return path


def take_readers(parent):
    """The pids of @parent's take reader children (lib/take-reader.h), with the files they hold."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            comm, ppid = stat[stat.index("(") + 1:stat.rindex(")")], int(stat[stat.rindex(")") + 2:].split()[1])
            if comm == "hr-takereader" and ppid == parent:
                fds = os.listdir(f"/proc/{pid}/fd")
                found[int(pid)] = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds}
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return found


def test_a_take_hdf5_loops_on_holds_no_listing_discard_or_call(daemon_factory, ctl, outdir):
    # the same file once handrecd runs (recovery leaves it as it is): ListTakes, DiscardTake and
    # `handrecctl takes` read each take's attributes with HDF5 in handrecd's main thread, which
    # went round in this file forever; the daemon answered nothing more, until its watchdog. Now
    # a child reads them (hr-takereader), killed once it has spent 1 s of CPU time on a file; the
    # loop goes on meanwhile; a file it went round in is remembered while unchanged. Three copies,
    # so that the listings wait seconds on them, whatever the machine's load.
    d = daemon_factory(make_config(outdir))
    good = take_of(ctl)
    bad = [damaged_take(os.path.join(outdir, "right", f"2000010{i}-000000.h5")) for i in (3, 2, 1)]
    listings = [subprocess.Popen([HANDRECCTL, "--user", "--json", "takes"], env=d.bus.env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    # each listing's child holds the first damaged file: four listings wait, a fifth is refused,
    # and handrecd answers meanwhile
    wait_until(lambda: sum(bad[0] in files for files in take_readers(d.proc.pid).values()) == 4, 120,
               "four take readers to read the first damaged file")
    fifth = ctl("takes", check=False, timeout=30)
    assert fifth.returncode != 0 and "4 ListTakes calls are being answered already" in fifth.stderr, fifth.stderr
    assert ctl("status", timeout=30).returncode == 0
    assert all(p.poll() is None for p in listings), "a listing answered before it read the damaged files"
    for listing in listings:
        out, err = listing.communicate(timeout=300)
        assert listing.returncode == 0, err
        takes = {t["file"]: t for t in json.loads(out)["takes"]}
        assert takes[good]["status"] == "complete"
        for b in bad:
            assert takes[b]["status"] == "unreadable"
            assert "a damaged file: HDF5 went round in it for 1 s of CPU time" in takes[b]["error"], takes[b]
    # each said once in the log, with what to do; remembered: the next listing reads none again
    said = [f"{b}: a damaged file: HDF5 went round in it for 1 s of CPU time" for b in bad]
    assert [d.log_text().count(x) for x in said] == [1, 1, 1], d.log_text()
    assert "it is listed as unreadable. Move it out of the output folder, then handrecctl check it." in d.log_text()
    again = {t["file"]: t for t in json.loads(ctl("--json", "takes", timeout=30).stdout)["takes"]}
    assert [again[b]["status"] for b in bad] == ["unreadable"] * 3 and again[good]["status"] == "complete"
    # DiscardTake refuses one, saying why; neither it nor the listing read them again
    p = ctl("discard", bad[0], check=False, timeout=30)
    assert p.returncode == 1 and "a damaged file: HDF5 went round in it" in p.stderr, p.stderr
    assert os.path.exists(bad[0])
    assert [d.log_text().count(x) for x in said] == [1, 1, 1], d.log_text()
    ctl("discard", good)
    assert not os.path.exists(good)
    # no child outlives what it read for
    wait_until(lambda: not take_readers(d.proc.pid), 30, "handrecd's take readers to end")
    d.stop()
    assert d.proc.returncode == 0


def test_a_take_hdf5_loops_on_holds_no_upload(setup, ctl, outdir):  # noqa: F811
    # handrec-offload read each take's status with HDF5 in its only thread: a damaged take in the
    # folder stopped every upload. Now its child is killed after 1 s of CPU time on it; the take
    # is said once and not uploaded, and the others are.
    d, o, remote, state = setup(hands=("right",), start_offload=False)
    bad = damaged_take(os.path.join(outdir, "right", "20000101-000000.h5"))
    o.start()
    files = record(ctl, "right")
    o.wait_verified(files)
    said = "right/20000101-000000.h5: a damaged file: HDF5 went round in it for 1 s of CPU time"
    o.wait_for(lambda u: said in o.log_text(), what="the damaged take to be said")
    assert o.log_text().count(said) == 1, o.log_text()
    assert "it is not uploaded. Move it out of the output folder, then handrecctl check it." in o.log_text()
    assert not os.path.exists(os.path.join(remote, "right", os.path.basename(bad)))
    wait_until(lambda: not take_readers(o.proc.pid), 30, "handrec-offload's take reader to end")
