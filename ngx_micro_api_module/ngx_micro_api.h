/*
 * ngx_micro_api_module's types: the location's configuration and the
 * request's context, shared by its files, each one concern:
 *
 *     ngx_micro_api_module.c     directives, variables, configuration
 *     ngx_micro_api_resolve.c    path -> service and endpoint
 *     ngx_micro_api_handler.c    micro_api: the body, the pick, the call
 *     ngx_micro_api_query.c      query strings and forms as JSON (qson)
 *     ngx_micro_api_rpc.c        micro_rpc: go-micro's /rpc
 *     ngx_micro_api_filter.c     go-micro errors for NGINX's own answers
 *     ngx_micro_api_upstream.c   the micro transport to a node
 *     ngx_micro_api_h2.c         HTTP/2 connections to gRPC nodes
 *     ngx_micro_api_grpc.c       a call over gRPC
 *     ngx_micro_api_grpc_stream.c  a server stream as NDJSON or SSE
 *     ngx_micro_api_grpc_ws.c    client and bidi streams over WebSocket
 *     ngx_micro_api_goapi.c      handler=api's go.api.Request/Response
 *                                and handler=event's go.api.Event
 *     ngx_micro_api_event.c      handler=event: publish to the broker

 * handler=proxy goes through the core's ngx_micro_proxy.c, and the node is
 * chosen by its ngx_micro_pick.c, as for micro_web.
 */

#ifndef NGX_MICRO_API_H
#define NGX_MICRO_API_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/select.h>

#include "ngx_micro_core.h"
#include "ngx_micro_pick.h"
#include "ngx_micro_api_upstream.h"


#define NGX_MICRO_API_HANDLER_RPC    0    /* go-micro's handlers */
#define NGX_MICRO_API_HANDLER_API    1
#define NGX_MICRO_API_HANDLER_PROXY  2
#define NGX_MICRO_API_HANDLER_EVENT  3

#define NGX_MICRO_API_EVENT_NAMESPACE  "go.micro.evt"   /* go-micro's */

#define NGX_MICRO_API_PROTOCOL_AUTO  0    /* micro_protocol */
#define NGX_MICRO_API_PROTOCOL_MUCP  1    /* MICRO_PROTOCOL_MUCP */
#define NGX_MICRO_API_PROTOCOL_GRPC  2    /* MICRO_PROTOCOL_GRPC */

#define NGX_MICRO_API_JSON_EMIT_DEFAULTS   0x0002   /* micro_json_options */
#define NGX_MICRO_API_JSON_PROTO_NAMES     0x0004
#define NGX_MICRO_API_JSON_ENUMS_AS_INTS   0x0008
#define NGX_MICRO_API_JSON_IGNORE_UNKNOWN  0x0010
#define NGX_MICRO_API_JSON_OFF             0x0020

#define NGX_MICRO_API_RESOLVE_MICRO  0
#define NGX_MICRO_API_RESOLVE_PATH   1
#define NGX_MICRO_API_RESOLVE_HOST   2

#define NGX_MICRO_API_ID             "go.micro.api"
#define NGX_MICRO_RPC_ID             "go.micro.rpc"


typedef struct {
    ngx_str_t                  namespace;    /* NUL-terminated */
    ngx_flag_t                 enabled;      /* micro_api or micro_rpc */
    ngx_uint_t                 handler;      /* micro_api handler= */
    ngx_http_handler_pt        proxy;        /* handler=proxy: its own */
    ngx_uint_t                 resolver;
    ngx_str_t                  prefix;       /* handler=event: paths
                                                below it */
    ngx_array_t               *rpc;          /* micro_rpc: namespaces */
    size_t                     max_reply_size;
    ngx_uint_t                 protocol;     /* micro_protocol */
    ngx_uint_t                 json;         /* micro_json_options */
    ngx_uint_t                 ws_rate;      /* micro_websocket_rate */
    ngx_array_t               *metadata_allow;
    ngx_array_t               *metadata_deny;
    ngx_http_upstream_conf_t   upstream;
} ngx_micro_api_loc_conf_t;


typedef struct {
    ngx_str_t                  service;
    ngx_str_t                  endpoint;
    ngx_uint_t                 resolved;     /* 1 resolved, 2 does not */
    ngx_uint_t                 called;       /* a node was picked */
    ngx_buf_t                 *error;        /* replaces nginx's page */
    ngx_uint_t                 hold;         /* header waits for body */
    ngx_uint_t                 proxy;        /* to the proxy module */
    ngx_int_t                (*handler)(ngx_http_request_t *r);
    ngx_http_upstream_conf_t  *upstream;     /* /rpc: a capped timeout */
    ngx_micro_pick_ctx_t       pick;         /* the node, the first load */
    ngx_micro_api_call_t       call;
} ngx_micro_api_ctx_t;


extern ngx_module_t  ngx_micro_api_module;


/* ngx_micro_api_resolve.c: once per request; NULL only without memory. */
ngx_micro_api_ctx_t *ngx_micro_api_resolve(ngx_http_request_t *r);

/* ngx_micro_api_handler.c */
ngx_int_t ngx_micro_api_handler(ngx_http_request_t *r);
ngx_int_t ngx_micro_api_request_id(ngx_http_request_t *r,
    ngx_micro_api_ctx_t *ctx);
ngx_int_t ngx_micro_api_read_body(ngx_http_request_t *r, ngx_str_t *body);
void ngx_micro_api_body_handler(ngx_http_request_t *r);
ngx_int_t ngx_micro_api_dispatch(ngx_http_request_t *r,
    ngx_micro_api_ctx_t *ctx);

/* ngx_micro_api_event.c */
ngx_int_t ngx_micro_api_event_handler(ngx_http_request_t *r);

/* ngx_micro_api_query.c */
ngx_int_t ngx_micro_api_query_next(ngx_pool_t *pool, u_char **pos,
    u_char *end, ngx_str_t *key, ngx_str_t *value);
ngx_int_t ngx_micro_api_query_json(ngx_http_request_t *r, ngx_str_t *in,
    ngx_str_t *out);

/* ngx_micro_api_rpc.c */
ngx_int_t ngx_micro_rpc_handler(ngx_http_request_t *r);

/* ngx_micro_api_upstream.c: is the client's header the call's metadata? */
ngx_uint_t ngx_micro_api_is_metadata(ngx_http_request_t *r,
    ngx_table_elt_t *h);

/* ngx_micro_api_grpc.c: the call to a gRPC node (from a body handler,
 * whose reference it takes over); what a content handler returns. */
ngx_int_t ngx_micro_api_grpc_start(ngx_http_request_t *r,
    ngx_micro_api_call_t *call, ngx_http_upstream_conf_t *conf);
/* Does the client ask to upgrade to a WebSocket (ngx_micro_api_grpc_ws.c)? */
ngx_uint_t ngx_micro_api_grpc_ws_wanted(ngx_http_request_t *r);
/* grpc-gateway's HTTP status for a gRPC status */
ngx_uint_t ngx_micro_api_grpc_http_status(ngx_int_t status);

/* ngx_micro_api_filter.c */
ngx_int_t ngx_micro_api_filter_init(ngx_conf_t *cf);

#endif
