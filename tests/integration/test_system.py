"""The files that make handrecd a system service: make install (into a DESTDIR: where each file
goes, the configuration kept, every installed program runs), the unit (systemd-analyze verify),
the introspection XML, and the system-bus policy enforced by a real dbus-daemon of type system,
with clients running as an unprivileged user."""
import grp
import os
import re
import subprocess
import textwrap

import pytest

from conftest import HANDRECCTL, HANDRECD, ROOT, make_config, wait_until

NOBODY = 65534
# the python3 the installed programs run (#!/usr/bin/python3), whose path make install puts the module in
PY3 = subprocess.run(["/usr/bin/python3", "-c", 'import sys; print("%d.%d" % sys.version_info[:2])'],
                     capture_output=True, text=True, check=True).stdout.strip()


def make_install(destdir, *args, target="install"):
    """make install into DESTDIR (never onto this machine), with this run's build."""
    return subprocess.run(["make", "-s", "-C", ROOT, target, f"DESTDIR={destdir}",
                           f"BUILD={os.environ.get('BUILD', 'build')}", *args],
                          check=True, capture_output=True, text=True)


def unit_path(destdir, name="handrecd.service"):
    """A unit, where systemd reads units (systemd.pc's systemdsystemunitdir; never /usr/local)."""
    found = [d for d in ("lib/systemd/system", "usr/lib/systemd/system")
             if os.path.exists(os.path.join(destdir, d, name))]
    assert len(found) == 1, (name, found)
    return os.path.join(destdir, found[0], name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install with the default PREFIX (/usr/local) and SYSCONFDIR (/etc), into a DESTDIR."""
    destdir = str(tmp_path_factory.mktemp("destdir"))
    make_install(destdir)
    return destdir


def test_make_install_layout(installed):
    d = installed
    # programs, the reader module (where python3 looks under /usr/local), man pages and completions
    # under PREFIX; what systemd and the system bus read where they
    # read it, whatever PREFIX is (neither looks under /usr/local)
    for rel, mode in [("usr/local/sbin/handrecd", 0o755), ("usr/local/sbin/handrec-offload", 0o755),
                      ("usr/local/bin/handrecctl", 0o755),
                      ("usr/local/bin/handrec-info", 0o755), ("usr/local/bin/handrec-rectify", 0o755),
                      ("usr/local/bin/handrec", 0o755),
                      (f"usr/local/lib/python{PY3}/dist-packages/handrec/__init__.py", 0o644),
                      (f"usr/local/lib/python{PY3}/dist-packages/handrec/cli.py", 0o644),
                      ("usr/local/share/man/man1/handrecctl.1", 0o644), ("usr/local/share/man/man1/handrec.1", 0o644),
                      ("usr/local/share/man/man1/handrec-info.1", 0o644),
                      ("usr/local/share/man/man1/handrec-rectify.1", 0o644),
                      ("usr/local/share/man/man5/handrecd.conf.5", 0o644),
                      ("usr/local/share/man/man8/handrecd.8", 0o644),
                      ("usr/local/share/bash-completion/completions/handrecctl", 0o644),
                      ("usr/local/share/zsh/site-functions/_handrecctl", 0o644),
                      ("etc/handrec/handrecd.conf", 0o644),
                      ("usr/share/dbus-1/system.d/org.handrec1.conf", 0o644),
                      ("usr/share/dbus-1/system-services/org.handrec1.service", 0o644),
                      ("usr/share/dbus-1/interfaces/org.handrec1.xml", 0o644),
                      ("usr/share/dbus-1/system.d/org.handrec1.Offload.conf", 0o644),
                      ("usr/share/dbus-1/interfaces/org.handrec1.Offload.xml", 0o644),
                      ("usr/lib/sysusers.d/handrecd.conf", 0o644), ("usr/lib/sysusers.d/handrec-offload.conf", 0o644),
                      ("usr/lib/tmpfiles.d/handrecd.conf", 0o644)]:
        st = os.stat(os.path.join(d, rel))
        assert st.st_mode & 0o777 == mode, rel
    assert os.stat(unit_path(d)).st_mode & 0o777 == 0o644
    # both units in the same folder
    offload = unit_path(d, "handrec-offload.service")
    assert os.path.dirname(offload) == os.path.dirname(unit_path(d))
    assert os.stat(offload).st_mode & 0o777 == 0o644
    for dirpath, _, files in os.walk(os.path.join(d, "usr", "local")):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), d)
            assert rel.startswith(("usr/local/bin/", "usr/local/sbin/", f"usr/local/lib/python{PY3}/dist-packages/handrec/",
                                   "usr/local/share/man/", "usr/local/share/bash-completion/",
                                   "usr/local/share/zsh/")), rel
    unit = open(unit_path(d)).read()
    assert "ExecStart=/usr/local/sbin/handrecd --config /etc/handrec/handrecd.conf" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert not re.search(r"@[A-Z]+@", unit), "a placeholder was not filled in"
    unit = open(offload).read()
    assert "ExecStart=/usr/local/sbin/handrec-offload --config /etc/handrec/handrecd.conf" in unit
    assert "ExecStartPre=/usr/local/sbin/handrecd --check-config --config /etc/handrec/handrecd.conf" in unit
    assert not re.search(r"@[A-Z]+@", unit), "a placeholder was not filled in"
    act = open(os.path.join(d, "usr/share/dbus-1/system-services/org.handrec1.service")).read()
    assert "Name=org.handrec1" in act and "SystemdService=handrecd.service" in act
    assert "Exec=/usr/local/sbin/handrecd --config /etc/handrec/handrecd.conf" in act
    assert "@" not in act
    shipped = open(os.path.join(ROOT, "etc", "handrecd.conf")).read()
    assert open(os.path.join(d, "etc/handrec/handrecd.conf")).read() == shipped


@pytest.mark.parametrize("name", ["handrecd.service", "handrec-offload.service"])
def test_unit_verifies(installed, tmp, name):
    """systemd-analyze verify on an installed unit; it checks that the programs exist, so the copy
    it reads points into DESTDIR."""
    unit = open(unit_path(installed, name)).read()
    unit = unit.replace("/usr/local/sbin/", os.path.join(installed, "usr/local/sbin/"))
    unit = unit.replace("/etc/handrec/", os.path.join(installed, "etc/handrec/"))
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(unit)
    p = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr.strip() == "", p.stderr


def test_installed_programs_run(installed):
    d = installed
    conf = os.path.join(d, "etc/handrec/handrecd.conf")
    p = subprocess.run([os.path.join(d, "usr/local/sbin/handrecd"), "--check-config", "--config", conf],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([os.path.join(d, "usr/local/sbin/handrecd"), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("handrecd "), p.stderr
    p = subprocess.run([os.path.join(d, "usr/local/sbin/handrec-offload"), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("handrec-offload "), p.stderr
    for prog in ("handrecctl", "handrec-info", "handrec"):
        p = subprocess.run([os.path.join(d, "usr/local/bin", prog), "--help"], capture_output=True, text=True,
                           cwd="/")
        assert p.returncode == 0 and p.stdout, (prog, p.stderr)
    # handrec-rectify has no --help: without arguments it prints its usage (and exits 2)
    p = subprocess.run([os.path.join(d, "usr/local/bin/handrec-rectify")], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.startswith("usage: handrec-rectify"), p.stderr
    p = subprocess.run([os.path.join(d, "usr/local/bin/handrecctl"), "check", "--help"], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr


def test_installed_handrec_info_reads_a_take(installed, daemon, ctl, tmp):
    """handrec-info as installed finds its module in PREFIX/lib/python3.X/dist-packages beside it
    (not in python/ of the checkout), and reads and decodes a real take."""
    path = ctl("start", "--hand", "right", "--duration", "0.5", "--follow").stdout.splitlines()[0]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.run([os.path.join(installed, "usr/local/bin/handrec-info"), "--check", path],
                       capture_output=True, text=True, cwd=tmp, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0] == path
    assert "status complete (duration)" in p.stdout
    n = int(p.stdout.split(" frames,")[0].split()[-1])
    assert n > 0 and f"decoded {n} of {n} JPEGs" in p.stdout, p.stdout
    assert not os.path.exists(os.path.join(installed, f"usr/local/lib/python{PY3}/dist-packages/handrec/__pycache__"))


def test_sysusers_create_both_users(installed, tmp):
    """systemd-sysusers on the installed snippets, into a scratch root (never this machine's
    /etc): user handrec in group video, user handrec-offload in group handrec, homes the state
    folders. A line sysusers refuses (a ':' in a GECOS field) fails the postinst, so here first."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "etc"))
    files = [os.path.join(installed, "usr/lib/sysusers.d", n) for n in ("handrecd.conf", "handrec-offload.conf")]
    p = subprocess.run(["systemd-sysusers", f"--root={root}", *files], capture_output=True, text=True)
    assert p.returncode == 0 and "not a valid" not in p.stderr, p.stderr
    passwd = {l.split(":")[0]: l.split(":") for l in open(os.path.join(root, "etc/passwd")).read().splitlines()}
    group = {l.split(":")[0]: l.split(":")[3].split(",") for l in open(os.path.join(root, "etc/group")).read().splitlines()}
    assert passwd["handrec"][5] == "/var/lib/handrec" and passwd["handrec-offload"][5] == "/var/lib/handrec-offload"
    assert "handrec" in group["video"] and "handrec-offload" not in group["video"], group
    assert "handrec-offload" in group["handrec"], group


def uncomment_group(text, name):
    """The shipped configuration with its commented-out example of group @name made live (up to
    the group's closing "# };"; what follows stays as it is)."""
    head, mark, tail = text.partition(f"\n# {name} = {{")
    assert mark, f"etc/handrecd.conf has no commented-out {name} group"
    group, end, rest = (mark.lstrip("\n") + tail).partition("\n# };")
    lines = (group + end).splitlines()
    return head + "\n" + "\n".join(l[2:] if l.startswith("# ") else "" if l == "#" else l for l in lines) + rest


def uncomment_offload(text):
    return uncomment_group(text, "offload")


def test_shipped_qc_example_is_valid(installed, tmp):
    """The qc group of the shipped configuration, uncommented, passes --check-config, and shows
    every setting the parser knows (its table in lib/config.c), with the defaults lib/qc.h has."""
    live = uncomment_group(open(os.path.join(ROOT, "etc", "handrecd.conf")).read(), "qc")
    values = dict(re.findall(r"^    ([a-z_]+) = ([0-9.]+);", live.partition("\nqc = {")[2].partition("\n};")[0], re.M))
    table = open(os.path.join(ROOT, "lib", "config.c")).read().partition("qc_keys[] = {")[2]
    known = set(re.findall(r'\{"([a-z_]+)", K_', table.partition("{NULL, 0}")[0]))
    assert len(known) >= 7 and set(values) == known, (values, known)
    defaults = open(os.path.join(ROOT, "lib", "qc.h")).read().partition("#define QC_CONFIG_DEFAULTS")[2]
    for k, v in values.items():
        assert re.search(rf"\.{k} = {re.escape(v.rstrip('0').rstrip('.') if '.' in v else v)}\b", defaults), (k, v)
    conf = os.path.join(tmp, "qc.conf")
    with open(conf, "w") as f:
        f.write(live)
    p = subprocess.run([os.path.join(installed, "usr/local/sbin/handrecd"), "--check-config", "--config", conf],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_shipped_offload_example_is_valid(installed, tmp):
    """The offload group of the shipped configuration, uncommented as an administrator would, passes
    handrecd --check-config (the service's ExecStartPre); the same with its remote taken out does
    not, so the group is read, not skipped."""
    shipped = open(os.path.join(ROOT, "etc", "handrecd.conf")).read()
    live = uncomment_offload(shipped)
    assert re.search(r"^offload = \{$", live, re.M) and re.search(r"^    remote = ", live, re.M), live[-3000:]
    keys = set(re.findall(r"^    ([a-z_]+) = ", live.partition("\noffload = {")[2].partition("\n};")[0], re.M))
    # every setting the parser knows (its table in lib/config-offload.c) is shown, and no other
    table = open(os.path.join(ROOT, "lib", "config-offload.c")).read().partition("offload_keys[] = {")[2]
    known = set(re.findall(r'\{"([a-z_]+)", K_', table.partition("{NULL, 0}")[0]))
    assert len(known) >= 10 and keys == known, (keys, known)
    handrecd = os.path.join(installed, "usr/local/sbin/handrecd")
    conf = os.path.join(tmp, "offload.conf")
    with open(conf, "w") as f:
        f.write(live)
    p = subprocess.run([handrecd, "--check-config", "--config", conf], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(conf, "w") as f:
        f.write(re.sub(r"^    remote = .*\n", "", live, flags=re.M))
    p = subprocess.run([handrecd, "--check-config", "--config", conf], capture_output=True, text=True)
    assert p.returncode != 0 and "offload.remote: missing" in p.stderr, p.stderr


def test_install_keeps_an_edited_config(tmp_path):
    d = str(tmp_path)
    make_install(d)
    conf = os.path.join(d, "etc/handrec/handrecd.conf")
    edited = open(conf).read() + "\n# edited here\nworkers = 3;\n"
    with open(conf, "w") as f:
        f.write(edited)
    p = make_install(d)
    assert open(conf).read() == edited
    assert f"kept {conf}" in p.stdout
    # uninstall takes everything but the configuration
    make_install(d, target="uninstall")
    left = sorted(os.path.relpath(os.path.join(dp, f), d) for dp, _, fs in os.walk(d) for f in fs)
    assert left == ["etc/handrec/handrecd.conf"], left
    assert open(conf).read() == edited


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
    wait_until(lambda: os.path.exists(sock), what=f"the system bus' socket {sock}")
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
        wait_until(lambda: subprocess.run([HANDRECCTL, "list"], env=env, capture_output=True).returncode == 0,
                   what="handrecd on the system bus", interval=0.1)

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
        wait_until(lambda: '[RIGHT] recording:' in as_user("status", "--hand", "right").stdout,
                   what="the take to record", interval=0.1)
        assert as_user("stop", "--hand", "right").returncode == 1
        p = as_user("stop", "--hand", "right", groups=str(gid))
        assert p.returncode == 0 and p.stdout.splitlines()[0] == path
        # root too
        assert subprocess.run([HANDRECCTL, "start", "--hand", "left"], env=env).returncode == 0
        assert subprocess.run([HANDRECCTL, "stop", "--hand", "left"], env=env, capture_output=True).returncode == 0
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
