/* SPDX-License-Identifier: MIT */
/*
 * encoder.c — JPEG compression of I420 images with libjpeg(-turbo)'s raw-data API, one band of 16
 * rows at a time. Owns the compressor (created once), the band buffer, the arena that serves
 * libjpeg's per-image memory, and the worst-case output buffer a JPEG spills into when it
 * outgrows the room its caller gave (its pages handed back at the next call).
 *
 * DESIGN: one encoder belongs to one worker thread; nothing here is shared or locked. libjpeg
 * reports errors by calling error_exit, which longjmps back to compress_guarded(): only libjpeg's
 * own frames are crossed (the band callback never raises one), and jpeg_abort_compress() then
 * returns every per-image allocation to the arena, so an error leaks nothing.
 *
 * Byte-identical to tjCompressFromYUVPlanes(planes, TJSAMP_420, flags 0) of libjpeg-turbo 2.0 and
 * 2.1: configure() makes the settings its setCompDefaults() makes (without the TJ_OPTIMIZE,
 * TJ_ARITHMETIC, TJ_RESTART and TJ_PROGRESSIVE environment overrides), and pad_band() makes the
 * padding of its temporary buffer: the last column repeated up to the width libjpeg reads
 * (whole 8 × 8 blocks), the last row repeated down to the band's 16 (8) rows.
 */
#include "encoder.h"

#include <assert.h>
#include <errno.h>
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <jpeglib.h>
#include <jerror.h>
#include <turbojpeg.h>

#include "../lib/util.h"
#include "jpeg-arena.h"

#define BAND_ROWS 16                 /* luma rows of one iMCU row at 4:2:0 */
#define ARENA_ALIGN 64               /* libjpeg-turbo's SIMD code needs 32 */
#define ARENA_START ((size_t) 32768) /* libjpeg-turbo 2.1 uses about 10 KB an image; grown if short */
#define ROUND_UP(x, a) (((x) + (a) -1) / (a) * (a))

struct encoder_error {
        struct jpeg_error_mgr pub;
        jmp_buf jump;
};

struct encoder {
        struct jpeg_compress_struct cinfo;
        struct encoder_error err;
        struct jpeg_destination_mgr dest;
        bool created;            /* jpeg_create_compress() done */
        struct jpeg_arena arena; /* libjpeg's per-image memory; cinfo.client_data points here */
        unsigned width, height;
        unsigned padded[3]; /* the samples of a row libjpeg reads: whole 8 × 8 blocks */

        /* the band: BAND_ROWS luma and BAND_ROWS / 2 chroma rows of padded[] samples */
        uint8_t *band_data;
        uint8_t *band[3];
        int band_strides[3];

        /* output: the caller's room, then (spilled) the worst-case buffer */
        uint8_t *dst;
        size_t cap;
        uint8_t *spill;    /* max bytes, mmap'ed: no RSS until written, and given back after use */
        size_t spill_used; /* bytes the last JPEG wrote there (the caller has them until the next call) */
        size_t max;
        bool spilled;
        size_t size; /* the JPEG's length, set by term_destination */

        char last_error[JMSG_LENGTH_MAX];
};

static struct encoder *encoder_of(j_common_ptr cinfo) {
        return container_of(cinfo->client_data, struct encoder, arena);
}

/* ---- errors: the standard setjmp error manager ---- */

static void on_error(j_common_ptr cinfo) {
        struct encoder *e = encoder_of(cinfo);

        (*cinfo->err->output_message)(cinfo);
        longjmp(e->err.jump, 1);
}

/* the message of an error, logged here once for a run of the same message, so a failing camera does not flood the log */
static void on_message(j_common_ptr cinfo) {
        struct encoder *e = encoder_of(cinfo);
        char message[JMSG_LENGTH_MAX];

        (*cinfo->err->format_message)(cinfo, message);
        if (streq(message, e->last_error))
                return;
        log_error("JPEG compression failed: %s", message);
        snprintf(e->last_error, sizeof(e->last_error), "%s", message);
}

/* warnings and trace messages: ignored (compression raises no warning that changes the JPEG) */
static void on_emit(j_common_ptr cinfo, int level) {
        (void) cinfo;
        (void) level;
}

/* ---- output: the caller's room, spilling into the worst-case buffer ---- */

static void dest_init(j_compress_ptr cinfo) {
        struct encoder *e = encoder_of((j_common_ptr) cinfo);

        e->spilled = !e->dst || e->cap == 0;
        e->dest.next_output_byte = e->spilled ? e->spill : e->dst;
        e->dest.free_in_buffer = e->spilled ? e->max : e->cap;
}

/* libjpeg filled the room it had: move what was written to the worst-case buffer, go on there */
static boolean dest_full(j_compress_ptr cinfo) {
        struct encoder *e = encoder_of((j_common_ptr) cinfo);

        if (e->spilled || e->cap >= e->max)
                ERREXIT(cinfo, JERR_BUFFER_SIZE);
        memcpy(e->spill, e->dst, e->cap);
        e->spilled = true;
        e->dest.next_output_byte = e->spill + e->cap;
        e->dest.free_in_buffer = e->max - e->cap;
        return TRUE;
}

static void dest_term(j_compress_ptr cinfo) {
        struct encoder *e = encoder_of((j_common_ptr) cinfo);

        e->size = (e->spilled ? e->max : e->cap) - e->dest.free_in_buffer;
}

/* ---- the bands ---- */

/* what tjCompressFromYUVPlanes() sets (its setCompDefaults(), TJPF_RGB in, TJSAMP_420 out) */
static void configure(struct encoder *e, int quality) {
        struct jpeg_compress_struct *c = &e->cinfo;

        c->image_width = e->width;
        c->image_height = e->height;
        c->in_color_space = JCS_RGB; /* TurboJPEG's JCS_EXT_RGB: the same defaults; raw data skips it */
        c->input_components = 3;
        jpeg_set_defaults(c);
        jpeg_set_quality(c, quality, TRUE);
        c->dct_method = quality >= 96 ? JDCT_ISLOW : JDCT_FASTEST;
        jpeg_set_colorspace(c, JCS_YCbCr);
        c->comp_info[0].h_samp_factor = c->comp_info[0].v_samp_factor = 2;
        c->comp_info[1].h_samp_factor = c->comp_info[1].v_samp_factor = 1;
        c->comp_info[2].h_samp_factor = c->comp_info[2].v_samp_factor = 1;
        c->raw_data_in = TRUE; /* after jpeg_set_defaults(), which clears it */
}

/* @f's rows of band @y0, copied into the band buffer (a band that cannot be read in place) */
static void copy_band(struct encoder *e, const struct frame *f, unsigned y0, unsigned n) {
        for (int c = 0; c < 3; c++) {
                unsigned w = c ? e->width / 2 : e->width, first = c ? y0 / 2 : y0, rows = c ? n / 2 : n;

                for (unsigned r = 0; r < rows; r++)
                        memcpy(e->band[c] + (size_t) r * e->band_strides[c],
                               f->planes[c] + (size_t) (first + r) * f->strides[c], w);
        }
}

/* the right edge and the bottom of a band of @n rows, as TurboJPEG pads them: the last column
 * repeated to padded[], the last row repeated to the band's end */
static void pad_band(struct encoder *e, unsigned n) {
        for (int c = 0; c < 3; c++) {
                unsigned w = c ? e->width / 2 : e->width, rows = c ? n / 2 : n, all = c ? BAND_ROWS / 2 : BAND_ROWS;
                size_t stride = (size_t) e->band_strides[c];
                uint8_t *p = e->band[c];

                if (e->padded[c] > w)
                        for (unsigned r = 0; r < rows; r++)
                                memset(p + r * stride + w, p[r * stride + w - 1], e->padded[c] - w);
                for (unsigned r = rows; r < all; r++)
                        memcpy(p + r * stride, p + (rows - 1) * stride, e->padded[c]);
        }
}

/* the row pointers of band @y0 for jpeg_write_raw_data(): into @f's planes, or the band buffer */
static void point_rows(struct encoder *e, const struct frame *f, unsigned y0, JSAMPROW rows[3][BAND_ROWS]) {
        for (int c = 0; c < 3; c++) {
                unsigned first = c ? y0 / 2 : y0, all = c ? BAND_ROWS / 2 : BAND_ROWS;

                for (unsigned r = 0; r < all; r++)
                        rows[c][r] = f ? f->planes[c] + (size_t) (first + r) * f->strides[c]
                                       : e->band[c] + (size_t) r * e->band_strides[c];
        }
}

static void write_bands(struct encoder *e, const struct frame *f, encoder_band_fn *band, void *userdata) {
        for (unsigned y0 = 0; y0 < e->height; y0 += BAND_ROWS) {
                unsigned n = MIN(BAND_ROWS, e->height - y0);
                JSAMPROW rows[3][BAND_ROWS];
                JSAMPARRAY planes[3] = {rows[0], rows[1], rows[2]};
                /* whole blocks in every plane: libjpeg reads no sample outside the image */
                bool in_place = !band && n == BAND_ROWS && e->width % 16 == 0;

                if (!in_place) {
                        if (band)
                                band(userdata, y0, n, e->band, e->band_strides);
                        else
                                copy_band(e, f, y0, n);
                        pad_band(e, n);
                }
                point_rows(e, in_place ? f : NULL, y0, rows);
                jpeg_write_raw_data(&e->cinfo, planes, BAND_ROWS);
        }
}

/* Everything that may raise a libjpeg error, behind the setjmp. Nothing is modified after the
 * setjmp and read after a longjmp but what @e points to. */
static int compress_guarded(struct encoder *e, const struct frame *f, encoder_band_fn *band, void *userdata,
                            int quality) {
        if (setjmp(e->err.jump)) {
                jpeg_abort_compress(&e->cinfo);
                return -EIO;
        }
        configure(e, quality);
        jpeg_start_compress(&e->cinfo, TRUE);
        write_bands(e, f, band, userdata);
        jpeg_finish_compress(&e->cinfo);
        e->last_error[0] = '\0';
        return 0;
}

int encoder_encode(struct encoder *e, const struct frame *f, encoder_band_fn *band, void *userdata, int quality,
                   uint8_t *dst, size_t cap, const uint8_t **ret_data, size_t *ret_size) {
        int r;

        assert(band || (f && f->width == e->width && f->height == e->height));
        if (quality < 0 || quality > 100)
                return -EINVAL;
        /* the last JPEG that spilled is the caller's no more: its pages go back to the kernel (a
         * rare event: a frame larger than its room), so a spill late in a take does not stay resident */
        if (e->spill_used) {
                (void) madvise(e->spill, e->spill_used, MADV_DONTNEED); /* advice: failing costs memory */
                e->spill_used = 0;
        }
        e->dst = dst;
        e->cap = cap;
        r = compress_guarded(e, f, band, userdata, quality);
        if (r < 0)
                return r;
        if (e->spilled)
                e->spill_used = e->size;
        *ret_data = e->spilled ? e->spill : dst;
        *ret_size = e->size;
        return 0;
}

size_t encoder_max_size(const struct encoder *e) {
        return e->max;
}

/* ---- lifetime ---- */

static int band_init(struct encoder *e) {
        size_t bytes;

        /* libjpeg reads whole blocks: luma width_in_blocks = ceil(w / 8), chroma ceil(w / 16) */
        e->padded[0] = ROUND_UP(e->width, 8);
        e->padded[1] = e->padded[2] = ROUND_UP(e->width, 16) / 2;
        for (int c = 0; c < 3; c++)
                e->band_strides[c] = (int) ROUND_UP(e->padded[c], ARENA_ALIGN);
        bytes = (size_t) e->band_strides[0] * BAND_ROWS + (size_t) e->band_strides[1] * BAND_ROWS;
        e->band_data = aligned_alloc(ARENA_ALIGN, bytes);
        if (!e->band_data)
                return -ENOMEM;
        e->band[0] = e->band_data;
        e->band[1] = e->band[0] + (size_t) e->band_strides[0] * BAND_ROWS;
        e->band[2] = e->band[1] + (size_t) e->band_strides[1] * BAND_ROWS / 2;
        return 0;
}

/* jpeg_create_compress() reports running out of memory through error_exit */
static int create_guarded(struct encoder *e) {
        e->cinfo.err = jpeg_std_error(&e->err.pub);
        e->err.pub.error_exit = on_error;
        e->err.pub.output_message = on_message;
        e->err.pub.emit_message = on_emit;
        if (setjmp(e->err.jump))
                return -ENOMEM;
        jpeg_create_compress(&e->cinfo);
        e->created = true;
        e->cinfo.dest = &e->dest;
        e->dest.init_destination = dest_init;
        e->dest.empty_output_buffer = dest_full;
        e->dest.term_destination = dest_term;
        return jpeg_arena_init(&e->arena, (j_common_ptr) &e->cinfo, ARENA_START);
}

int encoder_new(unsigned width, unsigned height, struct encoder **ret) {
        _cleanup_(freep) struct encoder *e = NULL;
        int r;

        if (width == 0 || height == 0 || width % 2 || height % 2 || width > JPEG_MAX_DIMENSION ||
            height > JPEG_MAX_DIMENSION)
                return -EINVAL;
        e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->cinfo.client_data = &e->arena; /* on_error() needs it before jpeg_arena_init() sets it */
        e->width = width;
        e->height = height;
        /* mmap, not malloc: glibc may serve a large malloc from its heap, whose pages another
         * allocation may have touched; a private anonymous mapping is resident only where written */
        e->max = tjBufSize((int) width, (int) height, TJSAMP_420);
        e->spill = mmap(NULL, e->max, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (e->spill == MAP_FAILED) {
                e->spill = NULL;
                r = -ENOMEM;
        } else
                r = band_init(e);
        if (r >= 0)
                r = create_guarded(e);
        if (r < 0) {
                encoder_free(TAKE_PTR(e));
                return r;
        }
        *ret = TAKE_PTR(e);
        return 0;
}

struct encoder *encoder_free(struct encoder *e) {
        if (!e)
                return NULL;
        if (e->created)
                jpeg_destroy_compress(&e->cinfo);
        jpeg_arena_release(&e->arena);
        free(e->band_data);
        if (e->spill)
                munmap(e->spill, e->max);
        free(e);
        return NULL;
}
