#!/usr/bin/python3
"""A stand-in for handrec-offload, for handrecctl's formatting tests only (the real service's own
tests are in test_offload.py): owns org.handrec1.Offload on a private bus and answers Status() and
ListUploads() with what a JSON file says, in the types of docs/dbus-api.md.

    fake_offload.py --address ADDR --state FILE

FILE, read again at every call (a test changes it between two runs of handrecctl):
    {"status": {"State": "uploading", "TakesBehind": 3, ...},   # keys left out: "" or 0
     "uploads": {"/abs/take.h5": {"state": "failed", "error": "...", "remote": "..."}, ...},
     "error": "org.freedesktop.DBus.Error.AccessDenied"}          # optional: every call fails so
Prints "READY" once it owns the name; SIGTERM quits. Each call is counted in FILE.calls, one
member name a line.
"""
import argparse
import json
import signal
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BUS_NAME = "org.handrec1.Offload"
PATH = "/org/handrec1/offload"
INTERFACE = "org.handrec1.Offload"

# the D-Bus types of docs/dbus-api.md, org.handrec1.Offload
STATUS_TYPES = {
    "State": dbus.String, "Remote": dbus.String, "TakesBehind": dbus.UInt32, "BytesBehind": dbus.UInt64,
    "Rate": dbus.Double, "Current": dbus.String, "CurrentDone": dbus.UInt64, "CurrentSize": dbus.UInt64,
    "LastError": dbus.String, "NextRetry": dbus.Double, "Uploaded": dbus.UInt32, "Removed": dbus.UInt32,
    "FreeBytes": dbus.UInt64, "KeepFreeBytes": dbus.UInt64, "MaxTakesBytes": dbus.UInt64,
    "SpaceNote": dbus.String,
}
UPLOAD_TYPES = {
    "state": dbus.String, "error": dbus.String, "remote": dbus.String, "size": dbus.UInt64,
    "check": dbus.String, "attempts": dbus.UInt32, "updated_utc": dbus.String,
}


class Failed(dbus.DBusException):
    def __init__(self, name):
        super().__init__("fake_offload.py was told to fail this call")
        self._dbus_error_name = name


def typed(values, types):
    out = {}
    for key, kind in types.items():
        v = values.get(key, "" if kind is dbus.String else 0)
        out[key] = kind(v)
    return dbus.Dictionary(out, signature="sv")


class Offload(dbus.service.Object):
    def __init__(self, conn, state_file):
        super().__init__(conn, PATH)
        self.state_file = state_file

    def load(self, member):
        with open(self.state_file + ".calls", "a") as f:
            f.write(member + "\n")
        with open(self.state_file) as f:
            state = json.load(f)
        if state.get("error"):
            raise Failed(state["error"])
        return state

    @dbus.service.method(INTERFACE, in_signature="", out_signature="a{sv}")
    def Status(self):
        return typed(self.load("Status").get("status", {}), STATUS_TYPES)

    @dbus.service.method(INTERFACE, in_signature="", out_signature="a(sa{sv})")
    def ListUploads(self):
        uploads = self.load("ListUploads").get("uploads", {})
        return dbus.Array([dbus.Struct((f, typed(u, UPLOAD_TYPES))) for f, u in uploads.items()],
                          signature="(sa{sv})")

    @dbus.service.method(INTERFACE, in_signature="", out_signature="")
    def Retry(self):
        self.load("Retry")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--state", required=True)
    a = ap.parse_args()
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    conn = dbus.bus.BusConnection(a.address)
    Offload(conn, a.state)
    name = dbus.service.BusName(BUS_NAME, bus=conn, do_not_queue=True)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    print("READY", flush=True)
    loop.run()
    del name


if __name__ == "__main__":
    sys.exit(main())
