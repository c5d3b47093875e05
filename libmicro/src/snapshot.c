/* The in-memory registry that watch events keep current. */

#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/snapshot.h"
#include "map.h"

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
    size_t                     i;
    micro_service_t           *e, *entries;
    micro_snapshot_service_t  *ss;

    ss = micro_map_get(&s->services, entry->name);
    for (i = 0; ss && i < ss->len; i++) {
        if (strcmp(ss->entries[i].nodes[0].id, entry->nodes[0].id) == 0) {
            break;
        }
    }

    if (action == MICRO_WATCH_DELETE) {
        if (ss && i < ss->len) {
            micro_service_free(&ss->entries[i]);
            ss->entries[i] = ss->entries[--ss->len];
            if (ss->len == 0) {
                micro_map_remove(&s->services, entry->name);
                micro_snapshot_service_free(ss);
            }
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
        e = &ss->entries[i];
        micro_service_free(e);
    } else {
        if (ss->len == ss->cap) {
            entries = realloc(ss->entries,
                              (ss->cap ? ss->cap * 2 : 4) * sizeof(*entries));
            if (entries == NULL) {
                micro_service_free(entry);
                return MICRO_ENOMEM;
            }
            ss->entries = entries;
            ss->cap = ss->cap ? ss->cap * 2 : 4;
        }
        e = &ss->entries[ss->len++];
    }
    *e = *entry;
    memset(entry, 0, sizeof(*entry));
    return MICRO_OK;
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
