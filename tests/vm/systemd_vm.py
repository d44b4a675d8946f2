#!/usr/bin/python3
"""A VM whose PID 1 is systemd, for tests of handrecd as it is installed and booted.

The kernel and the modules are tests/vm/vm.py's (Debian's kernel under qemu TCG). The root file
system is this machine's root, read-only over 9p, under an overlay whose upper layer is an ext4
file system on a virtio disk (a raw image on this machine): what the guest installs or changes
stays in the image, so a second boot of the same image is a reboot of the installed system. The
busybox initramfs mounts it all, loads vivid, installs a oneshot unit that runs the test script
once the system is up (After=multi-user.target) and powers off, masks the units of this machine
that would hang or fail in the VM, and switch_roots to /lib/systemd/systemd.

Results come back over a second 9p share, mounted at /vmout in the guest (not under /run, which
systemd mounts a tmpfs over).

    systemd_vm.py mkdisk IMAGE [--mb N]           an empty ext4 image for the upper layer
    systemd_vm.py run SCRIPT OUTDIR --disk IMAGE  boot, run SCRIPT once the system is up, power off
"""
import argparse
import gzip
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import vm  # noqa: E402
from vm import Unavailable  # noqa: E402,F401

WANTED = vm.WANTED + vm.DISK_MODULES + ["overlay"]

# Units of this machine that have no business in the VM: gettys (a getty on ttyS0 takes the console
# and hangs it up), services of the host, timers that would start apt or scrubbing mid-test.
MASK = [
    "serial-getty@ttyS0.service", "getty@tty1.service", "getty.target", "console-getty.service",
    "postgresql.service", "e2scrub_reap.service", "e2scrub_all.timer", "systemd-pstore.service",
    "systemd-timesyncd.service", "apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service",
    "apt-daily-upgrade.service", "dpkg-db-backup.timer", "fstrim.timer", "man-db.timer",
    "remote-fs.target", "networking.service", "systemd-networkd-wait-online.service",
    "NetworkManager-wait-online.service", "systemd-remount-fs.service", "systemd-firstboot.service",
    "systemd-binfmt.service", "proc-sys-fs-binfmt_misc.automount", "systemd-hwdb-update.service",
    "ldconfig.service", "systemd-journal-catalog-update.service", "systemd-update-done.service",
    "sys-kernel-debug.mount", "sys-kernel-tracing.mount", "dev-hugepages.mount", "dev-mqueue.mount",
    "systemd-logind.service", "cron.service", "ssh.service", "rsyslog.service",
]

TEST_UNIT = """[Unit]
Description=handrecd VM test script
After=multi-user.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
StandardOutput=file:/vmout/guest.log
StandardError=inherit
Environment=HANDREC_VM=1
WorkingDirectory=@WORKDIR@
ExecStart=/bin/sh /vmout/guest-script.sh
ExecStopPost=/bin/sync
TimeoutStartSec=600

[Install]
WantedBy=multi-user.target
"""

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do modprobe "$m" || echo "modprobe $m failed"; done
modprobe vivid n_devs=1 node_types=0x1 || echo "VM: modprobe vivid failed"
mkdir -p /lower /disk /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /lower || { echo "VM: cannot mount host root"; poweroff -f; }
mount -t ext4 /dev/vda /disk || { echo "VM: cannot mount the upper layer"; poweroff -f; }
mkdir -p /disk/upper /disk/work
mount -t overlay -o lowerdir=/lower,upperdir=/disk/upper,workdir=/disk/work overlay /newroot || { echo "VM: overlay failed"; poweroff -f; }
mkdir -p /newroot/vmout
mount -t 9p -o trans=virtio,version=9p2000.L,rw out /newroot/vmout || { echo "VM: cannot mount out"; poweroff -f; }
# the host's fstab says nothing of this machine: no mounts to wait for
echo "# handrecd test VM: root is an overlay set up by the initramfs" > /newroot/etc/fstab
# systemd-tmpfiles-setup would empty /tmp at boot (tmp.conf "D /tmp"): on the overlay that is a
# whiteout for every file of this machine's /tmp, and minutes of work under TCG
mkdir -p /newroot/etc/tmpfiles.d
ln -sf /dev/null /newroot/etc/tmpfiles.d/tmp.conf
cd /newroot/etc/systemd/system
for u in $(cat /mask); do rm -f "$u"; ln -s /dev/null "$u"; done
cp /handrec-vmtest.service handrec-vmtest.service
mkdir -p multi-user.target.wants
ln -sf /etc/systemd/system/handrec-vmtest.service multi-user.target.wants/handrec-vmtest.service
cd /
echo "VM: switch_root to systemd"
exec switch_root /newroot /lib/systemd/systemd
"""


def build_initramfs(moddir, version, workdir):
    """vm.py's initramfs with this module's init, the overlay module, the mask list and the unit."""
    base = vm.build_initramfs(moddir, version, workdir, WANTED)
    # vm.build_initramfs ends the archive; rebuild it with our init by writing a second archive
    # appended to the first (the kernel unpacks concatenated archives in order, later files win)
    c = vm.Cpio()
    c.file("init", INIT.encode(), 0o755)
    c.file("mask", ("\n".join(MASK) + "\n").encode())
    c.file("handrec-vmtest.service", TEST_UNIT.replace("@WORKDIR@", workdir).encode())
    return base + gzip.compress(c.close(), compresslevel=1)


def mkdisk(image, mb=2048):
    with open(image, "wb") as f:
        f.truncate(mb * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "vmupper", image], check=True)


def start(script, outdir, disk, memory="1024"):
    _, moddir, version = vm.fetch_kernel()
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o777)
    shutil.copy(script, os.path.join(outdir, "guest-script.sh"))
    return vm.boot(outdir, build_initramfs(moddir, version, os.getcwd()),
                   "console=ttyS0 panic=-1 loglevel=3 systemd.unit=multi-user.target "
                   "systemd.show_status=auto systemd.journald.forward_to_console=0",
                   memory, f"file={disk},format=raw,if=virtio,cache=writeback,aio=threads")


def run(script, outdir, disk, timeout=300):
    t0 = time.monotonic()
    return vm.wait(start(script, outdir, disk), t0, timeout)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mkdisk")
    m.add_argument("image")
    m.add_argument("--mb", type=int, default=2048)
    r = sub.add_parser("run")
    r.add_argument("script")
    r.add_argument("outdir")
    r.add_argument("--disk", required=True)
    r.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    if args.cmd == "mkdisk":
        mkdisk(args.image, args.mb)
        return 0
    try:
        rc, secs = run(args.script, args.outdir, args.disk, args.timeout)
    except Unavailable as e:
        print(f"VM unavailable: {e}", file=sys.stderr)
        return 77
    print(f"VM ran {secs:.1f} s, qemu exit {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
