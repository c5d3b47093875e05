/*
 * A neutral model of protobuf message types, enough to transcode between
 * JSON and the protobuf wire format without generated structs. A pool
 * holds the types; it is built from protobuf-c's generated descriptors
 * (what a C service links) or from FileDescriptorSet files, as written by
 * protoc --include_imports --descriptor_set_out (what the gateway loads).
 */

#ifndef MICRO_PB_H
#define MICRO_PB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Field types, numbered as in descriptor.proto. */
typedef enum {
    MICRO_PB_DOUBLE = 1,
    MICRO_PB_FLOAT = 2,
    MICRO_PB_INT64 = 3,
    MICRO_PB_UINT64 = 4,
    MICRO_PB_INT32 = 5,
    MICRO_PB_FIXED64 = 6,
    MICRO_PB_FIXED32 = 7,
    MICRO_PB_BOOL = 8,
    MICRO_PB_STRING = 9,
    MICRO_PB_GROUP = 10,
    MICRO_PB_MESSAGE = 11,
    MICRO_PB_BYTES = 12,
    MICRO_PB_UINT32 = 13,
    MICRO_PB_ENUM = 14,
    MICRO_PB_SFIXED32 = 15,
    MICRO_PB_SFIXED64 = 16,
    MICRO_PB_SINT32 = 17,
    MICRO_PB_SINT64 = 18
} micro_pb_type_t;

/* Well-known types, which have a JSON form of their own. */
typedef enum {
    MICRO_PB_WKT_NONE = 0,
    MICRO_PB_WKT_ANY,
    MICRO_PB_WKT_TIMESTAMP,
    MICRO_PB_WKT_DURATION,
    MICRO_PB_WKT_STRUCT,
    MICRO_PB_WKT_VALUE,
    MICRO_PB_WKT_LIST_VALUE,
    MICRO_PB_WKT_FIELD_MASK,
    MICRO_PB_WKT_EMPTY,
    MICRO_PB_WKT_WRAPPER          /* DoubleValue ... BytesValue */
} micro_pb_wkt_t;

typedef struct {
    const char                         *name;
    int32_t                             number;
} micro_pb_enum_value_t;

typedef struct {
    const char                         *full_name;
    const micro_pb_enum_value_t        *values;
    size_t                              nvalues;
    int                                 null_value;  /* NullValue */
} micro_pb_enum_t;

typedef struct micro_pb_message_s  micro_pb_message_t;

typedef struct {
    const char                         *name;        /* as in the .proto */
    const char                         *json_name;   /* lowerCamelCase */
    uint32_t                            number;
    uint8_t                             type;        /* micro_pb_type_t */
    uint8_t                             repeated;
    uint8_t                             packed;      /* written packed */
    uint8_t                             presence;    /* explicit presence */
    int32_t                             oneof;       /* index, or -1 */
    const micro_pb_message_t           *message;     /* MESSAGE, GROUP */
    const micro_pb_enum_t              *enumeration; /* ENUM */
} micro_pb_field_t;

struct micro_pb_message_s {
    const char                         *full_name;
    const micro_pb_field_t             *fields;      /* by number */
    size_t                              nfields;
    size_t                              noneofs;
    uint8_t                             map_entry;
    uint8_t                             wkt;         /* micro_pb_wkt_t */
};

typedef struct micro_pb_pool_s  micro_pb_pool_t;

int micro_pb_pool_new(micro_pb_pool_t **pool);
void micro_pb_pool_free(micro_pb_pool_t *pool);

/* Adds a message type and every type it refers to. */
int micro_pb_pool_add_protobuf_c(micro_pb_pool_t *pool,
    const ProtobufCMessageDescriptor *d, const micro_pb_message_t **out);

/* Adds every type of a serialized FileDescriptorSet. */
int micro_pb_pool_add_descriptor_set(micro_pb_pool_t *pool,
    const uint8_t *data, size_t len);

/* By full name ("pkg.Msg"; a leading '.' is allowed); NULL if unknown. */
const micro_pb_message_t *micro_pb_pool_message(const micro_pb_pool_t *pool,
    const char *full_name);

/* An RPC method of a descriptor set. */
typedef struct {
    const char                         *path;        /* "/pkg.Svc/Method" */
    const micro_pb_message_t           *request;
    const micro_pb_message_t           *response;
    uint8_t                             client_streaming;
    uint8_t                             server_streaming;
} micro_pb_method_t;

/*
 * The request and response types of an RPC method named as go-micro names
 * endpoints, "Service.Method" (the proto service's name without its
 * package); from descriptor sets only. MICRO_ENOTFOUND when unknown.
 */
int micro_pb_pool_method(const micro_pb_pool_t *pool, const char *endpoint,
    const micro_pb_message_t **request, const micro_pb_message_t **response);

/* The same method whole (its gRPC path, whether it streams); NULL when
 * unknown. */
const micro_pb_method_t *micro_pb_pool_rpc(const micro_pb_pool_t *pool,
    const char *endpoint);

/* Number of message types in the pool. */
size_t micro_pb_pool_size(const micro_pb_pool_t *pool);

/* Field lookups: by number (binary search), by JSON or proto name. */
const micro_pb_field_t *micro_pb_field_by_number(const micro_pb_message_t *m,
    uint32_t number);
const micro_pb_field_t *micro_pb_field_by_name(const micro_pb_message_t *m,
    const char *name, size_t len);

#ifdef __cplusplus
}
#endif

#endif
