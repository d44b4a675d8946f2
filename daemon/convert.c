/* SPDX-License-Identifier: MIT */
/*
 * convert.c — owns the conversion of a camera's image bytes into the I420 stereo frame: YUYV by
 * a row loop (the chroma of two rows averaged to 4:2:0; SSE2 or NEON 32 pixels at a time, the
 * scalar loop for the rest of a row and as the reference the unit test compares with), planar YUV 4:2:0 by copying rows, JPEG
 * by TurboJPEG's tjDecompressToYUVPlanes straight into the frame's planes (4:2:0) or into a
 * buffer allocated once (4:2:2, 4:4:4, gray) whose chroma is then brought to 4:2:0; and the
 * copy of a camera's JPEG into the frame's JPEG buffer with only its header checked (read by a
 * marker walk of our own: tjDecompressHeader3() allocates, and passthrough allocates nothing).
 *
 * It uses the TurboJPEG 2.0 API (tj*), which every distribution we build on ships.
 */
#include "convert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "../lib/util.h"

struct convert {
        tjhandle tj;  /* TurboJPEG decompressor */
        uint8_t *tmp; /* decode buffer for JPEG that is not 4:2:0: 4:4:4 at the largest size */
        size_t tmp_size;
        char error[256];
};

int convert_new(unsigned max_width, unsigned height, struct convert **ret) {
        struct convert *cv = calloc(1, sizeof(*cv));

        if (!cv)
                return -ENOMEM;
        cv->tmp_size = (size_t) max_width * height * 3;
        cv->tmp = malloc(cv->tmp_size);
        cv->tj = tjInitDecompress();
        if (!cv->tmp || !cv->tj) {
                convert_free(cv);
                return -ENOMEM;
        }
        *ret = cv;
        return 0;
}

struct convert *convert_free(struct convert *cv) {
        if (!cv)
                return NULL;
        if (cv->tj)
                tjDestroy(cv->tj);
        free(cv->tmp);
        free(cv);
        return NULL;
}

const char *convert_error(const struct convert *cv) {
        return cv->error;
}

/* ---- raw formats ------------------------------------------------------------------------- */

/* The reference: the luma of pixels [@x, @w) of YUYV row @s and, when @s2 (the row below) is
 * given, the chroma of pairs [@x / 2, @w / 2) averaged with it (4:2:2 → 4:2:0). @x is even. */
static void yuyv_row_scalar(const uint8_t *s, const uint8_t *s2, unsigned x, unsigned w, uint8_t *Y, uint8_t *U,
                            uint8_t *V) {
        for (unsigned i = x; i < w; i++)
                Y[i] = s[2 * i];
        if (!s2)
                return;
        for (unsigned i = x / 2; i < w / 2; i++) {
                U[i] = (uint8_t) ((s[4 * i + 1] + s2[4 * i + 1] + 1) / 2);
                V[i] = (uint8_t) ((s[4 * i + 3] + s2[4 * i + 3] + 1) / 2);
        }
}

/* The same row 32 pixels at a time with SSE2 (the x86-64 baseline) or NEON (aarch64): the same
 * bytes, since both round the average up as the scalar loop does. Return: the pixels done (a
 * multiple of 32); yuyv_row_scalar() does the rest. */
#if defined(__SSE2__)
static inline __m128i yuyv_chroma16(const uint8_t *p) { /* U0 V0 U1 V1 ... of 8 pixel pairs */
        return _mm_packus_epi16(_mm_srli_epi16(_mm_loadu_si128((const __m128i *) p), 8),
                                _mm_srli_epi16(_mm_loadu_si128((const __m128i *) (p + 16)), 8));
}

static unsigned yuyv_row_vector(const uint8_t *s, const uint8_t *s2, unsigned w, uint8_t *Y, uint8_t *U, uint8_t *V) {
        const __m128i low = _mm_set1_epi16(0x00ff);
        unsigned x = 0;

        for (; x + 32 <= w; x += 32) {
                const uint8_t *p = s + 2 * x;
                for (unsigned k = 0; k < 2; k++) {
                        __m128i a = _mm_loadu_si128((const __m128i *) (p + 32 * k));
                        __m128i b = _mm_loadu_si128((const __m128i *) (p + 32 * k + 16));
                        _mm_storeu_si128((__m128i *) (Y + x + 16 * k),
                                         _mm_packus_epi16(_mm_and_si128(a, low), _mm_and_si128(b, low)));
                }
                if (!s2)
                        continue;
                const uint8_t *q = s2 + 2 * x;
                __m128i c0 = _mm_avg_epu8(yuyv_chroma16(p), yuyv_chroma16(q));
                __m128i c1 = _mm_avg_epu8(yuyv_chroma16(p + 32), yuyv_chroma16(q + 32));
                _mm_storeu_si128((__m128i *) (U + x / 2),
                                 _mm_packus_epi16(_mm_and_si128(c0, low), _mm_and_si128(c1, low)));
                _mm_storeu_si128((__m128i *) (V + x / 2),
                                 _mm_packus_epi16(_mm_srli_epi16(c0, 8), _mm_srli_epi16(c1, 8)));
        }
        return x;
}
#elif defined(__aarch64__)
static unsigned yuyv_row_vector(const uint8_t *s, const uint8_t *s2, unsigned w, uint8_t *Y, uint8_t *U, uint8_t *V) {
        unsigned x = 0;

        for (; x + 32 <= w; x += 32) {
                uint8x16x4_t a = vld4q_u8(s + 2 * x); /* Y0s, Us, Y1s, Vs of 32 pixels */
                vst2q_u8(Y + x, (uint8x16x2_t){{a.val[0], a.val[2]}});
                if (!s2)
                        continue;
                uint8x16x4_t b = vld4q_u8(s2 + 2 * x);
                vst1q_u8(U + x / 2, vrhaddq_u8(a.val[1], b.val[1])); /* (a + b + 1) >> 1 */
                vst1q_u8(V + x / 2, vrhaddq_u8(a.val[3], b.val[3]));
        }
        return x;
}
#else
static unsigned yuyv_row_vector(_unused_ const uint8_t *s, _unused_ const uint8_t *s2, _unused_ unsigned w,
                                _unused_ uint8_t *Y, _unused_ uint8_t *U, _unused_ uint8_t *V) {
        return 0;
}
#endif

void convert_yuyv_to_i420(const uint8_t *src, unsigned stride, unsigned w, unsigned h, struct frame *f, unsigned x0,
                          bool vector) {
        for (unsigned y = 0; y < h; y++) {
                const uint8_t *s = src + (size_t) y * stride;
                /* chroma on even rows, of this row and the next (the last row with itself) */
                const uint8_t *s2 = y % 2 ? NULL : src + (size_t) MIN(y + 1, h - 1) * stride;
                uint8_t *Y = f->planes[0] + (size_t) y * f->strides[0] + x0;
                uint8_t *U = f->planes[1] + (size_t) (y / 2) * f->strides[1] + x0 / 2;
                uint8_t *V = f->planes[2] + (size_t) (y / 2) * f->strides[2] + x0 / 2;
                unsigned x = vector ? yuyv_row_vector(s, s2, w, Y, U, V) : 0;
                yuyv_row_scalar(s, s2, x, w, Y, U, V);
        }
}

static int convert_yuyv(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                        struct frame *f, unsigned x0) {
        unsigned bpl = in->bytesperline ? in->bytesperline : 2 * in->width;

        if (bpl < 2 * in->width || size < (size_t) bpl * in->height) {
                snprintf(cv->error, sizeof(cv->error), "short YUYV frame: %zu bytes, %u a row", size, bpl);
                return -EBADMSG;
        }
        convert_yuyv_to_i420(data, bpl, in->width, in->height, f, x0, true);
        return 0;
}

/* planar 4:2:0, what libv4l2 converts most other formats to: copy the planes' rows */
static int convert_yuv420(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                          struct frame *f, unsigned x0) {
        unsigned w = in->width, h = in->height, bpl = in->bytesperline ? in->bytesperline : w;

        if (bpl < w || size < (size_t) bpl * h * 3 / 2) {
                snprintf(cv->error, sizeof(cv->error), "short YUV420 frame: %zu bytes, %u a row", size, bpl);
                return -EBADMSG;
        }
        const uint8_t *u = data + (size_t) bpl * h, *v = u + (size_t) (bpl / 2) * (h / 2);
        for (unsigned y = 0; y < h; y++)
                memcpy(f->planes[0] + (size_t) y * f->strides[0] + x0, data + (size_t) y * bpl, w);
        for (unsigned y = 0; y < h / 2; y++) {
                memcpy(f->planes[1] + (size_t) y * f->strides[1] + x0 / 2, u + (size_t) y * (bpl / 2), w / 2);
                memcpy(f->planes[2] + (size_t) y * f->strides[2] + x0 / 2, v + (size_t) y * (bpl / 2), w / 2);
        }
        return 0;
}

/* ---- JPEG -------------------------------------------------------------------------------- */

/* Read @data's header and check it is a JPEG of @in's size. Return: 0 and *@ret_sub, -EBADMSG. */
static int jpeg_check(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                      int *ret_sub) {
        int w, h, sub, colorspace;

        if (tjDecompressHeader3(cv->tj, data, size, &w, &h, &sub, &colorspace) < 0) {
                snprintf(cv->error, sizeof(cv->error), "bad MJPEG frame (%zu bytes): %s", size, tjGetErrorStr2(cv->tj));
                return -EBADMSG;
        }
        if ((unsigned) w != in->width || (unsigned) h != in->height) {
                snprintf(cv->error, sizeof(cv->error), "bad MJPEG frame (%zu bytes): it is %dx%d, not %ux%u", size, w,
                         h, in->width, in->height);
                return -EBADMSG;
        }
        *ret_sub = sub;
        return 0;
}

static int jpeg_failed(struct convert *cv) {
        snprintf(cv->error, sizeof(cv->error), "cannot decode MJPEG frame: %s", tjGetErrorStr2(cv->tj));
        return -EBADMSG;
}

/* Bring 4:2:2 (@sub TJSAMP_422: half width, full height) or 4:4:4 chroma planes, @cw wide, to
 * the frame's 4:2:0 at column @x0; gray becomes neutral chroma. */
static void chroma_to_420(int sub, uint8_t *const planes[3], int cw, unsigned w, unsigned h, struct frame *f,
                          unsigned x0) {
        for (unsigned y = 0; y < h / 2; y++)
                for (int p = 1; p < 3; p++) {
                        uint8_t *d = f->planes[p] + (size_t) y * f->strides[p] + x0 / 2;
                        if (sub == TJSAMP_GRAY) {
                                memset(d, 128, w / 2);
                                continue;
                        }
                        const uint8_t *a = planes[p] + (size_t) (2 * y) * cw, *b = a + cw;
                        for (unsigned x = 0; x < w / 2; x++)
                                d[x] = sub == TJSAMP_422
                                               ? (uint8_t) ((a[x] + b[x] + 1) / 2)
                                               : (uint8_t) ((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) /
                                                            4);
                }
}

/* 4:2:2, 4:4:4 and gray: decode into cv->tmp, copy the luma, bring the chroma to 4:2:0 */
static int jpeg_decode_via_tmp(struct convert *cv, int sub, const uint8_t *data, size_t size, unsigned w, unsigned h,
                               struct frame *f, unsigned x0) {
        int cw = sub == TJSAMP_444 ? (int) w : (int) w / 2;
        int strides[3] = {(int) w, cw, cw};
        uint8_t *planes[3] = {cv->tmp, cv->tmp + (size_t) w * h, cv->tmp + (size_t) w * h + (size_t) cw * h};

        if ((size_t) w * h * 3 > cv->tmp_size) {
                snprintf(cv->error, sizeof(cv->error), "MJPEG frame of %ux%u is larger than the decode buffer", w, h);
                return -EINVAL;
        }
        if (sub == TJSAMP_GRAY) {
                planes[1] = planes[2] = NULL;
                strides[1] = strides[2] = 0;
        }
        if (tjDecompressToYUVPlanes(cv->tj, data, size, planes, (int) w, strides, (int) h, 0) < 0)
                return jpeg_failed(cv);
        for (unsigned y = 0; y < h; y++)
                memcpy(f->planes[0] + (size_t) y * f->strides[0] + x0, planes[0] + (size_t) y * w, w);
        chroma_to_420(sub, planes, cw, w, h, f, x0);
        return 0;
}

static int convert_mjpeg(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                         struct frame *f, unsigned x0) {
        int sub, r;

        r = jpeg_check(cv, in, data, size, &sub);
        if (r < 0)
                return r;
        if (sub == TJSAMP_420) {
                uint8_t *planes[3] = {f->planes[0] + x0, f->planes[1] + x0 / 2, f->planes[2] + x0 / 2};
                if (tjDecompressToYUVPlanes(cv->tj, data, size, planes, (int) in->width, f->strides, (int) in->height,
                                            0) < 0)
                        return jpeg_failed(cv);
                return 0;
        }
        if (sub != TJSAMP_422 && sub != TJSAMP_444 && sub != TJSAMP_GRAY) {
                snprintf(cv->error, sizeof(cv->error),
                         "MJPEG chroma subsampling %d is not supported (4:2:0, 4:2:2, 4:4:4 and gray are)", sub);
                return -EINVAL;
        }
        return jpeg_decode_via_tmp(cv, sub, data, size, in->width, in->height, f, x0);
}

/* ---- entry points ------------------------------------------------------------------------ */

int convert_frame(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                  struct frame *f, unsigned x0) {
        f->jpeg_size = 0;
        if (x0 + in->width > f->width || in->height > f->height) {
                snprintf(cv->error, sizeof(cv->error), "an image of %ux%u does not fit a %ux%u frame at column %u",
                         in->width, in->height, f->width, f->height, x0);
                return -EINVAL;
        }
        switch (in->format) {
        case CONVERT_YUYV: return convert_yuyv(cv, in, data, size, f, x0);
        case CONVERT_YUV420: return convert_yuv420(cv, in, data, size, f, x0);
        case CONVERT_MJPEG: return convert_mjpeg(cv, in, data, size, f, x0);
        }
        snprintf(cv->error, sizeof(cv->error), "unsupported pixel format %d", (int) in->format);
        return -EINVAL;
}

/* ---- JPEG kept as it came: its header read here, since tjDecompressHeader3() allocates ------- */

static bool is_sof(uint8_t marker) {
        /* SOF0..SOF15, less DHT (C4), JPG (C8) and DAC (CC), which share the range */
        return marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
}

/* Walk @data's markers from SOI to the frame header (SOFn) and read the size there.
 * Return: 0 and *@ret_w, *@ret_h, or -EBADMSG and *@ret_why. */
static int sof_size(const uint8_t *data, size_t size, unsigned *ret_w, unsigned *ret_h, const char **ret_why) {
        size_t pos = 2;

        if (size < 4 || data[0] != 0xff || data[1] != 0xd8) {
                *ret_why = "no start-of-image marker";
                return -EBADMSG;
        }
        for (;;) {
                if (pos >= size || data[pos] != 0xff) {
                        *ret_why = pos >= size ? "the header is cut short" : "a marker is missing in the header";
                        return -EBADMSG;
                }
                while (pos < size && data[pos] == 0xff) /* fill bytes */
                        pos++;
                if (pos + 3 > size) {
                        *ret_why = "the header is cut short";
                        return -EBADMSG;
                }
                uint8_t marker = data[pos++];
                if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7))
                        continue; /* TEM, RSTn: no length */
                if (marker == 0xd8 || marker == 0xd9 || marker == 0xda) {
                        *ret_why = "no frame header (SOF) before the image data";
                        return -EBADMSG;
                }
                size_t len = (size_t) data[pos] << 8 | data[pos + 1];
                if (len < 2 || pos + len > size || (is_sof(marker) && len < 8)) {
                        *ret_why = "a header segment runs past the data";
                        return -EBADMSG;
                }
                if (is_sof(marker)) {
                        *ret_h = (unsigned) data[pos + 3] << 8 | data[pos + 4];
                        *ret_w = (unsigned) data[pos + 5] << 8 | data[pos + 6];
                        return 0;
                }
                pos += len;
        }
}

/* Check @data is a JPEG of @in's size from its header alone; nothing is allocated. */
static int sof_check(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size) {
        const char *why = NULL;
        unsigned w = 0, h = 0;

        if (sof_size(data, size, &w, &h, &why) < 0) {
                snprintf(cv->error, sizeof(cv->error), "bad MJPEG frame (%zu bytes): %s", size, why);
                return -EBADMSG;
        }
        if (w != in->width || h != in->height) {
                snprintf(cv->error, sizeof(cv->error), "bad MJPEG frame (%zu bytes): it is %ux%u, not %ux%u", size, w,
                         h, in->width, in->height);
                return -EBADMSG;
        }
        return 0;
}

/* Whether @data ends with the end-of-image marker (zero bytes after it are padding). */
static bool jpeg_ends(const uint8_t *data, size_t size) {
        while (size > 4 && data[size - 1] == 0)
                size--;
        return size >= 4 && data[size - 2] == 0xff && data[size - 1] == 0xd9;
}

int convert_copy_jpeg(struct convert *cv, const struct convert_layout *in, const uint8_t *data, size_t size,
                      struct frame *f) {
        int r;

        f->jpeg_size = 0;
        r = sof_check(cv, in, data, size);
        if (r < 0)
                return r;
        if (size > f->jpeg_capacity) {
                snprintf(cv->error, sizeof(cv->error), "MJPEG frame of %zu bytes is larger than %zu", size,
                         f->jpeg_capacity);
                return -EMSGSIZE;
        }
        memcpy(f->jpeg, data, size);
        f->jpeg_size = size;
        return 0;
}

int convert_accept_jpeg(struct convert *cv, const struct convert_layout *in, struct frame *f, size_t size) {
        int r;

        f->jpeg_size = 0;
        if (size > f->jpeg_capacity) {
                snprintf(cv->error, sizeof(cv->error), "JPEG of %zu bytes is larger than %zu", size, f->jpeg_capacity);
                return -EMSGSIZE;
        }
        r = sof_check(cv, in, f->jpeg, size);
        if (r < 0)
                return r;
        if (!jpeg_ends(f->jpeg, size)) {
                snprintf(cv->error, sizeof(cv->error), "truncated JPEG (%zu bytes): no end-of-image marker", size);
                return -EBADMSG;
        }
        f->jpeg_size = size;
        return 0;
}

int convert_jpeg_size(struct convert *cv, const uint8_t *data, size_t size, unsigned *ret_width, unsigned *ret_height) {
        int w, h, sub, colorspace;

        if (tjDecompressHeader3(cv->tj, data, size, &w, &h, &sub, &colorspace) < 0) {
                snprintf(cv->error, sizeof(cv->error), "%s", tjGetErrorStr2(cv->tj));
                return -EBADMSG;
        }
        *ret_width = (unsigned) w;
        *ret_height = (unsigned) h;
        return 0;
}
