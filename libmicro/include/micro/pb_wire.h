/*
 * The protobuf wire format's primitives and output buffers, with no I/O:
 * for code that encodes messages without generated structs (the
 * transcoder, the NGINX gateway's go.api handler).
 */

#ifndef MICRO_PB_WIRE_H
#define MICRO_PB_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "micro/transcode.h"

enum {
    MICRO_WIRE_VARINT = 0,
    MICRO_WIRE_I64 = 1,
    MICRO_WIRE_LEN = 2,
    MICRO_WIRE_SGROUP = 3,
    MICRO_WIRE_EGROUP = 4,
    MICRO_WIRE_I32 = 5
};

static inline size_t
micro_varint_size(uint64_t v)
{
    size_t  n = 1;

    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}


static inline size_t
micro_varint_put(uint8_t *p, uint64_t v)
{
    size_t  n = 0;

    while (v >= 0x80) {
        p[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t) v;
    return n;
}


/* 0, or -1 when truncated or longer than ten bytes. */
static inline int
micro_varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
    int             shift;
    uint64_t        v = 0;
    const uint8_t  *p = *pp;

    for (shift = 0; shift < 70 && p < end; shift += 7) {
        v |= (uint64_t) (*p & 0x7f) << shift;
        if (*p++ < 0x80) {
            *pp = p;
            *out = v;
            return 0;
        }
    }
    return -1;
}


static inline uint64_t
micro_zigzag_enc(int64_t v)
{
    return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}


static inline int64_t
micro_zigzag_dec(uint64_t v)
{
    return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}


static inline uint64_t
micro_le_get(const uint8_t *p, size_t n)
{
    size_t    i;
    uint64_t  v = 0;

    for (i = 0; i < n; i++) {
        v |= (uint64_t) p[i] << (8 * i);
    }
    return v;
}


static inline int
micro_buf_putc(micro_buf_t *b, uint8_t c)
{
    if (b->len == b->cap && micro_buf_reserve(b, 1) != 0) {
        return -2;
    }
    b->data[b->len++] = c;
    return 0;
}


static inline int
micro_buf_varint(micro_buf_t *b, uint64_t v)
{
    if (b->cap - b->len < 10 && micro_buf_reserve(b, 10) != 0) {
        return -2;
    }
    b->len += micro_varint_put(b->data + b->len, v);
    return 0;
}


static inline int
micro_buf_tag(micro_buf_t *b, uint32_t number, int wire)
{
    return micro_buf_varint(b, ((uint64_t) number << 3) | (unsigned) wire);
}


static inline int
micro_buf_le(micro_buf_t *b, uint64_t v, size_t n)
{
    size_t  i;

    if (b->cap - b->len < n && micro_buf_reserve(b, n) != 0) {
        return -2;
    }
    for (i = 0; i < n; i++) {
        b->data[b->len++] = (uint8_t) (v >> (8 * i));
    }
    return 0;
}

#endif
