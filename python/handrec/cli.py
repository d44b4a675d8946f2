"""The command line of the reader: `handrec info FILE...` (also installed as handrec-info) and
`handrec export FILE --mp4 OUT` (a side-by-side video, encoded by ffmpeg)."""
import argparse
import os
import subprocess
import sys

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


def export(args):
    """The JPEGs go to ffmpeg as they are (image2pipe, no decoding here); ffmpeg encodes H.264."""
    with handrec.open(args.file) as take:
        n = len(take)
        if n == 0:
            print(f"{args.file}: no frames", file=sys.stderr)
            return 1
        fps = args.fps or float(take.attrs["fps_nominal"])
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y" if args.force else "-n",
               "-f", "image2pipe", "-c:v", "mjpeg", "-framerate", f"{fps:g}", "-i", "-",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
               "-crf", str(args.crf), "-movflags", "+faststart", args.mp4]
        try:
            ff = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        except FileNotFoundError:
            print("handrec export: ffmpeg is not installed (apt install ffmpeg)", file=sys.stderr)
            return 1
        try:
            for i in range(n):
                ff.stdin.write(take.frame(i))
            ff.stdin.close()
        except BrokenPipeError:
            pass
        if ff.wait() != 0:
            print(f"handrec export: ffmpeg failed (exit {ff.returncode})", file=sys.stderr)
            return 1
        print(f"{args.mp4}: {n} frames, {2 * take.eye_width}x{take.eye_height}, {fps:g} fps")
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
    p = sub.add_parser("export", help="write a take as a side-by-side video (ffmpeg, H.264)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--mp4", required=True, metavar="OUT", help="the video file to write")
    p.add_argument("--fps", type=float, help="frame rate of the video (default: the take's nominal rate)")
    p.add_argument("--crf", type=int, default=18, help="H.264 quality, lower is better (default 18)")
    p.add_argument("--force", action="store_true", help="overwrite OUT when it exists")
    p.set_defaults(run=export)
    args = ap.parse_args(argv)
    return args.run(args)
