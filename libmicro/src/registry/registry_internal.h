/* Internal: what the registry shares with its watchers. */

#ifndef MICRO_REGISTRY_INTERNAL_H
#define MICRO_REGISTRY_INTERNAL_H

#include "micro/registry.h"

/* The watch channel name, P"registry:watch". */
const char *micro_registry_channel(micro_registry_t *r);

#endif
