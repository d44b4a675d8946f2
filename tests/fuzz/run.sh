#!/bin/sh
# The fuzzers' short run in make check: builds every libFuzzer target (tests/fuzz/fuzz.mk) and
# runs each for FUZZ_SECONDS (default 5) from a copy of its corpus (tests/fuzz/corpus/<target>/)
# and its saved regressions (tests/fuzz/regressions/<target>/), so the committed files never
# change here. A target passes when it ran to the end without a crash, a leak or a broken check;
# a failing input is kept under $BUILD/fuzz/artifacts/ (see tests/fuzz/README.md).
#   usage: tests/fuzz/run.sh COUNTS-FILE    writes "passed failed skipped" to COUNTS-FILE
set -u
counts=${1:?usage: run.sh COUNTS-FILE}
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-5}
TARGETS="config calibration-opencv calibration-ros take-options list-takes-options preview-options take-file offload-state
         rclone-json preview-stream preview-host"
n_targets=$(echo "$TARGETS" | wc -w)
artifacts=$BUILD/fuzz/artifacts
passed=0 failed=0

# the fuzzers need clang and its libFuzzer runtime (scripts/install-deps.sh installs them); without
# them nothing can run, and that is a failure, not a skip
if ! command -v clang >/dev/null 2>&1; then
        echo "not ok - fuzz: clang is not installed (apt-get install clang libclang-rt-dev); no fuzzer ran"
        echo "0 $n_targets 0" >"$counts"
        exit 0
fi
# a make above us (make check) must not hand its job server or flags down
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -j"$(nproc)" BUILD="$BUILD" fuzz; then
        echo "not ok - fuzz: the fuzz targets did not build (is libclang-rt-dev, with libFuzzer, installed?)"
        echo "0 $n_targets 0" >"$counts"
        exit 0
fi

work=$(mktemp -d /tmp/handrec-fuzz-run-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

for t in $TARGETS; do
        exe=$BUILD/fuzz/fuzz-$t
        log=$work/$t.log
        mkdir -p "$work/$t"
        cp tests/fuzz/corpus/"$t"/* "$work/$t/" 2>/dev/null
        [ -d tests/fuzz/regressions/"$t" ] && cp tests/fuzz/regressions/"$t"/* "$work/$t/" 2>/dev/null
        set --
        [ -f tests/fuzz/"$t".dict ] && set -- -dict=tests/fuzz/"$t".dict
        # stdin from /dev/null: a configuration naming /dev/stdin as a calibration must not wait
        UBSAN_OPTIONS=print_stacktrace=1 LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp \
                "$exe" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
                -artifact_prefix="$artifacts/$t-" "$@" "$work/$t" </dev/null >"$log" 2>&1
        rc=$?
        done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
        if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
                echo "ok - fuzz: $t: ${done_line#Done }"
                passed=$((passed + 1))
        else
                # the report: the sanitizer's or the broken check's, and the input libFuzzer kept
                grep -vE '^(#[0-9]+|INFO:|MS:|base unit:)' "$log" | tail -n 40
                echo "not ok - fuzz: $t (exit $rc); failing input: $(grep -o "$artifacts/$t-[^ ]*" "$log" | tail -n 1)"
                failed=$((failed + 1))
        fi
done
echo "$passed $failed 0" >"$counts"
