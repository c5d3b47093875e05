/*
 * Plain-HTTP services behind NGINX's own proxy module, for micro_api
 * handler=proxy and micro_web: its peers from the registry.
 */

#ifndef NGX_MICRO_PROXY_H
#define NGX_MICRO_PROXY_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_core.h"


/*
 * Sets the proxy module up in the location being parsed, with the common
 * headers and those of the module (a list ending in a null key); *handler
 * gets its content handler, for the module to run once a node is chosen.
 */
char *ngx_micro_proxy_conf(ngx_conf_t *cf, ngx_keyval_t *headers,
    ngx_http_handler_pt *handler) NGX_MICRO_CORE_API;

/* $micro_proxy_host and $micro_proxy_connection (the core's
 * preconfiguration). */
ngx_int_t ngx_micro_proxy_add_variables(ngx_conf_t *cf);

#endif
