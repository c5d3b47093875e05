/*
 * The registry inside an NGINX worker: hiredis async on the worker's event
 * loop, a snapshot loaded at start, kept current by the watch channel and
 * re-read in full on a timer as a backstop. No Redis round trip happens
 * on a request's path; when Redis is down the last snapshot stays.
 */

#ifndef NGX_MICRO_REGISTRY_H
#define NGX_MICRO_REGISTRY_H

#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/async.h>
#include <micro/registry.h>
#include <micro/snapshot.h>

#include "ngx_micro_core.h"

/* What a worker knows, for the status endpoint and logs. */
typedef struct {
    ngx_uint_t                 connected;
    ngx_uint_t                 syncs;        /* full loads completed */
    ngx_uint_t                 events;       /* watch events applied */
    ngx_msec_t                 resync;       /* full reload interval */
    ngx_uint_t                 changes;      /* loads, events, expiries */
} ngx_micro_registry_stats_t;


/* Parses the URL at configuration time; NULL with *err set on failure. */
ngx_micro_registry_t *ngx_micro_registry_create(ngx_conf_t *cf,
    ngx_str_t *url, char **err) NGX_MICRO_CORE_API;

/*
 * In a worker (init_process): connects and starts loading. With
 * master_process off, nginx runs no init_process after a reload, so the
 * registry is followed only by the configuration it started with.
 */
ngx_int_t ngx_micro_registry_start(ngx_micro_registry_t *r, ngx_log_t *log)
    NGX_MICRO_CORE_API;
void ngx_micro_registry_stop(ngx_micro_registry_t *r) NGX_MICRO_CORE_API;

/* The current snapshot; never NULL once started. */
micro_snapshot_t *ngx_micro_registry_snapshot(ngx_micro_registry_t *r)
    NGX_MICRO_CORE_API;
void ngx_micro_registry_stats(ngx_micro_registry_t *r,
    ngx_micro_registry_stats_t *stats) NGX_MICRO_CORE_API;

/*
 * Posts ev once the worker's first load is in (at once if it is); the
 * record, from pool, is given to unwait when the waiter goes first.
 */
void *ngx_micro_registry_wait(ngx_micro_registry_t *r, ngx_event_t *ev,
    ngx_pool_t *pool) NGX_MICRO_CORE_API;
void ngx_micro_registry_unwait(void *waiter) NGX_MICRO_CORE_API;

/*
 * Posts ev after every change of the snapshot (a load, a watch event, an
 * expiry) until the record is given to unwait.
 */
void *ngx_micro_registry_follow(ngx_micro_registry_t *r, ngx_event_t *ev,
    ngx_pool_t *pool) NGX_MICRO_CORE_API;

/*
 * Sends a command on the worker's connection to the registry's Redis for
 * others' commands (opened on first use, beside the registry's own, so a
 * reload of the registry does not hold it up): fn gets the reply, or NULL
 * when the connection is lost first (then whether Redis ran it is not
 * known). NGX_DECLINED when Redis is not connected. The key prefix of the URL is the registry's (default
 * "micro:").
 */
ngx_int_t ngx_micro_registry_command(ngx_micro_registry_t *r,
    redisCallbackFn *fn, void *data, int argc, const char **argv,
    const size_t *lens) NGX_MICRO_CORE_API;
const char *ngx_micro_registry_prefix(ngx_micro_registry_t *r)
    NGX_MICRO_CORE_API;

#endif
