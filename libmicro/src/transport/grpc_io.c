/* All nghttp2 has to send, in one uv_write (transport/grpc.h). */

#include <stdlib.h>

#include "micro/error.h"
#include "transport/grpc.h"


typedef struct {
    uv_write_t     req;
    uv_buf_t       buf;
    void          *conn;
} micro_grpc_write_t;


int
micro_grpc_write(nghttp2_session *session, uv_stream_t *tcp, void *conn,
    uv_write_cb done)
{
    ssize_t              n;
    micro_buf_t          out = { 0 };
    const uint8_t       *data;
    micro_grpc_write_t  *w;

    while ((n = nghttp2_session_mem_send(session, &data)) > 0) {
        if (micro_buf_append(&out, data, (size_t) n) != MICRO_OK) {
            n = -1;
            break;
        }
    }
    if (n < 0) {
        micro_buf_free(&out);
        return -1;
    }
    if (out.len == 0) {
        return 0;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        micro_buf_free(&out);
        return -1;
    }
    w->conn = conn;
    w->buf = uv_buf_init((char *) out.data, (unsigned) out.len);
    if (uv_write(&w->req, tcp, &w->buf, 1, done) != 0) {
        free(w->buf.base);
        free(w);
        return -1;
    }
    return 1;
}


void *
micro_grpc_written(uv_write_t *req)
{
    void                *conn;
    micro_grpc_write_t  *w = (micro_grpc_write_t *) req;

    conn = w->conn;
    free(w->buf.base);
    free(w);
    return conn;
}
