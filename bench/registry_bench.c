/*
 * Registry and selector benchmark: the cost of one selection from a warm
 * cache (10 and 1,000 nodes), and of register/get round trips against a
 * local redis-server that the benchmark starts itself.
 *
 *   make bench
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_fixture.h"

#define SELECT_OPS    2000000
#define REDIS_OPS     20000


static double
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}


static void
register_nodes(micro_registry_t *reg, const char *name, int n)
{
    int              i;
    char             id[32];
    micro_service_t  s;

    for (i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%s-%d", name, i);
        micro_test_service(&s, name, i % 2 ? "2" : "1", id, 10000 + i);
        micro_metadata_set(&s.nodes[0].metadata, "zone", i % 4 ? "us" : "eu");
        if (micro_registry_register(reg, &s, 0) != MICRO_OK) {
            fprintf(stderr, "register: %s\n", micro_error_detail());
            exit(1);
        }
        micro_service_free(&s);
    }
}


static void
bench_select(micro_cache_t *cache, const char *name, int nodes,
    micro_strategy_t strategy, const micro_select_filter_t *filter,
    const char *what)
{
    int                        i;
    char                       label[64];
    double                     t0, ns;
    micro_selected_t           sel;
    micro_selector_t          *s;
    micro_selector_options_t   o = { strategy, { 0, 0, 0 }, NULL, 0 };

    micro_selector_new(cache, &o, &s);
    t0 = now_ns();
    for (i = 0; i < SELECT_OPS; i++) {
        if (micro_selector_select(s, name, filter, NULL, 0, &sel)
            != MICRO_OK)
        {
            fprintf(stderr, "select: %s\n", micro_error_detail());
            exit(1);
        }
        micro_selector_done(s, &sel, 0);
    }
    ns = (now_ns() - t0) / SELECT_OPS;
    snprintf(label, sizeof(label), "select, %d nodes, %s%s%s", nodes,
             micro_strategy_name(strategy), what[0] ? ", " : "", what);
    printf("| %-46s | %6.0f ns/op | %9.0f op/s |\n", label, ns, 1e9 / ns);
    micro_selector_free(s);
}


int
main(void)
{
    int                    i, n = 0;
    double                 t0, us;
    micro_pair_t           eu = { "zone", "eu" };
    micro_cache_t         *cache;
    micro_service_t        s;
    micro_registry_t      *reg;
    micro_test_redis_t     redis = { 0 };
    micro_service_list_t   list;
    micro_select_filter_t  filter = { .version = "1", .labels = &eu,
                                      .nlabels = 1 };

    if (micro_test_redis_start(&redis) != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        return 1;
    }
    reg = micro_test_registry(&redis, NULL);
    register_nodes(reg, "go.micro.srv.small", 10);
    register_nodes(reg, "go.micro.srv.large", 1000);

    micro_cache_new(reg, &cache);
    if (micro_cache_wait(cache, MICRO_TEST_WAIT_MS) != MICRO_OK) {
        fprintf(stderr, "cache: %s\n", micro_error_detail());
        return 1;
    }
    while (micro_cache_get(cache, "go.micro.srv.large", &list) == MICRO_OK) {
        n = list.items[0].nnodes + (list.len > 1 ? list.items[1].nnodes : 0);
        micro_service_list_free(&list);
        if (n == 1000) {
            break;
        }
    }

    printf("| operation                                      | cost         "
           "| rate           |\n");
    printf("|------------------------------------------------|--------------"
           "|----------------|\n");
    bench_select(cache, "go.micro.srv.small", 10, MICRO_STRATEGY_RANDOM, NULL,
                 "");
    bench_select(cache, "go.micro.srv.small", 10, MICRO_STRATEGY_ROUND_ROBIN,
                 NULL, "");
    bench_select(cache, "go.micro.srv.small", 10, MICRO_STRATEGY_RANDOM,
                 &filter, "filtered");
    bench_select(cache, "go.micro.srv.large", 1000, MICRO_STRATEGY_RANDOM,
                 NULL, "");
    bench_select(cache, "go.micro.srv.large", 1000, MICRO_STRATEGY_ROUND_ROBIN,
                 NULL, "");
    bench_select(cache, "go.micro.srv.large", 1000, MICRO_STRATEGY_RANDOM,
                 &filter, "filtered");

    micro_test_service(&s, "go.micro.srv.small", "1", "go.micro.srv.small-0",
                       10000);
    micro_metadata_set(&s.nodes[0].metadata, "zone", "eu");
    t0 = now_ns();
    for (i = 0; i < REDIS_OPS; i++) {
        micro_registry_register(reg, &s, 30000);
    }
    us = (now_ns() - t0) / REDIS_OPS / 1000;
    printf("| register (heartbeat refresh), loopback redis   | %6.1f us/op"
           " | %9.0f op/s |\n", us, 1e6 / us);
    micro_service_free(&s);

    t0 = now_ns();
    for (i = 0; i < REDIS_OPS; i++) {
        micro_registry_get(reg, "go.micro.srv.small", &list);
        micro_service_list_free(&list);
    }
    us = (now_ns() - t0) / REDIS_OPS / 1000;
    printf("| get service, 10 nodes, loopback redis          | %6.1f us/op"
           " | %9.0f op/s |\n", us, 1e6 / us);

    t0 = now_ns();
    for (i = 0; i < REDIS_OPS / 10; i++) {
        micro_registry_get(reg, "go.micro.srv.large", &list);
        micro_service_list_free(&list);
    }
    us = (now_ns() - t0) / (REDIS_OPS / 10) / 1000;
    printf("| get service, 1000 nodes, loopback redis        | %6.0f us/op"
           " | %9.0f op/s |\n", us, 1e6 / us);

    micro_cache_free(cache);
    micro_registry_free(reg);
    micro_test_redis_free(&redis);
    return 0;
}
