#!/bin/sh
# Installs, from Debian's or Ubuntu's archive, the packages handrecd needs to build and to run its
# tests, when any is missing. Run as root (make demo and make check call it); it does nothing when
# everything is there. HANDREC_SKIP_DEPS=1 skips it (for builds on a machine you manage yourself).
set -eu

[ "${HANDREC_SKIP_DEPS:-0}" = 1 ] && exit 0

# build: compiler, pkg-config and the -dev packages of every library the daemon links
build="gcc make pkg-config libsystemd-dev libturbojpeg0-dev libhdf5-dev libconfig-dev libv4l-dev libyaml-dev"
# tests and demo: a real dbus-daemon, busctl/systemd-analyze, HDF5 readers, Python reference tools,
# qemu + busybox + v4l-utils for the VM tests, opencv-doc for its real stereo images
test="dbus-daemon systemd hdf5-tools python3 python3-h5py python3-numpy python3-opencv python3-dbus python3-pytest python3-gi
      libglib2.0-bin procps util-linux qemu-system-x86 busybox-static v4l-utils opencv-doc"
# lint
lint="clang-format cppcheck"
# fuzzers (tests/fuzz/): clang and its libFuzzer runtime, which Debian 12 ships in libclang-rt-dev;
# Ubuntu 22.04 has no such package, its clang brings libFuzzer along (libclang-common-14-dev)
fuzz="clang libclang-rt-dev"

wanted="$build"
case "${1:-all}" in
        build) ;;
        all) wanted="$build $test $lint $fuzz" ;;
        *) echo "usage: $0 [build|all]" >&2; exit 2 ;;
esac

missing=""
for p in $wanted; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case "$status" in
                *" installed") ;;
                *)
                        # libFuzzer's runtime from another package counts as installed
                        if [ "$p" = libclang-rt-dev ] && dpkg -S '*/libclang_rt.fuzzer-*' >/dev/null 2>&1; then
                                continue
                        fi
                        missing="$missing $p" ;;
        esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
        exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# an archive list older than a day (or none) is refreshed first
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
        apt-get update -q
fi
# an archive without libclang-rt-dev (Ubuntu 22.04): clang alone brings libFuzzer
case " $missing " in
        *" libclang-rt-dev "*)
                apt-cache show libclang-rt-dev >/dev/null 2>&1 || missing=$(echo "$missing" | sed 's/ libclang-rt-dev//') ;;
esac
[ -z "$missing" ] && exit 0
apt-get install -y -q --no-install-recommends $missing
