# libFuzzer targets: filled in by the fuzzing work (tests/fuzz/README or run.sh say how to run them).
