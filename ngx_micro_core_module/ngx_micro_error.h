/* go-micro's error replies: {"id","code","detail","status"} as JSON. */

#ifndef NGX_MICRO_ERROR_H
#define NGX_MICRO_ERROR_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_core.h"


/*
 * The error as the request's reply (a body not read yet is discarded);
 * returns what a content handler returns.
 */
ngx_int_t ngx_micro_error_send(ngx_http_request_t *r, const char *id,
    ngx_uint_t status, const char *detail) NGX_MICRO_CORE_API;

/* The same body in a buffer from the request's pool, for a filter that
 * replaces NGINX's own error page; NULL without memory. */
ngx_buf_t *ngx_micro_error_buf(ngx_http_request_t *r, const char *id,
    ngx_uint_t status, const char *detail) NGX_MICRO_CORE_API;

/* The same as an HTML page, unless the client asks for JSON (Accept, or
 * a JSON Content-Type as micro web took it): what web answers. */
ngx_int_t ngx_micro_error_page(ngx_http_request_t *r, const char *id,
    ngx_uint_t status, const char *detail) NGX_MICRO_CORE_API;

#endif
