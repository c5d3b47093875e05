/*
 * RFC 6455 (micro/websocket.h): SHA-1 (FIPS 180-4) and base64 for the
 * accept key, which no library we link offers, and the frame format.
 */

#include <string.h>

#include "micro/websocket.h"


#define WS_GUID  "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


#define ROL(x, n)  (((x) << (n)) | ((x) >> (32 - (n))))


static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
    int       t;
    uint32_t  w[80], a, b, c, d, e, f, k, tmp;

    for (t = 0; t < 16; t++) {
        w[t] = (uint32_t) p[4 * t] << 24 | (uint32_t) p[4 * t + 1] << 16
               | (uint32_t) p[4 * t + 2] << 8 | p[4 * t + 3];
    }
    for (t = 16; t < 80; t++) {
        w[t] = ROL(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    }
    a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
    for (t = 0; t < 80; t++) {
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        tmp = ROL(a, 5) + f + e + k + w[t];
        e = d; d = c; c = ROL(b, 30); b = a; a = tmp;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}


/* SHA-1 of a message short enough for a small buffer (a key and GUID). */
static void
sha1(const uint8_t *msg, size_t len, uint8_t out[20])
{
    int       i;
    size_t    n, blocks;
    uint8_t   buf[128];
    uint32_t  h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                       0xc3d2e1f0 };

    blocks = (len + 8) / 64 + 1;
    memset(buf, 0, sizeof(buf));
    memcpy(buf, msg, len);
    buf[len] = 0x80;
    n = blocks * 64;
    for (i = 0; i < 8; i++) {
        buf[n - 1 - i] = (uint8_t) ((uint64_t) len * 8 >> (8 * i));
    }
    for (n = 0; n < blocks; n++) {
        sha1_block(h, buf + 64 * n);
    }
    for (i = 0; i < 20; i++) {
        out[i] = (uint8_t) (h[i / 4] >> (24 - 8 * (i % 4)));
    }
}


void
micro_ws_accept_key(const char *key, size_t len, char out[29])
{
    static const char  b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "abcdefghijklmnopqrstuvwxyz0123456789+/";
    int       i;
    char     *o = out;
    uint8_t   msg[64 + sizeof(WS_GUID)], d[21];
    uint32_t  v;

    if (len > 64) {                  /* a key is 24 characters */
        len = 64;
    }
    memcpy(msg, key, len);
    memcpy(msg + len, WS_GUID, sizeof(WS_GUID) - 1);
    sha1(msg, len + sizeof(WS_GUID) - 1, d);
    d[20] = 0;
    for (i = 0; i < 21; i += 3) {
        v = (uint32_t) d[i] << 16 | (uint32_t) d[i + 1] << 8
            | (i + 2 < 21 ? d[i + 2] : 0);
        *o++ = b64[v >> 18 & 63];
        *o++ = b64[v >> 12 & 63];
        *o++ = b64[v >> 6 & 63];
        *o++ = b64[v & 63];
    }
    out[27] = '=';                   /* 20 bytes: 27 characters and one = */
    out[28] = '\0';
}


long
micro_ws_frame_read(uint8_t *in, size_t len, size_t max, micro_ws_frame_t *f)
{
    size_t    i, head = 2, n;
    uint8_t  *mask;

    if (len < 2) {
        return 0;
    }
    if ((in[0] & 0x70) || !(in[1] & 0x80)) {    /* reserved bits, no mask */
        return -1;
    }
    f->fin = in[0] >> 7;
    f->opcode = in[0] & 0x0f;
    n = in[1] & 0x7f;
    if (n == 126) {
        head += 2;
        if (len < head) {
            return 0;
        }
        n = (size_t) in[2] << 8 | in[3];
    } else if (n == 127) {
        head += 8;
        if (len < head) {
            return 0;
        }
        for (i = 0, n = 0; i < 8; i++) {
            if (i < 4 && in[2 + i]) {
                return -1;                       /* over 4 GB */
            }
            n = n << 8 | in[2 + i];
        }
    }
    if (n > max || ((f->opcode & 0x8) && (n > 125 || !f->fin))) {
        return -1;
    }
    if (len < head + 4 + n) {
        return 0;
    }
    mask = in + head;
    f->payload = mask + 4;
    f->len = n;
    for (i = 0; i < n; i++) {
        f->payload[i] ^= mask[i % 4];
    }
    return (long) (head + 4 + n);
}


size_t
micro_ws_frame_size(size_t len)
{
    return (len < 126 ? 2 : len < 65536 ? 4 : 10) + len;
}


size_t
micro_ws_frame_write(uint8_t *out, int fin, int opcode, const uint8_t *data,
    size_t len)
{
    int     i;
    size_t  head;

    out[0] = (uint8_t) ((fin ? 0x80 : 0) | opcode);
    if (len < 126) {
        out[1] = (uint8_t) len;
        head = 2;
    } else if (len < 65536) {
        out[1] = 126;
        out[2] = (uint8_t) (len >> 8);
        out[3] = (uint8_t) len;
        head = 4;
    } else {
        out[1] = 127;
        for (i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t) ((uint64_t) len >> (56 - 8 * i));
        }
        head = 10;
    }
    memcpy(out + head, data, len);
    return head + len;
}
