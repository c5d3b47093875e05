/*
 * JSON <-> protobuf wire format, driven by the message types of a pool
 * (micro/pb.h), following the proto3 JSON mapping: lowerCamelCase names
 * (proto names accepted), 64-bit integers as strings (numbers accepted),
 * enums by name (numbers accepted), bytes as base64 (URL-safe accepted),
 * maps, oneofs, NaN/Infinity, and the well-known types.
 *
 * Output goes to a growable buffer whose memory comes from a caller's
 * allocator (NGINX passes its request pool); errors come back as
 * MICRO_EPARSE with micro_error_detail() naming the field and the problem.
 */

#ifndef MICRO_TRANSCODE_H
#define MICRO_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>

#include "micro/pb.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Memory for output. realloc may be NULL: then a bigger block is taken
 * with alloc and the old one copied (and released with free, if set).
 */
typedef struct {
    void         *(*alloc)(void *ctx, size_t size);
    void         *(*realloc)(void *ctx, void *ptr, size_t old, size_t size);
    void          (*free)(void *ctx, void *ptr);
    void           *ctx;
} micro_allocator_t;

/* malloc, realloc and free. */
extern const micro_allocator_t  micro_allocator_default;

typedef struct {
    uint8_t                    *data;
    size_t                      len;
    size_t                      cap;
    const micro_allocator_t    *allocator;    /* NULL: the default */
} micro_buf_t;

void micro_buf_free(micro_buf_t *b);

/* Room for n more bytes; appending n bytes. 0 or MICRO_ENOMEM. */
int micro_buf_reserve(micro_buf_t *b, size_t n);
int micro_buf_append(micro_buf_t *b, const void *data, size_t n);

/* Appends msg packed (protobuf-c's encoding). 0 or MICRO_ENOMEM. */
int micro_buf_pack(micro_buf_t *b, const ProtobufCMessage *msg);

/*
 * The deepest JSON either direction reads or writes, counted in objects
 * and arrays (protobuf's default recursion limit): what one writes, the
 * other reads.
 */
#define MICRO_TRANSCODE_MAX_DEPTH  100

typedef struct {
    unsigned                    emit_defaults:1;   /* output zero values */
    unsigned                    proto_names:1;     /* output proto names */
    unsigned                    ignore_unknown:1;  /* input: skip unknown */
    unsigned                    enums_as_ints:1;   /* output enum numbers */
    const micro_pb_pool_t      *pool;              /* resolves Any types */
} micro_transcode_options_t;

/* JSON text -> protobuf bytes, appended to out. opts may be NULL. */
int micro_json_to_pb(const micro_pb_message_t *m, const char *json,
    size_t len, const micro_transcode_options_t *opts, micro_buf_t *out);

/*
 * protobuf bytes -> JSON text (not NUL-terminated), appended to out.
 * MICRO_EPARSE: the bytes are not a valid message; MICRO_EENCODE: they are,
 * but hold a value JSON cannot express (a Timestamp past year 9999...).
 */
int micro_pb_to_json(const micro_pb_message_t *m, const uint8_t *pb,
    size_t len, const micro_transcode_options_t *opts, micro_buf_t *out);

#ifdef __cplusplus
}
#endif

#endif
