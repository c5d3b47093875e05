/*
 * gRPC's wire conventions, for any program that speaks gRPC with libmicro
 * (its server and client, and the NGINX gateway): status codes and their
 * go-micro (HTTP) error codes, grpc-timeout, grpc-message's
 * percent-encoding, length-prefixed messages and go-micro's naming of
 * gRPC paths (README, "gRPC"). No I/O: nothing here needs libuv or
 * nghttp2.
 */

#ifndef MICRO_GRPC_PUBLIC_H
#define MICRO_GRPC_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include "micro/transcode.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MICRO_GRPC_HEADER_LEN     5          /* flag and length of a message */

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

/* The status of a reply that is not gRPC's, by its HTTP status (gRPC's
 * HTTP/2 spec). */
int micro_grpc_status_from_http(int http);

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

/* Reserved names a call's metadata must not carry. */
int micro_grpc_reserved_header(const char *name, size_t len);

/*
 * The gRPC path of endpoint of service, by go-micro's naming rules:
 * "Say.Hello" of go.micro.srv.greeter is /go.micro.srv.greeter.Say/Hello,
 * "pkg.Say.Hello" is /pkg.Say/Hello, "/pkg.Say/Hello" stays as it is.
 */
int micro_grpc_path(const char *service, const char *endpoint, char *buf,
    size_t size);

#ifdef __cplusplus
}
#endif

#endif
