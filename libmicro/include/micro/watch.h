/*
 * Watching the registry: create, update and delete events, one node each.
 *
 * A watcher subscribes to the registry's channel on its own connection. When
 * the connection drops it reconnects with backoff and resyncs: it reads the
 * whole registry and reports what changed meanwhile as events, so a
 * consumer's view converges without a restart. It also runs the registry's
 * reaper every second, so expired nodes arrive as "delete" events.
 */

#ifndef MICRO_WATCH_H
#define MICRO_WATCH_H

#include "micro/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MICRO_WATCH_CREATE = 0,
    MICRO_WATCH_UPDATE,
    MICRO_WATCH_DELETE
} micro_watch_action_t;

typedef struct {
    micro_watch_action_t   action;
    micro_service_t        service;   /* the entry: exactly one node */
} micro_watch_event_t;

/* Report every node already registered as a "create" first. */
#define MICRO_WATCH_INITIAL  0x1

typedef struct micro_watcher_s  micro_watcher_t;

/* r must outlive the watcher. Does not connect; the first next() does. */
int micro_watcher_new(micro_registry_t *r, int flags, micro_watcher_t **w);

/*
 * Waits up to timeout_ms (-1: forever) for the next event. Returns 0 with
 * *ev filled (release it with micro_watch_event_free), MICRO_ETIMEDOUT, or
 * MICRO_ECLOSED after micro_watcher_stop(). Redis being down is not an
 * error here: the watcher keeps retrying and logs a warning once.
 */
int micro_watcher_next(micro_watcher_t *w, micro_watch_event_t *ev,
    int timeout_ms);

/* 1 while subscribed and in sync with Redis. */
int micro_watcher_synced(micro_watcher_t *w);

/* Events ready to be returned without waiting. */
size_t micro_watcher_pending(micro_watcher_t *w);

/* Wakes a blocked next(); safe from any thread or a signal handler. */
void micro_watcher_stop(micro_watcher_t *w);
void micro_watcher_free(micro_watcher_t *w);

void micro_watch_event_free(micro_watch_event_t *ev);
const char *micro_watch_action_name(micro_watch_action_t action);

#ifdef __cplusplus
}
#endif

#endif
