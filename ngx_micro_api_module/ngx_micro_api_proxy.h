/* micro_api handler=proxy: NGINX's proxy module, its peers from the registry. */

#ifndef NGX_MICRO_API_PROXY_H
#define NGX_MICRO_API_PROXY_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_MICRO_API_PROXY_HOST        0
#define NGX_MICRO_API_PROXY_CONNECTION  1

/* $micro_proxy_host and $micro_proxy_connection, by data above. */
ngx_int_t ngx_micro_api_proxy_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/*
 * Sets the proxy module up in the location being parsed; *handler gets its
 * content handler, for the module to run once a node is chosen.
 */
char *ngx_micro_api_proxy_conf(ngx_conf_t *cf, ngx_http_handler_pt *handler);

#endif
