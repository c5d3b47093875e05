/* The Redis registry against a real redis-server. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "core/clock.h"
#include "redis_fixture.h"

#define MICRO_TEST(f)  cmocka_unit_test_setup(f, micro_test_flush)



static void
register_one(const char *name, const char *version, const char *id, int port,
    int ttl_ms)
{
    micro_service_t  s;

    micro_test_service(&s, name, version, id, port);
    assert_int_equal(micro_registry_register(fx_reg, &s, ttl_ms), 0);
    micro_service_free(&s);
}


static void
test_register_get_list(void **state)
{
    micro_service_list_t  list;

    (void) state;
    register_one("go.micro.srv.greeter", "1.0", "g-1", 9001, 30000);
    register_one("go.micro.srv.greeter", "1.0", "g-2", 9002, 30000);
    register_one("go.micro.srv.other", "1.0", "o-1", 9003, 0);

    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.greeter", &list),
                     0);
    assert_int_equal(list.len, 1);
    assert_int_equal(list.items[0].nnodes, 2);
    assert_string_equal(list.items[0].name, "go.micro.srv.greeter");
    micro_service_list_free(&list);

    assert_int_equal(micro_registry_list(fx_reg, &list), 0);
    assert_int_equal(list.len, 2);
    assert_true(strcmp(list.items[0].name, "go.micro.srv.other") == 0
                || strcmp(list.items[1].name, "go.micro.srv.other") == 0);
    micro_service_list_free(&list);

    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.none", &list),
                     MICRO_ENOTFOUND);
    assert_int_equal(micro_registry_get(fx_reg, "bad name", &list),
                     MICRO_EINVAL);
}


static void
test_two_versions(void **state)
{
    size_t                i;
    micro_service_list_t  list;

    (void) state;
    register_one("go.micro.srv.v", "1", "v1-a", 9001, 30000);
    register_one("go.micro.srv.v", "2", "v2-a", 9002, 30000);
    register_one("go.micro.srv.v", "2", "v2-b", 9003, 30000);

    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.v", &list), 0);
    assert_int_equal(list.len, 2);
    for (i = 0; i < 2; i++) {
        assert_int_equal(list.items[i].nnodes,
                         strcmp(list.items[i].version, "1") == 0 ? 1 : 2);
    }
    micro_service_list_free(&list);
}


static void
test_deregister(void **state)
{
    micro_service_t       s;
    micro_service_list_t  list;

    (void) state;
    register_one("go.micro.srv.d", "1", "d-1", 9001, 30000);
    register_one("go.micro.srv.d", "1", "d-2", 9002, 30000);

    micro_test_service(&s, "go.micro.srv.d", "1", "d-1", 9001);
    assert_int_equal(micro_registry_deregister(fx_reg, &s), 0);
    micro_service_free(&s);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.d", &list), 0);
    assert_int_equal(list.items[0].nnodes, 1);
    assert_string_equal(list.items[0].nodes[0].id, "d-2");
    micro_service_list_free(&list);

    micro_test_service(&s, "go.micro.srv.d", "1", "d-2", 9002);
    assert_int_equal(micro_registry_deregister(fx_reg, &s), 0);
    micro_service_free(&s);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.d", &list),
                     MICRO_ENOTFOUND);
    assert_int_equal(micro_registry_list(fx_reg, &list), 0);
    assert_int_equal(list.len, 0);
    micro_service_list_free(&list);
}


static int
gone(void *arg)
{
    micro_service_list_t  list;

    if (micro_registry_get(fx_reg, arg, &list) == MICRO_ENOTFOUND) {
        return 1;
    }
    micro_service_list_free(&list);
    return 0;
}


static int
one_node_left(void *arg)
{
    int                   n;
    micro_service_list_t  list;

    (void) arg;
    if (micro_registry_get(fx_reg, "go.micro.srv.brief", &list) != 0) {
        return 0;
    }
    n = list.items[0].nnodes;
    micro_service_list_free(&list);
    return n == 1;
}


static void
test_ttl_expiry(void **state)
{
    redisReply            *reply;
    micro_service_list_t   list;

    (void) state;
    register_one("go.micro.srv.brief", "1", "b-1", 9001, 200);
    register_one("go.micro.srv.brief", "1", "b-2", 9002, 60000);

    /* Expiry is by Redis's clock; wait for it, however slow the machine. */
    assert_true(micro_test_wait(one_node_left, NULL, MICRO_TEST_WAIT_MS));
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.brief", &list),
                     0);
    assert_int_equal(list.items[0].nnodes, 1);
    assert_string_equal(list.items[0].nodes[0].id, "b-2");
    micro_service_list_free(&list);

    /* The expired entry is still in Redis until reaped: get filtered it. */
    reply = micro_test_redis_cmd(&fx_redis, "HEXISTS %s %s",
                                 "micro:registry:svc:go.micro.srv.brief",
                                 "b-1");
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);

    assert_int_equal(micro_registry_reap(fx_reg), 1);
    reply = micro_test_redis_cmd(&fx_redis, "HEXISTS %s %s",
                                 "micro:registry:svc:go.micro.srv.brief",
                                 "b-1");
    assert_int_equal(reply->integer, 0);
    freeReplyObject(reply);
    assert_int_equal(micro_registry_reap(fx_reg), 0);
}


static void
test_ttl_expiry_whole_service(void **state)
{
    micro_service_list_t  list;

    (void) state;
    register_one("go.micro.srv.gone", "1", "g-1", 9001, 100);
    assert_true(micro_test_wait(gone, "go.micro.srv.gone",
                                MICRO_TEST_WAIT_MS));
    /* list reaps: a service whose nodes all expired is not listed */
    assert_int_equal(micro_registry_list(fx_reg, &list), 0);
    assert_int_equal(list.len, 0);
    micro_service_list_free(&list);
}


static void
test_reregister_keeps_one_entry(void **state)
{
    micro_service_list_t  list;

    (void) state;
    register_one("go.micro.srv.r", "1", "r-1", 9001, 30000);
    register_one("go.micro.srv.r", "1", "r-1", 9001, 30000);
    register_one("go.micro.srv.r", "2", "r-1", 9005, 30000);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.r", &list), 0);
    assert_int_equal(list.len, 1);
    assert_string_equal(list.items[0].version, "2");
    assert_string_equal(list.items[0].nodes[0].address, "127.0.0.1:9005");
    micro_service_list_free(&list);
}


static int  warnings;

static void
count_warning(const char *message, void *data)
{
    (void) data;
    if (strstr(message, "skipping malformed registry entry")) {
        warnings++;
    }
}


static void
test_malformed_entries_skipped(void **state)
{
    size_t                 i;
    redisReply            *reply;
    micro_service_list_t   list;
    static const char     *bad[] = {
        "not json",
        "{\"name\":\"go.micro.srv.m\",\"nodes\":[]}",
        "{\"name\":\"go.micro.srv.m\",\"nodes\":[{\"id\":\"x\",\"address\":"
        "\"no-port\"}]}",
        "{\"name\":\"go.micro.srv.m\",\"nodes\":[{\"id\":\"x\",\"address\":"
        "\"10.0.0.1:1\"},{\"id\":\"y\",\"address\":\"10.0.0.1:2\"}]}",
        "{\"name\":\"go.micro.srv.m\",\"nodes\":[{\"id\":\"x\",\"address\":"
        "\"h:1\"}]}",
        "{\"name\":\"go.micro.srv.other\",\"nodes\":[{\"id\":\"x\","
        "\"address\":\"10.0.0.1:1\"}]}",
    };

    (void) state;
    register_one("go.micro.srv.m", "1", "good", 9001, 30000);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char  id[16];

        snprintf(id, sizeof(id), "bad%zu", i);
        reply = micro_test_redis_cmd(&fx_redis, "HSET %s %s %s",
                                     "micro:registry:svc:go.micro.srv.m", id,
                                     bad[i]);
        freeReplyObject(reply);
        /* the member has a space: pass it as one argument */
        reply = micro_test_redis_cmd(&fx_redis, "EVAL %s 0 %s",
                                     "redis.call('ZADD', "
                                     "'micro:registry:expiry', '+inf', "
                                     "'go.micro.srv.m ' .. ARGV[1])", id);
        freeReplyObject(reply);
    }

    warnings = 0;
    micro_log_set_handler(count_warning, NULL);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.m", &list), 0);
    micro_log_set_handler(NULL, NULL);

    assert_int_equal(list.len, 1);
    assert_int_equal(list.items[0].nnodes, 1);
    assert_string_equal(list.items[0].nodes[0].id, "good");
    assert_int_equal(warnings, 5);   /* the last is a valid entry misfiled */
    micro_service_list_free(&list);
}


static void
test_invalid_registrations(void **state)
{
    micro_service_t  s;

    (void) state;
    micro_test_service(&s, "go.micro.srv.bad", "1", "n-1", 9001);
    free(s.nodes[0].address);
    s.nodes[0].address = strdup("127.0.0.1");
    assert_int_equal(micro_registry_register(fx_reg, &s, 1000), MICRO_EINVAL);
    assert_non_null(strstr(micro_error_detail(), "invalid address"));
    micro_service_free(&s);

    micro_test_service(&s, "bad name", "1", "n-1", 9001);
    assert_int_equal(micro_registry_register(fx_reg, &s, 1000), MICRO_EINVAL);
    micro_service_free(&s);

    micro_test_service(&s, "go.micro.srv.bad", "1", "n-1", 9001);
    assert_int_equal(micro_registry_register(fx_reg, &s, -1), MICRO_EINVAL);
    s.nnodes = 0;
    assert_int_equal(micro_registry_register(fx_reg, &s, 1000), MICRO_EINVAL);
    s.nnodes = 1;
    micro_service_free(&s);
}


static void
test_prefix_isolates(void **state)
{
    micro_service_t       s;
    micro_registry_t     *staging;
    micro_service_list_t  list;

    (void) state;
    staging = micro_test_registry(&fx_redis, "staging:");
    micro_test_service(&s, "go.micro.srv.p", "1", "p-1", 9001);
    assert_int_equal(micro_registry_register(staging, &s, 30000), 0);
    micro_service_free(&s);

    assert_int_equal(micro_registry_get(staging, "go.micro.srv.p", &list), 0);
    micro_service_list_free(&list);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.p", &list),
                     MICRO_ENOTFOUND);
    micro_registry_free(staging);
}


static void
test_redis_down_fails_fast(void **state)
{
    int                        rc;
    int64_t                    t0;
    micro_service_t            s;
    micro_registry_t          *down;
    micro_service_list_t       list;
    micro_registry_options_t   o;
    char                       url[64];

    (void) state;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0",
             micro_test_free_port());
    micro_registry_options_parse(&o, url);
    micro_registry_new(&o, &down);
    micro_registry_options_free(&o);

    micro_test_service(&s, "go.micro.srv.x", "1", "x-1", 9001);
    rc = micro_registry_register(down, &s, 1000);
    assert_int_equal(rc, MICRO_EREDIS);
    assert_non_null(strstr(micro_error_detail(), "cannot connect to redis"));
    assert_int_equal(micro_registry_get(down, "go.micro.srv.x", &list),
                     MICRO_EREDIS);
    micro_service_free(&s);
    micro_registry_free(down);

    /* A peer that accepts but never answers: the command timeout fires. */
    {
        int                 fd, port;
        struct sockaddr_in  sa;

        port = micro_test_free_port();
        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 8), 0);

        snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0?command_timeout=200",
                 port);
        micro_registry_options_parse(&o, url);
        micro_registry_new(&o, &down);
        micro_registry_options_free(&o);

        t0 = micro_now_ms();       /* the wall clock here has stepped */
        assert_int_equal(micro_registry_list(down, &list), MICRO_ETIMEDOUT);
        assert_true(micro_now_ms() - t0 < 10000);
        micro_registry_free(down);
        close(fd);
    }
}


static void
test_redis_down_and_back(void **state)
{
    micro_service_list_t  list;

    (void) state;
    register_one("go.micro.srv.b", "1", "b-1", 9001, 0);
    micro_test_redis_stop(&fx_redis);

    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.b", &list),
                     MICRO_EREDIS);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.b", &list),
                     MICRO_EREDIS);

    assert_int_equal(micro_test_redis_start(&fx_redis), 0);
    /* The registry reconnects on its own; the restart lost the data. */
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.b", &list),
                     MICRO_ENOTFOUND);
    register_one("go.micro.srv.b", "1", "b-1", 9001, 0);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.b", &list), 0);
    micro_service_list_free(&list);
}


static void
test_script_cache_flushed(void **state)
{
    redisReply            *reply;
    micro_service_list_t   list;

    (void) state;
    register_one("go.micro.srv.s", "1", "s-1", 9001, 0);
    reply = micro_test_redis_cmd(&fx_redis, "SCRIPT FLUSH");
    freeReplyObject(reply);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.s", &list), 0);
    micro_service_list_free(&list);
}


static void
test_auth_and_db(void **state)
{
    char                       url[160];
    micro_service_t            s;
    redisReply                *reply;
    micro_registry_t          *r;
    micro_test_redis_t         secured = { 0 };
    micro_service_list_t       list;
    micro_registry_options_t   o;

    (void) state;
    snprintf(secured.password, sizeof(secured.password), "s3cret");
    assert_int_equal(micro_test_redis_start(&secured), 0);

    snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/3",
             secured.port);
    micro_registry_options_parse(&o, url);
    micro_registry_new(&o, &r);
    micro_registry_options_free(&o);

    micro_test_service(&s, "go.micro.srv.a", "1", "a-1", 9001);
    assert_int_equal(micro_registry_register(r, &s, 0), 0);
    assert_int_equal(micro_registry_get(r, "go.micro.srv.a", &list), 0);
    micro_service_list_free(&list);
    micro_registry_free(r);

    /* it went into db 3, not db 0 (each command here is a connection of
     * its own, in db 0: the script selects db 3 for itself) */
    reply = micro_test_redis_cmd(&secured, "EVAL %s 1 %s %s",
        "redis.call('SELECT', 3) "
        "return redis.call('SISMEMBER', KEYS[1], ARGV[1])",
        "micro:registry:services", "go.micro.srv.a");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    reply = micro_test_redis_cmd(&secured, "SISMEMBER %s %s",
        "micro:registry:services", "go.micro.srv.a");
    assert_non_null(reply);
    assert_int_equal(reply->integer, 0);
    freeReplyObject(reply);

    /* a wrong password is a clear error */
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/3", secured.port);
    micro_registry_options_parse(&o, url);
    micro_registry_new(&o, &r);
    micro_registry_options_free(&o);
    assert_int_equal(micro_registry_register(r, &s, 0), MICRO_EREDIS);
    assert_non_null(strstr(micro_error_detail(), "AUTH"));
    micro_registry_free(r);

    micro_service_free(&s);
    micro_test_redis_free(&secured);
}


static void
test_unix_socket(void **state)
{
    char                       url[160];
    micro_service_t            s;
    micro_registry_t          *r;
    micro_service_list_t       list;
    micro_registry_options_t   o;

    (void) state;
    snprintf(url, sizeof(url), "unix://%s/redis.sock", fx_redis.dir);
    assert_int_equal(micro_registry_options_parse(&o, url), 0);
    assert_int_equal(micro_registry_new(&o, &r), 0);
    micro_registry_options_free(&o);

    micro_test_service(&s, "go.micro.srv.u", "1", "u-1", 9001);
    assert_int_equal(micro_registry_register(r, &s, 0), 0);
    micro_service_free(&s);
    micro_registry_free(r);

    /* the same registry, seen over TCP */
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.u", &list), 0);
    micro_service_list_free(&list);
}


static void
test_dump(void **state)
{
    int                    i;
    char                   name[32];
    size_t                 nodes = 0, j;
    micro_service_list_t   all;

    (void) state;
    /* more services than one pipelined batch */
    for (i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "go.micro.srv.s%d", i);
        register_one(name, "1", "n-1", 9001, 0);
        if (i % 3 == 0) {
            register_one(name, "2", "n-2", 9002, 0);
        }
    }
    assert_int_equal(micro_registry_dump(fx_reg, &all), 0);
    assert_int_equal(all.len, 400);
    for (j = 0; j < all.len; j++) {
        nodes += all.items[j].nnodes;
    }
    assert_int_equal(nodes, 400);
    micro_service_list_free(&all);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        MICRO_TEST(test_register_get_list),
        MICRO_TEST(test_two_versions),
        MICRO_TEST(test_deregister),
        MICRO_TEST(test_ttl_expiry),
        MICRO_TEST(test_ttl_expiry_whole_service),
        MICRO_TEST(test_reregister_keeps_one_entry),
        MICRO_TEST(test_malformed_entries_skipped),
        MICRO_TEST(test_invalid_registrations),
        MICRO_TEST(test_prefix_isolates),
        MICRO_TEST(test_redis_down_fails_fast),
        MICRO_TEST(test_redis_down_and_back),
        MICRO_TEST(test_script_cache_flushed),
        MICRO_TEST(test_auth_and_db),
        MICRO_TEST(test_unix_socket),
        MICRO_TEST(test_dump),
    };

    return cmocka_run_group_tests_name("registry", tests,
                                       micro_test_group_setup,
                                       micro_test_group_teardown);
}
