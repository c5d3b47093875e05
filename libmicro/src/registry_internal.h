/* Internal: what the registry shares with its watchers. */

#ifndef MICRO_REGISTRY_INTERNAL_H
#define MICRO_REGISTRY_INTERNAL_H

#include "micro/registry.h"

/* The watch channel name, P"registry:watch". */
const char *micro_registry_channel(micro_registry_t *r);

/*
 * Parses one registry entry (a service holding exactly one node) and
 * validates it. On failure warns "skipping ..." with where and the reason.
 */
int micro_registry_entry_parse(micro_service_t *s, const char *json,
    size_t len, const char *where);

#endif
