/*
 * A subscription: a thread that reads the topic's stream as a member of
 * its consumer group, hands each message to the handler in order,
 * acknowledges it, takes over messages other members left unacknowledged
 * past the visibility timeout, moves those delivered too often to the
 * dead letters, and says when retention removed messages before it read
 * them. Redis lost: it reconnects with back-off and goes on where the
 * group was.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker_internal.h"
#include "core/clock.h"
#include "core/random.h"
#include "micro/error.h"
#include "micro/registry_format.h"
#include "registry/redis.h"

#define MICRO_SUB_BLOCK_MS        1000   /* a read waits at most, so that
                                            close() is heard */
#define MICRO_SUB_RETENTION_MS    5000   /* how often trimming is checked */
#define MICRO_SUB_BACKOFF_MIN_MS  100
#define MICRO_SUB_BACKOFF_MAX_MS  5000

struct micro_subscription_s {
    micro_broker_t             *b;
    char                       *topic;
    char                       *key;         /* the stream */
    char                       *dead;        /* its dead letters */
    char                       *group;
    char                        consumer[96];
    int                         once;        /* group removed on close */
    micro_subscribe_options_t   o;
    micro_broker_handler_t      handler;
    void                       *data;
    redisContext               *c;
    pthread_t                   thread;
    atomic_int                  stop;
    int                         down;        /* an outage was reported */
    int64_t                     next_reclaim;
    int64_t                     next_check;
    const char                **acks;        /* a read's handled ids */
    const char                **xack;        /* XACK KEY GROUP ids... */
    char                        trimmed[48]; /* position of the last loss
                                                reported */
};

struct micro_delivery_s {
    micro_subscription_t       *s;
    const char                 *entry;
    micro_message_t             m;
    int                         count;
    int                         acked;
};


static void
micro_sub_report(micro_subscription_t *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
micro_sub_report(micro_subscription_t *s, int code, const char *fmt, ...)
{
    char     msg[512];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (s->o.on_error) {
        s->o.on_error(code, msg, s->data);
    } else {
        micro_log_warn("broker: %s", msg);
    }
}


/* Redis lost: said once, the connection dropped (the thread reconnects). */
static void
micro_sub_lost(micro_subscription_t *s)
{
    if (!s->down) {
        micro_redis_status(s->c, NULL, "subscription");
        micro_sub_report(s, MICRO_EREDIS, "%s: %s: reconnecting", s->topic,
                         micro_error_detail());
        s->down = 1;
    }
    redisFree(s->c);
    s->c = NULL;
}


/* A command on the subscription's connection; NULL (and the connection
 * dropped) when Redis is lost, replies with errors are returned. */
static redisReply *
micro_sub_command(micro_subscription_t *s, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *reply;

    if (s->c == NULL) {
        return NULL;
    }
    va_start(ap, fmt);
    reply = redisvCommand(s->c, fmt, ap);
    va_end(ap);
    if (reply == NULL) {
        micro_sub_lost(s);
    }
    return reply;
}


static int
micro_sub_ok(micro_subscription_t *s, redisReply *reply, const char *what)
{
    int  rc = MICRO_OK;

    if (reply == NULL) {
        return MICRO_EREDIS;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        rc = micro_error_set(MICRO_EREDIS, "%s %s: %s", what, s->topic,
                             reply->str);
    }
    freeReplyObject(reply);
    return rc;
}


/* The group, made with its read counter when it does not exist (the
 * script: libmicro/lua/group.lua; EVAL, its text is small). */
static int
micro_sub_group(micro_subscription_t *s, const char *start)
{
    redisReply  *reply;

    reply = micro_sub_command(s, "EVAL %s 1 %s %s %s",
                              micro_lua_scripts[MICRO_LUA_GROUP], s->key,
                              s->group, start);
    return micro_sub_ok(s, reply, "XGROUP CREATE");
}


static int
micro_sub_connect(micro_subscription_t *s)
{
    int              rc;
    struct timeval   tv;

    rc = micro_redis_connect(&s->b->redis, &s->c);
    if (rc != MICRO_OK) {
        return rc;
    }
    /* a blocked read answers after BLOCK ms at the latest */
    tv.tv_sec = (MICRO_SUB_BLOCK_MS + s->b->redis.command_timeout_ms) / 1000;
    tv.tv_usec = ((MICRO_SUB_BLOCK_MS + s->b->redis.command_timeout_ms)
                  % 1000) * 1000;
    redisSetTimeout(s->c, tv);
    return MICRO_OK;
}


/* One XACK for n entries (at most a batch of them). */
static void
micro_sub_ack(micro_subscription_t *s, const char **ids, size_t n)
{
    redisReply  *reply;

    if (n == 0 || s->c == NULL) {
        return;
    }
    memcpy(s->xack + 3, ids, n * sizeof(char *));
    reply = redisCommandArgv(s->c, (int) n + 3, s->xack, NULL);
    if (reply == NULL) {
        micro_sub_lost(s);
        return;
    }
    if (micro_sub_ok(s, reply, "XACK") != MICRO_OK) {
        micro_sub_report(s, MICRO_EREDIS, "%s", micro_error_detail());
    }
}


/* Makes a message this consumer holds visible to every member now. */
static void
micro_sub_release(micro_subscription_t *s, const char *entry)
{
    redisReply  *reply;

    reply = micro_sub_command(s, "XCLAIM %s %s %s 0 %s IDLE %d JUSTID",
                              s->key, s->group, s->consumer, entry,
                              s->o.visibility_ms);
    micro_sub_ok(s, reply, "XCLAIM");
    s->next_reclaim = 0;
}


/*
 * Hands one entry to the handler. 1 when it is to be acknowledged (the
 * caller does, one XACK for a whole read), 0 when it is dealt with.
 */
static int
micro_sub_deliver(micro_subscription_t *s, const redisReply *e, int count)
{
    int               rc;
    micro_delivery_t  d;

    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
        || e->element[0]->type != REDIS_REPLY_STRING)
    {
        return 0;
    }
    memset(&d, 0, sizeof(d));
    d.s = s;
    d.entry = e->element[0]->str;
    d.count = count;
    if (atomic_load(&s->stop)) {
        micro_sub_release(s, d.entry);
        return 0;
    }
    if (micro_broker_entry_message(e->element[1], &d.m) != MICRO_OK) {
        /* no handler can read it, now or after any number of tries */
        micro_sub_report(s, MICRO_EPARSE, "%s: entry %s: %s: acknowledged "
                         "unread", s->topic, d.entry, micro_error_detail());
        return 1;
    }
    rc = s->handler(&d, s->data);
    micro_metadata_free(&d.m.header);
    if (rc != 0 && !d.acked) {
        micro_sub_release(s, d.entry);
        return 0;
    }
    return rc == 0 && !s->o.manual_ack && !d.acked;
}


/* The message moves to the dead letters, with where it came from. */
static void
micro_sub_bury(micro_subscription_t *s, const char *entry, long long count)
{
    int                rc;
    char               n[24];
    redisReply        *reply;
    const char        *extra[6];
    const redisReply  *e, *header, *body;

    /* claimed first, so that only one member buries it */
    reply = micro_sub_command(s, "XCLAIM %s %s %s %d %s", s->key, s->group,
                              s->consumer, s->o.visibility_ms, entry);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements == 0)
    {
        if (reply) {
            freeReplyObject(reply);
        }
        return;
    }
    e = reply->element[0];
    if (e->type == REDIS_REPLY_ARRAY && e->elements == 2) {
        snprintf(n, sizeof(n), "%lld", count);
        extra[0] = "group";
        extra[1] = s->group;
        extra[2] = "entry";
        extra[3] = entry;
        extra[4] = "deliveries";
        extra[5] = n;
        header = micro_broker_field(e->element[1], "header");
        body = micro_broker_field(e->element[1], "body");
        rc = micro_broker_xadd(s->b, s->c, s->dead,
                               header ? header->str : "{}",
                               header ? header->len : 2,
                               body ? body->str : "", body ? body->len : 0,
                               extra, 6, NULL, 0);
        if (rc != MICRO_OK) {
            freeReplyObject(reply);
            return;                      /* stays pending: tried again */
        }
        micro_sub_report(s, MICRO_EREMOTE, "%s: entry %s delivered %lld "
                         "times without an acknowledgement: moved to the "
                         "dead letters", s->topic, entry, count);
    }
    freeReplyObject(reply);
    micro_sub_ack(s, &entry, 1);
}


/*
 * Messages any member has held past the visibility timeout: taken over
 * and delivered again, or buried after max_deliveries.
 */
static void
micro_sub_reclaim(micro_subscription_t *s)
{
    size_t       i;
    long long    count;
    redisReply  *pending, *claimed;
    redisReply  *p;

    pending = micro_sub_command(s, "XPENDING %s %s IDLE %d - + %d", s->key,
                                s->group, s->o.visibility_ms, s->o.batch);
    if (pending == NULL || pending->type != REDIS_REPLY_ARRAY) {
        if (pending) {
            freeReplyObject(pending);
        }
        return;
    }
    for (i = 0; i < pending->elements && s->c; i++) {
        p = pending->element[i];
        if (p->type != REDIS_REPLY_ARRAY || p->elements < 4) {
            continue;
        }
        count = p->element[3]->integer;
        if (count >= s->o.max_deliveries) {
            micro_sub_bury(s, p->element[0]->str, count);
            continue;
        }
        claimed = micro_sub_command(s, "XCLAIM %s %s %s %d %s", s->key,
                                    s->group, s->consumer,
                                    s->o.visibility_ms, p->element[0]->str);
        if (claimed && claimed->type == REDIS_REPLY_ARRAY
            && claimed->elements == 1
            && micro_sub_deliver(s, claimed->element[0], (int) count + 1))
        {
            micro_sub_ack(s, (const char **) &claimed->element[0]
                                 ->element[0]->str, 1);
        }
        if (claimed) {
            freeReplyObject(claimed);
        }
    }
    /* a full page: there may be more */
    s->next_reclaim = pending->elements == (size_t) s->o.batch
                      ? 0 : micro_now_ms() + s->o.visibility_ms / 4 + 1;
    freeReplyObject(pending);
}


/*
 * Retention removed entries past the group's position: messages this
 * subscription will never see. When the group's last delivered entry is
 * older than the stream's first, every entry kept is unread, so the lag
 * beyond the length is what was trimmed unread. Reported once a loss.
 */
static void
micro_sub_check_trimmed(micro_subscription_t *s)
{
    size_t             i;
    long long          lost;
    redisReply        *stream, *groups;
    const redisReply  *first, *length, *name, *last, *lag;

    stream = micro_sub_command(s, "XINFO STREAM %s", s->key);
    groups = stream ? micro_sub_command(s, "XINFO GROUPS %s", s->key) : NULL;
    first = micro_broker_field(stream, "first-entry");
    length = micro_broker_field(stream, "length");
    for (i = 0; first && first->type == REDIS_REPLY_ARRAY && first->elements
                && length && groups && groups->type == REDIS_REPLY_ARRAY
                && i < groups->elements; i++)
    {
        name = micro_broker_field(groups->element[i], "name");
        last = micro_broker_field(groups->element[i], "last-delivered-id");
        lag = micro_broker_field(groups->element[i], "lag");
        if (name == NULL || last == NULL || lag == NULL
            || lag->type != REDIS_REPLY_INTEGER
            || strcmp(name->str, s->group) != 0
            || micro_broker_id_cmp(last->str, first->element[0]->str) >= 0
            || strcmp(last->str, s->trimmed) == 0)
        {
            continue;
        }
        lost = lag->integer - length->integer;
        if (lost > 0) {
            micro_sub_report(s, MICRO_ETRIMMED, "%s: %s fell behind the "
                             "topic's retention: %lld messages after %s "
                             "were removed before it read them", s->topic,
                             s->group, lost, last->str);
            snprintf(s->trimmed, sizeof(s->trimmed), "%s", last->str);
        }
    }
    if (stream) {
        freeReplyObject(stream);
    }
    if (groups) {
        freeReplyObject(groups);
    }
}


/* New messages, delivered in order; NOGROUP (Redis emptied): remade. */
static void
micro_sub_read(micro_subscription_t *s)
{
    size_t        i, n;
    redisReply   *reply, *entries;

    reply = micro_sub_command(s, "XREADGROUP GROUP %s %s COUNT %d BLOCK %d "
                              "STREAMS %s >", s->group, s->consumer,
                              s->o.batch, MICRO_SUB_BLOCK_MS, s->key);
    if (reply == NULL) {
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        if (strncmp(reply->str, "NOGROUP", 7) == 0) {
            micro_sub_report(s, MICRO_EREDIS, "%s: %s was gone from Redis: "
                             "made again", s->topic, s->group);
            micro_sub_group(s, "0");
        } else {
            micro_sub_report(s, MICRO_EREDIS, "%s: XREADGROUP: %s",
                             s->topic, reply->str);
        }
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
               && reply->element[0]->elements == 2)
    {
        entries = reply->element[0]->element[1];
        for (i = 0, n = 0; i < entries->elements && s->c; i++) {
            if (micro_sub_deliver(s, entries->element[i], 1)) {
                s->acks[n++] = entries->element[i]->element[0]->str;
            }
        }
        micro_sub_ack(s, s->acks, n);
    }
    freeReplyObject(reply);
}


static void
micro_sub_sleep(micro_subscription_t *s, int ms)
{
    struct timespec  ts = { 0, 10 * 1000000 };

    for ( ; ms > 0 && !atomic_load(&s->stop); ms -= 10) {
        nanosleep(&ts, NULL);
    }
}


static void *
micro_sub_thread(void *arg)
{
    int                    backoff = MICRO_SUB_BACKOFF_MIN_MS;
    int64_t                now;
    redisReply            *reply;
    micro_subscription_t  *s = arg;

    while (!atomic_load(&s->stop)) {
        if (s->c == NULL) {
            if (micro_sub_connect(s) != MICRO_OK
                || micro_sub_group(s, "0") != MICRO_OK)
            {
                micro_sub_sleep(s, backoff);
                backoff = backoff * 2 > MICRO_SUB_BACKOFF_MAX_MS
                          ? MICRO_SUB_BACKOFF_MAX_MS : backoff * 2;
                continue;
            }
            if (s->down) {
                micro_sub_report(s, MICRO_OK, "%s: reconnected to redis",
                                 s->topic);
                s->down = 0;
            }
            backoff = MICRO_SUB_BACKOFF_MIN_MS;
            s->next_reclaim = 0;
            s->next_check = 0;
        }
        now = micro_now_ms();
        if (now >= s->next_check) {
            micro_sub_check_trimmed(s);
            s->next_check = now + MICRO_SUB_RETENTION_MS;
        }
        if (s->c && now >= s->next_reclaim) {
            micro_sub_reclaim(s);
        }
        if (s->c) {
            micro_sub_read(s);
        }
    }

    if (s->c && s->once) {
        reply = micro_sub_command(s, "XGROUP DESTROY %s %s", s->key,
                                  s->group);
        micro_sub_ok(s, reply, "XGROUP DESTROY");
    } else if (s->c) {
        /* a consumer with nothing pending is only a name in the group */
        reply = micro_sub_command(s, "XPENDING %s %s - + 1 %s", s->key,
                                  s->group, s->consumer);
        if (reply && reply->type == REDIS_REPLY_ARRAY
            && reply->elements == 0)
        {
            micro_sub_ok(s, micro_sub_command(s, "XGROUP DELCONSUMER %s %s "
                                              "%s", s->key, s->group,
                                              s->consumer),
                         "XGROUP DELCONSUMER");
        }
        if (reply) {
            freeReplyObject(reply);
        }
    }
    return NULL;
}


static void
micro_sub_free(micro_subscription_t *s)
{
    if (s->c) {
        redisFree(s->c);
    }
    free((char *) s->o.queue);
    free((char *) s->o.name);
    free(s->topic);
    free(s->key);
    free(s->dead);
    free(s->group);
    free(s->acks);
    free(s->xack);
    free(s);
}


static int
micro_sub_names(micro_subscription_t *s, micro_broker_t *b,
    const char *topic)
{
    char   host[64];
    char   rnd[4];
    size_t len;

    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "host");
    }
    host[sizeof(host) - 1] = '\0';
    micro_random_bytes(rnd, sizeof(rnd));
    snprintf(s->consumer, sizeof(s->consumer), "%s-%d-%02x%02x%02x%02x",
             host, (int) getpid(), (unsigned char) rnd[0],
             (unsigned char) rnd[1], (unsigned char) rnd[2],
             (unsigned char) rnd[3]);

    s->topic = strdup(topic);
    s->key = micro_broker_key(b, "topic:", topic);
    s->dead = micro_broker_key(b, "dead:", topic);
    len = strlen(s->consumer) + MICRO_NAME_MAX + 8;
    s->group = malloc(len);
    if (s->topic == NULL || s->key == NULL || s->dead == NULL
        || s->group == NULL)
    {
        return MICRO_ENOMEM;
    }
    if (s->o.queue) {
        snprintf(s->group, len, "queue:%s", s->o.queue);
    } else if (s->o.name) {
        snprintf(s->group, len, "name:%s", s->o.name);
    } else {
        snprintf(s->group, len, "once:%s", s->consumer);
        s->once = 1;
    }
    return MICRO_OK;
}


int
micro_broker_subscribe(micro_broker_t *b, const char *topic,
    const micro_subscribe_options_t *opts, micro_broker_handler_t handler,
    void *data, micro_subscription_t **out)
{
    int                    rc;
    micro_subscription_t  *s;

    if (!micro_name_valid(topic)) {
        return micro_error_set(MICRO_EINVAL, "invalid topic \"%.64s\"",
                               topic ? topic : "");
    }
    if (opts && ((opts->queue && !micro_name_valid(opts->queue))
                 || (opts->name && !micro_name_valid(opts->name))))
    {
        return micro_error_set(MICRO_EINVAL, "invalid queue or name for "
                               "%s", topic);
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return MICRO_ENOMEM;
    }
    if (opts) {
        s->o = *opts;
    }
    s->o.queue = s->o.queue ? strdup(s->o.queue) : NULL;
    s->o.name = s->o.name ? strdup(s->o.name) : NULL;
    if (s->o.visibility_ms <= 0) {
        s->o.visibility_ms = MICRO_BROKER_VISIBILITY;
    }
    if (s->o.max_deliveries <= 0) {
        s->o.max_deliveries = MICRO_BROKER_MAX_DELIVERIES;
    }
    if (s->o.batch <= 0) {
        s->o.batch = 16;
    }
    s->b = b;
    s->handler = handler;
    s->data = data;
    rc = micro_sub_names(s, b, topic);
    if (rc == MICRO_OK) {
        s->acks = malloc((size_t) s->o.batch * sizeof(char *));
        s->xack = malloc(((size_t) s->o.batch + 3) * sizeof(char *));
        if (s->acks == NULL || s->xack == NULL) {
            rc = MICRO_ENOMEM;
        } else {
            s->xack[0] = "XACK";
            s->xack[1] = s->key;
            s->xack[2] = s->group;
            rc = micro_sub_connect(s);
        }
    }
    if (rc == MICRO_OK) {
        rc = micro_sub_group(s, s->o.from_start ? "0" : "$");
    }
    if (rc == MICRO_OK && pthread_create(&s->thread, NULL, micro_sub_thread,
                                         s) != 0)
    {
        rc = micro_error_set(MICRO_ENOMEM, "cannot start a thread for %s",
                             topic);
    }
    if (rc != MICRO_OK) {
        micro_sub_free(s);
        return rc;
    }
    *out = s;
    return MICRO_OK;
}


void
micro_subscription_close(micro_subscription_t *s)
{
    if (s == NULL) {
        return;
    }
    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    micro_sub_free(s);
}


/* --- deliveries ----------------------------------------------------------- */

const char *
micro_delivery_topic(const micro_delivery_t *d)
{
    return d->s->topic;
}


const micro_message_t *
micro_delivery_message(const micro_delivery_t *d)
{
    return &d->m;
}


const char *
micro_delivery_header(const micro_delivery_t *d, const char *name)
{
    size_t  i;

    for (i = 0; i < d->m.header.len; i++) {
        if (strcasecmp(d->m.header.items[i].key, name) == 0) {
            return d->m.header.items[i].value;
        }
    }
    return NULL;
}


const char *
micro_delivery_entry(const micro_delivery_t *d)
{
    return d->entry;
}


int
micro_delivery_count(const micro_delivery_t *d)
{
    return d->count;
}


int
micro_delivery_ack(micro_delivery_t *d)
{
    if (!d->acked) {
        micro_sub_ack(d->s, &d->entry, 1);
        d->acked = 1;
    }
    return d->s->c ? MICRO_OK : MICRO_EREDIS;
}
