/*
 * Calling services: by name through the registry cache and a selector, or
 * by address, over the micro HTTP transport with a keepalive connection
 * pool per node, or over gRPC (one HTTP/2 connection a node, shared by
 * all threads) to nodes that speak only gRPC or when asked to.
 *
 * A call takes a timeout (default 5 s) and retries on another node after
 * a connect failure or a timeout (default 1 retry, as go-micro), marking
 * the failed node in the selector. A reply that is a go-micro error comes
 * back as MICRO_EREMOTE with the error filled in.
 *
 * Threads: a client may be shared by any number of threads; calls block
 * the calling thread only. Its cache runs a watcher thread of its own.
 */

#ifndef MICRO_CLIENT_H
#define MICRO_CLIENT_H

#include <protobuf-c/protobuf-c.h>

#include "micro/rpc_error.h"
#include "micro/selector.h"
#include "micro/stream.h"
#include "micro/transcode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char                *registry;    /* URL; NULL: env or default */
    micro_selector_options_t   selector;
    int                        timeout_ms;  /* default 5000 */
    int                        retries;     /* default 1; -1 for none */
    int                        pool_size;   /* idle conns per node, 16 */
    size_t                     max_message; /* gRPC: a reply's limit, 4 MiB */
} micro_client_options_t;

typedef struct {
    const char                *address;     /* call this node, no lookup */
    int                        timeout_ms;  /* 0: the client's */
    const micro_pair_t        *metadata;    /* extra headers */
    size_t                     nmetadata;
    const micro_select_filter_t *filter;
    const char                *protocol;    /* "grpc" or "mucp"; NULL: the
                                               node's (mucp if it has it) */
    micro_metadata_t          *reply_metadata;  /* gRPC: filled with the
                                                   reply's metadata */
} micro_call_options_t;

typedef struct micro_client_s  micro_client_t;

/* opts may be NULL for the defaults. */
int micro_client_new(const micro_client_options_t *opts, micro_client_t **c);
void micro_client_free(micro_client_t *c);

/*
 * Calls endpoint of service with req; *resp is unpacked with the response
 * descriptor (free it with protobuf_c_message_free_unpacked). err, if not
 * NULL, receives the error for any failure.
 */
int micro_client_call(micro_client_t *c, const char *service,
    const char *endpoint, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *response, ProtobufCMessage **resp,
    const micro_call_options_t *co, micro_rpc_error_t *err);

/*
 * The same with a raw body of content_type ("application/json" or
 * "application/protobuf"); the reply body is appended to reply.
 */
int micro_client_call_raw(micro_client_t *c, const char *service,
    const char *endpoint, const char *content_type, const void *body,
    size_t len, const micro_call_options_t *co, micro_buf_t *reply,
    micro_rpc_error_t *err);

/*
 * Opens a stream to endpoint of service over gRPC (the node must speak
 * it); replies are unpacked as response (NULL: micro_stream_recv_raw
 * only). The stream's deadline is the call's timeout (co->timeout_ms, or
 * the client's; -1 in co->timeout_ms: none). Free it with
 * micro_stream_free().
 */
int micro_client_stream(micro_client_t *c, const char *service,
    const char *endpoint, const ProtobufCMessageDescriptor *response,
    const micro_call_options_t *co, micro_stream_t **st,
    micro_rpc_error_t *err);

/* The same for raw messages of content_type (JSON: grpc+json). */
int micro_client_stream_raw(micro_client_t *c, const char *service,
    const char *endpoint, const char *content_type,
    const micro_call_options_t *co, micro_stream_t **st,
    micro_rpc_error_t *err);

/*
 * Typed calls from a .proto service's descriptor (protoc-c's
 * pkg__svc__descriptor): method names the method; the request and reply
 * types and the endpoint (/pkg.Svc/Method) come from the descriptor.
 */
int micro_client_call_method(micro_client_t *c, const char *service,
    const ProtobufCServiceDescriptor *d, const char *method,
    const ProtobufCMessage *req, ProtobufCMessage **resp,
    const micro_call_options_t *co, micro_rpc_error_t *err);
int micro_client_stream_method(micro_client_t *c, const char *service,
    const ProtobufCServiceDescriptor *d, const char *method,
    const micro_call_options_t *co, micro_stream_t **st,
    micro_rpc_error_t *err);

/* Nodes of a service from the client's cache (for health checks). */
int micro_client_nodes(micro_client_t *c, const char *service,
    micro_service_list_t *out);

#ifdef __cplusplus
}
#endif

#endif
