#!/usr/bin/python3
"""make bench, row 9: what a preview costs and what it does to a take (issue 10). One hand on the
synthetic camera (2x1280x720 at 30 fps), the daemon idle: its CPU over BENCH_SECONDS / 3 with no
preview, then with one preview at 10 fps read as fast as it comes (default max_width 1280; with
guides; full size), % of one core from /proc/<pid>/stat (the synthetic camera's drawing of the
frames the preview takes included). Then a take of the same length at 30 fps while two previews
are open, one read and one never read (a stalled reader): its frames and drops."""
import socket
import struct
import threading
import time

import dbus

from benchlib import SECONDS, Run, cpu_seconds, take_attrs, write_result

HEADER = struct.Struct("<4sIIIqQII")  # lib/preview-protocol.h


def config(tmp, out):
    return (f'save = {{ output_dir = "{out}"; jpeg_quality = 85; min_free_mb = 1; }};\n'
            'right_hand = { camera = { source = "synthetic"; width = 1280; height = 720; fps = 30.0; '
            'warmup = 0.2; }; };\n')


def open_preview(run, **options):
    conn = dbus.bus.BusConnection(run.bus.address)
    mgr = dbus.Interface(conn.get_object("org.handrec1", "/org/handrec1"), "org.handrec1.Manager")
    return socket.socket(fileno=mgr.OpenPreview("right", dbus.Dictionary(options, signature="sv")).take())


def drain(sock, counts, stop):
    """Read whole frames until @stop; counts[0] += 1 per frame."""
    sock.settimeout(1)
    buf = b""
    while not stop.is_set():
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            return
        buf += chunk
        while len(buf) >= HEADER.size:
            size = HEADER.unpack_from(buf)[1]
            if len(buf) < HEADER.size + size:
                break
            buf = buf[HEADER.size + size:]
            counts[0] += 1


def idle_cost(run, seconds, options):
    """% of one core the daemon used over @seconds, and preview frames a second (None: no preview)."""
    sock, counts, stop, t = None, [0], threading.Event(), None
    if options is not None:
        sock = open_preview(run, **options)
        t = threading.Thread(target=drain, args=(sock, counts, stop))
        t.start()
        time.sleep(1)  # the preview thread started, the first frames through
    c0, f0, t0 = cpu_seconds(run.pid), counts[0], time.monotonic()
    time.sleep(seconds)
    c1, f1, t1 = cpu_seconds(run.pid), counts[0], time.monotonic()
    if sock:
        stop.set()
        t.join()
        sock.close()
        time.sleep(0.5)  # the preview thread gone before the next case
    return round(100 * (c1 - c0) / (t1 - t0), 2), (round((f1 - f0) / (t1 - t0), 2) if sock else None)


seconds = max(3.0, round(SECONDS / 3))
cases = (("no preview", None), ("max_width 1280 (default)", {}),
         ("max_width 1280, guides", {"guides": True}), ("full size", {"max_width": dbus.UInt32(0)}))
print(f"== preview: one hand, synthetic 2x1280x720 at 30 fps, idle, {seconds:.0f} s a case; then a take under two "
      "previews")
with Run(config) as run:
    run.start()
    rows = []
    for name, options in cases:
        cpu, fps = idle_cost(run, seconds, options)
        rows.append(dict(case=name, cpu_percent=cpu, preview_fps=fps))
        print(f"  {name:<28} daemon CPU {cpu:5.2f} % of a core" + (f", {fps:.2f} preview frames/s" if fps else ""))
    read_sock, stalled = open_preview(run, guides=True), open_preview(run)
    counts, stop = [0], threading.Event()
    t = threading.Thread(target=drain, args=(read_sock, counts, stop))
    t.start()
    path = run.ctl("start", "--hand", "right", "--duration", str(seconds)).strip()
    time.sleep(seconds)
    run.wait_idle(("right",), timeout=60)
    stop.set()
    t.join()
    read_sock.close()
    stalled.close()
    attrs = take_attrs(path)
take = dict(frames=int(attrs.get("frames", 0)), frames_captured=int(attrs.get("frames_captured", 0)),
            frames_dropped=int(attrs.get("frames_dropped", 0)), preview_frames=counts[0])
print(f"  take under two previews (one never read): {take['frames']} of {take['frames_captured']} frames written, "
      f"{take['frames_dropped']} dropped; the preview read got {take['preview_frames']} frames")
write_result("preview", idle=rows, take=take)
