#!/usr/bin/python3
"""make bench, last step: one table of every measurement of this run (the JSON files under
$BUILD/bench/results/), then the ratios the issue asks for, each beside its target, met or not.
Writes results/summary.json (the same figures and verdicts). Exits 1 when a measurement is
missing or failed (a "pending" row is not a failure: it says what it waits for)."""
import json
import os
import statistics
import sys

from benchlib import CORES, QUICK, RESULTS, inputs

ROWS = ("floor", "rectified-1", "rectified-cores", "rectified-realtime", "passthrough", "passthrough-realtime", "old", "realtime",
        "callgrind", "qc")

# issue 23's table: what main (8025437) measured, peak RSS at 30 fps on 2x1280x720 real images
ISSUE23_WAS = {"one hand rectified": "34.9 MB", "passthrough": "22.7 MB", "both hands": "54.6 MB, 0",
               "growth": "+456 kB in 10 min"}


def load(name):
    try:
        with open(os.path.join(RESULTS, f"{name}.json")) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"no result ({e.__class__.__name__})"}


def mb(kb):
    return f"{kb / 1024:.1f} MB" if isinstance(kb, (int, float)) else "-"


def ms(v):
    return f"{v:.2f}" if isinstance(v, (int, float)) else "-"


def row(label, r, extra=""):
    if "error" in r:
        return f"  {label:<52} FAILED: {r['error']}"
    budget = f"{r['budget_mb']} MB" if r.get("budget_mb") is not None else ""
    line = f"  {label:<52} {ms(r.get('cpu_ms_per_frame')):>8}   {mb(r.get('peak_rss_kb')):>9}   {budget:>8}"
    if r.get("pending"):
        line += f"\n  {'':<52} pending: {r['pending']}"
    return line + extra


def table(res, m):
    rt = res["realtime"]
    print(f"== summary: 2x{m['eye_width']}x{m['eye_height']} side-by-side JPEGs ({len(m['frames'])} distinct frames of "
          f"opencv-doc's aloe pair, {m['jpeg_kb']} kB each), calibration from {len(m['chessboard_pairs'])} "
          f"chessboard pairs; {res['floor'].get('frames', '?')} frames a row, quality "
          f"{res['floor'].get('quality', '?')}; {CORES} cores")
    if QUICK:
        print("   BENCH_QUICK=1: few frames and short runs; the figures check the bench runs, do not compare them")
    print(f"  {'':<48} {'CPU ms/frame':>12}   {'peak RSS':>9}   {'computed':>8}")
    print(row("1 floor: TurboJPEG decode + encode, 1 thread", res["floor"]))
    print(row("2 handrecd rectified, 1 worker", res["rectified-1"]))
    one = res["rectified-1"]
    if len(one.get("cpu_ms_runs", [])) > 1:
        print(f"  {'':<3}alternated with the floor: handrecd {', '.join(f'{x:.2f}' for x in one['cpu_ms_runs'])} ms, "
              f"the floor {', '.join(f'{x:.2f}' for x in one['floor_ms_runs'])} ms (the medians make the ratio)")
    print(row(f"  handrecd rectified, {CORES} workers (one per core)", res["rectified-cores"]))
    print(row("  the same at 30 fps real time, shipped workers", res["rectified-realtime"]))
    print(row("3 handrecd passthrough (MJPEG, rectify off), max", res["passthrough"]))
    print(row("  the same at 30 fps real time (a camera's rate)", res["passthrough-realtime"]))
    print("  4 remap alone against cv2.remap (remap.py):")
    remap = os.path.join(RESULTS, "remap.txt")
    if os.path.exists(remap):
        with open(remap) as f:
            for line in f:
                print("      " + line.rstrip())
    else:
        print("      FAILED: remap.py printed nothing")
    print(row("5 old collector's design (a thread a stage)", res["old"]))
    if "error" in rt:
        print(f"  6 both hands realtime: FAILED: {rt['error']}")
    else:
        causes = ", ".join(f"{k} {v}" for k, v in rt.get("dropped_by_cause", {}).items() if v)
        print(row(f"6 both hands, 30 fps realtime, rectified, {rt['seconds']:.0f} s", rt,
                  f"\n  {'':<52} {rt['frames']} of {rt['frames_captured']} frames written, {rt['frames_dropped']} "
                  f"dropped{' (' + causes + ')' if causes else ''}; RSS {mb(rt['rss_first_kb'])} after 1 s, "
                  f"{mb(rt['rss_end_kb'])} at the end" +
                  (f"; minute 1 {mb(rt['rss_minute1_kb'])}, growth {rt['rss_growth_kb']} kB"
                   if "rss_growth_kb" in rt else "") +
                  (f" (anonymous {rt['rss_anon_growth_kb']:+} kB, file pages {rt['rss_file_growth_kb']:+} kB)"
                   if "rss_anon_growth_kb" in rt else "") +
                  (f"\n  {'':<52} the machine's page cache at most {rt['page_cache_mb_max']} MB; pages it reclaimed: "
                   f"{rt['reclaim_pages']['kswapd']} by kswapd, {rt['reclaim_pages']['direct']} by the threads that "
                   f"allocated" if "reclaim_pages" in rt else "") +
                  (f"\n  {'':<52} the machine's load average at the end (1, 5, 15 min): "
                   f"{', '.join(f'{x:.2f}' for x in rt['loadavg'])}" if "loadavg" in rt else "") +
                  (f"\n  {'':<52} dropped in each minute: {minutes(rt['dropped_by_minute'])}"
                   if any(rt.get("dropped_by_minute", [])) else "") +  # None: a minute its Status was unread
                  drop_minutes_cpu(rt)))
    cg = res["callgrind"]
    if "error" in cg:
        print(f"  7 instructions per frame: FAILED: {cg['error']}")
    else:
        print(f"  7 instructions per frame (callgrind Ir, {cg['frames']} frames, 1 thread): decode + rectify + encode "
              f"through the daemon's modules {cg['instructions_per_frame'] / 1e6:.1f} M, the floor "
              f"{cg['floor_instructions_per_frame'] / 1e6:.1f} M: {cg['ratio_to_floor']:.2f}x")


def minutes(counts):
    """Per-minute counts, the minutes with none folded: '0 ×12, 40, 0 ×3, 7'."""
    out, i = [], 0
    while i < len(counts):
        j = i
        while j < len(counts) and counts[j] == counts[i]:
            j += 1
        out.append(f"{counts[i]}" + (f" ×{j - i}" if j - i > 1 else ""))
        i = j
    return ", ".join(out)


def drop_minutes_cpu(rt):
    """The CPU in the minutes with drops against the others (realtime.py's per_minute()): whether
    the daemon needed more a frame, or the rest of the machine took more. "" without drops."""
    by = list(zip(rt.get("dropped_by_minute", []), rt.get("cpu_by_minute", [])))
    if not any(d for d, _ in by):
        return ""

    def med(rows, key):
        v = [c[key] for _, c in rows if c.get(key) is not None]
        return f"{statistics.median(v):.1f}" if v else "?"
    def threads(rows):
        """Each thread kind's median ms a frame and preemptions a second (realtime.py's threads_per_minute())."""
        kinds = sorted({k for _, c in rows for k in c.get("threads", {})})
        out = []
        for k in kinds:
            ms = [c["threads"][k]["cpu_ms_per_frame"] for _, c in rows
                  if k in c.get("threads", {}) and c["threads"][k]["cpu_ms_per_frame"] is not None]
            pre = [c["threads"][k]["preempted_per_s"] for _, c in rows if k in c.get("threads", {})]
            if ms:
                out.append(f"{k} {statistics.median(ms):.1f} ms ({statistics.median(pre):.0f} preempted/s)")
        return f"; {', '.join(out)}" if out else ""
    drop, calm = [x for x in by if x[0]], [x for x in by if x[0] == 0]
    return "".join(f"\n  {'':<52} {name} ({len(rows)}): daemon {med(rows, 'cpu_ms_per_frame')} ms a frame, machine busy "
                   f"{med(rows, 'busy_pct')} %, the rest of it {med(rows, 'others_pct')} %, stolen {med(rows, 'steal_pct')} %"
                   f"{threads(rows)}; reclaim a minute: kswapd {med(rows, 'reclaim_kswapd_pages')}, direct "
                   f"{med(rows, 'reclaim_direct_pages')} pages"
                   for name, rows in (("minutes with drops", drop), ("minutes without", calm)) if rows)


def floor_ms(floor, one):
    """The floor to divide row 2 by: the median of the runs alternated with it (rectified.py), else
    row 1's."""
    if "error" not in one and one.get("floor_ms_alternated"):
        return one["floor_ms_alternated"]
    return None if "error" in floor else floor.get("cpu_ms_per_frame")


def alternated(one):
    n = len(one.get("floor_ms_runs", []))
    return f" (medians of {n} alternated runs)" if n > 1 else ""


def verdict(ok):
    return "met" if ok else "NOT met"


def targets(res):
    """(what, measured, target, verdict) for each of the issue's targets."""
    floor, one, cores, pt, old, rt = (res[k] for k in ("floor", "rectified-1", "rectified-cores", "passthrough",
                                                       "old", "realtime"))
    out = []

    def num(r, key):
        return None if "error" in r else r.get(key)

    f, h, o = floor_ms(floor, one), num(one, "cpu_ms_per_frame"), num(old, "cpu_ms_per_frame")
    if f and h:
        out.append(("handrecd rectified (1 worker) / floor" + alternated(one), f"{h / f:.2f}x", "<= 1.3x",
                    verdict(h / f <= 1.3)))
    cg = res["callgrind"]
    if "ratio_to_floor" in cg:
        out.append(("  the same in instructions (row 7, modules only)", f"{cg['ratio_to_floor']:.2f}x",
                    "<= 1.3x", verdict(cg["ratio_to_floor"] <= 1.3)))
    if o and h:
        out.append(("old collector / handrecd rectified (1 worker)", f"{o / h:.2f}x", ">= 1.7x", verdict(o / h >= 1.7)))
    ptr = res["passthrough-realtime"]
    pms, prss = num(pt, "cpu_ms_per_frame"), num(ptr, "peak_rss_kb")
    pending = "pending" if pt.get("pending") or ptr.get("pending") else None
    if pms is not None:
        out.append(("passthrough CPU per frame", f"{pms:.2f} ms", "< 0.5 ms", pending or verdict(pms < 0.5)))
    if prss is not None:
        out.append(("passthrough peak RSS at 30 fps", mb(prss), "< 24 MB", pending or verdict(prss < 24 * 1024)))
    rr = res["rectified-realtime"]
    if num(rr, "peak_rss_kb"):
        out.append(("one hand rectified peak RSS (30 fps)", mb(rr["peak_rss_kb"]), "< 40 MB",
                    verdict(rr["peak_rss_kb"] < 40 * 1024)))
    if "error" not in rt:
        out.append((f"both hands realtime: peak RSS, drops ({rt['seconds']:.0f} s)",
                    f"{mb(rt['peak_rss_kb'])}, {rt['frames_dropped']}", "< 64 MB, 0",
                    verdict(rt["peak_rss_kb"] < 64 * 1024 and rt["frames_dropped"] == 0)))
        if "rss_growth_kb" in rt:
            out.append(("RSS growth minute 1 -> end of the soak", f"{rt['rss_growth_kb']} kB", "< 100 kB",
                        verdict(rt["rss_growth_kb"] < 100)))
        else:
            out.append(("RSS growth minute 1 -> end of the soak", "-", "< 100 kB",
                        "not measured: BENCH_SOAK=120 or more"))
    return out


def memory_targets(res):
    """Issue 23's rows: (what, was, measured, target, verdict)."""
    rr, ptr, rt, floor, one = (res[k] for k in ("rectified-realtime", "passthrough-realtime", "realtime", "floor",
                                                "rectified-1"))
    out = []

    def peak(r, label, was, limit_mb):
        if "error" in r or not r.get("peak_rss_kb"):
            out.append((label, was, "-", f"<= {limit_mb} MB", "FAILED" if "error" in r else "not measured"))
            return
        v = verdict(r["peak_rss_kb"] <= limit_mb * 1024)
        out.append((label, was, mb(r["peak_rss_kb"]), f"<= {limit_mb} MB", r.get("pending") and "pending" or v))

    peak(rr, "one hand, rectified (peak RSS)", ISSUE23_WAS["one hand rectified"], 20)
    peak(ptr, "one hand, MJPEG passthrough (peak RSS)", ISSUE23_WAS["passthrough"], 14)
    if "error" in rt:
        out.append(("both hands, rectified (peak RSS, dropped)", ISSUE23_WAS["both hands"], "-", "<= 32 MB, 0", "FAILED"))
    else:
        out.append((f"both hands, rectified, {rt['seconds']:.0f} s (peak RSS, dropped)", ISSUE23_WAS["both hands"],
                    f"{mb(rt['peak_rss_kb'])}, {rt['frames_dropped']}", "<= 32 MB, 0",
                    verdict(rt["peak_rss_kb"] <= 32 * 1024 and rt["frames_dropped"] == 0)))
        if "rss_growth_kb" in rt:
            minutes = rt.get("growth_minutes", rt["seconds"] / 60)
            out.append((f"growth minute 1 -> {minutes:.0f}, both hands rectified", ISSUE23_WAS["growth"],
                        f"{rt['rss_growth_kb']:+d} kB", "< 100 kB", verdict(rt["rss_growth_kb"] < 100)))
        else:
            out.append(("growth minute 1 -> 60, both hands rectified", ISSUE23_WAS["growth"], "-", "< 100 kB",
                        "not measured: BENCH_SOAK=3600"))
    f, h = floor_ms(floor, one), None if "error" in one else one.get("cpu_ms_per_frame")
    if f and h:
        out.append(("CPU: rectified (1 worker) / the floor, this run" + alternated(one), "1.15x", f"{h / f:.2f}x",
                    "<= 1.3x", verdict(h / f <= 1.3)))
    return out


def main():
    m = inputs()
    res = {k: load(k) for k in ROWS}
    table(res, m)
    t = targets(res)
    pv = load("preview")
    if "error" not in pv:
        print("\n  9 preview (issue 10): one hand, synthetic 2x1280x720 at 30 fps, idle; % of one core")
        for r in pv["idle"]:
            print(f"      {r['case']:<28} {r['cpu_percent']:5.2f} %" +
                  (f"   {r['preview_fps']:.2f} preview frames/s" if r["preview_fps"] else ""))
        tk = pv["take"]
        print(f"      take under two previews, one never read: {tk['frames']} of {tk['frames_captured']} written, "
              f"{tk['frames_dropped']} dropped")
    up = load("offload")
    if "error" not in up:
        print(f"\n 10 offload (issue 11): a {up['take_bytes'] / 1e6:.0f} MB take to s3rver on this machine")
        print(f"      rclone copyto alone {up['baseline_mb_s']:6.1f} MB/s; handrec-offload with verification "
              f"({up['check'].split(':')[0]}) {up['offload_mb_s']:6.1f} MB/s")
        for name in ("quiet", "during"):
            d = up[name]
            print(f"      both hands, {'no upload' if name == 'quiet' else 'during an upload at 12M':<24} "
                  f"{d['frames']} of {d['frames_captured']} written, {d['frames_dropped']} dropped")
    rd = load("reader")
    if "error" not in rd:
        f, c = rd["fps"], rd["cpu_ms_per_frame"]
        print(f"\n 12 reading takes back (issue 22): {rd['frames']} frames, {rd['frame_bytes'] / 1e3:.0f} kB each, "
              f"{rd['threads']} threads; frames/s (CPU ms a frame)")
        for label, key in (("local file", "local"), ("bucket (s3rver here)", "bucket"),
                           ("rectified when read", "rectify")):
            print(f"      {label:<22} full {f[key + '_full']:6.1f} ({c[key + '_full']:.1f} ms)   "
                  f"1/4 {f[key + '_quarter']:6.1f} ({c[key + '_quarter']:.1f} ms)")
    q = res["qc"]
    if "error" not in q:
        print(f"\n 11 quality at the rig (issue 20), a frame, 1 thread: with pixels {q['planes_us_per_frame']:.1f} µs "
              f"({q['planes_instructions_per_frame']} instructions); as it came (1/8 decode 1 in {q['sample_every']}) "
              f"{q['jpeg_us_per_frame']:.1f} µs ({q['jpeg_instructions_per_frame']} instructions)")
        if q.get("planes_share_of_rectified_pct") is not None:
            t.append(("quality with pixels / a rectified frame (instructions)", f"{q['planes_share_of_rectified_pct']} %",
                      "<= 3 %", verdict(q["planes_share_of_rectified_pct"] <= 3)))
        t.append(("quality as it came, CPU a frame", f"{q['jpeg_us_per_frame'] / 1000:.3f} ms", "<= 0.1 ms",
                  verdict(q["jpeg_us_per_frame"] <= 100)))
    print("\n  targets (issues 13, 20)")
    for what, measured, target, v in t:
        print(f"  {what:<52} {measured:>16}   target {target:<11} {v}")
    mt = memory_targets(res)
    print("\n  memory targets (issue 23): 2x1280x720 real images at 30 fps; 'was': main before the issue")
    print(f"  {'':<52} {'was':>18} {'now':>16}   {'target':<18}")
    for what, was, measured, target, v in mt:
        print(f"  {what:<52} {was:>18} {measured:>16}   target {target:<11} {v}")
    t += [(what, measured, target, v) for what, _, measured, target, v in mt]
    mem = load("memory")
    if "error" in mem and not QUICK:
        print(f"\n 13 where the memory is: FAILED: {mem['error']}")
    failed = [k for k in ROWS if "error" in res[k]]
    with open(os.path.join(RESULTS, "summary.json"), "w") as f:
        json.dump(dict(rows=res, targets=[dict(what=a, measured=b, target=c, verdict=d) for a, b, c, d in t],
                       failed=failed, quick=QUICK), f, indent=1)
    if failed:
        print(f"\nbench: {len(failed)} measurement(s) failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
