/* SPDX-License-Identifier: MIT */
/* stamp.c — frame numbers drawn as blocks; see stamp.h. */
#include "stamp.h"

#include <errno.h>
#include <string.h>

static uint32_t stamp_word(uint32_t number) {
        uint32_t n = number & STAMP_NUMBER_MASK;
        uint8_t check = (uint8_t) ~((n >> 16) ^ (n >> 8) ^ n ^ 0x5a);
        return (n << 8) | check;
}

unsigned stamp_block_size(unsigned eye_width) {
        unsigned b = (eye_width / STAMP_BITS) & ~7u;
        return b < 8 ? 8 : (b > 64 ? 64 : b);
}

void stamp_write(uint8_t *y, int ystride, uint8_t *u, uint8_t *v, int cstride, unsigned eye_width, uint32_t number) {
        unsigned b = stamp_block_size(eye_width);
        uint32_t word = stamp_word(number);

        for (unsigned i = 0; i < STAMP_BITS; i++) {
                uint8_t value = (word >> (STAMP_BITS - 1 - i)) & 1 ? 235 : 16;
                for (unsigned r = 0; r < b; r++)
                        memset(y + (size_t) r * ystride + i * b, value, b);
                for (unsigned r = 0; r < b / 2; r++) {
                        memset(u + (size_t) r * cstride + i * b / 2, 128, b / 2);
                        memset(v + (size_t) r * cstride + i * b / 2, 128, b / 2);
                }
        }
}

int stamp_read(const uint8_t *y, int ystride, unsigned eye_width, uint32_t *ret_number) {
        unsigned b = stamp_block_size(eye_width);
        uint32_t word = 0;

        for (unsigned i = 0; i < STAMP_BITS; i++) {
                unsigned sum = 0, n = 0;
                /* the centre half of the block: JPEG ringing stays near the edges */
                for (unsigned r = b / 4; r < b - b / 4; r++)
                        for (unsigned c = b / 4; c < b - b / 4; c++, n++)
                                sum += y[(size_t) r * ystride + i * b + c];
                word = (word << 1) | (sum / n >= 128);
        }
        if (stamp_word(word >> 8) != word)
                return -EBADMSG;
        *ret_number = word >> 8;
        return 0;
}
