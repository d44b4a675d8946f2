#!/bin/sh
# Runs every test suite and ends with one plain line: "N passed, N failed" (N skipped when any).
#   unit tests (C, AddressSanitizer + UBSan build), the threaded ones again under ThreadSanitizer, integration tests (pytest: private dbus-daemon,
#   real handrecd, h5py/h5dump), system files (systemd-analyze, bus policy), VM tests (qemu + vivid),
#   the unit tests cross-built for arm64 and run under qemu-aarch64 (tests/arm64/run.sh: skipped
#   without the cross compiler, which it installs as root under CI=true or HANDREC_ARM64=1).
# TESTS="unit integration" limits what runs; PYTEST_ARGS is passed to pytest.
set -u
BUILD=${BUILD:-build}
TESTS=${TESTS:-lint unit tsan fuzz integration integration-san vm arm64}
PY=/usr/bin/python3
passed=0 failed=0 skipped=0
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

add() { passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + ${3:-0})); }

# add the counts of a pytest JUnit XML report
add_junit() {
    set -- $($PY - "$1" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == "testsuite" else list(r)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
PYEOF
)
    add "$1" "$2" "$3"
}

for suite in $TESTS; do
    case $suite in
    lint)
        echo "== lint (clang-format, cppcheck)"
        if make -s lint >"$results/lint.out" 2>&1; then
            echo "ok - lint"
            add 1 0
        else
            cat "$results/lint.out"
            echo "not ok - lint"
            add 0 1
        fi
        ;;
    unit|tsan)
        if [ "$suite" = unit ]; then list=$UNIT_TESTS; else list=${TSAN_TESTS:-}; fi
        for t in $list; do
            exe="$BUILD/$( [ "$suite" = unit ] && echo san || echo tsan )/test-$t"
            echo "== $suite: $t"
            out="$results/$suite-$t.out"
            # ThreadSanitizer needs the address space layout it knows: setarch -R turns off ASLR
            # for this run only (kernels with high mmap entropy otherwise abort it at start)
            if [ "$suite" = unit ]; then
                ASAN_OPTIONS=detect_leaks=1 "$exe" >"$out" 2>&1
            else
                TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" setarch "$(uname -m)" -R "$exe" >"$out" 2>&1
            fi
            rc=$?
            cat "$out"
            line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
            if [ -n "$line" ]; then
                p=${line%% passed*}; f=${line#*passed, }; f=${f%% failed*}
                # a crash after the summary (sanitizer report at exit) is a failure too
                [ $rc -ne 0 ] && [ "$f" = 0 ] && f=1
                add "$p" "$f"
            else
                echo "unit test $t crashed (exit $rc) before its summary"
                add 0 1
            fi
        done
        ;;
    integration|system)
        echo "== $suite tests (pytest)"
        xml="$results/$suite.xml"
        BUILD=$BUILD $PY -m pytest -p no:cacheprovider -q -rfEs --junitxml="$xml" ${PYTEST_ARGS:-} "tests/$suite"
        if [ -f "$xml" ]; then
            add_junit "$xml"
        else
            echo "pytest produced no report"
            add 0 1
        fi
        ;;
    fuzz)
        echo "== fuzzers (libFuzzer, short runs)"
        if [ -f tests/fuzz/run.sh ]; then
            BUILD=$BUILD sh tests/fuzz/run.sh "$results/fuzz.counts"
        fi
        if [ -f "$results/fuzz.counts" ]; then
            read p f s <"$results/fuzz.counts"
            add "$p" "$f" "$s"
        else
            echo "tests/fuzz/run.sh gave no counts"
            add 0 1
        fi
        ;;
    integration-san)
        # the integration tests once more against handrecd (and handrec-offload) built with ASan+UBSan: every report
        # (a leak at exit included) lands in a file, and any file is a failure
        echo "== integration tests against the ASan+UBSan daemon"
        rm -rf "$results/asan" && mkdir -p "$results/asan"
        xml="$results/$suite.xml"
        HANDRECD_BIN="$PWD/$BUILD/san/handrecd" HANDREC_OFFLOAD_BIN="$PWD/$BUILD/san/handrec-offload" ASAN_OPTIONS="detect_leaks=1:log_path=$results/asan/asan" \
            UBSAN_OPTIONS="print_stacktrace=1:log_path=$results/asan/ubsan" \
            BUILD=$BUILD $PY -m pytest -p no:cacheprovider -q -rfEs -m "not native_daemon" --junitxml="$xml" \
            ${PYTEST_ARGS:-} tests/integration
        if [ -f "$xml" ]; then
            add_junit "$xml"
        else
            echo "pytest produced no report"
            add 0 1
        fi
        if ls "$results/asan/"* >/dev/null 2>&1; then
            echo "not ok - sanitizer reports from the daemon:"
            cat "$results/asan/"*
            add 0 1
        else
            echo "ok - no sanitizer report (leaks at exit included) from any daemon of the run"
            add 1 0
        fi
        ;;
    vm)
        echo "== VM tests"
        sh tests/vm/run.sh "$results/vm.counts"
        if [ -f "$results/vm.counts" ]; then
            read p f s <"$results/vm.counts"
            add "$p" "$f" "$s"
        else
            add 0 1
        fi
        ;;
    arm64)
        echo "== arm64: unit tests under qemu-aarch64"
        BUILD=$BUILD sh tests/arm64/run.sh "$results/arm64.counts"
        if [ -f "$results/arm64.counts" ]; then
            read p f s <"$results/arm64.counts"
            add "$p" "$f" "$s"
        else
            echo "tests/arm64/run.sh gave no counts"
            add 0 1
        fi
        ;;
    esac
done

echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
