/* SPDX-License-Identifier: MIT */
/*
 * controls.c — the test camera's controls, answered as a UVC 1.1 camera answers them: brightness,
 * contrast, gain, white balance (automatic and temperature) on the processing unit; exposure
 * (auto mode and absolute time) on the camera terminal. GET_CUR, GET_MIN, GET_MAX, GET_RES,
 * GET_DEF, GET_INFO, GET_LEN and SET_CUR; a request the camera cannot honour stalls, and the
 * VideoControl interface's request error code control then says why (wrong state, out of
 * range, invalid control or request), which uvcvideo asks after every stall.
 *
 * As cameras do, a manual value is refused (wrong state) while its automatic switch is on:
 * the exposure time unless the auto-exposure mode is manual, the white balance temperature
 * while white balance is automatic. Every SET_CUR taken is logged: "set NAME VALUE".
 */
#include <string.h>

#include "camera.h"

#define SET_CUR 0x01
#define GET_CUR 0x81
#define GET_MIN 0x82
#define GET_MAX 0x83
#define GET_RES 0x84
#define GET_LEN 0x85
#define GET_INFO 0x86
#define GET_DEF 0x87

#define ERR_NONE 0x00
#define ERR_WRONG_STATE 0x02
#define ERR_OUT_OF_RANGE 0x04
#define ERR_INVALID_CONTROL 0x06
#define ERR_INVALID_REQUEST 0x07
#define ERR_INVALID_VALUE 0x08

#define VC_REQUEST_ERROR_CODE_CONTROL 0x02
#define AE_MODE_MANUAL 0x01
#define AE_MODE_APERTURE_PRIORITY 0x08

#define INFO_GET_SET 0x03
#define INFO_AUTO_UPDATE 0x08

enum { BRIGHTNESS, CONTRAST, GAIN, WB_TEMPERATURE, WB_AUTO, AE_MODE, EXPOSURE };

void controls_init(struct controls *cs) {
        /* name, entity, selector, size, bmControls bit, signed, min, max, res, def, GET_INFO */
        const struct control table[] = {
                [BRIGHTNESS] = {"brightness", ENTITY_PROCESSING, 0x02, 2, 0, true, -64, 64, 1, 0, INFO_GET_SET},
                [CONTRAST] = {"contrast", ENTITY_PROCESSING, 0x03, 2, 1, false, 0, 100, 1, 50, INFO_GET_SET},
                [GAIN] = {"gain", ENTITY_PROCESSING, 0x04, 2, 9, false, 0, 100, 1, 0, INFO_GET_SET},
                [WB_TEMPERATURE] = {"white_balance_temperature", ENTITY_PROCESSING, 0x0a, 2, 6, false, 2800, 6500, 10,
                                    4600, INFO_GET_SET | INFO_AUTO_UPDATE},
                [WB_AUTO] = {"white_balance_automatic", ENTITY_PROCESSING, 0x0b, 1, 12, false, 0, 1, 1, 1,
                             INFO_GET_SET},
                /* a bitmap of modes: GET_RES lists those the camera has (manual, aperture priority) */
                [AE_MODE] = {"auto_exposure", ENTITY_CAMERA, 0x02, 1, 1, false, 0, 0,
                             AE_MODE_MANUAL | AE_MODE_APERTURE_PRIORITY, AE_MODE_APERTURE_PRIORITY, INFO_GET_SET},
                [EXPOSURE] = {"exposure_time_absolute", ENTITY_CAMERA, 0x04, 4, 3, false, 1, 5000, 1, 156,
                              INFO_GET_SET | INFO_AUTO_UPDATE},
        };

        memcpy(cs->c, table, sizeof(table));
        for (unsigned i = 0; i < ARRAY_SIZE(cs->c); i++)
                cs->c[i].cur = cs->c[i].def;
        cs->error_code = ERR_NONE;
}

uint32_t controls_bitmap(const struct controls *cs, uint8_t entity) {
        uint32_t bits = 0;

        for (unsigned i = 0; i < ARRAY_SIZE(cs->c); i++)
                if (cs->c[i].entity == entity)
                        bits |= 1u << cs->c[i].bit;
        return bits;
}

static struct control *find(struct controls *cs, uint8_t entity, uint8_t selector) {
        for (unsigned i = 0; i < ARRAY_SIZE(cs->c); i++)
                if (cs->c[i].entity == entity && cs->c[i].selector == selector)
                        return &cs->c[i];
        return NULL;
}

static int put_value(const struct control *c, int32_t v, uint8_t *data, size_t len) {
        uint32_t u = (uint32_t) v;

        if (len < c->size)
                return -1;
        for (unsigned i = 0; i < c->size; i++)
                data[i] = (uint8_t) (u >> (8 * i));
        return c->size;
}

static int32_t get_value(const struct control *c, const uint8_t *data) {
        uint32_t u = 0;

        for (unsigned i = 0; i < c->size; i++)
                u |= (uint32_t) data[i] << (8 * i);
        if (c->is_signed && c->size < 4 && (u & (1u << (8 * c->size - 1))))
                u |= ~0u << (8 * c->size); /* sign-extend */
        return (int32_t) u;
}

/* Why @c cannot take @v now (a UVC error code), or ERR_NONE. */
static uint8_t refuse(const struct controls *cs, const struct control *c, int32_t v) {
        if (c == &cs->c[AE_MODE])
                return (v & (v - 1)) || !(v & c->res) ? ERR_OUT_OF_RANGE : ERR_NONE; /* one mode it has */
        if (v < c->min || v > c->max)
                return ERR_OUT_OF_RANGE;
        if ((v - c->min) % c->res)
                return ERR_INVALID_VALUE;
        if (c == &cs->c[EXPOSURE] && cs->c[AE_MODE].cur != AE_MODE_MANUAL)
                return ERR_WRONG_STATE;
        if (c == &cs->c[WB_TEMPERATURE] && cs->c[WB_AUTO].cur)
                return ERR_WRONG_STATE;
        return ERR_NONE;
}

static int set_cur(struct camera *cam, struct control *c, const uint8_t *data, size_t len) {
        int32_t v;

        if (len != c->size) {
                cam->controls.error_code = ERR_INVALID_REQUEST;
                return -1;
        }
        v = get_value(c, data);
        cam->controls.error_code = refuse(&cam->controls, c, v);
        if (cam->controls.error_code != ERR_NONE) {
                cam_log(cam, "refused %s %d error %u", c->name, v, cam->controls.error_code);
                return -1;
        }
        c->cur = v;
        cam_log(cam, "set %s %d", c->name, v);
        return 0;
}

/* The request error code control, on the VideoControl interface itself (entity 0). */
static int error_code_request(struct camera *cam, uint8_t req, uint8_t selector, uint8_t *data, size_t len) {
        if (selector != VC_REQUEST_ERROR_CODE_CONTROL || len < 1 || (req != GET_CUR && req != GET_INFO))
                return -1;
        data[0] = req == GET_CUR ? cam->controls.error_code : 0x01;
        return 1;
}

int controls_request(struct camera *cam, uint8_t req, uint8_t entity, uint8_t selector, uint8_t *data, size_t len) {
        struct controls *cs = &cam->controls;
        struct control *c;

        if (entity == 0)
                return error_code_request(cam, req, selector, data, len);
        c = find(cs, entity, selector);
        if (!c) {
                cs->error_code = ERR_INVALID_CONTROL;
                return -1;
        }
        cs->error_code = ERR_NONE;
        switch (req) {
        case SET_CUR: return set_cur(cam, c, data, len);
        case GET_CUR: return put_value(c, c->cur, data, len);
        case GET_DEF: return put_value(c, c->def, data, len);
        case GET_RES: return put_value(c, c->res, data, len);
        case GET_INFO: return len >= 1 ? (data[0] = c->info, 1) : -1;
        case GET_LEN: return len >= 2 ? (data[0] = c->size, data[1] = 0, 2) : -1;
        case GET_MIN:
        case GET_MAX:
                if (c != &cs->c[AE_MODE])
                        return put_value(c, req == GET_MIN ? c->min : c->max, data, len);
                break; /* a bitmap has no range */
        }
        cs->error_code = ERR_INVALID_REQUEST;
        return -1;
}
