/* Internal: what the registry shares with its watchers. */

#ifndef MICRO_REGISTRY_INTERNAL_H
#define MICRO_REGISTRY_INTERNAL_H

#include "micro/registry.h"
#include "core/map.h"

/* The watch channel name, P"registry:watch". */
const char *micro_registry_channel(micro_registry_t *r);

/* micro_registry_dump(), with each entry's ms left in lives ("name id" ->
 * malloc'd int64_t, -1: no expiry). */
int micro_registry_dump_lives(micro_registry_t *r, micro_service_list_t *out,
    micro_map_t *lives);

#endif
