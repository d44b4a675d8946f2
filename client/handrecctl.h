/* SPDX-License-Identifier: MIT */
/* handrecctl.h — the subcommands that live outside handrecctl.c. */
#pragma once

/* handrecctl-files.c: commands on take files, no daemon needed */
int run_check(int argc, char *argv[]);
int run_recover(int argc, char *argv[]);
