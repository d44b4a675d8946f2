"""The daemon built with AddressSanitizer and UBSan ($BUILD/san/handrecd, tests/fuzz/fuzz.mk) on a
private bus: several takes (start/stop, a duration take, both hands at once, refused calls, a take
ended by SIGTERM), then the exit code must be 0 and the sanitizers must have nothing to say,
LeakSanitizer's check at exit included. The takes are read back as every other test's are.
"""
import glob
import os
import signal
import subprocess

import pytest

import conftest
from conftest import ROOT, make_config, wait_frames
from takecheck import check_take, text

# an LD_PRELOAD shim or a build of its own: not run again with the ASan daemon (run-all.sh)
pytestmark = pytest.mark.native_daemon


@pytest.fixture(scope="module")
def san_handrecd():
    """$BUILD/san/handrecd, made now if make check has not made it (from the unit tests' objects)."""
    build = os.environ.get("BUILD", "build")
    target = os.path.join(build, "san", "handrecd")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    p = subprocess.run(["make", "-s", "--no-print-directory", f"BUILD={build}", target], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"make {target} failed:\n{p.stdout}\n{p.stderr}"
    return os.path.join(ROOT, target)


def sanitizer_env(report):
    # log_path: each report in its own file, <report>.<pid>, so nothing hides in the daemon's log
    return {
        "ASAN_OPTIONS": f"detect_leaks=1:log_path={report}:halt_on_error=1:detect_stack_use_after_return=1",
        "UBSAN_OPTIONS": f"print_stacktrace=1:halt_on_error=1:log_path={report}",
        "LSAN_OPTIONS": f"suppressions={ROOT}/tests/fuzz/lsan.supp",
    }


def reports(report):
    out = ""
    for path in sorted(glob.glob(report + ".*")):
        with open(path) as f:
            out += f"---- {path}\n{f.read()}"
    return out


def test_sanitized_daemon_records_takes_and_exits_clean(san_handrecd, daemon_factory, ctl, busctl, outdir, tmp,
                                                        monkeypatch):
    monkeypatch.setitem(conftest.Daemon.start.__globals__, "HANDRECD", san_handrecd)
    report = os.path.join(tmp, "sanitizer")
    d = daemon_factory(make_config(outdir, warmup=0.1), env=sanitizer_env(report))
    files = []

    # start and stop, with a label and a quality
    files.append((ctl("start", "--hand", "right", "--label", "san_1", "--quality", "70").stdout.strip(), "requested"))
    wait_frames(ctl, hands=("right",), n=20)
    ctl("stop", "--hand", "right")
    # a take that ends itself
    p = ctl("start", "--hand", "left", "--duration", "1", "--follow", timeout=60)
    files.append((p.stdout.splitlines()[0].strip(), "duration"))
    # both hands at once
    for hand in ("right", "left"):
        files.append((ctl("start", "--hand", hand).stdout.strip(), "requested"))
    wait_frames(ctl, n=15)
    ctl("stop", "--hand", "left")
    ctl("stop", "--hand", "right")
    # refusals: a bad option, a second start, a stop of an idle hand, a hand that does not exist
    bad = busctl("call", "org.handrec1", "/org/handrec1", "org.handrec1.Manager", "StartRecording", "sa{sv}",
                 "right", "2", "label", "s", "../x", "duration", "d", "nan", check=False)
    assert bad.returncode != 0 and "is not allowed" in bad.stderr
    files.append((ctl("start", "--hand", "right").stdout.strip(), "shutdown"))
    again = ctl("start", "--hand", "right", check=False)
    assert again.returncode == 1 and "already recording" in again.stderr
    idle = ctl("stop", "--hand", "left", check=False)
    assert idle.returncode == 1
    nohand = ctl("status", "--hand", "middle", check=False)
    assert nohand.returncode == 1 and 'There is no hand "middle"' in nohand.stderr
    wait_frames(ctl, hands=("right",), n=10)  # the take SIGTERM ends has frames

    # SIGTERM mid-take: the take is finished, the daemon exits 0 and LeakSanitizer runs at exit
    rc = d.stop(signal.SIGTERM, timeout=60)
    found = reports(report)
    assert found == "", f"sanitizer reports:\n{found}\ndaemon log:\n{d.log_text()}"
    for word in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert word not in d.log_text(), d.log_text()
    assert rc == 0, f"handrecd exited {rc}:\n{d.log_text()}"

    attrs = [check_take(path, reason=reason) for path, reason in files]
    assert all(n > 0 for _, n, _ in attrs), files
    assert text(attrs[0][0]["label"]) == "san_1" and int(attrs[0][0]["jpeg_quality"]) == 70
