#!/bin/sh
# Installs, from the distribution's archive, what building handrecd for arm64 and running its unit
# tests under qemu-aarch64 need on a Debian or Ubuntu machine: the cross compiler
# (crossbuild-essential-arm64), qemu-user-static, and the arm64 libraries the daemon links.
# Run as root; it does nothing (and says so) when everything is there. tests/arm64/run.sh and
# `make deb ARCH=arm64` call it; HANDREC_SKIP_DEPS=1 skips it.
#
# What it changes, and nothing else: `dpkg --add-architecture arm64` when arm64 is not yet a
# foreign architecture (taken back if the archive turns out to have no arm64 packages), an
# `apt-get update` when the arm64 package lists are missing or older than a day, and the packages.
# Before installing it asks apt for the plan and refuses a plan that would remove a package.
#
# HDF5: Debian's libhdf5-dev is not multi-arch (its headers sit in /usr/include/hdf5/serial for
# every architecture), so libhdf5-dev:arm64 and the host's libhdf5-dev cannot both be installed:
# apt would remove the host's. Only the arm64 HDF5 *library* is installed here; the arm64 build
# compiles against the host's HDF5 headers, which for C are the same on both architectures (the
# two packages differ only in Fortran definitions and in macros no public C header uses), and
# tests/arm64/arm64.mk links the arm64 library by its file name.
set -eu

[ "${HANDREC_SKIP_DEPS:-0}" = 1 ] && exit 0

say() { echo "install-arm64-deps: $*"; }
die() { echo "install-arm64-deps: $*" >&2; exit 1; }

{ command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; } ||
        die "this needs dpkg and apt (Debian or Ubuntu); install an aarch64-linux-gnu cross compiler, qemu-aarch64 and the arm64 libraries by hand"

host=$(dpkg --print-architecture)
# the arm64 libraries handrecd links (the -dev packages are multi-arch: their :arm64 builds install
# beside the host's); libhdf5-dev is the host's, for its headers (see above)
dev="libsystemd-dev libturbojpeg0-dev libjpeg-dev libconfig-dev libv4l-dev libyaml-dev libmicrohttpd-dev libjson-c-dev"
if [ "$host" = arm64 ]; then
        # building on an arm64 machine: its own compiler and libraries, no emulator
        wanted="gcc make pkg-config libhdf5-dev $dev"
else
        wanted="crossbuild-essential-arm64 qemu-user-static make pkg-config libhdf5-dev"
        for p in $dev; do wanted="$wanted $p:arm64"; done
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$'; }

# HDF5's runtime library package is named after its soname (libhdf5-103-1 on Debian 12,
# libhdf5-103 on Ubuntu 22.04): the first library libhdf5-dev depends on
hdf5_runtime() {
        apt-cache depends libhdf5-dev 2>/dev/null | sed -n 's/^ *Depends: \(libhdf5-[0-9][0-9-]*\)$/\1/p' | head -n 1
}

missing=""
for p in $wanted; do installed "$p" || missing="$missing $p"; done
if [ "$host" != arm64 ]; then
        h5=$(hdf5_runtime)
        if [ -n "$h5" ]; then
                installed "$h5:arm64" || missing="$missing $h5:arm64"
        elif ! ls /usr/lib/aarch64-linux-gnu/libhdf5_serial.so.* >/dev/null 2>&1; then
                # apt does not know libhdf5-dev yet (no package lists): decided after the update
                missing="$missing (hdf5-runtime):arm64"
        fi
fi
if [ -z "$missing" ]; then
        say "everything for the arm64 build is installed"
        exit 0
fi

if [ "$(id -u)" != 0 ]; then
        die "missing:$missing
install-arm64-deps: run this script as root (sudo sh scripts/install-arm64-deps.sh)"
fi
export DEBIAN_FRONTEND=noninteractive

added_arch=no
if [ "$host" != arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
        say "adding arm64 as a foreign architecture (dpkg --add-architecture arm64)"
        dpkg --add-architecture arm64
        added_arch=yes
fi

# the package lists: refreshed when the host's or (cross) the arm64 ones are missing or older than a day
lists_fresh() {
        [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name "*binary-$1_Packages*" -mtime -1 2>/dev/null | head -n 1)" ]
}
if ! lists_fresh "$host" || { [ "$host" != arm64 ] && ! lists_fresh arm64; }; then
        say "apt-get update"
        apt-get update -q || say "apt-get update reported errors (a source may be unreachable); going on with the lists there are"
fi

if [ "$host" != arm64 ]; then
        if ! apt-cache show libc6:arm64 >/dev/null 2>&1; then
                if [ "$added_arch" = yes ]; then
                        dpkg --remove-architecture arm64 || true
                        say "took arm64 back off dpkg's architectures"
                fi
                die "no arm64 packages in the configured archive. On Ubuntu, arm64 is on ports.ubuntu.com:
install-arm64-deps: restrict the existing sources to [arch=amd64] and add the same suites for [arch=arm64]
install-arm64-deps: from http://ports.ubuntu.com/ubuntu-ports, then run this again"
        fi
        h5=$(hdf5_runtime)
        [ -n "$h5" ] || die "the archive has no libhdf5-dev, so no HDF5 library to install for arm64"
        missing=""
        for p in $wanted "$h5:arm64"; do installed "$p" || missing="$missing $p"; done
fi
[ -z "$missing" ] && { say "everything for the arm64 build is installed"; exit 0; }

# the plan first: a package removed here would break the host's own build (libhdf5-dev, above)
# shellcheck disable=SC2086
plan=$(apt-get install -s -q --no-install-recommends $missing 2>&1) ||
        die "apt cannot install$missing:
$plan"
removed=$(echo "$plan" | sed -n 's/^Remv \([^ ]*\).*/\1/p' | tr '\n' ' ' | sed 's/ $//')
[ -z "$removed" ] || die "installing$missing would remove $removed; not done (install by hand if you mean it)"

say "installing$missing"
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing || die "apt-get install failed"
for p in $missing; do installed "$p" || die "$p is still not installed"; done
say "installed:$missing"
