/*
 * The service registry in Redis: register with a TTL, deregister, get,
 * list, and the expiry reaper. The key layout is documented in the README
 * ("Registry format") so that any language can take part.
 *
 * A micro_registry_t is safe to share between threads: calls serialise on
 * one connection, which is opened on first use and re-opened after an error.
 * Every call returns within the connect or command timeout.
 */

#ifndef MICRO_REGISTRY_H
#define MICRO_REGISTRY_H

#include "micro/service.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MICRO_REGISTRY_DEFAULT_URL  "redis://127.0.0.1:6379/0"
#define MICRO_REGISTRY_ENV          "MICRO_REGISTRY"
#define MICRO_REGISTRY_DEFAULT_TTL  30000          /* ms */

typedef struct {
    char   *host;                /* NULL when unix_path is set */
    int     port;
    char   *unix_path;
    int     db;
    char   *password;            /* NULL: no AUTH */
    char   *prefix;              /* key prefix, default "micro:" */
    int     connect_timeout_ms;  /* default 1000 */
    int     command_timeout_ms;  /* default 1000 */
} micro_registry_options_t;

/*
 * Parses redis://[:password@]host[:port][/db][?prefix=P&connect_timeout=MS
 * &command_timeout=MS] or unix:///path/to/redis.sock[?db=N&...] into opts,
 * filling defaults. A NULL url means $MICRO_REGISTRY, then the default.
 */
int micro_registry_options_parse(micro_registry_options_t *opts,
    const char *url);
void micro_registry_options_free(micro_registry_options_t *opts);
/* A deep copy (the prefix defaulted to "micro:"). */
int micro_registry_options_copy(micro_registry_options_t *dst,
    const micro_registry_options_t *src);

typedef struct micro_registry_s  micro_registry_t;

/* Copies opts. Does not connect; the first call does. */
int micro_registry_new(const micro_registry_options_t *opts,
    micro_registry_t **r);
void micro_registry_free(micro_registry_t *r);
const micro_registry_options_t *micro_registry_options(micro_registry_t *r);

/*
 * Upserts every node of s, each as an entry holding that one node, expiring
 * ttl_ms after now by Redis's clock (0: never). Publishes "create" for a
 * new node and "update" when an entry changed; a plain refresh is silent.
 */
int micro_registry_register(micro_registry_t *r, const micro_service_t *s,
    int ttl_ms);
int micro_registry_deregister(micro_registry_t *r, const micro_service_t *s);

/*
 * 1 when every node of s has a live entry, 0 when one has not (expired,
 * or Redis restarted empty), or an error. Cheap: for heartbeats to probe.
 */
int micro_registry_present(micro_registry_t *r, const micro_service_t *s);

/*
 * The live nodes of a service, one entry per version. MICRO_ENOTFOUND when
 * there are none. Entries that do not parse are skipped with a warning.
 */
int micro_registry_get(micro_registry_t *r, const char *name,
    micro_service_list_t *out);

/* Names of services with live nodes; out holds entries with only a name. */
int micro_registry_list(micro_registry_t *r, micro_service_list_t *out);

/* Every live entry of every service (one round trip per 256 services). */
int micro_registry_dump(micro_registry_t *r, micro_service_list_t *out);

/*
 * Removes expired nodes and publishes "delete" for each; any client may
 * run it, watchers do so every second. Returns the number removed, or an
 * error.
 */
int micro_registry_reap(micro_registry_t *r);

#ifdef __cplusplus
}
#endif

#endif
