#!/usr/bin/python3
"""Take the README's screenshot of `handrecctl preview` (docs/preview.png) with headless Chromium:
a private bus, handrecd on its synthetic camera when this build's handrecd has OpenPreview, else
the stand-in fake_preview.py (the script says which), both hands with --guides.

    BUILD=build /usr/bin/python3 tests/integration/preview_screenshot.py [OUTPUT.png]
"""
import os
import re
import select
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import HANDRECCTL, ROOT, Bus, Daemon, make_config  # noqa: E402


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "preview.png"))
    with tempfile.TemporaryDirectory(prefix="handrec-shot-") as tmp:
        bus = Bus(tmp)
        daemon = fake = ctl = None
        try:
            outdir = os.path.join(tmp, "out")
            os.makedirs(outdir)
            daemon = Daemon(bus, tmp, make_config(outdir, width=320, height=240)).start()
            intro = subprocess.run(["busctl", "--user", "introspect", "org.handrec1", "/org/handrec1"],
                                   env=bus.env, capture_output=True, text=True).stdout
            if "OpenPreview" not in intro:
                daemon.stop()
                daemon = None
                fake = subprocess.Popen(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "fake_preview.py"),
                                         "--address", bus.address, "--hand", "right", "--hand", "left",
                                         "--texture", "0"], stdout=subprocess.PIPE, text=True)
                assert fake.stdout.readline().strip() == "READY"
            print("source:", "handrecd (synthetic camera)" if daemon else "the stand-in fake_preview.py")
            ctl = subprocess.Popen([HANDRECCTL, "--user", "preview", "--guides", "--listen", "127.0.0.1:0"],
                                   env=bus.env, stdout=subprocess.PIPE, text=True)
            select.select([ctl.stdout], [], [], 30)
            line = ctl.stdout.readline()
            print(line.strip())
            url = re.search(r"(http://\S+/\?token=\w+)", line).group(1)  # the page, with its token
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--user-data-dir={tmp}/chromium", "--virtual-time-budget=4000",
                            "--window-size=1330,345", f"--screenshot={out}", url],
                           check=True, capture_output=True, timeout=120)
            print("wrote", out, os.path.getsize(out), "bytes")
        finally:
            for p in (ctl, fake):
                if p:
                    p.terminate()
                    p.wait()
            if daemon:
                daemon.stop()
            bus.stop()


if __name__ == "__main__":
    main()
