/*
 * A request's node, as api and web choose it: the location's selection
 * directives (micro_selector, micro_selector_weights, micro_api_filter,
 * micro_api_label_header) and the client's labels made the balancer's
 * question, the answer or the error reply for each way it can fail, and
 * the wait for a worker's first registry load.
 */

#ifndef NGX_MICRO_PICK_H
#define NGX_MICRO_PICK_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/select.h>

#include "ngx_micro_core.h"
#include "ngx_micro_balancer.h"


/* The core's location configuration: how a location selects. */
typedef struct {
    ngx_uint_t                 selector;     /* micro_strategy_t */
    ngx_array_t               *filter;       /* micro_pair_t, or NULL */
    ngx_array_t               *weights;      /* micro_weight_t, or NULL */
    ngx_str_t                  label_header; /* NUL-terminated, or empty */
} ngx_micro_core_loc_conf_t;


/* A request's pick, in the context of the module that asks. */
typedef struct {
    ngx_micro_peer_t          *peer;         /* service, address to pick */
    const char                *id;           /* of the error replies */
    ngx_uint_t                 page;         /* HTML errors for browsers */

    /* run again once the first load is in (or waiting gave up) */
    ngx_int_t                (*resume)(ngx_http_request_t *r);
    ngx_uint_t                 proxy;        /* resume is the proxy's */

    ngx_array_t               *labels;       /* micro_pair_t, or NULL */
    micro_select_filter_t      filters[2];   /* micro_api_filter, labels */
    ngx_event_t                wait;
    void                      *waiter;       /* the registry's record */
    ngx_uint_t                 waited;       /* gave up waiting */
    ngx_uint_t                 picked;
} ngx_micro_pick_ctx_t;


/*
 * The first try's node for pc->peer: NGX_OK when picked. Else NGX_DECLINED
 * and *rc is what the content handler returns: NGX_DONE while the request
 * waits for the first registry load (pc->resume runs then), or that of
 * the error reply sent.
 */
ngx_int_t ngx_micro_pick(ngx_http_request_t *r, ngx_micro_pick_ctx_t *pc,
    ngx_int_t *rc) NGX_MICRO_CORE_API;


/* For the core module's directives and configuration. */
extern ngx_conf_enum_t  ngx_micro_pick_selectors[];
extern ngx_conf_post_handler_pt  ngx_micro_pick_header_name_p;

char *ngx_micro_pick_pairs(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
void *ngx_micro_pick_create_loc_conf(ngx_conf_t *cf);
char *ngx_micro_pick_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

#endif
