/*
 * ngx_micro_api_module: the Micro API gateway.
 *
 * So far: request paths resolved the way go-micro's "micro" resolver does
 * ($micro_service, $micro_endpoint), and the registry followed inside each
 * worker (micro_registry), with its snapshot shown by micro_registry_status.
 * The selector and the RPC leg build on these.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/resolver.h>
#include <micro/service.h>
#include <micro/transcode.h>

#include "ngx_micro_registry.h"


#define NGX_MICRO_API_DEFAULT_NAMESPACE  "go.micro.api"
#define NGX_MICRO_ENDPOINT_MAX           512


typedef struct {
    ngx_micro_registry_t  *registry;
} ngx_micro_api_main_conf_t;


typedef struct {
    ngx_str_t     namespace;     /* NUL-terminated */
} ngx_micro_api_loc_conf_t;


typedef struct {
    ngx_str_t     service;
    ngx_str_t     endpoint;
    ngx_uint_t    resolved;      /* 1 resolved, 2 does not resolve */
} ngx_micro_api_ctx_t;


static ngx_int_t ngx_micro_api_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_micro_api_ctx_t *ngx_micro_api_resolve(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_add_variables(ngx_conf_t *cf);
static void *ngx_micro_api_create_main_conf(ngx_conf_t *cf);
static void *ngx_micro_api_create_loc_conf(ngx_conf_t *cf);
static char *ngx_micro_api_registry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_micro_api_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_micro_api_init_process(ngx_cycle_t *cycle);
static void ngx_micro_api_exit_process(ngx_cycle_t *cycle);
static char *ngx_micro_api_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_micro_api_namespace(ngx_conf_t *cf, void *post, void *data);


static ngx_conf_post_handler_pt  ngx_micro_api_namespace_p =
    ngx_micro_api_namespace;


static ngx_command_t  ngx_micro_api_commands[] = {

    { ngx_string("micro_registry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_micro_api_registry,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_registry_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_micro_api_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_api_namespace"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, namespace),
      &ngx_micro_api_namespace_p },

      ngx_null_command
};


static ngx_http_module_t  ngx_micro_api_module_ctx = {
    ngx_micro_api_add_variables,           /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_micro_api_create_main_conf,        /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_micro_api_create_loc_conf,         /* create location configuration */
    ngx_micro_api_merge_loc_conf           /* merge location configuration */
};


ngx_module_t  ngx_micro_api_module = {
    NGX_MODULE_V1,
    &ngx_micro_api_module_ctx,             /* module context */
    ngx_micro_api_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_micro_api_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_micro_api_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_micro_api_vars[] = {

    { ngx_string("micro_service"), NULL, ngx_micro_api_service_variable,
      offsetof(ngx_micro_api_ctx_t, service), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("micro_endpoint"), NULL, ngx_micro_api_service_variable,
      offsetof(ngx_micro_api_ctx_t, endpoint), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_micro_api_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t            *s;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_micro_api_resolve(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    if (ctx->resolved != 1) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);

    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;

    return NGX_OK;
}


/* Resolves the request's URI once per request; NULL only on memory error. */
static ngx_micro_api_ctx_t *
ngx_micro_api_resolve(ngx_http_request_t *r)
{
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

    if (micro_resolve_api((char *) r->uri.data, r->uri.len,
                          (char *) alcf->namespace.data,
                          (char *) service, sizeof(service),
                          (char *) endpoint, sizeof(endpoint))
        != 0)
    {
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


/* micro_registry_status: the worker's registry snapshot as JSON. */

typedef struct {
    micro_buf_t   *out;
    ngx_uint_t     first;
} ngx_micro_api_status_ctx_t;


static int
ngx_micro_api_status_service(const char *name,
    const micro_snapshot_service_t *svc, void *data)
{
    char                        *json;
    size_t                       i;
    ngx_micro_api_status_ctx_t  *ctx = data;

    if (micro_buf_append(ctx->out, ctx->first ? "\"" : ",\"",
                         ctx->first ? 1 : 2) != 0
        || micro_buf_append(ctx->out, name, ngx_strlen(name)) != 0
        || micro_buf_append(ctx->out, "\":[", 3) != 0)
    {
        return -1;
    }
    ctx->first = 0;
    for (i = 0; i < svc->len; i++) {
        json = micro_service_to_json(&svc->entries[i]);
        if (json == NULL
            || (i && micro_buf_append(ctx->out, ",", 1) != 0)
            || micro_buf_append(ctx->out, json, ngx_strlen(json)) != 0)
        {
            free(json);
            return -1;
        }
        free(json);
    }
    return micro_buf_append(ctx->out, "]", 1);
}


static ngx_int_t
ngx_micro_api_status_handler(ngx_http_request_t *r)
{
    u_char                      head[160];
    ngx_int_t                   rc;
    ngx_buf_t                  *b;
    ngx_chain_t                 out;
    micro_buf_t                 json = { 0 };
    ngx_micro_api_status_ctx_t  ctx = { &json, 1 };
    ngx_micro_registry_stats_t  st;
    ngx_micro_api_main_conf_t  *amcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_micro_api_module);
    if (amcf->registry == NULL) {
        return NGX_HTTP_NOT_FOUND;
    }
    ngx_micro_registry_stats(amcf->registry, &st);

    ngx_snprintf(head, sizeof(head),
                 "{\"registry\":{\"connected\":%s,\"loads\":%ui,"
                 "\"events\":%ui},\"services\":{%Z",
                 st.connected ? "true" : "false", st.syncs, st.events);
    if (micro_buf_append(&json, head, ngx_strlen(head)) != 0
        || micro_snapshot_foreach(ngx_micro_registry_snapshot(amcf->registry),
                                  ngx_micro_api_status_service, &ctx) != 0
        || micro_buf_append(&json, "}}\n", 3) != 0)
    {
        micro_buf_free(&json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, json.len);
    if (b == NULL) {
        micro_buf_free(&json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->last = ngx_cpymem(b->pos, json.data, json.len);
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    micro_buf_free(&json);

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_micro_api_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_micro_api_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_micro_api_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_micro_api_main_conf_t));
}


static void *
ngx_micro_api_create_loc_conf(ngx_conf_t *cf)
{
    ngx_micro_api_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_micro_api_loc_conf_t));
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
ngx_micro_api_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_micro_api_loc_conf_t  *prev = parent;
    ngx_micro_api_loc_conf_t  *conf = child;

    ngx_conf_merge_str_value(conf->namespace, prev->namespace,
                             NGX_MICRO_API_DEFAULT_NAMESPACE);

    return NGX_CONF_OK;
}


static char *
ngx_micro_api_namespace(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *ns = data;

    if (!micro_namespace_valid((char *) ns->data, ns->len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid namespace \"%V\": only letters, digits, "
                           "\".\", \"-\" and \"_\" are allowed", ns);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_micro_api_registry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_api_main_conf_t  *amcf = conf;

    char       *err;
    ngx_str_t  *value;

    if (amcf->registry) {
        return "is duplicate";
    }
    value = cf->args->elts;
    amcf->registry = ngx_micro_registry_create(cf, &value[1], &err);
    if (amcf->registry == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid registry \"%V\": "
                           "%s", &value[1], err);
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}


static char *
ngx_micro_api_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t   *clcf;
    ngx_micro_api_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_micro_api_module);
    if (amcf->registry == NULL) {
        return "needs \"micro_registry\" in the http block before it";
    }
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_micro_api_status_handler;
    return NGX_CONF_OK;
}


/* Workers (or a single process) follow the registry; helpers do not. */
static ngx_int_t
ngx_micro_api_init_process(ngx_cycle_t *cycle)
{
    ngx_micro_api_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }
    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_micro_api_module);
    if (amcf == NULL || amcf->registry == NULL) {
        return NGX_OK;
    }
    return ngx_micro_registry_start(amcf->registry, cycle->log);
}


static void
ngx_micro_api_exit_process(ngx_cycle_t *cycle)
{
    ngx_micro_api_main_conf_t  *amcf;

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_micro_api_module);
    if (amcf && amcf->registry) {
        ngx_micro_registry_stop(amcf->registry);
    }
}
