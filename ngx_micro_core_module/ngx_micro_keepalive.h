/*
 * Idle connections to nodes, kept per worker and keyed by the node's
 * address: a decorator around the balancer, as ngx_http_upstream_keepalive
 * is around an upstream{}'s (it asks the balancer for the node, then looks
 * for an idle connection to it).
 */

#ifndef NGX_MICRO_KEEPALIVE_H
#define NGX_MICRO_KEEPALIVE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_core.h"


/* In a worker: room for size idle connections (0: none kept). */
ngx_int_t ngx_micro_keepalive_init(ngx_cycle_t *cycle,
    ngx_micro_core_main_conf_t *cmcf);

/* peer.init: the balancer's, then the cache around its get and free. */
ngx_int_t ngx_micro_keepalive_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us) NGX_MICRO_CORE_API;

#endif
