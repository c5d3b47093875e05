/*
 * ngx_micro_web_module's types, shared by its files:
 *
 *     ngx_micro_web_module.c     directives, resolvers, the proxy
 *     ngx_micro_web_dashboard.c  micro_web_dashboard: pages, JSON, events
 *     dashboard/                 the pages' files, built into the .so
 */

#ifndef NGX_MICRO_WEB_H
#define NGX_MICRO_WEB_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_core.h"


#define NGX_MICRO_WEB_ID  "go.micro.web"


typedef struct {
    ngx_str_t                  namespace;    /* NUL-terminated */
    ngx_uint_t                 resolver;
    ngx_str_t                  domain;       /* micro_web_domain, or empty */
    ngx_str_t                  prefix;       /* the location's, no "/" */
    ngx_http_handler_pt        proxy;        /* the proxy module's */

    ngx_str_t                  base;         /* dashboard: its "/.../" */
    ngx_str_t                  rpc;          /* rpc=, or empty */
    ngx_str_t                  apps;         /* apps=, "/" by default */
} ngx_micro_web_loc_conf_t;


extern ngx_module_t  ngx_micro_web_module;


/* micro_web_dashboard [rpc=URI] [apps=URI] */
char *ngx_micro_web_dashboard(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

#endif
