/* Internal: the server's threads, connections and requests. */

#ifndef MICRO_SERVER_INTERNAL_H
#define MICRO_SERVER_INTERNAL_H

#include <uv.h>

#include "micro/heartbeat.h"
#include "micro/pb.h"
#include "micro/rpc_error.h"
#include "micro/server.h"
#include "transport/transport.h"

#define MICRO_SERVER_ACCEPT_BACKOFF      100   /* ms, after EMFILE */
#define MICRO_SERVER_ACCEPT_BACKOFF_MAX  1000

typedef struct {
    char                              *name;
    const ProtobufCMessageDescriptor  *request;
    const ProtobufCMessageDescriptor  *response;
    const micro_pb_message_t          *request_type;
    const micro_pb_message_t          *response_type;
    micro_handler_t                    handler;
    micro_stream_handler_t             stream;      /* or this, over gRPC */
    void                              *data;
} micro_endpoint_handler_t;

/* A topic the service subscribes to, and its subscription once running. */
typedef struct {
    char                              *topic;
    const ProtobufCMessageDescriptor  *type;
    const micro_pb_message_t          *pb_type;
    micro_subscriber_t                 handler;
    void                              *data;
    micro_subscribe_options_t          opts;
    micro_server_t                    *server;
    micro_subscription_t              *sub;
} micro_server_subscriber_t;

/* One I/O thread: its loop, its listening socket, its connections. */
struct micro_io_s {
    micro_server_t                    *server;
    uv_loop_t                          loop;
    uv_tcp_t                           listener;
    uv_async_t                         wakeup;
    uv_timer_t                         retry;       /* accept, after EMFILE */
    uv_thread_t                        thread;
    int                                fd;          /* the socket itself */
    int                                stopping;
    int                                paused;
    uint64_t                           backoff;
    void                              *conns;       /* the transport's */
    void                              *grpc_conns;  /* grpc_server.c's */
};

struct micro_server_s {
    micro_server_options_t             opts;
    micro_endpoint_handler_t          *endpoints;
    size_t                             nendpoints;
    micro_server_subscriber_t         *subscribers;
    size_t                             nsubscribers;
    micro_broker_t                    *broker;
    uv_timer_t                         resubscribe;  /* Redis was down */
    micro_pb_pool_t                   *pool;
    const micro_server_transport_t    *transport;
    micro_io_t                        *io;
    int                                nio;
    char                               address[300];
    uv_loop_t                          control;
    uv_signal_t                        sigint;
    uv_signal_t                        sigterm;
    uv_async_t                         stop;
    int                                running;
    int                                nconns;      /* atomic: all I/O */
    int                                refusing;    /* atomic: at max */
    int                                streams;     /* atomic: handlers
                                                       of streams running */
};

/* A call, from the transport that read it to the handler and back. */
struct micro_request_s {
    void                              *conn;        /* the transport's */
    micro_request_t                   *next;
    micro_server_t                    *server;
    int                                done;
    int                                keep_alive;
    int                                json;
    micro_metadata_t                   headers;     /* each key and its
                                                       value: one block */
    size_t                             headers_cap;
    micro_buf_t                        body;
    const micro_endpoint_handler_t    *endpoint;
    const char                        *endpoint_name;
    micro_buf_t                        reply;
    int                                status;      /* 0 until decided */
    micro_rpc_error_t                  error;
    micro_metadata_t                   reply_headers;
    int                                cancelled;   /* atomic */
    int64_t                            deadline;    /* micro_now_ms; 0 */
    void                             **blocks;      /* micro_request_alloc */
    size_t                             nblocks;
    uv_work_t                          work;
};

/* server.c */
void micro_io_pause(micro_io_t *io, int err);
void micro_value_from(micro_value_t *v, const ProtobufCMessageDescriptor *d,
    const char *name, int depth);

/* server_subscribe.c: the subscriptions started on the control loop
 * (retried every second while Redis is down), closed, their endpoints */
void micro_server_subscribers_start(micro_server_t *s);
void micro_server_subscribers_stop(micro_server_t *s);
void micro_server_subscribers_free(micro_server_t *s);
int micro_server_subscribers_list(micro_server_t *s, micro_endpoint_t *eps);

/* server_call.c, for transports: decides r->status and fills r->reply */
void micro_request_route(micro_request_t *r);
void micro_request_find(micro_request_t *r, const char *name);
int micro_request_add_header(micro_request_t *r, const char *name,
    size_t nlen, const char *value, size_t vlen);
const char *micro_request_grpc_endpoint(micro_request_t *r,
    const char *path);
void micro_request_execute(micro_request_t *r);
void micro_request_set_error(micro_request_t *r, const char *id, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void micro_request_free(micro_request_t *r);

#endif
