/* Selection over the watch-driven cache, against a real redis-server. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis_fixture.h"

#define SVC    "go.micro.srv.sel"
#define NODES  10

static micro_test_redis_t  redis;
static micro_registry_t   *reg;
static micro_cache_t      *cache;


/* n0-n4 are version 1, n5-n9 version 2; even nodes zone=eu, odd zone=us;
 * version 2 alone has the endpoint Say.Bye. */
static void
register_node(int i)
{
    char              id[16];
    micro_service_t   s;
    micro_endpoint_t  eps[2] = { { .name = "Say.Hello" },
                                 { .name = "Say.Bye" } };

    snprintf(id, sizeof(id), "n%d", i);
    micro_test_service(&s, SVC, i < 5 ? "1" : "2", id, 9000 + i);
    micro_metadata_set(&s.nodes[0].metadata, "zone", i % 2 ? "us" : "eu");
    s.endpoints = eps;
    s.nendpoints = i < 5 ? 1 : 2;
    assert_int_equal(micro_registry_register(reg, &s, 0), 0);
    s.endpoints = NULL;
    s.nendpoints = 0;
    micro_service_free(&s);
}


static int
cache_has(void *arg)
{
    int                   n = 0;
    size_t                i;
    micro_service_list_t  list;

    if (micro_cache_get(cache, SVC, &list) != MICRO_OK) {
        return arg == NULL;
    }
    for (i = 0; i < list.len; i++) {
        n += list.items[i].nnodes;
    }
    micro_service_list_free(&list);
    return arg && n == *(int *) arg;
}


static int
setup(void **state)
{
    int  i, n = NODES;

    (void) state;
    if (micro_test_redis_start(&redis) != 0) {
        return -1;
    }
    reg = micro_test_registry(&redis, NULL);
    for (i = 0; i < NODES; i++) {
        register_node(i);
    }
    if (micro_cache_new(reg, &cache) != 0
        || micro_cache_wait(cache, MICRO_TEST_WAIT_MS) != 0)
    {
        return -1;
    }
    return cache_has(&n) ? 0 : -1;
}


static int
teardown(void **state)
{
    (void) state;
    micro_cache_free(cache);
    micro_registry_free(reg);
    micro_test_redis_free(&redis);
    return 0;
}


static micro_selector_t *
selector(micro_strategy_t strategy, int cooldown_ms)
{
    micro_selector_t          *s;
    micro_selector_options_t   o = { strategy, { 3, cooldown_ms, 0 },
                                     NULL, 0 };

    assert_int_equal(micro_selector_new(cache, &o, &s), 0);
    return s;
}


/* A call that succeeded: a select paired with its done. */
static int
pick(micro_selector_t *s, const micro_select_filter_t *f,
    micro_selected_t *sel)
{
    int  rc = micro_selector_select(s, SVC, f, NULL, 0, sel);

    if (rc == MICRO_OK) {
        micro_selector_done(s, sel, 0);
    }
    return rc;
}


static int
node_index(const micro_selected_t *sel)
{
    return atoi(sel->id + 1);
}


/* A call to node i alone (every other one counted as tried). */
static int
call_node(micro_selector_t *s, int i, int failed)
{
    int               k, rc, n = 0;
    char              addr[NODES + 1][32];
    const char       *tried[NODES + 1];
    micro_selected_t  sel;

    for (k = 0; k <= NODES; k++) {
        if (k != i) {
            snprintf(addr[n], sizeof(addr[n]), "127.0.0.1:%d", 9000 + k);
            tried[n] = addr[n];
            n++;
        }
    }
    rc = micro_selector_select(s, SVC, NULL, tried, n, &sel);
    if (rc == MICRO_OK) {
        assert_int_equal(node_index(&sel), i);
        micro_selector_done(s, &sel, failed);
    }
    return rc;
}


static void
test_random_is_uniform(void **state)
{
    int                i, counts[NODES] = { 0 };
    micro_selected_t   sel;
    micro_selector_t  *s;

    (void) state;
    s = selector(MICRO_STRATEGY_RANDOM, 0);
    for (i = 0; i < 10000; i++) {
        assert_int_equal(pick(s, NULL, &sel), 0);
        counts[node_index(&sel)]++;
    }
    /* 1000 expected each, sd 30: 10 sd either way never fails by chance */
    for (i = 0; i < NODES; i++) {
        if (counts[i] < 700 || counts[i] > 1300) {
            fail_msg("node n%d picked %d times of 10000", i, counts[i]);
        }
    }
    micro_selector_free(s);
}


static void
test_round_robin_rotates_across_calls(void **state)
{
    int                i, first[NODES], seen[NODES] = { 0 };
    micro_selected_t   sel;
    micro_selector_t  *s;

    (void) state;
    s = selector(MICRO_STRATEGY_ROUND_ROBIN, 0);
    for (i = 0; i < NODES; i++) {
        assert_int_equal(pick(s, NULL, &sel), 0);
        first[i] = node_index(&sel);
        seen[first[i]]++;
    }
    for (i = 0; i < NODES; i++) {
        assert_int_equal(seen[i], 1);            /* every node once */
    }
    for (i = 0; i < 3 * NODES; i++) {            /* then the same order */
        assert_int_equal(pick(s, NULL, &sel), 0);
        assert_int_equal(node_index(&sel), first[i % NODES]);
    }
    micro_selector_free(s);
}


/* Bitmask of the nodes a filter lets through, over enough picks. */
static int
reachable(micro_selector_t *s, const micro_select_filter_t *f)
{
    int               i, mask = 0;
    micro_selected_t  sel;

    for (i = 0; i < 4 * NODES; i++) {
        if (pick(s, f, &sel) != 0) {
            return -1;
        }
        mask |= 1 << node_index(&sel);
    }
    return mask;
}


static void
test_filters(void **state)
{
    micro_pair_t            eu = { "zone", "eu" }, us = { "zone", "us" };
    micro_pair_t            nowhere = { "zone", "mars" };
    micro_selected_t        sel;
    micro_selector_t       *s;
    micro_select_filter_t   f;

    (void) state;
    s = selector(MICRO_STRATEGY_ROUND_ROBIN, 0);

    f = (micro_select_filter_t) { .version = "2" };
    assert_int_equal(reachable(s, &f), 0x3e0);
    f = (micro_select_filter_t) { .labels = &eu, .nlabels = 1 };
    assert_int_equal(reachable(s, &f), 0x155);
    f = (micro_select_filter_t) { .endpoint = "Say.Bye" };
    assert_int_equal(reachable(s, &f), 0x3e0);
    f = (micro_select_filter_t) { .endpoint = "Say.Hello" };
    assert_int_equal(reachable(s, &f), 0x3ff);
    f = (micro_select_filter_t) { .version = "1", .labels = &us,
                                  .nlabels = 1 };
    assert_int_equal(reachable(s, &f), 0x00a);

    f = (micro_select_filter_t) { .labels = &nowhere, .nlabels = 1 };
    assert_int_equal(pick(s, &f, &sel), MICRO_ENONODE);
    f = (micro_select_filter_t) { .version = "3" };
    assert_int_equal(pick(s, &f, &sel), MICRO_ENONODE);
    assert_int_equal(micro_selector_select(s, "go.micro.srv.none", NULL, NULL,
                                           0, &sel), MICRO_ENOTFOUND);
    micro_selector_free(s);
}


static int
picks_n0(void *arg)
{
    return reachable(arg, NULL) & 1;
}


static void
test_marking(void **state)
{
    int                i;
    micro_selected_t   sel;
    micro_selector_t  *s;

    (void) state;
    s = selector(MICRO_STRATEGY_ROUND_ROBIN, 200);

    /* two failures and a success: the count starts over */
    assert_int_equal(call_node(s, 0, 1), 0);
    assert_int_equal(call_node(s, 0, 1), 0);
    assert_int_equal(call_node(s, 0, 0), 0);
    assert_int_equal(call_node(s, 0, 1), 0);
    assert_int_equal(call_node(s, 0, 1), 0);

    /* the third failure in a row puts it aside */
    assert_int_equal(call_node(s, 0, 1), 0);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(pick(s, NULL, &sel), 0);
        assert_string_not_equal(sel.id, "n0");
    }
    /* for the cool-down only */
    assert_true(micro_test_wait(picks_n0, s, MICRO_TEST_WAIT_MS));

    /* every node aside: none available, which is not "not found" */
    for (i = 0; i < 3 * NODES; i++) {
        assert_int_equal(call_node(s, i % NODES, 1), 0);
    }
    assert_int_equal(pick(s, NULL, &sel), MICRO_ENONODE);
    micro_selector_reset(s);
    assert_int_equal(pick(s, NULL, &sel), 0);
    micro_selector_free(s);
}


static void
test_cache_follows_registry(void **state)
{
    int                n = NODES + 1;
    micro_service_t    s;
    micro_selector_t  *sel;

    (void) state;
    register_node(NODES);                 /* n10 */
    assert_true(micro_test_wait(cache_has, &n, MICRO_TEST_WAIT_MS));
    sel = selector(MICRO_STRATEGY_ROUND_ROBIN, 0);
    assert_int_equal(reachable(sel, NULL), 0x7ff);

    micro_test_service(&s, SVC, "2", "n10", 9010);
    assert_int_equal(micro_registry_deregister(reg, &s), 0);
    micro_service_free(&s);
    n = NODES;
    assert_true(micro_test_wait(cache_has, &n, MICRO_TEST_WAIT_MS));
    assert_int_equal(reachable(sel, NULL), 0x3ff);
    micro_selector_free(sel);
}


static void
test_selects_while_redis_is_down(void **state)
{
    int                n = NODES + 1;
    micro_selected_t   sel;
    micro_selector_t  *s;

    (void) state;
    s = selector(MICRO_STRATEGY_RANDOM, 0);
    micro_test_redis_stop(&redis);

    /* no Redis round trip per selection: the snapshot serves */
    assert_int_equal(pick(s, NULL, &sel), 0);
    assert_int_equal(reachable(s, NULL) != -1, 1);

    /* Redis comes back empty; registrations are seen again */
    assert_int_equal(micro_test_redis_start(&redis), 0);
    for (n = 0; n <= NODES; n++) {
        register_node(n);
    }
    n = NODES + 1;
    assert_true(micro_test_wait(cache_has, &n, MICRO_TEST_WAIT_MS));
    micro_selector_free(s);
}


/* least_inflight: nodes with a call open (slow ones) are passed over. */
static void
test_least_inflight(void **state)
{
    int                i, counts[NODES] = { 0 };
    micro_selected_t   open[2], sel;
    micro_selector_t  *s;

    (void) state;
    s = selector(MICRO_STRATEGY_LEAST_INFLIGHT, 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(micro_selector_select(s, SVC, NULL, NULL, 0,
                                               &open[i]), 0);
    }
    assert_string_not_equal(open[0].id, open[1].id);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(pick(s, NULL, &sel), 0);
        counts[node_index(&sel)]++;
    }
    /* picked only when paired with each other: 1000/45 times, where
     * uniform would be 100 each */
    assert_true(counts[node_index(&open[0])]
                + counts[node_index(&open[1])] < 50);
    for (i = 0; i < 2; i++) {
        micro_selector_done(s, &open[i], 0);
    }
    micro_selector_free(s);
}


/* Weights: version 2 drawn 9 times in 10. */
static void
test_weights(void **state)
{
    int                        i, v2 = 0;
    micro_weight_t             w[2] = { { "1", 10 }, { "2", 90 } };
    micro_selected_t           sel;
    micro_selector_t          *s;
    micro_selector_options_t   o = { MICRO_STRATEGY_RANDOM, { 0, 0, 0 },
                                     w, 2 };

    (void) state;
    assert_int_equal(micro_selector_new(cache, &o, &s), 0);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(pick(s, NULL, &sel), 0);
        v2 += strcmp(sel.version, "2") == 0;
    }
    assert_in_range(v2, 840, 960);                /* 900, sd 9.5 */
    micro_selector_free(s);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_random_is_uniform),
        cmocka_unit_test(test_round_robin_rotates_across_calls),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_marking),
        cmocka_unit_test(test_cache_follows_registry),
        cmocka_unit_test(test_selects_while_redis_is_down),
        cmocka_unit_test(test_least_inflight),
        cmocka_unit_test(test_weights),
    };

    return cmocka_run_group_tests_name("selector", tests, setup, teardown);
}
