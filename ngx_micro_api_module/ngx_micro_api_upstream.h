/* The RPC leg of the gateway: one call to one node over ngx_http_upstream. */

#ifndef NGX_MICRO_API_UPSTREAM_H
#define NGX_MICRO_API_UPSTREAM_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/pb.h>
#include <micro/transcode.h>

#include "ngx_micro_balancer.h"


/* What the handler decided: where to, what, and how to read the reply. */
typedef struct {
    ngx_micro_peer_t             peer;          /* service, node: balancer */
    ngx_str_t                    endpoint;
    ngx_str_t                    id;            /* Micro-Id */
    ngx_str_t                    content_type;  /* of the body sent */
    ngx_str_t                    body;
    const micro_pb_message_t    *response_type; /* NULL: pass the reply */
    ngx_uint_t                   api_reply;     /* a go.api.Response */
    size_t                       max_reply_size; /* of a reply held */
    ngx_uint_t                   replied;       /* the held reply made */
    micro_transcode_options_t    transcode;
    micro_allocator_t            allocator;     /* the request's pool */
    void                        *upstream_ctx;
} ngx_micro_api_call_t;


/*
 * Starts the call from a request body handler (whose reference the
 * upstream takes over); returns NGX_DONE, or an HTTP status on failure.
 */
ngx_int_t ngx_micro_api_upstream_start(ngx_http_request_t *r,
    ngx_micro_api_call_t *call, ngx_http_upstream_conf_t *conf,
    ngx_module_t *module);

#endif
