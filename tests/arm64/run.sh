#!/bin/sh
# The arm64 suite of make check: cross-builds every unit test and the programs
# (tests/arm64/arm64.mk), runs each unit test under qemu-aarch64 user emulation with the arm64
# libraries of the machine's multiarch tree, then the comparison with OpenCV on real images
# (tests/integration/test_rectify.py) with the arm64 programs.
#   usage: tests/arm64/run.sh COUNTS-FILE    writes "passed failed skipped" to COUNTS-FILE
#
# As root it installs what it needs itself (scripts/install-arm64-deps.sh: the cross compiler,
# qemu-user-static and the arm64 libraries, about 150 MB from the archive, once), as make check
# installs everything else: a newcomer's make check and CI's are the same suite. Not as root, and
# without the cross compiler, nothing can run: the suite says so in one line and counts every
# test program as skipped. HANDREC_ARM64=0 leaves the machine's architectures alone (skipped too).
# ARM64_TIMEOUT (seconds, default 600) bounds each test program.
set -u
counts=${1:?usage: run.sh COUNTS-FILE}
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
ARM64_TIMEOUT=${ARM64_TIMEOUT:-600}
tests=${UNIT_TESTS:-$(for f in tests/unit/test-*.c; do f=${f#tests/unit/test-}; echo "${f%.c}"; done)}
# take-reader's test starts its own program again as a child (lib/take-reader.h): under qemu-user a
# guest's exec of an arm64 file runs only with binfmt_misc, which containers and CI lack (the
# child's exec fails, exit 127); the HDF5 reads it makes, test-writer and test-recover make here
tests=$(for t in $tests; do [ "$t" = take-reader ] || echo "$t"; done)
n_tests=$(echo "$tests" | wc -w)
cc=${ARM64_CC:-aarch64-linux-gnu-gcc} # the same variable as tests/arm64/arm64.mk
passed=0 failed=0

if [ "$(id -u)" = 0 ] && [ "${HANDREC_ARM64:-1}" != 0 ]; then
        if ! sh scripts/install-arm64-deps.sh; then
                echo "not ok - arm64: scripts/install-arm64-deps.sh could not install the cross toolchain (above); no test ran"
                echo "0 $n_tests 0" >"$counts"
                exit 0
        fi
fi
if ! command -v "$cc" >/dev/null 2>&1; then
        echo "skip - arm64: $cc is not installed and this is not root (or HANDREC_ARM64=0), so no arm64 test ran (as root: make check-arm64)"
        echo "0 0 $n_tests" >"$counts"
        exit 0
fi

# the emulator: qemu-aarch64-static (qemu-user-static) or qemu-aarch64 (qemu-user)
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ]; then
        echo "not ok - arm64: $cc is installed but qemu-aarch64 is not (apt-get install qemu-user-static,"
        echo "       or sh scripts/install-arm64-deps.sh); the arm64 unit tests cannot run"
        echo "0 $n_tests 0" >"$counts"
        exit 0
fi
# The arm64 loader and libc: those of the multiarch tree (libc6:arm64, which every arm64 library
# package brings) when they are there, at the paths an arm64 machine has them, and no
# QEMU_LD_PREFIX. Not the cross toolchain's copy in /usr/aarch64-linux-gnu: its loader
# (libc6-arm64-cross) then loads the multiarch libc.so.6 through /etc/ld.so.cache, and a loader
# and a libc of two different glibc builds hang in the first pthread_create. The cross toolchain's
# tree only when there is no other (programs that link no multiarch library).
if [ -e /lib/ld-linux-aarch64.so.1 ]; then
        unset QEMU_LD_PREFIX
else
        export QEMU_LD_PREFIX="${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}"
fi

# a make above us (make check) must not hand its job server or flags down
targets=""
for t in $tests; do targets="$targets $BUILD/arm64/test-$t"; done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# shellcheck disable=SC2086 # $targets: one word a program
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -j"$(nproc)" BUILD="$BUILD" \
        $targets arm64 >"$log" 2>&1; then
        cat "$log"
        echo "not ok - arm64: the arm64 build failed (above); no test ran"
        echo "0 $n_tests 0" >"$counts"
        exit 0
fi
echo "arm64: built by $cc $($cc -dumpfullversion) for $($cc -dumpmachine); run by $("$qemu" --version | head -n 1)"

for t in $tests; do
        exe=$BUILD/arm64/test-$t
        echo "== arm64: $t"
        timeout "$ARM64_TIMEOUT" "$qemu" "$exe" >"$log" 2>&1
        rc=$?
        cat "$log"
        line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
        if [ -n "$line" ]; then
                p=${line%% passed*}
                f=${line#*passed, }
                f=${f%% failed*}
                [ $rc -ne 0 ] && [ "$f" = 0 ] && f=1 # a crash after the summary
                passed=$((passed + p)) failed=$((failed + f))
        else
                [ $rc -eq 124 ] && echo "arm64: $t ran out of its ${ARM64_TIMEOUT}s (ARM64_TIMEOUT)"
                echo "not ok - arm64: $t crashed (exit $rc) before its summary"
                failed=$((failed + 1))
        fi
done

# the daemon and the client start on arm64 and read a configuration
smoke() {
        if out=$(timeout 60 "$qemu" "$@" 2>&1); then
                echo "ok - arm64: $*"
                passed=$((passed + 1))
        else
                echo "$out"
                echo "not ok - arm64: $*"
                failed=$((failed + 1))
        fi
}
echo "== arm64: programs"
smoke "$BUILD/arm64/handrecd" --version
smoke "$BUILD/arm64/handrecctl" --version
smoke "$BUILD/arm64/handrec-offload" --version

# The rectification against OpenCV on real images, as in the integration tests, with the arm64
# handrec-rectify, handrecd and handrecctl: tests/integration/test_rectify.py with BUILD pointing
# at wrappers that run them under qemu (about 30 s)
skipped=0
py=/usr/bin/python3
if $py -c 'import pytest, cv2, h5py, numpy' 2>/dev/null && [ -d /usr/share/doc/opencv-doc/examples/data ]; then
        echo "== arm64: tests/integration/test_rectify.py with the arm64 programs"
        case $BUILD in /*) arm=$BUILD/arm64 ;; *) arm=$PWD/$BUILD/arm64 ;; esac
        bin=$arm/qemu-bin
        mkdir -p "$bin"
        for p in handrecd handrecctl handrec-rectify; do
                printf '#!/bin/sh\nexec %s %s "$@"\n' "$qemu" "$arm/$p" >"$bin/$p"
                chmod +x "$bin/$p"
        done
        xml=$(mktemp)
        BUILD=$bin HANDRECD_BIN='' $py -m pytest -p no:cacheprovider -q -rfEs --junitxml="$xml" tests/integration/test_rectify.py
        # shellcheck disable=SC2046 # three numbers
        set -- $($py - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    r = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1, 0)
    sys.exit()
suites = [r] if r.tag == "testsuite" else list(r)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
PY
)
        rm -f "$xml"
        passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + $3))
else
        echo "skip - arm64: tests/integration/test_rectify.py (against OpenCV) needs python3-pytest, python3-opencv,"
        echo "       python3-h5py and opencv-doc (sh scripts/install-deps.sh installs them)"
        skipped=1
fi

echo "$passed $failed $skipped" >"$counts"
