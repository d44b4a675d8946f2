#!/bin/sh
# Runs every test suite and ends with one plain line: "N passed, N failed, N skipped".
#
#   lint            clang-format, cppcheck, the layers (scripts/check-layers.py)
#   unit            the C unit tests (AddressSanitizer + UBSan build); tsan: the threaded ones again
#                   under ThreadSanitizer
#   fuzz            each libFuzzer target for a few seconds (tests/fuzz/run.sh)
#   integration     the pytest suites that measure the optimised daemon itself (marker
#                   native_daemon: throughput with 0 drops, RSS, allocations, the bench), one at a time
#   integration-san every other integration test, once, against handrecd and handrec-offload built
#                   with ASan+UBSan (a report, a leak at exit included, fails), 3 at a time (xdist)
#   vm              Debian's kernel in qemu: vivid, the power cut, the package under systemd, UVC
#                   cameras through uvcvideo (tests/vm/run.sh: every tests/vm/test_*.py)
#   arm64           the unit tests cross-built for arm64 and run under qemu-aarch64
#                   (tests/arm64/run.sh: it installs the cross toolchain itself, as root)
#
# Two lanes run side by side, because most of the run waits (on cameras at 30 fps, on qemu, on
# the network of the upload tests) rather than computes: lane 1 runs lint, unit, tsan, fuzz,
# integration and integration-san in turn; lane 2 runs vm, then arm64. Each suite's output is
# printed whole when it ends, under its "== suite" heading; each suite's time is printed at the
# end. TESTS="unit integration" limits what runs (in that order, one lane); PYTEST_ARGS is passed
# to pytest; PYTEST_WORKERS (default 3) sets integration-san's parallel tests.
set -u
BUILD=${BUILD:-build}
ALL="lint unit tsan fuzz integration integration-san vm arm64"
PY=/usr/bin/python3
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

# add_junit FILE: "passed failed skipped" of a pytest JUnit XML report (a missing one: a failure)
junit_counts() {
        $PY - "$1" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
try:
    r = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("pytest produced no report")
    print(0, 1, 0)
    sys.exit()
suites = [r] if r.tag == "testsuite" else list(r)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - s, f, s)
PYEOF
}

# pytest's xdist spreads tests over workers when it is there (python3-pytest-xdist); without it
# the tests run one at a time, and say so
workers() {
        if $PY -c 'import xdist' 2>/dev/null; then
                echo "-n ${PYTEST_WORKERS:-3}"
        else
                echo "integration-san: python3-pytest-xdist is not installed: one test at a time (slower)" >&2
        fi
}

# One suite: its body's output into $results/SUITE.log, "passed failed skipped" into
# $results/SUITE.counts, its seconds into $results/SUITE.time; the log printed when it ends.
run_suite() {
        suite=$1
        start=$(date +%s)
        counts=$results/$suite.counts
        echo "0 1 0" >"$counts" # until the suite says otherwise
        suite_"$(echo "$suite" | tr - _)" "$counts" >"$results/$suite.log" 2>&1
        echo $(($(date +%s) - start)) >"$results/$suite.time"
        {
                echo "== $suite"
                cat "$results/$suite.log"
        } >"$results/$suite.print"
        cat "$results/$suite.print"
}

suite_lint() {
        if make -s lint 2>&1; then
                echo "ok - lint"
                echo "1 0 0" >"$1"
        else
                echo "not ok - lint"
                echo "0 1 0" >"$1"
        fi
}

# unit tests (ASan+UBSan) or their ThreadSanitizer run
unit_tests() {
        kind=$1 list=$2 counts=$3
        p=0 f=0
        for t in $list; do
                exe="$BUILD/$([ "$kind" = unit ] && echo san || echo tsan)/test-$t"
                out="$results/$kind-$t.out"
                echo "-- $kind: $t"
                # ThreadSanitizer needs the address space layout it knows: setarch -R turns off ASLR
                # for this run only (kernels with high mmap entropy otherwise abort it at start)
                if [ "$kind" = unit ]; then
                        ASAN_OPTIONS=detect_leaks=1 "$exe" >"$out" 2>&1
                else
                        TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
                                setarch "$(uname -m)" -R "$exe" >"$out" 2>&1
                fi
                rc=$?
                cat "$out"
                line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
                if [ -n "$line" ]; then
                        tp=${line%% passed*} tf=${line#*passed, }
                        tf=${tf%% failed*}
                        # a crash after the summary (sanitizer report at exit) is a failure too
                        [ $rc -ne 0 ] && [ "$tf" = 0 ] && tf=1
                        p=$((p + tp)) f=$((f + tf))
                else
                        echo "unit test $t crashed (exit $rc) before its summary"
                        f=$((f + 1))
                fi
        done
        echo "$p $f 0" >"$counts"
}

suite_unit() { unit_tests unit "${UNIT_TESTS:-}" "$1"; }
suite_tsan() { unit_tests tsan "${TSAN_TESTS:-}" "$1"; }

suite_fuzz() {
        BUILD=$BUILD sh tests/fuzz/run.sh "$1"
}

# the tests that measure the optimised daemon (native_daemon), one at a time: nothing of this
# suite competes with itself for the CPU
suite_integration() {
        xml=$results/integration.xml
        # shellcheck disable=SC2086
        BUILD=$BUILD $PY -m pytest -p no:cacheprovider -q -rfEs -m native_daemon --junitxml="$xml" \
                ${PYTEST_ARGS:-} tests/integration
        junit_counts "$xml" | tail -n 1 >"$1"
        junit_counts "$xml" | head -n -1
}

# every other integration test, against handrecd (and handrec-offload) built with ASan+UBSan:
# every report (a leak at exit included) lands in a file, and any file is a failure
suite_integration_san() {
        xml=$results/integration-san.xml
        rm -rf "$results/asan" && mkdir -p "$results/asan"
        # shellcheck disable=SC2046,SC2086
        HANDRECD_BIN="$PWD/$BUILD/san/handrecd" HANDREC_OFFLOAD_BIN="$PWD/$BUILD/san/handrec-offload" \
                ASAN_OPTIONS="detect_leaks=1:log_path=$results/asan/asan" \
                UBSAN_OPTIONS="print_stacktrace=1:log_path=$results/asan/ubsan" \
                BUILD=$BUILD $PY -m pytest -p no:cacheprovider -q -rfEs -m "not native_daemon" $(workers) \
                --junitxml="$xml" ${PYTEST_ARGS:-} tests/integration
        set -- "$1" $(junit_counts "$xml" | tail -n 1)
        junit_counts "$xml" | head -n -1
        if ls "$results/asan/"* >/dev/null 2>&1; then
                echo "not ok - sanitizer reports from the daemon:"
                cat "$results/asan/"*
                echo "$2 $(($3 + 1)) $4" >"$1"
        else
                echo "ok - no sanitizer report (leaks at exit included) from any daemon of the run"
                echo "$(($2 + 1)) $3 $4" >"$1"
        fi
}

suite_vm() {
        BUILD=$BUILD sh tests/vm/run.sh "$1"
}

suite_arm64() {
        BUILD=$BUILD sh tests/arm64/run.sh "$1"
}

# run_lane SUITE...: the suites in turn, those TESTS names
run_lane() {
        for s in "$@"; do
                case " ${TESTS:-$ALL} " in *" $s "*) run_suite "$s" ;; esac
        done
}

t0=$(date +%s)
if [ -z "${TESTS:-}" ]; then
        run_lane vm arm64 &
        lane2=$!
        run_lane lint unit tsan fuzz integration integration-san
        wait $lane2
else
        # named suites: one lane, in the order given
        for s in $TESTS; do
                case " $ALL " in
                *" $s "*) run_suite "$s" ;;
                *) echo "run-all: no suite '$s' (suites: $ALL)"; echo "0 1 0" >"$results/$s.counts" ;;
                esac
        done
fi

passed=0 failed=0 skipped=0
echo
echo "Suites (seconds; lanes 1 and 2 ran side by side):"
for s in $ALL; do
        [ -f "$results/$s.counts" ] || continue
        read -r p f k <"$results/$s.counts"
        case "$p.$f.$k" in
        *[!0-9.]* | .* | *.. | *.) # not three counts: the suite's runner broke, a failure
                echo "run-all: $s wrote '$(cat "$results/$s.counts")', not 'passed failed skipped'"
                p=0 f=1 k=0 ;;
        esac
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
        printf '  %-16s %5ss  %s passed, %s failed, %s skipped\n' "$s" "$(cat "$results/$s.time" 2>/dev/null || echo -)" \
                "$p" "$f" "$k"
done
echo "  total            $(($(date +%s) - t0))s"
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
