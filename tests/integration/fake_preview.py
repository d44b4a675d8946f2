#!/usr/bin/python3
"""A stand-in for handrecd's preview, for the client tests only: owns org.handrec1 on a private
bus and answers ListHands, Status and OpenPreview(s hand, a{sv} options) -> (h preview) as the
daemon does (the options, their ranges and the errors of docs/dbus-api.md), streaming cv2-encoded
JPEGs in the wire format of lib/preview-protocol.h over one end of a socketpair.

    fake_preview.py --address ADDR [--hand NAME]... [--no-device NAME]... [--eye 320x240] [--texture 48]

Prints "READY" once it owns the name. SIGUSR1 ends every open preview (EOF, as the daemon does on
reload or quit); SIGTERM quits. Each frame is a fixed textured scene (the same every frame, so a
test can find it in a screenshot) with the frame number in a small box in its top-left corner.
"""
import argparse
import signal
import socket
import struct
import sys
import threading
import time

import cv2
import dbus
import dbus.mainloop.glib
import dbus.service
import numpy as np
from gi.repository import GLib

BUS_NAME = "org.handrec1"
MANAGER = "org.handrec1.Manager"
HEADER = struct.Struct("<4sIIIqQII")  # struct preview_header, 40 bytes
RECTIFIED, GUIDES, RECORDING = 1, 2, 4
assert HEADER.size == 40


class InvalidOption(dbus.DBusException):
    _dbus_error_name = "org.handrec1.Error.InvalidOption"


class NoSuchHand(dbus.DBusException):
    _dbus_error_name = "org.handrec1.Error.NoSuchHand"


class DeviceUnavailable(dbus.DBusException):
    _dbus_error_name = "org.handrec1.Error.DeviceUnavailable"


def scene(eye_w, eye_h, hand_index, texture):
    """Both eyes side by side: colour blocks (in another order for each hand), a gradient and
    circles; the right eye shifted."""
    w = eye_w + 16
    y, x = np.mgrid[0:eye_h, 0:w]
    img = np.zeros((eye_h, w, 3), np.uint8)
    img[..., 0] = (x * 255 // w).astype(np.uint8)
    img[..., 1] = (y * 255 // eye_h).astype(np.uint8)
    img[..., 2] = 128
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (0, 255, 255), (255, 0, 255), (255, 255, 0)]
    colours = colours[hand_index:] + colours[:hand_index]
    for i, c in enumerate(colours):
        x0 = 8 + i * (w - 16) // len(colours)
        cv2.rectangle(img, (x0, eye_h // 3), (x0 + (w - 16) // len(colours) - 8, eye_h * 2 // 3), c, -1)
    for i in range(5):
        cv2.circle(img, (20 + i * w // 5, eye_h * 5 // 6), eye_h // 12, (255, 255, 255), 2)
    # a fixed fine texture, so that JPEGs are about a camera's size (tens of kB), not a drawing's
    noise = np.random.default_rng(hand_index).integers(-texture, texture + 1, img.shape)
    img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    left, right = img[:, 16:16 + eye_w], img[:, 0:eye_w]
    return np.ascontiguousarray(np.hstack([left, right]))


class Preview(threading.Thread):
    """One open preview: frames at the asked rate, written whole, until the reader leaves."""

    def __init__(self, sock, base, fps, scale, guides, quality):
        super().__init__(daemon=True)
        self.sock, self.fps, self.guides, self.quality = sock, fps, guides, quality
        h, w = base.shape[:2]
        self.base = cv2.resize(base, (w // scale, h // scale), interpolation=cv2.INTER_AREA) if scale > 1 else base
        if guides:
            for y in range(16, self.base.shape[0], 32):
                cv2.line(self.base, (0, y), (self.base.shape[1] - 1, y), (0, 255, 0), 1)
        self.stopped = threading.Event()

    def frame(self, number):
        img = self.base.copy()
        cv2.rectangle(img, (0, 0), (60, 14), (0, 0, 0), -1)
        cv2.putText(img, str(number), (2, 11), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1)
        ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        assert ok
        h, w = img.shape[:2]
        flags = GUIDES if self.guides else 0
        return HEADER.pack(b"HRP1", len(jpeg), w, h, time.monotonic_ns(), number, flags, 0) + jpeg.tobytes()

    def run(self):
        start, period = time.monotonic(), 1.0 / self.fps
        try:
            while not self.stopped.is_set():
                # the frame number is the camera's: a reader that was slow sees the gap
                number = int((time.monotonic() - start) / period)
                self.sock.sendall(self.frame(number))
                delay = start + (number + 1) * period - time.monotonic()
                if delay > 0:
                    self.stopped.wait(delay)
        except OSError:
            pass  # the reader closed its end: the preview is over
        finally:
            self.sock.close()

    def end(self):
        self.stopped.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def option(options, key, kind, lo=None, hi=None, what=""):
    if key not in options:
        return None
    v = options[key]
    if not isinstance(v, kind):
        raise InvalidOption(f"Option {key} takes {what}.")
    if lo is not None and not lo <= v <= hi:
        raise InvalidOption(f"Option {key} must be between {lo} and {hi}, not {v}.")
    return v


class Manager(dbus.service.Object):
    def __init__(self, conn, hands, no_device, eye, texture):
        super().__init__(conn, "/org/handrec1")
        self.hands, self.no_device = hands, no_device
        self.base = {h: scene(*eye, i, texture) for i, h in enumerate(hands)}
        self.previews = []
        self.opened = 0

    @dbus.service.method(MANAGER, in_signature="", out_signature="as")
    def ListHands(self):
        return self.hands

    @dbus.service.method(MANAGER, in_signature="s", out_signature="a{sv}")
    def Status(self, hand):
        self.check_hand(hand)
        return {"Name": hand, "State": "no-device" if hand in self.no_device else "idle", "File": "",
                "LastError": "", "FramesCaptured": dbus.UInt64(0), "FramesWritten": dbus.UInt64(0),
                "FramesDropped": dbus.UInt64(0), "BytesWritten": dbus.UInt64(0), "QueueDepth": dbus.UInt32(0),
                "Fps": dbus.Double(0), "Duration": dbus.Double(0)}

    def check_hand(self, hand):
        if hand not in self.hands:
            raise NoSuchHand(f"No hand '{hand}'; the configured hands are {', '.join(self.hands)}.")

    @dbus.service.method(MANAGER, in_signature="sa{sv}", out_signature="h")
    def OpenPreview(self, hand, options):
        self.check_hand(hand)
        known = {"fps", "max_width", "rectified", "guides", "quality"}
        for k in options:
            if k not in known:
                raise InvalidOption(f"Unknown option {k}; OpenPreview takes {', '.join(sorted(known))}.")
        fps = option(options, "fps", float, 0.5, 30, "a number (d)") or 10.0
        max_width = option(options, "max_width", int, what="a whole number (u)")
        if option(options, "rectified", int, what="true or false (b)"):
            raise InvalidOption(f"Hand {hand} has no calibration: it cannot be previewed rectified.")
        guides = bool(option(options, "guides", int, what="true or false (b)"))
        quality = option(options, "quality", int, 30, 95, "a whole number (i)") or 70
        if hand in self.no_device:
            raise DeviceUnavailable(f"the {hand} hand's camera is not connected (fake: no device): check the "
                                    "cable; the preview opens once the camera is back")
        width = self.base[hand].shape[1]
        max_width = 1280 if max_width is None else max_width
        scale = 1
        while max_width and width // scale > max_width and scale < 8:
            scale *= 2
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        p = Preview(ours, self.base[hand], fps, scale, guides, quality)
        self.previews.append(p)
        self.opened += 1
        p.start()
        fd = dbus.types.UnixFd(theirs)  # dbus-python keeps a copy
        theirs.close()
        return fd

    def end_all(self):
        for p in self.previews:
            p.end()
        self.previews = []
        return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--hand", action="append", default=[])
    ap.add_argument("--no-device", action="append", default=[])
    ap.add_argument("--eye", default="320x240")
    ap.add_argument("--texture", type=int, default=48, help="the fixed noise's amplitude (0: none)")
    a = ap.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    conn = dbus.bus.BusConnection(a.address)
    manager = Manager(conn, a.hand or ["right"], a.no_device, [int(v) for v in a.eye.split("x")], a.texture)
    name = dbus.service.BusName(BUS_NAME, bus=conn, do_not_queue=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGUSR1, manager.end_all)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    print("READY", flush=True)
    loop.run()
    manager.end_all()
    del name


if __name__ == "__main__":
    sys.exit(main())
