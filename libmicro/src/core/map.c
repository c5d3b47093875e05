#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "core/map.h"

char  micro_map_tombstone[1];


static uint64_t
micro_map_hash(const char *key)
{
    uint64_t  h = 14695981039346656037ULL;

    while (*key) {
        h ^= (unsigned char) *key++;
        h *= 1099511628211ULL;
    }
    return h;
}


/* Slot holding key, or the free slot where it would go. */
static micro_map_slot_t *
micro_map_find(const micro_map_t *m, const char *key)
{
    size_t             i;
    micro_map_slot_t  *s, *free_slot = NULL;

    i = micro_map_hash(key) & (m->cap - 1);
    for ( ;; ) {
        s = &m->slots[i];
        if (s->key == NULL) {
            return free_slot ? free_slot : s;
        }
        if (s->key == micro_map_tombstone) {
            if (free_slot == NULL) {
                free_slot = s;
            }
        } else if (strcmp(s->key, key) == 0) {
            return s;
        }
        i = (i + 1) & (m->cap - 1);
    }
}


static int
micro_map_grow(micro_map_t *m)
{
    size_t             i;
    micro_map_t        n;
    micro_map_slot_t  *s;

    n.cap = m->cap ? m->cap * 2 : 16;
    if (m->len * 4 < m->cap) {
        n.cap = m->cap;              /* mostly tombstones: rehash in place */
    }
    n.slots = calloc(n.cap, sizeof(micro_map_slot_t));
    if (n.slots == NULL) {
        return MICRO_ENOMEM;
    }
    n.len = m->len;
    n.used = m->len;
    for (i = 0; i < m->cap; i++) {
        if (micro_map_live(m, i)) {
            s = micro_map_find(&n, m->slots[i].key);
            *s = m->slots[i];
        }
    }
    free(m->slots);
    *m = n;
    return MICRO_OK;
}


void *
micro_map_get(const micro_map_t *m, const char *key)
{
    micro_map_slot_t  *s;

    if (m->cap == 0) {
        return NULL;
    }
    s = micro_map_find(m, key);
    return (s->key && s->key != micro_map_tombstone) ? s->value : NULL;
}


int
micro_map_set(micro_map_t *m, const char *key, void *value)
{
    micro_map_slot_t  *s;

    if ((m->used + 1) * 4 >= m->cap * 3 && micro_map_grow(m) != MICRO_OK) {
        return MICRO_ENOMEM;
    }
    s = micro_map_find(m, key);
    if (s->key == NULL || s->key == micro_map_tombstone) {
        char  *k = strdup(key);

        if (k == NULL) {
            return MICRO_ENOMEM;
        }
        if (s->key == NULL) {
            m->used++;
        }
        s->key = k;
        m->len++;
    }
    s->value = value;
    return MICRO_OK;
}


void *
micro_map_remove(micro_map_t *m, const char *key)
{
    void              *v;
    micro_map_slot_t  *s;

    if (m->cap == 0) {
        return NULL;
    }
    s = micro_map_find(m, key);
    if (s->key == NULL || s->key == micro_map_tombstone) {
        return NULL;
    }
    v = s->value;
    free(s->key);
    s->key = micro_map_tombstone;
    s->value = NULL;
    m->len--;
    return v;
}


void
micro_map_free(micro_map_t *m)
{
    size_t  i;

    for (i = 0; i < m->cap; i++) {
        if (micro_map_live(m, i)) {
            free(m->slots[i].key);
        }
    }
    free(m->slots);
    memset(m, 0, sizeof(*m));
}


void
micro_map_free_all(micro_map_t *m)
{
    size_t  i;

    for (i = 0; i < m->cap; i++) {
        if (micro_map_live(m, i)) {
            free(m->slots[i].value);
        }
    }
    micro_map_free(m);
}


int
micro_map_set_i64(micro_map_t *m, const char *key, int64_t v)
{
    int64_t  *copy;

    copy = malloc(sizeof(*copy));
    if (copy == NULL) {
        return MICRO_ENOMEM;
    }
    *copy = v;
    free(micro_map_remove(m, key));
    if (micro_map_set(m, key, copy) != MICRO_OK) {
        free(copy);
        return MICRO_ENOMEM;
    }
    return MICRO_OK;
}
