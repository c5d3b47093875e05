/*
 * Internal: libmicro's gRPC server (grpc_server.c, the connections and
 * nghttp2's callbacks; grpc_server_call.c, a call from its headers to
 * its status) and what the two files share.
 */

#ifndef MICRO_GRPC_SERVER_H
#define MICRO_GRPC_SERVER_H

#include <pthread.h>

#include "rpc/server_internal.h"
#include "transport/grpc.h"
#include "transport/stream_internal.h"

#define MICRO_GRPC_KEEPALIVE_ACK  20000   /* ms a ping's ack may take */

typedef struct micro_h2_conn_s    micro_h2_conn_t;
typedef struct micro_h2_stream_s  micro_h2_stream_t;

struct micro_h2_stream_s {
    micro_h2_conn_t                   *conn;
    int32_t                            id;
    micro_request_t                   *r;
    micro_grpc_reader_t                rd;
    micro_stream_t                    *st;          /* stream endpoints */
    uv_timer_t                         timer;       /* read, deadline */
    size_t                             header_bytes;
    size_t                             body_bytes;
    size_t                             held;        /* window held back */
    int                                routed;
    int                                in_ended;    /* the caller's last */
    int                                json;
    int                                working;     /* r in a worker */
    int                                replied;     /* headers submitted */
    int                                closed;      /* by nghttp2 */
    int                                woken;       /* on the wake list */
    micro_buf_t                        out;         /* unary reply */
    size_t                             out_pos;
    micro_h2_stream_t                 *wake_next;
    micro_h2_stream_t                 *prev;
    micro_h2_stream_t                 *next;
};

struct micro_h2_conn_s {
    micro_io_t                        *io;
    uv_tcp_t                           tcp;
    uv_timer_t                         idle;        /* idle, shutdown grace */
    uv_timer_t                         ping;        /* keepalive */
    uv_async_t                         wake;        /* from stream handlers */
    uv_check_t                         later;       /* one flush for the
                                                       replies of a turn */
    nghttp2_session                   *session;
    pthread_mutex_t                    lock;        /* the wake list */
    micro_h2_stream_t                 *woken;
    micro_h2_stream_t                 *streams;
    int                                nstreams;
    int                                handles;     /* open; freed at 0 */
    int                                closing;     /* 1 GOAWAY, 2 closed */
    int                                close_after_write;
    int                                writing;
    int                                flush_later;
    int                                ping_unanswered;
    micro_h2_conn_t                   *prev;
    micro_h2_conn_t                   *next;
};


/* grpc_server.c */
void micro_h2_flush(micro_h2_conn_t *c);
void micro_h2_flush_later(micro_h2_conn_t *c);
void micro_h2_stream_free(micro_h2_stream_t *hs);

/* grpc_server_call.c */
void micro_h2_route(micro_h2_stream_t *hs);
void micro_h2_request_end(micro_h2_stream_t *hs);
void micro_h2_refuse(micro_h2_stream_t *hs);
void micro_h2_stream_fail(micro_h2_stream_t *hs, int result, int code,
    const char *why);
void micro_h2_stream_closed(micro_h2_stream_t *hs);

#endif
