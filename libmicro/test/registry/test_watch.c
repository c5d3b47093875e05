/* Watching the registry, resync after Redis restarts, and heartbeats. */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "redis_fixture.h"

#define MICRO_TEST(f)  cmocka_unit_test_setup(f, micro_test_flush)



static void
reg_one(const char *name, const char *version, const char *id, int ttl_ms)
{
    micro_service_t  s;

    micro_test_service(&s, name, version, id, 9000);
    assert_int_equal(micro_registry_register(fx_reg, &s, ttl_ms), 0);
    micro_service_free(&s);
}


static void
dereg_one(const char *name, const char *id)
{
    micro_service_t  s;

    micro_test_service(&s, name, "", id, 9000);
    assert_int_equal(micro_registry_deregister(fx_reg, &s), 0);
    micro_service_free(&s);
}


/* The next event as "action name version id", or "" after the limit. */
static const char *
next_event(micro_watcher_t *w)
{
    static char          buf[512];
    micro_watch_event_t  ev;

    buf[0] = '\0';
    if (micro_watcher_next(w, &ev, MICRO_TEST_WAIT_MS) == MICRO_OK) {
        snprintf(buf, sizeof(buf), "%s %s %s %s",
                 micro_watch_action_name(ev.action), ev.service.name,
                 ev.service.version, ev.service.nodes[0].id);
        micro_watch_event_free(&ev);
    }
    return buf;
}


/* Blocks until the watcher is subscribed (it connects on next()). */
static void
wait_synced(micro_watcher_t *w)
{
    int                  i;
    micro_watch_event_t  ev;

    for (i = 0; i < MICRO_TEST_WAIT_MS / 10 && !micro_watcher_synced(w); i++) {
        if (micro_watcher_next(w, &ev, 10) == MICRO_OK) {
            fail_msg("unexpected event before any change");
        }
    }
    assert_true(micro_watcher_synced(w));
}


static void
test_events(void **state)
{
    micro_watcher_t  *w;

    (void) state;
    reg_one("go.micro.srv.old", "1", "o-1", 0);     /* before the watch */

    assert_int_equal(micro_watcher_new(fx_reg, 0, &w), 0);
    wait_synced(w);

    reg_one("go.micro.srv.w", "1", "w-1", 0);
    reg_one("go.micro.srv.w", "1", "w-1", 0);        /* refresh: silent */
    reg_one("go.micro.srv.w", "2", "w-1", 0);
    dereg_one("go.micro.srv.w", "w-1");
    dereg_one("go.micro.srv.w", "w-1");              /* not there: silent */
    reg_one("go.micro.srv.w", "1", "w-2", 300);      /* expires */

    assert_string_equal(next_event(w), "create go.micro.srv.w 1 w-1");
    assert_string_equal(next_event(w), "update go.micro.srv.w 2 w-1");
    assert_string_equal(next_event(w), "delete go.micro.srv.w 2 w-1");
    assert_string_equal(next_event(w), "create go.micro.srv.w 1 w-2");
    assert_string_equal(next_event(w), "delete go.micro.srv.w 1 w-2");

    micro_watcher_free(w);
}


static void
test_initial(void **state)
{
    micro_watcher_t  *w;

    (void) state;
    reg_one("go.micro.srv.i", "1", "i-1", 0);
    assert_int_equal(micro_watcher_new(fx_reg, MICRO_WATCH_INITIAL, &w), 0);
    assert_string_equal(next_event(w), "create go.micro.srv.i 1 i-1");
    reg_one("go.micro.srv.i", "1", "i-2", 0);
    assert_string_equal(next_event(w), "create go.micro.srv.i 1 i-2");
    micro_watcher_free(w);
}


static void
test_timeout(void **state)
{
    micro_watcher_t      *w;
    micro_watch_event_t   ev;

    (void) state;
    assert_int_equal(micro_watcher_new(fx_reg, 0, &w), 0);
    wait_synced(w);
    assert_int_equal(micro_watcher_next(w, &ev, 50), MICRO_ETIMEDOUT);
    micro_watcher_free(w);
}


/* Redis's channels are not a database's: a registry in another database
 * of the same Redis is not heard. */
static void
test_other_db_unheard(void **state)
{
    char                       url[160];
    micro_service_t            s;
    micro_watcher_t           *w;
    micro_registry_t          *other = NULL;
    micro_registry_options_t   opts;

    (void) state;
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/3", fx_redis.port);
    assert_int_equal(micro_registry_options_parse(&opts, url), 0);
    assert_int_equal(micro_registry_new(&opts, &other), 0);
    micro_registry_options_free(&opts);

    assert_int_equal(micro_watcher_new(fx_reg, 0, &w), 0);
    wait_synced(w);
    micro_test_service(&s, "go.micro.srv.elsewhere", "1", "e-1", 9000);
    assert_int_equal(micro_registry_register(other, &s, 0), 0);
    assert_int_equal(micro_registry_deregister(other, &s), 0);
    micro_service_free(&s);
    reg_one("go.micro.srv.here", "1", "h-1", 0);
    assert_string_equal(next_event(w), "create go.micro.srv.here 1 h-1");
    micro_watcher_free(w);
    micro_registry_free(other);
}


static void *
stopper(void *arg)
{
    micro_watcher_stop(arg);
    return NULL;
}


static void
test_stop_wakes_next(void **state)
{
    pthread_t             t;
    micro_watcher_t      *w;
    micro_watch_event_t   ev;

    (void) state;
    assert_int_equal(micro_watcher_new(fx_reg, 0, &w), 0);
    wait_synced(w);
    pthread_create(&t, NULL, stopper, w);
    assert_int_equal(micro_watcher_next(w, &ev, -1), MICRO_ECLOSED);
    pthread_join(t, NULL);
    micro_watcher_free(w);
}


/*
 * Redis restarts empty: a node it lost is kept until its TTL would have
 * run out (stale beats empty; it was deleted at the resync), then
 * deleted; one registered meanwhile is created at once; and changes are
 * followed again.
 */
static void
test_resync_after_restart(void **state)
{
    int64_t           t0;
    micro_watcher_t  *w;

    (void) state;
    reg_one("go.micro.srv.a", "1", "a-1", 3000);
    assert_int_equal(micro_watcher_new(fx_reg, 0, &w), 0);
    t0 = micro_now_ms();
    wait_synced(w);

    micro_test_redis_stop(&fx_redis);
    assert_int_equal(micro_test_redis_start(&fx_redis), 0);
    reg_one("go.micro.srv.b", "1", "b-1", 0);

    assert_string_equal(next_event(w), "create go.micro.srv.b 1 b-1");
    assert_string_equal(next_event(w), "delete go.micro.srv.a 1 a-1");
    assert_true(micro_now_ms() - t0 >= 3000);

    reg_one("go.micro.srv.c", "1", "c-1", 0);
    assert_string_equal(next_event(w), "create go.micro.srv.c 1 c-1");
    micro_watcher_free(w);
}


/* A node Redis lost that registers again within its TTL is never deleted:
 * the watcher reports the registration as an update, or nothing. */
static void
test_lost_node_back_in_time(void **state)
{
    micro_watcher_t  *w;

    (void) state;
    reg_one("go.micro.srv.a", "1", "a-1", 30000);
    assert_int_equal(micro_watcher_new(fx_reg, 0, &w), 0);
    wait_synced(w);

    micro_test_redis_stop(&fx_redis);
    assert_int_equal(micro_test_redis_start(&fx_redis), 0);
    reg_one("go.micro.srv.b", "1", "b-1", 0);
    assert_string_equal(next_event(w), "create go.micro.srv.b 1 b-1");
    reg_one("go.micro.srv.a", "1", "a-1", 30000);
    reg_one("go.micro.srv.c", "1", "c-1", 0);
    /* a's registration is the entry the watcher knew: no event for it */
    assert_string_equal(next_event(w), "create go.micro.srv.c 1 c-1");
    micro_watcher_free(w);
}


static int
registered(void *arg)
{
    micro_service_list_t  list;

    if (micro_registry_get(fx_reg, arg, &list) != MICRO_OK) {
        return 0;
    }
    micro_service_list_free(&list);
    return 1;
}


/* Each time it is asked, the node must be registered: a lapse between
 * beats is a failure, not only one at the moment of a beat. */
typedef struct {
    micro_heartbeat_t  *hb;
    int                 samples;
    int                 missing;
} micro_beats_t;


static int
alive_through_beats(void *arg)
{
    micro_beats_t  *b = arg;

    b->samples++;
    b->missing += !registered("go.micro.srv.hb");
    return micro_heartbeat_count(b->hb) >= 7;
}


static void
test_heartbeat_keeps_alive(void **state)
{
    micro_service_t       s;
    micro_beats_t         b = { NULL, 0, 0 };
    micro_service_list_t  list;

    (void) state;
    micro_test_service(&s, "go.micro.srv.hb", "1", "hb-1", 9000);
    assert_int_equal(micro_heartbeat_start(fx_reg, &s, 1500, &b.hb), 0);
    micro_service_free(&s);

    /* seven beats at TTL/3 span two TTLs, the node read every 10 ms in
     * between: without the beats it would be gone after the first TTL */
    assert_true(micro_test_wait(alive_through_beats, &b, MICRO_TEST_WAIT_MS));
    assert_true(b.samples > 50);
    assert_int_equal(b.missing, 0);

    assert_int_equal(micro_heartbeat_stop(b.hb, 1), 0);
    assert_int_equal(micro_registry_get(fx_reg, "go.micro.srv.hb", &list),
                     MICRO_ENOTFOUND);
}


static void
test_heartbeat_survives_restart(void **state)
{
    micro_service_t     s;
    micro_heartbeat_t  *hb;

    (void) state;
    /* the next beat after the restart (TTL/3) registers it again */
    micro_test_service(&s, "go.micro.srv.hr", "1", "hr-1", 9000);
    assert_int_equal(micro_heartbeat_start(fx_reg, &s, 1500, &hb), 0);
    micro_service_free(&s);

    micro_test_redis_stop(&fx_redis);
    assert_int_equal(micro_test_redis_start(&fx_redis), 0);
    assert_false(registered("go.micro.srv.hr"));     /* restarted empty */

    assert_true(micro_test_wait(registered, "go.micro.srv.hr",
                                MICRO_TEST_WAIT_MS));
    assert_int_equal(micro_heartbeat_stop(hb, 1), 0);
}


static void
test_heartbeat_starts_while_down(void **state)
{
    micro_service_t     s;
    micro_heartbeat_t  *hb;

    (void) state;
    micro_test_redis_stop(&fx_redis);
    micro_test_service(&s, "go.micro.srv.hd", "1", "hd-1", 9000);
    assert_int_equal(micro_heartbeat_start(fx_reg, &s, 30000, &hb),
                     MICRO_EREDIS);
    assert_non_null(hb);                 /* and it keeps trying */
    micro_service_free(&s);

    assert_int_equal(micro_test_redis_start(&fx_redis), 0);
    assert_true(micro_test_wait(registered, "go.micro.srv.hd",
                                MICRO_TEST_WAIT_MS));
    assert_int_equal(micro_heartbeat_stop(hb, 1), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        MICRO_TEST(test_events),
        MICRO_TEST(test_initial),
        MICRO_TEST(test_timeout),
        MICRO_TEST(test_other_db_unheard),
        MICRO_TEST(test_stop_wakes_next),
        MICRO_TEST(test_resync_after_restart),
        MICRO_TEST(test_lost_node_back_in_time),
        MICRO_TEST(test_heartbeat_keeps_alive),
        MICRO_TEST(test_heartbeat_survives_restart),
        MICRO_TEST(test_heartbeat_starts_while_down),
    };

    return cmocka_run_group_tests_name("watch and heartbeat", tests,
                                       micro_test_group_setup,
                                       micro_test_group_teardown);
}
