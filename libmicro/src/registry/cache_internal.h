/* Internal: the cache's layout, read by the selector under the read lock. */

#ifndef MICRO_CACHE_INTERNAL_H
#define MICRO_CACHE_INTERNAL_H

#include "micro/cache.h"
#include "micro/snapshot.h"

void micro_cache_rdlock(micro_cache_t *c);
void micro_cache_unlock(micro_cache_t *c);

/* NULL when unknown; valid until micro_cache_unlock(). */
const micro_snapshot_service_t *micro_cache_lookup(micro_cache_t *c,
    const char *name);

#endif
