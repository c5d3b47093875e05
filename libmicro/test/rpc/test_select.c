/*
 * micro_select over a snapshot built in memory: every strategy, weights,
 * filters, the tried set, marks and the in-flight limit. No Redis: the
 * selection has no I/O.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "micro/error.h"
#include "micro/select.h"
#include "micro/snapshot.h"
#include "redis_fixture.h"

#define SVC    "go.micro.srv.sel"
#define NODES  6

static micro_snapshot_t                *snap;
static const micro_snapshot_service_t  *svc;
static char                             addr[NODES][32];


/* n0-n2 version 1, n3-n5 version 2; even nodes zone=eu, odd zone=us. */
static int
setup(void **state)
{
    int              i;
    char             id[8];
    micro_service_t  s;

    (void) state;
    if (micro_snapshot_new(&snap) != MICRO_OK) {
        return -1;
    }
    for (i = 0; i < NODES; i++) {
        snprintf(id, sizeof(id), "n%d", i);
        snprintf(addr[i], sizeof(addr[i]), "127.0.0.1:%d", 9000 + i);
        micro_test_service(&s, SVC, i < 3 ? "1" : "2", id, 9000 + i);
        micro_metadata_set(&s.nodes[0].metadata, "zone",
                           i % 2 ? "us" : "eu");
        if (micro_snapshot_apply(snap, MICRO_WATCH_CREATE, &s) != MICRO_OK) {
            return -1;
        }
    }
    svc = micro_snapshot_get(snap, SVC);
    return svc && svc->len == NODES ? 0 : -1;
}


static int
teardown(void **state)
{
    (void) state;
    micro_snapshot_free(snap);
    return 0;
}


static micro_nodes_t *
nodes(int max_fails, int fail_timeout_ms, unsigned max_inflight)
{
    micro_nodes_t          *n;
    micro_nodes_options_t   o = { max_fails, fail_timeout_ms, max_inflight };

    assert_int_equal(micro_nodes_new(&o, &n), MICRO_OK);
    return n;
}


/* The node index (0-5) of a pick. */
static int
pick(micro_nodes_t *n, const micro_select_t *how)
{
    size_t  i;
    int     rc = micro_select(n, SVC, svc, how, &i);

    if (rc != MICRO_OK) {
        return rc;
    }
    return atoi(svc->entries[i].nodes[0].id + 1);
}


/* Counts of 6000 picks by node. */
static void
spread(micro_nodes_t *n, const micro_select_t *how, int *counts)
{
    int  i, k;

    memset(counts, 0, NODES * sizeof(int));
    for (i = 0; i < 6000; i++) {
        k = pick(n, how);
        assert_true(k >= 0 && k < NODES);
        counts[k]++;
    }
}


static void
test_random_and_round_robin(void **state)
{
    int              i, counts[NODES], first;
    micro_nodes_t   *n = nodes(0, 0, 0);
    micro_select_t   how = { .strategy = MICRO_STRATEGY_RANDOM };

    (void) state;
    /* 1000 expected each, sd 29: 10 sd either way never fails by chance */
    spread(n, &how, counts);
    for (i = 0; i < NODES; i++) {
        assert_in_range(counts[i], 700, 1300);
    }

    how.strategy = MICRO_STRATEGY_ROUND_ROBIN;
    first = pick(n, &how);
    for (i = 1; i < 3 * NODES; i++) {
        assert_int_equal(pick(n, &how), (first + i) % NODES);
    }
    assert_int_equal(micro_select(n, SVC, NULL, &how, (size_t *) &i),
                     MICRO_ENOTFOUND);
    micro_nodes_free(n);
}


static void
test_least_inflight(void **state)
{
    int                  i, counts[NODES];
    micro_nodes_t       *n = nodes(0, 0, 0);
    micro_node_state_t  *busy[4];
    micro_select_t       how = { .strategy = MICRO_STRATEGY_LEAST_INFLIGHT };

    (void) state;
    /* n0 has 4 calls in flight, n1 one, the others none */
    for (i = 0; i < 4; i++) {
        busy[i] = micro_nodes_start(n, addr[0]);
    }
    micro_nodes_start(n, addr[1]);
    assert_int_equal(micro_nodes_inflight(n, addr[0]), 4);

    /* n0 loses every pair it is in: never picked */
    spread(n, &how, counts);
    assert_int_equal(counts[0], 0);
    assert_true(counts[1] < counts[2]);

    for (i = 0; i < 4; i++) {
        micro_nodes_end(n, busy[i], 0, -1);
    }
    assert_int_equal(micro_nodes_inflight(n, addr[0]), 0);
    spread(n, &how, counts);
    assert_true(counts[0] > 0);
    micro_nodes_free(n);
}


static void
test_peak_ewma(void **state)
{
    int                  i, counts[NODES];
    micro_nodes_t       *n = nodes(0, 0, 0);
    micro_node_state_t  *s;
    micro_select_t       how = { .strategy = MICRO_STRATEGY_PEAK_EWMA };

    (void) state;
    /* n2 answered in 1 ms, every other in 100 ms */
    for (i = 0; i < NODES; i++) {
        s = micro_nodes_start(n, addr[i]);
        micro_nodes_end(n, s, 0, i == 2 ? 1000 : 100000);
    }
    /* n2 wins every pair it is in (5 of 15): 2000 of 6000, sd 37; the
     * others tie, and the one sampled longest ago costs least */
    spread(n, &how, counts);
    assert_in_range(counts[2], 1800, 2200);
    for (i = 0; i < NODES; i++) {
        if (i != 2) {
            assert_true(counts[2] > counts[i]);
        }
    }
    micro_nodes_free(n);
}


static void
test_weights_and_filters(void **state)
{
    int                    counts[NODES], v1, v2;
    micro_pair_t           us = { "zone", "us" };
    micro_nodes_t         *n = nodes(0, 0, 0);
    micro_weight_t         w[2] = { { "1", 90 }, { "2", 10 } };
    micro_select_filter_t  f = { .labels = &us, .nlabels = 1 };
    micro_select_t         how = { .strategy = MICRO_STRATEGY_RANDOM,
                                   .weights = w, .nweights = 2 };

    (void) state;
    spread(n, &how, counts);
    v1 = counts[0] + counts[1] + counts[2];
    v2 = counts[3] + counts[4] + counts[5];
    assert_in_range(v1, 5100, 5700);             /* 5400, sd 23 */
    assert_int_equal(v1 + v2, 6000);

    /* zone=us: n1 (v1), n3 and n5 (v2); weights still rule */
    how.filters = &f;
    how.nfilters = 1;
    spread(n, &how, counts);
    assert_int_equal(counts[0] + counts[2] + counts[4], 0);
    assert_in_range(counts[1], 5100, 5700);

    /* failover: n1 tried, so v1 has no candidate and v2 takes them all */
    {
        const char  *tried[1] = { addr[1] };

        how.tried = tried;
        how.ntried = 1;
        spread(n, &how, counts);
        assert_int_equal(counts[1], 0);
        assert_int_equal(counts[3] + counts[5], 6000);
        assert_true(counts[3] > 0 && counts[5] > 0);
    }

    /* "version" as a label is the version */
    us = (micro_pair_t) { "version", "2" };
    how.tried = NULL;
    how.ntried = 0;
    spread(n, &how, counts);
    assert_int_equal(counts[3] + counts[4] + counts[5], 6000);
    assert_true(counts[4] > 0);
    micro_nodes_free(n);
}


static void
test_tried_and_marks(void **state)
{
    int                  i, counts[NODES];
    micro_nodes_t       *n = nodes(3, 60000, 0);
    micro_node_state_t  *s;
    const char          *tried[NODES];
    micro_select_t       how = { .strategy = MICRO_STRATEGY_ROUND_ROBIN };

    (void) state;
    /* two failures and a success start the count over */
    for (i = 0; i < 5; i++) {
        s = micro_nodes_start(n, addr[0]);
        assert_int_equal(micro_nodes_end(n, s, i != 2, -1), 0);
    }
    assert_false(micro_nodes_aside(n, addr[0]));

    /* a call that says nothing of the node neither counts nor clears */
    s = micro_nodes_start(n, addr[0]);
    assert_int_equal(micro_nodes_end(n, s, -1, -1), 0);
    assert_false(micro_nodes_aside(n, addr[0]));

    /* the third in a row puts it aside */
    s = micro_nodes_start(n, addr[0]);
    assert_int_equal(micro_nodes_end(n, s, 1, -1), 1);
    assert_true(micro_nodes_aside(n, addr[0]));
    spread(n, &how, counts);
    assert_int_equal(counts[0], 0);

    /* every other node tried: none, unless one put aside may serve */
    for (i = 1; i < NODES; i++) {
        tried[i - 1] = addr[i];
    }
    how.tried = tried;
    how.ntried = NODES - 1;
    assert_int_equal(pick(n, &how), MICRO_ENONODE);
    how.use_aside = 1;
    assert_int_equal(pick(n, &how), 0);

    micro_nodes_reset(n);
    how.use_aside = 0;
    assert_int_equal(pick(n, &how), 0);
    micro_nodes_free(n);
}


static void
test_max_inflight(void **state)
{
    int              counts[NODES];
    micro_nodes_t   *n = nodes(0, 0, 2);
    micro_select_t   how = { .strategy = MICRO_STRATEGY_RANDOM };
    int              i;

    (void) state;
    /* a node with two calls in flight (a hung one) takes no third */
    micro_nodes_start(n, addr[4]);
    micro_nodes_start(n, addr[4]);
    spread(n, &how, counts);
    assert_int_equal(counts[4], 0);
    assert_true(counts[5] > 0);

    /* every node busy: none, unless the call was admitted (a retry) */
    for (i = 0; i < NODES; i++) {
        while (micro_nodes_inflight(n, addr[i]) < 2) {
            micro_nodes_start(n, addr[i]);
        }
    }
    assert_int_equal(pick(n, &how), MICRO_EBUSY);
    how.use_busy = 1;
    assert_true(pick(n, &how) >= 0);
    micro_nodes_free(n);
}


static void
test_strategy_names(void **state)
{
    micro_strategy_t  st;

    (void) state;
    assert_int_equal(micro_strategy_parse("random", &st), 0);
    assert_int_equal(st, MICRO_STRATEGY_RANDOM);
    assert_int_equal(micro_strategy_parse("round_robin", &st), 0);
    assert_int_equal(st, MICRO_STRATEGY_ROUND_ROBIN);
    assert_int_equal(micro_strategy_parse("roundrobin", &st), 0);
    assert_int_equal(st, MICRO_STRATEGY_ROUND_ROBIN);
    assert_int_equal(micro_strategy_parse("least_inflight", &st), 0);
    assert_int_equal(st, MICRO_STRATEGY_LEAST_INFLIGHT);
    assert_int_equal(micro_strategy_parse("peak_ewma", &st), 0);
    assert_int_equal(st, MICRO_STRATEGY_PEAK_EWMA);
    assert_int_equal(micro_strategy_parse("fastest", &st), MICRO_EINVAL);
    assert_string_equal(micro_strategy_name(MICRO_STRATEGY_ROUND_ROBIN),
                        "round_robin");
    assert_string_equal(micro_strategy_name(MICRO_STRATEGY_PEAK_EWMA),
                        "peak_ewma");
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_random_and_round_robin),
        cmocka_unit_test(test_least_inflight),
        cmocka_unit_test(test_peak_ewma),
        cmocka_unit_test(test_weights_and_filters),
        cmocka_unit_test(test_tried_and_marks),
        cmocka_unit_test(test_max_inflight),
        cmocka_unit_test(test_strategy_names),
    };

    return cmocka_run_group_tests_name("select", tests, setup, teardown);
}
