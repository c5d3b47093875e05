/*
 * What libmicro's gRPC server and client share beyond the wire's
 * conventions (micro/grpc.h): HTTP/2 limits, nghttp2 headers, and the
 * write of what nghttp2 has to send (grpc_io.c).
 */

#ifndef MICRO_GRPC_H
#define MICRO_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "micro/grpc.h"

#define MICRO_GRPC_PREFACE        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define MICRO_GRPC_PREFACE_LEN    24
#define MICRO_GRPC_MAX_METADATA   16384      /* header bytes a call, each way */
#define MICRO_GRPC_WINDOW         (1 << 20)  /* a stream's receive window */
#define MICRO_GRPC_CONN_WINDOW    (16 << 20)
#define MICRO_GRPC_MAX_STREAMS    1000       /* concurrent calls a connection */

/* A header for nghttp2 from static or lasting strings. */
#define MICRO_NV(name, value, vlen)                                         \
    { (uint8_t *) (name), (uint8_t *) (value), sizeof(name) - 1, (vlen),    \
      NGHTTP2_NV_FLAG_NO_COPY_NAME }

/*
 * Everything nghttp2 has to send on the connection, in one uv_write with
 * done as its callback: 1 when a write started, 0 with nothing to send,
 * -1 when it failed. done gets conn back from micro_grpc_written(), which
 * frees what the write took.
 */
int micro_grpc_write(nghttp2_session *session, uv_stream_t *tcp, void *conn,
    uv_write_cb done);
void *micro_grpc_written(uv_write_t *req);

#endif
