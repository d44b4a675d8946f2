/* SPDX-License-Identifier: MIT */
/*
 * rectify-kernels.h — the remap kernels (private to rectify*.c and the unit test): one row of
 * output pixels through a packed map (rectify.h says what an entry holds), as rectify_row_fn.
 * Every kernel gives the bytes of the scalar reference:
 *
 *      top = p[0] · (32 − fx) + p[1] · fx                (p: the top-left source neighbour)
 *      bot = p[s] · (32 − fx) + p[s + 1] · fx            (s: the source stride)
 *      out = (top · (32 − fy) + bot · fy + 512) >> 10
 *
 * which is cv2.remap's INTER_LINEAR on CV_16SC2 maps: its weights (in 1/32768) are these
 * products times 32 exactly, rounded the same way.
 */
#pragma once

#include "rectify.h"

rectify_row_fn rectify_row_scalar;
#if defined(__x86_64__)
rectify_row_fn rectify_row_avx2; /* only where __builtin_cpu_supports("avx2") */
#endif
#if defined(__aarch64__)
rectify_row_fn rectify_row_neon;
#endif
