/* Registry operations on one shared, lazily (re)opened Redis connection. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/registry.h"
#include "registry/redis.h"
#include "micro/registry_format.h"
#include "registry/registry_internal.h"

#define MICRO_DUMP_BATCH  256

struct micro_registry_s {
    micro_registry_options_t   opts;
    pthread_mutex_t            lock;
    redisContext              *c;
    char                       sha[MICRO_LUA_NSCRIPTS][41];
    micro_registry_keys_t      keys;
};


int
micro_registry_new(const micro_registry_options_t *o, micro_registry_t **out)
{
    micro_registry_t  *r;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return MICRO_ENOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    if (micro_registry_options_copy(&r->opts, o) != MICRO_OK
        || micro_registry_keys_init(&r->keys, r->opts.prefix,
                                    r->opts.db) != MICRO_OK)
    {
        micro_registry_free(r);
        return MICRO_ENOMEM;
    }
    *out = r;
    return MICRO_OK;
}


void
micro_registry_free(micro_registry_t *r)
{
    if (r == NULL) {
        return;
    }
    if (r->c) {
        redisFree(r->c);
    }
    pthread_mutex_destroy(&r->lock);
    micro_registry_options_free(&r->opts);
    micro_registry_keys_free(&r->keys);
    free(r);
}


const micro_registry_options_t *
micro_registry_options(micro_registry_t *r)
{
    return &r->opts;
}


const char *
micro_registry_channel(micro_registry_t *r)
{
    return r->keys.channel;
}


/* Called with the lock held. Loads the scripts on a new connection. */
static int
micro_registry_connect(micro_registry_t *r)
{
    int          i, rc;
    redisReply  *reply;

    if (r->c) {
        return MICRO_OK;
    }
    rc = micro_redis_connect(&r->opts, &r->c);
    if (rc != MICRO_OK) {
        return rc;
    }
    for (i = 0; i < MICRO_LUA_NSCRIPTS; i++) {
        reply = redisCommand(r->c, "SCRIPT LOAD %s", micro_lua_scripts[i]);
        rc = micro_redis_status(r->c, reply, "redis SCRIPT LOAD");
        if (rc == MICRO_OK && reply->type == REDIS_REPLY_STRING
            && reply->len == 40)
        {
            memcpy(r->sha[i], reply->str, 41);
        } else if (rc == MICRO_OK) {
            rc = micro_error_set(MICRO_EREDIS, "redis SCRIPT LOAD: "
                                 "unexpected reply");
        }
        if (reply) {
            freeReplyObject(reply);
        }
        if (rc != MICRO_OK) {
            redisFree(r->c);
            r->c = NULL;
            return rc;
        }
    }
    return MICRO_OK;
}


/* Drops the connection after an I/O failure so the next call reconnects. */
static void
micro_registry_drop(micro_registry_t *r)
{
    if (r->c && r->c->err) {
        redisFree(r->c);
        r->c = NULL;
    }
}


/*
 * EVALSHA script with nkeys keys followed by args; lock held. A connection
 * kept from an earlier call may have died meanwhile (Redis restarted):
 * then, and on NOSCRIPT (the script cache was flushed), reconnect and try
 * once more. Every script is idempotent, so a repeat is safe.
 */
static int
micro_registry_eval(micro_registry_t *r, micro_lua_script_t script,
    int nkeys, int nargs, const char **args, redisReply **out)
{
    int           attempt, rc, reused;
    char          numkeys[16];
    const char   *argv[16];
    redisReply   *reply;

    snprintf(numkeys, sizeof(numkeys), "%d", nkeys);

    for (attempt = 0; attempt < 2; attempt++) {
        reused = r->c != NULL;
        rc = micro_registry_connect(r);
        if (rc != MICRO_OK) {
            return rc;
        }
        argv[0] = "EVALSHA";
        argv[1] = r->sha[script];
        argv[2] = numkeys;
        memcpy(&argv[3], args, nargs * sizeof(char *));

        reply = redisCommandArgv(r->c, nargs + 3, argv, NULL);
        if (attempt == 0
            && ((reply == NULL && reused
                 && micro_redis_status(r->c, NULL, "") != MICRO_ETIMEDOUT)
                || (reply && reply->type == REDIS_REPLY_ERROR
                    && strncmp(reply->str, "NOSCRIPT", 8) == 0)))
        {
            if (reply) {
                freeReplyObject(reply);
            }
            redisFree(r->c);
            r->c = NULL;
            continue;
        }
        rc = micro_redis_status(r->c, reply, "redis");
        if (rc != MICRO_OK) {
            if (reply) {
                freeReplyObject(reply);
            }
            micro_registry_drop(r);
            return rc;
        }
        *out = reply;
        return MICRO_OK;
    }
    return micro_error_set(MICRO_EREDIS, "redis: scripts could not be loaded");
}




int
micro_registry_register(micro_registry_t *r, const micro_service_t *s,
    int ttl_ms)
{
    int               rc;
    char              ttl[16], *json, *hash;
    size_t            i;
    redisReply       *reply;
    const char       *args[8];
    micro_service_t   one;

    if ((rc = micro_service_validate(s)) != MICRO_OK) {
        return rc;
    }
    if (s->nnodes == 0) {
        return micro_error_set(MICRO_EINVAL, "service \"%s\" has no nodes",
                               s->name);
    }
    if (ttl_ms < 0) {
        return micro_error_set(MICRO_EINVAL, "negative TTL");
    }
    hash = micro_registry_key(r->keys.svc, s->name);
    if (hash == NULL) {
        return MICRO_ENOMEM;
    }
    snprintf(ttl, sizeof(ttl), "%d", ttl_ms);

    /* Each entry is the service with one of its nodes. */
    one = *s;
    one.nnodes = 1;

    pthread_mutex_lock(&r->lock);
    for (i = 0, rc = MICRO_OK; rc == MICRO_OK && i < s->nnodes; i++) {
        one.nodes = &s->nodes[i];
        json = micro_service_to_json(&one);
        if (json == NULL) {
            rc = MICRO_ENOMEM;
            break;
        }
        args[0] = r->keys.services;
        args[1] = hash;
        args[2] = r->keys.expiry;
        args[3] = s->name;
        args[4] = s->nodes[i].id;
        args[5] = json;
        args[6] = ttl;
        args[7] = r->keys.channel;
        rc = micro_registry_eval(r, MICRO_LUA_REGISTER, 3, 8, args, &reply);
        if (rc == MICRO_OK) {
            freeReplyObject(reply);
        }
        free(json);
    }
    pthread_mutex_unlock(&r->lock);

    free(hash);
    return rc;
}


int
micro_registry_deregister(micro_registry_t *r, const micro_service_t *s)
{
    int          rc;
    size_t       i;
    redisReply  *reply;
    const char  *args[6];

    if (!micro_name_valid(s->name)) {
        return micro_error_set(MICRO_EINVAL, "invalid service name \"%s\"",
                               s->name ? s->name : "");
    }

    pthread_mutex_lock(&r->lock);
    for (i = 0, rc = MICRO_OK; rc == MICRO_OK && i < s->nnodes; i++) {
        if (!micro_node_id_valid(s->nodes[i].id)) {
            rc = micro_error_set(MICRO_EINVAL, "invalid node id \"%s\"",
                                 s->nodes[i].id ? s->nodes[i].id : "");
            break;
        }
        args[0] = r->keys.services;
        args[1] = r->keys.expiry;
        args[2] = r->keys.svc;
        args[3] = r->keys.channel;
        args[4] = s->name;
        args[5] = s->nodes[i].id;
        rc = micro_registry_eval(r, MICRO_LUA_DEREGISTER, 2, 6, args, &reply);
        if (rc == MICRO_OK) {
            freeReplyObject(reply);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}


int
micro_registry_present(micro_registry_t *r, const micro_service_t *s)
{
    int          rc, live;
    size_t       i;
    redisReply  *reply;
    const char  *args[3];

    pthread_mutex_lock(&r->lock);
    for (i = 0, rc = MICRO_OK, live = 1; live && i < s->nnodes; i++) {
        args[0] = r->keys.expiry;
        args[1] = s->name;
        args[2] = s->nodes[i].id;
        rc = micro_registry_eval(r, MICRO_LUA_PRESENT, 1, 3, args, &reply);
        if (rc != MICRO_OK) {
            break;
        }
        live = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
        freeReplyObject(reply);
    }
    pthread_mutex_unlock(&r->lock);
    return rc != MICRO_OK ? rc : live;
}


/*
 * Adds the parsable entries of an array reply to out, merged by version;
 * with lives, also each entry's ms left ("name id" -> malloc'd int64_t,
 * -1: no expiry).
 */
static int
micro_registry_collect(redisReply *reply, const char *name,
    micro_service_list_t *out, micro_map_t *lives)
{
    int               rc;
    char              key[2 * MICRO_NAME_MAX + 2];
    size_t            i;
    micro_service_t   s;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return micro_error_set(MICRO_EREDIS, "redis: unexpected reply for "
                               "\"%s\"", name);
    }
    /* each entry is followed by the time it has left */
    for (i = 0; i < reply->elements; i += 2) {
        if (reply->element[i]->type != REDIS_REPLY_STRING
            || micro_registry_entry_parse(&s, reply->element[i]->str,
                                          reply->element[i]->len, name)
               != MICRO_OK)
        {
            continue;
        }
        if (strcmp(s.name, name) != 0) {
            micro_log_warn("skipping registry entry of \"%s\" filed under "
                           "\"%s\"", s.name, name);
            micro_service_free(&s);
            continue;
        }
        if (lives && i + 1 < reply->elements
            && reply->element[i + 1]->type == REDIS_REPLY_INTEGER)
        {
            snprintf(key, sizeof(key), "%s %s", s.name, s.nodes[0].id);
            if (micro_map_set_i64(lives, key, reply->element[i + 1]->integer)
                != MICRO_OK)
            {
                micro_service_free(&s);
                return MICRO_ENOMEM;
            }
        }
        rc = micro_service_list_merge(out, &s);
        if (rc != MICRO_OK) {
            micro_service_free(&s);
            return rc;
        }
    }
    return MICRO_OK;
}


int
micro_registry_get(micro_registry_t *r, const char *name,
    micro_service_list_t *out)
{
    int          rc;
    char        *hash;
    redisReply  *reply;
    const char  *args[3];

    out->items = NULL;
    out->len = 0;
    if (!micro_name_valid(name)) {
        return micro_error_set(MICRO_EINVAL, "invalid service name \"%s\"",
                               name ? name : "");
    }
    hash = micro_registry_key(r->keys.svc, name);
    if (hash == NULL) {
        return MICRO_ENOMEM;
    }
    args[0] = hash;
    args[1] = r->keys.expiry;
    args[2] = name;

    pthread_mutex_lock(&r->lock);
    rc = micro_registry_eval(r, MICRO_LUA_GET, 2, 3, args, &reply);
    pthread_mutex_unlock(&r->lock);
    free(hash);
    if (rc != MICRO_OK) {
        return rc;
    }

    rc = micro_registry_collect(reply, name, out, NULL);
    freeReplyObject(reply);
    if (rc == MICRO_OK && out->len == 0) {
        rc = micro_error_set(MICRO_ENOTFOUND, "service \"%s\" not found",
                             name);
    }
    if (rc != MICRO_OK) {
        micro_service_list_free(out);
    }
    return rc;
}


static int
micro_registry_names(micro_registry_t *r, redisReply **reply)
{
    int          rc;
    const char  *args[5];

    args[0] = r->keys.services;
    args[1] = r->keys.expiry;
    args[2] = r->keys.svc;
    args[3] = r->keys.channel;

    rc = micro_registry_eval(r, MICRO_LUA_LIST, 2, 4, args, reply);
    if (rc == MICRO_OK && (*reply)->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(*reply);
        *reply = NULL;
        rc = micro_error_set(MICRO_EREDIS, "redis: unexpected list reply");
    }
    return rc;
}


int
micro_registry_list(micro_registry_t *r, micro_service_list_t *out)
{
    int          rc;
    size_t       i;
    redisReply  *reply, *e;

    out->items = NULL;
    out->len = 0;

    pthread_mutex_lock(&r->lock);
    rc = micro_registry_names(r, &reply);
    pthread_mutex_unlock(&r->lock);
    if (rc != MICRO_OK) {
        return rc;
    }

    out->items = calloc(reply->elements ? reply->elements : 1,
                        sizeof(micro_service_t));
    if (out->items == NULL) {
        freeReplyObject(reply);
        return MICRO_ENOMEM;
    }
    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];
        if (e->type != REDIS_REPLY_STRING || !micro_name_valid(e->str)) {
            micro_log_warn("skipping invalid service name in the registry");
            continue;
        }
        out->items[out->len].name = strdup(e->str);
        if (out->items[out->len].name == NULL) {
            rc = MICRO_ENOMEM;
            break;
        }
        out->len++;
    }
    freeReplyObject(reply);
    if (rc != MICRO_OK) {
        micro_service_list_free(out);
    }
    return rc;
}


/* Pipelines GET scripts for names[from, to); lock held. */
static int
micro_registry_dump_batch(micro_registry_t *r, redisReply *names,
    size_t from, size_t to, micro_service_list_t *out, micro_map_t *lives)
{
    int          rc = MICRO_OK;
    char        *hash;
    size_t       i, sent = 0;
    void        *vreply;
    redisReply  *reply, *name;
    const char  *argv[6];

    for (i = from; i < to; i++) {
        name = names->element[i];
        if (name->type != REDIS_REPLY_STRING || !micro_name_valid(name->str)) {
            continue;
        }
        hash = micro_registry_key(r->keys.svc, name->str);
        if (hash == NULL) {
            rc = MICRO_ENOMEM;
            break;
        }
        argv[0] = "EVALSHA";
        argv[1] = r->sha[MICRO_LUA_GET];
        argv[2] = "2";
        argv[3] = hash;
        argv[4] = r->keys.expiry;
        argv[5] = name->str;
        rc = redisAppendCommandArgv(r->c, 6, argv, NULL) == REDIS_OK
             ? MICRO_OK : MICRO_ENOMEM;
        free(hash);
        if (rc != MICRO_OK) {
            break;
        }
        sent++;
    }

    /* Read every reply sent, even after a failure, to keep the stream. */
    for (i = from; sent > 0; i++) {
        name = names->element[i];
        if (name->type != REDIS_REPLY_STRING || !micro_name_valid(name->str)) {
            continue;
        }
        sent--;
        vreply = NULL;
        if (redisGetReply(r->c, &vreply) != REDIS_OK) {
            return micro_redis_status(r->c, NULL, "redis");
        }
        reply = vreply;
        if (rc == MICRO_OK && reply->type != REDIS_REPLY_ERROR) {
            rc = micro_registry_collect(reply, name->str, out, lives);
        } else if (rc == MICRO_OK) {
            rc = micro_redis_status(r->c, reply, "redis");
        }
        freeReplyObject(reply);
    }
    return rc;
}


int
micro_registry_dump(micro_registry_t *r, micro_service_list_t *out)
{
    return micro_registry_dump_lives(r, out, NULL);
}


int
micro_registry_dump_lives(micro_registry_t *r, micro_service_list_t *out,
    micro_map_t *lives)
{
    int          rc;
    size_t       from, to;
    redisReply  *names = NULL;

    out->items = NULL;
    out->len = 0;

    pthread_mutex_lock(&r->lock);
    rc = micro_registry_names(r, &names);
    for (from = 0; rc == MICRO_OK && from < names->elements; from = to) {
        to = from + MICRO_DUMP_BATCH;
        if (to > names->elements) {
            to = names->elements;
        }
        rc = micro_registry_dump_batch(r, names, from, to, out, lives);
    }
    if (rc != MICRO_OK) {
        micro_registry_drop(r);
    }
    pthread_mutex_unlock(&r->lock);

    if (names) {
        freeReplyObject(names);
    }
    if (rc != MICRO_OK) {
        micro_service_list_free(out);
    }
    return rc;
}


int
micro_registry_reap(micro_registry_t *r)
{
    int          rc;
    redisReply  *reply;
    const char  *args[5];

    args[0] = r->keys.services;
    args[1] = r->keys.expiry;
    args[2] = r->keys.svc;
    args[3] = r->keys.channel;
    args[4] = "1000";

    pthread_mutex_lock(&r->lock);
    rc = micro_registry_eval(r, MICRO_LUA_REAP, 2, 5, args, &reply);
    pthread_mutex_unlock(&r->lock);
    if (rc != MICRO_OK) {
        return rc;
    }
    rc = reply->type == REDIS_REPLY_INTEGER ? (int) reply->integer : 0;
    freeReplyObject(reply);
    return rc;
}
