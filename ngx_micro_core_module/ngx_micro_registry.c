/*
 * The worker's registry: two hiredis async connections on NGINX's event
 * loop (commands and the watch subscription), the snapshot they keep
 * current, and one timer for reconnects, the expiry reaper and the full
 * reload. See nginx-techniques.md section 5 for the pitfalls handled here:
 * attach before callbacks, level-triggered events, hiredis closes the fd,
 * idle connections for graceful shutdown.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include <micro/error.h>
#include <micro/service.h>

#include <micro/registry_format.h>

#include "ngx_micro_registry.h"


#define NGX_MICRO_REGISTRY_TICK      1000     /* reaper and retry check */
#define NGX_MICRO_REGISTRY_RESYNC    30000    /* full reload backstop */
#define NGX_MICRO_REGISTRY_BACKOFF   100
#define NGX_MICRO_REGISTRY_BACKOFF_MAX  5000


typedef struct {
    ngx_queue_t                queue;
    ngx_event_t               *event;
    unsigned                   queued:1;
} ngx_micro_registry_waiter_t;     /* of the first load, or a follower */


struct ngx_micro_registry_s {
    micro_registry_options_t   opts;
    micro_registry_keys_t      keys;
    ngx_log_t                 *log;
    redisAsyncContext         *cmd;
    redisAsyncContext         *sub;
    redisAsyncContext         *pub;          /* others' commands (events),
                                                opened on first use, so a
                                                reload cannot hold them */
    micro_snapshot_t          *snapshot;
    micro_snapshot_t          *loading;      /* a full reload under way */
    ngx_uint_t                 pending;      /* its outstanding replies */
    ngx_msec_t                 waiting_since;  /* its start or last reply */
    ngx_event_t                timer;
    ngx_msec_t                 backoff;
    ngx_msec_t                 next_connect;
    ngx_msec_t                 next_resync;
    ngx_uint_t                 syncs;
    ngx_uint_t                 events;
    ngx_queue_t                waiters;      /* for the first load */
    ngx_queue_t                followers;    /* of every change */
    ngx_uint_t                 changes;
    unsigned                   started:1;
    unsigned                   stopping:1;
    unsigned                   warned:1;
    unsigned                   answered:1;   /* a reply since connecting */
};


static void ngx_micro_registry_connect(ngx_micro_registry_t *r);
static void ngx_micro_registry_cleanup(void *data);
static void ngx_micro_registry_reload(ngx_micro_registry_t *r);
static void ngx_micro_registry_lost(ngx_micro_registry_t *r, const char *why);
static void ngx_micro_registry_changed(ngx_micro_registry_t *r);
static redisAsyncContext *ngx_micro_registry_open(ngx_micro_registry_t *r);


/* --- hiredis on NGINX's event loop ---------------------------------------- */

static void
ngx_micro_redis_handle(ngx_event_t *ev)
{
    ngx_connection_t   *c = ev->data;
    redisAsyncContext  *ac = c->data;

    if (c->close) {
        /* graceful shutdown: nginx closes idle connections through us */
        redisAsyncFree(ac);
        return;
    }
    if (ev->write) {
        redisAsyncHandleWrite(ac);
    } else {
        redisAsyncHandleRead(ac);
    }
}


static void
ngx_micro_redis_add(ngx_event_t *ev)
{
    if (!ev->active) {
        /* level-triggered: hiredis reads 16 KiB a call (see the header) */
        ngx_add_event(ev, ev->write ? NGX_WRITE_EVENT : NGX_READ_EVENT, 0);
    }
}


static void
ngx_micro_redis_del(ngx_event_t *ev)
{
    if (ev->active) {
        ngx_del_event(ev, ev->write ? NGX_WRITE_EVENT : NGX_READ_EVENT, 0);
    }
}


static void
ngx_micro_redis_add_read(void *data)
{
    ngx_micro_redis_add(((ngx_connection_t *) data)->read);
}


static void
ngx_micro_redis_del_read(void *data)
{
    ngx_micro_redis_del(((ngx_connection_t *) data)->read);
}


static void
ngx_micro_redis_add_write(void *data)
{
    ngx_micro_redis_add(((ngx_connection_t *) data)->write);
}


static void
ngx_micro_redis_del_write(void *data)
{
    ngx_micro_redis_del(((ngx_connection_t *) data)->write);
}


/* hiredis closes the fd itself right after this: release, never close. */
static void
ngx_micro_redis_cleanup(void *data)
{
    ngx_connection_t  *c = data;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }
    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }
    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }
    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }
    ngx_del_conn(c, NGX_CLOSE_EVENT);
    ngx_reusable_connection(c, 0);
    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);
}


static ngx_int_t
ngx_micro_redis_attach(redisAsyncContext *ac, ngx_log_t *log)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(ac->c.fd, log);
    if (c == NULL) {
        return NGX_ERROR;
    }
    c->data = ac;
    c->read->handler = ngx_micro_redis_handle;
    c->write->handler = ngx_micro_redis_handle;
    c->read->log = log;
    c->write->log = log;
    c->idle = 1;                  /* closed through us on shutdown */

    ac->ev.data = c;
    ac->ev.addRead = ngx_micro_redis_add_read;
    ac->ev.delRead = ngx_micro_redis_del_read;
    ac->ev.addWrite = ngx_micro_redis_add_write;
    ac->ev.delWrite = ngx_micro_redis_del_write;
    ac->ev.cleanup = ngx_micro_redis_cleanup;
    return NGX_OK;
}


/* --- configuration and life ----------------------------------------------- */

static void
ngx_micro_registry_log(const char *message, void *data)
{
    ngx_log_error(NGX_LOG_WARN, (ngx_log_t *) data, 0, "micro: %s", message);
}


ngx_micro_registry_t *
ngx_micro_registry_create(ngx_conf_t *cf, ngx_str_t *url, char **err)
{
    u_char                *p;
    struct in6_addr        in6;
    ngx_pool_cleanup_t    *cln;
    ngx_micro_registry_t  *r;

    r = ngx_pcalloc(cf->pool, sizeof(ngx_micro_registry_t));
    p = ngx_pnalloc(cf->pool, url->len + 1);
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (r == NULL || p == NULL || cln == NULL) {
        *err = "out of memory";
        return NULL;
    }
    ngx_cpystrn(p, url->data, url->len + 1);

    if (micro_registry_options_parse(&r->opts, (char *) p) != MICRO_OK) {
        *err = (char *) micro_error_detail();
        return NULL;
    }
    /* no name lookups in a worker: they would block it */
    if (r->opts.host && inet_addr(r->opts.host) == INADDR_NONE
        && inet_pton(AF_INET6, r->opts.host, &in6) != 1)
    {
        micro_registry_options_free(&r->opts);
        *err = "the registry host must be an IP address or a unix socket";
        return NULL;
    }
    if (micro_registry_keys_init(&r->keys, r->opts.prefix, r->opts.db) != MICRO_OK) {
        micro_registry_options_free(&r->opts);
        *err = "out of memory";
        return NULL;
    }
    cln->handler = ngx_micro_registry_cleanup;
    cln->data = r;
    ngx_queue_init(&r->waiters);
    ngx_queue_init(&r->followers);
    return r;
}


/*
 * A load waits for Redis within the URL's timeouts: connect_timeout plus
 * command_timeout for the first reply after connecting (a peer that takes
 * the connection and never answers), command_timeout between replies.
 */
static ngx_uint_t
ngx_micro_registry_silent(ngx_micro_registry_t *r, ngx_msec_t now)
{
    ngx_msec_t  limit;

    limit = r->opts.command_timeout_ms;
    if (!r->answered) {
        limit += r->opts.connect_timeout_ms;
    }
    return (ngx_msec_int_t) (now - r->waiting_since) > (ngx_msec_int_t) limit;
}


static void
ngx_micro_registry_tick(ngx_event_t *ev)
{
    size_t                 n;
    const char            *argv[8];
    ngx_msec_t             now;
    ngx_micro_registry_t  *r = ev->data;

    if (r->stopping || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }
    now = ngx_current_msec;

    if (r->cmd == NULL || r->sub == NULL) {
        if ((ngx_msec_int_t) (now - r->next_connect) >= 0) {
            ngx_micro_registry_connect(r);
        }
    } else if (r->loading && ngx_micro_registry_silent(r, now)) {
        ngx_micro_registry_lost(r, "redis did not answer in time");
    } else {
        n = micro_snapshot_expire(r->snapshot, (int64_t) now);
        if (n) {
            ngx_log_error(NGX_LOG_NOTICE, r->log, 0, "micro: registry: %uz "
                          "nodes kept after they were gone have expired", n);
            ngx_micro_registry_changed(r);
        }
        /* expired nodes come back to every watcher as deletes */
        argv[0] = "EVAL";
        argv[1] = micro_lua_scripts[MICRO_LUA_REAP];
        argv[2] = "2";
        argv[3] = r->keys.services;
        argv[4] = r->keys.expiry;
        argv[5] = r->keys.svc;
        argv[6] = r->keys.channel;
        argv[7] = "1000";
        redisAsyncCommandArgv(r->cmd, NULL, NULL, 8, argv, NULL);
        if ((ngx_msec_int_t) (now - r->next_resync) >= 0
            && r->loading == NULL)
        {
            ngx_micro_registry_reload(r);
        }
    }
    ngx_add_timer(&r->timer, NGX_MICRO_REGISTRY_TICK);
}


ngx_int_t
ngx_micro_registry_start(ngx_micro_registry_t *r, ngx_log_t *log)
{
    if (r->started) {
        return NGX_OK;
    }
    r->started = 1;
    r->log = log;
    if (micro_snapshot_new(&r->snapshot) != MICRO_OK) {
        return NGX_ERROR;
    }
    micro_log_set_handler(ngx_micro_registry_log, log);

    r->timer.handler = ngx_micro_registry_tick;
    r->timer.data = r;
    r->timer.log = log;
    r->timer.cancelable = 1;
    r->backoff = NGX_MICRO_REGISTRY_BACKOFF;
    ngx_micro_registry_connect(r);
    ngx_add_timer(&r->timer, NGX_MICRO_REGISTRY_TICK);
    return NGX_OK;
}


void
ngx_micro_registry_stop(ngx_micro_registry_t *r)
{
    if (!r->started || r->stopping) {
        return;
    }
    r->stopping = 1;
    if (r->timer.timer_set) {
        ngx_del_timer(&r->timer);
    }
    if (r->cmd) {
        redisAsyncFree(r->cmd);
    }
    if (r->sub) {
        redisAsyncFree(r->sub);
    }
    if (r->pub) {
        redisAsyncFree(r->pub);
    }
    micro_snapshot_free(r->loading);
    r->loading = NULL;
    micro_snapshot_free(r->snapshot);
    r->snapshot = NULL;
    micro_log_set_handler(NULL, NULL);
}


/* With the configuration's pool: what the URL parse allocated. */
static void
ngx_micro_registry_cleanup(void *data)
{
    ngx_micro_registry_t  *r = data;

    ngx_micro_registry_stop(r);
    micro_registry_keys_free(&r->keys);
    micro_registry_options_free(&r->opts);
}


/* A waiter for ev from pool, queued on q (when q is not NULL). */
static ngx_micro_registry_waiter_t *
ngx_micro_registry_waiter(ngx_event_t *ev, ngx_pool_t *pool, ngx_queue_t *q)
{
    ngx_micro_registry_waiter_t  *w;

    w = ngx_pcalloc(pool, sizeof(ngx_micro_registry_waiter_t));
    if (w == NULL) {
        return NULL;
    }
    w->event = ev;
    if (q) {
        ngx_queue_insert_tail(q, &w->queue);
        w->queued = 1;
    }
    return w;
}


void *
ngx_micro_registry_wait(ngx_micro_registry_t *r, ngx_event_t *ev,
    ngx_pool_t *pool)
{
    ngx_micro_registry_waiter_t  *w;

    w = ngx_micro_registry_waiter(ev, pool, r->syncs ? NULL : &r->waiters);
    if (w == NULL) {
        return NULL;
    }
    if (r->syncs) {
        ngx_post_event(ev, &ngx_posted_events);
    }
    return w;
}


void *
ngx_micro_registry_follow(ngx_micro_registry_t *r, ngx_event_t *ev,
    ngx_pool_t *pool)
{
    return ngx_micro_registry_waiter(ev, pool, &r->followers);
}


/* The snapshot changed: each follower's event is posted (once). */
static void
ngx_micro_registry_changed(ngx_micro_registry_t *r)
{
    ngx_queue_t                  *q;
    ngx_micro_registry_waiter_t  *w;

    r->changes++;
    for (q = ngx_queue_head(&r->followers);
         q != ngx_queue_sentinel(&r->followers);
         q = ngx_queue_next(q))
    {
        w = ngx_queue_data(q, ngx_micro_registry_waiter_t, queue);
        if (!w->event->posted) {
            ngx_post_event(w->event, &ngx_posted_events);
        }
    }
}


void
ngx_micro_registry_unwait(void *waiter)
{
    ngx_micro_registry_waiter_t  *w = waiter;

    if (w && w->queued) {
        ngx_queue_remove(&w->queue);
        w->queued = 0;
    }
}


micro_snapshot_t *
ngx_micro_registry_snapshot(ngx_micro_registry_t *r)
{
    return r->snapshot;
}


void
ngx_micro_registry_stats(ngx_micro_registry_t *r,
    ngx_micro_registry_stats_t *stats)
{
    stats->connected = r->cmd != NULL && r->sub != NULL;
    stats->syncs = r->syncs;
    stats->events = r->events;
    stats->resync = NGX_MICRO_REGISTRY_RESYNC;
    stats->changes = r->changes;
}


ngx_int_t
ngx_micro_registry_command(ngx_micro_registry_t *r, redisCallbackFn *fn,
    void *data, int argc, const char **argv, const size_t *lens)
{
    if (r->cmd == NULL || r->sub == NULL || r->stopping) {
        return NGX_DECLINED;
    }
    if (r->pub == NULL) {
        r->pub = ngx_micro_registry_open(r);
        if (r->pub == NULL) {
            return NGX_DECLINED;
        }
    }
    return redisAsyncCommandArgv(r->pub, fn, data, argc, argv, lens)
           == REDIS_OK ? NGX_OK : NGX_DECLINED;
}


const char *
ngx_micro_registry_prefix(ngx_micro_registry_t *r)
{
    return r->opts.prefix ? r->opts.prefix : "micro:";
}


/* --- connections ---------------------------------------------------------- */

static void
ngx_micro_registry_lost(ngx_micro_registry_t *r, const char *why)
{
    if (!r->warned && !r->stopping && !ngx_exiting) {
        ngx_log_error(NGX_LOG_WARN, r->log, 0, "micro: registry at %s: %s; "
                      "serving the last snapshot of %uz services",
                      micro_registry_where(&r->opts), why,
                      micro_snapshot_size(r->snapshot));
        r->warned = 1;
    }
    /* one side gone: drop the other too, and start over later */
    if (r->cmd) {
        redisAsyncContext  *ac = r->cmd;

        r->cmd = NULL;
        redisAsyncFree(ac);
    }
    if (r->sub) {
        redisAsyncContext  *ac = r->sub;

        r->sub = NULL;
        redisAsyncFree(ac);
    }
    if (r->pub) {
        redisAsyncContext  *ac = r->pub;

        r->pub = NULL;
        redisAsyncFree(ac);
    }
    micro_snapshot_free(r->loading);
    r->loading = NULL;
    r->pending = 0;
    r->next_connect = ngx_current_msec + r->backoff;
    ngx_log_debug1(NGX_LOG_DEBUG_CORE, r->log, 0,
                   "micro: registry: next connect in %M ms", r->backoff);
    r->backoff = ngx_min(r->backoff * 2, NGX_MICRO_REGISTRY_BACKOFF_MAX);
}


static void
ngx_micro_registry_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_micro_registry_t  *r = ac->data;

    /* hiredis frees ac after this returns; the others' connection alone
     * is opened again on its next use */
    if (r->pub == ac) {
        r->pub = NULL;
        return;
    }
    if (r->cmd == ac) {
        r->cmd = NULL;
    } else if (r->sub == ac) {
        r->sub = NULL;
    } else {
        return;
    }
    ngx_micro_registry_lost(r, status == REDIS_OK ? "disconnected"
                                                  : ac->errstr);
}


static void
ngx_micro_registry_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_micro_registry_t  *r = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees ac after a failed connect */
        if (r->pub == ac) {
            r->pub = NULL;
            return;
        }
        if (r->cmd == ac) {
            r->cmd = NULL;
        } else if (r->sub == ac) {
            r->sub = NULL;
        }
        ngx_micro_registry_lost(r, ac->errstr);
        return;
    }
    if (r->cmd && r->sub && r->warned) {
        ngx_log_error(NGX_LOG_NOTICE, r->log, 0, "micro: registry at %s: "
                      "connected again", micro_registry_where(&r->opts));
        r->warned = 0;
    }
    r->backoff = NGX_MICRO_REGISTRY_BACKOFF;
}


static void
ngx_micro_registry_on_auth(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply            *rep = reply;
    ngx_micro_registry_t  *r = ac->data;

    if (rep && rep->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->log, 0, "micro: registry at %s: %s",
                      micro_registry_where(&r->opts), rep->str);
    }
}


static void ngx_micro_registry_on_message(redisAsyncContext *ac, void *reply,
    void *data);


static redisAsyncContext *
ngx_micro_registry_open(ngx_micro_registry_t *r)
{
    redisAsyncContext  *ac;

    ac = r->opts.unix_path ? redisAsyncConnectUnix(r->opts.unix_path)
                           : redisAsyncConnect(r->opts.host, r->opts.port);
    if (ac == NULL) {
        return NULL;
    }
    if (ac->err || ngx_micro_redis_attach(ac, r->log) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, r->log, 0, "micro: registry at %s: %s",
                      micro_registry_where(&r->opts),
                      ac->err ? ac->errstr : "no free connection");
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = r;
    /* callbacks after the adapter: setting them adds a write event */
    redisAsyncSetConnectCallback(ac, ngx_micro_registry_on_connect);
    redisAsyncSetDisconnectCallback(ac, ngx_micro_registry_on_disconnect);
    if (r->opts.password) {
        redisAsyncCommand(ac, ngx_micro_registry_on_auth, NULL, "AUTH %s",
                          r->opts.password);
    }
    if (r->opts.db) {
        redisAsyncCommand(ac, ngx_micro_registry_on_auth, NULL, "SELECT %d",
                          r->opts.db);
    }
    return ac;
}


static void
ngx_micro_registry_connect(ngx_micro_registry_t *r)
{
    r->answered = 0;
    r->cmd = ngx_micro_registry_open(r);
    r->sub = r->cmd ? ngx_micro_registry_open(r) : NULL;
    if (r->cmd == NULL || r->sub == NULL) {
        ngx_micro_registry_lost(r, "cannot connect");
        return;
    }
    /* subscribe first, then load: no change falls between the two */
    redisAsyncCommand(r->sub, ngx_micro_registry_on_message, NULL,
                      "SUBSCRIBE %s", r->keys.channel);
    ngx_micro_registry_reload(r);
}


/* --- loading and following ------------------------------------------------ */

/* The time an entry expires, from the ms it has left (-1: never). */
static int64_t
ngx_micro_registry_expires(int64_t left)
{
    return left < 0 ? MICRO_SNAPSHOT_NEVER
                    : (int64_t) ngx_current_msec + left;
}


/* Parses entries of one service's reply (each followed by the ms it has
 * left) into snapshot s. */
static void
ngx_micro_registry_add_entries(ngx_micro_registry_t *r, micro_snapshot_t *s,
    redisReply *reply, const char *name)
{
    size_t           i;
    micro_service_t  e;

    for (i = 0; i + 1 < reply->elements; i += 2) {
        if (reply->element[i]->type != REDIS_REPLY_STRING
            || reply->element[i + 1]->type != REDIS_REPLY_INTEGER
            || micro_registry_entry_parse(&e, reply->element[i]->str,
                                          reply->element[i]->len, name)
               != MICRO_OK)
        {
            continue;
        }
        if (ngx_strcmp(e.name, name) != 0) {
            micro_service_free(&e);
            continue;
        }
        micro_snapshot_apply_until(s, MICRO_WATCH_CREATE, &e,
            ngx_micro_registry_expires(reply->element[i + 1]->integer));
    }
}


/* The reload is complete: its snapshot becomes the current one. */
static void
ngx_micro_registry_loaded(ngx_micro_registry_t *r)
{
    size_t                        kept;
    ngx_queue_t                  *q;
    ngx_micro_registry_waiter_t  *w;

    /*
     * Stale beats empty: nodes the load did not find but whose expiry has
     * not passed stay until it does (Redis restarted empty: libmicro's
     * heartbeats register again within a second, others at their next).
     */
    kept = micro_snapshot_carry(r->loading, r->snapshot,
                                (int64_t) ngx_current_msec,
                                MICRO_REGISTRY_DEFAULT_TTL);
    if (kept) {
        ngx_log_error(NGX_LOG_WARN, r->log, 0, "micro: registry at %s: "
                      "%uz nodes are gone from it before their expiry; "
                      "kept until it passes", micro_registry_where(&r->opts),
                      kept);
    }
    micro_snapshot_free(r->snapshot);
    r->snapshot = r->loading;
    r->loading = NULL;
    r->syncs++;

    while (!ngx_queue_empty(&r->waiters)) {
        q = ngx_queue_head(&r->waiters);
        w = ngx_queue_data(q, ngx_micro_registry_waiter_t, queue);
        ngx_queue_remove(q);
        w->queued = 0;
        ngx_post_event(w->event, &ngx_posted_events);
    }
    ngx_micro_registry_changed(r);
    r->next_resync = ngx_current_msec + NGX_MICRO_REGISTRY_RESYNC;
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->log, 0,
                   "micro: registry loaded, %uz services",
                   micro_snapshot_size(r->snapshot));
}


static void
ngx_micro_registry_on_get(redisAsyncContext *ac, void *reply, void *data)
{
    redisReply            *rep = reply;
    ngx_micro_registry_t  *r = ac->data;
    char                  *name = data;

    if (r->loading && rep == NULL) {
        /* the connection went mid-load: a part is not the registry */
        micro_snapshot_free(r->loading);
        r->loading = NULL;

    } else if (r->loading) {
        r->answered = 1;
        r->waiting_since = ngx_current_msec;
        if (rep->type == REDIS_REPLY_ARRAY) {
            ngx_micro_registry_add_entries(r, r->loading, rep, name);
        }
        if (--r->pending == 0) {
            ngx_micro_registry_loaded(r);
        }
    }
    ngx_free(name);
}


static void
ngx_micro_registry_on_list(redisAsyncContext *ac, void *reply, void *data)
{
    size_t                 i, len;
    char                  *name, *hash;
    redisReply            *rep = reply;
    const char            *argv[6];
    ngx_micro_registry_t  *r = ac->data;

    if (rep) {
        r->answered = 1;
        r->waiting_since = ngx_current_msec;
    }
    if (r->loading == NULL || rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->log, 0, "micro: registry: %s",
                          rep->str);
        }
        micro_snapshot_free(r->loading);
        r->loading = NULL;
        return;
    }

    /* one get a service; the last reply swaps the snapshot in */
    r->pending = 0;
    for (i = 0; i < rep->elements; i++) {
        if (rep->element[i]->type != REDIS_REPLY_STRING
            || !micro_name_valid(rep->element[i]->str))
        {
            continue;
        }
        len = rep->element[i]->len;
        name = ngx_alloc(len + 1, r->log);
        hash = micro_registry_key(r->keys.svc, rep->element[i]->str);
        if (name == NULL || hash == NULL) {
            ngx_free(name);
            free(hash);
            continue;
        }
        ngx_memcpy(name, rep->element[i]->str, len + 1);
        argv[0] = "EVAL";
        argv[1] = micro_lua_scripts[MICRO_LUA_GET];
        argv[2] = "2";
        argv[3] = hash;
        argv[4] = r->keys.expiry;
        argv[5] = name;
        if (redisAsyncCommandArgv(ac, ngx_micro_registry_on_get, name, 6,
                                  argv, NULL) == REDIS_OK)
        {
            r->pending++;
        } else {
            ngx_free(name);
        }
        free(hash);
    }
    if (r->pending == 0) {
        ngx_micro_registry_loaded(r);             /* an empty registry */
    }
}


static void
ngx_micro_registry_reload(ngx_micro_registry_t *r)
{
    const char  *argv[7];

    if (r->cmd == NULL || r->loading) {
        return;
    }
    if (micro_snapshot_new(&r->loading) != MICRO_OK) {
        return;
    }
    r->waiting_since = ngx_current_msec;
    argv[0] = "EVAL";
    argv[1] = micro_lua_scripts[MICRO_LUA_LIST];
    argv[2] = "2";
    argv[3] = r->keys.services;
    argv[4] = r->keys.expiry;
    argv[5] = r->keys.svc;
    argv[6] = r->keys.channel;
    redisAsyncCommandArgv(r->cmd, ngx_micro_registry_on_list, NULL, 7, argv,
                          NULL);
}


/* A published {"action": ..., "service": entry}: into both snapshots. */
static void
ngx_micro_registry_on_message(redisAsyncContext *ac, void *reply, void *data)
{
    int64_t                ttl, expires;
    redisReply            *rep = reply;
    micro_service_t        e, copy;
    micro_watch_action_t   a;
    ngx_micro_registry_t  *r = ac->data;

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3
        || rep->element[0]->type != REDIS_REPLY_STRING
        || ngx_strcmp(rep->element[0]->str, "message") != 0
        || rep->element[2]->type != REDIS_REPLY_STRING)
    {
        return;
    }
    if (micro_watch_event_parse(rep->element[2]->str, rep->element[2]->len,
                                &a, &e, &ttl)
        != MICRO_OK)
    {
        return;                   /* warned, through micro_log_warn */
    }
    /* a publisher that does not say: as if the default TTL */
    expires = ngx_micro_registry_expires(ttl < 0 ? MICRO_REGISTRY_DEFAULT_TTL
                                         : ttl == 0 ? -1 : ttl);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->log, 0,
                   "micro: registry %s %s node %s",
                   a == MICRO_WATCH_DELETE ? "delete" : "update", e.name,
                   e.nodes[0].id);

    if (r->loading && micro_service_copy(&copy, &e) == MICRO_OK) {
        micro_snapshot_apply_until(r->loading, a, &copy, expires);
    }
    micro_snapshot_apply_until(r->snapshot, a, &e, expires);
    r->events++;
    ngx_micro_registry_changed(r);
}
