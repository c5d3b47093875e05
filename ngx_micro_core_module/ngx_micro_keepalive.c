/* The worker's cache of idle connections to nodes. */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_balancer.h"
#include "ngx_micro_keepalive.h"


typedef struct {
    ngx_queue_t                queue;
    ngx_connection_t          *connection;
    socklen_t                  socklen;
    ngx_sockaddr_t             sockaddr;
} ngx_micro_keepalive_item_t;


/* A request's wrap of the balancer. */
typedef struct {
    void                      *data;
    ngx_event_get_peer_pt      original_get_peer;
    ngx_event_free_peer_pt     original_free_peer;
    ngx_http_upstream_t       *upstream;
    unsigned                   fresh:1;      /* a kept one failed: a new */
} ngx_micro_keepalive_peer_t;


static ngx_queue_t   ngx_micro_keepalive_cache;   /* idle, newest first */
static ngx_queue_t   ngx_micro_keepalive_free;
static ngx_int_t     ngx_micro_keepalive_size;
static ngx_msec_t    ngx_micro_keepalive_timeout;
static ngx_uint_t    ngx_micro_keepalive_requests;


ngx_int_t
ngx_micro_keepalive_init(ngx_cycle_t *cycle, ngx_micro_core_main_conf_t *cmcf)
{
    ngx_int_t                    i;
    ngx_micro_keepalive_item_t  *items;

    ngx_queue_init(&ngx_micro_keepalive_cache);
    ngx_queue_init(&ngx_micro_keepalive_free);
    ngx_micro_keepalive_size = cmcf->keepalive;
    ngx_micro_keepalive_timeout = cmcf->keepalive_timeout;
    ngx_micro_keepalive_requests = (ngx_uint_t) cmcf->keepalive_requests;
    if (cmcf->keepalive == 0) {
        return NGX_OK;
    }

    items = ngx_pcalloc(cycle->pool,
                        cmcf->keepalive * sizeof(ngx_micro_keepalive_item_t));
    if (items == NULL) {
        return NGX_ERROR;
    }
    for (i = 0; i < cmcf->keepalive; i++) {
        ngx_queue_insert_head(&ngx_micro_keepalive_free, &items[i].queue);
    }
    return NGX_OK;
}


static void
ngx_micro_keepalive_close(ngx_connection_t *c)
{
    ngx_micro_keepalive_item_t  *item = c->data;

    ngx_queue_remove(&item->queue);
    ngx_queue_insert_head(&ngx_micro_keepalive_free, &item->queue);
    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);
}


static void
ngx_micro_keepalive_dummy_handler(ngx_event_t *ev)
{
}


/* An idle connection became readable: the node closed it (or broke). */
static void
ngx_micro_keepalive_close_handler(ngx_event_t *ev)
{
    int                n;
    char               buf[1];
    ngx_connection_t  *c = ev->data;

    if (!c->close && !c->read->timedout) {
        n = recv(c->fd, buf, 1, MSG_PEEK);
        if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
            ev->ready = 0;
            if (ngx_handle_read_event(c->read, 0) == NGX_OK) {
                return;
            }
        }
    }

#if (NGX_DEBUG)
    if (c->read->timedout) {
        size_t                       len;
        u_char                       text[NGX_SOCKADDR_STRLEN];
        ngx_micro_keepalive_item_t  *item = c->data;

        len = ngx_sock_ntop(&item->sockaddr.sockaddr, item->socklen, text,
                            sizeof(text), 1);
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "micro: kept connection to %*s closed after "
                       "%M ms idle", len, text, ngx_micro_keepalive_timeout);
    }
#endif

    ngx_micro_keepalive_close(c);
}


/* The balancer's node, on an idle connection to it if one is kept. */
static ngx_int_t
ngx_micro_keepalive_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_micro_keepalive_peer_t  *kp = data;

    ngx_int_t                    rc;
    ngx_queue_t                 *q;
    ngx_connection_t            *c;
    ngx_micro_keepalive_item_t  *item;

    rc = kp->original_get_peer(pc, kp->data);
    if (rc != NGX_OK || ngx_micro_keepalive_size == 0 || kp->fresh) {
        kp->fresh = 0;
        return rc;
    }

    for (q = ngx_queue_head(&ngx_micro_keepalive_cache);
         q != ngx_queue_sentinel(&ngx_micro_keepalive_cache);
         q = ngx_queue_next(q))
    {
        item = ngx_queue_data(q, ngx_micro_keepalive_item_t, queue);
        if (ngx_memn2cmp((u_char *) &item->sockaddr, (u_char *) pc->sockaddr,
                         item->socklen, pc->socklen) != 0)
        {
            continue;
        }
        ngx_queue_remove(q);
        ngx_queue_insert_head(&ngx_micro_keepalive_free, q);

        c = item->connection;
        c->idle = 0;
        c->sent = 0;
        c->data = NULL;
        c->log = pc->log;
        c->read->log = pc->log;
        c->write->log = pc->log;
        c->pool->log = pc->log;
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }
        pc->connection = c;
        pc->cached = 1;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, pc->log, 0,
                       "micro: reusing a kept connection to %V", pc->name);
        return NGX_DONE;
    }
    return NGX_OK;
}


/* After the balancer has the outcome: keep the connection if it can be. */
static void
ngx_micro_keepalive_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_micro_keepalive_peer_t  *kp = data;

    ngx_queue_t                 *q;
    ngx_connection_t            *c = pc->connection;
    ngx_http_upstream_t         *u = kp->upstream;
    ngx_micro_keepalive_item_t  *item;

    kp->original_free_peer(pc, kp->data, state);
    kp->fresh = pc->cached && (state & NGX_PEER_FAILED);

    if (state & NGX_PEER_FAILED || c == NULL || c->read->eof
        || c->read->error || c->read->timedout || c->write->error
        || c->write->timedout || !u->keepalive || !u->request_body_sent
        || c->requests >= ngx_micro_keepalive_requests
        || ngx_terminate || ngx_exiting || ngx_micro_keepalive_size == 0
        || ngx_handle_read_event(c->read, 0) != NGX_OK)
    {
        return;
    }

    /* keep it; the least recently used goes when the cache is full */
    if (ngx_queue_empty(&ngx_micro_keepalive_free)) {
        q = ngx_queue_last(&ngx_micro_keepalive_cache);
        item = ngx_queue_data(q, ngx_micro_keepalive_item_t, queue);
        ngx_micro_keepalive_close(item->connection);
    }
    q = ngx_queue_head(&ngx_micro_keepalive_free);
    ngx_queue_remove(q);
    ngx_queue_insert_head(&ngx_micro_keepalive_cache, q);
    item = ngx_queue_data(q, ngx_micro_keepalive_item_t, queue);

    item->connection = c;
    item->socklen = pc->socklen;
    ngx_memcpy(&item->sockaddr, pc->sockaddr, pc->socklen);
    pc->connection = NULL;

    c->read->delayed = 0;
    ngx_add_timer(c->read, ngx_micro_keepalive_timeout);
    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }
    c->write->handler = ngx_micro_keepalive_dummy_handler;
    c->read->handler = ngx_micro_keepalive_close_handler;
    c->data = item;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->pool->log = ngx_cycle->log;

    if (c->read->ready) {
        ngx_micro_keepalive_close_handler(c->read);
    }
}


ngx_int_t
ngx_micro_keepalive_init_peer(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_micro_keepalive_peer_t  *kp;

    if (ngx_micro_balancer_init_peer(r, us) != NGX_OK) {
        return NGX_ERROR;
    }
    kp = ngx_pcalloc(r->pool, sizeof(ngx_micro_keepalive_peer_t));
    if (kp == NULL) {
        return NGX_ERROR;
    }
    kp->upstream = r->upstream;
    kp->data = r->upstream->peer.data;
    kp->original_get_peer = r->upstream->peer.get;
    kp->original_free_peer = r->upstream->peer.free;

    r->upstream->peer.data = kp;
    r->upstream->peer.get = ngx_micro_keepalive_get_peer;
    r->upstream->peer.free = ngx_micro_keepalive_free_peer;
    return NGX_OK;
}
