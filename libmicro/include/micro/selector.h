/*
 * Choosing a node of a service: strategies, filters and marking of failed
 * nodes, over a registry cache (no Redis round trip per selection).
 *
 * random picks uniformly among the candidate nodes of all versions.
 * round_robin rotates through them across calls (go-micro's restarted at a
 * random index on every call, so it only rotated within one call's retries).
 * A node that fails mark_threshold times in a row is put aside for
 * mark_cooldown_ms (go-micro's blacklist: 3 failures, 30 s); a success
 * clears its count.
 */

#ifndef MICRO_SELECTOR_H
#define MICRO_SELECTOR_H

#include "micro/cache.h"
#include "micro/service.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MICRO_STRATEGY_RANDOM = 0,
    MICRO_STRATEGY_ROUND_ROBIN
} micro_strategy_t;

typedef struct {
    micro_strategy_t    strategy;           /* default random */
    int                 mark_threshold;     /* default 3; 0 means default */
    int                 mark_cooldown_ms;   /* default 30000 */
} micro_selector_options_t;

/* Every set member must match; NULL members and a NULL filter match all. */
typedef struct {
    const char          *version;    /* the service's version */
    const char          *endpoint;   /* the service has this endpoint */
    const micro_pair_t  *labels;     /* node metadata key == value */
    size_t               nlabels;
} micro_select_filter_t;

typedef struct {
    char                 id[MICRO_NAME_MAX + 1];
    char                 address[MICRO_NAME_MAX + 1];
    char                 version[MICRO_VERSION_MAX + 1];
} micro_selected_t;

typedef struct micro_selector_s  micro_selector_t;

/* c must outlive the selector; opts may be NULL for the defaults. */
int micro_selector_new(micro_cache_t *c, const micro_selector_options_t *opts,
    micro_selector_t **s);
void micro_selector_free(micro_selector_t *s);

/*
 * Picks a node. MICRO_ENOTFOUND: the service has no nodes at all;
 * MICRO_ENONODE: it has nodes, but none passes the filter or all are
 * marked. Thread-safe.
 */
int micro_selector_select(micro_selector_t *s, const char *service,
    const micro_select_filter_t *filter, micro_selected_t *out);

/* Reports the outcome of a call to a node: failed != 0 counts a failure. */
void micro_selector_mark(micro_selector_t *s, const char *service,
    const char *node_id, int failed);

/* Forgets every mark of a service. */
void micro_selector_reset(micro_selector_t *s, const char *service);

/* "random" | "round_robin" (also "roundrobin"). */
int micro_strategy_parse(const char *name, micro_strategy_t *out);
const char *micro_strategy_name(micro_strategy_t strategy);

#ifdef __cplusplus
}
#endif

#endif
