/*
 * Peers for the RPC leg: the node picked from the registry snapshot, a
 * retry on another node when the first cannot be reached (ngx_http_upstream
 * retries only while that is safe: not a POST it already sent), and a
 * per-worker cache of idle keepalive
 * connections keyed by the node's address, as ngx_http_upstream_keepalive
 * keeps them for upstream{} blocks.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <math.h>
#include <time.h>

#include "ngx_micro_api_peer.h"
#include "map.h"


#define NGX_MICRO_API_MARK_FAILURES      3        /* go-micro's blacklist */
#define NGX_MICRO_API_MARK_COOLDOWN      30000
#define NGX_MICRO_API_EWMA_TAU           10e6     /* us: 10 s, as Finagle */


typedef struct {
    ngx_uint_t                 failures;
    ngx_msec_t                 until;
} ngx_micro_api_mark_t;

/* "host:port" -> mark, for the nodes that failed lately (this worker) */
static micro_map_t  ngx_micro_api_marks;

/* What a worker sees of a node's load: calls in flight, and its latency
 * as a peak-sensitive moving average (Finagle's peak EWMA). */
struct ngx_micro_api_load_s {
    ngx_uint_t                 inflight;
    double                     ewma;         /* us */
    uint64_t                   stamp;        /* us, of the last sample */
};

/* "host:port" -> load (this worker); entries stay, one a node */
static micro_map_t  ngx_micro_api_loads;


typedef struct {
    ngx_queue_t                queue;
    ngx_connection_t          *connection;
    socklen_t                  socklen;
    ngx_sockaddr_t             sockaddr;
} ngx_micro_api_keepalive_t;


static ngx_queue_t  ngx_micro_api_cache;     /* idle, most recent first */
static ngx_queue_t  ngx_micro_api_free;
static ngx_uint_t   ngx_micro_api_cache_ready;
static ngx_msec_t   ngx_micro_api_idle_timeout;


/* size idle connections a worker, each closed after timeout idle; 0: none */
ngx_int_t
ngx_micro_api_peer_cache_init(ngx_cycle_t *cycle, ngx_uint_t size,
    ngx_msec_t timeout)
{
    ngx_uint_t                  i;
    ngx_micro_api_keepalive_t  *items;

    ngx_queue_init(&ngx_micro_api_cache);
    ngx_queue_init(&ngx_micro_api_free);
    ngx_micro_api_cache_ready = size > 0;
    ngx_micro_api_idle_timeout = timeout;
    if (size == 0) {
        return NGX_OK;
    }

    items = ngx_pcalloc(cycle->pool, size * sizeof(ngx_micro_api_keepalive_t));
    if (items == NULL) {
        return NGX_ERROR;
    }
    for (i = 0; i < size; i++) {
        ngx_queue_insert_head(&ngx_micro_api_free, &items[i].queue);
    }
    return NGX_OK;
}


static void
ngx_micro_api_key(char *key, size_t size, ngx_str_t *node)
{
    size_t  n = ngx_min(node->len, size - 1);

    ngx_memcpy(key, node->data, n);
    key[n] = '\0';
}


/* A map and the values it owns (malloc'd). */
static void
ngx_micro_api_map_free(micro_map_t *m)
{
    size_t  i;

    for (i = 0; i < m->cap; i++) {
        if (micro_map_live(m, i)) {
            free(m->slots[i].value);
        }
    }
    micro_map_free(m);
}


/* At exit: the module's memory goes away with it (dlclose). */
void
ngx_micro_api_peer_exit(void)
{
    ngx_micro_api_map_free(&ngx_micro_api_marks);
    ngx_micro_api_map_free(&ngx_micro_api_loads);
}


static uint64_t
ngx_micro_api_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}


ngx_uint_t
ngx_micro_api_node_inflight(const char *address)
{
    ngx_micro_api_load_t  *load = micro_map_get(&ngx_micro_api_loads,
                                                address);

    return load ? load->inflight : 0;
}


/*
 * Peak EWMA's cost: the latency average, decayed for the time since its
 * last sample (so a node avoided for being slow is tried again in time),
 * times the calls in flight plus one. A node never called costs least.
 */
double
ngx_micro_api_node_cost(const char *address)
{
    double                 w;
    ngx_micro_api_load_t  *load = micro_map_get(&ngx_micro_api_loads,
                                                address);

    if (load == NULL) {
        return 0;
    }
    w = exp(-(double) (ngx_micro_api_now_us() - load->stamp)
            / NGX_MICRO_API_EWMA_TAU);
    return (load->ewma * w + 1) * (load->inflight + 1);
}


/* A call's latency: a peak counts at once, lower ones as time passes. */
static void
ngx_micro_api_sample(ngx_micro_api_load_t *load, uint64_t started)
{
    double    rtt, w;
    uint64_t  now = ngx_micro_api_now_us();

    rtt = (double) (now - started);
    if (rtt > load->ewma) {
        load->ewma = rtt;
    } else {
        w = exp(-(double) (now - load->stamp) / NGX_MICRO_API_EWMA_TAU);
        load->ewma = load->ewma * w + rtt * (1 - w);
    }
    load->stamp = now;
}


/* The load of the call's node, made on first use; NULL without memory. */
static ngx_micro_api_load_t *
ngx_micro_api_load(ngx_str_t *node)
{
    char                   key[NGX_SOCKADDR_STRLEN + 1];
    ngx_micro_api_load_t  *load;

    ngx_micro_api_key(key, sizeof(key), node);
    load = micro_map_get(&ngx_micro_api_loads, key);
    if (load == NULL) {
        load = calloc(1, sizeof(*load));
        if (load == NULL
            || micro_map_set(&ngx_micro_api_loads, key, load) != 0)
        {
            free(load);
            return NULL;
        }
    }
    return load;
}


ngx_uint_t
ngx_micro_api_node_down(const char *address)
{
    ngx_micro_api_mark_t  *m = micro_map_get(&ngx_micro_api_marks, address);

    return m && m->until && (ngx_msec_int_t) (m->until - ngx_current_msec) > 0;
}


/* Three failures in a row put a node aside; a success clears its count. */
static void
ngx_micro_api_mark(ngx_str_t *node, ngx_uint_t failed)
{
    char                   key[NGX_SOCKADDR_STRLEN + 1];
    ngx_micro_api_mark_t  *m;

    ngx_micro_api_key(key, sizeof(key), node);
    m = micro_map_get(&ngx_micro_api_marks, key);
    if (!failed) {
        if (m) {
            free(micro_map_remove(&ngx_micro_api_marks, key));
        }
        return;
    }
    if (m == NULL) {
        m = calloc(1, sizeof(*m));
        if (m == NULL || micro_map_set(&ngx_micro_api_marks, key, m) != 0) {
            free(m);
            return;
        }
    }
    if (++m->failures >= NGX_MICRO_API_MARK_FAILURES) {
        m->failures = 0;
        m->until = ngx_current_msec + NGX_MICRO_API_MARK_COOLDOWN;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0, "micro api: node %s "
                      "put aside for %d s after %d failures", key,
                      NGX_MICRO_API_MARK_COOLDOWN / 1000,
                      NGX_MICRO_API_MARK_FAILURES);
    }
}


static void
ngx_micro_api_keepalive_close(ngx_connection_t *c)
{
    ngx_micro_api_keepalive_t  *item = c->data;

    ngx_queue_remove(&item->queue);
    ngx_queue_insert_head(&ngx_micro_api_free, &item->queue);
    ngx_destroy_pool(c->pool);
    ngx_close_connection(c);
}


static void
ngx_micro_api_keepalive_dummy_handler(ngx_event_t *ev)
{
}


/* An idle connection became readable: the node closed it (or broke). */
static void
ngx_micro_api_keepalive_close_handler(ngx_event_t *ev)
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
        size_t                      len;
        u_char                      text[NGX_SOCKADDR_STRLEN];
        ngx_micro_api_keepalive_t  *item = c->data;

        len = ngx_sock_ntop(&item->sockaddr.sockaddr, item->socklen, text,
                            sizeof(text), 1);
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                       "micro api: kept connection to %*s closed after "
                       "%M ms idle", len, text, ngx_micro_api_idle_timeout);
    }
#endif

    ngx_micro_api_keepalive_close(c);
}


/* Points pc at the call's current node, from the cache if one is idle. */
static ngx_int_t
ngx_micro_api_get_peer(ngx_peer_connection_t *pc, void *data)
{
    ngx_micro_api_call_t       *call = data;
    ngx_uint_t                  fresh;
    ngx_queue_t                *q;
    ngx_connection_t           *c;
    ngx_micro_api_keepalive_t  *item;

    /*
     * Another node after a failure; the same one again (on a new
     * connection) only when the failure was a kept connection the node
     * had closed meanwhile.
     */
    if (call->tried && ngx_micro_api_next_node(call) != NGX_OK
        && !call->cached)
    {
        return NGX_BUSY;                       /* no other node to try */
    }
    fresh = call->cached;
    call->cached = 0;
    call->tried++;

    /* paired with free_peer, which NGINX calls once for each try */
    call->load = ngx_micro_api_load(&call->node);
    if (call->load) {
        call->load->inflight++;
    }
    call->started = ngx_micro_api_now_us();

    pc->sockaddr = call->sockaddr;
    pc->socklen = call->socklen;
    pc->name = &call->node;
    pc->cached = 0;
    pc->connection = NULL;

    if (!ngx_micro_api_cache_ready || fresh) {
        return NGX_OK;
    }
    for (q = ngx_queue_head(&ngx_micro_api_cache);
         q != ngx_queue_sentinel(&ngx_micro_api_cache);
         q = ngx_queue_next(q))
    {
        item = ngx_queue_data(q, ngx_micro_api_keepalive_t, queue);
        if (ngx_memn2cmp((u_char *) &item->sockaddr, (u_char *) pc->sockaddr,
                         item->socklen, pc->socklen) != 0)
        {
            continue;
        }
        ngx_queue_remove(q);
        ngx_queue_insert_head(&ngx_micro_api_free, q);

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
        call->cached = 1;
        return NGX_DONE;
    }
    return NGX_OK;
}


static void
ngx_micro_api_free_peer(ngx_peer_connection_t *pc, void *data,
    ngx_uint_t state)
{
    ngx_micro_api_call_t       *call = data;
    ngx_queue_t                *q;
    ngx_connection_t           *c = pc->connection;
    ngx_http_upstream_t        *u = call->request->upstream;
    ngx_micro_api_keepalive_t  *item;

    if (pc->tries) {
        pc->tries--;
    }
    if (call->load) {
        call->load->inflight--;
        /* a WebSocket's lifetime is no call's latency */
        if (state == 0 && !u->upgrade) {
            ngx_micro_api_sample(call->load, call->started);
        }
        call->load = NULL;
    }
    /* a kept connection the node closed says nothing about the node */
    if (pc->sockaddr && !(pc->cached && (state & NGX_PEER_FAILED))) {
        ngx_micro_api_mark(&call->node, state & NGX_PEER_FAILED);
    }

    if (state & NGX_PEER_FAILED || c == NULL || c->read->eof
        || c->read->error || c->read->timedout || c->write->error
        || c->write->timedout || !u->keepalive || !u->request_body_sent
        || ngx_terminate || ngx_exiting || !ngx_micro_api_cache_ready
        || ngx_handle_read_event(c->read, 0) != NGX_OK)
    {
        return;
    }

    /* keep it; the least recently used goes when the cache is full */
    if (ngx_queue_empty(&ngx_micro_api_free)) {
        q = ngx_queue_last(&ngx_micro_api_cache);
        item = ngx_queue_data(q, ngx_micro_api_keepalive_t, queue);
        ngx_micro_api_keepalive_close(item->connection);
    }
    q = ngx_queue_head(&ngx_micro_api_free);
    ngx_queue_remove(q);
    ngx_queue_insert_head(&ngx_micro_api_cache, q);
    item = ngx_queue_data(q, ngx_micro_api_keepalive_t, queue);

    item->connection = c;
    item->socklen = pc->socklen;
    ngx_memcpy(&item->sockaddr, pc->sockaddr, pc->socklen);
    pc->connection = NULL;

    c->read->delayed = 0;
    ngx_add_timer(c->read, ngx_micro_api_idle_timeout);
    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }
    c->write->handler = ngx_micro_api_keepalive_dummy_handler;
    c->read->handler = ngx_micro_api_keepalive_close_handler;
    c->data = item;
    c->idle = 1;
    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->pool->log = ngx_cycle->log;

    if (c->read->ready) {
        ngx_micro_api_keepalive_close_handler(c->read);
    }
}


static ngx_int_t
ngx_micro_api_peer_init(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_micro_api_call_t  *call = ngx_micro_api_request_call(r);

    r->upstream->peer.get = ngx_micro_api_get_peer;
    r->upstream->peer.free = ngx_micro_api_free_peer;
    r->upstream->peer.data = call;
    r->upstream->peer.tries = call->nodes > 1 ? 2 : 1;
    return NGX_OK;
}


ngx_int_t
ngx_micro_api_peer_init_upstream(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us)
{
    us->peer.init = ngx_micro_api_peer_init;
    return NGX_OK;
}


ngx_http_upstream_srv_conf_t *
ngx_micro_api_peer_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_srv_conf_t  *uscf;

    /* no servers of its own: the peers come per request */
    uscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_srv_conf_t));
    if (uscf == NULL) {
        return NULL;
    }
    ngx_str_set(&uscf->host, "micro_api");
    uscf->peer.init = ngx_micro_api_peer_init;
    return uscf;
}
