/*
 * The server side of RFC 6455's framing, with no I/O: the handshake's
 * accept key, and frames read from and written to byte buffers. One
 * implementation for libmicro's programs (examples/web) and the NGINX
 * gateway's WebSocket streams.
 */

#ifndef MICRO_WEBSOCKET_H
#define MICRO_WEBSOCKET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#ifdef __cplusplus
}
#endif

#endif

#define MICRO_WS_TEXT        0x1
#define MICRO_WS_BINARY      0x2
#define MICRO_WS_CLOSE       0x8
#define MICRO_WS_PING        0x9
#define MICRO_WS_PONG        0xa

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: 28 chars + NUL. */
void micro_ws_accept_key(const char *key, size_t len, char out[29]);

typedef struct {
    int             fin;
    int             opcode;
    uint8_t        *payload;      /* unmasked in place, inside the input */
    size_t          len;
} micro_ws_frame_t;

/*
 * One client frame from in[0..len): the bytes it took (> 0), 0 when more
 * are needed, -1 for a frame a client must not send (unmasked, reserved
 * bits, a control frame over 125 bytes) or one over max bytes.
 */
long micro_ws_frame_read(uint8_t *in, size_t len, size_t max, micro_ws_frame_t *f);

/* A server frame (unmasked) into out, which has micro_ws_frame_size() bytes. */
size_t micro_ws_frame_size(size_t len);
size_t micro_ws_frame_write(uint8_t *out, int fin, int opcode, const uint8_t *data,
    size_t len);

#ifdef __cplusplus
}
#endif

#endif
