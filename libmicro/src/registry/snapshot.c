/* The in-memory registry that watch events keep current. */

#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/snapshot.h"
#include "core/map.h"

struct micro_snapshot_s {
    micro_map_t    services;    /* name -> micro_snapshot_service_t */
};


int
micro_snapshot_new(micro_snapshot_t **s)
{
    *s = calloc(1, sizeof(micro_snapshot_t));
    return *s ? MICRO_OK : MICRO_ENOMEM;
}


static void
micro_snapshot_service_free(micro_snapshot_service_t *ss)
{
    size_t  i;

    for (i = 0; i < ss->len; i++) {
        micro_service_free(&ss->entries[i]);
    }
    free(ss->entries);
    free(ss->life);
    free(ss);
}


void
micro_snapshot_free(micro_snapshot_t *s)
{
    size_t  i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < s->services.cap; i++) {
        if (micro_map_live(&s->services, i)) {
            micro_snapshot_service_free(s->services.slots[i].value);
        }
    }
    micro_map_free(&s->services);
    free(s);
}


int
micro_snapshot_apply(micro_snapshot_t *s, micro_watch_action_t action,
    micro_service_t *entry)
{
    return micro_snapshot_apply_until(s, action, entry, MICRO_SNAPSHOT_NEVER);
}


/* The index of node id in ss, or ss->len. */
static size_t
micro_snapshot_find(const micro_snapshot_service_t *ss, const char *id)
{
    size_t  i;

    for (i = 0; i < ss->len; i++) {
        if (strcmp(ss->entries[i].nodes[0].id, id) == 0) {
            break;
        }
    }
    return i;
}


static void
micro_snapshot_remove(micro_snapshot_t *s, micro_snapshot_service_t *ss,
    size_t i, const char *name)
{
    micro_service_free(&ss->entries[i]);
    ss->len--;
    ss->entries[i] = ss->entries[ss->len];
    ss->life[i] = ss->life[ss->len];
    if (ss->len == 0) {
        micro_map_remove(&s->services, name);
        micro_snapshot_service_free(ss);
    }
}


static int
micro_snapshot_grow(micro_snapshot_service_t *ss)
{
    size_t                  cap;
    micro_service_t        *entries;
    micro_snapshot_life_t  *life;

    cap = ss->cap ? ss->cap * 2 : 4;
    entries = realloc(ss->entries, cap * sizeof(*entries));
    if (entries == NULL) {
        return MICRO_ENOMEM;
    }
    ss->entries = entries;
    life = realloc(ss->life, cap * sizeof(*life));
    if (life == NULL) {
        return MICRO_ENOMEM;
    }
    ss->life = life;
    ss->cap = cap;
    return MICRO_OK;
}


int
micro_snapshot_apply_until(micro_snapshot_t *s, micro_watch_action_t action,
    micro_service_t *entry, int64_t expires_ms)
{
    size_t                     i;
    micro_snapshot_service_t  *ss;

    ss = micro_map_get(&s->services, entry->name);
    i = ss ? micro_snapshot_find(ss, entry->nodes[0].id) : 0;

    if (action == MICRO_WATCH_DELETE) {
        if (ss && i < ss->len) {
            micro_snapshot_remove(s, ss, i, entry->name);
        }
        micro_service_free(entry);
        return MICRO_OK;
    }

    if (ss == NULL) {
        ss = calloc(1, sizeof(*ss));
        if (ss == NULL
            || micro_map_set(&s->services, entry->name, ss) != MICRO_OK)
        {
            free(ss);
            micro_service_free(entry);
            return MICRO_ENOMEM;
        }
    }
    if (i < ss->len) {
        micro_service_free(&ss->entries[i]);
    } else {
        if (ss->len == ss->cap && micro_snapshot_grow(ss) != MICRO_OK) {
            micro_service_free(entry);
            return MICRO_ENOMEM;
        }
        i = ss->len++;
    }
    ss->entries[i] = *entry;
    ss->life[i].expires_ms = expires_ms;
    ss->life[i].carried = 0;
    memset(entry, 0, sizeof(*entry));
    return MICRO_OK;
}


size_t
micro_snapshot_carry(micro_snapshot_t *to, const micro_snapshot_t *from,
    int64_t now_ms, int64_t keep_ms)
{
    size_t                           i, k, n = 0;
    int64_t                          expires;
    micro_service_t                  copy;
    const micro_snapshot_service_t  *ss, *have;
    micro_snapshot_service_t        *dst;

    for (i = 0; i < from->services.cap; i++) {
        if (!micro_map_live(&from->services, i)) {
            continue;
        }
        ss = from->services.slots[i].value;
        have = micro_map_get(&to->services, from->services.slots[i].key);
        for (k = 0; k < ss->len; k++) {
            expires = ss->life[k].expires_ms;
            if (expires == MICRO_SNAPSHOT_NEVER) {
                expires = now_ms + keep_ms;
            }
            if (expires <= now_ms
                || (have && micro_snapshot_find(have,
                                                ss->entries[k].nodes[0].id)
                            < have->len)
                || micro_service_copy(&copy, &ss->entries[k]) != MICRO_OK
                || micro_snapshot_apply_until(to, MICRO_WATCH_CREATE, &copy,
                                              expires) != MICRO_OK)
            {
                continue;
            }
            dst = micro_map_get(&to->services, from->services.slots[i].key);
            dst->life[dst->len - 1].carried = 1;
            have = dst;
            n++;
        }
    }
    return n;
}


size_t
micro_snapshot_expire(micro_snapshot_t *s, int64_t now_ms)
{
    size_t                     i, k, n = 0;
    micro_snapshot_service_t  *ss;

    for (i = 0; i < s->services.cap; i++) {
        if (!micro_map_live(&s->services, i)) {
            continue;
        }
        ss = s->services.slots[i].value;
        for (k = ss->len; k-- > 0; /* void */) {
            if (ss->life[k].carried && ss->life[k].expires_ms <= now_ms) {
                n++;
                if (ss->len == 1) {
                    /* the service goes with its last entry */
                    micro_snapshot_remove(s, ss, k, s->services.slots[i].key);
                    break;
                }
                micro_snapshot_remove(s, ss, k, NULL);
            }
        }
    }
    return n;
}


const micro_snapshot_service_t *
micro_snapshot_get(const micro_snapshot_t *s, const char *name)
{
    return micro_map_get(&s->services, name);
}


int
micro_snapshot_foreach(const micro_snapshot_t *s,
    int (*fn)(const char *name, const micro_snapshot_service_t *svc,
              void *data), void *data)
{
    int     rc;
    size_t  i;

    for (i = 0; i < s->services.cap; i++) {
        if (micro_map_live(&s->services, i)) {
            rc = fn(s->services.slots[i].key, s->services.slots[i].value,
                    data);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}


size_t
micro_snapshot_size(const micro_snapshot_t *s)
{
    return s->services.len;
}
