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

#endif
