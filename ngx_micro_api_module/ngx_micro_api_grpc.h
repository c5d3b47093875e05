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

    /* a client- or bidi-streaming method over a WebSocket */
    const micro_pb_method_t   *method;
    unsigned                   ws:1;
    unsigned                   ws_half:1;    /* the client said close */
    unsigned                   ws_last:1;    /* END_STREAM given */
    unsigned                   ws_paused:1;  /* not reading the client */
    unsigned                   ws_sent:1;    /* a message went to h2 */
    ngx_msec_t                 ws_second;    /* the rate's window, */
    ngx_uint_t                 ws_frames;    /* frames in it */
    micro_buf_t                ws_in;        /* the client's bytes */
    micro_buf_t                ws_inflight;  /* messages h2 is sending */
    micro_buf_t                ws_queued;    /* and those after them */
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

/* Bytes of the reply (memory from ngx_alloc, the reply's now) queued to
 * the client; last ends the reply. */
ngx_int_t ngx_micro_api_grpc_stream_out(ngx_micro_api_grpc_t *g, u_char *p,
    size_t len, ngx_uint_t last);

/* The request's write handler while a stream's reply goes out. */
void ngx_micro_api_grpc_stream_writer(ngx_http_request_t *r);

/* ngx_micro_api_grpc_ws.c */


/* The call made a WebSocket's (m NULL when unknown): NGX_OK, or the HTTP
 * status that refuses it. */
ngx_int_t ngx_micro_api_grpc_ws_init(ngx_micro_api_grpc_t *g,
    const micro_pb_method_t *m);

/* The stream is open: 101 to the client, its frames read from now on. */
ngx_int_t ngx_micro_api_grpc_ws_accept(ngx_micro_api_grpc_t *g);

/* A message of the node's as a text frame; the final status as a close
 * frame (1000, or 4000 + the gRPC status with its message). */
ngx_int_t ngx_micro_api_grpc_ws_message(ngx_micro_api_grpc_t *g,
    u_char *json, size_t len);
ngx_int_t ngx_micro_api_grpc_ws_end(ngx_micro_api_grpc_t *g,
    ngx_int_t status);

/* h2's drained callback: the next of the client's messages. */
void ngx_micro_api_grpc_ws_drained(void *data);

void ngx_micro_api_grpc_ws_free(ngx_micro_api_grpc_t *g);

/* ngx_micro_api_grpc.c */
ngx_int_t ngx_micro_api_grpc_error(ngx_micro_api_grpc_t *g,
    ngx_int_t status);
void ngx_micro_api_grpc_error_fields(ngx_micro_api_grpc_t *g,
    ngx_int_t status, micro_rpc_error_t *e);

#endif
