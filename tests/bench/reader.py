#!/usr/bin/python3
"""make bench, row 12: reading takes back for training (issue 22). One take of BENCH_FRAMES of the
bench's frames (2x1280x720 side-by-side JPEGs), recorded by handrecd as a side-by-side MJPEG camera
passed through (rectify off, the calibration stored: a raw take), then read back with the handrec
module the way training code reads it, t.frames(batch, scale) on one thread per core, in batches
of 32, every frame once:

  - from the take file (a local disk, in the page cache), at full size and at 1/4 (DCT scaling);
  - from s3rver on this machine (tests/integration/objectstore.py; the take uploaded with boto3),
    read through ranged GETs, full and 1/4: the same frames, byte for byte;
  - rectified when read (the raw take and its stored calibration), full and 1/4 (a third of the
    frames, as the next);
  - full size on one thread, as the issue measured it (188 frames in 4.6 s).

Figures are frames a second of wall time (the machine's load moves them; every case runs in the
same run on the same take), and the bytes a frame cost from the bucket. s3rver runs on the same
cores as the reader: not a network's figure."""
import os
import sys
import time

from benchlib import (CORES, FRAMES, QUICK, ROOT, Run, daemon_config, frame_sequence, hand_config, inputs,
                      replay_folder, write_result)

import objectstore  # noqa: E402  (tests/integration, on the path through benchlib)

sys.path.insert(0, os.path.join(ROOT, "python"))
import handrec  # noqa: E402

BATCH = 32
ROUNDS = 1 if QUICK else 2


def read_all(take, scale, threads=None, rectify=None, part=1):
    """(frames a second of wall time, CPU ms a frame of this process) reading every frame of @take
    (the first 1/@part of them) in batches, and the frames' checksum."""
    n = max(1, len(take) // part)
    t0, c0 = time.monotonic(), time.process_time()
    total = 0
    for start in range(0, n, BATCH):
        s = take.frames(range(start, min(n, start + BATCH)), scale=scale, threads=threads, rectify=rectify)
        total += int(s.left[:, ::16, ::16].sum()) + int(s.right[:, ::16, ::16].sum())
    return n / (time.monotonic() - t0), (time.process_time() - c0) * 1000 / n, total


def main():
    m = inputs()
    seq = frame_sequence(m, FRAMES)

    def config(tmp, out):
        hand = hand_config("right", replay_folder(tmp, seq), "max", False, m["calibration"], rectify=False, fmt="MJPEG")
        return daemon_config(out, [hand])

    print(f"== reading takes back (handrec): {FRAMES} frames of 2x{m['eye_width']}x{m['eye_height']}, batches of "
          f"{BATCH}, {CORES} threads; local file, s3rver on this machine")
    with Run(config) as run:
        run.start()
        out = run.ctl("start", "--hand", "right", "--follow", timeout=600)
        path = next(line.strip() for line in out.splitlines() if line.strip().endswith(".h5"))
        server = objectstore.S3Server(run.work).start()
        try:
            import boto3
            env = {"AWS_ACCESS_KEY_ID": server.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": server.SECRET}
            os.environ.update(env)  # how boto3 users give credentials
            client = boto3.client("s3", endpoint_url=server.endpoint(), region_name="us-east-1")
            key = "right/" + os.path.basename(path)
            with open(path, "rb") as f:
                client.put_object(Bucket=server.bucket, Key=key, Body=f.read())
            size = os.path.getsize(path)
            url = f"s3://{server.bucket}/{key}"

            local = handrec.open(path)
            n = len(local)
            assert local.attrs["jpeg_origin"] == "camera" and local.calibration is not None, "not a raw take"
            read_all(local, 1 / 4)  # the file into the page cache, the decoder and threads started
            ref = {1: read_all(local, 1)[2], 1 / 4: read_all(local, 1 / 4)[2]}
            cases = [("local_full", lambda: read_all(local, 1)),
                     ("local_quarter", lambda: read_all(local, 1 / 4)),
                     ("bucket_full", lambda: remote(1)),
                     ("bucket_quarter", lambda: remote(1 / 4)),
                     # the slow cases on a third of the frames: the bench stays short
                     ("rectify_full", lambda: read_all(local, 1, rectify=True, part=3)),
                     ("rectify_quarter", lambda: read_all(local, 1 / 4, rectify=True, part=3)),
                     ("local_full_1thread", lambda: read_all(local, 1, threads=1, part=3))]
            fetched = {}

            def remote(scale):
                t = handrec.open(url, endpoint_url=server.endpoint())  # a new store: nothing cached
                r = read_all(t, scale)
                assert r[2] == ref[scale], "frames from the bucket differ from the local file's"
                fetched[scale] = t._fileobj.store.stats
                t.close()
                return r
            # best of ROUNDS, the cases interleaved: the machine's other work lowers a round, never raises it
            fps, cpu = {}, {}
            for _ in range(ROUNDS):
                for name, run_case in cases:
                    f, c, _ = run_case()
                    fps[name] = max(fps.get(name, 0), f)
                    cpu[name] = min(cpu.get(name, 1e9), c)
            for scale, name in ((1, "bucket_full"), (1 / 4, "bucket_quarter")):
                fps[name + "_bytes_per_frame"] = round(fetched[scale].bytes / n)
                fps[name + "_gets"] = fetched[scale].gets
            local.close()
        finally:
            server.stop()
    for k, v in fps.items():
        if not k.endswith(("_bytes_per_frame", "_gets")):
            fps[k] = round(v, 1)
    cpu = {k: round(v, 2) for k, v in cpu.items()}

    def row(name):
        return f"{fps[name]:6.1f} ({cpu[name]:5.1f} ms)"
    print(f"  {n} frames, {size / n / 1e3:.0f} kB a frame; frames a second, best of {ROUNDS} ({CORES} threads; "
          "CPU ms a frame of the reader):")
    print(f"    local file           full {row('local_full')}   1/4 {row('local_quarter')}")
    print(f"    bucket (s3rver)      full {row('bucket_full')}   1/4 {row('bucket_quarter')}   "
          f"({fps['bucket_full_bytes_per_frame'] / 1e3:.0f} kB, {fps['bucket_full_gets'] / n:.2f} GETs a frame)")
    print(f"    rectified when read  full {row('rectify_full')}   1/4 {row('rectify_quarter')}")
    print(f"    local file, full, 1 thread {row('local_full_1thread')}")
    write_result("reader", frames=n, frame_bytes=round(size / n), threads=CORES, batch=BATCH, rounds=ROUNDS,
                 fps=fps, cpu_ms_per_frame=cpu, **{k: v for k, v in fps.items()})


if __name__ == "__main__":
    main()
