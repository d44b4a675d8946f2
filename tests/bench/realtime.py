#!/usr/bin/python3
"""make bench, row 6: both hands recording at once at 30 fps in real time, rectified, the replay
source looping over the bench's frames at its configured rate ("realtime"), for the longer of
BENCH_SECONDS (default 60) and BENCH_SOAK (default 120: a short soak; BENCH_QUICK: none). Frames
written and dropped per hand (the takes' attributes), the daemon's peak RSS (VmHWM) and its RSS
sampled every second; from a run of two minutes or more, the growth from minute 1 to the end: the
median RSS of the last 10 s less that of seconds 60 to 70 (medians: a stall the queue absorbs
makes its pages resident for a moment, and they are handed back once it drains).

BENCH_SOAK=3600: the hour the issue asks for. Both hands write about 25 MB a second (90 GB an
hour): when the disk holding the build tree has not room for the whole soak (1.3 times what its
takes need), the takes are cut into back-to-back takes as long as half the free space allows
(BENCH_SOAK_TAKE forces a length), each removed once finished, while the same daemon runs
through the whole soak (its memory is what is measured; growth within one long take is what
tests/integration/test_rss_growth.py bounds). The takes are written under the build tree."""
import collections
import json
import os
import shutil
import statistics
import subprocess
import time

from benchlib import QUICK, SECONDS, SOAK, WORK, Run, check_config, cpu_seconds, daemon_config, hand_config, inputs, \
    proc_kb, proc_status_kb, replay_folder, take_attrs, write_result

HANDS = ("right", "left")
seconds = max(SOAK, SECONDS)
m = inputs()
os.makedirs(WORK, exist_ok=True)
# a rectified frame is about 0.7 of the input JPEG (rectify_alpha 0 crops and enlarges: smoother)
need = 2 * 30 * seconds * m["jpeg_kb"] * 1e3 * 0.7 * 1.3
free = shutil.disk_usage(WORK).free
take_s = float(os.environ.get("BENCH_SOAK_TAKE", 0)) or (
    seconds if free >= need else max(60.0, seconds * (free / 2) / need))
take_s = min(take_s, seconds)
n_takes = int(-(-seconds // take_s))
print(f"== both hands, 30 fps realtime, rectified, {seconds:.0f} s" +
      (f" (soak; {n_takes} takes of {take_s:.0f} s back to back: {free / 1e9:.0f} GB free for {need / 1e9:.0f} GB)"
       if n_takes > 1 else " (soak)" if seconds >= 120 else ""))
if free < 2 * 30 * take_s * m["jpeg_kb"] * 1e3 * 0.7 * 1.3:
    write_result("realtime", error=f"{free / 1e9:.1f} GB free under {WORK}, a take of {take_s:.0f} s needs about "
                                   f"{need * take_s / seconds / 1e9:.1f} GB")
    raise SystemExit(0)


def config(tmp, out):
    folder = replay_folder(tmp, m["frames"])
    return daemon_config(out, [hand_config(h, folder, "realtime", True, m["calibration"], True, "MJPEG") for h in HANDS])


def counts_now(run, before):
    """Frames dropped and captured so far in the soak: the finished takes' (@before, a pair) and the
    running take's (each hand's Status); (None, None) when the Status could not be read (handrecctl
    status exits 3 while a hand is in trouble): a minute without a figure, not an hour's soak lost
    to a traceback."""
    try:
        hands = json.loads(run.ctl("status", "--json", timeout=30))["hands"]
        return (before[0] + sum(int(h["frames_dropped"]) for h in hands),
                before[1] + sum(int(h["frames_captured"]) for h in hands))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, ValueError, KeyError):
        return None, None


Machine = collections.namedtuple("Machine", "busy steal all kswapd_pages direct_pages cached_kb")


def machine_now():
    """The whole machine now: its CPU ticks from /proc/stat (busy, steal, all; idle and iowait are
    not busy), its memory reclaim so far from /proc/vmstat (pages scanned by kswapd, and by the
    allocating threads themselves: pgscan_direct), and its page cache (kB, /proc/meminfo)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    with open("/proc/vmstat") as f:
        vm = dict(ln.split() for ln in f)
    return Machine(busy=v[0] + v[1] + v[2] + v[5] + v[6], steal=v[7], all=sum(v),
                   kswapd_pages=int(vm.get("pgscan_kswapd", 0)), direct_pages=int(vm.get("pgscan_direct", 0)),
                   cached_kb=proc_kb("/proc/meminfo", "Cached") or 0)


THREAD_KINDS = {"hr-enc": "workers", "hr-src": "sources", "hr-wr": "writers"}


def threads_now(pid):
    """Each of the daemon's threads by id: (its kind: workers, sources, writers or main, the rest;
    its CPU seconds; how often the scheduler took the CPU from it, nonvoluntary_ctxt_switches)."""
    out, tick = {}, os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                preempted = int(next(ln.split()[1] for ln in f if ln.startswith("nonvoluntary_ctxt_switches")))
        except (OSError, StopIteration):
            continue  # the thread ended meanwhile
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        kind = next((k for prefix, k in THREAD_KINDS.items() if name.startswith(prefix)), "main")
        out[tid] = (kind, (int(rest[11]) + int(rest[12])) / tick, preempted)
    return out


def threads_per_minute(th0, th1, seconds, frames):
    """Between two threads_now(), @seconds and @frames captured apart: each thread kind's CPU ms a
    captured frame and how often its threads were preempted a second. A thread started meanwhile
    counts from zero; one that ended is left out (its last seconds are lost)."""
    cpu, pre = {}, {}
    for tid, (kind, s, n) in th1.items():
        _, s0, n0 = th0.get(tid, (kind, 0.0, 0))
        cpu[kind] = cpu.get(kind, 0.0) + s - s0
        pre[kind] = pre.get(kind, 0) + n - n0
    return {kind: dict(cpu_ms_per_frame=round(cpu[kind] * 1000 / frames, 2) if frames else None,
                       preempted_per_s=round(pre[kind] / max(seconds, 1e-9), 1)) for kind in sorted(cpu)}


def per_minute(marks):
    """What each minute between two marks (seconds, dropped, captured, daemon CPU s, machine_now(),
    threads_now()) says of the CPU: the daemon's CPU ms a captured frame, the machine's busy and
    stolen share (%), the share the rest of the machine took (busy less the daemon's, % of all
    cores), each thread kind's, and the machine's reclaim and page cache. A minute with drops
    where the daemon's ms a frame is as usual and the rest took more is the machine's."""
    out = []
    for (t0, _, c0, d0, m0, th0), (t1, _, c1, d1, m1, th1) in zip(marks, marks[1:]):
        frames = None if c0 is None or c1 is None or c1 <= c0 else c1 - c0
        ticks = max(m1.all - m0.all, 1)
        busy = 100 * (m1.busy - m0.busy) / ticks
        daemon = 100 * (d1 - d0) / (os.cpu_count() * (t1 - t0))
        out.append(dict(cpu_ms_per_frame=round((d1 - d0) * 1000 / frames, 2) if frames else None,
                        busy_pct=round(busy, 1), steal_pct=round(100 * (m1.steal - m0.steal) / ticks, 1),
                        others_pct=round(busy - daemon, 1),
                        reclaim_kswapd_pages=m1.kswapd_pages - m0.kswapd_pages,
                        reclaim_direct_pages=m1.direct_pages - m0.direct_pages,
                        page_cache_mb=round(m1.cached_kb / 1024),
                        threads=threads_per_minute(th0, th1, t1 - t0, frames)))
    return out


def median_rss(samples, t0, t1):
    kb = [k for t, k in samples if t0 <= t < t1]
    return int(statistics.median(kb)) if kb else None


attrs, samples = [], []  # samples: (seconds since the first take began, VmRSS kB)
# and what that RSS is made of, at the same seconds: (seconds, RssAnon kB, RssFile kB). The file
# pages (the program's and its libraries' code) come and go as the kernel reclaims page cache
# for the takes' 25 MB a second and a thread touches them again: not memory the daemon holds.
parts = []
# once a minute: (seconds since the first take began, frames dropped and captured so far, the
# daemon's CPU seconds, the machine's CPU ticks, its threads: threads_now())
marks = []
with Run(config) as run:
    ok, budget_mb, said = check_config(run.daemon.config)
    if not ok:
        write_result("realtime", error=f"handrecd --check-config refused the configuration: {said}")
        raise SystemExit(0)
    run.start()
    cpu0 = cpu_seconds(run.pid)
    t0 = time.monotonic()
    marks.append((0.0, 0, 0, cpu0, machine_now(), threads_now(run.pid)))
    for k in range(n_takes):
        length = min(take_s, seconds - k * take_s)
        paths = [run.ctl("start", "--hand", h, "--duration", f"{length:.3f}").strip() for h in HANDS]
        started = time.monotonic()
        while time.monotonic() - started < length - 0.5:
            time.sleep(1)
            samples.append((time.monotonic() - t0, proc_status_kb(run.pid, "VmRSS")))
            parts.append((samples[-1][0], proc_status_kb(run.pid, "RssAnon"), proc_status_kb(run.pid, "RssFile")))
            if len(samples) % 60 == 0:
                done = (sum(int(a.get("frames_dropped", 0)) for a in attrs),
                        sum(int(a.get("frames_captured", 0)) for a in attrs))
                marks.append((samples[-1][0], *counts_now(run, done), cpu_seconds(run.pid), machine_now(),
                              threads_now(run.pid)))
        run.wait_idle(HANDS, timeout=60)
        attrs += [take_attrs(p) for p in paths]
        if n_takes > 1:
            for p in paths:
                os.unlink(p)
    cpu1 = cpu_seconds(run.pid)
    hwm = proc_status_kb(run.pid, "VmHWM")
    loadavg = [round(x, 2) for x in os.getloadavg()]  # drops on a shared machine: was it busy?

frames = sum(int(a.get("frames", 0)) for a in attrs)
r = dict(seconds=seconds, soak=seconds >= 120, takes=n_takes, take_seconds=take_s, budget_mb=budget_mb,
         peak_rss_kb=hwm, loadavg=loadavg, frames=frames,
         frames_captured=sum(int(a.get("frames_captured", 0)) for a in attrs),
         frames_dropped=sum(int(a.get("frames_dropped", 0)) for a in attrs),
         stop_reasons=sorted({a.get("stop_reason") for a in attrs}),
         dropped_by_cause={k[len("dropped_"):]: sum(int(a.get(k, 0)) for a in attrs)
                           for k in sorted(set().union(*attrs)) if k.startswith("dropped_")},
         cpu_ms_per_frame=round((cpu1 - cpu0) * 1000 / max(frames, 1), 3),
         rss_first_kb=samples[0][1], rss_end_kb=samples[-1][1], rss_max_kb=max(kb for _, kb in samples),
         rss_by_minute_kb=[max(kb for t, kb in samples if mi * 60 <= t < (mi + 1) * 60)
                           for mi in range(int(samples[-1][0] // 60) + 1)
                           if any(mi * 60 <= t < (mi + 1) * 60 for t, _ in samples)],
         rss_every_10s_kb=[kb for i, (t, kb) in enumerate(samples) if i % 10 == 0],
         # when the drops happened: those of each whole minute, from the hands' Status once a minute
         dropped_by_minute=[None if a is None or b is None else b - a
                            for a, b in zip([m[1] for m in marks], [m[1] for m in marks[1:]])],
         # and what the CPU did in each (per_minute()): a drop is the daemon's or the machine's
         cpu_by_minute=per_minute(marks),
         # the page cache the takes leave behind (writer.c drop_cached()) and what the kernel had to reclaim
         reclaim_pages=dict(kswapd=marks[-1][4].kswapd_pages - marks[0][4].kswapd_pages,
                            direct=marks[-1][4].direct_pages - marks[0][4].direct_pages),
         page_cache_mb_max=round(max(mk[4].cached_kb for mk in marks) / 1024))
if seconds >= 120 and not QUICK:
    minute1, end = median_rss(samples, 60, 70), median_rss(samples, samples[-1][0] - 10, samples[-1][0] + 1)
    r.update(rss_minute1_kb=minute1, rss_growth_kb=end - minute1, growth_minutes=round(samples[-1][0] / 60, 1))
    for i, name in ((1, "anon"), (2, "file")):
        kind = [(p[0], p[i]) for p in parts]
        r[f"rss_{name}_growth_kb"] = median_rss(kind, kind[-1][0] - 10, kind[-1][0] + 1) - median_rss(kind, 60, 70)
        r[f"rss_{name}_by_minute_kb"] = [median_rss(kind, mi * 60, (mi + 1) * 60) for mi in range(int(kind[-1][0] // 60) + 1)]
write_result("realtime", **r)
