/*
 * A string-keyed hash map (open addressing, FNV-1a) used inside libmicro
 * for the registry cache, the watcher's known state and selector marks.
 * Keys are copied; values are the caller's.
 */

#ifndef MICRO_MAP_H
#define MICRO_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char       *key;
    void       *value;
} micro_map_slot_t;

typedef struct {
    micro_map_slot_t  *slots;
    size_t             cap;      /* power of two, or 0 */
    size_t             len;
    size_t             used;     /* live + deleted slots */
} micro_map_t;

/* Iteration: for (i = 0; i < m.cap; i++) if (micro_map_live(&m, i)) ... */
#define micro_map_live(m, i)                                                 \
    ((m)->slots[i].key != NULL && (m)->slots[i].key != micro_map_tombstone)

extern char  micro_map_tombstone[];

void *micro_map_get(const micro_map_t *m, const char *key);
int micro_map_set(micro_map_t *m, const char *key, void *value);
void *micro_map_remove(micro_map_t *m, const char *key);
void micro_map_free(micro_map_t *m);     /* frees keys, not values */

/* key -> a malloc'd copy of v, replacing (and freeing) the old value:
 * for maps of times and counts, freed with micro_map_free_all(). */
int micro_map_set_i64(micro_map_t *m, const char *key, int64_t v);

/* Frees the keys and the values (each one malloc'd). */
void micro_map_free_all(micro_map_t *m);

#endif
