/* Peers of the RPC leg: per-request nodes, failover, keepalive. */

#ifndef NGX_MICRO_API_PEER_H
#define NGX_MICRO_API_PEER_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_api_upstream.h"


/* The worker's cache of idle connections to nodes, size connections. */
ngx_int_t ngx_micro_api_peer_cache_init(ngx_cycle_t *cycle, ngx_uint_t size,
    ngx_msec_t timeout);

void ngx_micro_api_peer_exit(void);

/* An upstream configuration whose peers each request's call supplies. */
ngx_http_upstream_srv_conf_t *ngx_micro_api_peer_conf(ngx_conf_t *cf);

/* The same for an upstream{} of NGINX's (its init_upstream). */
ngx_int_t ngx_micro_api_peer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us);

/* Calls to a node ("host:port") in flight from this worker. */
ngx_uint_t ngx_micro_api_node_inflight(const char *address);

/* Peak EWMA's cost of a node: its latency average times calls in flight. */
double ngx_micro_api_node_cost(const char *address);

/* 1 while a node ("host:port") is put aside after failures. */
ngx_uint_t ngx_micro_api_node_down(const char *address);

/* From the module: the request's call, and a move to another node. */
ngx_micro_api_call_t *ngx_micro_api_request_call(ngx_http_request_t *r);
ngx_int_t ngx_micro_api_next_node(ngx_micro_api_call_t *call);

#endif
