/*
 * Keeping a registration alive: a thread that re-registers the service
 * every TTL/3, so it expires only when the process is gone. After a failure
 * (Redis down or restarted empty) it retries every half second until the
 * registration is back.
 */

#ifndef MICRO_HEARTBEAT_H
#define MICRO_HEARTBEAT_H

#include "micro/registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct micro_heartbeat_s  micro_heartbeat_t;

/*
 * Registers s (copied) and starts the thread. The return value is that of
 * the first registration; the thread keeps trying even if it failed.
 * *hb is set whenever the thread started (check for NULL, not the code).
 */
int micro_heartbeat_start(micro_registry_t *r, const micro_service_t *s,
    int ttl_ms, micro_heartbeat_t **hb);

/* Number of successful registrations so far. */
unsigned long micro_heartbeat_count(micro_heartbeat_t *hb);

/* Stops the thread, deregisters if asked (returning that result), frees. */
int micro_heartbeat_stop(micro_heartbeat_t *hb, int deregister);

#ifdef __cplusplus
}
#endif

#endif
