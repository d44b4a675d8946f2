/* SPDX-License-Identifier: MIT */
/*
 * fuzz-calibration-ros.c — calibration_load() on ROS camera_info YAML, one file per eye: the left
 * and right files cut apart at a "#8<" line (an input without one is used for both eyes); what is
 * checked: fuzz-calibration.h. Seeds: tests/fuzz/corpus/calibration-ros/.
 */
#include "fuzz-calibration.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        (void) argc;
        (void) argv;
        fuzz_files_setup(2, (const char *const[]){"left.yaml", "right.yaml"});
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        fuzz_calibration(data, size, true);
        return 0;
}
