/*
 * The service model, as go-micro's registry package defines it, and its
 * JSON form (identical to go-micro's Service JSON).
 *
 * These are plain structs the caller may fill in directly. Every string and
 * array is owned by the struct that holds it: micro_service_free() releases
 * all of it, micro_service_copy() duplicates all of it.
 */

#ifndef MICRO_SERVICE_H
#define MICRO_SERVICE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MICRO_NAME_MAX     255
#define MICRO_VERSION_MAX  64
#define MICRO_VALUE_DEPTH  16   /* deepest request/response value tree */

typedef struct {
    char               *key;
    char               *value;
} micro_pair_t;

typedef struct {
    micro_pair_t       *items;
    size_t              len;
} micro_metadata_t;

/* A field of a request or response type: go-micro's registry.Value. */
typedef struct micro_value_s  micro_value_t;

struct micro_value_s {
    char               *name;
    char               *type;
    micro_value_t      *values;
    size_t              nvalues;
};

typedef struct {
    char               *name;        /* "Handler.Method" */
    micro_value_t      *request;     /* may be NULL */
    micro_value_t      *response;    /* may be NULL */
    micro_metadata_t    metadata;
} micro_endpoint_t;

typedef struct {
    char               *id;
    char               *address;     /* "host:port" */
    micro_metadata_t    metadata;
} micro_node_t;

typedef struct {
    char               *name;
    char               *version;
    micro_metadata_t    metadata;
    micro_endpoint_t   *endpoints;
    size_t              nendpoints;
    micro_node_t       *nodes;
    size_t              nnodes;
} micro_service_t;

/* Several services: the versions of one name, or a registry listing. */
typedef struct {
    micro_service_t    *items;
    size_t              len;
} micro_service_list_t;


void micro_service_free(micro_service_t *s);   /* frees members, not s */
void micro_service_list_free(micro_service_list_t *list);
int micro_service_copy(micro_service_t *dst, const micro_service_t *src);

/* Metadata lookup; NULL when the key is absent. */
const char *micro_metadata_get(const micro_metadata_t *md, const char *key);
int micro_metadata_set(micro_metadata_t *md, const char *key,
    const char *value);
void micro_metadata_free(micro_metadata_t *md);   /* members, not md */

/*
 * The protocols a node speaks, from its metadata: "protocols" (a list,
 * "mucp,grpc"), else "protocol" (go-micro's one: "mucp", "grpc"); none
 * said is mucp.
 */
#define MICRO_PROTOCOL_MUCP  1u
#define MICRO_PROTOCOL_GRPC  2u

unsigned micro_node_protocols(const micro_node_t *node);

/*
 * Validation of what goes into the registry. Names: 1-255 characters of
 * [A-Za-z0-9._:-], starting with a letter or digit. Node ids: 1-255
 * printable characters, no spaces. Addresses: "ip:port", an IPv4 literal
 * or a bracketed IPv6 literal and a port 1-65535; not a host name (readers
 * would have to look it up, and a lookup blocks).
 */
int micro_name_valid(const char *name);
int micro_node_id_valid(const char *id);
int micro_address_valid(const char *address);
int micro_service_validate(const micro_service_t *s);

/*
 * JSON. micro_service_to_json() returns a malloc'd string (free() it).
 * micro_service_from_json() fills *s; on error *s is left empty and
 * micro_error_detail() says what was wrong.
 */
char *micro_service_to_json(const micro_service_t *s);
int micro_service_from_json(micro_service_t *s, const char *json, size_t len);

/*
 * Appends src to list, merging nodes into an existing entry of the same
 * name and version (how a registry read builds one entry per version).
 * src is moved: on success it is left empty.
 */
int micro_service_list_merge(micro_service_list_t *list, micro_service_t *src);

#ifdef __cplusplus
}
#endif

#endif
