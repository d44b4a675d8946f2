/* SPDX-License-Identifier: MIT */
/*
 * v4l2-describe.h — V4L2 devices in words: the formats, sizes and frame rates a device can give
 * (for error messages and `handrecctl devices`) and a fourcc's name; and the one ioctl wrapper
 * the V4L2 code shares. No V4L2 header is needed to include it (writer.c names formats with it).
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

/**
 * v4l2_describe_formats() - print the sizes and rates of the open device @fd (the caller's), one
 * format a line, each line starting with @indent. With @only non-zero and offered by the device,
 * that format in full and the others by name on a last line; otherwise every format in full.
 * Return: the formats described in full.
 */
int v4l2_describe_formats(int fd, uint32_t only, FILE *out, const char *indent);

/** v4l2_fourcc_to_string() - a V4L2 fourcc as text ("YUYV", "MJPG", "YU12"; trailing spaces cut). Return: @buf. */
const char *v4l2_fourcc_to_string(uint32_t fourcc, char buf[static 8]);

/**
 * v4l2_xioctl() - v4l2_ioctl() (libv4l2: a device opened with v4l2_open() gets its conversions, any
 * other fd the plain ioctl), retried when a signal interrupts it.
 * Return: the ioctl's result (>= 0), or negative errno.
 */
int v4l2_xioctl(int fd, unsigned long request, void *arg);
