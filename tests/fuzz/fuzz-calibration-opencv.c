/* SPDX-License-Identifier: MIT */
/*
 * fuzz-calibration-opencv.c — calibration_load() on OpenCV FileStorage YAML: one file
 * (intrinsics and extrinsics together), or two (intrinsics.yml, extrinsics.yml) cut apart at a
 * "#8<" line; what is checked: fuzz-calibration.h. Seeds: tests/fuzz/corpus/calibration-opencv/.
 */
#include "fuzz-calibration.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        fuzz_files_setup(2, (const char *const[]){"intrinsics.yml", "extrinsics.yml"});
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_calibration(data, size, false);
        return 0;
}
