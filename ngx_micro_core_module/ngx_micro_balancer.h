/*
 * The balancer: which node of a service a request goes to, for the first
 * try and for every retry, through micro_select (libmicro/select.h) over
 * the worker's snapshot and its node state. It is an NGINX balancer in the
 * way ngx_http_upstream_random_module is one: peer.get picks (the first
 * try's node was picked by the handler, to answer 404 or 503 itself),
 * peer.free reports the try's outcome to the node state.
 */

#ifndef NGX_MICRO_BALANCER_H
#define NGX_MICRO_BALANCER_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/select.h>

#include "ngx_micro_core.h"


#define NGX_MICRO_BALANCER_TRIES  8         /* nodes a request tries */


/* A request's peer: what it asks for, and the node of its current try. */
typedef struct {
    ngx_http_request_t        *request;
    ngx_str_t                  service;      /* NUL-terminated */
    ngx_str_t                  endpoint;     /* for the stats, or empty */
    ngx_str_t                  address;      /* this node only, or empty */
    micro_select_t             how;          /* strategy, filters, weights */

    ngx_str_t                  node;         /* "host:port", pool copy */
    struct sockaddr           *sockaddr;
    socklen_t                  socklen;
    micro_node_state_t        *state;        /* counted in flight */
    int64_t                    started;      /* us, this try */
    ngx_uint_t                 nodes;        /* of the service */
    unsigned                   protocol;     /* MICRO_PROTOCOL_* a node
                                                must speak, or 0 */
    unsigned                   protocols;    /* those node speaks */
    const char                *tried[NGX_MICRO_BALANCER_TRIES];
    ngx_uint_t                 ntried;
    unsigned                   picked:1;     /* node is the next try's */
} ngx_micro_peer_t;


typedef enum {
    NGX_MICRO_PICKED = 0,
    NGX_MICRO_NO_SERVICE,      /* no node of the service in the snapshot */
    NGX_MICRO_NO_MATCH,        /* nodes, but none passes the filters */
    NGX_MICRO_ALL_BUSY,        /* every one that does is at max_conns */
    NGX_MICRO_NOT_A_NODE,      /* address is not a node of the service */
    NGX_MICRO_PICK_ERROR       /* out of memory */
} ngx_micro_pick_t;


/*
 * Picks the first try's node (its address parsed into the peer) and makes
 * p the request's peer (the core's module context), for the upstream's
 * init and the stats to find.
 */
ngx_micro_pick_t ngx_micro_balancer_pick(ngx_micro_peer_t *p)
    NGX_MICRO_CORE_API;

/*
 * For a call that does not go through ngx_http_upstream (gRPC): the try's
 * start and end for the node's state (failed: 1 the node failed it, 0 it
 * did not, -1 it says nothing of the node; timed: its time is the node's
 * latency), and the next try's node, other than those tried
 * (NGX_MICRO_PICKED, or why not).
 */
void ngx_micro_balancer_start(ngx_micro_peer_t *p) NGX_MICRO_CORE_API;
ngx_uint_t ngx_micro_balancer_end(ngx_micro_peer_t *p, ngx_int_t failed,
    ngx_uint_t timed, ngx_log_t *log) NGX_MICRO_CORE_API;
ngx_micro_pick_t ngx_micro_balancer_retry(ngx_micro_peer_t *p)
    NGX_MICRO_CORE_API;

/* peer.init of an upstream whose peers come from the request's pick. */
ngx_int_t ngx_micro_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us) NGX_MICRO_CORE_API;

#endif
