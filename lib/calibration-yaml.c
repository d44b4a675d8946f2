/* SPDX-License-Identifier: MIT */
/*
 * calibration-yaml.c — calibration files as libyaml documents, for the two readers: reading a
 * file (at most 1 MiB, text, not XML, OpenCV's "%YAML:1.0" line accepted), and typed lookups in
 * it (matrices, the image size, the distortion model) whose errors name the file and the line.
 * Owns each document's text and tree until calibration_yaml_done().
 */
#include "calibration-yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Calibration files are a few KiB; anything near a megabyte is something else. */
#define CALIBRATION_FILE_MAX (1024 * 1024)

static int report_unreadable(const char *path, int r, char *error, size_t len) {
        if (r == -EISDIR)
                snprintf(error, len, "Cannot read calibration file %s: it is a directory; name the file itself", path);
        else if (r == -EFBIG)
                snprintf(error, len, "Calibration file %s is larger than %d MiB; is it really a calibration?", path,
                         CALIBRATION_FILE_MAX / (1024 * 1024));
        else
                snprintf(error, len, "Cannot read calibration file %s: %s", path, strerror(-r));
        return r;
}

static int read_text(const char *path, char **ret, char *error, size_t len) {
        _cleanup_(freep) char *text = NULL;
        size_t size;
        int r;

        r = read_file_max(path, CALIBRATION_FILE_MAX, &text, &size);
        if (r < 0)
                return report_unreadable(path, r, error, len);
        if (size == 0) {
                snprintf(error, len, "Calibration file %s is empty", path);
                return -EINVAL;
        }
        if (strlen(text) != size) {
                snprintf(error, len, "%s is not a text file (it holds NUL bytes); give the YAML calibration", path);
                return -EINVAL;
        }
        if (text[0] == '<') {
                snprintf(error, len, "%s is XML; save the calibration as YAML (cv::FileStorage with a .yml name)",
                         path);
                return -EINVAL;
        }
        *ret = TAKE_PTR(text);
        return 0;
}

/* The deepest nesting a calibration has is 3 (a mapping of mappings of lists); YAML_DEPTH_MAX
 * leaves room for any tool's layout. A file 200,000 brackets deep (400 KB, under the size cap)
 * takes libyaml's loader minutes, past systemd's start timeout: it is refused at its line first. */
#define YAML_DEPTH_MAX 64

/* The document's events, read once before it is loaded, for their depth alone. Return: 0, or
 * -EINVAL with @error naming the line where it goes too deep (or where it is not YAML). */
static int check_depth(struct calibration_doc *doc, char *error, size_t len) {
        yaml_parser_t parser;
        yaml_event_t event;
        unsigned depth = 0;
        int r = 0;

        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, (const unsigned char *) doc->text, strlen(doc->text));
        for (bool done = false; !done && r == 0;) {
                if (!yaml_parser_parse(&parser, &event))
                        break; /* the loader says what is wrong, at its line */
                if (event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT) {
                        if (++depth > YAML_DEPTH_MAX) {
                                snprintf(error, len,
                                         "%s:%zu: nested more than %d deep; a calibration is a few levels deep: "
                                         "is this the calibration file?",
                                         doc->path, event.start_mark.line + 1, YAML_DEPTH_MAX);
                                r = -EINVAL;
                        }
                } else if (event.type == YAML_SEQUENCE_END_EVENT || event.type == YAML_MAPPING_END_EVENT)
                        depth--;
                done = event.type == YAML_STREAM_END_EVENT;
                yaml_event_delete(&event);
        }
        yaml_parser_delete(&parser);
        return r;
}

static int parse(struct calibration_doc *doc, char *error, size_t len) {
        /* OpenCV writes "%YAML:1.0", which YAML parsers refuse: parse that line as a comment (so
         * that line numbers stay the file's), and keep the text as it was */
        bool opencv_header = strncmp(doc->text, "%YAML:", 6) == 0;
        yaml_parser_t parser;
        yaml_node_t *root;
        int ok;

        if (opencv_header)
                doc->text[0] = '#';
        if (check_depth(doc, error, len) < 0) {
                if (opencv_header)
                        doc->text[0] = '%';
                return -EINVAL;
        }
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, (const unsigned char *) doc->text, strlen(doc->text));
        ok = yaml_parser_load(&parser, &doc->yaml);
        if (opencv_header)
                doc->text[0] = '%';
        if (!ok) {
                snprintf(error, len, "%s:%zu: not valid YAML (%s)", doc->path, parser.problem_mark.line + 1,
                         parser.problem ?: "?");
                yaml_parser_delete(&parser);
                return -EINVAL;
        }
        yaml_parser_delete(&parser);
        doc->loaded = true;
        root = yaml_document_get_root_node(&doc->yaml);
        if (!root || root->type != YAML_MAPPING_NODE) {
                snprintf(error, len, "%s holds no calibration (not a YAML mapping)", doc->path);
                return -EINVAL;
        }
        return 0;
}

int calibration_yaml_load(const char *path, struct calibration_doc *doc, char *error, size_t len) {
        int r;

        doc->path = path;
        r = read_text(path, &doc->text, error, len);
        if (r < 0)
                return r;
        return parse(doc, error, len);
}

void calibration_yaml_done(struct calibration_doc *doc) {
        if (doc->loaded)
                yaml_document_delete(&doc->yaml);
        doc->loaded = false;
        free(doc->text);
        doc->text = NULL;
}

static yaml_node_t *map_get(struct calibration_doc *doc, yaml_node_t *map, const char *key) {
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&doc->yaml, p->key);
                if (k && k->type == YAML_SCALAR_NODE && streq((const char *) k->data.scalar.value, key))
                        return yaml_document_get_node(&doc->yaml, p->value);
        }
        return NULL;
}

yaml_node_t *calibration_yaml_get(struct calibration_doc *doc, const char *key) {
        if (!doc->loaded)
                return NULL;
        return map_get(doc, yaml_document_get_root_node(&doc->yaml), key);
}

size_t calibration_yaml_line(const yaml_node_t *node) {
        return node->start_mark.line + 1;
}

static int scalar_number(const yaml_node_t *n, double *ret) {
        char *end;
        double v;

        if (!n || n->type != YAML_SCALAR_NODE)
                return -EINVAL;
        const char *s = (const char *) n->data.scalar.value;
        /* YAML's spellings of the special values are refused as such */
        if (strstr(s, "nan") || strstr(s, "NaN") || strstr(s, "inf") || strstr(s, "Inf"))
                return -EDOM;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end || errno == ERANGE)
                return -EINVAL;
        if (!isfinite(v))
                return -EDOM;
        *ret = v;
        return 0;
}

static bool whole(double v, double max) {
        return v >= 0 && v <= max && v == floor(v);
}

/* The data of a matrix node: {rows, cols, data: [...]} or a plain list; NULL if neither. When the
 * node says rows and cols, their product is stored in *ret_size, else 0. */
static yaml_node_t *matrix_data(struct calibration_doc *doc, yaml_node_t *node, unsigned *ret_size) {
        double rows, cols;

        *ret_size = 0;
        if (node && node->type == YAML_MAPPING_NODE) {
                if (scalar_number(map_get(doc, node, "rows"), &rows) == 0 && whole(rows, 1000) &&
                    scalar_number(map_get(doc, node, "cols"), &cols) == 0 && whole(cols, 1000))
                        *ret_size = (unsigned) (rows * cols);
                node = map_get(doc, node, "data");
        }
        return node && node->type == YAML_SEQUENCE_NODE ? node : NULL;
}

int calibration_yaml_matrix(struct calibration_doc *doc, yaml_node_t *node, const char *name, double *out, unsigned max,
                            unsigned *ret_n, char *error, size_t len) {
        yaml_node_t *data;
        unsigned count = 0, size;

        if (!node) {
                snprintf(error, len, "%s: %s is missing", doc->path, name);
                return -EINVAL;
        }
        data = matrix_data(doc, node, &size);
        if (!data) {
                snprintf(error, len, "%s:%zu: %s is not a matrix (rows, cols, data) or a list of numbers", doc->path,
                         calibration_yaml_line(node), name);
                return -EINVAL;
        }
        for (yaml_node_item_t *it = data->data.sequence.items.start; it < data->data.sequence.items.top; it++) {
                yaml_node_t *item = yaml_document_get_node(&doc->yaml, *it);
                size_t line = item ? calibration_yaml_line(item) : calibration_yaml_line(data);
                double v;
                int r = scalar_number(item, &v);
                if (r == -EDOM) {
                        snprintf(error, len, "%s:%zu: %s holds a NaN or infinite value; recalibrate", doc->path, line,
                                 name);
                        return r;
                }
                if (r < 0) {
                        snprintf(error, len, "%s:%zu: %s holds something that is not a number", doc->path, line, name);
                        return r;
                }
                if (count >= max) {
                        snprintf(error, len, "%s:%zu: %s has more than %u values", doc->path, line, name, max);
                        return -EINVAL;
                }
                out[count++] = v;
        }
        if (size && size != count) {
                snprintf(error, len,
                         "%s:%zu: %s says it has %u values (rows × cols) but its data holds %u; the file is cut "
                         "short or was edited by hand",
                         doc->path, calibration_yaml_line(data), name, size, count);
                return -EINVAL;
        }
        *ret_n = count;
        return 0;
}

int calibration_yaml_matrix_exact(struct calibration_doc *doc, yaml_node_t *node, const char *name, double *out,
                                  unsigned want, char *error, size_t len) {
        unsigned n;
        int r;

        r = calibration_yaml_matrix(doc, node, name, out, want, &n, error, len);
        if (r < 0)
                return r;
        if (n != want) {
                snprintf(error, len, "%s:%zu: %s has %u values, it needs %u", doc->path, calibration_yaml_line(node),
                         name, n, want);
                return -EINVAL;
        }
        return 0;
}

static bool valid_side(double v) {
        return v >= 1 && whole(v, 65535);
}

bool calibration_yaml_size(struct calibration_doc *doc, unsigned *ret_width, unsigned *ret_height) {
        yaml_node_t *n;
        double v[2];
        unsigned k;
        char ignored[256];

        if (scalar_number(calibration_yaml_get(doc, "image_width"), &v[0]) == 0 &&
            scalar_number(calibration_yaml_get(doc, "image_height"), &v[1]) == 0)
                k = 2;
        else if ((n = calibration_yaml_get(doc, "imageSize")) || (n = calibration_yaml_get(doc, "image_size"))) {
                if (calibration_yaml_matrix(doc, n, "imageSize", v, 2, &k, ignored, sizeof(ignored)) < 0)
                        return false;
        } else
                return false;
        if (k != 2 || !valid_side(v[0]) || !valid_side(v[1]))
                return false;
        *ret_width = (unsigned) v[0];
        *ret_height = (unsigned) v[1];
        return true;
}

static int model_from_string(const char *s, enum distortion_model *ret) {
        if (streq(s, "plumb_bob") || streq(s, "rational_polynomial") || streq(s, "radtan"))
                *ret = MODEL_PLUMB_BOB;
        else if (streq(s, "equidistant") || streq(s, "fisheye") || streq(s, "kannala_brandt"))
                *ret = MODEL_FISHEYE;
        else
                return -EINVAL;
        return 0;
}

int calibration_yaml_model(struct calibration_doc *doc, enum distortion_model *ret_model, char *error, size_t len) {
        yaml_node_t *n = calibration_yaml_get(doc, "distortion_model");
        const char *name = n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : "";

        if (!n) {
                *ret_model = MODEL_UNSET;
                return 0;
        }
        if (model_from_string(name, ret_model) < 0) {
                snprintf(error, len,
                         "%s:%zu: unknown distortion_model \"%s\"; handrecd knows plumb_bob, rational_polynomial "
                         "and equidistant (or radtan, fisheye, kannala_brandt)",
                         doc->path, calibration_yaml_line(n), name);
                return -EINVAL;
        }
        return 0;
}
