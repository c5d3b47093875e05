/*
 * The registry's format (micro/registry_format.h): key names, entries and
 * watch messages, with no I/O.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "micro/error.h"
#include "micro/registry_format.h"


char *
micro_registry_key(const char *prefix, const char *name)
{
    char    *k;
    size_t   len = strlen(prefix) + strlen(name) + 1;

    k = malloc(len);
    if (k) {
        snprintf(k, len, "%s%s", prefix, name);
    }
    return k;
}


int
micro_registry_keys_init(micro_registry_keys_t *k, const char *prefix, int db)
{
    char  watch[32];

    /* a channel is the whole Redis's, not its database's */
    snprintf(watch, sizeof(watch), db ? "registry:watch:%d"
                                      : "registry:watch", db);
    k->services = micro_registry_key(prefix, "registry:services");
    k->expiry = micro_registry_key(prefix, "registry:expiry");
    k->svc = micro_registry_key(prefix, "registry:svc:");
    k->channel = micro_registry_key(prefix, watch);
    if (k->services && k->expiry && k->svc && k->channel) {
        return MICRO_OK;
    }
    micro_registry_keys_free(k);
    return MICRO_ENOMEM;
}


void
micro_registry_keys_free(micro_registry_keys_t *k)
{
    free(k->services);
    free(k->expiry);
    free(k->svc);
    free(k->channel);
    memset(k, 0, sizeof(*k));
}


int
micro_registry_entry_parse(micro_service_t *s, const char *json, size_t len,
    const char *where)
{
    int  rc;

    rc = micro_service_from_json(s, json, len);
    if (rc == MICRO_OK) {
        rc = micro_service_validate(s);
        if (rc == MICRO_OK && s->nnodes != 1) {
            rc = micro_error_set(MICRO_EPARSE, "entry holds %zu nodes, not 1",
                                 s->nnodes);
        }
        if (rc != MICRO_OK) {
            micro_service_free(s);
        }
    }
    if (rc != MICRO_OK) {
        micro_log_warn("skipping malformed registry entry in %s: %s",
                       where, micro_error_detail());
    }
    return rc;
}


int
micro_watch_event_parse(const char *data, size_t len,
    micro_watch_action_t *action, micro_service_t *entry, int64_t *ttl_ms)
{
    int      rc;
    char    *json;
    json_t  *root, *a, *svc, *ttl;

    root = json_loadb(data, len, 0, NULL);
    a = json_object_get(root, "action");
    svc = json_object_get(root, "service");
    ttl = json_object_get(root, "ttl");
    if (ttl_ms) {
        *ttl_ms = json_is_integer(ttl) && json_integer_value(ttl) >= 0
                  ? json_integer_value(ttl) : -1;
    }
    json = (json_is_string(a) && json_is_object(svc))
           ? json_dumps(svc, JSON_COMPACT) : NULL;
    if (json == NULL) {
        json_decref(root);
        micro_log_warn("skipping malformed watch event");
        return MICRO_EPARSE;
    }
    *action = strcmp(json_string_value(a), "delete") == 0
              ? MICRO_WATCH_DELETE : MICRO_WATCH_UPDATE;
    json_decref(root);
    rc = micro_registry_entry_parse(entry, json, strlen(json),
                                    "watch event");
    free(json);
    return rc;
}


const char *
micro_registry_where(const micro_registry_options_t *o)
{
    static __thread char  where[300];

    if (o->unix_path) {
        return o->unix_path;
    }
    snprintf(where, sizeof(where), "%s:%d", o->host, o->port);
    return where;
}
