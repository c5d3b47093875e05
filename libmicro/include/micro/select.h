/*
 * Choosing a node of a service: the one implementation the NGINX gateway
 * and the C client share. No I/O and no locks: the caller passes the
 * service's entries (a snapshot's) and owns the node table that remembers
 * what it saw of each node (calls in flight, latency, failures), keyed by
 * the node's address. A gateway worker keeps one table; a client keeps
 * one under its lock.
 *
 * Strategies: random (uniform), round_robin (a counter a service, across
 * calls), least_inflight and peak_ewma (the power of two random choices:
 * of two candidates, the one with fewer calls in flight, or the lower
 * latency average times calls in flight, Finagle's peak EWMA).
 *
 * Candidates pass every filter, are not among the call's tried nodes and
 * are up: a node that failed max_fails times in a row is put aside for
 * fail_timeout (NGINX's max_fails/fail_timeout, go-micro's blacklist of 3
 * and 30 s), and one with max_inflight calls in flight is busy (NGINX's
 * max_conns): it takes no new call, so a node that hangs holds no more
 * than that.
 * With weights, a version is drawn by weight among those with a candidate,
 * and the strategy picks among its nodes.
 */

#ifndef MICRO_SELECT_H
#define MICRO_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include "micro/service.h"
#include "micro/snapshot.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MICRO_STRATEGY_RANDOM = 0,
    MICRO_STRATEGY_ROUND_ROBIN,
    MICRO_STRATEGY_LEAST_INFLIGHT,
    MICRO_STRATEGY_PEAK_EWMA
} micro_strategy_t;

/* Every set member must match; NULL members match all. */
typedef struct {
    const char          *version;    /* the service's version */
    const char          *endpoint;   /* the service has this endpoint */
    const micro_pair_t  *labels;     /* node metadata key == value; the
                                      * key "version" is the version */
    size_t               nlabels;
} micro_select_filter_t;

typedef struct {
    const char          *version;
    unsigned             weight;
} micro_weight_t;

typedef struct {
    int                  max_fails;       /* 0: the default, 3; -1 never */
    int                  fail_timeout_ms; /* 0: the default, 30000 */
    unsigned             max_inflight;    /* 0: no limit */
} micro_nodes_options_t;

typedef struct {
    micro_strategy_t              strategy;
    const micro_select_filter_t  *filters;   /* all must pass */
    size_t                        nfilters;
    const micro_weight_t         *weights;   /* NULL: versions alike */
    size_t                        nweights;
    const char *const            *tried;     /* addresses, this call's */
    size_t                        ntried;
    int                           use_aside; /* no node up: take one put
                                              * aside rather than none */
    int                           use_busy;  /* no node up: take a busy
                                              * one (a retry: the call is
                                              * already admitted) */
} micro_select_t;

typedef struct micro_nodes_s  micro_nodes_t;
typedef struct micro_node_state_s   micro_node_state_t;

int micro_nodes_new(const micro_nodes_options_t *opts, micro_nodes_t **out);
void micro_nodes_free(micro_nodes_t *n);

/*
 * A node of svc for a call, as svc->entries[*index]. MICRO_ENOTFOUND: svc
 * is NULL or empty; MICRO_EBUSY: every candidate is busy; MICRO_ENONODE:
 * no node is a candidate.
 */
int micro_select(micro_nodes_t *n, const char *service,
    const micro_snapshot_service_t *svc, const micro_select_t *how,
    size_t *index);

/*
 * A call to the node at address starts (NULL without memory) and ends:
 * failed > 0 counts toward max_fails, 0 (a success) clears the count,
 * < 0 does neither (the call says nothing of the node: a kept connection
 * it had closed); latency_us is a sample for peak_ewma (< 0: none, as
 * for a stream). micro_nodes_end returns 1 when this failure put the
 * node aside.
 */
micro_node_state_t *micro_nodes_start(micro_nodes_t *n, const char *address);
int micro_nodes_end(micro_nodes_t *n, micro_node_state_t *node, int failed,
    int64_t latency_us);

/* What the table knows of a node (0 for one never called). */
unsigned micro_nodes_inflight(micro_nodes_t *n, const char *address);
int micro_nodes_aside(micro_nodes_t *n, const char *address);

/* Forgets every failure and put-aside mark. */
void micro_nodes_reset(micro_nodes_t *n);

/* "random", "round_robin" (also "roundrobin"), "least_inflight",
 * "peak_ewma". */
int micro_strategy_parse(const char *name, micro_strategy_t *out);
const char *micro_strategy_name(micro_strategy_t strategy);

#ifdef __cplusplus
}
#endif

#endif
