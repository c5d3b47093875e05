/*
 * A registry cache kept current by a watcher thread: the whole registry in
 * memory, so selecting a node costs no Redis round trip. When Redis is
 * down the cache keeps what it has (stale beats empty) and resyncs when it
 * comes back.
 */

#ifndef MICRO_CACHE_H
#define MICRO_CACHE_H

#include <stdint.h>

#include "micro/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct micro_cache_s  micro_cache_t;

/* r must outlive the cache. Starts the watcher thread. */
int micro_cache_new(micro_registry_t *r, micro_cache_t **c);
void micro_cache_free(micro_cache_t *c);

/* Waits until the first full load is in; MICRO_ETIMEDOUT otherwise. */
int micro_cache_wait(micro_cache_t *c, int timeout_ms);

/* A copy of a service's nodes, one entry per version; MICRO_ENOTFOUND. */
int micro_cache_get(micro_cache_t *c, const char *name,
    micro_service_list_t *out);

/* Bumped on every change; lets a caller wait for one. */
uint64_t micro_cache_generation(micro_cache_t *c);

#ifdef __cplusplus
}
#endif

#endif
