"""The command line of the reader: `handrec info FILE...` (also installed as handrec-info) and
`handrec export FILE --mp4 OUT` / `handrec export EPISODE --mp4 DIR` (side-by-side videos at the
frames' capture times, encoded by ffmpeg)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import handrec


def summary(path, check=False, out=sys.stdout):
    """Prints what handrec-info prints about one take; returns the number of frames that did not
    decode (0 without check)."""
    with handrec.open(path) as take:
        a = take.attrs
        n = len(take)
        ts = take.timestamps
        span = (ts[-1] - ts[0]) / 1e9 if n > 1 else 0.0
        fps = (n - 1) / span if span > 0 else 0.0
        size = os.path.getsize(path)
        p = lambda s: print(s, file=out)  # noqa: E731
        p(f"{path}")
        reason = a.get("stop_reason", "")
        p(f"  hand {a['hand']}, status {a['status']}" + (f" ({reason})" if reason else "")
          + (" (being recorded, or left by a crash)" if a["status"] == "recording" else ""))
        p(f"  {n} frames, {span + (1 / float(a['fps_nominal']) if n else 0):.2f} s, {fps:.2f} fps "
          f"(nominal {float(a['fps_nominal']):g}), {take.eye_width}x{take.eye_height} per eye, "
          f"JPEG quality {int(a['jpeg_quality'])}")
        p(f"  {size / 1e6:.1f} MB on disk, {n and int(take.column('size').sum()) / n / 1e3:.1f} kB per frame")
        if "frames_dropped" in a:
            causes = {k[len("dropped_"):]: int(v) for k, v in a.items() if k.startswith("dropped_") and int(v) > 0}
            p(f"  captured {int(a['frames_captured'])}, dropped {int(a['frames_dropped'])}"
              + (f" {causes}" if causes else ""))
        seq = take.column("left_sequence")
        gaps = int((seq[1:] - seq[:-1] - 1).sum()) if n > 1 else 0
        if gaps:
            p(f"  {gaps} frames missing in the sequence numbers")
        bad = 0
        if check:
            bad = sum(handrec.decode_gray(take.frame(i)) is None for i in range(n))
            p(f"  decoded {n - bad} of {n} JPEGs" + (f", {bad} FAILED" if bad else ""))
        return bad


def info(args):
    status = 0
    for path in args.files:
        try:
            status |= bool(summary(path, args.check))
        except (OSError, ValueError, KeyError) as e:
            print(f"{path}: cannot read: {e}", file=sys.stderr)
            status = 1
    return status


def _ffmpeg_missing():
    print("handrec export: ffmpeg is not installed (apt install ffmpeg)", file=sys.stderr)
    return 1


def _encode_cfr(take, out, fps, crf, force):
    """The old way, when --fps is given: the JPEGs piped to ffmpeg at one constant rate."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y" if force else "-n",
           "-f", "image2pipe", "-c:v", "mjpeg", "-framerate", f"{fps:g}", "-i", "-",
           "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-crf", str(crf), "-movflags", "+faststart", out]
    try:
        ff = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    except FileNotFoundError:
        return _ffmpeg_missing()
    try:
        for start in range(0, len(take), 64):
            for jpeg in take.jpegs(range(start, min(len(take), start + 64))):
                ff.stdin.write(jpeg)
        ff.stdin.close()
    except BrokenPipeError:
        pass
    if ff.wait() != 0:
        print(f"handrec export: ffmpeg failed (exit {ff.returncode})", file=sys.stderr)
        return 1
    return 0


def _encode_vfr(take, out, crf, force):
    """Each frame at its capture time (variable frame rate): ffmpeg's concat demuxer over the
    stored JPEGs (written to a temporary folder beside OUT, removed after), each lasting until the
    next frame's timestamp; the last one frame period at the nominal rate (MP4 keeps it short).
    A gap in the take is a frame held on screen for the gap: no frame is invented or dropped."""
    n = len(take)
    ts = take.timestamps
    period = 1.0 / take.fps_nominal if take.fps_nominal > 0 else 1 / 30
    us = lambda t: round((int(t) - int(ts[0])) / 1000)  # noqa: E731 (a timestamp, in µs from the first)
    parent = os.path.dirname(os.path.abspath(out))
    with tempfile.TemporaryDirectory(prefix=".handrec-export-", dir=parent) as tmp:
        lines = ["ffconcat version 1.0"]
        for start in range(0, n, 64):
            idx = range(start, min(n, start + 64))
            for i, jpeg in zip(idx, take.jpegs(idx)):
                name = f"{i:07d}.jpg"
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(jpeg)
                # in whole microseconds (the concat demuxer's unit) from the first frame, so that
                # their rounding never adds up: each frame starts at its own time to the microsecond
                end = us(ts[i + 1]) if i + 1 < n else us(ts[i]) + round(period * 1e6)
                d = (end - us(ts[i])) / 1e6
                # option framerate: the image demuxer's time base (1/25 s by default) made 1/90000
                lines += [f"file {name}", "option framerate 90000", f"duration {d:.6f}"]
        listing = os.path.join(tmp, "frames.ffconcat")
        with open(listing, "w") as f:
            f.write("\n".join(lines) + "\n")
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y" if force else "-n",
               "-f", "concat", "-safe", "0", "-i", listing, "-fps_mode", "passthrough",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
               "-crf", str(crf), "-video_track_timescale", "90000", "-movflags", "+faststart", out]
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            return _ffmpeg_missing()
    if r.returncode != 0:
        print(f"handrec export: ffmpeg failed (exit {r.returncode})", file=sys.stderr)
        return 1
    return 0


def _encode(take, out, args):
    if args.fps:
        return _encode_cfr(take, out, args.fps, args.crf, args.force)
    return _encode_vfr(take, out, args.crf, args.force)


def _is_take(target):
    return target.endswith(".h5") or (not target.startswith("s3://") and os.path.isfile(target)
                                      and not target.endswith(".json"))


def export(args):
    """A take (FILE) to one video OUT; an episode (its id, or its manifest's path) to one video
    per hand in the folder OUT, <episode>-<hand>.mp4, and <episode>.json saying when each
    starts. The stored JPEGs go to ffmpeg as they are (no decoding here); ffmpeg encodes H.264.
    Frames keep their capture times (variable frame rate) unless --fps asks for a constant one."""
    if _is_take(args.target):
        if os.path.exists(args.mp4) and not args.force:
            print(f"handrec export: {args.mp4} exists (--force overwrites)", file=sys.stderr)
            return 1
        try:
            take = handrec.open(args.target, **_s3_options(args))
        except (OSError, ValueError, ImportError) as e:
            print(f"{args.target}: cannot read: {e}", file=sys.stderr)
            return 1
        with take:
            n = len(take)
            if n == 0:
                print(f"{args.target}: no frames", file=sys.stderr)
                return 1
            if _encode(take, args.mp4, args) != 0:
                return 1
            ts = take.timestamps
            rate = (f"{args.fps:g} fps" if args.fps else
                    f"variable frame rate (capture times; {(n - 1) / ((ts[-1] - ts[0]) / 1e9) if n > 1 else 0:.2f} "
                    "fps on average)")
            print(f"{args.mp4}: {n} frames, {2 * take.eye_width}x{take.eye_height}, {rate}")
            return 0
    return export_episode(args)


def _s3_options(args):
    return {"endpoint_url": args.endpoint_url} if getattr(args, "endpoint_url", None) else {}


def export_episode(args):
    target = args.target
    root = args.root
    if target.endswith(".json"):
        episode = os.path.basename(target)[:-5]
        if root is None:
            root = os.path.dirname(os.path.dirname(os.path.abspath(target))) if not target.startswith("s3://") \
                else target.rsplit("/", 2)[0]
    else:
        episode = target
    if root is None:
        root = os.environ.get("HANDREC_ROOT", "/var/lib/handrec")
    try:
        ds = handrec.Dataset(root, include_discarded=True, include_recording=True, **_s3_options(args))
        ep = ds[episode]
    except KeyError:
        print(f"handrec export: no episode {episode} in {root} (--root names the folder of takes or the bucket)",
              file=sys.stderr)
        return 1
    except (OSError, ValueError, ImportError) as e:
        print(f"handrec export: cannot list {root}: {e}", file=sys.stderr)
        return 1
    if not ep.hand_names:
        print(f"handrec export: episode {episode} has no takes in {root}", file=sys.stderr)
        return 1
    os.makedirs(args.mp4, exist_ok=True)
    outs = {h: os.path.join(args.mp4, f"{ep.id}-{h}.mp4") for h in ep.hand_names}
    if not args.force:
        there = [o for o in outs.values() if os.path.exists(o)]
        if there:
            print(f"handrec export: {', '.join(there)} exists (--force overwrites)", file=sys.stderr)
            return 1
    # when each hand starts: on the takes' shared clock (CLOCK_MONOTONIC, one boot), else in UTC
    first, first_utc = {}, {}
    boots = {ep.take(h).attrs.get("boot_id") for h in ep.hand_names}
    for h in ep.hand_names:
        t = ep.take(h)
        if len(t) == 0:
            print(f"handrec export: {h}: no frames", file=sys.stderr)
            return 1
        first_utc[h] = int(t.timestamps_utc[0].astype(np.int64))
        first[h] = int(t.timestamps[0]) if len(boots) == 1 and None not in boots else first_utc[h]
    t0 = min(first.values())
    side = {"episode": ep.id, "task": ep.task, "timing": "each frame at its capture time (variable frame rate)"
            if not args.fps else f"constant {args.fps:g} fps", "hands": {}}
    for h in ep.hand_names:
        t = ep.take(h)
        if _encode(t, outs[h], args) != 0:
            return 1
        n = len(t)
        ts = t.timestamps
        side["hands"][h] = {"video": os.path.basename(outs[h]), "take": ep.files[h], "frames": n,
                            "first_frame_utc": str(np.datetime64(first_utc[h], "ns")) + "Z",
                            "starts_after_s": (first[h] - t0) / 1e9,
                            "duration_s": (ts[-1] - ts[0]) / 1e9 if n > 1 else 0.0}
        print(f"{outs[h]}: {n} frames, {2 * t.eye_width}x{t.eye_height}, starts {(first[h] - t0) / 1e9:.3f} s "
              "after the episode's first frame")
    with open(os.path.join(args.mp4, f"{ep.id}.json"), "w") as f:
        json.dump(side, f, indent=1)
        f.write("\n")
    ds.close()
    return 0


INFO_HELP = "summarise takes: frames, duration, fps, size, drops, status"


def info_arguments(p):
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--check", action="store_true", help="decode every frame's JPEG")
    # kept for scripts written before the reader chose for itself (a take being recorded is read as one)
    p.add_argument("--swmr", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(run=info)
    return p


def info_main(argv=None, prog="handrec-info"):
    """handrec-info: `handrec info` under its own name."""
    ap = info_arguments(argparse.ArgumentParser(prog=prog, description=f"{prog}: {INFO_HELP}."))
    args = ap.parse_args(argv)
    return args.run(args)


def main(argv=None, prog="handrec"):
    ap = argparse.ArgumentParser(prog=prog, description="Read handrec takes (HDF5 files handrecd wrote).")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    info_arguments(sub.add_parser("info", help=INFO_HELP))
    p = sub.add_parser("export", help="write a take, or each hand of an episode, as side-by-side videos "
                       "(ffmpeg, H.264)",
                       description="FILE (a take, also s3://...) to the video OUT; EPISODE (an episode id, or its "
                       "manifest episodes/ID.json) to DIR/ID-HAND.mp4 for each hand and DIR/ID.json. Each frame "
                       "at its capture time: a variable frame rate, a gap held on screen for its length.")
    p.add_argument("target", metavar="FILE|EPISODE")
    p.add_argument("--mp4", required=True, metavar="OUT|DIR",
                   help="the video to write (a take), or the folder (an episode)")
    p.add_argument("--root", metavar="ROOT", help="where an episode's takes are: handrecd's output_dir or a copy, or "
                   "s3://bucket/prefix (default $HANDREC_ROOT, else /var/lib/handrec; for a manifest's path, its "
                   "folder's parent)")
    p.add_argument("--endpoint-url", metavar="URL", help="the S3 endpoint for s3:// (default: AWS_ENDPOINT_URL)")
    p.add_argument("--fps", type=float, help="a constant frame rate instead of the capture times (frames in order)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, lower is better (default 18)")
    p.add_argument("--force", action="store_true", help="overwrite the videos when they exist")
    p.set_defaults(run=export)
    args = ap.parse_args(argv)
    return args.run(args)
