/*
 * ngx_micro_web_module: micro web's proxy. /{name}/rest goes to a node of
 * go.micro.web.{name} as /rest, with X-Micro-Web-Base-Path: /{name}; with
 * the subdomain resolver blog.example.com/rest goes to go.micro.web.blog
 * as /rest. The node is chosen as the api module chooses one (the core's
 * ngx_micro_pick.c) and the request goes through NGINX's proxy module
 * (the core's ngx_micro_proxy.c): keepalive, failover, WebSockets,
 * chunked and streamed replies, and every proxy_* directive. The
 * dashboard is ngx_micro_web_dashboard.c (ngx_micro_web.h lists the files).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/resolver.h>
#include <micro/service.h>

#include "ngx_micro_error.h"
#include "ngx_micro_pick.h"
#include "ngx_micro_proxy.h"
#include "ngx_micro_web.h"


#define NGX_MICRO_WEB_DEFAULT_NAMESPACE  "go.micro.web"

#define NGX_MICRO_WEB_RESOLVE_PATH       0
#define NGX_MICRO_WEB_RESOLVE_SUBDOMAIN  1

#define NGX_MICRO_WEB_RESOLVED           1
#define NGX_MICRO_WEB_UNRESOLVED         2
#define NGX_MICRO_WEB_REDIRECT           3     /* /{name} -> /{name}/ */


typedef struct {
    ngx_str_t                  service;      /* NUL-terminated */
    ngx_str_t                  path;         /* what the service sees */
    ngx_str_t                  base_path;    /* "/{name}"; empty by host */
    ngx_uint_t                 resolved;
    ngx_micro_peer_t           peer;
    ngx_micro_pick_ctx_t       pick;
} ngx_micro_web_ctx_t;


static ngx_int_t ngx_micro_web_handler(ngx_http_request_t *r);
static ngx_int_t ngx_micro_web_pass(ngx_http_request_t *r);
static ngx_int_t ngx_micro_web_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_micro_web_ctx_t *ngx_micro_web_resolve(ngx_http_request_t *r);
static void *ngx_micro_web_create_loc_conf(ngx_conf_t *cf);
static char *ngx_micro_web_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_micro_web_preconfiguration(ngx_conf_t *cf);
static char *ngx_micro_web(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_micro_web_domain(ngx_conf_t *cf, void *post, void *data);


static ngx_conf_enum_t  ngx_micro_web_resolvers[] = {
    { ngx_string("path"), NGX_MICRO_WEB_RESOLVE_PATH },
    { ngx_string("subdomain"), NGX_MICRO_WEB_RESOLVE_SUBDOMAIN },
    { ngx_null_string, 0 }
};

/* the proxy's headers beside the core's: where the app is mounted */
static ngx_keyval_t  ngx_micro_web_proxy_headers[] = {
    { ngx_string("X-Micro-Web-Base-Path"),
      ngx_string("$micro_web_base_path") },
    { ngx_null_string, ngx_null_string }
};

static ngx_conf_post_handler_pt  ngx_micro_web_namespace_p =
    ngx_micro_conf_namespace;
static ngx_conf_post_handler_pt  ngx_micro_web_domain_p =
    ngx_micro_web_domain;


static ngx_command_t  ngx_micro_web_commands[] = {

    { ngx_string("micro_web"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_micro_web,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_web_dashboard"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE12,
      ngx_micro_web_dashboard,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_web_namespace"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_web_loc_conf_t, namespace),
      &ngx_micro_web_namespace_p },

    { ngx_string("micro_web_resolver"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_web_loc_conf_t, resolver),
      &ngx_micro_web_resolvers },

    { ngx_string("micro_web_domain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_web_loc_conf_t, domain),
      &ngx_micro_web_domain_p },

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

    { ngx_string("micro_web_base_path"), NULL, ngx_micro_web_variable,
      offsetof(ngx_micro_web_ctx_t, base_path), NGX_HTTP_VAR_NOCACHEABLE, 0 },

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

    ngx_micro_variable_set(v, ctx->resolved != NGX_MICRO_WEB_UNRESOLVED
                              ? (ngx_str_t *) ((char *) ctx + data) : NULL);
    return NGX_OK;
}


/* /{name}: the app's root is /{name}/, as micro web sent browsers there. */
static ngx_int_t
ngx_micro_web_redirect(ngx_http_request_t *r)
{
    u_char           *p;
    ngx_int_t         rc;
    ngx_table_elt_t  *location;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }
    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    p = ngx_pnalloc(r->pool, r->uri.len + 2 + r->args.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    location->hash = 1;
    ngx_str_set(&location->key, "Location");
    location->value.data = p;

    /* the name is letters, digits, "-", "_" and ".": nothing to escape */
    p = ngx_cpymem(p, r->uri.data, r->uri.len);
    *p++ = '/';
    if (r->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, r->args.data, r->args.len);
    }
    location->value.len = p - location->value.data;

    ngx_http_clear_location(r);
    r->headers_out.location = location;
    return NGX_HTTP_MOVED_PERMANENTLY;
}


static ngx_int_t
ngx_micro_web_handler(ngx_http_request_t *r)
{
    ngx_micro_web_ctx_t  *ctx;

    ctx = ngx_micro_web_resolve(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ctx->resolved) {

    case NGX_MICRO_WEB_REDIRECT:
        return ngx_micro_web_redirect(r);

    case NGX_MICRO_WEB_UNRESOLVED:
        return ngx_micro_error_page(r, NGX_MICRO_WEB_ID, NGX_HTTP_NOT_FOUND,
                                    "not found");
    }

    ctx->peer.service = ctx->service;
    ctx->pick.peer = &ctx->peer;
    ctx->pick.id = NGX_MICRO_WEB_ID;
    ctx->pick.page = 1;
    ctx->pick.resume = ngx_micro_web_pass;
    ctx->pick.proxy = 1;
    return ngx_micro_web_pass(r);
}


/* The node, then the proxy module with the path the service sees. */
static ngx_int_t
ngx_micro_web_pass(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_micro_web_ctx_t       *ctx;
    ngx_micro_web_loc_conf_t  *wlcf;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_web_module);
    wlcf = ngx_http_get_module_loc_conf(r, ngx_micro_web_module);

    if (ngx_micro_pick(r, &ctx->pick, &rc) != NGX_OK) {
        return rc;
    }

    /*
     * The proxy sends r->uri (escaped) and the arguments when the URI the
     * client sent is not to be passed as it was: the rest, as a rewrite.
     */
    if (ctx->base_path.len) {
        r->uri = ctx->path;
        r->valid_unparsed_uri = 0;
    }
    return wlcf->proxy(r);
}


/*
 * The subdomain resolver (micro v2's): the labels of the host in front of
 * the domain, in reverse order and joined by "-" (a.b.example.com ->
 * NS.b-a). NGX_DECLINED when the host has none (an IP address, the
 * domain itself, no Host): the path resolver answers then, as in micro.
 */
static ngx_int_t
ngx_micro_web_subdomain(ngx_http_request_t *r, ngx_micro_web_loc_conf_t *wlcf,
    u_char *name, size_t size, size_t *len)
{
    u_char     *p, *q, *end, *label, *start;
    ngx_str_t  *host = &r->headers_in.server;     /* lowercase, no port */

    if (host->len == 0 || host->data[0] == '['
        || ngx_inet_addr(host->data, host->len) != INADDR_NONE)
    {
        return NGX_DECLINED;
    }

    /* the host without the domain and the dot in front of it */
    end = host->data + host->len;
    if (wlcf->domain.len) {
        if (host->len <= wlcf->domain.len + 1
            || ngx_strncmp(end - wlcf->domain.len, wlcf->domain.data,
                           wlcf->domain.len) != 0
            || end[-(ssize_t) wlcf->domain.len - 1] != '.')
        {
            return NGX_DECLINED;
        }
        end -= wlcf->domain.len + 1;
    } else {
        for (p = end, q = NULL; p > host->data; p--) {      /* the last two */
            if (p[-1] == '.') {
                if (q) {
                    break;
                }
                q = p - 1;
            }
        }
        if (p == host->data) {
            return NGX_DECLINED;
        }
        end = p - 1;
    }

    if ((size_t) (end - host->data) + 1 > size) {
        return NGX_DECLINED;
    }
    start = host->data;
    q = name;
    *q++ = '/';
    for (p = end; p > start; p = label - 1) {
        for (label = p; label > start && label[-1] != '.'; label--) {
            /* void */
        }
        if (q > name + 1) {
            *q++ = '-';
        }
        q = ngx_cpymem(q, label, p - label);
        if (label == start) {
            break;
        }
    }
    *len = q - name;
    return NGX_OK;
}


/* Resolves the request once; NULL only on memory error. */
static ngx_micro_web_ctx_t *
ngx_micro_web_resolve(ngx_http_request_t *r)
{
    u_char                     service[MICRO_NAME_MAX + 1];
    u_char                     by_host[MICRO_NAME_MAX + 2];
    size_t                     rest_len, len;
    ngx_str_t                  uri;
    const char                *rest;
    ngx_micro_web_ctx_t       *ctx;
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
    ctx->resolved = NGX_MICRO_WEB_UNRESOLVED;

    if (wlcf->resolver == NGX_MICRO_WEB_RESOLVE_SUBDOMAIN
        && ngx_micro_web_subdomain(r, wlcf, by_host, sizeof(by_host), &len)
           == NGX_OK)
    {
        /* the name checked and joined as a path's first segment is */
        if (micro_resolve_web((char *) by_host, len,
                              (char *) wlcf->namespace.data, (char *) service,
                              sizeof(service), &rest, &rest_len)
            != 0)
        {
            return ctx;
        }
        ctx->path = r->uri;

    } else {
        /* below the location's prefix, when it has one */
        uri = ngx_micro_below_prefix(&r->uri, &wlcf->prefix);
        if (micro_resolve_web((char *) uri.data, uri.len,
                              (char *) wlcf->namespace.data, (char *) service,
                              sizeof(service), &rest, &rest_len)
            != 0)
        {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "micro web: \"%V\" names no service", &r->uri);
            return ctx;
        }

        /* the rest points into r->uri, or at a static "/" when nothing
         * follows the name: then the app's root is one redirect away */
        ctx->path.len = rest_len;
        ctx->path.data = (u_char *) rest;
        ctx->base_path.data = r->uri.data;
        if ((u_char *) rest >= uri.data && (u_char *) rest < uri.data + uri.len)
        {
            ctx->base_path.len = (u_char *) rest - r->uri.data;
        } else {
            ctx->base_path.len = r->uri.len;
            ctx->resolved = NGX_MICRO_WEB_REDIRECT;
        }
    }

    ctx->service.len = ngx_strlen(service);
    ctx->service.data = ngx_pnalloc(r->pool, ctx->service.len + 1);
    if (ctx->service.data == NULL) {
        return NULL;
    }
    ngx_memcpy(ctx->service.data, service, ctx->service.len + 1);
    if (ctx->resolved == NGX_MICRO_WEB_UNRESOLVED) {
        ctx->resolved = NGX_MICRO_WEB_RESOLVED;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro web: \"%V\" -> service \"%V\" path \"%V\"",
                   &r->uri, &ctx->service, &ctx->path);

    return ctx;
}


/* micro_web: this location proxies to web services. */
static char *
ngx_micro_web(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_web_loc_conf_t *wlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_micro_core_conf(cf)->registry == NULL) {
        return "needs \"micro_registry\" in the http block before it";
    }
    if (wlcf->proxy || wlcf->base.len) {
        return "is duplicate";
    }
    if (ngx_micro_proxy_conf(cf, ngx_micro_web_proxy_headers, &wlcf->proxy)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* apps are named below a prefix location: /apps/blog/ -> blog */
    wlcf->prefix = ngx_micro_location_prefix(cf);

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_micro_web_handler;
    return NGX_CONF_OK;
}


/* micro_web_domain: a host name, lowercase as NGINX keeps the Host. */
static char *
ngx_micro_web_domain(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *domain = data;

    while (domain->len && domain->data[0] == '.') {      /* ".example.com" */
        domain->data++;
        domain->len--;
    }
    ngx_strlow(domain->data, domain->data, domain->len);
    if (domain->len == 0
        || !micro_namespace_valid((char *) domain->data, domain->len))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid domain \"%V\"",
                           domain);
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
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
     *     conf->domain = { 0, NULL };
     *     conf->prefix = { 0, NULL };
     *     conf->proxy = NULL;
     */

    conf->resolver = NGX_CONF_UNSET_UINT;
    return conf;
}


static char *
ngx_micro_web_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_micro_web_loc_conf_t  *prev = parent;
    ngx_micro_web_loc_conf_t  *conf = child;

    ngx_conf_merge_str_value(conf->namespace, prev->namespace,
                             NGX_MICRO_WEB_DEFAULT_NAMESPACE);
    ngx_conf_merge_uint_value(conf->resolver, prev->resolver,
                              NGX_MICRO_WEB_RESOLVE_PATH);
    ngx_conf_merge_str_value(conf->domain, prev->domain, "");

    return NGX_CONF_OK;
}
