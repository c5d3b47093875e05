/*
 * Internal: the registry's Lua scripts. Each runs atomically in Redis and
 * reads the time from Redis's own clock, so expiry does not depend on the
 * clients' clocks.
 *
 * Keys (P = prefix): P"registry:services" set of names,
 * P"registry:svc:"NAME hash node id -> entry JSON, P"registry:expiry"
 * sorted set "NAME NODEID" -> expiry ms, channel P"registry:watch".
 */

#ifndef MICRO_REGISTRY_LUA_H
#define MICRO_REGISTRY_LUA_H

typedef enum {
    MICRO_LUA_REGISTER = 0,
    MICRO_LUA_DEREGISTER,
    MICRO_LUA_GET,
    MICRO_LUA_REAP,
    MICRO_LUA_LIST,
    MICRO_LUA_NSCRIPTS
} micro_lua_script_t;

extern const char  *micro_lua_scripts[MICRO_LUA_NSCRIPTS];

/* The key names under a prefix; svc is the hash key's prefix. */
typedef struct {
    char   *services;
    char   *expiry;
    char   *svc;
    char   *channel;
} micro_registry_keys_t;

int micro_registry_keys_init(micro_registry_keys_t *k, const char *prefix);
void micro_registry_keys_free(micro_registry_keys_t *k);

/* prefix + name, malloc'd. */
char *micro_registry_key(const char *prefix, const char *name);

#endif
