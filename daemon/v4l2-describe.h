/* SPDX-License-Identifier: MIT */
/* v4l2-describe.h — formats, sizes and frame rates of a V4L2 device, as text. */
#pragma once

#include <stdint.h>
#include <stdio.h>

/**
 * capture_describe() - print the sizes and rates of open device @fd, one format a line; with
 * @only non-zero, that format in full and the others by name. Return: formats described.
 */
int capture_describe(int fd, uint32_t only, FILE *out, const char *indent);

/** fourcc_to_string() - "YUYV", "MJPG". Return: @buf. */
const char *fourcc_to_string(uint32_t f, char buf[static 8]);
