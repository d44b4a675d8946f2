/* SPDX-License-Identifier: MIT */
/* handrecctl-info.c — `handrecctl info FILE`: what a take holds, read from the file itself. */
#include <stdio.h>

#include "../daemon/util.h"
#include "handrecctl.h"

int run_info(int argc _unused_, char *argv[] _unused_) {
        fprintf(stderr, "handrecctl: info is not written yet.\n");
        return 1;
}
