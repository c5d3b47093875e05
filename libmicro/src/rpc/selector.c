/* The client's selector: micro_select over the registry cache. */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/selector.h"
#include "registry/cache_internal.h"
#include "core/clock.h"

struct micro_selector_s {
    micro_cache_t             *cache;
    micro_selector_options_t   opts;
    micro_nodes_t             *nodes;
    pthread_mutex_t            lock;
};


int
micro_selector_new(micro_cache_t *c, const micro_selector_options_t *opts,
    micro_selector_t **out)
{
    int                rc;
    micro_selector_t  *s;

    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return MICRO_ENOMEM;
    }
    s->cache = c;
    if (opts) {
        s->opts = *opts;
    }
    rc = micro_nodes_new(&s->opts.nodes, &s->nodes);
    if (rc != MICRO_OK) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return MICRO_OK;
}


void
micro_selector_free(micro_selector_t *s)
{
    if (s == NULL) {
        return;
    }
    micro_nodes_free(s->nodes);
    pthread_mutex_destroy(&s->lock);
    free(s);
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


int
micro_selector_select(micro_selector_t *s, const char *service,
    const micro_select_filter_t *filter, const char *const *tried,
    size_t ntried, micro_selected_t *out)
{
    int                              rc;
    size_t                           i;
    micro_select_t                   how;
    const micro_service_t           *e;
    const micro_snapshot_service_t  *cs;

    memset(&how, 0, sizeof(how));
    how.strategy = s->opts.strategy;
    how.filters = filter;
    how.nfilters = filter ? 1 : 0;
    how.weights = s->opts.weights;
    how.nweights = s->opts.nweights;
    how.tried = tried;
    how.ntried = ntried;

    pthread_mutex_lock(&s->lock);
    micro_cache_rdlock(s->cache);

    cs = micro_cache_lookup(s->cache, service);
    rc = micro_select(s->nodes, service, cs, &how, &i);
    if (rc == MICRO_OK) {
        e = &cs->entries[i];
        micro_copy_str(out->id, sizeof(out->id), e->nodes[0].id);
        micro_copy_str(out->address, sizeof(out->address),
                       e->nodes[0].address);
        micro_copy_str(out->version, sizeof(out->version), e->version);
        out->protocols = micro_node_protocols(&e->nodes[0]);
        out->node = micro_nodes_start(s->nodes, out->address);
        out->started_us = micro_now_us();
    } else if (rc == MICRO_ENOTFOUND) {
        rc = micro_error_set(MICRO_ENOTFOUND, "service \"%s\" not found",
                             service);
    } else if (rc == MICRO_ENONODE) {
        rc = micro_error_set(MICRO_ENONODE, "service \"%s\": no node "
                             "available", service);
    }

    micro_cache_unlock(s->cache);
    pthread_mutex_unlock(&s->lock);
    return rc;
}


void
micro_selector_done(micro_selector_t *s, micro_selected_t *sel, int failed)
{
    pthread_mutex_lock(&s->lock);
    micro_nodes_end(s->nodes, sel->node, failed,
                    micro_now_us() - sel->started_us);
    sel->node = NULL;
    pthread_mutex_unlock(&s->lock);
}


void
micro_selector_reset(micro_selector_t *s)
{
    pthread_mutex_lock(&s->lock);
    micro_nodes_reset(s->nodes);
    pthread_mutex_unlock(&s->lock);
}
