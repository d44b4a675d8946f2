#!/usr/bin/python3
"""A small VM for tests against a real kernel: Debian's own kernel (package linux-image-amd64,
which ships the vivid V4L2 test driver) booted by qemu-system-x86_64 under TCG, with a busybox
initramfs. The guest mounts this machine's root read-only over 9p and chroots into it, so it runs
the very binaries and libraries under test; a second 9p share (read-write) carries results back.

    vm.py run SCRIPT OUTDIR [--timeout S] [--disk IMAGE] [--module NAME]...
                                        boot, run SCRIPT (a host path) in the guest, power off;
                                        each --module is loaded at boot besides WANTED's

A disk image on this machine can be attached as the guest's /dev/vda (virtio, cache=writethrough:
the guest sees a disk without a volatile write cache, and a write it has seen complete is in the
image file), with the modules for ext4 on it; killing qemu (start() gives the process) is then a
power cut for the guest: what its page cache held is gone, what it wrote is kept.

The kernel package is fetched with `apt-get download` into tests/vm/cache (kept between runs).
"""
import argparse
import gzip
import io
import os
import shutil
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("HANDREC_VM_CACHE", os.path.join(HERE, "cache"))
# modules the guest needs: 9p over virtio for the shares, vivid for cameras
WANTED = ["9p", "9pnet_virtio", "virtio_pci", "vivid", "virtio_rng"]
# and with a disk: virtio-blk and ext4 (whose metadata checksums need the crc32c algorithm, a
# soft dependency that modules.dep does not list)
DISK_MODULES = ["virtio_blk", "ext4", "crc32c_generic"]


class Unavailable(Exception):
    """qemu or the kernel cannot be had on this machine."""


def kernel_package():
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Depends: linux-image-") and line.endswith("-amd64"):
            return line.split()[1]
    raise Unavailable("apt-cache does not know linux-image-amd64 (run apt-get update)")


def fetch_kernel():
    """Return (vmlinuz path, modules dir, version), downloading and unpacking once (the VM modules
    run side by side: one of them fetches while the others wait on the cache's lock)."""
    import fcntl
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, "lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _fetch_kernel_locked()


def _fetch_kernel_locked():
    stamp = os.path.join(CACHE, "kernel.ready")
    if os.path.exists(stamp):
        version = open(stamp).read().strip()
    else:
        pkg = kernel_package()
        for f in os.listdir(CACHE):
            if f.endswith(".deb"):
                os.unlink(os.path.join(CACHE, f))
        r = subprocess.run(["apt-get", "download", pkg], cwd=CACHE, capture_output=True, text=True)
        debs = [f for f in os.listdir(CACHE) if f.startswith(pkg) and f.endswith(".deb")]
        if not debs:
            raise Unavailable(f"apt-get download {pkg} failed: {r.stderr.strip()}")
        root = os.path.join(CACHE, "root")
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", os.path.join(CACHE, debs[0]), root], check=True)
        os.unlink(os.path.join(CACHE, debs[0]))
        version = pkg[len("linux-image-"):]
        write_modules_dep(os.path.join(root, "lib", "modules", version))
        with open(stamp, "w") as f:
            f.write(version)
    root = os.path.join(CACHE, "root")
    return os.path.join(root, "boot", f"vmlinuz-{version}"), os.path.join(root, "lib", "modules", version), version


def write_modules_dep(moddir):
    """modules.dep as depmod would write it, from each module's own .modinfo "depends=" (the
    package leaves depmod to install time, and kmod need not be on this machine)."""
    paths = {}
    for dirpath, _, files in os.walk(os.path.join(moddir, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                full = os.path.join(dirpath, f)
                paths[f[:-3].replace("-", "_")] = (os.path.relpath(full, moddir), full)
    lines = []
    for name, (rel, full) in sorted(paths.items()):
        data = open(full, "rb").read()
        i = data.find(b"\0depends=")
        deps = []
        if i >= 0:
            value = data[i + 9:data.index(b"\0", i + 1)].decode()
            deps = [paths[d.replace("-", "_")][0] for d in value.split(",") if d]
        lines.append(f"{rel}: {' '.join(deps)}\n")
    with open(os.path.join(moddir, "modules.dep"), "w") as f:
        f.writelines(lines)


def module_closure(moddir, wanted=WANTED):
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            path, rest = line.split(":", 1)
            deps[path] = rest.split()
    by_name = {os.path.basename(p)[:-3].replace("-", "_"): p for p in deps}
    todo = [by_name[n.replace("-", "_")] for n in wanted if n.replace("-", "_") in by_name]
    seen = []
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.append(p)
            todo.extend(deps[p])
    return seen, deps


class Cpio:
    """newc archive writer (what the kernel unpacks as an initramfs)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b"", nlink=1):
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
        self.ino += 1
        self.buf.write(hdr.encode() + name_b)
        self.buf.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * ((4 - len(data) % 4) % 4))

    def dir(self, name):
        self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def close(self):
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do modprobe "$m" || echo "modprobe $m failed"; done
mkdir -p /host /out
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /host || { echo "VM: cannot mount host root"; poweroff -f; }
mount -t 9p -o trans=virtio,version=9p2000.L,rw out /out || { echo "VM: cannot mount out"; poweroff -f; }
mount --rbind /dev /host/dev
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
# /tmp is left as it is: the checkout under test may live there; scratch space is /run
mount -t tmpfs run /host/run
mkdir -p /host/run/out
mount --bind /out /host/run/out
# the modules, for the test script to reload vivid
mkdir -p /host/run/modules
mount --bind /lib/modules /host/run/modules
echo "VM: ready, running the test script"
chroot /host /bin/sh -c "cd '$(cat /workdir)' && BUILD='$(cat /build)' TMPDIR=/run HANDREC_VM=1 sh /run/out/guest-script.sh" > /out/guest.log 2>&1
echo "VM: script exit $?" | tee -a /out/guest.log
sync
poweroff -f
"""


def build_initramfs(moddir, version, workdir, wanted=WANTED, build="build"):
    busybox = "/bin/busybox"  # busybox-static: the initramfs has no libraries
    if not os.path.exists(busybox):
        raise Unavailable("busybox-static is not installed")
    mods, deps = module_closure(moddir, wanted)
    c = Cpio()
    for d in ("bin", "sbin", "proc", "sys", "dev", "lib", "lib/modules", f"lib/modules/{version}", "etc"):
        c.dir(d)
    c.file("bin/busybox", open(busybox, "rb").read(), 0o755)
    c.file("init", INIT.encode(), 0o755)
    c.file("workdir", workdir.encode())
    c.file("build", build.encode())  # the build tree the guest script runs ($BUILD on the host)
    made = set()
    for m in mods:
        parts = m.split("/")
        for i in range(1, len(parts)):
            d = f"lib/modules/{version}/" + "/".join(parts[:i])
            if d not in made:
                c.dir(d)
                made.add(d)
        c.file(f"lib/modules/{version}/{m}", open(os.path.join(moddir, m), "rb").read())
    dep = "".join(f"{m}: {' '.join(deps[m])}\n" for m in mods)
    c.file(f"lib/modules/{version}/modules.dep", dep.encode())
    # load order: dependencies first; vivid is loaded by the test script with its own options
    order = [os.path.basename(m)[:-3] for m in reversed(mods)]
    order = [m for m in order if m != "vivid"]
    c.file("modules.order", "\n".join(order).encode() + b"\n")
    return gzip.compress(c.close(), compresslevel=1)


def boot(outdir, initramfs, append, memory="1024", drive=None):
    """Write @initramfs (bytes) to OUTDIR and start qemu on Debian's kernel with this machine's root
    shared read-only (tag hostroot) and OUTDIR shared (tag out); @drive: a -drive value for /dev/vda.
    Returns the running qemu (a Popen; its console goes to OUTDIR/console.log)."""
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        raise Unavailable("qemu-system-x86_64 is not installed (package qemu-system-x86)")
    vmlinuz, _, _ = fetch_kernel()
    initrd = os.path.join(outdir, "initramfs.gz")
    with open(initrd, "wb") as f:
        f.write(initramfs)
    cmd = [qemu, "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", memory,
           "-kernel", vmlinuz, "-initrd", initrd, "-nographic", "-no-reboot", "-nic", "none",
           "-append", append,
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=h",
           "-virtfs", f"local,path={outdir},mount_tag=out,security_model=none,id=o",
           "-device", "virtio-rng-pci"]
    if drive:
        cmd += ["-drive", drive]
    with open(os.path.join(outdir, "console.log"), "w") as log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def wait(p, t0, timeout):
    """Wait for qemu @p (started at monotonic @t0); kill it past @timeout. Returns (rc, seconds)."""
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    return rc, time.monotonic() - t0


def start(script, outdir, memory="1024", disk=None, modules=()):
    """Boot the VM and return the running qemu (a Popen; its console goes to OUTDIR/console.log).
    disk: a raw image file, the guest's /dev/vda. modules: more kernel modules to load at boot
    (with what they depend on), besides WANTED's."""
    _, moddir, version = fetch_kernel()
    os.makedirs(outdir, exist_ok=True)
    shutil.copy(script, os.path.join(outdir, "guest-script.sh"))
    wanted = WANTED + list(modules) + (DISK_MODULES if disk else [])
    initramfs = build_initramfs(moddir, version, os.getcwd(), wanted, os.environ.get("BUILD", "build"))
    # writethrough: the guest is told the disk has no volatile write cache, and qemu reports a
    # write complete only once the image file has it (O_DSYNC). So what survives a kill of qemu
    # is exactly what the guest had written, whatever it had not is lost with its RAM.
    drive = f"file={disk},format=raw,if=virtio,cache=writethrough,aio=threads" if disk else None
    return boot(outdir, initramfs, "console=ttyS0 quiet panic=-1 loglevel=3", memory, drive)


def results(outdir):
    """The KEY=VALUE lines a guest script wrote to OUTDIR/results.txt, as a dict ({} when none)."""
    r = {}
    p = os.path.join(outdir, "results.txt")
    if os.path.exists(p):
        for line in open(p):
            k, _, v = line.rstrip("\n").partition("=")
            r[k] = v
    return r


def logs(outdir, *names):
    """The last 3000 characters of each file of OUTDIR named, under a header; missing ones say so.
    guest.log and console.log, which every caller names first, are put last: a report cut short
    (CI keeps the head and the tail) then still shows the files that say what went wrong."""
    text = ""
    common = ("guest.log", "console.log")
    for n in [n for n in names if n not in common] + [n for n in common if n in names]:
        p = os.path.join(outdir, n)
        body = open(p, errors="replace").read()[-3000:] if os.path.exists(p) else "(missing)"
        text += f"\n--- {n} ---\n" + body
    return text


def run(script, outdir, timeout, memory="1024", disk=None, modules=()):
    t0 = time.monotonic()
    return wait(start(script, outdir, memory, disk, modules), t0, timeout)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("script")
    r.add_argument("outdir")
    r.add_argument("--timeout", type=float, default=900)
    r.add_argument("--disk", help="a raw disk image, the guest's /dev/vda")
    r.add_argument("--module", action="append", default=[], help="a kernel module to load at boot too")
    args = ap.parse_args()
    try:
        rc, secs = run(args.script, args.outdir, args.timeout, disk=args.disk, modules=args.module)
    except Unavailable as e:
        print(f"VM unavailable: {e}", file=sys.stderr)
        return 77
    print(f"VM ran {secs:.1f} s, qemu exit {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
