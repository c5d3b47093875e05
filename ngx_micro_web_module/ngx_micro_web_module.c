/*
 * ngx_micro_web_module: routes /{name}/... to go.micro.web.{name}.
 *
 * This stage resolves the route as micro web does and exposes it as
 * $micro_web_service (the service name) and $micro_web_path (the path the
 * service sees); the registry-driven proxy and the dashboard build on it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/resolver.h>
#include <micro/service.h>

#include "ngx_micro_core.h"


#define NGX_MICRO_WEB_DEFAULT_NAMESPACE  "go.micro.web"


typedef struct {
    ngx_str_t     namespace;     /* NUL-terminated */
} ngx_micro_web_loc_conf_t;


typedef struct {
    ngx_str_t     service;
    ngx_str_t     path;
    ngx_uint_t    resolved;      /* 1 resolved, 2 does not resolve */
} ngx_micro_web_ctx_t;


static ngx_int_t ngx_micro_web_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_micro_web_ctx_t *ngx_micro_web_resolve(ngx_http_request_t *r);
static void *ngx_micro_web_create_loc_conf(ngx_conf_t *cf);
static char *ngx_micro_web_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_micro_web_preconfiguration(ngx_conf_t *cf);


static ngx_conf_post_handler_pt  ngx_micro_web_namespace_p =
    ngx_micro_conf_namespace;


static ngx_command_t  ngx_micro_web_commands[] = {

    { ngx_string("micro_web_namespace"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_web_loc_conf_t, namespace),
      &ngx_micro_web_namespace_p },

      ngx_null_command
};


static ngx_http_module_t  ngx_micro_web_module_ctx = {
    ngx_micro_web_preconfiguration,        /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_micro_web_create_loc_conf,         /* create location configuration */
    ngx_micro_web_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_micro_web_module = {
    NGX_MODULE_V1,
    &ngx_micro_web_module_ctx,             /* module context */
    ngx_micro_web_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_micro_web_vars[] = {

    { ngx_string("micro_web_service"), NULL, ngx_micro_web_variable,
      offsetof(ngx_micro_web_ctx_t, service), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("micro_web_path"), NULL, ngx_micro_web_variable,
      offsetof(ngx_micro_web_ctx_t, path), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_micro_web_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    ngx_micro_web_ctx_t  *ctx;

    ctx = ngx_micro_web_resolve(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_micro_variable_set(v, ctx->resolved == 1
                              ? (ngx_str_t *) ((char *) ctx + data) : NULL);
    return NGX_OK;
}


/* Resolves the request's URI once per request; NULL only on memory error. */
static ngx_micro_web_ctx_t *
ngx_micro_web_resolve(ngx_http_request_t *r)
{
    u_char                    service[MICRO_NAME_MAX + 1];
    size_t                    rest_len;
    const char               *rest;
    ngx_micro_web_ctx_t      *ctx;
    ngx_micro_web_loc_conf_t  *wlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_web_module);
    if (ctx && ctx->resolved) {
        return ctx;
    }

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_web_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }
        ngx_http_set_ctx(r, ctx, ngx_micro_web_module);
    }

    wlcf = ngx_http_get_module_loc_conf(r, ngx_micro_web_module);

    if (micro_resolve_web((char *) r->uri.data, r->uri.len,
                          (char *) wlcf->namespace.data,
                          (char *) service, sizeof(service), &rest, &rest_len)
        != 0)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "micro web: \"%V\" names no service", &r->uri);
        ctx->resolved = 2;
        return ctx;
    }

    ctx->service.len = ngx_strlen(service);
    ctx->service.data = ngx_pnalloc(r->pool, ctx->service.len);
    if (ctx->service.data == NULL) {
        return NULL;
    }
    ngx_memcpy(ctx->service.data, service, ctx->service.len);

    /* the rest points into r->uri, or at a static "/" */
    ctx->path.len = rest_len;
    ctx->path.data = (u_char *) rest;
    ctx->resolved = 1;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro web: \"%V\" -> service \"%V\" path \"%V\"",
                   &r->uri, &ctx->service, &ctx->path);

    return ctx;
}


static ngx_int_t
ngx_micro_web_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_micro_core_check(cf, "ngx_micro_web_module") != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_micro_add_variables(cf, ngx_micro_web_vars);
}


static void *
ngx_micro_web_create_loc_conf(ngx_conf_t *cf)
{
    ngx_micro_web_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_micro_web_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->namespace = { 0, NULL };
     */

    return conf;
}


static char *
ngx_micro_web_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_micro_web_loc_conf_t  *prev = parent;
    ngx_micro_web_loc_conf_t  *conf = child;

    ngx_conf_merge_str_value(conf->namespace, prev->namespace,
                             NGX_MICRO_WEB_DEFAULT_NAMESPACE);

    return NGX_CONF_OK;
}
