/*
 * The registry in memory: service name -> its live entries, each holding
 * one node. A plain data structure, no threads and no I/O: the cache (a
 * watcher thread) and the NGINX gateway (its event loop) each keep one
 * current by applying watch events to it.
 */

#ifndef MICRO_SNAPSHOT_H
#define MICRO_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "micro/service.h"
#include "micro/watch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* When an entry expires, on the reader's clock (ms). */
typedef struct {
    int64_t             expires_ms;  /* MICRO_SNAPSHOT_NEVER: no expiry */
    int                 carried;     /* gone from the registry, kept */
} micro_snapshot_life_t;

#define MICRO_SNAPSHOT_NEVER  INT64_MAX

typedef struct {
    micro_service_t         *entries;    /* each with exactly one node */
    micro_snapshot_life_t   *life;       /* one per entry */
    size_t                   len;
    size_t                   cap;
} micro_snapshot_service_t;

typedef struct micro_snapshot_s  micro_snapshot_t;

int micro_snapshot_new(micro_snapshot_t **s);
void micro_snapshot_free(micro_snapshot_t *s);

/*
 * Create and update upsert the entry's node (matched by name and node
 * id), delete removes it. Takes the entry over in every case.
 */
int micro_snapshot_apply(micro_snapshot_t *s, micro_watch_action_t action,
    micro_service_t *entry);

/* As apply, with when the entry expires (an upsert clears "carried"). */
int micro_snapshot_apply_until(micro_snapshot_t *s,
    micro_watch_action_t action, micro_service_t *entry, int64_t expires_ms);

/*
 * Stale beats empty: copies into to the entries of from that to lacks
 * (by service name and node id) and that have not expired at now_ms,
 * marked carried; one with no expiry is kept for keep_ms. For a reload
 * that finds the registry emptier than its own expiry says it should be
 * (Redis restarted empty). Returns how many were carried.
 */
size_t micro_snapshot_carry(micro_snapshot_t *to, const micro_snapshot_t *from,
    int64_t now_ms, int64_t keep_ms);

/* Removes the carried entries expired at now_ms; returns how many. */
size_t micro_snapshot_expire(micro_snapshot_t *s, int64_t now_ms);

/* NULL when the service has no nodes. Valid until the next change. */
const micro_snapshot_service_t *micro_snapshot_get(const micro_snapshot_t *s,
    const char *name);

/* Calls fn for every service; stops at the first non-zero return. */
int micro_snapshot_foreach(const micro_snapshot_t *s,
    int (*fn)(const char *name, const micro_snapshot_service_t *svc,
              void *data), void *data);

size_t micro_snapshot_size(const micro_snapshot_t *s);

#ifdef __cplusplus
}
#endif

#endif
