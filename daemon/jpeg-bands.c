/* SPDX-License-Identifier: MIT */
/*
 * jpeg-bands.c — owns a libjpeg decompressor, its arena, the window of decoded rows and the
 * frame's 1/8 luma samples; decodes one iMCU row at a time as the remap asks (see jpeg-bands.h).
 *
 * DESIGN: one decoder belongs to one worker thread; nothing is shared or locked. libjpeg reports
 * errors by calling error_exit, which longjmps back to the function of this file that called it
 * (each sets its own setjmp): only libjpeg's frames are crossed, never the encoder's, whose band
 * callback calls jpeg_bands_need(). After an error the JPEG is aborted (its per-image memory goes
 * back to the arena) and every later call for it does nothing until jpeg_bands_finish().
 */
#include "jpeg-bands.h"

#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <jerror.h>

#include "../lib/util.h"
#include "jpeg-arena.h"

#define ALIGN 64
#define ROUND_UP(x, a) (((x) + (a) -1) / (a) * (a))
#define ARENA_START ((size_t) 65536) /* libjpeg-turbo 2.1 takes about 40 KB for a 2560-wide baseline JPEG */
#define QC_STEP 8                    /* qc_measure_planes()'s */

enum sampling { SAMP_420, SAMP_422, SAMP_444, SAMP_GRAY };

struct jpeg_bands {
        struct jpeg_decompress_struct cinfo;
        struct jpeg_error_mgr err;
        struct jpeg_arena arena; /* cinfo.client_data points here */
        jmp_buf jump;
        bool created;

        unsigned width, height;
        unsigned rows, mask; /* luma rows kept and the row mask: a window (rows - 1) or all (~0u) */
        uint8_t *data;       /* the planes: rows (+ 1) luma rows, half as many of U and V, padding */
        size_t data_size;
        struct rectify_source source;
        uint8_t *chroma; /* 4:2:2, 4:4:4: one iMCU row of the JPEG's own chroma, both planes */
        int chroma_stride;
        uint8_t *qc; /* every 8th sample of every 8th luma row, both eyes: qc_w × qc_h */
        unsigned qc_w, qc_h;

        /* the JPEG being decoded */
        bool started, failed;
        int result;
        enum sampling sampling;
        unsigned imcu;    /* luma rows an iMCU row gives */
        unsigned decoded; /* luma rows decoded */
        unsigned warnings;
        char error[JMSG_LENGTH_MAX + 96];
};

static struct jpeg_bands *bands_of(j_common_ptr cinfo) {
        return container_of(cinfo->client_data, struct jpeg_bands, arena);
}

/* ---- errors --------------------------------------------------------------------------------- */

static void on_error(j_common_ptr cinfo) {
        struct jpeg_bands *d = bands_of(cinfo);
        char message[JMSG_LENGTH_MAX];

        (*cinfo->err->format_message)(cinfo, message);
        snprintf(d->error, sizeof(d->error), "cannot decode MJPEG frame: %s", message);
        longjmp(d->jump, 1);
}

/* warnings (level < 0) fail the JPEG at its end, as TurboJPEG's decode did; traces are ignored */
static void on_emit(j_common_ptr cinfo, int level) {
        struct jpeg_bands *d = bands_of(cinfo);
        char message[JMSG_LENGTH_MAX];

        if (level >= 0 || d->warnings++ > 0)
                return;
        (*cinfo->err->format_message)(cinfo, message);
        snprintf(d->error, sizeof(d->error), "cannot decode MJPEG frame: %s", message);
}

static void on_output(j_common_ptr cinfo) {
        (void) cinfo; /* messages go to d->error, never to stderr */
}

/* The JPEG fails with @r (the first failure is kept); what libjpeg holds of it is given back. */
static int fail(struct jpeg_bands *d, int r) {
        if (!d->failed) {
                d->failed = true;
                d->result = r;
        }
        if (d->started) {
                jpeg_abort_decompress(&d->cinfo);
                d->started = false;
        }
        return d->result;
}

/* ---- the window ----------------------------------------------------------------------------- */

static uint8_t *row(const struct jpeg_bands *d, unsigned plane, unsigned y) {
        unsigned mask = plane ? d->mask >> 1 : d->mask;
        return (uint8_t *) d->source.planes[plane] + (size_t) (y & mask) * (size_t) d->source.strides[plane];
}

/* The window's row R repeats its row 0, once a block wrote that row (rectify.h). */
static void repeat_first_rows(struct jpeg_bands *d, unsigned y0, unsigned c0) {
        if (d->mask == ~0u)
                return;
        if ((y0 & d->mask) == 0)
                memcpy(row(d, 0, 0) + (size_t) d->rows * d->source.strides[0], row(d, 0, 0), d->width);
        if ((c0 & (d->mask >> 1)) == 0)
                for (unsigned p = 1; p < 3; p++)
                        memcpy(row(d, p, 0) + (size_t) (d->rows / 2) * d->source.strides[p], row(d, p, 0),
                               d->width / 2);
}

/* Every 8th sample of luma row @y, if it is one of qc_measure_planes()'s rows. */
static void sample_row(struct jpeg_bands *d, unsigned y) {
        unsigned eye = d->width / 2, per_eye = d->qc_w / 2;
        const uint8_t *r = row(d, 0, y);
        uint8_t *q = d->qc + (size_t) (y / QC_STEP) * d->qc_w;

        if (y % QC_STEP || y >= d->height)
                return;
        for (unsigned e = 0; e < 2; e++)
                for (unsigned k = 0; k < per_eye; k++)
                        q[e * per_eye + k] = r[e * eye + k * QC_STEP];
}

/* The JPEG's own chroma rows of the iMCU row just read, brought to 4:2:0 at chroma rows c0.. */
static void chroma_to_420(struct jpeg_bands *d, unsigned c0, unsigned n) {
        unsigned cw = d->width / 2;

        for (unsigned y = 0; y < n; y++)
                for (unsigned p = 1; p < 3; p++) {
                        uint8_t *out = row(d, p, c0 + y);
                        if (d->sampling == SAMP_GRAY) {
                                memset(out, 128, cw);
                                continue;
                        }
                        const uint8_t *a = d->chroma + (size_t) (p - 1) * 8 * d->chroma_stride +
                                           (size_t) (2 * y) * d->chroma_stride,
                                      *b = a + d->chroma_stride;
                        for (unsigned x = 0; x < cw; x++)
                                out[x] = d->sampling == SAMP_422
                                                 ? (uint8_t) ((a[x] + b[x] + 1) / 2)
                                                 : (uint8_t) ((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) /
                                                              4);
                }
}

/* One iMCU row into the window. May longjmp (the caller's setjmp). */
static void read_imcu(struct jpeg_bands *d) {
        JSAMPROW y[16], u[16], v[16];
        JSAMPARRAY planes[3] = {y, u, v};
        unsigned y0 = d->decoded, c0 = y0 / 2, n = d->imcu;

        for (unsigned r = 0; r < n; r++)
                y[r] = row(d, 0, y0 + r);
        for (unsigned r = 0; r < 8; r++) {
                if (d->sampling == SAMP_420) {
                        u[r] = row(d, 1, c0 + r);
                        v[r] = row(d, 2, c0 + r);
                } else {
                        u[r] = d->chroma + (size_t) r * d->chroma_stride;
                        v[r] = d->chroma + (size_t) (8 + r) * d->chroma_stride;
                }
        }
        if (jpeg_read_raw_data(&d->cinfo, planes, n) != n)
                ERREXIT(&d->cinfo, JERR_BAD_STATE); /* (a source that suspends: never, from memory) */
        if (d->sampling != SAMP_420)
                chroma_to_420(d, c0, n / 2);
        repeat_first_rows(d, y0, c0);
        for (unsigned r = 0; r < n; r += QC_STEP)
                sample_row(d, y0 + r);
        d->decoded += n;
}

/* ---- the JPEG ------------------------------------------------------------------------------ */

static int check_sampling(struct jpeg_bands *d) {
        const jpeg_component_info *c = d->cinfo.comp_info;

        if (d->cinfo.num_components == 1 && d->cinfo.jpeg_color_space == JCS_GRAYSCALE) {
                d->sampling = SAMP_GRAY;
                return 0;
        }
        if (d->cinfo.num_components == 3 && d->cinfo.jpeg_color_space == JCS_YCbCr && c[1].h_samp_factor == 1 &&
            c[1].v_samp_factor == 1 && c[2].h_samp_factor == 1 && c[2].v_samp_factor == 1) {
                if (c[0].h_samp_factor == 2 && c[0].v_samp_factor == 2)
                        d->sampling = SAMP_420;
                else if (c[0].h_samp_factor == 2 && c[0].v_samp_factor == 1)
                        d->sampling = SAMP_422;
                else if (c[0].h_samp_factor == 1 && c[0].v_samp_factor == 1)
                        d->sampling = SAMP_444;
                else
                        goto unsupported;
                return 0;
        }
unsupported:
        snprintf(d->error, sizeof(d->error),
                 "MJPEG of %d components, luma sampled %dx%d, is not supported (4:2:0, 4:2:2, 4:4:4 and gray are)",
                 d->cinfo.num_components, c[0].h_samp_factor, c[0].v_samp_factor);
        return -EINVAL;
}

int jpeg_bands_begin(struct jpeg_bands *d, const uint8_t *data, size_t size) {
        int r;

        d->failed = d->started = false;
        d->result = 0;
        d->decoded = d->warnings = 0;
        d->error[0] = '\0';
        if (setjmp(d->jump)) {
                char why[JMSG_LENGTH_MAX];
                snprintf(why, sizeof(why), "%s", d->error + strlen("cannot decode MJPEG frame: "));
                snprintf(d->error, sizeof(d->error), "bad MJPEG frame (%zu bytes): %s", size, why);
                return fail(d, -EBADMSG);
        }
        jpeg_mem_src(&d->cinfo, data, (unsigned long) size);
        d->started = true;
        jpeg_read_header(&d->cinfo, TRUE);
        if (d->cinfo.image_width != d->width || d->cinfo.image_height != d->height) {
                snprintf(d->error, sizeof(d->error), "bad MJPEG frame (%zu bytes): it is %ux%u, not %ux%u", size,
                         d->cinfo.image_width, d->cinfo.image_height, d->width, d->height);
                return fail(d, -EBADMSG);
        }
        r = check_sampling(d);
        if (r < 0)
                return fail(d, r);
        /* what tjDecompressToYUVPlanes() sets (flags 0: the accurate IDCT, the default) */
        d->cinfo.raw_data_out = TRUE;
        jpeg_start_decompress(&d->cinfo);
        d->imcu = (unsigned) (d->cinfo.max_v_samp_factor * DCTSIZE);
        return 0;
}

void jpeg_bands_need(struct jpeg_bands *d, unsigned luma, unsigned chroma) {
        unsigned want = MAX(luma, 2 * chroma);

        if (d->failed || !d->started)
                return;
        if (setjmp(d->jump)) {
                fail(d, -EBADMSG);
                return;
        }
        while (d->decoded < want && d->decoded < d->cinfo.output_height)
                read_imcu(d);
}

const struct rectify_source *jpeg_bands_source(const struct jpeg_bands *d) {
        return &d->source;
}

int jpeg_bands_finish(struct jpeg_bands *d, struct qc_sample *qc) {
        if (!d->failed && d->started) {
                if (setjmp(d->jump))
                        return fail(d, -EBADMSG);
                while (d->decoded < d->cinfo.output_height)
                        read_imcu(d);
                jpeg_finish_decompress(&d->cinfo);
                d->started = false;
        }
        if (!d->failed && d->warnings > 0)
                return fail(d, -EBADMSG);
        if (d->failed)
                return d->result;
        if (qc)
                qc_measure_gray(d->qc, (int) d->qc_w, d->qc_w, d->qc_h, qc);
        return 0;
}

const char *jpeg_bands_error(const struct jpeg_bands *d) {
        return d->error;
}

/* ---- lifetime ------------------------------------------------------------------------------- */

/* The planes' layout for these sizes: strides, rows, bytes. */
static size_t layout(unsigned width, unsigned height, unsigned window_rows, int strides[3], unsigned *ret_rows) {
        /* libjpeg writes whole blocks: luma rows of ROUND_UP(width, 16) at 4:2:0, chroma half */
        unsigned rows = window_rows ? window_rows : ROUND_UP(height, 16);

        strides[0] = (int) ROUND_UP(width, ALIGN);
        strides[1] = strides[2] = (int) ROUND_UP(width / 2 + 8, ALIGN);
        *ret_rows = rows;
        /* + the window's repeated row 0 (or the whole frame's row below the last), + the 16 bytes
         * past it the AVX2 remap reads (ALIGN) */
        return (size_t) (rows + 1) * strides[0] + 2 * (size_t) (rows / 2 + 1) * strides[1] + ALIGN;
}

size_t jpeg_bands_footprint(unsigned width, unsigned height, unsigned window_rows) {
        int strides[3];
        unsigned rows;
        size_t planes = layout(width, height, window_rows, strides, &rows);
        size_t chroma = 16 * (size_t) ROUND_UP(width, ALIGN); /* 4:4:4's 8 rows of U and V */
        size_t qc = (size_t) 2 * ((width / 2 + QC_STEP - 1) / QC_STEP) * ((height + QC_STEP - 1) / QC_STEP);

        /* libjpeg's decompressor (the struct, its permanent pool: about 20 KB) and the arena */
        return sizeof(struct jpeg_bands) + planes + chroma + qc + 32768 + ARENA_START;
}

static int create_guarded(struct jpeg_bands *d) {
        d->cinfo.err = jpeg_std_error(&d->err);
        d->err.error_exit = on_error;
        d->err.emit_message = on_emit;
        d->err.output_message = on_output;
        d->cinfo.client_data = &d->arena; /* on_error() needs it before jpeg_arena_init() sets it */
        if (setjmp(d->jump))
                return -ENOMEM;
        jpeg_create_decompress(&d->cinfo);
        d->created = true;
        return jpeg_arena_init(&d->arena, (j_common_ptr) &d->cinfo, ARENA_START);
}

int jpeg_bands_new(unsigned width, unsigned height, unsigned window_rows, struct jpeg_bands **ret) {
        struct jpeg_bands *d;
        int r;

        if (width == 0 || height == 0 || width % 2 || height % 2 ||
            (window_rows && (window_rows < 32 || (window_rows & (window_rows - 1)))))
                return -EINVAL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->width = width;
        d->height = height;
        d->data_size = layout(width, height, window_rows, d->source.strides, &d->rows);
        d->mask = window_rows ? window_rows - 1 : ~0u;
        d->chroma_stride = (int) ROUND_UP(width, ALIGN);
        d->qc_w = 2 * ((width / 2 + QC_STEP - 1) / QC_STEP);
        d->qc_h = (height + QC_STEP - 1) / QC_STEP;
        /* calloc: the rows a remap reads with weight 0 before any JPEG wrote them are defined */
        d->data = calloc(1, d->data_size);
        d->chroma = malloc(16 * (size_t) d->chroma_stride);
        d->qc = calloc(d->qc_w, d->qc_h);
        r = d->data && d->chroma && d->qc ? create_guarded(d) : -ENOMEM;
        if (r < 0) {
                jpeg_bands_free(d);
                return r;
        }
        d->source.planes[0] = d->data;
        d->source.planes[1] = d->data + (size_t) (d->rows + 1) * d->source.strides[0];
        d->source.planes[2] = d->source.planes[1] + (size_t) (d->rows / 2 + 1) * d->source.strides[1];
        d->source.row_mask[0] = d->mask;
        d->source.row_mask[1] = d->source.row_mask[2] = d->mask >> 1;
        *ret = d;
        return 0;
}

struct jpeg_bands *jpeg_bands_free(struct jpeg_bands *d) {
        if (!d)
                return NULL;
        if (d->created)
                jpeg_destroy_decompress(&d->cinfo);
        jpeg_arena_release(&d->arena);
        free(d->data);
        free(d->chroma);
        free(d->qc);
        free(d);
        return NULL;
}
