/* Registry watcher: subscription, resync by diff, and the reaper tick. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "micro/error.h"
#include "micro/watch.h"
#include "core/clock.h"
#include "core/map.h"
#include "registry/redis.h"
#include "micro/registry_format.h"
#include "registry/registry_internal.h"

#define MICRO_WATCH_REAP_MS      1000
#define MICRO_WATCH_BACKOFF_MIN  100
#define MICRO_WATCH_BACKOFF_MAX  5000

struct micro_watcher_s {
    micro_registry_t      *r;
    int                    flags;
    redisContext          *sub;
    int                    wake[2];      /* self-pipe for stop() */
    volatile int           stopped;
    int                    synced_once;
    int                    warned;
    int                    backoff_ms;
    int64_t                next_retry;
    int64_t                next_reap;
    micro_map_t            known;        /* "name id" -> canonical JSON */
    micro_map_t            ttl;          /* "name id" -> int64_t ms, its
                                            TTL as last seen */
    micro_map_t            carried;      /* "name id" -> int64_t ms: gone
                                            from Redis, kept until then */
    micro_watch_event_t   *queue;
    size_t                 qhead;
    size_t                 qlen;
};


const char *
micro_watch_action_name(micro_watch_action_t action)
{
    static const char  *names[] = { "create", "update", "delete" };

    return names[action];
}


void
micro_watch_event_free(micro_watch_event_t *ev)
{
    micro_service_free(&ev->service);
}


int
micro_watcher_new(micro_registry_t *r, int flags, micro_watcher_t **out)
{
    micro_watcher_t  *w;

    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return MICRO_ENOMEM;
    }
    if (pipe(w->wake) != 0) {
        free(w);
        return micro_error_set(MICRO_ENOMEM, "pipe: %s", strerror(errno));
    }
    fcntl(w->wake[0], F_SETFL, O_NONBLOCK);
    fcntl(w->wake[1], F_SETFL, O_NONBLOCK);
    w->r = r;
    w->flags = flags;
    w->backoff_ms = MICRO_WATCH_BACKOFF_MIN;
    *out = w;
    return MICRO_OK;
}


static void
micro_watcher_clear_queue(micro_watcher_t *w)
{
    while (w->qhead < w->qlen) {
        micro_watch_event_free(&w->queue[w->qhead++]);
    }
    free(w->queue);
    w->queue = NULL;
    w->qhead = w->qlen = 0;
}


void
micro_watcher_free(micro_watcher_t *w)
{
    if (w == NULL) {
        return;
    }
    if (w->sub) {
        redisFree(w->sub);
    }
    close(w->wake[0]);
    close(w->wake[1]);
    micro_watcher_clear_queue(w);
    micro_map_free_all(&w->known);
    micro_map_free_all(&w->ttl);
    micro_map_free_all(&w->carried);
    free(w);
}


void
micro_watcher_stop(micro_watcher_t *w)
{
    ssize_t  n;

    w->stopped = 1;
    n = write(w->wake[1], "x", 1);
    (void) n;
}


int
micro_watcher_synced(micro_watcher_t *w)
{
    return w->sub != NULL;
}


size_t
micro_watcher_pending(micro_watcher_t *w)
{
    return w->qlen - w->qhead;
}


/* Queues an event; takes ownership of entry (a service with one node). */
static int
micro_watcher_push(micro_watcher_t *w, micro_watch_action_t action,
    micro_service_t *entry)
{
    micro_watch_event_t  *q;

    if (w->qhead == w->qlen) {
        w->qhead = w->qlen = 0;
    }
    q = realloc(w->queue, (w->qlen + 1) * sizeof(*q));
    if (q == NULL) {
        micro_service_free(entry);
        return MICRO_ENOMEM;
    }
    w->queue = q;
    q[w->qlen].action = action;
    q[w->qlen].service = *entry;
    w->qlen++;
    memset(entry, 0, sizeof(*entry));
    return MICRO_OK;
}


static void
micro_entry_key(char *buf, size_t size, const micro_service_t *entry)
{
    snprintf(buf, size, "%s %s", entry->name, entry->nodes[0].id);
}


/*
 * Applies one observed entry state to the known map and queues the event
 * it implies, if any. json is the canonical entry JSON (taken over).
 */
static void
micro_watcher_apply(micro_watcher_t *w, micro_watch_action_t action,
    micro_service_t *entry, char *json, int report)
{
    char   key[2 * MICRO_NAME_MAX + 2], *old;

    micro_entry_key(key, sizeof(key), entry);
    old = micro_map_get(&w->known, key);

    free(micro_map_remove(&w->carried, key));
    if (action == MICRO_WATCH_DELETE) {
        free(json);
        free(micro_map_remove(&w->ttl, key));
        if (old == NULL) {
            micro_service_free(entry);
            return;
        }
        free(micro_map_remove(&w->known, key));
    } else {
        if (old && strcmp(old, json) == 0) {
            free(json);
            micro_service_free(entry);
            return;
        }
        action = old ? MICRO_WATCH_UPDATE : MICRO_WATCH_CREATE;
        if (micro_map_set(&w->known, key, json) != MICRO_OK) {
            free(json);
            micro_service_free(entry);
            return;
        }
        free(old);
    }

    if (report) {
        micro_watcher_push(w, action, entry);
    } else {
        micro_service_free(entry);
    }
}


/* The node of a known entry gone: a delete, reported. */
static void
micro_watcher_forget(micro_watcher_t *w, const char *json, int report)
{
    micro_service_t  entry;

    if (micro_service_from_json(&entry, json, strlen(json)) == MICRO_OK) {
        micro_watcher_apply(w, MICRO_WATCH_DELETE, &entry, NULL, report);
    }
}


/*
 * Reads the whole registry and reports the difference from known. A node
 * known but not found went while the watcher was away, or Redis lost it
 * (restarted empty): stale beats empty, so it is kept until its TTL as
 * last seen (30 s without one) has run out, then deleted by the tick.
 */
static int
micro_watcher_resync(micro_watcher_t *w)
{
    int                    rc, report;
    char                  *json, key[2 * MICRO_NAME_MAX + 2];
    size_t                 i, j, kept = 0;
    int64_t                now, *left, *ttl;
    micro_map_t            seen = { 0 }, lives = { 0 };
    micro_service_t        one, entry;
    micro_service_list_t   all;

    rc = micro_registry_dump_lives(w->r, &all, &lives);
    if (rc != MICRO_OK) {
        micro_map_free_all(&lives);
        return rc;
    }
    report = w->synced_once || (w->flags & MICRO_WATCH_INITIAL);
    now = micro_now_ms();

    for (i = 0; i < all.len; i++) {
        for (j = 0; j < all.items[i].nnodes; j++) {
            one = all.items[i];
            one.nodes = &all.items[i].nodes[j];
            one.nnodes = 1;
            micro_entry_key(key, sizeof(key), &one);
            if (micro_map_set(&seen, key, &seen) != MICRO_OK
                || micro_service_copy(&entry, &one) != MICRO_OK)
            {
                continue;
            }
            left = micro_map_get(&lives, key);
            if (left && *left > 0 && micro_map_get(&w->ttl, key) == NULL) {
                micro_map_set_i64(&w->ttl, key, *left);
            }
            json = micro_service_to_json(&entry);
            if (json == NULL) {
                micro_service_free(&entry);
                continue;
            }
            micro_watcher_apply(w, MICRO_WATCH_CREATE, &entry, json, report);
        }
    }

    for (i = 0; i < w->known.cap; i++) {
        if (!micro_map_live(&w->known, i)
            || micro_map_get(&seen, w->known.slots[i].key)
            || micro_map_get(&w->carried, w->known.slots[i].key))
        {
            continue;
        }
        if (!w->synced_once) {
            micro_watcher_forget(w, w->known.slots[i].value, report);
            continue;
        }
        ttl = micro_map_get(&w->ttl, w->known.slots[i].key);
        micro_map_set_i64(&w->carried, w->known.slots[i].key,
                          now + (ttl ? *ttl : MICRO_REGISTRY_DEFAULT_TTL));
        kept++;
    }
    if (kept) {
        micro_log_warn("registry watch: %zu nodes are gone from redis at %s "
                       "before their expiry; kept until it passes", kept,
                       micro_registry_where(micro_registry_options(w->r)));
    }

    micro_map_free(&seen);
    micro_map_free_all(&lives);
    micro_service_list_free(&all);
    w->synced_once = 1;
    return MICRO_OK;
}


/* Carried nodes whose time is up: deleted now. */
static void
micro_watcher_expire(micro_watcher_t *w, int64_t now)
{
    size_t   i;
    char    *json;

    for (i = 0; i < w->carried.cap; i++) {
        if (!micro_map_live(&w->carried, i)
            || *(int64_t *) w->carried.slots[i].value > now)
        {
            continue;
        }
        json = micro_map_get(&w->known, w->carried.slots[i].key);
        if (json) {
            micro_watcher_forget(w, json, 1);      /* removes it here too */
        } else {
            free(micro_map_remove(&w->carried, w->carried.slots[i].key));
        }
    }
}


static int
micro_watcher_connect(micro_watcher_t *w)
{
    int          rc;
    redisReply  *reply;

    rc = micro_redis_connect(micro_registry_options(w->r), &w->sub);
    if (rc != MICRO_OK) {
        return rc;
    }
    reply = redisCommand(w->sub, "SUBSCRIBE %s", micro_registry_channel(w->r));
    rc = micro_redis_status(w->sub, reply, "redis SUBSCRIBE");
    if (reply) {
        freeReplyObject(reply);
    }
    if (rc == MICRO_OK) {
        rc = micro_watcher_resync(w);
    }
    if (rc != MICRO_OK) {
        redisFree(w->sub);
        w->sub = NULL;
    }
    return rc;
}


/* One published message: {"action": "...", "service": {...}}. */
static void
micro_watcher_message(micro_watcher_t *w, const char *data, size_t len)
{
    char                  *json;
    char                   key[2 * MICRO_NAME_MAX + 2];
    int64_t                ttl_ms;
    micro_service_t        entry;
    micro_watch_action_t   a;

    if (micro_watch_event_parse(data, len, &a, &entry, &ttl_ms) != MICRO_OK) {
        return;
    }
    if (a != MICRO_WATCH_DELETE && ttl_ms >= 0) {
        micro_entry_key(key, sizeof(key), &entry);
        if (ttl_ms > 0) {
            micro_map_set_i64(&w->ttl, key, ttl_ms);
        } else {
            free(micro_map_remove(&w->ttl, key));   /* none: the default */
        }
    }
    json = a == MICRO_WATCH_DELETE ? NULL : micro_service_to_json(&entry);
    if (a != MICRO_WATCH_DELETE && json == NULL) {
        micro_service_free(&entry);
        return;
    }
    micro_watcher_apply(w, a, &entry, json, 1);
}


static void
micro_watcher_read(micro_watcher_t *w)
{
    void        *vreply;
    redisReply  *reply;

    if (redisBufferRead(w->sub) != REDIS_OK) {
        goto lost;
    }
    for ( ;; ) {
        vreply = NULL;
        if (redisGetReplyFromReader(w->sub, &vreply) != REDIS_OK) {
            goto lost;
        }
        if (vreply == NULL) {
            return;
        }
        reply = vreply;
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3
            && reply->element[0]->type == REDIS_REPLY_STRING
            && strcmp(reply->element[0]->str, "message") == 0
            && reply->element[2]->type == REDIS_REPLY_STRING)
        {
            micro_watcher_message(w, reply->element[2]->str,
                                  reply->element[2]->len);
        }
        freeReplyObject(reply);
    }

lost:
    micro_log_warn("registry watch: connection to redis at %s lost: %s",
                   micro_registry_where(micro_registry_options(w->r)),
                   w->sub->errstr[0] ? w->sub->errstr : "closed");
    w->warned = 1;
    redisFree(w->sub);
    w->sub = NULL;
    w->next_retry = micro_now_ms();
}


/* Connects, reaps or waits, as the clock says; never past until. */
static void
micro_watcher_step(micro_watcher_t *w, int64_t until)
{
    int             rc;
    char            drain[16];
    int64_t         now, wait_until;
    struct pollfd   pfd[2];

    now = micro_now_ms();

    if (w->sub == NULL && now >= w->next_retry) {
        rc = micro_watcher_connect(w);
        if (rc == MICRO_OK) {
            if (w->warned) {
                micro_log_warn("registry watch: reconnected to redis");
            }
            w->warned = 0;
            w->backoff_ms = MICRO_WATCH_BACKOFF_MIN;
            w->next_reap = now + MICRO_WATCH_REAP_MS;
            return;
        }
        if (!w->warned) {
            micro_log_warn("registry watch: %s; retrying",
                           micro_error_detail());
            w->warned = 1;
        }
        w->next_retry = now + w->backoff_ms;
        w->backoff_ms *= 2;
        if (w->backoff_ms > MICRO_WATCH_BACKOFF_MAX) {
            w->backoff_ms = MICRO_WATCH_BACKOFF_MAX;
        }
    }

    if (w->sub && now >= w->next_reap) {
        micro_registry_reap(w->r);      /* deletes come back as events */
        micro_watcher_expire(w, now);
        w->next_reap = now + MICRO_WATCH_REAP_MS;
    }

    wait_until = w->sub ? w->next_reap : w->next_retry;
    if (until >= 0 && until < wait_until) {
        wait_until = until;
    }

    pfd[0].fd = w->wake[0];
    pfd[0].events = POLLIN;
    pfd[1].fd = w->sub ? w->sub->fd : -1;
    pfd[1].events = POLLIN;
    pfd[0].revents = pfd[1].revents = 0;

    if (poll(pfd, 2, wait_until > now ? (int) (wait_until - now) : 0) <= 0) {
        return;
    }
    if (pfd[0].revents) {
        while (read(w->wake[0], drain, sizeof(drain)) > 0) { /* void */ }
    }
    if (pfd[1].revents) {
        micro_watcher_read(w);
    }
}


int
micro_watcher_next(micro_watcher_t *w, micro_watch_event_t *ev,
    int timeout_ms)
{
    int64_t  until;

    until = timeout_ms < 0 ? -1 : micro_now_ms() + timeout_ms;

    for ( ;; ) {
        if (w->stopped) {
            return MICRO_ECLOSED;
        }
        if (w->qhead < w->qlen) {
            *ev = w->queue[w->qhead++];
            return MICRO_OK;
        }
        if (until >= 0 && micro_now_ms() >= until) {
            return MICRO_ETIMEDOUT;
        }
        micro_watcher_step(w, until);
    }
}
