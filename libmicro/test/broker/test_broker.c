/*
 * The broker against a real redis-server: every subscriber or a share of
 * a queue, order, durability while away, redelivery, dead letters and
 * replay, retention that a subscriber falls behind, Redis lost and back,
 * and the limits.
 */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redis_fixture.h"

#define MICRO_TEST(f)  cmocka_unit_test_setup(f, micro_test_flush)
#define TOPIC          "go.micro.evt.test"
#define MANY           2000

/* What a subscriber got: the message numbers in order, and its errors. */
typedef struct {
    pthread_mutex_t   lock;
    int              *got;
    int               len;
    int               cap;
    int               fail;      /* the handler fails this many times */
    int               hold;      /* manual_ack and never acknowledge */
    int               max_count; /* the highest delivery count seen */
    int               trimmed;   /* MICRO_ETRIMMED reports */
    int               errors;    /* other reports */
    int               reconnected;
    char              header[64];
} sink_t;


static void
sink_init(sink_t *k)
{
    memset(k, 0, sizeof(*k));
    pthread_mutex_init(&k->lock, NULL);
}


static void
sink_free(sink_t *k)
{
    free(k->got);
    pthread_mutex_destroy(&k->lock);
}


static int
sink_len(sink_t *k)
{
    int  n;

    pthread_mutex_lock(&k->lock);
    n = k->len;
    pthread_mutex_unlock(&k->lock);
    return n;
}


static int
on_message(micro_delivery_t *d, void *data)
{
    int                     n;
    sink_t                 *k = data;
    const char             *h;
    const micro_message_t  *m = micro_delivery_message(d);

    n = atoi((const char *) m->body);
    pthread_mutex_lock(&k->lock);
    if (micro_delivery_count(d) > k->max_count) {
        k->max_count = micro_delivery_count(d);
    }
    h = micro_delivery_header(d, "x-test");
    if (h) {
        snprintf(k->header, sizeof(k->header), "%s", h);
    }
    if (k->fail > 0) {
        k->fail--;
        pthread_mutex_unlock(&k->lock);
        return -1;
    }
    if (k->len == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 256;
        k->got = realloc(k->got, k->cap * sizeof(int));
    }
    k->got[k->len++] = n;
    pthread_mutex_unlock(&k->lock);
    return 0;
}


static void
on_error(int code, const char *detail, void *data)
{
    sink_t  *k = data;

    (void) detail;
    pthread_mutex_lock(&k->lock);
    if (code == MICRO_ETRIMMED) {
        k->trimmed++;
    } else if (code == MICRO_OK) {
        k->reconnected++;
    } else {
        k->errors++;
    }
    pthread_mutex_unlock(&k->lock);
}


static micro_broker_t *
broker_aged(long long retention_len, long long retention_ms)
{
    micro_broker_t            *b;
    micro_broker_options_t     o = { 0 };
    micro_registry_options_t   r;

    o.retention_len = retention_len;
    o.retention_ms = retention_ms;
    assert_int_equal(micro_registry_options_parse(&r, fx_redis.url), 0);
    assert_int_equal(micro_broker_new(&r, &o, &b), 0);
    micro_registry_options_free(&r);
    return b;
}


static micro_broker_t *
broker(long long retention_len)
{
    return broker_aged(retention_len, 0);
}


static void
publish_range(micro_broker_t *b, int from, int to)
{
    int              i;
    char             body[16];
    micro_message_t  m = { { 0 }, body, 0 };

    for (i = from; i < to; i++) {
        m.len = snprintf(body, sizeof(body), "%d", i);
        assert_int_equal(micro_broker_publish(b, TOPIC, &m, NULL, 0), 0);
    }
}


typedef struct {
    sink_t  *sinks;
    int      n;
    int      want;
} total_t;


static int
all_in(void *arg)
{
    int       i, sum = 0;
    total_t  *t = arg;

    for (i = 0; i < t->n; i++) {
        sum += sink_len(&t->sinks[i]);
    }
    return sum >= t->want;
}


static void
wait_total(sink_t *sinks, int n, int want)
{
    total_t  t = { sinks, n, want };

    assert_true(micro_test_wait(all_in, &t, MICRO_TEST_WAIT_MS));
}


static micro_subscription_t *
subscribe(micro_broker_t *b, micro_subscribe_options_t *o, sink_t *k)
{
    micro_subscription_t  *s;

    o->on_error = on_error;
    assert_int_equal(micro_broker_subscribe(b, TOPIC, o, on_message, k, &s),
                     0);
    return s;
}


/* Without a queue every subscriber gets every message, in order. */
static void
test_broadcast(void **state)
{
    int                         i, j;
    sink_t                      k[3];
    micro_broker_t             *b = broker(0);
    micro_subscription_t       *s[3];
    micro_subscribe_options_t   o = { 0 };

    (void) state;
    for (i = 0; i < 3; i++) {
        sink_init(&k[i]);
        s[i] = subscribe(b, &o, &k[i]);
    }
    publish_range(b, 0, MANY);
    for (i = 0; i < 3; i++) {
        wait_total(&k[i], 1, MANY);
        micro_subscription_close(s[i]);
        assert_int_equal(k[i].len, MANY);
        for (j = 0; j < MANY; j++) {
            assert_int_equal(k[i].got[j], j);
        }
        sink_free(&k[i]);
    }
    micro_broker_free(b);
}


/* Subscribers sharing a queue each get a share; each message once. */
static void
test_queue_shares(void **state)
{
    int                         i, j, *seen;
    sink_t                      k[3];
    micro_broker_t             *b = broker(0);
    micro_subscription_t       *s[3];
    micro_subscribe_options_t   o = { .queue = "workers", .batch = 1 };

    (void) state;
    for (i = 0; i < 3; i++) {
        sink_init(&k[i]);
        s[i] = subscribe(b, &o, &k[i]);
    }
    publish_range(b, 0, MANY);
    wait_total(k, 3, MANY);
    seen = calloc(MANY, sizeof(int));
    for (i = 0; i < 3; i++) {
        micro_subscription_close(s[i]);
    }
    for (i = 0; i < 3; i++) {
        assert_true(k[i].len > 0);           /* each got a share */
        for (j = 0; j < k[i].len; j++) {
            seen[k[i].got[j]]++;
        }
        for (j = 1; j < k[i].len; j++) {     /* in the topic's order */
            assert_true(k[i].got[j] > k[i].got[j - 1]);
        }
    }
    for (j = 0; j < MANY; j++) {
        assert_int_equal(seen[j], 1);
    }
    free(seen);
    for (i = 0; i < 3; i++) {
        sink_free(&k[i]);
    }
    micro_broker_free(b);
}


/* A named subscriber away gets, when back, what was published meanwhile;
 * without a name nothing is kept. */
static void
test_durable_while_away(void **state)
{
    sink_t                      k;
    redisReply                 *r;
    micro_broker_t             *b = broker(0);
    micro_subscription_t       *s;
    micro_subscribe_options_t   named = { .name = "audit-log" };
    micro_subscribe_options_t   once = { 0 };

    (void) state;
    sink_init(&k);
    s = subscribe(b, &named, &k);
    publish_range(b, 0, 10);
    wait_total(&k, 1, 10);
    micro_subscription_close(s);

    s = subscribe(b, &once, &k);         /* once: its group goes on close */
    micro_subscription_close(s);
    r = micro_test_redis_cmd(&fx_redis, "XINFO GROUPS micro:topic:" TOPIC);
    assert_non_null(r);
    assert_int_equal(r->elements, 1);    /* only name:audit-log */
    freeReplyObject(r);

    publish_range(b, 10, 510);           /* while it is away */
    s = subscribe(b, &named, &k);
    wait_total(&k, 1, 510);
    micro_subscription_close(s);
    assert_int_equal(k.len, 510);
    assert_int_equal(k.got[509], 509);
    sink_free(&k);
    micro_broker_free(b);
}


/* Messages a member holds unacknowledged go to another past the
 * visibility timeout, counted as a second delivery. */
static void
test_redelivery(void **state)
{
    sink_t                      held, other;
    micro_broker_t             *b = broker(0);
    micro_subscription_t       *s1, *s2;
    micro_subscribe_options_t   o1 = { .queue = "q", .manual_ack = 1,
                                       .visibility_ms = 300 };
    micro_subscribe_options_t   o2 = { .queue = "q", .visibility_ms = 300 };

    (void) state;
    sink_init(&held);
    sink_init(&other);
    s1 = subscribe(b, &o1, &held);       /* takes and never acknowledges */
    publish_range(b, 0, 20);
    wait_total(&held, 1, 20);
    micro_subscription_close(s1);        /* as if it died with them */

    s2 = subscribe(b, &o2, &other);
    wait_total(&other, 1, 20);
    micro_subscription_close(s2);
    assert_int_equal(other.len, 20);
    assert_int_equal(other.max_count, 2);
    sink_free(&held);
    sink_free(&other);
    micro_broker_free(b);
}


/* XLEN of a key, -1 when Redis does not say. */
static long long
stream_len(const char *key)
{
    long long    n = -1;
    redisReply  *r;

    r = micro_test_redis_cmd(&fx_redis, "XLEN %s", key);
    if (r && r->type == REDIS_REPLY_INTEGER) {
        n = r->integer;
    }
    if (r) {
        freeReplyObject(r);
    }
    return n;
}


static long long
topic_len(void)
{
    return stream_len("micro:topic:" TOPIC);
}


static int
one_dead(void *arg)
{
    (void) arg;
    return stream_len("micro:dead:" TOPIC) == 1;
}


/* A handler that fails gets the message again at once; after
 * max_deliveries it goes to the dead letters, and replay brings it back. */
static void
test_dead_letter_and_replay(void **state)
{
    sink_t                      k;
    redisReply                 *r;
    micro_broker_t             *b = broker(0);
    micro_subscription_t       *s;
    micro_topic_list_t          topics;
    micro_subscribe_options_t   o = { .queue = "q", .max_deliveries = 3,
                                      .visibility_ms = 200 };

    (void) state;
    sink_init(&k);
    k.fail = 1;
    s = subscribe(b, &o, &k);
    publish_range(b, 7, 8);
    wait_total(&k, 1, 1);                /* failed once, then handled */
    assert_int_equal(k.max_count, 2);

    k.fail = 1000;                       /* now it always fails */
    publish_range(b, 8, 9);
    assert_true(micro_test_wait(one_dead, NULL, MICRO_TEST_WAIT_MS));
    r = micro_test_redis_cmd(&fx_redis, "XRANGE micro:dead:" TOPIC " - +");
    assert_non_null(r);
    assert_int_equal(r->elements, 1);
    assert_string_equal(r->element[0]->element[1]->element[3]->str, "8");
    freeReplyObject(r);
    assert_int_equal(k.max_count, 3);

    assert_int_equal(micro_broker_topics(b, &topics), 0);
    assert_int_equal(topics.len, 1);
    assert_string_equal(topics.items[0].topic, TOPIC);
    assert_int_equal(topics.items[0].length, 2);
    assert_int_equal(topics.items[0].dead, 1);
    assert_int_equal(topics.items[0].ngroups, 1);
    assert_string_equal(topics.items[0].groups[0].name, "queue:q");
    assert_int_equal(topics.items[0].groups[0].pending, 0);
    micro_topic_list_free(&topics);

    pthread_mutex_lock(&k.lock);
    k.fail = 0;
    pthread_mutex_unlock(&k.lock);
    assert_int_equal(micro_broker_replay(b, TOPIC), 1);
    wait_total(&k, 1, 2);
    assert_int_equal(k.got[1], 8);
    micro_subscription_close(s);
    sink_free(&k);
    micro_broker_free(b);
}


/* A subscriber away while retention trimmed what it had not read is told
 * so, and gets what is left. */
static void
test_retention(void **state)
{
    sink_t                      k;
    redisReply                 *r;
    micro_broker_t             *b = broker(100);
    micro_subscription_t       *s;
    micro_subscribe_options_t   o = { .name = "slow" };

    (void) state;
    sink_init(&k);
    s = subscribe(b, &o, &k);
    micro_subscription_close(s);
    publish_range(b, 0, 1000);
    r = micro_test_redis_cmd(&fx_redis, "XLEN micro:topic:" TOPIC);
    assert_true(r->integer < 300);       /* about 100: whole nodes go */
    s = subscribe(b, &o, &k);
    wait_total(&k, 1, (int) r->integer);
    micro_subscription_close(s);
    assert_int_equal(k.trimmed, 1);
    assert_int_equal(k.got[k.len - 1], 999);
    freeReplyObject(r);
    sink_free(&k);
    micro_broker_free(b);
}


/* Retention by age: entries older than retention_ms go (in whole nodes,
 * MINID ~) as new ones come; a length limit of -1 keeps any number. */
static void
test_retention_by_age(void **state)
{
    int              published = 0;
    micro_broker_t  *b = broker_aged(-1, 50);

    (void) state;
    while (published < 100000 && topic_len() == published) {
        publish_range(b, published, published + 200);
        published += 200;
    }
    assert_true(topic_len() < published);    /* the oldest went */
    assert_true(topic_len() > 0);
    micro_broker_free(b);
}


/* Redis down: publish fails (nothing said stored that is not); back
 * (restarted empty): publish works and the subscriber goes on. */
static void
test_redis_down_and_back(void **state)
{
    int                         rc;
    sink_t                      k;
    char                        body[] = "1";
    micro_broker_t             *b = broker(0);
    micro_message_t             m = { { 0 }, body, 1 };
    micro_subscription_t       *s;
    micro_subscribe_options_t   o = { .queue = "q" };

    (void) state;
    sink_init(&k);
    s = subscribe(b, &o, &k);
    publish_range(b, 0, 1);
    wait_total(&k, 1, 1);

    micro_test_redis_stop(&fx_redis);
    rc = micro_broker_publish(b, TOPIC, &m, NULL, 0);
    assert_true(rc == MICRO_EREDIS || rc == MICRO_ETIMEDOUT);
    assert_int_equal(micro_test_redis_start(&fx_redis), 0);

    publish_range(b, 1, 50);
    wait_total(&k, 1, 50);
    assert_true(k.reconnected >= 1);
    micro_subscription_close(s);
    sink_free(&k);
    micro_broker_free(b);
}


static void
test_limits_and_names(void **state)
{
    char                   id[MICRO_BROKER_ID_MAX];
    char                  *big;
    sink_t                 k;
    micro_pair_t           h[2] = { { "X-Test", "yes" },
                                    { "Micro-Id", "fixed-id" } };
    micro_broker_t        *b = broker(0);
    micro_message_t        m = { { h, 2 }, "5", 1 };
    micro_subscription_t  *s;
    micro_subscribe_options_t  o = { 0 };

    (void) state;
    assert_int_equal(micro_broker_publish(b, "bad topic", &m, NULL, 0),
                     MICRO_EINVAL);
    assert_int_equal(micro_broker_subscribe(b, "", NULL, on_message, NULL,
                                            &s), MICRO_EINVAL);
    big = calloc(1, MICRO_BROKER_MAX_MESSAGE + 1);
    m.body = big;
    m.len = MICRO_BROKER_MAX_MESSAGE;
    assert_int_equal(micro_broker_publish(b, TOPIC, &m, NULL, 0),
                     MICRO_ETOOBIG);
    free(big);

    sink_init(&k);
    s = subscribe(b, &o, &k);
    m.body = "5";
    m.len = 1;
    assert_int_equal(micro_broker_publish(b, TOPIC, &m, id, sizeof(id)), 0);
    assert_string_equal(id, "fixed-id");
    wait_total(&k, 1, 1);
    assert_string_equal(k.header, "yes");
    micro_subscription_close(s);
    sink_free(&k);
    micro_broker_free(b);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        MICRO_TEST(test_broadcast),
        MICRO_TEST(test_queue_shares),
        MICRO_TEST(test_durable_while_away),
        MICRO_TEST(test_redelivery),
        MICRO_TEST(test_dead_letter_and_replay),
        MICRO_TEST(test_retention),
        MICRO_TEST(test_retention_by_age),
        MICRO_TEST(test_redis_down_and_back),
        MICRO_TEST(test_limits_and_names),
    };

    return cmocka_run_group_tests_name("broker", tests,
                                       micro_test_group_setup,
                                       micro_test_group_teardown);
}
