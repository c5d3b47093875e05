/*
 * Which service and endpoint a request names, by micro_api_resolver:
 * go-micro's "micro" resolver (/customer/orders -> go.micro.api.customer,
 * Customer.Orders; handler=proxy takes the service alone), "path" or
 * "host", in micro_api_namespace.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/resolver.h>
#include <micro/service.h>

#include "ngx_micro_api.h"


#define NGX_MICRO_ENDPOINT_MAX  512


ngx_micro_api_ctx_t *
ngx_micro_api_resolve(ngx_http_request_t *r)
{
    int                       rc;
    u_char                    service[MICRO_NAME_MAX + 1];
    u_char                    endpoint[NGX_MICRO_ENDPOINT_MAX];
    ngx_micro_api_ctx_t      *ctx;
    ngx_micro_api_loc_conf_t  *alcf;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    if (ctx && ctx->resolved) {
        return ctx;
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }
        ngx_http_set_ctx(r, ctx, ngx_micro_api_module);
    }

    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);

    switch (alcf->resolver) {
    case NGX_MICRO_API_RESOLVE_PATH:
        rc = micro_resolve_path((char *) r->uri.data, r->uri.len,
                                (char *) alcf->namespace.data,
                                (char *) service, sizeof(service),
                                (char *) endpoint, sizeof(endpoint));
        break;
    case NGX_MICRO_API_RESOLVE_HOST:
        rc = micro_resolve_host((char *) r->headers_in.server.data,
                                r->headers_in.server.len,
                                (char *) r->uri.data, r->uri.len,
                                (char *) alcf->namespace.data,
                                (char *) service, sizeof(service),
                                (char *) endpoint, sizeof(endpoint));
        break;
    default:
        if (alcf->handler == NGX_MICRO_API_HANDLER_PROXY) {
            rc = micro_resolve_proxy((char *) r->uri.data, r->uri.len,
                                     (char *) alcf->namespace.data,
                                     (char *) service, sizeof(service));
            endpoint[0] = '\0';
            break;
        }
        rc = micro_resolve_api((char *) r->uri.data, r->uri.len,
                               (char *) alcf->namespace.data,
                               (char *) service, sizeof(service),
                               (char *) endpoint, sizeof(endpoint));
    }

    if (rc != 0) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "micro api: \"%V\" names no service", &r->uri);
        ctx->resolved = 2;
        return ctx;
    }

    ctx->service.len = ngx_strlen(service);
    ctx->service.data = ngx_pnalloc(r->pool, ctx->service.len);
    ctx->endpoint.len = ngx_strlen(endpoint);
    ctx->endpoint.data = ngx_pnalloc(r->pool, ctx->endpoint.len);
    if (ctx->service.data == NULL || ctx->endpoint.data == NULL) {
        return NULL;
    }
    ngx_memcpy(ctx->service.data, service, ctx->service.len);
    ngx_memcpy(ctx->endpoint.data, endpoint, ctx->endpoint.len);
    ctx->resolved = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro api: \"%V\" -> service \"%V\" endpoint \"%V\"",
                   &r->uri, &ctx->service, &ctx->endpoint);

    return ctx;
}
