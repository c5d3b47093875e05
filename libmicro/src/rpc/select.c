/* Node selection over a service's entries, with caller-owned node state. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "micro/error.h"
#include "micro/select.h"
#include "core/clock.h"
#include "core/map.h"

#define MICRO_SELECT_STACK   256        /* candidates kept on the stack */
#define MICRO_EWMA_TAU_US    10e6       /* 10 s, as Finagle */

struct micro_node_state_s {
    unsigned             inflight;
    int                  failures;      /* in a row */
    int64_t              aside_until;   /* ms, 0 if not put aside */
    double               ewma;          /* us */
    int64_t              stamp;         /* us, of the last sample */
};

struct micro_nodes_s {
    micro_nodes_options_t  opts;
    micro_map_t            nodes;       /* address -> micro_node_state_t */
    micro_map_t            counters;    /* service -> round robin uint64 */
    int64_t                aside_until; /* the latest of any node's */
    uint64_t               rng;
};

typedef struct {
    micro_nodes_t                   *nodes;
    const char                      *service;
    const micro_snapshot_service_t  *svc;
    const micro_select_t            *how;
    int64_t                          now_us;
} micro_select_ctx_t;


int
micro_nodes_new(const micro_nodes_options_t *opts, micro_nodes_t **out)
{
    micro_nodes_t  *n;

    n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return MICRO_ENOMEM;
    }
    if (opts) {
        n->opts = *opts;
    }
    if (n->opts.max_fails == 0) {
        n->opts.max_fails = 3;
    }
    if (n->opts.fail_timeout_ms <= 0) {
        n->opts.fail_timeout_ms = 30000;
    }
    n->rng = ((uint64_t) micro_now_us() << 16) ^ (uint64_t) getpid()
             ^ (uint64_t) (uintptr_t) n;
    n->rng |= 1;
    *out = n;
    return MICRO_OK;
}


void
micro_nodes_free(micro_nodes_t *n)
{
    if (n == NULL) {
        return;
    }
    micro_map_free_all(&n->nodes);
    micro_map_free_all(&n->counters);
    free(n);
}


/* Uniform in [0, k): xorshift64* scaled by multiplication. */
static size_t
micro_nodes_random(micro_nodes_t *n, size_t k)
{
    uint64_t  x = n->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    n->rng = x;
    x *= 0x2545F4914F6CDD1DULL;
    return (size_t) (((unsigned __int128) x * k) >> 64);
}


static uint64_t
micro_nodes_next(micro_nodes_t *n, const char *service)
{
    uint64_t  *counter;

    counter = micro_map_get(&n->counters, service);
    if (counter == NULL) {
        counter = calloc(1, sizeof(*counter));
        if (counter == NULL
            || micro_map_set(&n->counters, service, counter) != MICRO_OK)
        {
            free(counter);
            return micro_nodes_random(n, SIZE_MAX);
        }
    }
    return (*counter)++;
}


/* A node's state now: up, busy (at max_inflight) or put aside. */
typedef enum {
    MICRO_NODE_UP = 0,
    MICRO_NODE_BUSY,
    MICRO_NODE_ASIDE
} micro_node_status_t;


static micro_node_status_t
micro_node_status(micro_nodes_t *n, const micro_node_state_t *node,
    int64_t now_ms)
{
    if (node == NULL) {
        return MICRO_NODE_UP;
    }
    if (node->aside_until && node->aside_until > now_ms) {
        return MICRO_NODE_ASIDE;
    }
    if (n->opts.max_inflight && node->inflight >= n->opts.max_inflight) {
        return MICRO_NODE_BUSY;
    }
    return MICRO_NODE_UP;
}


/* Nothing put aside and no limit: every node is up, no lookup needed. */
static int
micro_nodes_all_up(micro_nodes_t *n, int64_t now_ms)
{
    return n->opts.max_inflight == 0
           && (n->aside_until == 0 || n->aside_until <= now_ms);
}


static int
micro_select_label(const micro_service_t *e, const micro_pair_t *label)
{
    const char  *v;

    v = strcmp(label->key, "version") == 0
        ? (e->version ? e->version : "")
        : micro_metadata_get(&e->nodes[0].metadata, label->key);
    return v != NULL && strcmp(v, label->value) == 0;
}


static int
micro_select_match(const micro_service_t *e, const micro_select_filter_t *f)
{
    size_t  i;

    if (f->version && strcmp(e->version ? e->version : "", f->version) != 0) {
        return 0;
    }
    if (f->endpoint) {
        for (i = 0; i < e->nendpoints; i++) {
            if (e->endpoints[i].name
                && strcmp(e->endpoints[i].name, f->endpoint) == 0)
            {
                break;
            }
        }
        if (i == e->nendpoints) {
            return 0;
        }
    }
    for (i = 0; i < f->nlabels; i++) {
        if (!micro_select_label(e, &f->labels[i])) {
            return 0;
        }
    }
    return 1;
}


/* Passes the filters, is of version (unless NULL), was not tried. */
static int
micro_select_qualifies(const micro_select_ctx_t *x, const micro_service_t *e,
    const char *version)
{
    size_t                 i;
    const micro_select_t  *how = x->how;

    if (version && strcmp(e->version ? e->version : "", version) != 0) {
        return 0;
    }
    for (i = 0; i < how->nfilters; i++) {
        if (!micro_select_match(e, &how->filters[i])) {
            return 0;
        }
    }
    for (i = 0; i < how->ntried; i++) {
        if (strcmp(e->nodes[0].address, how->tried[i]) == 0) {
            return 0;
        }
    }
    return 1;
}


/*
 * Peak EWMA's cost: the latency average, decayed for the time since its
 * last sample (so a node avoided for being slow is tried again in time),
 * times the calls in flight plus one. A node never called costs least.
 */
static double
micro_node_cost(const micro_node_state_t *node, int64_t now_us)
{
    double  w;

    if (node == NULL) {
        return 0;
    }
    w = exp(-(double) (now_us - node->stamp) / MICRO_EWMA_TAU_US);
    return (node->ewma * w + 1) * (node->inflight + 1);
}


/* Of two candidates, the one with fewer calls in flight or lower cost. */
static size_t
micro_select_better(const micro_select_ctx_t *x, size_t a, size_t b)
{
    const micro_node_state_t  *na, *nb;

    na = micro_map_get(&x->nodes->nodes, x->svc->entries[a].nodes[0].address);
    nb = micro_map_get(&x->nodes->nodes, x->svc->entries[b].nodes[0].address);
    if (x->how->strategy == MICRO_STRATEGY_LEAST_INFLIGHT) {
        return (nb ? nb->inflight : 0) < (na ? na->inflight : 0) ? b : a;
    }
    return micro_node_cost(nb, x->now_us) < micro_node_cost(na, x->now_us)
           ? b : a;
}


/* One of k candidates (entry indexes in cand) by the strategy. */
static size_t
micro_select_among(const micro_select_ctx_t *x, const size_t *cand, size_t k)
{
    size_t          a, b;
    micro_nodes_t  *n = x->nodes;

    switch (x->how->strategy) {
    case MICRO_STRATEGY_ROUND_ROBIN:
        return cand[micro_nodes_next(n, x->service) % k];
    case MICRO_STRATEGY_LEAST_INFLIGHT:
    case MICRO_STRATEGY_PEAK_EWMA:
        if (k == 1) {
            return cand[0];
        }
        a = micro_nodes_random(n, k);
        b = micro_nodes_random(n, k - 1);
        b += b >= a;                          /* two distinct ones */
        return micro_select_better(x, cand[a], cand[b]);
    default:
        return cand[micro_nodes_random(n, k)];
    }
}


/*
 * A node of version (NULL: any) by the strategy: among those up, else
 * (use_busy) among the busy, else (use_aside) among those put aside.
 */
static int
micro_select_version(const micro_select_ctx_t *x, const char *version,
    size_t *index)
{
    int                     rc = MICRO_OK;
    size_t                  i, k, len, count[3], stack[3 * MICRO_SELECT_STACK];
    size_t                 *cand, *group[3];
    int64_t                 now_ms = x->now_us / 1000;
    micro_nodes_t          *n = x->nodes;
    const micro_service_t  *e;
    micro_node_status_t     st;

    len = x->svc->len;

    /* the common case: every node a candidate, no lookup */
    if (version == NULL && x->how->nfilters == 0 && x->how->ntried == 0
        && micro_nodes_all_up(n, now_ms)
        && x->how->strategy != MICRO_STRATEGY_LEAST_INFLIGHT
        && x->how->strategy != MICRO_STRATEGY_PEAK_EWMA)
    {
        *index = x->how->strategy == MICRO_STRATEGY_ROUND_ROBIN
                 ? micro_nodes_next(n, x->service) % len
                 : micro_nodes_random(n, len);
        return MICRO_OK;
    }

    cand = len <= MICRO_SELECT_STACK ? stack
                                     : malloc(3 * len * sizeof(size_t));
    if (cand == NULL) {
        return MICRO_ENOMEM;
    }
    for (k = 0; k < 3; k++) {
        group[k] = cand + k * len;
        count[k] = 0;
    }

    for (i = 0; i < len; i++) {
        e = &x->svc->entries[i];
        if (!micro_select_qualifies(x, e, version)) {
            continue;
        }
        st = micro_nodes_all_up(n, now_ms)
             ? MICRO_NODE_UP
             : micro_node_status(n, micro_map_get(&n->nodes,
                                                  e->nodes[0].address),
                                 now_ms);
        group[st][count[st]++] = i;
    }

    if (count[MICRO_NODE_UP]) {
        *index = micro_select_among(x, group[MICRO_NODE_UP],
                                    count[MICRO_NODE_UP]);
    } else if (x->how->use_busy && count[MICRO_NODE_BUSY]) {
        *index = micro_select_among(x, group[MICRO_NODE_BUSY],
                                    count[MICRO_NODE_BUSY]);
    } else if (x->how->use_aside && count[MICRO_NODE_ASIDE]) {
        *index = micro_select_among(x, group[MICRO_NODE_ASIDE],
                                    count[MICRO_NODE_ASIDE]);
    } else if (count[MICRO_NODE_BUSY]) {
        rc = MICRO_EBUSY;
    } else {
        rc = MICRO_ENONODE;
    }
    if (cand != stack) {
        free(cand);
    }
    return rc;
}


/* Does version have a candidate up? */
static int
micro_select_version_up(const micro_select_ctx_t *x, const char *version)
{
    size_t                  i;
    int64_t                 now_ms = x->now_us / 1000;
    const micro_service_t  *e;

    for (i = 0; i < x->svc->len; i++) {
        e = &x->svc->entries[i];
        if (micro_select_qualifies(x, e, version)
            && (micro_nodes_all_up(x->nodes, now_ms)
                || micro_node_status(x->nodes,
                                     micro_map_get(&x->nodes->nodes,
                                                   e->nodes[0].address),
                                     now_ms)
                   == MICRO_NODE_UP))
        {
            return 1;
        }
    }
    return 0;
}


/* A version drawn by weight among those with a node up; NULL if none. */
static const char *
micro_select_weighted(const micro_select_ctx_t *x)
{
    size_t                 i, k;
    uint64_t               total, pick;
    unsigned               w[16];
    const micro_select_t  *how = x->how;

    k = how->nweights < 16 ? how->nweights : 16;
    total = 0;
    for (i = 0; i < k; i++) {
        w[i] = micro_select_version_up(x, how->weights[i].version)
               ? how->weights[i].weight : 0;
        total += w[i];
    }
    if (total == 0) {
        return NULL;
    }
    pick = micro_nodes_random(x->nodes, total);
    for (i = 0; pick >= w[i]; i++) {
        pick -= w[i];
    }
    return how->weights[i].version;
}


int
micro_select(micro_nodes_t *n, const char *service,
    const micro_snapshot_service_t *svc, const micro_select_t *how,
    size_t *index)
{
    const char          *version;
    micro_select_ctx_t   x;

    if (svc == NULL || svc->len == 0) {
        return MICRO_ENOTFOUND;
    }
    x.nodes = n;
    x.service = service;
    x.svc = svc;
    x.how = how;
    x.now_us = micro_now_us();

    if (how->nweights) {
        version = micro_select_weighted(&x);
        if (version && micro_select_version(&x, version, index) == MICRO_OK)
        {
            return MICRO_OK;
        }
    }
    return micro_select_version(&x, NULL, index);
}


micro_node_state_t *
micro_nodes_start(micro_nodes_t *n, const char *address)
{
    micro_node_state_t  *node;

    node = micro_map_get(&n->nodes, address);
    if (node == NULL) {
        node = calloc(1, sizeof(*node));
        if (node == NULL
            || micro_map_set(&n->nodes, address, node) != MICRO_OK)
        {
            free(node);
            return NULL;
        }
    }
    node->inflight++;
    return node;
}


/* A call's latency: a peak counts at once, lower ones as time passes. */
static void
micro_node_sample(micro_node_state_t *node, int64_t latency_us)
{
    double   w, rtt = (double) latency_us;
    int64_t  now = micro_now_us();

    if (rtt > node->ewma) {
        node->ewma = rtt;
    } else {
        w = exp(-(double) (now - node->stamp) / MICRO_EWMA_TAU_US);
        node->ewma = node->ewma * w + rtt * (1 - w);
    }
    node->stamp = now;
}


int
micro_nodes_end(micro_nodes_t *n, micro_node_state_t *node, int failed,
    int64_t latency_us)
{
    if (node == NULL) {
        return 0;
    }
    if (node->inflight) {
        node->inflight--;
    }
    if (failed < 0) {
        return 0;
    }
    if (failed == 0) {
        node->failures = 0;
        if (latency_us >= 0) {
            micro_node_sample(node, latency_us);
        }
        return 0;
    }
    if (n->opts.max_fails < 0 || ++node->failures < n->opts.max_fails) {
        return 0;
    }
    node->failures = 0;
    node->aside_until = micro_now_us() / 1000 + n->opts.fail_timeout_ms;
    if (node->aside_until > n->aside_until) {
        n->aside_until = node->aside_until;
    }
    return 1;
}


unsigned
micro_nodes_inflight(micro_nodes_t *n, const char *address)
{
    micro_node_state_t  *node = micro_map_get(&n->nodes, address);

    return node ? node->inflight : 0;
}


int
micro_nodes_aside(micro_nodes_t *n, const char *address)
{
    micro_node_state_t  *node = micro_map_get(&n->nodes, address);

    return node != NULL
           && micro_node_status(n, node, micro_now_us() / 1000)
              == MICRO_NODE_ASIDE;
}


void
micro_nodes_reset(micro_nodes_t *n)
{
    size_t         i;
    micro_node_state_t  *node;

    for (i = 0; i < n->nodes.cap; i++) {
        if (micro_map_live(&n->nodes, i)) {
            node = n->nodes.slots[i].value;
            node->failures = 0;
            node->aside_until = 0;
        }
    }
    n->aside_until = 0;
}


int
micro_strategy_parse(const char *name, micro_strategy_t *out)
{
    if (strcmp(name, "random") == 0) {
        *out = MICRO_STRATEGY_RANDOM;
    } else if (strcmp(name, "round_robin") == 0
               || strcmp(name, "roundrobin") == 0)
    {
        *out = MICRO_STRATEGY_ROUND_ROBIN;
    } else if (strcmp(name, "least_inflight") == 0) {
        *out = MICRO_STRATEGY_LEAST_INFLIGHT;
    } else if (strcmp(name, "peak_ewma") == 0) {
        *out = MICRO_STRATEGY_PEAK_EWMA;
    } else {
        return micro_error_set(MICRO_EINVAL, "unknown selector strategy "
                               "\"%s\"", name);
    }
    return MICRO_OK;
}


const char *
micro_strategy_name(micro_strategy_t strategy)
{
    static const char  *names[] = {
        "random", "round_robin", "least_inflight", "peak_ewma"
    };

    return (unsigned) strategy < 4 ? names[strategy] : "random";
}
