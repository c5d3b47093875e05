/*
 * The broker's speed, as bench/broker.sh compares it with raw XADD and
 * NATS JetStream:
 *
 *   broker_bench URL publish N SIZE
 *       N messages of SIZE bytes published one after another (each waits
 *       for Redis): prints "messages/s"
 *   broker_bench URL raw N SIZE
 *       the same XADD (MAXLEN ~ 100000, a header as publish writes it)
 *       sent by hiredis alone, one after another: the limit of (publish)
 *       on the same connection
 *   broker_bench URL latency RATE SECONDS SIZE SUBSCRIBERS
 *       published at RATE a second for SECONDS (by two threads, each on
 *       a broker of its own: one publisher waiting for each reply cannot
 *       reach 10,000/s on this machine), read by SUBSCRIBERS
 *       sharing a queue (1: a subscriber of its own); each message carries
 *       its send time: prints "messages/s p50 p99" (ms, publish to handler)
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>
#include <micro.h>

#define TOPIC  "bench.broker"

static pthread_mutex_t   lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t          *latencies;
static size_t            nlatencies, cap;


static int64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}


static micro_broker_t *
broker(const char *url)
{
    micro_broker_t            *b;
    micro_registry_options_t   o;

    if (micro_registry_options_parse(&o, url) != 0
        || micro_broker_new(&o, NULL, &b) != 0)
    {
        fprintf(stderr, "broker_bench: %s\n", micro_error_detail());
        exit(1);
    }
    micro_registry_options_free(&o);
    return b;
}


static int
on_message(micro_delivery_t *d, void *data)
{
    int64_t                 sent;
    const micro_message_t  *m = micro_delivery_message(d);

    (void) data;
    memcpy(&sent, m->body, sizeof(sent));
    pthread_mutex_lock(&lock);
    if (nlatencies == cap) {
        cap = cap ? cap * 2 : 65536;
        latencies = realloc(latencies, cap * sizeof(int64_t));
    }
    latencies[nlatencies++] = now_ns() - sent;
    pthread_mutex_unlock(&lock);
    return 0;
}


typedef struct {
    const char  *url;
    int          from, to, rate;
    size_t       size;
    int64_t      start;
    int          failed;
} publisher_t;


/* Publishes every other message from `from` (the other thread takes the
 * rest), message i at start + i / rate. */
static void *
publisher(void *arg)
{
    int               i;
    char             *body;
    int64_t           next;
    publisher_t      *p = arg;
    micro_broker_t   *b = broker(p->url);
    micro_message_t   m = { { 0 }, NULL, 0 };

    body = calloc(1, p->size);
    memset(body, 'x', p->size);
    m.body = body;
    m.len = p->size;
    for (i = p->from; i < p->to; i += 2) {
        next = p->start + (int64_t) i * 1000000000 / p->rate;
        if (now_ns() < next) {
            struct timespec  at = { next / 1000000000, next % 1000000000 };

            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
        }
        *(int64_t *) body = now_ns();
        if (micro_broker_publish(b, TOPIC, &m, NULL, 0) != 0) {
            fprintf(stderr, "broker_bench: %s\n", micro_error_detail());
            p->failed = 1;
            break;
        }
    }
    micro_broker_free(b);
    free(body);
    return NULL;
}


/* The XADD publish sends, by hiredis alone. */
static int
raw(const char *url, int n, size_t size)
{
    int                        i;
    char                      *body;
    int64_t                    start;
    redisReply                *reply;
    redisContext              *c;
    micro_registry_options_t   o;
    const char                *header = "{\"Micro-Id\":\"5f0c3a1e-6b1d-4c1e-"
        "9a57-3d2b8c0f4e21\",\"Micro-Topic\":\"" TOPIC "\"}";

    if (micro_registry_options_parse(&o, url) != 0) {
        return 1;
    }
    c = redisConnect(o.host, o.port);
    micro_registry_options_free(&o);
    if (c == NULL || c->err) {
        return 1;
    }
    body = calloc(1, size);
    memset(body, 'x', size);
    start = now_ns();
    for (i = 0; i < n; i++) {
        reply = redisCommand(c, "XADD micro:topic:%s MAXLEN ~ 100000 * "
                             "header %s body %b", TOPIC "-raw", header, body,
                             size);
        if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
            return 1;
        }
        freeReplyObject(reply);
    }
    printf("%.0f\n", n / ((now_ns() - start) / 1e9));
    redisFree(c);
    free(body);
    return 0;
}


static int
cmp(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}


int
main(int argc, char **argv)
{
    int                         i, n, rate, seconds, subs;
    char                       *body;
    size_t                      size, received;
    int64_t                     start, elapsed;
    micro_broker_t             *b;
    micro_message_t             m = { { 0 }, NULL, 0 };
    micro_subscription_t       *s[16];
    micro_subscribe_options_t   o = { .queue = "bench" };
    publisher_t                 pubs[2] = { { 0 } };
    pthread_t                   threads[2];

    if (argc == 5 && strcmp(argv[2], "publish") == 0) {
        n = atoi(argv[3]);
        size = (size_t) atoi(argv[4]);
        body = calloc(1, size);
        memset(body, 'x', size);
        b = broker(argv[1]);
        m.body = body;
        m.len = size;
        start = now_ns();
        for (i = 0; i < n; i++) {
            if (micro_broker_publish(b, TOPIC, &m, NULL, 0) != 0) {
                fprintf(stderr, "broker_bench: %s\n", micro_error_detail());
                return 1;
            }
        }
        printf("%.0f\n", n / ((now_ns() - start) / 1e9));
        micro_broker_free(b);
        free(body);
        return 0;
    }
    if (argc == 5 && strcmp(argv[2], "raw") == 0) {
        return raw(argv[1], atoi(argv[3]), (size_t) atoi(argv[4]));
    }
    if (argc != 7 || strcmp(argv[2], "latency") != 0) {
        fprintf(stderr, "usage: broker_bench URL publish N SIZE | "
                "URL latency RATE SECONDS SIZE SUBSCRIBERS\n");
        return 2;
    }
    rate = atoi(argv[3]);
    seconds = atoi(argv[4]);
    size = (size_t) atoi(argv[5]);
    subs = atoi(argv[6]);
    if (subs < 1 || subs > 16 || size < sizeof(int64_t)) {
        return 2;
    }
    b = broker(argv[1]);
    for (i = 0; i < subs; i++) {
        if (micro_broker_subscribe(b, TOPIC, &o, on_message, NULL, &s[i])
            != 0)
        {
            fprintf(stderr, "broker_bench: %s\n", micro_error_detail());
            return 1;
        }
    }
    n = rate * seconds;
    start = now_ns();
    for (i = 0; i < 2; i++) {
        pubs[i].url = argv[1];
        pubs[i].from = i;
        pubs[i].to = n;
        pubs[i].rate = rate;
        pubs[i].size = size;
        pubs[i].start = start;
        pthread_create(&threads[i], NULL, publisher, &pubs[i]);
    }
    for (i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        if (pubs[i].failed) {
            return 1;
        }
    }
    elapsed = now_ns() - start;
    /* bounded wait for the last deliveries */
    for (i = 0; i < 3000; i++) {
        pthread_mutex_lock(&lock);
        received = nlatencies;
        pthread_mutex_unlock(&lock);
        if (received >= (size_t) n) {
            break;
        }
        struct timespec  ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    for (i = 0; i < subs; i++) {
        micro_subscription_close(s[i]);
    }
    if (nlatencies < (size_t) n) {
        fprintf(stderr, "broker_bench: %zu of %d delivered\n", nlatencies, n);
        return 1;
    }
    qsort(latencies, nlatencies, sizeof(int64_t), cmp);
    printf("%.0f %.3fms %.3fms\n", n / (elapsed / 1e9),
           latencies[nlatencies / 2] / 1e6,
           latencies[nlatencies * 99 / 100] / 1e6);
    micro_broker_free(b);
    free(latencies);
    return 0;
}
