/*
 * A call over gRPC (ngx_micro_api_grpc.c), shared with the reply of a
 * server-streaming method (ngx_micro_api_grpc_stream.c).
 */

#ifndef NGX_MICRO_API_GRPC_H
#define NGX_MICRO_API_GRPC_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/grpc.h>
#include <micro/rpc_error.h>

#include "ngx_micro_api.h"
#include "ngx_micro_api_h2.h"


#define NGX_MICRO_GRPC_NV_FIXED  9       /* headers before the metadata */


typedef struct {
    ngx_http_request_t        *request;
    ngx_micro_api_call_t      *call;
    ngx_micro_h2_stream_t     *stream;
    ngx_micro_h2_peer_t        peer;
    ngx_event_t                deadline;
    ngx_msec_t                 started;
    ngx_msec_t                 timeout;      /* the deadline; 0: none */
    ngx_msec_t                 idle;         /* a stream's, between
                                                messages */
    nghttp2_nv                *nv;
    size_t                     nnv;
    u_char                    *body;         /* prefix and message */
    size_t                     len;
    micro_grpc_reader_t        reader;       /* the reply's bytes */
    ngx_int_t                  http_status;  /* :status */
    ngx_int_t                  grpc_status;  /* -1: none came */
    ngx_str_t                  grpc_message; /* percent-encoded */
    ngx_str_t                  micro_error;  /* go-micro's, whole */
    unsigned                   too_large:1;
    unsigned                   done:1;       /* the reply is made */

    /* a server-streaming method's reply, message by message */
    unsigned                   streaming:1;
    unsigned                   sse:1;        /* text/event-stream */
    unsigned                   answering:1;  /* its header went out */
    ngx_chain_t               *busy;         /* lines being written */
    ngx_chain_t               *free;
    size_t                     held;         /* bytes not given back to
                                                the node's window yet */
} ngx_micro_api_grpc_t;



/* ngx_micro_api_grpc_stream.c */

/* Is the call's method server-streaming, and how does the client want
 * its messages (NDJSON, or SSE for Accept: text/event-stream)? */
void ngx_micro_api_grpc_stream_init(ngx_micro_api_grpc_t *g,
    const micro_pb_method_t *m);

/* Reply bytes of a streaming call: each whole message a line. */
ngx_int_t ngx_micro_api_grpc_stream_data(ngx_micro_api_grpc_t *g, u_char *p,
    size_t len);

/* The stream ended with status: the reply finished (an error line after
 * messages, or an error reply before any); what finalizes the request. */
ngx_int_t ngx_micro_api_grpc_stream_end(ngx_micro_api_grpc_t *g,
    ngx_int_t status);

/* The lines' memory, when the request goes. */
void ngx_micro_api_grpc_stream_free(ngx_micro_api_grpc_t *g);

/* ngx_micro_api_grpc.c */
ngx_int_t ngx_micro_api_grpc_error(ngx_micro_api_grpc_t *g,
    ngx_int_t status);
void ngx_micro_api_grpc_error_fields(ngx_micro_api_grpc_t *g,
    ngx_int_t status, micro_rpc_error_t *e);

#endif
