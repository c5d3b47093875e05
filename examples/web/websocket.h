/*
 * The server side of RFC 6455, as small as an echo needs: the handshake's
 * accept key, and frames read from and written to byte buffers.
 */

#ifndef WEB_WEBSOCKET_H
#define WEB_WEBSOCKET_H

#include <stddef.h>
#include <stdint.h>

#define WS_TEXT        0x1
#define WS_BINARY      0x2
#define WS_CLOSE       0x8
#define WS_PING        0x9
#define WS_PONG        0xa

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: 28 chars + NUL. */
void ws_accept_key(const char *key, size_t len, char out[29]);

typedef struct {
    int             fin;
    int             opcode;
    uint8_t        *payload;      /* unmasked in place, inside the input */
    size_t          len;
} ws_frame_t;

/*
 * One client frame from in[0..len): the bytes it took (> 0), 0 when more
 * are needed, -1 for a frame a client must not send (unmasked, reserved
 * bits, a control frame over 125 bytes) or one over max bytes.
 */
long ws_frame_read(uint8_t *in, size_t len, size_t max, ws_frame_t *f);

/* A server frame (unmasked) into out, which has ws_frame_size() bytes. */
size_t ws_frame_size(size_t len);
size_t ws_frame_write(uint8_t *out, int fin, int opcode, const uint8_t *data,
    size_t len);

#endif
