/* The broker's publishing side, its stream entries and the tools' views. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "broker/broker_internal.h"
#include "core/random.h"
#include "micro/error.h"
#include "registry/redis.h"


int
micro_broker_new(const micro_registry_options_t *redis,
    const micro_broker_options_t *opts, micro_broker_t **out)
{
    int                        rc;
    micro_broker_t            *b;
    micro_registry_options_t   parsed;

    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return MICRO_ENOMEM;
    }
    if (redis) {
        rc = micro_registry_options_copy(&b->redis, redis);
    } else {
        rc = micro_registry_options_parse(&parsed, NULL);
        if (rc == MICRO_OK) {
            rc = micro_registry_options_copy(&b->redis, &parsed);
            micro_registry_options_free(&parsed);
        }
    }
    if (rc != MICRO_OK) {
        free(b);
        return rc;
    }
    if (opts) {
        b->opts = *opts;
    }
    if (b->opts.retention_len == 0) {
        b->opts.retention_len = MICRO_BROKER_RETENTION;
    }
    if (b->opts.max_message == 0) {
        b->opts.max_message = MICRO_BROKER_MAX_MESSAGE;
    }
    pthread_mutex_init(&b->lock, NULL);
    *out = b;
    return MICRO_OK;
}


void
micro_broker_free(micro_broker_t *b)
{
    if (b == NULL) {
        return;
    }
    if (b->c) {
        redisFree(b->c);
    }
    pthread_mutex_destroy(&b->lock);
    micro_registry_options_free(&b->redis);
    free(b);
}


char *
micro_broker_key(const micro_broker_t *b, const char *kind, const char *topic)
{
    char    *k;
    size_t   len;

    len = strlen(b->redis.prefix) + strlen(kind) + strlen(topic) + 1;
    k = malloc(len);
    if (k) {
        snprintf(k, len, "%s%s%s", b->redis.prefix, kind, topic);
    }
    return k;
}


int
micro_broker_id_cmp(const char *a, const char *b)
{
    unsigned long long  ams, aseq = 0, bms, bseq = 0;
    char               *end;

    ams = strtoull(a, &end, 10);
    if (*end == '-') {
        aseq = strtoull(end + 1, NULL, 10);
    }
    bms = strtoull(b, &end, 10);
    if (*end == '-') {
        bseq = strtoull(end + 1, NULL, 10);
    }
    if (ams != bms) {
        return ams < bms ? -1 : 1;
    }
    return aseq < bseq ? -1 : aseq > bseq;
}


const redisReply *
micro_broker_field(const redisReply *fields, const char *name)
{
    size_t  i;

    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }
    for (i = 0; i + 1 < fields->elements; i += 2) {
        if (fields->element[i]->type == REDIS_REPLY_STRING
            && strcmp(fields->element[i]->str, name) == 0)
        {
            return fields->element[i + 1];
        }
    }
    return NULL;
}


int
micro_broker_entry_message(const redisReply *fields, micro_message_t *m)
{
    const char        *key;
    json_t            *h, *v;
    json_error_t       jerr;
    const redisReply  *header, *body;

    memset(m, 0, sizeof(*m));
    body = micro_broker_field(fields, "body");
    if (body && body->type == REDIS_REPLY_STRING) {
        m->body = body->str;
        m->len = body->len;
    } else {
        m->body = "";
    }
    header = micro_broker_field(fields, "header");
    if (header == NULL || header->type != REDIS_REPLY_STRING) {
        return MICRO_OK;            /* a body alone is a message too */
    }
    h = json_loadb(header->str, header->len, 0, &jerr);
    if (!json_is_object(h)) {
        json_decref(h);
        return micro_error_set(MICRO_EPARSE, "header is not a JSON object "
                               "of strings");
    }
    json_object_foreach(h, key, v) {
        if (json_is_string(v)
            && micro_metadata_set(&m->header, key, json_string_value(v))
               != MICRO_OK)
        {
            json_decref(h);
            micro_metadata_free(&m->header);
            return MICRO_ENOMEM;
        }
    }
    json_decref(h);
    return MICRO_OK;
}


/* The trimming arguments of an XADD by the retention options. */
static int
micro_broker_trim_args(micro_broker_t *b, const char **argv, char *buf,
    size_t size)
{
    struct timespec  ts;

    if (b->opts.retention_ms > 0) {
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(buf, size, "%lld", (long long) ts.tv_sec * 1000
                 + ts.tv_nsec / 1000000 - b->opts.retention_ms);
        argv[0] = "MINID";
    } else if (b->opts.retention_len > 0) {
        snprintf(buf, size, "%lld", b->opts.retention_len);
        argv[0] = "MAXLEN";
    } else {
        return 0;
    }
    argv[1] = "~";
    argv[2] = buf;
    return 3;
}


int
micro_broker_xadd(micro_broker_t *b, redisContext *c, const char *key,
    const char *header, size_t header_len, const void *body, size_t len,
    const char **extra, size_t nextra, char *entry, size_t entry_size)
{
    int          rc, argc = 0, trimmed = 0;
    size_t       i, lens[20];
    char         trim[32];
    const char  *argv[20];
    redisReply  *reply;

    argv[argc++] = "XADD";
    argv[argc++] = key;
    argc += micro_broker_trim_args(b, argv + argc, trim, sizeof(trim));
    argv[argc++] = "*";
    argv[argc++] = "header";
    argv[argc] = header;
    lens[argc++] = header_len;
    argv[argc++] = "body";
    argv[argc] = body;
    lens[argc++] = len;
    for (i = 0; i < nextra && argc < 20; i++) {
        argv[argc++] = extra[i];
    }
    for (i = 0; i < (size_t) argc; i++) {
        if (argv[i] != header && argv[i] != body) {
            lens[i] = strlen(argv[i]);
        }
    }
    /* by age and by length: XADD trims by age, an XTRIM after it by
     * length, in the same round trip */
    trimmed = b->opts.retention_ms > 0 && b->opts.retention_len > 0;
    redisAppendCommandArgv(c, argc, argv, lens);
    if (trimmed) {
        redisAppendCommand(c, "XTRIM %s MAXLEN ~ %lld", key,
                           b->opts.retention_len);
    }
    if (redisGetReply(c, (void **) &reply) != REDIS_OK) {
        reply = NULL;
    }
    rc = micro_redis_status(c, reply, "broker XADD");
    if (rc == MICRO_OK && reply->type == REDIS_REPLY_STRING && entry) {
        snprintf(entry, entry_size, "%s", reply->str);
    }
    if (reply) {
        freeReplyObject(reply);
    }
    if (trimmed && c->err == 0 && redisGetReply(c, (void **) &reply)
                                  == REDIS_OK)
    {
        freeReplyObject(reply);
    }
    return rc;
}


void
micro_message_id(char out[37])
{
    micro_uuid(out);
}


/* The message's header as JSON with Micro-Id and Micro-Topic, and the id. */
static char *
micro_broker_header_json(const micro_message_t *m, const char *topic,
    char *id, size_t id_size)
{
    char        *s;
    size_t       i;
    char         uuid[37];
    json_t      *h;
    const char  *given = NULL;

    h = json_object();
    for (i = 0; h && i < m->header.len; i++) {
        if (strcasecmp(m->header.items[i].key, MICRO_BROKER_HEADER_ID) == 0) {
            given = m->header.items[i].value;
            continue;
        }
        if (strcasecmp(m->header.items[i].key, MICRO_BROKER_HEADER_TOPIC)
            != 0)
        {
            json_object_set_new(h, m->header.items[i].key,
                                json_string(m->header.items[i].value));
        }
    }
    if (given == NULL) {
        micro_uuid(uuid);
        given = uuid;
    }
    if (id) {
        snprintf(id, id_size, "%s", given);
    }
    if (h == NULL
        || json_object_set_new(h, MICRO_BROKER_HEADER_ID, json_string(given))
        || json_object_set_new(h, MICRO_BROKER_HEADER_TOPIC,
                               json_string(topic)))
    {
        json_decref(h);
        return NULL;
    }
    s = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    return s;
}


/*
 * Runs fn on the shared connection, under the lock, connecting first. A
 * connection kept from before that turns out broken (Redis restarted) is
 * replaced and fn runs once more: a message may then be stored twice,
 * never lost (subscribers tell copies by Micro-Id).
 */
static int
micro_broker_on_connection(micro_broker_t *b,
    int (*fn)(micro_broker_t *b, redisContext *c, void *arg), void *arg)
{
    int  rc, tries, kept;

    pthread_mutex_lock(&b->lock);
    for (tries = 0; ; tries++) {
        kept = b->c != NULL;
        if (!kept) {
            rc = micro_redis_connect(&b->redis, &b->c);
            if (rc != MICRO_OK) {
                break;
            }
        }
        rc = fn(b, b->c, arg);
        if (b->c->err == 0) {
            break;
        }
        redisFree(b->c);
        b->c = NULL;
        if (!kept || tries > 0 || rc == MICRO_ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}


typedef struct {
    const char             *key;
    const char             *header;
    const micro_message_t  *m;
} micro_publish_t;


static int
micro_broker_publish_on(micro_broker_t *b, redisContext *c, void *arg)
{
    micro_publish_t  *p = arg;

    return micro_broker_xadd(b, c, p->key, p->header, strlen(p->header),
                             p->m->body, p->m->len, NULL, 0, NULL, 0);
}


int
micro_broker_publish(micro_broker_t *b, const char *topic,
    const micro_message_t *m, char *id, size_t id_size)
{
    int              rc;
    char            *header, *key;
    size_t           size;
    micro_publish_t  p;

    if (!micro_name_valid(topic)) {
        return micro_error_set(MICRO_EINVAL, "invalid topic \"%.64s\"",
                               topic ? topic : "");
    }
    header = micro_broker_header_json(m, topic, id, id_size);
    key = micro_broker_key(b, "topic:", topic);
    if (header == NULL || key == NULL) {
        free(header);
        free(key);
        return MICRO_ENOMEM;
    }
    size = strlen(header) + m->len;
    if (size > b->opts.max_message) {
        free(header);
        free(key);
        return micro_error_set(MICRO_ETOOBIG, "message of %zu bytes to %s "
                               "is over the limit of %zu", size, topic,
                               b->opts.max_message);
    }
    p.key = key;
    p.header = header;
    p.m = m;
    rc = micro_broker_on_connection(b, micro_broker_publish_on, &p);
    free(header);
    free(key);
    return rc;
}


int
micro_broker_publish_pb(micro_broker_t *b, const char *topic,
    const ProtobufCMessage *msg, const micro_metadata_t *header, char *id,
    size_t id_size)
{
    int               rc;
    size_t            i, len;
    uint8_t          *body;
    micro_pair_t     *items;
    micro_message_t   m;

    len = protobuf_c_message_get_packed_size(msg);
    if (len > b->opts.max_message) {
        return micro_error_set(MICRO_ETOOBIG, "message of %zu bytes to %s "
                               "is over the limit of %zu", len, topic,
                               b->opts.max_message);
    }
    body = malloc(len ? len : 1);
    items = calloc((header ? header->len : 0) + 1, sizeof(micro_pair_t));
    if (body == NULL || items == NULL) {
        free(body);
        free(items);
        return MICRO_ENOMEM;
    }
    protobuf_c_message_pack(msg, body);
    for (i = 0; header && i < header->len; i++) {
        items[i] = header->items[i];
    }
    items[i].key = "Content-Type";
    items[i].value = "application/protobuf";
    m.header.items = items;
    m.header.len = i + 1;
    m.body = body;
    m.len = len;
    rc = micro_broker_publish(b, topic, &m, id, id_size);
    free(body);
    free(items);
    return rc;
}


/* --- topics and dead letters --------------------------------------------- */

static long long
micro_broker_integer(redisContext *c, const char *fmt, const char *key)
{
    long long    n = -1;
    redisReply  *reply;

    reply = redisCommand(c, fmt, key);
    if (reply && reply->type == REDIS_REPLY_INTEGER) {
        n = reply->integer;
    }
    if (reply) {
        freeReplyObject(reply);
    }
    return n;
}


/* XINFO GROUPS of key into t's groups. */
static int
micro_broker_groups(redisContext *c, const char *key, micro_topic_info_t *t)
{
    size_t              i, j;
    redisReply         *reply;
    const redisReply   *g, *f;

    reply = redisCommand(c, "XINFO GROUPS %s", key);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        int rc = micro_redis_status(c, reply, "broker XINFO GROUPS");
        if (reply) {
            freeReplyObject(reply);
        }
        return rc == MICRO_OK ? MICRO_EREDIS : rc;
    }
    t->groups = calloc(reply->elements + 1, sizeof(*t->groups));
    if (t->groups == NULL) {
        freeReplyObject(reply);
        return MICRO_ENOMEM;
    }
    for (i = 0; i < reply->elements; i++) {
        g = reply->element[i];
        j = t->ngroups;
        f = micro_broker_field(g, "name");
        t->groups[j].name = strdup(f && f->str ? f->str : "");
        f = micro_broker_field(g, "pending");
        t->groups[j].pending = f ? f->integer : 0;
        f = micro_broker_field(g, "consumers");
        t->groups[j].consumers = f ? (size_t) f->integer : 0;
        f = micro_broker_field(g, "lag");
        t->groups[j].lag = f && f->type == REDIS_REPLY_INTEGER
                           ? f->integer : -1;
        t->ngroups++;
    }
    freeReplyObject(reply);
    return MICRO_OK;
}


typedef struct {
    micro_topic_list_t  *out;
} micro_topics_t;


static int
micro_broker_topics_on(micro_broker_t *b, redisContext *c, void *arg)
{
    int                  rc = MICRO_OK;
    char                *dead, cursor[32] = "0", *match;
    size_t               i, plen;
    redisReply          *reply;
    micro_topic_info_t  *t, *items;
    micro_topic_list_t  *out = ((micro_topics_t *) arg)->out;

    match = micro_broker_key(b, "topic:", "*");
    if (match == NULL) {
        return MICRO_ENOMEM;
    }
    plen = strlen(match) - 1;
    do {
        reply = redisCommand(c, "SCAN %s MATCH %s TYPE stream COUNT 1000",
                             cursor, match);
        rc = micro_redis_status(c, reply, "broker SCAN");
        if (rc != MICRO_OK || reply->type != REDIS_REPLY_ARRAY
            || reply->elements != 2)
        {
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", reply->element[0]->str);
        for (i = 0; i < reply->element[1]->elements && rc == MICRO_OK; i++) {
            items = realloc(out->items, (out->len + 1) * sizeof(*items));
            if (items == NULL) {
                rc = MICRO_ENOMEM;
                break;
            }
            out->items = items;
            t = &items[out->len++];
            memset(t, 0, sizeof(*t));
            t->topic = strdup(reply->element[1]->element[i]->str + plen);
            if (t->topic == NULL) {
                rc = MICRO_ENOMEM;
                break;
            }
            t->length = micro_broker_integer(c, "XLEN %s",
                                             reply->element[1]->element[i]->str);
            dead = micro_broker_key(b, "dead:", t->topic);
            t->dead = dead ? micro_broker_integer(c, "XLEN %s", dead) : -1;
            free(dead);
            rc = micro_broker_groups(c, reply->element[1]->element[i]->str,
                                     t);
        }
        freeReplyObject(reply);
        reply = NULL;
    } while (rc == MICRO_OK && strcmp(cursor, "0") != 0);
    if (reply) {
        freeReplyObject(reply);
    }
    free(match);
    return rc;
}


int
micro_broker_topics(micro_broker_t *b, micro_topic_list_t *out)
{
    int             rc;
    micro_topics_t  a = { out };

    memset(out, 0, sizeof(*out));
    rc = micro_broker_on_connection(b, micro_broker_topics_on, &a);
    if (rc != MICRO_OK) {
        micro_topic_list_free(out);
    }
    return rc;
}


void
micro_topic_list_free(micro_topic_list_t *list)
{
    size_t  i, j;

    for (i = 0; i < list->len; i++) {
        for (j = 0; j < list->items[i].ngroups; j++) {
            free(list->items[i].groups[j].name);
        }
        free(list->items[i].groups);
        free(list->items[i].topic);
    }
    free(list->items);
    memset(list, 0, sizeof(*list));
}


typedef struct {
    const char  *topic;
    long long    replayed;
} micro_replay_t;


static int
micro_broker_replay_on(micro_broker_t *b, redisContext *c, void *arg)
{
    int                rc = MICRO_OK;
    char              *key, *dead;
    size_t             i;
    redisReply        *reply, *del;
    micro_replay_t    *a = arg;
    const redisReply  *e, *header, *body;

    key = micro_broker_key(b, "topic:", a->topic);
    dead = micro_broker_key(b, "dead:", a->topic);
    if (key == NULL || dead == NULL) {
        free(key);
        free(dead);
        return MICRO_ENOMEM;
    }
    for ( ;; ) {
        reply = redisCommand(c, "XRANGE %s - + COUNT 100", dead);
        rc = micro_redis_status(c, reply, "broker XRANGE");
        if (rc != MICRO_OK || reply->type != REDIS_REPLY_ARRAY
            || reply->elements == 0)
        {
            break;
        }
        for (i = 0; i < reply->elements && rc == MICRO_OK; i++) {
            e = reply->element[i];
            header = micro_broker_field(e->element[1], "header");
            body = micro_broker_field(e->element[1], "body");
            rc = micro_broker_xadd(b, c, key,
                                   header ? header->str : "{}",
                                   header ? header->len : 2,
                                   body ? body->str : "",
                                   body ? body->len : 0, NULL, 0, NULL, 0);
            if (rc != MICRO_OK) {
                break;
            }
            del = redisCommand(c, "XDEL %s %s", dead, e->element[0]->str);
            rc = micro_redis_status(c, del, "broker XDEL");
            if (del) {
                freeReplyObject(del);
            }
            a->replayed += rc == MICRO_OK;
        }
        freeReplyObject(reply);
        reply = NULL;
        if (rc != MICRO_OK) {
            break;
        }
    }
    if (reply) {
        freeReplyObject(reply);
    }
    free(key);
    free(dead);
    return rc;
}


long long
micro_broker_replay(micro_broker_t *b, const char *topic)
{
    int             rc;
    micro_replay_t  a = { topic, 0 };

    if (!micro_name_valid(topic)) {
        return micro_error_set(MICRO_EINVAL, "invalid topic \"%.64s\"",
                               topic ? topic : "");
    }
    rc = micro_broker_on_connection(b, micro_broker_replay_on, &a);
    return rc == MICRO_OK ? a.replayed : rc;
}
