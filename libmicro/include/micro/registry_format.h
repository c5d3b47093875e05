/*
 * The registry's format in Redis, a public contract with no I/O: the key
 * names under a prefix, the Lua scripts every client runs, one entry's
 * JSON and the watch channel's messages. The NGINX core follows the registry
 * with these and its own connections on NGINX's event loop.
 *
 * Keys (P = prefix): P"registry:services" set of names,
 * P"registry:svc:"NAME hash node id -> entry JSON, P"registry:expiry"
 * sorted set "NAME NODEID" -> expiry ms (Redis's clock), channel
 * P"registry:watch" carrying {"action": ..., "service": entry}.
 */

#ifndef MICRO_REGISTRY_FORMAT_H
#define MICRO_REGISTRY_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "micro/registry.h"
#include "micro/service.h"
#include "micro/watch.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MICRO_LUA_REGISTER = 0,
    MICRO_LUA_DEREGISTER,
    MICRO_LUA_GET,
    MICRO_LUA_REAP,
    MICRO_LUA_LIST,
    MICRO_LUA_PRESENT,
    MICRO_LUA_GROUP,             /* the broker's consumer groups */
    MICRO_LUA_NSCRIPTS
} micro_lua_script_t;

/* Each runs atomically and reads the time from Redis's own clock, so
 * expiry does not depend on the clients' clocks. Built from
 * libmicro/lua/NAME.lua and installed whole in share/micro/lua. */
extern const char  *micro_lua_scripts[MICRO_LUA_NSCRIPTS];

/* The key names under a prefix; svc is the hash key's prefix. */
typedef struct {
    char   *services;
    char   *expiry;
    char   *svc;
    char   *channel;
} micro_registry_keys_t;

/* The key names for prefix; the channel's is scoped to database db. */
int micro_registry_keys_init(micro_registry_keys_t *k, const char *prefix,
    int db);
void micro_registry_keys_free(micro_registry_keys_t *k);

/* prefix + name, malloc'd. */
char *micro_registry_key(const char *prefix, const char *name);

/*
 * Parses one registry entry (a service holding exactly one node) and
 * validates it. On failure warns "skipping ..." with where and the reason.
 */
int micro_registry_entry_parse(micro_service_t *s, const char *json,
    size_t len, const char *where);

/*
 * One watch message: "delete" or an update of the entry in it (whether
 * it is new is for the reader's state to say), and the entry's TTL in ms
 * when the message has one (-1 when not, 0 for no expiry; ttl_ms may be
 * NULL). Warns and fails on a message that does not parse.
 */
int micro_watch_event_parse(const char *data, size_t len,
    micro_watch_action_t *action, micro_service_t *entry, int64_t *ttl_ms);

/* "host:port" or the socket path of the registry, for messages. */
const char *micro_registry_where(const micro_registry_options_t *o);

#ifdef __cplusplus
}
#endif

#endif
