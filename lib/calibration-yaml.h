/* SPDX-License-Identifier: MIT */
/*
 * calibration-yaml.h — what the calibration readers (calibration-opencv.c, calibration-ros.c)
 * share: a calibration file loaded as a libyaml document, and lookups in it that fail with a
 * sentence naming the file and line ("left.yaml:7: camera_matrix has 6 values, it needs 9").
 * Private to the calibration modules.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "calibration.h"

struct calibration_doc {
        const char *path; /* borrowed from the caller of calibration_yaml_load() */
        char *text;       /* the file as read, NUL-terminated; owned */
        yaml_document_t yaml;
        bool loaded; /* yaml holds a document to delete */
};

/**
 * calibration_yaml_load() - read @path into @doc: at most 1 MiB, YAML (OpenCV's "%YAML:1.0" first
 * line accepted), a mapping at the top.
 * @doc: zeroed by the caller; release it with calibration_yaml_done(), also after a failure.
 * Return: 0 or -errno, with the reason in @error.
 */
int calibration_yaml_load(const char *path, struct calibration_doc *doc, char *error, size_t len);

/* calibration_yaml_done() - release what @doc holds (not @doc itself); @doc may be zeroed. */
void calibration_yaml_done(struct calibration_doc *doc);

/* The value of @key in the document's top mapping, or NULL. The node belongs to @doc. */
yaml_node_t *calibration_yaml_get(struct calibration_doc *doc, const char *key);

/* The line (from 1) where @node starts, for messages. */
size_t calibration_yaml_line(const yaml_node_t *node);

/**
 * calibration_yaml_matrix() - read matrix @node, named @name in messages: {rows, cols, data: [...]}
 * (OpenCV's !!opencv-matrix, ROS) or a plain list of numbers.
 * @out, @max: room for at most @max values; may be partly written on failure.
 * @ret_n: how many values there were; untouched on failure.
 * Return: 0, -EDOM for a NaN or infinite value, or -EINVAL; the reason in @error.
 */
int calibration_yaml_matrix(struct calibration_doc *doc, yaml_node_t *node, const char *name, double *out, unsigned max,
                            unsigned *ret_n, char *error, size_t len);

/* As calibration_yaml_matrix(), for a matrix that must have exactly @want values. */
int calibration_yaml_matrix_exact(struct calibration_doc *doc, yaml_node_t *node, const char *name, double *out,
                                  unsigned want, char *error, size_t len);

/* The image size the file names (image_width and image_height, or imageSize: [w, h]), if any. */
bool calibration_yaml_size(struct calibration_doc *doc, unsigned *ret_width, unsigned *ret_height);

/**
 * calibration_yaml_model() - the distortion model the file names with distortion_model.
 * @ret_model: MODEL_UNSET when it names none.
 * Return: 0, or -EINVAL for a model handrecd does not know, with the reason in @error.
 */
int calibration_yaml_model(struct calibration_doc *doc, enum distortion_model *ret_model, char *error, size_t len);
