/*
 * HTTP/2 connections to gRPC nodes on the worker's event loop (nghttp2):
 * one a node, kept while calls come, carrying the streams of every request
 * of the worker at once. What nghttp2 has to send goes out once a loop
 * turn, so calls started together share a write.
 */

#ifndef NGX_MICRO_API_H2_H
#define NGX_MICRO_API_H2_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <nghttp2/nghttp2.h>


typedef struct ngx_micro_h2_conn_s    ngx_micro_h2_conn_t;
typedef struct ngx_micro_h2_stream_s  ngx_micro_h2_stream_t;


/* How a stream ended, for its owner. */
typedef enum {
    NGX_MICRO_H2_CLOSED = 0,     /* the node ended it (status in trailers) */
    NGX_MICRO_H2_REFUSED,        /* the node never took it: try another */
    NGX_MICRO_H2_RESET,          /* reset, or the connection lost, midway */
} ngx_micro_h2_end_t;


/* The stream's owner: called as the reply comes, never after end. */
typedef struct {
    /* a header (trailer set for trailers); NGX_ERROR resets the stream */
    ngx_int_t   (*header)(void *data, ngx_str_t *name, ngx_str_t *value,
                          ngx_uint_t trailer);
    /* body bytes, the owner's to take (ngx_micro_h2_consume gives the
     * window back); NGX_ERROR resets the stream */
    ngx_int_t   (*data)(void *data, u_char *p, size_t len);
    void        (*end)(void *data, ngx_micro_h2_end_t how,
                       uint32_t error_code);
    /* the body sent so far is taken: ngx_micro_h2_send() may give more
     * (NULL: the owner waits to be asked) */
    void        (*drained)(void *data);
} ngx_micro_h2_handler_t;


/* Where to, and what connections to the node are allowed. */
typedef struct {
    ngx_str_t                   node;         /* "host:port" */
    struct sockaddr            *sockaddr;
    socklen_t                   socklen;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  idle_timeout; /* of a connection, no call */
    ngx_log_t                  *log;
} ngx_micro_h2_peer_t;


/*
 * Opens a stream to the node (its connection made if none is up) with the
 * request's headers (copied) and body: len bytes at body, which stay
 * until the stream ends or more is sent. last: no more after them. NULL
 * without memory or a connection.
 */
ngx_micro_h2_stream_t *ngx_micro_h2_open(ngx_micro_h2_peer_t *peer,
    nghttp2_nv *nv, size_t nnv, u_char *body, size_t len, ngx_uint_t last,
    ngx_micro_h2_handler_t *handler, void *data);

/* More of the request body, once the bytes sent before are taken (see
 * ngx_micro_h2_sending and the drained callback); NGX_ERROR when the
 * stream is gone. */
ngx_int_t ngx_micro_h2_send(ngx_micro_h2_stream_t *st, u_char *body,
    size_t len, ngx_uint_t last);

/* Bytes of the request body not yet taken by nghttp2. */
size_t ngx_micro_h2_sending(ngx_micro_h2_stream_t *st);

/* n bytes of the reply taken: the node may send as many more. */
void ngx_micro_h2_consume(ngx_micro_h2_stream_t *st, size_t n);

/* The owner is gone: the stream is reset (CANCEL) and no callback runs. */
void ngx_micro_h2_cancel(ngx_micro_h2_stream_t *st);

/* At the worker's exit: every connection closed. */
void ngx_micro_h2_exit(void);

#endif
