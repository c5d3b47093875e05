/*
 * What libmicro's gRPC server and client share: the wire's constants, the
 * length-prefixed messages, grpc-timeout, grpc-message's percent-encoding
 * and the mapping between gRPC status codes and go-micro's error codes
 * (README, "gRPC").
 */

#ifndef MICRO_GRPC_H
#define MICRO_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "micro/transcode.h"

#define MICRO_GRPC_PREFACE        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define MICRO_GRPC_PREFACE_LEN    24
#define MICRO_GRPC_HEADER_LEN     5          /* flag and length of a message */
#define MICRO_GRPC_MAX_METADATA   16384      /* header bytes a call, each way */
#define MICRO_GRPC_WINDOW         (1 << 20)  /* a stream's receive window */
#define MICRO_GRPC_CONN_WINDOW    (16 << 20)
#define MICRO_GRPC_MAX_STREAMS    1000       /* concurrent calls a connection */

enum {
    MICRO_GRPC_OK = 0,
    MICRO_GRPC_CANCELLED = 1,
    MICRO_GRPC_UNKNOWN = 2,
    MICRO_GRPC_INVALID_ARGUMENT = 3,
    MICRO_GRPC_DEADLINE_EXCEEDED = 4,
    MICRO_GRPC_NOT_FOUND = 5,
    MICRO_GRPC_ALREADY_EXISTS = 6,
    MICRO_GRPC_PERMISSION_DENIED = 7,
    MICRO_GRPC_RESOURCE_EXHAUSTED = 8,
    MICRO_GRPC_FAILED_PRECONDITION = 9,
    MICRO_GRPC_ABORTED = 10,
    MICRO_GRPC_OUT_OF_RANGE = 11,
    MICRO_GRPC_UNIMPLEMENTED = 12,
    MICRO_GRPC_INTERNAL = 13,
    MICRO_GRPC_UNAVAILABLE = 14,
    MICRO_GRPC_DATA_LOSS = 15,
    MICRO_GRPC_UNAUTHENTICATED = 16
};

/* go-micro's (HTTP) error code for a gRPC status, and back. */
int micro_grpc_code_from_status(int status);
int micro_grpc_status_from_code(int code);
const char *micro_grpc_status_name(int status);

/* grpc-timeout "100m" to milliseconds (-1: not one); and back. */
int64_t micro_grpc_timeout_parse(const char *s, size_t len);
void micro_grpc_timeout_format(int64_t ms, char *buf, size_t size);

/* grpc-message's percent-encoding, appended to out. */
int micro_grpc_message_encode(const char *s, micro_buf_t *out);
int micro_grpc_message_decode(const char *s, size_t len, micro_buf_t *out);

/* The 5-byte prefix of a message of len bytes. */
void micro_grpc_prefix(uint8_t *p, size_t len);

/*
 * Takes the next whole message off the front of in (consumed bytes are
 * moved out): 1 with *msg and *len pointing into in until the next call, 0
 * when more bytes are needed, -1 when the next message is compressed
 * and -2 when it is over max.
 */
typedef struct {
    micro_buf_t   in;
    size_t        pos;
} micro_grpc_reader_t;

int micro_grpc_read(micro_grpc_reader_t *rd, size_t max, const uint8_t **msg,
    size_t *len);
void micro_grpc_reader_free(micro_grpc_reader_t *rd);

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

/* Reserved names a call's metadata must not carry. */
int micro_grpc_reserved_header(const char *name, size_t len);

#endif
