"""The files that make handrecd a system service: the unit (systemd-analyze verify), make install,
the introspection XML, and the system-bus policy enforced by a real dbus-daemon of type system,
with clients running as an unprivileged user."""
import grp
import os
import subprocess
import textwrap
import time

import pytest

from conftest import HANDRECCTL, HANDRECD, ROOT, make_config

NOBODY = 65534


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("prefix")
    sysconf = tmp_path_factory.mktemp("etc")
    subprocess.run(["make", "-s", "-C", ROOT, "install", f"PREFIX={prefix}", f"SYSCONFDIR={sysconf}",
                    f"BUILD={os.environ.get('BUILD', 'build')}"], check=True, capture_output=True)
    return prefix, sysconf


def test_make_install_layout(installed):
    prefix, sysconf = installed
    for rel, mode in [("sbin/handrecd", 0o755), ("bin/handrecctl", 0o755), ("bin/handrec-info", 0o755),
                      ("lib/systemd/system/handrecd.service", 0o644),
                      ("share/dbus-1/system.d/org.handrec1.conf", 0o644),
                      ("share/dbus-1/system-services/org.handrec1.service", 0o644),
                      ("share/dbus-1/interfaces/org.handrec1.xml", 0o644),
                      ("lib/sysusers.d/handrecd.conf", 0o644), ("lib/tmpfiles.d/handrecd.conf", 0o644)]:
        st = os.stat(os.path.join(prefix, rel))
        assert st.st_mode & 0o777 == mode, rel
    assert os.path.exists(os.path.join(sysconf, "handrec", "handrecd.conf"))
    unit = open(os.path.join(prefix, "lib/systemd/system/handrecd.service")).read()
    assert f"ExecStart={prefix}/sbin/handrecd --config {sysconf}/handrec/handrecd.conf" in unit
    assert "@" not in unit.replace("@system-service", "")
    act = open(os.path.join(prefix, "share/dbus-1/system-services/org.handrec1.service")).read()
    assert "SystemdService=handrecd.service" in act


def test_unit_verifies(installed):
    prefix, _ = installed
    unit = os.path.join(prefix, "lib/systemd/system/handrecd.service")
    p = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr.strip() == "", p.stderr


def test_installed_config_checks(installed):
    _, sysconf = installed
    p = subprocess.run([HANDRECD, "--check-config", "--config", os.path.join(sysconf, "handrec", "handrecd.conf")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_introspection_xml_matches_daemon(daemon, bus):
    live = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "introspect.py"), "--user"],
                          env=bus.env, capture_output=True, text=True, check=True).stdout
    shipped = open(os.path.join(ROOT, "dbus", "org.handrec1.xml")).read()
    assert live.strip() == shipped.strip(), "dbus/org.handrec1.xml is out of date: run scripts/introspect.py"


@pytest.fixture
def system_bus(tmp):
    """A private dbus-daemon of type system with Debian's default deny policy and ours."""
    os.chmod(tmp, 0o755)
    policy = open(os.path.join(ROOT, "dbus", "org.handrec1.conf")).read()
    try:
        grp.getgrnam("handrec")
        group = "handrec"
    except KeyError:  # no handrec group on this machine: test the same rules with group video
        group = "video"
        policy = policy.replace('group="handrec"', 'group="video"')
    with open(os.path.join(tmp, "org.handrec1.conf"), "w") as f:
        f.write(policy)
    sock = os.path.join(tmp, "system_bus_socket")
    conf = os.path.join(tmp, "system.conf")
    with open(conf, "w") as f:
        f.write(textwrap.dedent(f"""\
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>system</type>
              <listen>unix:path={sock}</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow user="*"/>
                <deny own="*"/>
                <deny send_type="method_call"/>
                <allow send_type="signal"/>
                <allow send_requested_reply="true" send_type="method_return"/>
                <allow send_requested_reply="true" send_type="error"/>
                <allow receive_type="method_call"/>
                <allow receive_type="method_return"/>
                <allow receive_type="error"/>
                <allow receive_type="signal"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
                <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
              </policy>
              <include>{tmp}/org.handrec1.conf</include>
            </busconfig>
            """))
    proc = subprocess.Popen(["dbus-daemon", "--config-file", conf, "--nofork", "--nopidfile"],
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    os.chmod(sock, 0o777)
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={sock}")
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    yield env, grp.getgrnam(group).gr_gid
    proc.terminate()
    proc.wait(timeout=10)


def test_policy_on_system_bus(system_bus, tmp):
    env, gid = system_bus
    out = os.path.join(tmp, "out")
    conf = os.path.join(tmp, "handrecd.conf")
    with open(conf, "w") as f:
        f.write(make_config(out))
    os.makedirs(out)
    os.chmod(out, 0o777)
    daemon = subprocess.Popen([HANDRECD, "--config", conf], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            if subprocess.run([HANDRECCTL, "list"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)

        def as_user(*args, groups=None):
            cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}"]
            cmd += [f"--groups={groups}"] if groups else ["--clear-groups"]
            return subprocess.run(cmd + [HANDRECCTL, *args], env=env, capture_output=True, text=True, timeout=30)

        # anyone: status, list, properties
        p = as_user("status")
        assert p.returncode == 0 and "[RIGHT] idle" in p.stdout, p.stderr
        assert as_user("list").stdout.split() == ["left", "right"]
        p = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "busctl",
                            "--system", "get-property", "org.handrec1", "/org/handrec1/hand/right",
                            "org.handrec1.Hand", "State"], env=env, capture_output=True, text=True)
        assert p.stdout.strip() == 's "idle"', p.stderr
        # not in the group: start and stop are refused by the bus, with advice
        p = as_user("start", "--hand", "right")
        assert p.returncode == 1
        assert "Only root and members of group handrec may start and stop takes" in p.stderr
        assert os.listdir(out) == []
        # in the group: allowed
        p = as_user("start", "--hand", "right", groups=str(gid))
        assert p.returncode == 0, p.stderr
        path = p.stdout.strip()
        time.sleep(1)
        assert as_user("stop", "--hand", "right").returncode == 1
        p = as_user("stop", "--hand", "right", groups=str(gid))
        assert p.returncode == 0 and p.stdout.splitlines()[0] == path
        # root too
        assert subprocess.run([HANDRECCTL, "start", "--hand", "left"], env=env).returncode == 0
        assert subprocess.run([HANDRECCTL, "stop", "--hand", "left"], env=env, capture_output=True).returncode == 0
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
