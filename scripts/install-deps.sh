#!/bin/sh
# Installs, from Debian's or Ubuntu's archive, the packages handrecd needs, when any is missing.
# Run as root (make demo, make deb and make check call it); it does nothing when everything is there.
# HANDREC_SKIP_DEPS=1 skips it (for builds on a machine you manage yourself).
#
#   install-deps.sh build   compiler, pkg-config and the -dev packages: enough for `make`
#   install-deps.sh demo    build + what `make demo` runs (dbus-daemon, busctl, h5py, h5ls, OpenCV)
#   install-deps.sh deb     build + the Debian packaging tools (`make deb`)
#   install-deps.sh bench   build + demo + what `make bench` runs (valgrind, opencv-doc's images)
#   install-deps.sh all     everything `make check` needs: the above, the test tools, lint, fuzzers
#
# `all` also installs s3rver (the S3 server the upload tests run rclone against) from the npm
# registry into $BUILD/node (BUILD: the Makefile passes its own, default build), pinned by
# tests/objectstore/package-lock.json; skipped when that very lock is already installed there.
set -eu

[ "${HANDREC_SKIP_DEPS:-0}" = 1 ] && exit 0

# build: compiler, pkg-config and the -dev packages of every library the daemon links
# (libmicrohttpd: handrecctl preview's HTTP server; libjson-c: handrecctl --json); scdoc for the
# manual pages (make man, install)
build="gcc make pkg-config libsystemd-dev libturbojpeg0-dev libjpeg-dev libhdf5-dev libconfig-dev libv4l-dev libyaml-dev
       libmicrohttpd-dev libjson-c-dev scdoc"
# demo (scripts/demo.sh): a private dbus-daemon, busctl, h5ls, and tools/handrec-info --check,
# which reads with h5py and decodes every frame with OpenCV
demo="dbus-daemon systemd hdf5-tools python3 python3-h5py python3-numpy python3-opencv"
# Debian package (debian/, make deb; lintian runs on it in make check)
# (dh-python: the reader module's byte-compiling and ${python3:Depends})
deb="build-essential debhelper dh-python dpkg-dev fakeroot lintian"
# tests: HDF5 readers, Python reference tools, pytest and xdist (tests side by side), the D-Bus clients, qemu + busybox + v4l-utils for
# the VM tests, opencv-doc for its real stereo images, chromium (headless) and ffmpeg as the
# preview's clients nobody here wrote; ffmpeg also encodes for handrec export (ffprobe checks it),
# man-db renders the manual pages, zsh checks its completion file, tmux is the terminal
# handrecctl record is driven in; rclone is what handrec-offload runs (its tests run it against s3rver
# and against rclone's own `serve webdav`), GNU time measures a program's peak memory, npm (only when the machine has none, e.g. from
# NodeSource) installs s3rver; the reader's dataset library (issue 22, test_dataset*.py): boto3 reads
# takes from s3rver, torch runs its DataLoader, Pillow is its other JPEG decoder, venv (with pip's
# wheel) installs it with `pip install ./python`, setuptools and wheel build it there
test="python3-dbus python3-pytest python3-pytest-xdist python3-gi libglib2.0-bin procps util-linux
      qemu-system-x86 busybox-static v4l-utils opencv-doc chromium ffmpeg man-db zsh tmux rclone time
      python3-boto3 python3-torch python3-pil python3-venv python3-setuptools python3-wheel"
command -v npm >/dev/null 2>&1 || test="$test npm"
# the UVC VM tests (tests/vm/test_uvc.py): the kernel's usbip tools attach the test cameras
# (tests/uvc) through vhci-hcd
test="$test usbip"
# make bench (tests/bench/): callgrind for instruction counts, opencv-doc's images and OpenCV for the
# inputs and the old collector's design, h5py for it and for reading the takes; row 10 uploads with
# rclone to s3rver, and reads the offload's D-Bus API with python3-dbus; row 12 reads takes back from
# s3rver with boto3
bench="valgrind opencv-doc python3-opencv python3-h5py python3-numpy python3-dbus rclone python3-boto3"
command -v npm >/dev/null 2>&1 || bench="$bench npm"
# lint
lint="clang-format cppcheck"
# fuzzers (tests/fuzz/): clang and its libFuzzer runtime, which Debian 12 ships in libclang-rt-dev;
# Ubuntu 22.04 has no such package, its clang brings libFuzzer along (libclang-common-14-dev)
fuzz="clang libclang-rt-dev"

case "${1:-all}" in
        build) wanted="$build" ;;
        demo) wanted="$build $demo" ;;
        deb) wanted="$build $deb" ;;
        bench) wanted="$build $demo $bench" ;;
        all) wanted="$build $demo $deb $test $lint $fuzz $bench" ;;
        *) echo "usage: $0 [build|demo|deb|bench|all]" >&2; exit 2 ;;
esac

# s3rver from the npm registry into $BUILD/node, exactly the versions of the committed lock
# (npm ci); nothing to do when that lock is what is installed there
install_node_packages() {
        root=$(cd "$(dirname "$0")/.." && pwd)
        node_dir=${BUILD:-build}/node
        case "$node_dir" in /*) ;; *) node_dir="$root/$node_dir" ;; esac
        node_lock="$root/tests/objectstore/package-lock.json"
        if cmp -s "$node_lock" "$node_dir/package-lock.json" && [ -x "$node_dir/node_modules/.bin/s3rver" ]; then
                return 0
        fi
        echo "install-deps: installing s3rver into $node_dir (npm ci)"
        mkdir -p "$node_dir"
        cp "$root/tests/objectstore/package.json" "$node_lock" "$node_dir/"
        npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
}

# the Debian packages of $wanted that are missing, with apt-get (as root)
install_debian_packages() {
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
	                        # dbus-daemon is a package of its own from dbus 1.14 on (Debian 12); in
	                        # dbus before (Ubuntu 22.04)
	                        if [ "$p" = dbus-daemon ] && command -v dbus-daemon >/dev/null 2>&1; then
	                                continue
	                        fi
	                        missing="$missing $p" ;;
	        esac
	done
	[ -z "$missing" ] && return 0

	if [ "$(id -u)" != 0 ]; then
	        echo "install-deps: missing packages:$missing" >&2
	        echo "install-deps: run as root, or: sudo apt-get install$missing" >&2
	        return 1
	fi
	echo "install-deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# wait for another apt or dpkg run (another make, unattended-upgrades) instead of failing at once
	lock="-o DPkg::Lock::Timeout=600"
	# an archive list older than a day (or none) is refreshed first
	if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
	        # shellcheck disable=SC2086
	        apt-get $lock update -q
	fi
	# an archive without libclang-rt-dev (Ubuntu 22.04): clang alone brings libFuzzer
	case " $missing " in
	        *" libclang-rt-dev "*)
	                apt-cache show libclang-rt-dev >/dev/null 2>&1 || missing=$(echo "$missing" | sed 's/ libclang-rt-dev//') ;;
	esac
	# an archive without a dbus-daemon package (Ubuntu 22.04): the daemon is in dbus
	case " $missing " in
	        *" dbus-daemon "*)
	                apt-cache show dbus-daemon >/dev/null 2>&1 || missing=$(echo "$missing" | sed 's/ dbus-daemon/ dbus/') ;;
	esac
	[ -z "$missing" ] && return 0
	# shellcheck disable=SC2086
	apt-get $lock install -y -q --no-install-recommends $missing
}

install_debian_packages
case "${1:-all}" in
        all|bench) install_node_packages ;;
esac
