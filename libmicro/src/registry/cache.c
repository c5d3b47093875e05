/* The watch-driven registry cache. */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "micro/error.h"
#include "micro/watch.h"
#include "registry/cache_internal.h"

struct micro_cache_s {
    micro_watcher_t    *watcher;
    pthread_t           thread;
    pthread_rwlock_t    rwlock;
    pthread_mutex_t     ready_lock;
    pthread_cond_t      ready_cond;
    int                 ready;
    uint64_t            generation;
    micro_snapshot_t   *snapshot;
};


static void
micro_cache_set_ready(micro_cache_t *c)
{
    pthread_mutex_lock(&c->ready_lock);
    c->ready = 1;
    pthread_cond_broadcast(&c->ready_cond);
    pthread_mutex_unlock(&c->ready_lock);
}


static void *
micro_cache_run(void *arg)
{
    int                   rc;
    micro_cache_t        *c = arg;
    micro_watch_event_t   ev;

    for ( ;; ) {
        rc = micro_watcher_next(c->watcher, &ev, 1000);
        if (rc == MICRO_ECLOSED) {
            break;
        }
        if (rc == MICRO_OK) {
            pthread_rwlock_wrlock(&c->rwlock);
            micro_snapshot_apply(c->snapshot, ev.action, &ev.service);
            __atomic_add_fetch(&c->generation, 1, __ATOMIC_RELEASE);
            pthread_rwlock_unlock(&c->rwlock);
        }
        if (!c->ready && micro_watcher_synced(c->watcher)
            && micro_watcher_pending(c->watcher) == 0)
        {
            micro_cache_set_ready(c);
        }
    }
    return NULL;
}


int
micro_cache_new(micro_registry_t *r, micro_cache_t **out)
{
    int                  rc;
    micro_cache_t       *c;
    pthread_condattr_t   attr;

    c = calloc(1, sizeof(*c));
    if (c == NULL || micro_snapshot_new(&c->snapshot) != MICRO_OK) {
        free(c);
        return MICRO_ENOMEM;
    }
    rc = micro_watcher_new(r, MICRO_WATCH_INITIAL, &c->watcher);
    if (rc != MICRO_OK) {
        micro_snapshot_free(c->snapshot);
        free(c);
        return rc;
    }
    pthread_rwlock_init(&c->rwlock, NULL);
    pthread_mutex_init(&c->ready_lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->ready_cond, &attr);
    pthread_condattr_destroy(&attr);

    if (pthread_create(&c->thread, NULL, micro_cache_run, c) != 0) {
        micro_watcher_free(c->watcher);
        free(c);
        return micro_error_set(MICRO_ENOMEM, "cannot start cache thread");
    }
    *out = c;
    return MICRO_OK;
}


void
micro_cache_free(micro_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    micro_watcher_stop(c->watcher);
    pthread_join(c->thread, NULL);
    micro_watcher_free(c->watcher);
    micro_snapshot_free(c->snapshot);
    pthread_rwlock_destroy(&c->rwlock);
    pthread_mutex_destroy(&c->ready_lock);
    pthread_cond_destroy(&c->ready_cond);
    free(c);
}


int
micro_cache_wait(micro_cache_t *c, int timeout_ms)
{
    int              rc = 0;
    struct timespec  until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long) (timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }

    pthread_mutex_lock(&c->ready_lock);
    while (!c->ready && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&c->ready_cond, &c->ready_lock, &until);
    }
    rc = c->ready ? MICRO_OK
                  : micro_error_set(MICRO_ETIMEDOUT, "registry cache not "
                                    "loaded in %d ms", timeout_ms);
    pthread_mutex_unlock(&c->ready_lock);
    return rc;
}


int
micro_cache_get(micro_cache_t *c, const char *name, micro_service_list_t *out)
{
    int                              rc = MICRO_OK;
    size_t                           i;
    micro_service_t                  copy;
    const micro_snapshot_service_t  *cs;

    out->items = NULL;
    out->len = 0;

    pthread_rwlock_rdlock(&c->rwlock);
    cs = micro_snapshot_get(c->snapshot, name);
    for (i = 0; cs && i < cs->len && rc == MICRO_OK; i++) {
        rc = micro_service_copy(&copy, &cs->entries[i]);
        if (rc == MICRO_OK) {
            rc = micro_service_list_merge(out, &copy);
            if (rc != MICRO_OK) {
                micro_service_free(&copy);
            }
        }
    }
    pthread_rwlock_unlock(&c->rwlock);

    if (rc == MICRO_OK && out->len == 0) {
        rc = micro_error_set(MICRO_ENOTFOUND, "service \"%s\" not found",
                             name);
    }
    if (rc != MICRO_OK) {
        micro_service_list_free(out);
    }
    return rc;
}


uint64_t
micro_cache_generation(micro_cache_t *c)
{
    return __atomic_load_n(&c->generation, __ATOMIC_ACQUIRE);
}


void
micro_cache_rdlock(micro_cache_t *c)
{
    pthread_rwlock_rdlock(&c->rwlock);
}


void
micro_cache_unlock(micro_cache_t *c)
{
    pthread_rwlock_unlock(&c->rwlock);
}


const micro_snapshot_service_t *
micro_cache_lookup(micro_cache_t *c, const char *name)
{
    return micro_snapshot_get(c->snapshot, name);
}
