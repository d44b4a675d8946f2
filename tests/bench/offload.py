#!/usr/bin/python3
"""make bench, row 10: getting takes off the board (issue 11). handrec-offload uploading to a
real S3 server on this machine (s3rver, tests/integration/objectstore.py), beside the baseline of
rclone copyto alone of the same file, in the same run: upload throughput with and without the
verification. Then a take on both hands (synthetic 2x1280x720 at 30 fps) recorded while an
upload runs at offload.bwlimit = 12M, beside the same take with no upload: frames and drops.
The server runs on the same two cores here, so the throughput is this machine's, not a network's."""
import os
import subprocess
import time

from benchlib import SECONDS, WORK, Run, take_attrs, write_result

import objectstore  # noqa: E402  (tests/integration, on the path through benchlib)
from offload import Offload, offload_conf, rclone_env, read_state

TAKE_S = max(4.0, round(SECONDS / 3))  # the take to upload; default 20 s, about 190 MB
BOTH_S = max(3.0, round(SECONDS / 6))  # the take on both hands; default 10 s


def run_config(server, conf, state, bwlimit=""):
    def config(tmp, out):
        text = (f'save = {{ output_dir = "{out}"; jpeg_quality = 85; min_free_mb = 1; }};\n')
        for hand in ("right", "left"):
            text += (f'{hand}_hand = {{ camera = {{ source = "synthetic"; width = 1280; height = 720; '
                     'fps = 30.0; warmup = 0.2; }; };\n')
        return text + offload_conf(server.remote(), conf, state, bwlimit=bwlimit)
    return config


def record(run, *hands, seconds):
    args = ["start", "--duration", str(seconds), "--follow"]
    for h in hands:
        args += ["--hand", h]
    out = run.ctl(*args, timeout=seconds + 120)
    return sorted(line.strip() for line in out.splitlines() if line.strip().endswith(".h5"))


def drops(paths):
    a = [take_attrs(p) for p in paths]
    causes = {}
    for x in a:
        for k, v in x.items():
            if k.startswith("dropped_") and int(v):
                causes[k[8:]] = causes.get(k[8:], 0) + int(v)
    return dict(frames=sum(int(x.get("frames", 0)) for x in a),
                frames_captured=sum(int(x.get("frames_captured", 0)) for x in a),
                frames_dropped=sum(int(x.get("frames_dropped", 0)) for x in a), causes=causes)


def with_config(run, text):
    with open(run.daemon.config, "w") as f:
        f.write(text)


def main():
    os.makedirs(WORK, exist_ok=True)
    server = objectstore.S3Server(WORK)
    server.start()
    conf = os.path.join(WORK, "rclone.conf")
    server.write_rclone_conf(conf)
    state = os.path.join(WORK, "offload-state")
    print(f"== offload: handrec-offload to s3rver on this machine; a {TAKE_S:.0f} s take of one hand, then "
          f"{BOTH_S:.0f} s on both hands during an upload")
    try:
        with Run(run_config(server, conf, state)) as run:
            run.start()
            big = record(run, "right", seconds=TAKE_S)[0]
            size = os.path.getsize(big)
            # baseline: rclone copyto alone, same file, same server, same priorities as the service's child
            t0 = time.monotonic()
            subprocess.run(["nice", "-n", "19", "ionice", "-c", "3", "rclone", "--config", conf, "copyto", big,
                            server.remote("baseline/" + os.path.basename(big))], check=True, env=rclone_env(os.environ),
                           capture_output=True)
            baseline_s = time.monotonic() - t0
            off = Offload(run.bus, run.tmp, run.daemon.config)
            t0 = time.monotonic()
            off.start()
            off.wait_verified([big], timeout=600)
            offload_s = time.monotonic() - t0
            assert server.object_bytes("right/" + os.path.basename(big)) == open(big, "rb").read()
            check = read_state(state, big)["check"]
            off.stop()
            print(f"  {size / 1e6:.0f} MB take: rclone copyto alone {size / baseline_s / 1e6:6.1f} MB/s ({baseline_s:.1f} s); "
                  f"handrec-offload upload + verification ({check.split(':')[0]}) {size / offload_s / 1e6:6.1f} MB/s "
                  f"({offload_s:.1f} s, from its start)")

            # a take on both hands with no upload, then the same during one at bwlimit 12M
            quiet = drops(record(run, "right", "left", seconds=BOTH_S))
            backlog = record(run, "right", seconds=TAKE_S)[0]
            with_config(run, run_config(server, conf, state, bwlimit="12M")(run.work, run.out))
            off = Offload(run.bus, run.tmp, run.daemon.config).start()
            deadline = time.monotonic() + 60
            while off.status()["State"] != "uploading" and time.monotonic() < deadline:
                time.sleep(0.05)
            during_paths = record(run, "right", "left", seconds=BOTH_S)
            # the takes before it (the quiet pair, then the backlog take) were uploading all along
            still = off.status()["State"] in ("uploading", "verifying")
            during = drops(during_paths)
            off.wait_verified([backlog] + during_paths, timeout=600)
            off.stop()
    finally:
        server.stop()
    for name, d in (("no upload", quiet), ("during an upload at 12M", during)):
        print(f"  both hands {BOTH_S:.0f} s, {name:<24} {d['frames']} of {d['frames_captured']} frames written, "
              f"{d['frames_dropped']} dropped" + (f" {d['causes']}" if d["causes"] else ""))
    print(f"  the upload ran through the whole take: {'yes' if still else 'NO (it ended first)'}")
    write_result("offload", take_bytes=size, baseline_seconds=baseline_s, offload_seconds=offload_s,
                 baseline_mb_s=size / baseline_s / 1e6, offload_mb_s=size / offload_s / 1e6, check=check,
                 quiet=quiet, during=during, upload_covered_take=still)


if __name__ == "__main__":
    main()
