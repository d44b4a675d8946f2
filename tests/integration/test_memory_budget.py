"""The daemon's memory is bounded by its configuration, and the configuration check says so before
anything is allocated: --check-config and the daemon at start add up what the settings make it
allocate (daemon/memory-budget.c) and refuse, with the file and line, anything over
save.max_memory_mb. The budget is then held against the RSS of a real daemon (a count, not a time)."""
import os
import re
import subprocess
import time

from conftest import HANDRECD, ROOT, make_config

NEED_RE = re.compile(r"these settings need (\d+) MB, more than save\.max_memory_mb = (\d+)")

# The issue's example: it passed --check-config, then the daemon died on "Cannot allocate memory".
ISSUE_EXAMPLE = """\
save = {{ output_dir = "{out}"; }};
queue = {{
    capacity = 64;
    batch_size = 300;
}};
workers = 16;
right_hand = {{ camera = {{ source = "synthetic"; width = {w}; height = {h}; }}; }};
"""


def check_config(tmp, text, name="check.conf"):
    conf = os.path.join(tmp, name)
    with open(conf, "w") as f:
        f.write(text)
    return conf, subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True)


def with_limit(text, mb):
    assert "min_free_mb = 1;" in text
    return text.replace("min_free_mb = 1;", f"min_free_mb = 1;\n    max_memory_mb = {mb};")


def budget_mb(tmp, text):
    """The daemon's own sum for @text: what it says when the limit is below it."""
    _, p = check_config(tmp, with_limit(text, 16), "budget.conf")
    m = NEED_RE.search(p.stderr)
    assert p.returncode == 1 and m, p.stderr
    return int(m.group(1))


def test_issue_example_refused_with_file_and_line(bus, tmp, outdir):
    for w, h in ((8192, 4096), (1280, 720)):
        conf, p = check_config(tmp, ISSUE_EXAMPLE.format(out=outdir, w=w, h=h))
        assert p.returncode == 1, p.stdout
        assert f"{conf}:3: queue.capacity: these settings need " in p.stderr, p.stderr
        assert "more than save.max_memory_mb = 1024" in p.stderr
        assert "lower queue.seconds or queue.capacity, queue.batch_size, workers or the image size" in p.stderr
        need = int(NEED_RE.search(p.stderr).group(1))
        assert need > (400_000 if w == 8192 else 6_000), need
        # the daemon refuses to start with the same words, before it takes the bus name
        d = subprocess.run([HANDRECD, "--user", "--config", conf], capture_output=True, text=True, env=bus.env,
                           timeout=30)
        assert d.returncode == 1
        assert f"{conf}:3: queue.capacity: these settings need {need} MB" in d.stderr, d.stderr
        assert "Cannot allocate memory" not in d.stderr


def test_shipped_config_fits_the_default_limit():
    conf = os.path.join(ROOT, "etc", "handrecd.conf")
    p = subprocess.run([HANDRECD, "--check-config", "--config", conf], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    with open(conf) as f:
        text = f.read()
    assert "max_memory_mb = 1024;" in text


def test_raising_the_limit_accepts_it(tmp, outdir):
    text = ISSUE_EXAMPLE.format(out=outdir, w=1280, h=720)
    _, p = check_config(tmp, text.replace('; };\nqueue', f'; max_memory_mb = {1 << 20}; }};\nqueue'))
    assert p.returncode == 0, p.stderr


def test_budget_bounds_the_measured_rss(daemon_factory, ctl, busctl, tmp, outdir):
    """Two hands at the shipped defaults (2×1280×720, 30 fps, queue.seconds = 3): the daemon's
    peak RSS over a take on both hands stays under its budget, and the budget is not far above it."""
    text = make_config(outdir, width=1280, height=720, warmup=0.5)
    need = budget_mb(tmp, text)
    d = daemon_factory(text)
    for hand in ("right", "left"):
        ctl("start", "--hand", hand, "--duration", "6")
    for hand in ("right", "left"):
        for _ in range(600):
            state = busctl("get-property", "org.handrec1", f"/org/handrec1/hand/{hand}", "org.handrec1.Hand",
                           "State").stdout.strip()
            if state == 's "idle"':
                break
            time.sleep(0.1)
        assert state == 's "idle"', state
    with open(f"/proc/{d.proc.pid}/status") as f:
        hwm_kb = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    print(f"\nbudget {need} MB, peak RSS {hwm_kb / 1024:.0f} MB ({100 * hwm_kb / 1024 / need:.0f}% of the budget)")
    assert hwm_kb / 1024 <= need, (hwm_kb, need)
    assert hwm_kb / 1024 >= 0.6 * need, (hwm_kb, need)
