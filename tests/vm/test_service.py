"""handrecd as it is installed and booted: the Debian package in a VM whose PID 1 is systemd
(tests/vm/systemd_vm.py: Debian's kernel under qemu TCG, this machine's root read-only under an
overlay whose upper layer is an ext4 disk image).

Boot 1 installs the package with dpkg -i (tests/vm/service-guest.sh, phase "install"). Boot 2 of
the same image (a reboot: nobody starts handrecd but systemd) checks the service as booted, then
reload, systemd-analyze security, takes over the system bus as a member of group handrec and as
another user, systemctl stop and SIGSEGV mid-take, and D-Bus activation. The takes come back over
the 9p share and are checked here frame by frame.

The package: $HANDREC_DEB if set, else built afresh for the run (`make deb` into the run's temporary
folder, about 25 s), so the package tested is the checkout's.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

import systemd_vm  # noqa: E402
from takecheck import check_take  # noqa: E402

SCRIPT = os.path.join(HERE, "service-guest.sh")
TIMEOUT = 240  # seconds a boot may take


def find_deb(top):
    deb = os.environ.get("HANDREC_DEB")
    if deb:
        return os.path.abspath(deb)
    out = os.path.join(top, "deb")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(["make", "--no-print-directory", "deb", f"BUILD={out}"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    debs = sorted(glob.glob(os.path.join(out, "handrecd_*_amd64.deb")))
    if r.returncode != 0 or not debs:
        pytest.fail(f"make deb failed (exit {r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return debs[-1]


def results_of(d):
    r = {}
    p = os.path.join(d, "results.txt")
    if os.path.exists(p):
        for line in open(p):
            k, _, v = line.rstrip("\n").partition("=")
            r[k] = v
    return r


def read(d, name):
    p = os.path.join(d, name)
    return open(p, errors="replace").read() if os.path.exists(p) else f"({name} missing)"


def logs(d, *names):
    return "".join(f"\n--- {n} ---\n" + read(d, n)[-3000:] for n in names)


class Boot:
    def __init__(self, d, rc, secs):
        self.dir, self.rc, self.secs = d, rc, secs
        self.r = results_of(d)

    def read(self, name):
        return read(self.dir, name)

    def logs(self, *names):
        return logs(self.dir, "guest.log", "console.log", *names)


@pytest.fixture(scope="module")
def boots():
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("VM unavailable: qemu-system-x86_64 is not installed (package qemu-system-x86)")
    try:
        systemd_vm.vm.fetch_kernel()
    except systemd_vm.Unavailable as e:
        pytest.skip(f"VM unavailable: {e}")
    top = tempfile.mkdtemp(prefix="handrec-svc-")
    os.chmod(top, 0o755)
    disk = os.path.join(top, "disk.img")
    try:
        deb = find_deb(top)
        assert os.path.exists(deb), deb
        systemd_vm.mkdisk(disk)
        out = []
        for phase in ("install", "check"):
            d = os.path.join(top, phase)
            os.makedirs(d)
            with open(os.path.join(d, "phase"), "w") as f:
                f.write(phase + "\n")
            # the package goes over the share (not by its path here: the guest's /tmp is this
            # machine's, which systemd-tmpfiles might clean)
            shutil.copy(deb, os.path.join(d, os.path.basename(deb)))
            with open(os.path.join(d, "deb"), "w") as f:
                f.write("/vmout/" + os.path.basename(deb) + "\n")
            try:
                rc, secs = systemd_vm.run(SCRIPT, d, disk, timeout=TIMEOUT)
            except systemd_vm.Unavailable as e:
                pytest.skip(f"VM unavailable: {e}")
            except subprocess.TimeoutExpired:
                pytest.fail(f"boot {phase} did not power off within {TIMEOUT} s" + logs(d, "guest.log", "console.log"))
            b = Boot(d, rc, secs)
            print(f"boot {phase}: {secs:.1f} s (system up after {b.r.get('uptime', '?')} s)")
            out.append(b)
        yield out[0], out[1]
    finally:
        if os.environ.get("HANDREC_KEEP"):
            print(f"kept in {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)


def test_install(boots):
    b, _ = boots
    assert b.rc == 0, b.logs()
    assert b.r.get("pid1") == "systemd", b.logs()
    assert b.r.get("dpkg_exit") == "0", b.logs("dpkg.txt")
    assert b.r.get("enabled") == "enabled", b.logs("dpkg.txt")
    assert b.r.get("passwd_handrec", "").startswith("handrec:"), b.logs()
    # the postinst starts it (deb-systemd-invoke)
    assert b.r.get("active_after_install") == "active", b.logs("dpkg.txt", "status-install.txt")


def test_started_at_boot(boots):
    _, b = boots
    assert b.rc == 0, b.logs()
    r = b.r
    assert r.get("pid1") == "systemd", b.logs()
    assert r.get("boot_ActiveState") == "active", b.logs("status-boot.txt", "journal-boot.txt")
    assert r.get("boot_SubState") == "running", b.logs("status-boot.txt")
    assert r.get("boot_Type") == "notify"
    assert r.get("boot_NRestarts") == "0", b.logs("journal-boot.txt")
    assert r.get("boot_ps_user") == "handrec", b.logs("status-boot.txt")
    assert r.get("boot_ps_user_c", "").split() == ["handrec"]
    assert "video" in r.get("boot_groups", "").split(","), r.get("boot_groups")
    # readiness and the status line (sd_notify STATUS=)
    assert r.get("boot_StatusText"), b.logs("status-boot.txt")
    status = b.read("status-boot.txt")
    assert "active (running)" in status, status
    assert f"Status: \"{r['boot_StatusText']}\"" in status, status
    print(f"StatusText: {r['boot_StatusText']}")


def test_reload(boots):
    _, b = boots
    assert b.r.get("reload_exit") == "0", b.logs("journal-reload.txt")
    assert "read again" in b.read("journal-reload.txt"), b.logs("journal-reload.txt")
    assert b.r.get("reload_hands", "").split() == ["right"], b.r.get("reload_hands")


def test_security(boots):
    _, b = boots
    assert b.r.get("security_exit") == "0", b.logs("security.txt")
    m = re.search(r"exposure level for handrecd.service: ([0-9.]+)", b.r.get("security_overall", ""))
    assert m, b.logs("security.txt")
    print(f"systemd-analyze security: {b.r['security_overall']}")
    assert float(m.group(1)) <= 2.0, b.read("security.txt")


def test_take_over_system_bus(boots):
    _, b = boots
    r = b.r
    assert "handrec" in r.get("alice_groups", "").split()
    assert r.get("alice_take_exit") == "0", b.logs("alice-take.txt", "journal-all.txt")
    assert r.get("alice_check_exit") == "0", b.logs("alice-check.txt")
    attrs, n, _ = check_take(os.path.join(b.dir, "alice-take.h5"), hand="right", status="complete",
                             reason="duration", stamps=False)
    assert n >= 30, n
    # a user outside group handrec: refused with a sentence, and may read the status
    assert r.get("bob_start_exit") == "1", b.logs("bob-start.txt")
    refusal = b.read("bob-start.txt").strip()
    assert "Only root and members of group handrec may start and stop takes" in refusal, refusal
    print(f"refused: {refusal}")
    assert r.get("bob_status_exit") == "0", b.logs("bob-status.txt")


def test_stop_mid_take(boots):
    _, b = boots
    r = b.r
    assert r.get("stop_recording") == "0", b.logs("stop-start.txt", "stop-status.txt")
    assert r.get("stop_exit") == "0"
    assert r.get("stop_state") == "inactive"
    assert r.get("stop_check_exit") == "0", b.logs("stop-check.txt")
    attrs, n, _ = check_take(os.path.join(b.dir, "stop-take.h5"), hand="right", status="complete",
                             reason="shutdown", stamps=False)
    assert n > 0


def test_crash_mid_take(boots):
    _, b = boots
    r = b.r
    assert r.get("crash_recording") == "0", b.logs("crash-start.txt", "crash-status.txt")
    before, _, after = r.get("crash_restarts", "").partition(" ")
    assert after and int(after) == int(before) + 1, b.logs("journal-crash.txt")
    assert r.get("crash_state") == "active", b.logs("journal-crash.txt")
    assert r.get("crash_newpid") != r.get("crash_oldpid")
    journal = b.read("journal-crash.txt")
    assert "Recovered" in journal, journal
    assert r.get("crash_check_exit") == "0", b.logs("crash-check.txt")
    attrs, n, _ = check_take(os.path.join(b.dir, "crash-take.h5"), hand="right", status="recovered",
                             reason="crash", stamps=False)
    assert n > 0


def test_dbus_activation(boots):
    _, b = boots
    r = b.r
    assert r.get("act_stopped") == "inactive"
    assert r.get("act_call_exit") == "0", b.logs("activation.txt")
    assert r.get("act_state") == "active", b.logs("activation.txt")
