"""The Debian package (debian/, `make deb`): built once for this machine's architecture into a
temporary BUILD folder (or HANDREC_DEB=path/to/handrecd_<version>_<arch>.deb, one built already),
then judged without installing it: lintian finds no error, dpkg -c lists every file where systemd,
the system bus and dpkg read it, the dependencies are computed from the libraries the programs
link, the maintainer scripts create the user before the service starts and never delete takes,
and the programs in the package run against a real take."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

TOOLS = ("dpkg-buildpackage", "dh", "lintian")

# The package's own build is judged here, not the daemon under test: the run of the suite against
# the ASan+UBSan daemon skips this file rather than building the package a second time.
pytestmark = pytest.mark.native_daemon


def makefile_version():
    with open(os.path.join(ROOT, "Makefile")) as f:
        return re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)


def host_arch():
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="session")
def deb(tmp_path_factory):
    given = os.environ.get("HANDREC_DEB")
    if given:
        return os.path.abspath(given)
    if os.geteuid() != 0 and not all(shutil.which(t) for t in TOOLS):
        pytest.skip(f"make deb needs {', '.join(TOOLS)}: run as root (it installs them) or install them")
    build = tmp_path_factory.mktemp("deb-build")
    p = subprocess.run(["make", "-s", "-C", ROOT, "deb", f"BUILD={build}", f"ARCH={host_arch()}"],
                       capture_output=True, text=True)
    assert p.returncode == 0, f"make deb failed:\n{p.stdout[-5000:]}\n{p.stderr[-5000:]}"
    path = os.path.join(build, f"handrecd_{makefile_version()}_{host_arch()}.deb")
    assert os.path.exists(path), (os.listdir(build), p.stdout[-2000:])
    return path


@pytest.fixture(scope="session")
def contents(deb):
    """{path: (mode string, owner)} from dpkg -c"""
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True).stdout
    files = {}
    for line in out.splitlines():
        f = line.split()
        path = f[5][1:] if f[5].startswith("./") else f[5]
        files[path.rstrip("/") or "/"] = (f[0], f[1])
    return files


@pytest.fixture(scope="session")
def unpacked(deb, tmp_path_factory):
    d = str(tmp_path_factory.mktemp("deb-root"))
    subprocess.run(["dpkg-deb", "-x", deb, d], check=True)
    ctl = os.path.join(d, "DEBIAN")
    subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True)
    return d


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True, check=True).stdout.strip()


def test_lintian_finds_no_error(deb):
    p = subprocess.run(["lintian", "--tag-display-limit", "0", deb], capture_output=True, text=True)
    tags = [line for line in p.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    print("lintian:", *tags, sep="\n  ")
    errors = [t for t in tags if t.startswith("E: ")]
    assert errors == [], "\n".join(errors)
    assert p.returncode == 0, p.stderr


def test_name_version_and_architecture(deb):
    assert field(deb, "Package") == "handrecd"
    assert field(deb, "Version") == makefile_version()
    assert field(deb, "Architecture") == host_arch()


def test_files_where_they_are_read(contents):
    unit = [p for p in ("/lib/systemd/system/handrecd.service", "/usr/lib/systemd/system/handrecd.service")
            if p in contents]
    assert len(unit) == 1, sorted(contents)
    expected = {
        "/usr/sbin/handrecd": "-rwxr-xr-x",
        "/usr/sbin/handrec-offload": "-rwxr-xr-x",
        "/usr/bin/handrecctl": "-rwxr-xr-x",
        "/usr/bin/handrec-info": "-rwxr-xr-x",
        "/usr/bin/handrec-rectify": "-rwxr-xr-x",
        "/usr/bin/handrec": "-rwxr-xr-x",
        "/usr/lib/python3/dist-packages/handrec/__init__.py": "-rw-r--r--",
        "/usr/lib/python3/dist-packages/handrec/cli.py": "-rw-r--r--",
        "/usr/share/man/man1/handrecctl.1.gz": "-rw-r--r--",
        "/usr/share/man/man1/handrec.1.gz": "-rw-r--r--",
        "/usr/share/man/man1/handrec-info.1.gz": "-rw-r--r--",
        "/usr/share/man/man1/handrec-rectify.1.gz": "-rw-r--r--",
        "/usr/share/man/man5/handrecd.conf.5.gz": "-rw-r--r--",
        "/usr/share/man/man8/handrecd.8.gz": "-rw-r--r--",
        "/usr/share/bash-completion/completions/handrecctl": "-rw-r--r--",
        "/usr/share/zsh/vendor-completions/_handrecctl": "-rw-r--r--",
        "/etc/handrec/handrecd.conf": "-rw-r--r--",
        unit[0]: "-rw-r--r--",
        os.path.join(os.path.dirname(unit[0]), "handrec-offload.service"): "-rw-r--r--",
        "/usr/lib/sysusers.d/handrecd.conf": "-rw-r--r--",
        "/usr/lib/sysusers.d/handrec-offload.conf": "-rw-r--r--",
        "/usr/share/dbus-1/system.d/org.handrec1.Offload.conf": "-rw-r--r--",
        "/usr/share/dbus-1/interfaces/org.handrec1.Offload.xml": "-rw-r--r--",
        "/usr/lib/tmpfiles.d/handrecd.conf": "-rw-r--r--",
        "/usr/share/dbus-1/system.d/org.handrec1.conf": "-rw-r--r--",
        "/usr/share/dbus-1/system-services/org.handrec1.service": "-rw-r--r--",
        "/usr/share/dbus-1/interfaces/org.handrec1.xml": "-rw-r--r--",
        "/usr/share/doc/handrecd/copyright": "-rw-r--r--",
    }
    for path, mode in expected.items():
        assert path in contents, path
        assert contents[path] == (mode, "root/root"), (path, contents[path])
    assert not [p for p in contents if p.startswith("/usr/local")]
    # the takes' folder is made at install time (tmpfiles, StateDirectory), never shipped
    assert not [p for p in contents if p.startswith("/var")]


def test_config_is_a_conffile(unpacked):
    with open(os.path.join(unpacked, "DEBIAN", "conffiles")) as f:
        assert f.read().split() == ["/etc/handrec/handrecd.conf"]
    with open(os.path.join(unpacked, "etc/handrec/handrecd.conf")) as f, \
            open(os.path.join(ROOT, "etc/handrecd.conf")) as shipped:
        assert f.read() == shipped.read()


def test_depends_computed_from_the_libraries(deb):
    depends = field(deb, "Depends")
    names = {alt.split()[0] for dep in depends.split(",") for alt in dep.split("|")}
    # ${shlibs:Depends}: one package per library the programs link (runtime package names
    # differ between releases: libhdf5-103-1 on Debian 12, libhdf5-103 on Ubuntu 22.04)
    assert "libc6" in names and "libsystemd0" in names and "libconfig9" in names and "libyaml-0-2" in names
    assert [n for n in names if n.startswith("libturbojpeg")], depends
    assert [n for n in names if n.startswith("libhdf5-")], depends
    assert [n for n in names if n.startswith("libv4l")], depends
    # what the scripts and the service need
    assert {"dbus", "python3", "python3-h5py", "python3-numpy", "systemd"} <= names, depends
    # the reader decodes with OpenCV or Pillow: recommended, not required (a Jetson may have its own
    # OpenCV); rclone only for handrec-offload, whose group is off in the shipped configuration;
    # ffmpeg only for handrec export
    assert field(deb, "Recommends") == "python3-opencv | python3-pil, rclone"
    assert "rclone" not in names
    assert field(deb, "Suggests") == "ffmpeg"
    assert "${" not in depends


def test_unit_runs_the_packaged_daemon(unpacked):
    unit_file = next(os.path.join(unpacked, p) for p in ("lib/systemd/system/handrecd.service",
                                                         "usr/lib/systemd/system/handrecd.service")
                     if os.path.exists(os.path.join(unpacked, p)))
    unit = open(unit_file).read()
    assert "ExecStart=/usr/sbin/handrecd --config /etc/handrec/handrecd.conf" in unit
    assert not re.search(r"@[A-Z]+@", unit), "a placeholder was not filled in"
    assert "WantedBy=multi-user.target" in unit
    unit = open(os.path.join(os.path.dirname(unit_file), "handrec-offload.service")).read()
    assert "ExecStart=/usr/sbin/handrec-offload --config /etc/handrec/handrecd.conf" in unit
    assert "ExecStartPre=/usr/sbin/handrecd --check-config --config /etc/handrec/handrecd.conf" in unit
    assert not re.search(r"@[A-Z]+@", unit), "a placeholder was not filled in"
    assert "WantedBy=multi-user.target" in unit


def test_maintainer_scripts(unpacked):
    ctl = os.path.join(unpacked, "DEBIAN")
    for name in ("postinst", "postrm", "prerm"):
        path = os.path.join(ctl, name)
        p = subprocess.run(["sh", "-n", path], capture_output=True, text=True)
        assert p.returncode == 0, (name, p.stderr)
    postinst = open(os.path.join(ctl, "postinst")).read()
    # the user before the state folder (owned by it) and before the service starts; the bus policy
    # reloaded before the service asks for its name
    order = [postinst.find(s) for s in ("systemd-sysusers", "ReloadConfig", "systemd-tmpfiles",
                                        "deb-systemd-helper enable", "deb-systemd-invoke $_dh_action")]
    assert -1 not in order and order == sorted(order), order
    assert "#DEBHELPER#" not in postinst
    # both users, and both services enabled and started
    assert "systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} handrecd.conf handrec-offload.conf" in postinst
    assert re.search(r"deb-systemd-helper [a-z-]+ '?handrec-offload\.service", postinst), postinst
    assert re.search(r"deb-systemd-invoke \$_dh_action '?[a-z. -]*handrec-offload\.service", postinst), postinst
    postrm = open(os.path.join(ctl, "postrm")).read()
    assert "deb-systemd-helper purge" in postrm
    # purge never deletes a take: only empty folders go
    assert "rm -r" not in postrm and "rm -f" not in postrm and "-delete" in postrm and "-empty" in postrm
    assert "userdel" not in postrm and "deluser" not in postrm
    # handrec-offload's state files go, nothing else of its folder
    assert "-name '*.state'" in postrm


def test_packaged_handrec_info_reads_a_take(unpacked, daemon, ctl, tmp):
    path = ctl("start", "--hand", "right", "--duration", "0.5", "--follow").stdout.splitlines()[0]
    p = subprocess.run([os.path.join(unpacked, "usr/bin/handrec-info"), "--check", path],
                       capture_output=True, text=True, cwd=tmp)
    assert p.returncode == 0, p.stderr
    assert "decoded" in p.stdout and "FAILED" not in p.stdout, p.stdout
    # the packaged module, imported from the unpacked tree, gives images
    script = ("import sys, handrec; assert handrec.__file__.startswith(sys.argv[2]), handrec.__file__; "
              "t = handrec.open(sys.argv[1]); print(len(t), t[0].left.shape, t[0].right.dtype)")
    p = subprocess.run(["/usr/bin/python3", "-c", script, path, unpacked], capture_output=True, text=True, cwd=tmp,
                       env=dict(os.environ, PYTHONPATH=os.path.join(unpacked, "usr/lib/python3/dist-packages"),
                                PYTHONDONTWRITEBYTECODE="1"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.split(maxsplit=1)[1].strip() == "(240, 320, 3) uint8", p.stdout
    for page in ("man1/handrecctl.1.gz", "man5/handrecd.conf.5.gz", "man8/handrecd.8.gz"):
        p = subprocess.run(["man", "-l", os.path.join(unpacked, "usr/share/man", page)], capture_output=True,
                           text=True, env=dict(os.environ, MANPAGER="cat"))
        assert p.returncode == 0 and p.stderr == "" and "NAME" in p.stdout, (page, p.stderr)
    for prog in ("usr/sbin/handrecd", "usr/bin/handrecctl"):
        p = subprocess.run([os.path.join(unpacked, prog), "--version" if "sbin" in prog else "--help"],
                           capture_output=True, text=True)
        assert p.returncode == 0, (prog, p.stderr)
