/* SPDX-License-Identifier: MIT */
/*
 * calibration-ros.h — ROS camera_info YAML, one file per eye. Private to the calibration modules.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "calibration-yaml.h"
#include "calibration.h"

/* Whether @doc looks like a ROS camera_info file (it has a camera_matrix). */
bool calibration_ros_detect(struct calibration_doc *doc);

/**
 * calibration_ros_read() - fill each eye's K, D, R, P and the image size from two camera_info files.
 * @docs, @n: the loaded files, left eye first; there must be two.
 * @c: filled in; the model is not read here (calibration_yaml_model()), nor anything checked
 *     beyond the shape of each matrix and that both files name the same image size.
 * Return: 0 or -errno, with a sentence naming the file (and line) in @error.
 */
int calibration_ros_read(struct calibration_doc *docs, unsigned n, struct calibration *c, char *error, size_t len);
