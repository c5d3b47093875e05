/* Node selection over the registry cache. */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "micro/error.h"
#include "micro/selector.h"
#include "cache_internal.h"
#include "clock.h"
#include "map.h"

#define MICRO_SELECT_STACK  256       /* candidates kept on the stack */

typedef struct {
    int                 failures;
    int64_t             until;        /* put aside until, 0 if not */
} micro_mark_t;

struct micro_selector_s {
    micro_cache_t             *cache;
    micro_selector_options_t   opts;
    pthread_mutex_t            lock;
    uint64_t                   rng;
    micro_map_t                rr;       /* service -> uint64_t counter */
    micro_map_t                marks;    /* "service id" -> micro_mark_t */
};


int
micro_strategy_parse(const char *name, micro_strategy_t *out)
{
    if (strcmp(name, "random") == 0) {
        *out = MICRO_STRATEGY_RANDOM;
    } else if (strcmp(name, "round_robin") == 0
               || strcmp(name, "roundrobin") == 0)
    {
        *out = MICRO_STRATEGY_ROUND_ROBIN;
    } else {
        return micro_error_set(MICRO_EINVAL, "unknown selector strategy "
                               "\"%s\"", name);
    }
    return MICRO_OK;
}


const char *
micro_strategy_name(micro_strategy_t strategy)
{
    return strategy == MICRO_STRATEGY_ROUND_ROBIN ? "round_robin" : "random";
}


int
micro_selector_new(micro_cache_t *c, const micro_selector_options_t *opts,
    micro_selector_t **out)
{
    micro_selector_t  *s;

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return MICRO_ENOMEM;
    }
    s->cache = c;
    if (opts) {
        s->opts = *opts;
    }
    if (s->opts.mark_threshold <= 0) {
        s->opts.mark_threshold = 3;
    }
    if (s->opts.mark_cooldown_ms <= 0) {
        s->opts.mark_cooldown_ms = 30000;
    }
    s->rng = ((uint64_t) micro_now_ms() << 20) ^ (uint64_t) getpid()
             ^ (uint64_t) (uintptr_t) s;
    s->rng |= 1;
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return MICRO_OK;
}


static void
micro_map_free_values(micro_map_t *m)
{
    size_t  i;

    for (i = 0; i < m->cap; i++) {
        if (micro_map_live(m, i)) {
            free(m->slots[i].value);
        }
    }
    micro_map_free(m);
}


void
micro_selector_free(micro_selector_t *s)
{
    if (s == NULL) {
        return;
    }
    micro_map_free_values(&s->rr);
    micro_map_free_values(&s->marks);
    pthread_mutex_destroy(&s->lock);
    free(s);
}


/* Uniform in [0, n): xorshift64* scaled by multiplication. */
static size_t
micro_selector_random(micro_selector_t *s, size_t n)
{
    uint64_t  x = s->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s->rng = x;
    x *= 0x2545F4914F6CDD1DULL;
    return (size_t) (((unsigned __int128) x * n) >> 64);
}


static size_t
micro_selector_pick(micro_selector_t *s, const char *service, size_t n)
{
    uint64_t  *counter;

    if (s->opts.strategy == MICRO_STRATEGY_RANDOM) {
        return micro_selector_random(s, n);
    }
    counter = micro_map_get(&s->rr, service);
    if (counter == NULL) {
        counter = calloc(1, sizeof(*counter));
        if (counter == NULL || micro_map_set(&s->rr, service, counter) != 0) {
            free(counter);
            return micro_selector_random(s, n);
        }
    }
    return (size_t) ((*counter)++ % n);
}


static int
micro_selector_match(const micro_service_t *e,
    const micro_select_filter_t *f)
{
    size_t       i;
    const char  *v;

    if (f->version && strcmp(e->version ? e->version : "", f->version) != 0) {
        return 0;
    }
    if (f->endpoint) {
        for (i = 0; i < e->nendpoints; i++) {
            if (e->endpoints[i].name
                && strcmp(e->endpoints[i].name, f->endpoint) == 0)
            {
                break;
            }
        }
        if (i == e->nendpoints) {
            return 0;
        }
    }
    for (i = 0; i < f->nlabels; i++) {
        v = micro_metadata_get(&e->nodes[0].metadata, f->labels[i].key);
        if (v == NULL || strcmp(v, f->labels[i].value) != 0) {
            return 0;
        }
    }
    return 1;
}


/* 1 when the node is in its cool-down; forgets marks that ran out. */
static int
micro_selector_marked(micro_selector_t *s, const char *service,
    const char *id, int64_t now)
{
    char           key[2 * MICRO_NAME_MAX + 2];
    micro_mark_t  *m;

    snprintf(key, sizeof(key), "%s %s", service, id);
    m = micro_map_get(&s->marks, key);
    if (m == NULL || m->until == 0) {
        return 0;
    }
    if (m->until > now) {
        return 1;
    }
    free(micro_map_remove(&s->marks, key));
    return 0;
}


/* Entries were validated on the way in, so every string fits. */
static void
micro_copy_str(char *dst, size_t size, const char *src)
{
    size_t  len = src ? strnlen(src, size - 1) : 0;

    if (len) {
        memcpy(dst, src, len);
    }
    dst[len] = '\0';
}


static void
micro_selected_copy(micro_selected_t *out, const micro_service_t *e)
{
    micro_copy_str(out->id, sizeof(out->id), e->nodes[0].id);
    micro_copy_str(out->address, sizeof(out->address), e->nodes[0].address);
    micro_copy_str(out->version, sizeof(out->version), e->version);
}


int
micro_selector_select(micro_selector_t *s, const char *service,
    const micro_select_filter_t *filter, micro_selected_t *out)
{
    int                     rc = MICRO_OK;
    size_t                  i, n, stack[MICRO_SELECT_STACK], *cand;
    int64_t                 now;
    const micro_snapshot_service_t  *cs;

    pthread_mutex_lock(&s->lock);
    micro_cache_rdlock(s->cache);

    cs = micro_cache_lookup(s->cache, service);
    if (cs == NULL || cs->len == 0) {
        rc = micro_error_set(MICRO_ENOTFOUND, "service \"%s\" not found",
                             service);
        goto done;
    }

    /* The common case: nothing to filter, nothing marked. */
    if (filter == NULL && s->marks.len == 0) {
        micro_selected_copy(out, &cs->entries[
                                     micro_selector_pick(s, service, cs->len)]);
        goto done;
    }

    cand = cs->len <= MICRO_SELECT_STACK ? stack
                                         : malloc(cs->len * sizeof(size_t));
    if (cand == NULL) {
        rc = MICRO_ENOMEM;
        goto done;
    }
    now = micro_now_ms();
    for (i = 0, n = 0; i < cs->len; i++) {
        if ((filter == NULL || micro_selector_match(&cs->entries[i], filter))
            && (s->marks.len == 0
                || !micro_selector_marked(s, service,
                                          cs->entries[i].nodes[0].id, now)))
        {
            cand[n++] = i;
        }
    }
    if (n == 0) {
        rc = micro_error_set(MICRO_ENONODE, "service \"%s\": no node "
                             "available", service);
    } else {
        micro_selected_copy(out, &cs->entries[
                                     cand[micro_selector_pick(s, service, n)]]);
    }
    if (cand != stack) {
        free(cand);
    }

done:
    micro_cache_unlock(s->cache);
    pthread_mutex_unlock(&s->lock);
    return rc;
}


void
micro_selector_mark(micro_selector_t *s, const char *service,
    const char *node_id, int failed)
{
    char           key[2 * MICRO_NAME_MAX + 2];
    micro_mark_t  *m;

    snprintf(key, sizeof(key), "%s %s", service, node_id);

    pthread_mutex_lock(&s->lock);
    m = micro_map_get(&s->marks, key);
    if (!failed) {
        free(micro_map_remove(&s->marks, key));
    } else {
        if (m == NULL) {
            m = calloc(1, sizeof(*m));
            if (m == NULL || micro_map_set(&s->marks, key, m) != MICRO_OK) {
                free(m);
                goto done;
            }
        }
        if (++m->failures >= s->opts.mark_threshold) {
            m->until = micro_now_ms() + s->opts.mark_cooldown_ms;
            m->failures = 0;
        }
    }
done:
    pthread_mutex_unlock(&s->lock);
}


void
micro_selector_reset(micro_selector_t *s, const char *service)
{
    size_t  i, len;

    len = strlen(service);
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->marks.cap; i++) {
        if (micro_map_live(&s->marks, i)
            && strncmp(s->marks.slots[i].key, service, len) == 0
            && s->marks.slots[i].key[len] == ' ')
        {
            free(micro_map_remove(&s->marks, s->marks.slots[i].key));
        }
    }
    pthread_mutex_unlock(&s->lock);
}
