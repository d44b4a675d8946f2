/* SPDX-License-Identifier: MIT */
/*
 * ep0.c — the camera's control endpoint: the standard requests usbcore and uvcvideo send
 * (descriptors, configuration, alternate settings, status, features) and the class requests,
 * handed to controls.c (VideoControl interface 0) or probe.c (VideoStreaming interface 1).
 * SET_ADDRESS never comes here: vhci-hcd answers it itself.
 */
#include <string.h>

#include "camera.h"

#define REQ_GET_STATUS 0x00
#define REQ_CLEAR_FEATURE 0x01
#define REQ_SET_FEATURE 0x03
#define REQ_SET_ADDRESS 0x05
#define REQ_GET_DESCRIPTOR 0x06
#define REQ_GET_CONFIGURATION 0x08
#define REQ_SET_CONFIGURATION 0x09
#define REQ_GET_INTERFACE 0x0a
#define REQ_SET_INTERFACE 0x0b

#define TYPE_STANDARD 0
#define TYPE_CLASS 1

static int set_interface(struct camera *cam, unsigned interface, unsigned alt) {
        if (interface == 0)
                return alt == 0 ? 0 : -1;
        if (interface != 1 || alt > N_ALTS)
                return -1;
        stream_set_alt(cam, (uint8_t) alt);
        return 0;
}

static int standard_request(struct camera *cam, uint8_t req, uint16_t value, uint16_t index, uint8_t *data,
                            size_t len) {
        int n;

        switch (req) {
        case REQ_GET_STATUS:
                if (len < 2)
                        return -1;
                data[0] = data[1] = 0;
                return 2;
        case REQ_CLEAR_FEATURE:
        case REQ_SET_FEATURE:
        case REQ_SET_ADDRESS: return 0;
        case REQ_GET_DESCRIPTOR:
                n = descriptors_get(cam, value >> 8, value & 0xff, data, len);
                return n < 0 ? -1 : (int) (n < (int) len ? (size_t) n : len);
        case REQ_GET_CONFIGURATION:
                if (len < 1)
                        return -1;
                data[0] = cam->configuration;
                return 1;
        case REQ_SET_CONFIGURATION:
                if (value > 1)
                        return -1;
                cam->configuration = (uint8_t) value;
                if (value == 0)
                        stream_set_alt(cam, 0);
                return 0;
        case REQ_GET_INTERFACE:
                if (len < 1)
                        return -1;
                data[0] = (index & 0xff) == 1 ? cam->vs_alt : 0;
                return 1;
        case REQ_SET_INTERFACE: return set_interface(cam, index & 0xff, value);
        }
        return -1;
}

int ep0_request(struct camera *cam, const uint8_t setup[8], uint8_t *data, size_t len) {
        uint8_t type = (setup[0] >> 5) & 3, req = setup[1];
        uint16_t value = (uint16_t) (setup[2] | setup[3] << 8), index = (uint16_t) (setup[4] | setup[5] << 8);

        if (type == TYPE_STANDARD)
                return standard_request(cam, req, value, index, data, len);
        if (type != TYPE_CLASS || (setup[0] & 0x1f) != 1) /* class requests to an interface only */
                return -1;
        if ((index & 0xff) == 0)
                return controls_request(cam, req, index >> 8, value >> 8, data, len);
        if ((index & 0xff) == 1)
                return probe_request(cam, req, value >> 8, data, len);
        return -1;
}
