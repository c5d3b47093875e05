/*
 * The balancer over the registry snapshot. ngx_http_upstream retries on
 * another node while that is safe (next_upstream: not a POST it already
 * sent), and each retry goes through the same strategy, weights and
 * filters as the first pick, with the nodes tried so far left out.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <time.h>

#include <micro/error.h>
#include <micro/service.h>

#include "ngx_micro_balancer.h"
#include "ngx_micro_registry.h"


static int64_t
ngx_micro_balancer_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/*
 * Makes node the try's target: its address copied to the request's pool
 * (the snapshot may change before the request ends) and parsed. The
 * registry holds only IP literals (micro_address_valid); one NGINX still
 * cannot parse is skipped like a node that failed.
 */
static ngx_int_t
ngx_micro_balancer_set_node(ngx_micro_peer_t *p, const micro_service_t *e)
{
    ngx_int_t            rc;
    ngx_str_t            addr;
    ngx_addr_t           sa;
    ngx_http_request_t  *r = p->request;

    addr.len = ngx_strlen(e->nodes[0].address);
    addr.data = ngx_pnalloc(r->pool, addr.len + 1);
    if (addr.data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(addr.data, e->nodes[0].address, addr.len + 1);

    rc = ngx_parse_addr_port(r->pool, &sa, addr.data, addr.len);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }
    p->protocols = micro_node_protocols(&e->nodes[0]);
    if (p->protocol && !(p->protocols & p->protocol)) {
        rc = NGX_DECLINED;               /* not a node this call can use */
    } else if (rc != NGX_OK || ngx_inet_get_port(sa.sockaddr) == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro: node %V of %V is not an IP address and port, "
                      "skipped", &addr, &p->service);
    }
    if (rc != NGX_OK) {
        /* the pool's copy: the snapshot may change before a retry */
        if (p->ntried < NGX_MICRO_BALANCER_TRIES) {
            p->tried[p->ntried++] = (char *) addr.data;
        }
        return NGX_DECLINED;
    }
    p->node = addr;
    p->sockaddr = sa.sockaddr;
    p->socklen = sa.socklen;
    return NGX_OK;
}


/* The node of the service at address (/rpc's "address"): only registered
 * nodes, so a request cannot point the gateway at any host it reaches. */
static const micro_service_t *
ngx_micro_balancer_node_at(const micro_snapshot_service_t *svc,
    ngx_str_t *address)
{
    size_t                  i;
    const micro_service_t  *e;

    for (i = 0; svc && i < svc->len; i++) {
        e = &svc->entries[i];
        if (ngx_strlen(e->nodes[0].address) == address->len
            && ngx_strncmp(e->nodes[0].address, address->data, address->len)
               == 0)
        {
            return e;
        }
    }
    return NULL;
}


/*
 * A node by the request's rules, other than those tried: up ones first;
 * when none is, a first try takes one put aside (as NGINX tries a server
 * of an upstream whose servers are all marked failed) and a retry a busy
 * one (the call was admitted already). A node whose address does not
 * parse counts as tried.
 */
static ngx_micro_pick_t
ngx_micro_balancer_select(ngx_micro_peer_t *p, ngx_uint_t first)
{
    int                              rc;
    size_t                           i;
    ngx_int_t                        set;
    const micro_service_t           *e;
    ngx_micro_core_main_conf_t      *cmcf;
    const micro_snapshot_service_t  *svc;

    cmcf = ngx_micro_core_request_conf(p->request);
    svc = micro_snapshot_get(ngx_micro_registry_snapshot(cmcf->registry),
                             (char *) p->service.data);
    p->nodes = svc ? svc->len : 0;

    if (p->address.len) {
        if (!first) {
            return NGX_MICRO_NO_MATCH;           /* no other node for it */
        }
        if (svc == NULL) {
            return NGX_MICRO_NO_SERVICE;
        }
        e = ngx_micro_balancer_node_at(svc, &p->address);
        if (e == NULL) {
            return NGX_MICRO_NOT_A_NODE;
        }
        set = ngx_micro_balancer_set_node(p, e);
        return set == NGX_OK ? NGX_MICRO_PICKED
               : set == NGX_ERROR ? NGX_MICRO_PICK_ERROR : NGX_MICRO_NO_MATCH;
    }

    for ( ;; ) {
        p->how.tried = p->tried;
        p->how.ntried = p->ntried;
        p->how.use_aside = first;
        p->how.use_busy = !first;
        rc = micro_select(cmcf->nodes, (char *) p->service.data, svc,
                          &p->how, &i);
        if (rc == MICRO_ENOTFOUND) {
            return NGX_MICRO_NO_SERVICE;
        }
        if (rc != MICRO_OK) {
            return rc == MICRO_ENONODE ? NGX_MICRO_NO_MATCH
                   : rc == MICRO_EBUSY ? NGX_MICRO_ALL_BUSY
                   : NGX_MICRO_PICK_ERROR;
        }
        set = ngx_micro_balancer_set_node(p, &svc->entries[i]);
        if (set == NGX_ERROR) {
            return NGX_MICRO_PICK_ERROR;
        }
        if (set == NGX_OK) {
            return NGX_MICRO_PICKED;
        }
        if (p->ntried == NGX_MICRO_BALANCER_TRIES) {
            return NGX_MICRO_NO_MATCH;
        }
    }
}


ngx_micro_pick_t
ngx_micro_balancer_pick(ngx_micro_peer_t *p)
{
    ngx_micro_pick_t  rc;

    rc = ngx_micro_balancer_select(p, 1);
    if (rc != NGX_MICRO_PICKED) {
        return rc;
    }
    p->picked = 1;
    ngx_http_set_ctx(p->request, p, ngx_micro_core_module);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, p->request->connection->log, 0,
                   "micro: picked node %V of %V (%s)", &p->node, &p->service,
                   micro_strategy_name(p->how.strategy));
    return rc;
}


ngx_micro_pick_t
ngx_micro_balancer_retry(ngx_micro_peer_t *p)
{
    ngx_micro_pick_t  rc;

    /* the last node joins the tried ones */
    if (p->ntried < NGX_MICRO_BALANCER_TRIES) {
        p->tried[p->ntried++] = (char *) p->node.data;
    }
    rc = ngx_micro_balancer_select(p, 0);
    if (rc != NGX_MICRO_PICKED) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, p->request->connection->log, 0,
                       "micro: no other node of %V to try", &p->service);
        return rc;
    }
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, p->request->connection->log, 0,
                   "micro: failed over to node %V of %V", &p->node,
                   &p->service);
    return rc;
}


void
ngx_micro_balancer_start(ngx_micro_peer_t *p)
{
    ngx_micro_core_main_conf_t  *cmcf;

    cmcf = ngx_micro_core_request_conf(p->request);
    p->state = micro_nodes_start(cmcf->nodes, (char *) p->node.data);
    p->started = ngx_micro_balancer_now_us();
}


/* failed: 1 the node failed the try, 0 it did not, -1 it says nothing of
 * the node (a kept connection it had closed); timed: the try was a call
 * whose time is the node's latency. */
ngx_uint_t
ngx_micro_balancer_end(ngx_micro_peer_t *p, ngx_int_t failed,
    ngx_uint_t timed, ngx_log_t *log)
{
    int64_t                      latency;
    ngx_micro_core_main_conf_t  *cmcf;

    if (p->state == NULL) {
        return 0;
    }
    latency = timed ? ngx_micro_balancer_now_us() - p->started : -1;
    cmcf = ngx_micro_core_request_conf(p->request);
    if (micro_nodes_end(cmcf->nodes, p->state, (int) failed, latency)) {
        ngx_log_error(NGX_LOG_WARN, log, 0, "micro: node %V of %V put "
                      "aside for %M ms after %i failures", &p->node,
                      &p->service, cmcf->fail_timeout, cmcf->max_fails);
    }
    p->state = NULL;
    return 1;
}


/* Points pc at the try's node: the one picked, or another one. */
static ngx_int_t
ngx_micro_balancer_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_micro_peer_t  *p = data;

    if (!p->picked && ngx_micro_balancer_retry(p) != NGX_MICRO_PICKED) {
        return NGX_BUSY;
    }
    p->picked = 0;

    /* paired with free_peer, which NGINX calls once for each try */
    ngx_micro_balancer_start(p);

    pc->sockaddr = p->sockaddr;
    pc->socklen = p->socklen;
    pc->name = &p->node;
    pc->cached = 0;
    pc->connection = NULL;
    return NGX_OK;
}


/*
 * The try's outcome for the node's state. A kept connection the node had
 * closed says nothing of the node, unless it timed out (a node that hangs,
 * SIGSTOP, would otherwise never be put aside) or the node answered on it
 * (a status micro_next_upstream names, such as http_503).
 */
static void
ngx_micro_balancer_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_micro_peer_t     *p = data;
    ngx_int_t             failed;
    ngx_connection_t     *c = pc->connection;
    ngx_http_upstream_t  *u = p->request->upstream;

    if (pc->tries) {
        pc->tries--;
    }
    if (p->state == NULL) {
        return;
    }

    failed = (state & NGX_PEER_FAILED) ? 1 : 0;
    if (failed && pc->cached && u->headers_in.status_n == 0
        && !(c && (c->read->timedout || c->write->timedout)))
    {
        failed = -1;
    }

    /* a kept connection the node closed: the same node, on a new one */
    if (failed < 0) {
        p->picked = 1;
    }
    /* a WebSocket's lifetime is no call's latency */
    (void) ngx_micro_balancer_end(p, failed, state == 0 && !u->upgrade,
                                  pc->log);
}


ngx_int_t
ngx_micro_balancer_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_micro_peer_t  *p;

    p = ngx_http_get_module_ctx(r, ngx_micro_core_module);
    if (p == NULL || p->request != r) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "micro: upstream \"%V\" used without a node picked",
                      &us->host);
        return NGX_ERROR;
    }
    r->upstream->peer.get = ngx_micro_balancer_get_peer;
    r->upstream->peer.free = ngx_micro_balancer_free_peer;
    r->upstream->peer.data = p;
    r->upstream->peer.tries = p->address.len
                              ? 1 : ngx_min(p->nodes,
                                            NGX_MICRO_BALANCER_TRIES);
    return NGX_OK;
}
