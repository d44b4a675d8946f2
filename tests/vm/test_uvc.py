"""handrecd against USB Video Class cameras through the kernel's own uvcvideo driver (issue 21).

Two test cameras (tests/uvc, $BUILD/uvc-camera: the device side of USB/IP, sending real
side-by-side JPEGs over isochronous endpoints) are attached in a qemu VM with `usbip attach`
through vhci-hcd; tests/vm/uvc-guest.sh drives handrecd against them by their stable names
(/dev/v4l/by-id, made by tests/vm/uvc-udev.sh as udev would: the VM has no udev). This file
judges on the host what the guest recorded: each take read back with h5py, each stored frame
against the bytes the camera's log says it sent.

The VM boots once for the module; each test checks one scenario. Figures (frames sent, stored,
dropped; control round trips; unplug and replug times; the daemon's CPU per frame against a
replay of the same stream) are printed, and written to $BUILD/vm-uvc-figures.json.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

import vm  # noqa: E402
from takecheck import check_take, text  # noqa: E402

BUILD = os.environ.get("BUILD", "build")
MODULES = ["vhci-hcd", "uvcvideo"]
# The stream both hands record through uvcvideo: 1280x480 (two 640x480 eyes) at 15 fps, the
# largest the emulated guest carried with nothing dropped (docs/testing.md, issue 21's notes)
PASS = dict(PASS_W=640, PASS_H=480, PASS_FPS="15.0", PASS_SECONDS=30, REPLAY_SECONDS=30)
FPS = float(PASS["PASS_FPS"])
PERIOD_NS = 1e9 / FPS
COM = re.compile(rb"handrec-uvc frame (\d{10})")
FIGURES = {}

# camera.controls as uvc-guest.sh sets them: (configured name, value) per hand, and the value by
# v4l2-ctl's (and the camera log's) name
RIGHT_CONTROLS = {"brightness": 20, "contrast": 60, "gain": 30, "white_balance_automatic": 0,
                  "white_balance_temperature": 5000, "auto_exposure": 1, "exposure_time_absolute": 100}
LEFT_CONTROLS = {"brightness": -10, "contrast": 40, "gain": 10, "white_balance_automatic": 0,
                 "white_balance_temperature": 3500, "auto_exposure": 1, "exposure_time_absolute": 250}


@pytest.fixture(scope="module")
def guest(request):
    import uvc_inputs
    assert shutil.which("usbip"), "usbip is not installed (Debian package usbip: scripts/install-deps.sh all)"
    r = subprocess.run(["make", "-s", f"BUILD={BUILD}", f"{BUILD}/uvc-camera"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, f"cannot build the test camera:\n{r.stdout}{r.stderr}"
    inputs = uvc_inputs.make()
    out = tempfile.mkdtemp(prefix="handrec-vm-uvc-")
    os.chmod(out, 0o777)
    with open(os.path.join(out, "params"), "w") as f:
        f.write(f"INPUTS={inputs}\n" + "".join(f"{k}={v}\n" for k, v in PASS.items()))
    try:
        t0 = time.monotonic()
        # 1.5 GB: the longest take is kept in the guest's memory while it is recorded (uvc-guest.sh)
        rc, secs = vm.run(os.path.join(HERE, "uvc-guest.sh"), out, timeout=900, memory="1536", modules=MODULES)
    except vm.Unavailable as e:
        pytest.skip(f"qemu cannot run on this machine, so the VM tests cannot: {e}")
    results = vm.results(out)
    print(f"\nVM (UVC): booted and ran the scenarios in {time.monotonic() - t0:.1f} s (qemu exit {rc})")
    assert results.get("done") == "1", "the guest script did not finish:" + vm.logs(out, "console.log", "guest.log")

    def host_path(guest_path):
        assert guest_path.startswith("/run/out/"), guest_path
        return os.path.join(out, guest_path[len("/run/out/"):])

    def read(name):
        with open(os.path.join(out, name), errors="replace") as f:
            return f.read()
    read.folder = out  # guest_logs() lists it

    failed_before = request.session.testsfailed
    yield results, host_path, read, inputs
    if os.environ.get("HANDREC_VM_KEEP") or request.session.testsfailed > failed_before:
        print(f"\nVM (UVC): the guest's results kept in {out} (HANDREC_VM_KEEP, or a test failed)")
    else:
        shutil.rmtree(out, ignore_errors=True)
    with open(os.path.join(ROOT, BUILD, "vm-uvc-figures.json"), "w") as f:
        json.dump(FIGURES, f, indent=1, sort_keys=True)


# ---- what the cameras' logs say ------------------------------------------------------------

def camera_log(text_):
    """A camera's log as (sent, events): sent[N] = dict(first_ns, last_ns, size, image, at) for every
    frame sent whole; events: the other lines as (at_ns, words)."""
    sent, events = {}, []
    for line in text_.splitlines():
        w = line.split()
        if len(w) >= 7 and w[1] == "sent":
            sent[int(w[2])] = dict(first_ns=int(w[3]), last_ns=int(w[4]), size=int(w[5]), image=int(w[6]),
                                   at=int(w[0]))
        elif len(w) >= 2:
            events.append((int(w[0]), w[1:]))
    return sent, events


def rebuild(inputs, size_dir, number, image):
    """The bytes the camera sent as frame @number: file @image of its size with the COM segment."""
    names = sorted(n for n in os.listdir(os.path.join(inputs, "frames", size_dir)) if n.endswith(".jpg"))
    with open(os.path.join(inputs, "frames", size_dir, names[image]), "rb") as f:
        data = f.read()
    com = b"handrec-uvc frame %010d" % number
    return data[:2] + b"\xff\xfe" + (len(com) + 2).to_bytes(2, "big") + com + data[2:]


def stored_frames(path, sequences=False):
    """Each stored frame's camera number (from its COM segment), bytes and timestamp, and with
    @sequences its V4L2 sequence number (uvcvideo's count of the frames the camera sent)."""
    import handrec
    frames = []
    with handrec.open_take(path) as t:
        ts, seq = t.column("timestamp_ns"), t.column("left_sequence")
        for i in range(len(t)):
            jpeg = t.frame(i)
            m = COM.search(jpeg[:64])
            assert m, f"{path}: frame {i} has no frame number (COM segment): not the camera's JPEG"
            frames.append((int(m.group(1)), jpeg, int(ts[i])) + ((int(seq[i]),) if sequences else ()))
    return frames


def takes_of(read, name):
    return {t["hand"]: t["file"] for t in json.loads(read(f"{name}.start.json"))["takes"]}


def dropped_by_cause(attrs):
    return {k[len("dropped_"):]: int(v) for k, v in attrs.items() if k.startswith("dropped_") and int(v)}


# ---- the tests ----------------------------------------------------------------------------------

def test_cameras_enumerate_with_stable_names(guest):
    results, _, read, _ = guest
    assert results["attach.names"] == "0", "the by-id names never appeared:\n" + read("names.ls") + read("usbip.log")
    ports = results["attach.ports"].split(",")  # vhci-hcd's port of each camera, for usbip detach
    assert len(set(ports)) == 2 and all(p.isdigit() for p in ports), results["attach.ports"]
    names = read("names.ls")
    for serial, port in (("LEFT0001", 1), ("RIGHT0001", 2)):
        assert f"usb-handrec_Stereo_UVC_Camera_{serial}-video-index0 -> ../../video" in names, names
        assert f"platform-vhci_hcd.0-usb-0:{port}:1.0-video-index0 -> ../../video" in names, names
    ports = read("usbip-port.txt")
    assert "(1209:0001)" in ports and "usbip://127.0.0.1:3240/1-1" in ports and "usbip://127.0.0.1:3241/1-1" in ports


def test_cameras_stay_attached_between_scenarios(guest):
    """Nothing unplugs a camera but the unplug scenario: before each scenario both stable names are
    still there (uvc-guest.sh names_still; when one is not, lost-SCENARIO.txt says what the guest
    saw: the nodes, usbip's ports, the processes, the kernel's last lines)."""
    results, _, read, _ = guest
    for scenario in ("replay", "rect", "bus", "unplug"):
        assert results.get(f"names.{scenario}") == "0", \
            f"a camera's name was gone before the {scenario} scenario:\n" + guest_logs(read)


def test_devices_lists_the_uvc_cameras(guest):
    results, _, read, _ = guest
    assert results["devices_exit"] == "0"
    out = read("devices.txt")
    assert "(uvcvideo, usb-vhci_hcd.0-1)" in out and "(uvcvideo, usb-vhci_hcd.0-2)" in out, out
    for serial in ("LEFT0001", "RIGHT0001"):
        assert f"/dev/v4l/by-id/usb-handrec_Stereo_UVC_Camera_{serial}-video-index0" in out
    assert "MJPG (Motion-JPEG): 2560x720@60,30,15 1280x480@30,15" in out
    assert "YUYV (YUYV 4:2:2): 640x480@30,15" in out
    # uvcvideo's control names, as camera.controls takes them, with the camera's ranges
    assert "      brightness (int): min=-64 max=64 step=1 default=0 value=0\n" in out
    assert "      white_balance_temperature (int): min=2800 max=6500 step=10 default=4600 value=4600 inactive\n" in out
    assert ("      auto_exposure (menu): min=0 max=3 step=1 default=3 value=3\n          1: Manual Mode\n"
            "          3: Aperture Priority Mode\n") in out
    assert "      exposure_time_absolute (int): min=1 max=5000 step=1 default=156 value=156 inactive\n" in out


def check_passthrough(guest, hand):
    """Both hands' MJPEG passthrough: every frame the camera sent during the take is stored byte
    for byte, or counted as dropped with its cause; the timestamps are uvcvideo's, monotonic, never
    before the camera sent the frame and, in the median, within one frame period of it."""
    results, host_path, read, inputs = guest
    assert results["pass.warm"] == "0" and results["pass.start_exit"] == "0", read("pass.start.err")
    path = host_path(takes_of(read, "pass")[hand])
    attrs, n, _ = check_take(path, hand=hand, reason="duration", stamps=False)
    assert text(attrs["camera_format"]) == "MJPG" and text(attrs["jpeg_origin"]) == "camera"
    assert int(attrs["jpeg_quality"]) == 0 and int(attrs["eye_width"]) == 640 and int(attrs["eye_height"]) == 480
    assert text(attrs["timestamp_source"]) == "driver"
    sent, events = camera_log(read(f"cam-{hand}.log"))
    frames = stored_frames(path, sequences=True)
    numbers = [f[0] for f in frames]
    assert all(b > a for a, b in zip(numbers, numbers[1:])), "frames stored out of order"
    # byte for byte: each stored frame is exactly what the camera sent as that number
    same = 0
    for number, jpeg, _, _ in frames:
        assert number in sent, f"frame {number} stored but never sent whole by the camera"
        want = rebuild(inputs, "1280x480", number, sent[number]["image"])
        assert len(jpeg) == sent[number]["size"] == len(want), f"frame {number}: {len(jpeg)} bytes stored"
        assert hashlib.sha256(jpeg).digest() == hashlib.sha256(want).digest(), f"frame {number} differs"
        same += 1
    # uvcvideo counted every frame the camera sent, one for one: a stored frame's V4L2 sequence
    # number is its camera number plus a constant (a frame lost in the kernel would still count,
    # uvcvideo numbers frames whether it had a buffer for them or not, and handrecd counts the gap
    # as dropped_camera)
    offsets = {seq - number for number, _, _, seq in frames}
    assert len(offsets) == 1, f"uvcvideo's sequence numbers do not follow the camera's frames: {sorted(offsets)}"
    # the camera numbers the frames it sends consecutively: none between two sent is missing
    window = [k for k in sent if numbers[0] <= k <= numbers[-1]]
    assert len(window) == numbers[-1] - numbers[0] + 1, "the camera's log misses frames it numbered"
    # accounting: every frame sent between the first and the last stored is stored or counted as
    # dropped with its cause; stored + dropped (every cause) = the frames of the take
    missing = len(window) - n
    drops = dropped_by_cause(attrs)
    counted = int(attrs["frames_dropped"]) + int(attrs.get("dropped_camera", 0))
    assert sum(drops.values()) == counted, drops
    assert missing <= counted, f"{missing} frames sent but neither stored nor counted: {drops}"
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    # the take's own frames (captured, and the camera's gaps) against what the camera sent: the
    # drops the window does not hold are at its ends (the take's first or last frames)
    at_ends = counted - missing
    take_frames = n + counted
    # uvcvideo's timestamps against the camera's send times (the moment the URB holding the
    # frame's first packet was answered)
    ts = [f[2] for f in frames]
    assert all(b > a for a, b in zip(ts, ts[1:])), "timestamps not monotonic"
    # (never before it: the frame had not left; after it by the time the guest's kernel took to
    # take the URB in, which a loaded emulated machine can stretch: the median is what holds)
    delta = sorted(t - sent[k]["first_ns"] for k, _, t, _ in frames)
    assert delta[0] >= 0, f"a timestamp {delta[0] / 1e6:.1f} ms before its frame was sent"
    assert delta[len(delta) // 2] < PERIOD_NS, f"timestamps {delta[len(delta) // 2] / 1e6:.1f} ms after the send"
    late = sum(d >= PERIOD_NS for d in delta)
    skips = [w for at, w in events
             if w[0] == "skipped" and sent[numbers[0]]["at"] <= at <= sent[numbers[-1]]["at"]]
    skipped = {cause: sum(int(w[k][len(cause) + 1:]) for w in skips) for k, cause in ((3, "busy"), (4, "late"))}
    FIGURES[f"pass.{hand}"] = dict(sent=take_frames, sent_first_to_last_stored=len(window), stored=n,
                                   sha256_identical=same, sha256_differing=n - same, dropped=drops,
                                   dropped_total=counted, dropped_at_the_take_ends=at_ends,
                                   stored_plus_dropped=n + counted, camera_skipped_slots=skipped,
                                   timestamp_minus_send_ms=dict(min=round(delta[0] / 1e6, 2),
                                                                median=round(delta[len(delta) // 2] / 1e6, 2),
                                                                max=round(delta[-1] / 1e6, 2)),
                                   timestamps_a_period_late=late, seconds=int(PASS["PASS_SECONDS"]), fps=FPS)
    print(f"\n{hand}: sent {take_frames} in the take ({len(window)} from the first frame stored to the last), "
          f"stored {n} ({same} sha256-identical to what was sent, {n - same} differing), dropped {counted} "
          f"{drops} ({at_ends} at the take's ends); stored + dropped = {n + counted}; "
          f"uvcvideo's timestamps {delta[0] / 1e6:.1f} to {delta[-1] / 1e6:.1f} ms (median "
          f"{delta[len(delta) // 2] / 1e6:.1f}) after the send times, {late} a period or more; "
          f"the camera skipped {skipped['busy']} frame slots for its link still busy, {skipped['late']} for the host "
          f"late to ask")
    return attrs


def test_passthrough_left(guest):
    check_passthrough(guest, "left")


def test_passthrough_right(guest):
    check_passthrough(guest, "right")


def get_ctrl(out):
    """v4l2-ctl --get-ctrl's "name: value" lines as a dict (a menu's item by its number)."""
    return {k: int(v.split()[0]) for k, v in (line.split(": ", 1) for line in out.splitlines() if ": " in line)}


def controls_of(attrs, name):
    t = text(attrs[name])
    return {k: int(v) for k, v in (kv.split("=") for kv in t.split("; "))} if t else {}


def sets_after_last_plug(events, before_ns):
    """The camera's SET_CURs since it was last plugged in before @before_ns, in order."""
    plugs = [at for at, w in events if w[0] == "plug" and at < before_ns]
    return [(w[1], int(w[2])) for at, w in events if w[0] == "set" and at > plugs[-1] and at < before_ns]


@pytest.mark.parametrize("hand", ["left", "right"])
def test_controls_through_uvcvideo(guest, hand):
    """camera.controls by v4l2-ctl's names (the left hand by their names before Linux 5.x:
    exposure_auto, exposure_absolute, white_balance_temperature_auto) reach the camera as
    SET_CUR, switches before the values they unlock, and read back by v4l2-ctl and in the take."""
    results, host_path, read, _ = guest
    want = LEFT_CONTROLS if hand == "left" else RIGHT_CONTROLS
    assert get_ctrl(read(f"pass.{hand}.ctrl")) == want
    sent, events = camera_log(read(f"cam-{hand}.log"))
    stream_on = [at for at, w in events if w[0] == "stream" and w[1] == "on"][0]
    seen = sets_after_last_plug(events, stream_on)
    assert dict(seen) == want, seen
    order = [name for name, _ in seen]
    assert order.index("auto_exposure") < order.index("exposure_time_absolute")
    assert order.index("white_balance_automatic") < order.index("white_balance_temperature")
    assert not [w for _, w in events if w[0] == "refused"], "the camera refused a control"
    attrs, _, _ = check_take(host_path(takes_of(read, "pass")[hand]), stamps=False, decode=False)
    stored = controls_of(attrs, "camera_controls")
    assert {k: stored[k] for k in want} == want
    FIGURES[f"controls.{hand}"] = {k: dict(configured=v, camera_saw=dict(seen)[k], v4l2_ctl=get_ctrl(
        read(f"pass.{hand}.ctrl"))[k], stored=stored[k]) for k, v in want.items()}


def test_replay_comparison_and_cpu(guest):
    """The daemon's CPU per frame for MJPEG passthrough from uvcvideo against the same stream from
    a replay folder, in the same VM: figures, and both takes complete."""
    results, host_path, read, _ = guest
    assert results["replay.warm"] == "0" and results["replay.start_exit"] == "0", read("replay.start.err")
    tck = int(results["clk_tck"])
    per = {}
    for name in ("pass", "replay"):
        frames = 0
        for hand, file in takes_of(read, name).items():
            attrs, n, _ = check_take(host_path(file), hand=hand, reason="duration", stamps=False, decode=False)
            assert text(attrs["jpeg_origin"]) == "camera"
            frames += n
        per[name] = int(results[f"{name}.cpu_ticks"]) / tck / frames * 1e3
    FIGURES["cpu_ms_per_frame"] = dict(uvcvideo=round(per["pass"], 2), replay=round(per["replay"], 2),
                                       ratio=round(per["pass"] / per["replay"], 2))
    print(f"\nhandrecd's CPU per frame stored, both hands, MJPEG passthrough at {FPS:g} fps in the TCG guest: "
          f"from uvcvideo {per['pass']:.2f} ms, from a replay {per['replay']:.2f} ms "
          f"({per['pass'] / per['replay']:.2f}x)")


def test_rectified_from_the_uvc_stream(guest):
    """The same MJPEG stream decoded, rectified and encoded: a rectified take at the eyes' size,
    every frame captured stored or counted (an emulated CPU cannot rectify 15 fps: the encoders'
    drops are counted, never silent)."""
    results, host_path, read, _ = guest
    assert results["rect.warm"] == "0" and results["rect.start_exit"] == "0", read("rect.start.err") + guest_logs(read)
    attrs, n, _ = check_take(host_path(takes_of(read, "rect")["right"]), hand="right", reason="duration",
                             stamps=False)
    assert n >= 1 and int(attrs["rectified"]) == 1 and text(attrs["jpeg_origin"]) == "handrecd"
    assert text(attrs["camera_format"]) == "MJPG"
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    assert sum(dropped_by_cause(attrs).get(c, 0) for c in ("encoder_busy", "queue_full")) <= int(attrs["frames_dropped"])
    FIGURES["rectified"] = dict(stored=n, captured=int(attrs["frames_captured"]), dropped=dropped_by_cause(attrs))


def guest_logs(read):
    """What the guest saw of the cameras, for a failure's message: the cameras' errors (and how
    one ended, if it did), the by-id names made and removed, usbip's lines, the snapshot taken
    when a name was missing before a scenario, and the kernel's last lines."""
    parts = []
    lost = sorted(n for n in os.listdir(read.folder) if n.startswith("lost-"))  # names_still's snapshots
    for name, last in [("cam-left.err", 25), ("cam-right.err", 25), ("udev.log", 25), ("usbip.log", 25)] + \
            [(n, None) for n in lost] + [("console.log", 25)]:
        try:
            lines = read(name).splitlines()
        except OSError:
            continue
        parts.append(f"--- {name}" + (" (last lines)\n" if last else "\n") + "\n".join(lines[-last if last else 0:]))
    return "\n".join(parts)


def kernel_oops_on_close(read):
    """Debian 12's kernel (6.1) can oops when the last close of a uvcvideo node races its USB
    disconnect (a NULL pointer in ida_free() under media_device_unregister_entity(), from
    v4l2_release()): the closing thread, handrecd's source thread, is killed in the kernel. Seen
    about once in ten unplugs here; the bug is the kernel's, and handrecd cannot go on without
    that thread. Return: the oops's first lines when the console shows it, else ""."""
    console = read("console.log")
    at = console.find("BUG: kernel NULL pointer dereference")
    if at < 0 or "v4l2_release" not in console[at:at + 4000]:
        return ""
    return "\n".join(line for line in console[at:at + 4000].splitlines() if "ida_free" in line or "BUG" in line
                     or "Comm:" in line or "v4l2_release" in line)


def test_unplug_and_replug(guest):
    """usbip detach mid-take (a USB disconnect: uvcvideo's device goes) ends the take device-lost
    with a complete file; attached again, the camera comes back with its defaults, handrecd sets
    its controls again and records."""
    results, host_path, read, _ = guest
    assert results["unplug.warm"] == "0" and results["unplug.written"] == "0", guest_logs(read)
    assert results["unplug.detach_exit"] == "0" and results["unplug.ended"] == "0"
    attrs, n, _ = check_take(host_path(results["unplug.file"]), hand="right", reason="device-lost", stamps=False)
    assert n >= 20 and int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    assert "[RIGHT] stopped (device-lost)" in read("unplug.watch.out")
    oops = kernel_oops_on_close(read)
    if oops:  # the take ended device-lost with its file complete (above); the rest needs the thread
        pytest.xfail("the guest's kernel oopsed as handrecd closed the unplugged camera (Linux 6.1's "
                     "uvcvideo and media core: docs/testing.md), killing its source thread:\n" + oops)
    assert results["unplug.no_device"] == "0", "State did not become no-device"
    # the by-id name went with it (or, caught between uvcvideo's disconnect and the node's
    # removal, the node refused the open)
    last = read("unplug.lasterror.txt")
    assert "usb-handrec_Stereo_UVC_Camera_RIGHT0001" in last, last
    assert "No such file or directory" in last or "No such device" in last, last
    assert results["unplug.start_while_missing_exit"] == "1"
    assert "camera is not available" in read("unplug.refused.out")
    assert results["replug.idle"] == "0", "the daemon did not pick the camera up again"
    _, events = camera_log(read("cam-right.log"))
    plugs = [at for at, w in events if w[0] == "plug"]
    assert len(plugs) == 2 and [w for _, w in events if w[0] == "unplug"], "the camera did not see the unplug"
    stream_on = [at for at, w in events if w[0] == "stream" and w[1] == "on" and at > plugs[1]][0]
    assert dict(sets_after_last_plug(events, stream_on)) == RIGHT_CONTROLS  # set again after the replug
    assert get_ctrl(read("replug.right.ctrl")) == RIGHT_CONTROLS
    attrs, n, _ = check_take(host_path(results["replug.file"]), hand="right", reason="duration", stamps=False)
    assert n >= 1
    figures = {k: int(results[k]) for k in ("unplug.detach_cmd_ms", "unplug.lost_ms", "replug.attach_cmd_ms",
                                              "replug.name_ms", "replug.ready_ms")}
    FIGURES["unplug"] = figures
    print(f"\nunplug (usbip detach, itself {figures['unplug.detach_cmd_ms']} ms) to the take ended: "
          f"{figures['unplug.lost_ms']} ms; plug (usbip attach, itself {figures['replug.attach_cmd_ms']} ms) to the "
          f"by-id name: {figures['replug.name_ms']} ms, to State idle (ready): {figures['replug.ready_ms']} ms "
          f"(States polled every 50 ms or so)")


def test_mode_the_link_cannot_carry(guest):
    """MJPEG 2560x720 at 60 fps needs more of the bus than the camera's largest alternate setting
    (3 x 1024 bytes a microframe). Linux 6.1's uvcvideo does not refuse it (it clamps the camera's
    dwMaxPayloadTransferSize, "UVC non compliance"), nor does vhci-hcd (no bandwidth account): the
    camera sends what its link carries and skips the rest, which handrecd measures while warming up
    and reports (CameraFps, `handrecctl status`)."""
    results, host_path, read, inputs = guest
    _, events = camera_log(read("cam-right.log"))
    commit = [w for _, w in events if w[0] == "commit" and w[2] == "2560x720" and w[4] == "166666"]
    assert commit and int(commit[-1][8]) > 3072, commit
    assert "UVC non compliance: the max payload transmission size" in read("dmesg.txt")
    assert results["bus.warm"] == "0"
    # 3066 bytes of these ~585 kB frames a microframe: at most 42 frames a second, whatever the machine
    fps = float(results["bus.camera_fps"])
    assert 0 < fps < 0.8 * 60, fps
    # what a person sees: the rate measured, against the 60 configured (to two decimals)
    shown = re.search(r"camera: ([0-9.]+) fps measured while warming up", read("bus.status.out"))
    assert shown and abs(float(shown.group(1)) - fps) <= 0.011, read("bus.status.out")
    # and the daemon's log says what to do about it, in a sentence
    said = re.search(r"right: the camera gives ([0-9.]+) fps, not the 60 configured: its USB link cannot carry "
                     r"this mode .*configure a lower fps or a smaller size", read("bus.daemon.log"))
    assert said and abs(float(said.group(1)) - fps) <= 0.051, read("bus.daemon.log")
    path = host_path(results["bus.file"])
    attrs, n, _ = check_take(path, hand="right", reason="duration", stamps=False)
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    # what it does carry, 2560x720 frames of about 590 kB, is stored byte for byte
    sent, _ = camera_log(read("cam-right.log"))
    for number, jpeg, _ in stored_frames(path):
        assert jpeg == rebuild(inputs, "2560x720", number, sent[number]["image"]), f"frame {number} differs"
    quality = [line for line in read("bus.watch.out").splitlines() if "quality:" in line]
    FIGURES["link_cannot_carry"] = dict(configured_fps=60, camera_fps=fps, stored=n, verdict=quality)


def test_yuyv_through_uvcvideo(guest):
    """YUYV 640x480 (two 320x480 eyes) through uvcvideo, encoded by handrecd (the left hand,
    beside the rectified take of the right)."""
    results, host_path, read, _ = guest
    assert results["rect.warm"] == "0" and results["rect.start_exit"] == "0", read("rect.start.err") + guest_logs(read)
    attrs, n, _ = check_take(host_path(takes_of(read, "rect")["left"]), hand="left", reason="duration", stamps=False)
    assert n >= 1 and text(attrs["camera_format"]) == "YUYV" and text(attrs["jpeg_origin"]) == "handrecd"
    assert int(attrs["eye_width"]) == 320 and int(attrs["eye_height"]) == 480
    assert int(attrs["frames_captured"]) == n + int(attrs["frames_dropped"])
    FIGURES["yuyv"] = dict(stored=n, captured=int(attrs["frames_captured"]), dropped=dropped_by_cause(attrs))


def test_daemons_exit_cleanly(guest):
    results = guest[0]
    for name in ("pass", "replay", "rect", "bus"):
        assert results[f"{name}.daemon_exit"] == "0", name
    oops = kernel_oops_on_close(guest[2])
    if oops:
        pytest.xfail("the unplug scenario's daemon lost its source thread to the guest kernel's oops:\n" + oops)
    assert results["unplug.daemon_exit"] == "0"
