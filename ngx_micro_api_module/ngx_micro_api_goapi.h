/*
 * go-micro's "api" handler messages (proto/api.proto, package go.api): the
 * HTTP request as a go.api.Request, and a go.api.Response as the reply.
 */

#ifndef NGX_MICRO_API_GOAPI_H
#define NGX_MICRO_API_GOAPI_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The request (method, path, url, headers with X-Forwarded-For appended,
 * query into "get", a form body into "post", any other body as "body")
 * encoded as a go.api.Request into *out, from the request's pool.
 */
ngx_int_t ngx_micro_api_goapi_request(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *out);

/*
 * go-micro's event handler's message: a go.api.Event (name, id,
 * timestamp in seconds, the request's headers, data: the body) into *out.
 */
ngx_int_t ngx_micro_api_goapi_event(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *id, time_t timestamp, ngx_str_t *data, ngx_str_t *out);

/*
 * A go.api.Response made the reply: status (0 is 200), headers (those
 * NGINX sets itself are left out), Content-Type (application/json unless
 * given); *body points into data. NGX_DECLINED when it does not parse or
 * holds an invalid status.
 */
ngx_int_t ngx_micro_api_goapi_reply(ngx_http_request_t *r, u_char *data,
    size_t len, ngx_str_t *body);

#endif
