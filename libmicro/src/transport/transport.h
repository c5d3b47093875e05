/*
 * The seam between the RPC layer and a wire. The RPC layer (rpc/) owns
 * what a call means: which node, failover, deadlines, go-micro errors,
 * handlers. A transport only carries one call to one node and its reply
 * back (client side), or turns a connection's bytes into calls for the
 * server and its replies into bytes (server side). micro's HTTP/1.1
 * transport is the first of each (http_client.c, http_server.c); gRPC
 * goes beside it without touching the call logic.
 */

#ifndef MICRO_TRANSPORT_H
#define MICRO_TRANSPORT_H

#include <stdint.h>
#include <uv.h>

#include "micro/client.h"
#include "micro/transcode.h"

/* --- client side ------------------------------------------------------ */

/* One call to one node. */
typedef struct {
    const char                  *address;      /* "ip:port" */
    const char                  *service;      /* NULL: by address */
    const char                  *endpoint;
    const char                  *content_type;
    const char                  *id;           /* Micro-Id */
    const void                  *body;
    size_t                       len;
    const micro_pair_t          *metadata;
    size_t                       nmetadata;
    int                          timeout_ms;   /* told to the node */
    int64_t                      deadline;     /* micro_now_ms() clock */
} micro_transport_call_t;

/* What the node answered, or why it did not. */
typedef struct {
    int                          status;       /* 200, or the node's */
    micro_buf_t                 *body;         /* appended to */
    micro_buf_t                  error;        /* go-micro error JSON sent
                                                  beside the body, if any */
    char                         why[256];     /* a trip that failed */
    micro_metadata_t            *headers;      /* NULL, or the reply's
                                                  metadata (gRPC) */
} micro_transport_reply_t;

typedef enum {
    MICRO_TRIP_OK = 0,
    MICRO_TRIP_CONNECT,       /* never reached the node: safe to retry */
    MICRO_TRIP_TIMEOUT,
    MICRO_TRIP_BROKEN         /* sent, then the connection failed */
} micro_trip_t;

typedef struct micro_transport_s  micro_transport_t;

typedef struct {
    const char                  *name;         /* a node's "transport" */
    /* 0, or MICRO_EINVAL with the error set: a call it cannot carry */
    int                        (*check)(const micro_transport_call_t *call);
    micro_trip_t               (*call)(micro_transport_t *t,
                                       const micro_transport_call_t *call,
                                       micro_transport_reply_t *reply);
    void                       (*free)(micro_transport_t *t);
} micro_transport_ops_t;

struct micro_transport_s {
    const micro_transport_ops_t *ops;
};

/* micro's HTTP/1.1 transport, keeping up to pool_size idle connections a
 * node; safe to share between threads. */
int micro_http_transport_new(int pool_size, micro_transport_t **out);

/* --- server side ------------------------------------------------------ */

/*
 * A transport serving one I/O thread's listener: it reads calls off each
 * connection it accepts, hands them to the RPC layer (micro_request_route
 * and micro_request_execute, rpc/server_internal.h) and writes back the
 * replies that layer decided.
 */
typedef struct micro_io_s  micro_io_t;

typedef struct {
    const char                  *name;
    uv_connection_cb             on_connection;  /* listener->data: io */
    /* stop: idle connections closed now, busy ones after their replies */
    void                       (*shutdown)(micro_io_t *io);
} micro_server_transport_t;

extern const micro_server_transport_t  micro_http_server_transport;

/*
 * gRPC on the same port: the HTTP/1.1 transport hands over a connection
 * whose first bytes are HTTP/2's preface (fd is the transport's own, the
 * bytes are those already read); shutdown sends GOAWAY and lets calls in
 * flight finish.
 */
int micro_grpc_server_adopt(micro_io_t *io, int fd, const char *bytes,
    size_t len);
void micro_grpc_server_shutdown(micro_io_t *io);

#endif
