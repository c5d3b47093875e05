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

#include "ngx_micro_core.h"


/* micro_stats_zone NAME SIZE (the core's main conf holds the zone). */
char *ngx_micro_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* micro_metrics in a location. */
char *ngx_micro_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* The log phase's handler, counting what api and web served. */
ngx_int_t ngx_micro_metrics_init(ngx_conf_t *cf);

#endif
