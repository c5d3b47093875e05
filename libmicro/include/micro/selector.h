/*
 * Choosing a node of a service for the C client: micro_select (select.h)
 * over the registry cache (no Redis round trip per selection), with the
 * selector's own node table, so the client has every strategy, weights,
 * filters and marking that the gateway has, by the same rules.
 *
 * go-micro's round robin restarted at a random index on every call, so it
 * only rotated within one call's retries; this one rotates across calls.
 */

#ifndef MICRO_SELECTOR_H
#define MICRO_SELECTOR_H

#include <stdint.h>

#include "micro/cache.h"
#include "micro/select.h"
#include "micro/service.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    micro_strategy_t       strategy;         /* default random */
    micro_nodes_options_t  nodes;            /* max_fails, fail_timeout */
    const micro_weight_t  *weights;          /* versions by weight, or */
    size_t                 nweights;         /* NULL; must outlive it */
} micro_selector_options_t;

typedef struct {
    char                 id[MICRO_NAME_MAX + 1];
    char                 address[MICRO_NAME_MAX + 1];
    char                 version[MICRO_VERSION_MAX + 1];
    micro_node_state_t        *node;               /* for micro_selector_done */
    unsigned             protocols;          /* MICRO_PROTOCOL_* */
    int64_t              started_us;
} micro_selected_t;

typedef struct micro_selector_s  micro_selector_t;

/* c must outlive the selector; opts may be NULL for the defaults. */
int micro_selector_new(micro_cache_t *c, const micro_selector_options_t *opts,
    micro_selector_t **s);
void micro_selector_free(micro_selector_t *s);

/*
 * Picks a node other than the tried addresses and counts a call to it in
 * flight; every successful select is paired with micro_selector_done.
 * MICRO_ENOTFOUND: the service has no nodes at all; MICRO_ENONODE: it has
 * nodes, but none passes the filter, all were tried or are put aside.
 * Thread-safe.
 */
int micro_selector_select(micro_selector_t *s, const char *service,
    const micro_select_filter_t *filter, const char *const *tried,
    size_t ntried, micro_selected_t *out);

/* The call to the node ended: failed != 0 counts a failure. */
void micro_selector_done(micro_selector_t *s, micro_selected_t *sel,
    int failed);

/* Forgets every failure and mark. */
void micro_selector_reset(micro_selector_t *s);

#ifdef __cplusplus
}
#endif

#endif
