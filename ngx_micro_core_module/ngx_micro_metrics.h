/*
 * The gateway's counters, in a shared memory zone (micro_stats_zone) so
 * every worker adds to the same ones and a reload keeps them: requests
 * by service, endpoint, node and status code, and their latency as a
 * histogram. micro_metrics serves them in Prometheus' text format, or as
 * JSON for the dashboard.
 */

#ifndef NGX_MICRO_METRICS_H
#define NGX_MICRO_METRICS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/transcode.h>

#include "ngx_micro_core.h"


/* micro_stats_zone NAME SIZE (the core's main conf holds the zone). */
char *ngx_micro_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* micro_metrics in a location. */
char *ngx_micro_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/*
 * The zone as JSON, appended to out: {"enabled", "full", "bounds" (the
 * histogram's upper bounds in seconds, +Inf last and left out),
 * "series": [{"service", "endpoint", "node", "codes": {"200": n},
 * "count", "sum" (seconds), "buckets": [n, ...] (not cumulative)}]}, or
 * {"enabled": false} without a zone. 0, or -1 without memory.
 */
int ngx_micro_metrics_json(ngx_http_request_t *r, micro_buf_t *out)
    NGX_MICRO_CORE_API;

/* The log phase's handler, counting what api and web served. */
ngx_int_t ngx_micro_metrics_init(ngx_conf_t *cf);

#endif
