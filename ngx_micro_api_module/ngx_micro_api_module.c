/*
 * ngx_micro_api_module: the Micro API gateway.
 *
 * micro_api in a location: the request path resolves (go-micro's "micro"
 * resolver) to a service and an endpoint, a node of the service is picked
 * from the worker's registry snapshot (micro_registry), and the call goes
 * to it over the micro transport (ngx_micro_api_upstream.c): JSON passed
 * through, or transcoded to and from protobuf when micro_proto knows the
 * endpoint's types.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include <micro/error.h>
#include <micro/resolver.h>
#include <micro/rpc_error.h>
#include <micro/service.h>
#include <micro/transcode.h>

#include "ngx_micro_api_goapi.h"
#include "ngx_micro_api_peer.h"
#include "ngx_micro_api_proxy.h"
#include "ngx_micro_api_upstream.h"
#include "ngx_micro_registry.h"

#define NGX_MICRO_API_LOAD_WAIT  5000      /* ms, for a new worker's load */
#define NGX_MICRO_API_LOAD_STEP  10


#define NGX_MICRO_API_DEFAULT_NAMESPACE  "go.micro.api"
#define NGX_MICRO_ENDPOINT_MAX           512


#define NGX_MICRO_API_RANDOM       0
#define NGX_MICRO_API_ROUND_ROBIN  1
#define NGX_MICRO_API_LEAST_INFLIGHT  2
#define NGX_MICRO_API_PEAK_EWMA       3

#define NGX_MICRO_API_HANDLER_RPC    0    /* go-micro's handlers */
#define NGX_MICRO_API_HANDLER_API    1
#define NGX_MICRO_API_HANDLER_PROXY  2

#define NGX_MICRO_API_RESOLVE_MICRO  0
#define NGX_MICRO_API_RESOLVE_PATH   1
#define NGX_MICRO_API_RESOLVE_HOST   2


typedef struct {
    ngx_micro_registry_t      *registry;
    micro_pb_pool_t           *pool;         /* micro_proto types */
    ngx_int_t                  keepalive;    /* idle connections a worker */
    ngx_msec_t                 keepalive_timeout;
} ngx_micro_api_main_conf_t;


typedef struct {
    ngx_str_t                  namespace;    /* NUL-terminated */
    ngx_flag_t                 enabled;      /* micro_api here */
    ngx_uint_t                 handler;      /* micro_api handler= */
    ngx_http_handler_pt        proxy;        /* handler=proxy: its own */
    ngx_uint_t                 resolver;
    ngx_uint_t                 selector;
    ngx_array_t               *filter;       /* ngx_keyval_t, or NULL */
    ngx_str_t                  label_header; /* micro_api_label_header */
    ngx_array_t               *weights;      /* version=weight, or NULL */
    ngx_array_t               *rpc;          /* micro_rpc: allowed names */
    ngx_uint_t                 next;         /* round robin position */
    ngx_http_upstream_conf_t   upstream;
} ngx_micro_api_loc_conf_t;


typedef struct {
    ngx_str_t                  service;
    ngx_str_t                  endpoint;
    ngx_str_t                  node;
    ngx_uint_t                 resolved;     /* 1 resolved, 2 does not */
    ngx_uint_t                 called;       /* went to micro_api */
    ngx_buf_t                 *error;        /* replaces nginx's page */
    ngx_uint_t                 hold;         /* header waits for body */
    ngx_uint_t                 proxy;        /* to the proxy module */
    ngx_int_t                (*handler)(ngx_http_request_t *r);
    ngx_str_t                  address;      /* /rpc: this node of it */
    ngx_array_t               *labels;       /* from label_header, or NULL */
    ngx_http_upstream_conf_t  *upstream;     /* /rpc: a capped timeout */
    ngx_event_t                wait;         /* for the first load */
    ngx_msec_t                 waited;
    ngx_micro_api_call_t       call;
} ngx_micro_api_ctx_t;


static ngx_int_t ngx_micro_api_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_micro_api_ctx_t *ngx_micro_api_resolve(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_handler(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_call(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_call_api(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_call_proxy(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_dispatch(ngx_http_request_t *r,
    ngx_micro_api_ctx_t *ctx);
static void ngx_micro_api_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_status_handler(ngx_http_request_t *r);
static char *ngx_micro_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_micro_api_proto(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_micro_api_pairs(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_micro_rpc(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_micro_api_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_micro_api_init(ngx_conf_t *cf);
static void *ngx_micro_api_create_main_conf(ngx_conf_t *cf);
static char *ngx_micro_api_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_micro_api_create_loc_conf(ngx_conf_t *cf);
static char *ngx_micro_api_registry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_micro_api_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_micro_api_init_process(ngx_cycle_t *cycle);
static void ngx_micro_api_exit_process(ngx_cycle_t *cycle);
static char *ngx_micro_api_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static ngx_conf_enum_t  ngx_micro_api_resolvers[] = {
    { ngx_string("micro"), NGX_MICRO_API_RESOLVE_MICRO },
    { ngx_string("path"), NGX_MICRO_API_RESOLVE_PATH },
    { ngx_string("host"), NGX_MICRO_API_RESOLVE_HOST },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_micro_api_handlers[] = {
    { ngx_string("rpc"), NGX_MICRO_API_HANDLER_RPC },
    { ngx_string("api"), NGX_MICRO_API_HANDLER_API },
    { ngx_string("proxy"), NGX_MICRO_API_HANDLER_PROXY },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_micro_api_selectors[] = {
    { ngx_string("random"), NGX_MICRO_API_RANDOM },
    { ngx_string("round_robin"), NGX_MICRO_API_ROUND_ROBIN },
    { ngx_string("least_inflight"), NGX_MICRO_API_LEAST_INFLIGHT },
    { ngx_string("peak_ewma"), NGX_MICRO_API_PEAK_EWMA },
    { ngx_null_string, 0 }
};
static char *ngx_micro_api_namespace(ngx_conf_t *cf, void *post, void *data);
static char *ngx_micro_api_header_name(ngx_conf_t *cf, void *post,
    void *data);


static ngx_conf_post_handler_pt  ngx_micro_api_namespace_p =
    ngx_micro_api_namespace;
static ngx_conf_post_handler_pt  ngx_micro_api_header_name_p =
    ngx_micro_api_header_name;


static ngx_command_t  ngx_micro_api_commands[] = {

    { ngx_string("micro_registry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_micro_api_registry,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_proto"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_micro_api_proto,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_micro_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_api_resolver"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, resolver),
      &ngx_micro_api_resolvers },

    { ngx_string("micro_rpc"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_micro_rpc,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_api_filter"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_micro_api_pairs,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, filter),
      "filter" },

    { ngx_string("micro_selector_weights"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_micro_api_pairs,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, weights),
      "weight" },

    { ngx_string("micro_api_label_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, label_header),
      &ngx_micro_api_header_name_p },

    { ngx_string("micro_selector"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, selector),
      &ngx_micro_api_selectors },

    { ngx_string("micro_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, upstream.connect_timeout),
      NULL },

    { ngx_string("micro_send_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, upstream.send_timeout),
      NULL },

    { ngx_string("micro_read_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, upstream.read_timeout),
      NULL },

    { ngx_string("micro_keepalive"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_api_main_conf_t, keepalive),
      NULL },

    { ngx_string("micro_keepalive_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_api_main_conf_t, keepalive_timeout),
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
    ngx_micro_api_init,                    /* postconfiguration */

    ngx_micro_api_create_main_conf,        /* create main configuration */
    ngx_micro_api_init_main_conf,          /* init main configuration */

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

    { ngx_string("micro_node"), NULL, ngx_micro_api_service_variable,
      offsetof(ngx_micro_api_ctx_t, node), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("micro_id"), NULL, ngx_micro_api_service_variable,
      offsetof(ngx_micro_api_ctx_t, call.id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("micro_proxy_host"), NULL, ngx_micro_api_proxy_variable,
      NGX_MICRO_API_PROXY_HOST, 0, 0 },

    { ngx_string("micro_proxy_connection"), NULL,
      ngx_micro_api_proxy_variable, NGX_MICRO_API_PROXY_CONNECTION, 0, 0 },

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


/* --- the micro_api handler ---------------------------------------------- */

/* A go-micro error as the response: {"id","code","detail","status"}. */
static ngx_int_t
ngx_micro_api_error_from(ngx_http_request_t *r, const char *id,
    ngx_uint_t status, const char *detail)
{
    ngx_int_t          rc;
    ngx_buf_t         *b;
    ngx_chain_t        out;
    micro_buf_t        json = { 0 };
    micro_rpc_error_t  e;

    /* an answer before the body was read: the body is read and dropped */
    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    micro_rpc_error_set(&e, id, (int) status, "%s", detail);
    if (micro_rpc_error_json(&e, &json) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b = ngx_create_temp_buf(r->pool, json.len + 1);
    if (b == NULL) {
        micro_buf_free(&json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->last = ngx_cpymem(b->pos, json.data, json.len);
    *b->last++ = '\n';
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    micro_buf_free(&json);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro api: %ui %s", status, detail);

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = b->last - b->pos;
    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}


/* A request header by name (case-insensitive); NULL when absent. */
static ngx_table_elt_t *
ngx_micro_api_header(ngx_http_request_t *r, const char *name)
{
    size_t            len = ngx_strlen(name);
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;
    for (i = 0; /* void */ ; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }
            part = part->next;
            h = part->elts;
            i = 0;
        }
        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


/*
 * The request id: the client's Micro-Id when it sent a sane one, else a
 * new one (128 random bits in hex). It goes to the service, back to the
 * client and into $micro_id for the logs.
 */
static ngx_int_t
ngx_micro_api_request_id(ngx_http_request_t *r, ngx_micro_api_ctx_t *ctx)
{
    u_char           *p;
    ngx_table_elt_t  *h, *out;

    h = ngx_micro_api_header(r, "Micro-Id");
    if (h && h->value.len > 0 && h->value.len <= 128) {
        ctx->call.id = h->value;
    }

    if (ctx->call.id.len == 0) {
        p = ngx_pnalloc(r->pool, 32);
        if (p == NULL) {
            return NGX_ERROR;
        }
        ngx_sprintf(p, "%08xD%08xD%08xD%08xD", (uint32_t) ngx_random(),
                    (uint32_t) ngx_random(), (uint32_t) ngx_random(),
                    (uint32_t) ngx_random());
        ctx->call.id.data = p;
        ctx->call.id.len = 32;
    }

    out = ngx_list_push(&r->headers_out.headers);
    if (out == NULL) {
        return NGX_ERROR;
    }
    out->hash = 1;
    ngx_str_set(&out->key, "Micro-Id");
    out->value = ctx->call.id;
    return NGX_OK;
}


static ngx_int_t
ngx_micro_api_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *detail)
{
    return ngx_micro_api_error_from(r, "go.micro.api", status, detail);
}


static ngx_int_t
ngx_micro_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_micro_api_ctx_t       *ctx;
    ngx_micro_api_loc_conf_t  *alcf;

    /* the api handler passes any method on; the service decides */
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    if (alcf->handler == NGX_MICRO_API_HANDLER_RPC
        && !(r->method & (NGX_HTTP_GET|NGX_HTTP_POST|NGX_HTTP_PUT
                          |NGX_HTTP_PATCH|NGX_HTTP_DELETE)))
    {
        return ngx_micro_api_error(r, NGX_HTTP_NOT_ALLOWED,
                                   "method not allowed");
    }

    ctx = ngx_micro_api_resolve(r);
    if (ctx == NULL || ngx_micro_api_request_id(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->handler = (alcf->handler == NGX_MICRO_API_HANDLER_API)
                   ? ngx_micro_api_call_api
                   : (alcf->handler == NGX_MICRO_API_HANDLER_PROXY)
                   ? ngx_micro_api_call_proxy : ngx_micro_api_call;
    if (ctx->resolved != 1) {
        return ngx_micro_api_error(r, NGX_HTTP_NOT_FOUND, "not found");
    }

    /* the proxy module reads the body itself, as it is configured to */
    if (alcf->handler == NGX_MICRO_API_HANDLER_PROXY) {
        return ngx_micro_api_call_proxy(r);
    }

    /* the body is used whole: keep it in one memory buffer if it fits */
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_micro_api_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return NGX_DONE;
}


/* The request body in one piece (from memory or the temp file). */
static ngx_int_t
ngx_micro_api_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    size_t        len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = NULL;
    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }
    len = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }
    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }
    body->data = p;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }
            p += n;
        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }
    body->len = p - body->data;
    return NGX_OK;
}


/*
 * A query string (a GET's, or a form body) as JSON, go-micro's way (qson):
 * a[b]=1 nests, a[]=x appends, each value is read as JSON first (id=123
 * is a number), '+' is a space.
 */
static ngx_int_t
ngx_micro_api_query_json(ngx_http_request_t *r, ngx_str_t *in,
    ngx_str_t *out)
{
    u_char   *p, *end, *amp, *eq, *kdst, *vdst, key[512], val[4096];
    char     *dump, *seg, *next;
    json_t   *root, *node, *child, *value;

    root = json_object();
    if (root == NULL) {
        return NGX_ERROR;
    }
    p = in->data;
    end = in->data + in->len;

    for ( /* void */ ; p < end; p = amp + 1) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }
        eq = ngx_strlchr(p, amp, '=');
        if (eq == NULL || eq == p
            || (size_t) (eq - p) >= sizeof(key)
            || (size_t) (amp - eq) >= sizeof(val))
        {
            continue;
        }
        kdst = key;
        ngx_unescape_uri(&kdst, &p, eq - p, NGX_UNESCAPE_URI);
        *kdst = '\0';
        eq++;
        vdst = val;
        ngx_unescape_uri(&vdst, &eq, amp - eq, NGX_UNESCAPE_URI);
        *vdst = '\0';
        for (kdst = val; kdst < vdst; kdst++) {
            if (*kdst == '+') {
                *kdst = ' ';
            }
        }

        value = json_loads((char *) val, JSON_DECODE_ANY, NULL);
        if (value == NULL) {
            value = json_string((char *) val);
        }

        /* walk a[b][c] down from the root */
        node = root;
        seg = (char *) key;
        next = strchr(seg, '[');
        if (next) {
            *next++ = '\0';
        }
        while (next) {
            char  *close = strchr(next, ']');

            if (close == NULL) {
                break;
            }
            *close = '\0';
            child = json_object_get(node, seg);
            if (*next == '\0') {
                /* a[]=x: an array */
                if (!json_is_array(child)) {
                    child = json_array();
                    json_object_set_new(node, seg, child);
                }
                json_array_append_new(child, value);
                value = NULL;
                break;
            }
            if (!json_is_object(child)) {
                child = json_object();
                json_object_set_new(node, seg, child);
            }
            node = child;
            seg = next;
            next = close[1] == '[' ? close + 2 : NULL;
        }
        if (value) {
            json_object_set_new(node, seg, value);
        }
    }

    dump = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (dump == NULL) {
        return NGX_ERROR;
    }
    out->len = ngx_strlen(dump);
    out->data = ngx_pnalloc(r->pool, out->len);
    if (out->data == NULL) {
        free(dump);
        return NGX_ERROR;
    }
    ngx_memcpy(out->data, dump, out->len);
    free(dump);
    return NGX_OK;
}


/* key=value pairs: version=V matches the version, key=V node metadata. */
static ngx_uint_t
ngx_micro_api_has(ngx_array_t *pairs, const micro_service_t *e)
{
    ngx_uint_t    i;
    const char   *v;
    ngx_keyval_t  *kv;

    if (pairs == NULL) {
        return 1;
    }
    kv = pairs->elts;
    for (i = 0; i < pairs->nelts; i++) {
        if (kv[i].key.len == 7
            && ngx_strncmp(kv[i].key.data, "version", 7) == 0)
        {
            v = e->version ? e->version : "";
        } else {
            v = micro_metadata_get(&e->nodes[0].metadata,
                                   (char *) kv[i].key.data);
        }
        if (v == NULL || ngx_strlen(v) != kv[i].value.len
            || ngx_strncmp(v, kv[i].value.data, kv[i].value.len) != 0)
        {
            return 0;
        }
    }
    return 1;
}


/* Does the node pass micro_api_filter and the request's labels? */
static ngx_uint_t
ngx_micro_api_matches(ngx_http_request_t *r, ngx_micro_api_loc_conf_t *alcf,
    const micro_service_t *e)
{
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    return ngx_micro_api_has(alcf->filter, e)
           && ngx_micro_api_has(ctx->labels, e);
}


/*
 * The labels of micro_api_label_header's header: "k=v" pairs split by
 * "," or ";", spaces around them ignored. Keys are NUL-terminated for the
 * metadata lookup.
 */
static ngx_int_t
ngx_micro_api_labels(ngx_http_request_t *r, ngx_micro_api_loc_conf_t *alcf,
    ngx_micro_api_ctx_t *ctx)
{
    u_char           *p, *end, *pair, *eq, *last;
    ngx_keyval_t     *kv;
    ngx_table_elt_t  *h;

    if (alcf->label_header.len == 0) {
        return NGX_OK;
    }
    h = ngx_micro_api_header(r, (char *) alcf->label_header.data);
    if (h == NULL) {
        return NGX_OK;
    }
    ctx->labels = ngx_array_create(r->pool, 2, sizeof(ngx_keyval_t));
    if (ctx->labels == NULL) {
        return NGX_ERROR;
    }
    p = ngx_pnalloc(r->pool, h->value.len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }
    end = ngx_cpymem(p, h->value.data, h->value.len);
    *end = '\0';

    while (p < end) {
        while (p < end && (*p == ' ' || *p == ',' || *p == ';')) {
            p++;
        }
        if (p == end) {
            break;
        }
        pair = p;
        while (p < end && *p != ',' && *p != ';') {
            p++;
        }
        for (last = p; last > pair && last[-1] == ' '; last--) { /* void */ }
        *last = '\0';
        p++;
        eq = (u_char *) ngx_strchr(pair, '=');
        if (eq == NULL || eq == pair || eq[-1] == ' '
            || ctx->labels->nelts == 16)
        {
            return NGX_DECLINED;
        }
        kv = ngx_array_push(ctx->labels);
        if (kv == NULL) {
            return NGX_ERROR;
        }
        *eq = '\0';
        kv->key.data = pair;
        kv->key.len = eq - pair;
        kv->value.data = eq + 1;
        kv->value.len = last - (eq + 1);
    }
    return NGX_OK;
}


static ngx_uint_t
ngx_micro_api_version_is(const micro_service_t *e, ngx_str_t *version)
{
    const char  *v = e->version ? e->version : "";

    return ngx_strlen(v) == version->len
           && ngx_strncmp(v, version->data, version->len) == 0;
}


/*
 * From start on, a node of the service that passes micro_api_filter (and
 * is of version, unless NULL) other than skip, passing over nodes put
 * aside after failures unless all are; NULL if none passes.
 */
static const micro_service_t *
ngx_micro_api_scan(ngx_http_request_t *r, ngx_micro_api_loc_conf_t *alcf,
    const micro_snapshot_service_t *svc, ngx_str_t *version, ngx_uint_t start,
    const micro_service_t *skip)
{
    ngx_uint_t              k;
    const micro_service_t  *e, *aside = NULL;

    for (k = 0; k < svc->len; k++) {
        e = &svc->entries[(start + k) % svc->len];
        if (e == skip || !ngx_micro_api_matches(r, alcf, e)
            || (version && !ngx_micro_api_version_is(e, version)))
        {
            continue;
        }
        if (!ngx_micro_api_node_down(e->nodes[0].address)) {
            return e;
        }
        if (aside == NULL) {
            aside = e;
        }
    }
    return aside;
}


/*
 * A node by the location's strategy. least_inflight and peak_ewma: the
 * power of two random choices, the one with fewer calls in flight from
 * this worker, or with the lower latency average times calls in flight.
 */
static const micro_service_t *
ngx_micro_api_pick(ngx_http_request_t *r, ngx_micro_api_loc_conf_t *alcf,
    const micro_snapshot_service_t *svc, ngx_str_t *version)
{
    const micro_service_t  *a, *b;

    if (alcf->selector == NGX_MICRO_API_ROUND_ROBIN) {
        return ngx_micro_api_scan(r, alcf, svc, version, alcf->next++, NULL);
    }
    a = ngx_micro_api_scan(r, alcf, svc, version, ngx_random(), NULL);
    if (alcf->selector == NGX_MICRO_API_RANDOM || a == NULL) {
        return a;
    }
    b = ngx_micro_api_scan(r, alcf, svc, version, ngx_random(), a);
    if (b == NULL || ngx_micro_api_node_down(b->nodes[0].address)) {
        return a;
    }
    if (alcf->selector == NGX_MICRO_API_PEAK_EWMA) {
        return ngx_micro_api_node_cost(b->nodes[0].address)
               < ngx_micro_api_node_cost(a->nodes[0].address) ? b : a;
    }
    return ngx_micro_api_node_inflight(b->nodes[0].address)
           < ngx_micro_api_node_inflight(a->nodes[0].address) ? b : a;
}


/*
 * micro_selector_weights: a version drawn by weight among those with a
 * node up that passes the filters; NULL when none has (then any node).
 */
static ngx_str_t *
ngx_micro_api_weighted_version(ngx_http_request_t *r,
    ngx_micro_api_loc_conf_t *alcf, const micro_snapshot_service_t *svc)
{
    size_t                  k;
    ngx_int_t               w[16];
    ngx_uint_t              i, n, total, pick;
    ngx_keyval_t           *kv;
    const micro_service_t  *e;

    kv = alcf->weights->elts;
    n = ngx_min(alcf->weights->nelts, 16);
    total = 0;
    for (i = 0; i < n; i++) {
        w[i] = 0;
        for (k = 0; k < svc->len; k++) {
            e = &svc->entries[k];
            if (ngx_micro_api_version_is(e, &kv[i].key)
                && ngx_micro_api_matches(r, alcf, e)
                && !ngx_micro_api_node_down(e->nodes[0].address))
            {
                w[i] = ngx_atoi(kv[i].value.data, kv[i].value.len);
                break;
            }
        }
        total += w[i];
    }
    if (total == 0) {
        return NULL;
    }
    pick = (ngx_uint_t) ngx_random() % total;
    for (i = 0; pick >= (ngx_uint_t) w[i]; i++) {
        pick -= w[i];
    }
    return &kv[i].key;
}


/* The node for a call: by version weight first, if set, then by strategy. */
static const micro_service_t *
ngx_micro_api_select(ngx_http_request_t *r, ngx_micro_api_loc_conf_t *alcf,
    const micro_snapshot_service_t *svc)
{
    ngx_str_t              *version;
    const micro_service_t  *e;

    if (svc == NULL || svc->len == 0) {
        return NULL;
    }
    if (alcf->weights) {
        version = ngx_micro_api_weighted_version(r, alcf, svc);
        e = version ? ngx_micro_api_pick(r, alcf, svc, version) : NULL;
        if (e) {
            return e;
        }
    }
    return ngx_micro_api_pick(r, alcf, svc, NULL);
}


/*
 * Makes node the call's target: its address copied to the request's pool
 * (the snapshot may change before the request ends) and parsed; only IP
 * literals, since a name lookup would block the worker.
 */
static ngx_int_t
ngx_micro_api_set_node(ngx_micro_api_call_t *call,
    const micro_service_t *node)
{
    ngx_url_t             url;
    ngx_str_t             addr;
    ngx_http_request_t   *r = call->request;
    ngx_micro_api_ctx_t  *ctx;

    addr.len = ngx_strlen(node->nodes[0].address);
    addr.data = ngx_pnalloc(r->pool, addr.len);
    if (addr.data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(addr.data, node->nodes[0].address, addr.len);
    call->node = addr;
    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    ctx->node = addr;

    ngx_memzero(&url, sizeof(ngx_url_t));
    url.url = addr;
    url.no_resolve = 1;
    if (ngx_parse_url(r->pool, &url) != NGX_OK || url.naddrs == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro api: node %V of %V is not an IP address",
                      &call->node, &call->service);
        return NGX_DECLINED;
    }
    call->sockaddr = url.addrs[0].sockaddr;
    call->socklen = url.addrs[0].socklen;
    call->port = url.port;
    return NGX_OK;
}


ngx_micro_api_call_t *
ngx_micro_api_request_call(ngx_http_request_t *r)
{
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    return &ctx->call;
}


/* After a failed try: another node of the service, from the snapshot now. */
ngx_int_t
ngx_micro_api_next_node(ngx_micro_api_call_t *call)
{
    ngx_uint_t                       i;
    const micro_service_t           *e;
    ngx_micro_api_loc_conf_t        *alcf;
    ngx_micro_api_main_conf_t       *amcf;
    const micro_snapshot_service_t  *svc;

    amcf = ngx_http_get_module_main_conf(call->request, ngx_micro_api_module);
    alcf = ngx_http_get_module_loc_conf(call->request, ngx_micro_api_module);
    svc = micro_snapshot_get(ngx_micro_registry_snapshot(amcf->registry),
                             (char *) call->service.data);
    for (i = 0; svc && i < svc->len; i++) {
        e = &svc->entries[i];
        if (ngx_micro_api_matches(call->request, alcf, e)
            && !ngx_micro_api_node_down(e->nodes[0].address)
            && (ngx_strlen(e->nodes[0].address) != call->node.len
                || ngx_strncmp(e->nodes[0].address, call->node.data,
                               call->node.len) != 0))
        {
            return ngx_micro_api_set_node(call, e);
        }
    }
    return NGX_DECLINED;
}




static void
ngx_micro_api_wait_handler(ngx_event_t *ev)
{
    ngx_int_t             rc;
    ngx_http_request_t   *r = ev->data;
    ngx_connection_t     *c = r->connection;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    rc = ctx->handler(r);

    /* the proxy module took a reference of its own: ours is dropped */
    if (rc != NGX_DONE || (ctx->proxy && !ctx->wait.timer_set)) {
        ngx_http_finalize_request(r, rc);
    }
    ngx_http_run_posted_requests(c);
}


static void
ngx_micro_api_wait_cleanup(void *data)
{
    ngx_micro_api_ctx_t  *ctx = data;

    if (ctx->wait.timer_set) {
        ngx_del_timer(&ctx->wait);
    }
}


/*
 * A worker just started (a reload, a restart) has not loaded the registry
 * yet: rather than answer "not found" for a service that exists, the
 * request waits for the load, polling every 10 ms for up to 5 s.
 */
static ngx_int_t
ngx_micro_api_wait_for_load(ngx_http_request_t *r, ngx_micro_api_ctx_t *ctx)
{
    ngx_http_cleanup_t  *cln;

    if (ctx->wait.handler == NULL) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "micro api: waiting for the first registry load");

        cln = ngx_http_cleanup_add(r, 0);
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        cln->handler = ngx_micro_api_wait_cleanup;
        cln->data = ctx;
        ctx->wait.handler = ngx_micro_api_wait_handler;
        ctx->wait.data = r;
        ctx->wait.log = r->connection->log;

        /* the others wait holding the body's reference; proxy has none */
        if (ctx->proxy) {
            r->main->count++;
        }
    }
    ctx->waited += NGX_MICRO_API_LOAD_STEP;
    ngx_add_timer(&ctx->wait, NGX_MICRO_API_LOAD_STEP);
    return NGX_DONE;
}


static ngx_int_t
ngx_micro_api_call(ngx_http_request_t *r)
{
    u_char                     *name;
    ngx_str_t                   body, ct;
    micro_buf_t                 pb = { 0 };
    ngx_micro_api_ctx_t        *ctx;
    ngx_micro_api_call_t       *call;
    const micro_pb_message_t   *request_type, *response_type;
    ngx_micro_api_main_conf_t  *amcf;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    amcf = ngx_http_get_module_main_conf(r, ngx_micro_api_module);
    call = &ctx->call;

    /* the body: JSON, protobuf as is, or the query of a GET as JSON */
    ct = r->headers_in.content_type ? r->headers_in.content_type->value
                                    : (ngx_str_t) ngx_null_string;
    if (r->method & NGX_HTTP_GET) {
        if (ngx_micro_api_query_json(r, &r->args, &body) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_str_null(&ct);
    } else if (ngx_micro_api_read_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    } else if (ct.len >= 33
               && ngx_strncasecmp(ct.data, (u_char *)
                                  "application/x-www-form-urlencoded", 33)
                  == 0)
    {
        /* form fields become the JSON object, as go-micro's rpc handler */
        if (ngx_micro_api_query_json(r, &body, &body) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_str_null(&ct);
    }

    if (ct.len >= 20 && ngx_strncasecmp(ct.data,
                                        (u_char *) "application/protobuf", 20)
                        == 0)
    {
        ngx_str_set(&call->content_type, "application/protobuf");
    } else {
        ngx_str_set(&call->content_type, "application/json");
    }
    call->body = body;

    /* with micro_proto types for the endpoint: JSON -> protobuf */
    name = ngx_pnalloc(r->pool, ctx->endpoint.len + 1);
    if (name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_cpystrn(name, ctx->endpoint.data, ctx->endpoint.len + 1);
    if (amcf->pool && call->content_type.len == 16
        && micro_pb_pool_method(amcf->pool, (char *) name, &request_type,
                                &response_type) == MICRO_OK)
    {
        call->allocator.alloc = (void *(*)(void *, size_t)) ngx_palloc;
        call->allocator.ctx = r->pool;
        pb.allocator = &call->allocator;
        call->transcode.pool = amcf->pool;
        if (micro_json_to_pb(request_type, (char *) body.data, body.len,
                             &call->transcode, &pb) != MICRO_OK)
        {
            return ngx_micro_api_error(r, NGX_HTTP_BAD_REQUEST,
                                       micro_error_detail());
        }
        call->body.data = pb.data;
        call->body.len = pb.len;
        ngx_str_set(&call->content_type, "application/protobuf");
        call->response_type = response_type;
    }

    return ngx_micro_api_dispatch(r, ctx);
}


/* handler=api: the request as a go.api.Request, the reply from its answer. */
static ngx_int_t
ngx_micro_api_call_api(ngx_http_request_t *r)
{
    ngx_str_t              body;
    ngx_micro_api_ctx_t   *ctx;
    ngx_micro_api_call_t  *call;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    call = &ctx->call;
    if (ngx_micro_api_read_body(r, &body) != NGX_OK
        || ngx_micro_api_goapi_request(r, &body, &call->body) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_str_set(&call->content_type, "application/protobuf");
    call->api_reply = 1;
    return ngx_micro_api_dispatch(r, ctx);
}


/* handler=proxy: the proxy module's handler takes it from here. */
static ngx_int_t
ngx_micro_api_call_proxy(ngx_http_request_t *r)
{
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    ctx->proxy = 1;
    return ngx_micro_api_dispatch(r, ctx);
}


/*
 * The node of the service at address (/rpc's "address"): only registered
 * nodes, so /rpc cannot be pointed at any host the gateway reaches.
 */
static const micro_service_t *
ngx_micro_api_node_at(const micro_snapshot_service_t *svc, ngx_str_t *address)
{
    size_t                  i;
    const micro_service_t  *e;

    for (i = 0; svc && i < svc->len; i++) {
        e = &svc->entries[i];
        if (ngx_strlen(e->nodes[0].address) == address->len
            && ngx_strncmp(e->nodes[0].address, address->data, address->len)
               == 0)
        {
            return e;
        }
    }
    return NULL;
}


/*
 * The call to a node: the one asked for (/rpc's "address"), or one of the
 * service's from the snapshot (no Redis on this path).
 */
static ngx_int_t
ngx_micro_api_dispatch(ngx_http_request_t *r, ngx_micro_api_ctx_t *ctx)
{
    u_char                          *name;
    ngx_int_t                        rc;
    ngx_micro_api_call_t            *call = &ctx->call;
    const micro_service_t           *node;
    ngx_micro_api_loc_conf_t        *alcf;
    ngx_micro_api_main_conf_t       *amcf;
    u_char                          *p;
    const micro_snapshot_service_t  *svc;
    u_char                           detail[160];

    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    amcf = ngx_http_get_module_main_conf(r, ngx_micro_api_module);

    name = ngx_pnalloc(r->pool, ctx->service.len + 1);
    if (name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_cpystrn(name, ctx->service.data, ctx->service.len + 1);
    call->request = r;
    call->service.data = name;
    call->service.len = ctx->service.len;
    call->endpoint = ctx->endpoint;

    svc = amcf->registry ? micro_snapshot_get(ngx_micro_registry_snapshot(
                                                  amcf->registry),
                                              (char *) name)
                         : NULL;
    rc = ngx_micro_api_labels(r, alcf, ctx);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc == NGX_DECLINED) {
        ngx_snprintf(detail, sizeof(detail), "invalid labels in %V: expected "
                     "key=value, separated by \",\" (16 at most)%Z",
                     &alcf->label_header);
        return ngx_micro_api_error(r, NGX_HTTP_BAD_REQUEST, (char *) detail);
    }

    node = ctx->address.len ? ngx_micro_api_node_at(svc, &ctx->address)
                            : ngx_micro_api_select(r, alcf, svc);
    if (node == NULL && ctx->address.len && svc && svc->len) {
        return ngx_micro_api_error_from(r, "go.micro.rpc",
                                        NGX_HTTP_BAD_REQUEST,
                                        "address is not a node of the "
                                        "service");
    }
    if (node == NULL && svc && svc->len) {
        return ngx_micro_api_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                   ctx->labels
                                   ? "no node of the service matches "
                                     "micro_api_filter and the labels asked"
                                   : "no node of the service matches "
                                     "micro_api_filter");
    }
    if (node == NULL) {
        ngx_micro_registry_stats_t  st;

        ngx_micro_registry_stats(amcf->registry, &st);
        if (st.syncs == 0 && ctx->waited < NGX_MICRO_API_LOAD_WAIT) {
            return ngx_micro_api_wait_for_load(r, ctx);
        }
        /* go-micro's words, and which service it was */
        p = ngx_pnalloc(r->pool, sizeof("service not found: ")
                                 + call->service.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_sprintf(p, "service not found: %V%Z", &call->service);
        return ngx_micro_api_error(r, NGX_HTTP_NOT_FOUND, (char *) p);
    }
    call->nodes = ctx->address.len ? 1 : svc->len;   /* address: no other */
    if (ngx_micro_api_set_node(call, node) != NGX_OK) {
        return ngx_micro_api_error(r, NGX_HTTP_BAD_GATEWAY,
                                   "no reachable node");
    }

    ctx->called = 1;

    if (ctx->proxy) {
        return alcf->proxy(r);
    }

    return ngx_micro_api_upstream_start(r, call, ctx->upstream
                                        ? ctx->upstream : &alcf->upstream,
                                        &ngx_micro_api_module);
}


static void
ngx_micro_api_body_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    rc = ctx->handler(r);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/* --- micro_rpc: go-micro's /rpc endpoint --------------------------------- */

/* A member of a JSON object by name, case-insensitively (Go's decoder). */
static json_t *
ngx_micro_rpc_member(json_t *o, const char *name)
{
    void        *it;
    const char  *key;

    for (it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        key = json_object_iter_key(it);
        if (strcasecmp(key, name) == 0) {
            return json_object_iter_value(it);
        }
    }
    return NULL;
}


static ngx_int_t
ngx_micro_rpc_string(ngx_http_request_t *r, json_t *o, const char *name,
    ngx_str_t *out)
{
    json_t  *v = ngx_micro_rpc_member(o, name);

    out->len = 0;
    if (!json_is_string(v) || json_string_length(v) == 0
        || ngx_strlen(json_string_value(v)) != json_string_length(v))
    {
        return NGX_DECLINED;                  /* names never hold a NUL */
    }
    out->len = json_string_length(v);
    out->data = ngx_pnalloc(r->pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(out->data, json_string_value(v), out->len + 1);
    return NGX_OK;
}


/* Is the service one of micro_rpc's namespaces (or are all allowed)? */
static ngx_uint_t
ngx_micro_rpc_allowed(ngx_micro_api_loc_conf_t *alcf, ngx_str_t *service)
{
    ngx_str_t   *ns;
    ngx_uint_t   i;

    if (alcf->rpc->nelts == 0) {
        return 1;
    }
    ns = alcf->rpc->elts;
    for (i = 0; i < alcf->rpc->nelts; i++) {
        if (service->len == ns[i].len
            && ngx_strncmp(service->data, ns[i].data, ns[i].len) == 0)
        {
            return 1;
        }
        if (service->len > ns[i].len + 1
            && ngx_strncmp(service->data, ns[i].data, ns[i].len) == 0
            && service->data[ns[i].len] == '.')
        {
            return 1;
        }
    }
    return 0;
}


static ngx_int_t
ngx_micro_rpc_fail(ngx_http_request_t *r, json_t *root, ngx_uint_t status,
    const char *detail)
{
    json_decref(root);
    return ngx_micro_api_error_from(r, "go.micro.rpc", status, detail);
}


/*
 * {"service", "endpoint" (or "method"), "request", "address"}, as JSON or
 * form fields; "request" an object or a JSON string. Sent as JSON, as
 * go-micro's /rpc did.
 */
static ngx_int_t
ngx_micro_rpc_call(ngx_http_request_t *r)
{
    char                      *dump;
    ngx_str_t                  body, ct;
    json_t                    *root, *req, *parsed;
    json_error_t               err;
    ngx_int_t                  secs;
    ngx_table_elt_t           *timeout;
    ngx_micro_api_ctx_t       *ctx;
    ngx_micro_api_loc_conf_t  *alcf;
    char                       detail[256];

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);

    if (ngx_micro_api_read_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ct = r->headers_in.content_type ? r->headers_in.content_type->value
                                    : (ngx_str_t) ngx_null_string;
    if (!(ct.len >= 16 && ngx_strncasecmp(ct.data,
                                          (u_char *) "application/json", 16)
                          == 0)
        && ngx_micro_api_query_json(r, &body, &body) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* \u0000 is valid JSON, and a protobuf string may hold it */
    root = json_loadb((char *) body.data, body.len, JSON_ALLOW_NUL, &err);
    if (!json_is_object(root)) {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_BAD_REQUEST,
                                  "invalid request body");
    }
    if (ngx_micro_rpc_string(r, root, "service", &ctx->service) != NGX_OK
        || !micro_name_valid((char *) ctx->service.data))
    {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_BAD_REQUEST,
                                  "invalid service");
    }
    if (ngx_micro_rpc_string(r, root, "endpoint", &ctx->endpoint) != NGX_OK
        && ngx_micro_rpc_string(r, root, "method", &ctx->endpoint) != NGX_OK)
    {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_BAD_REQUEST,
                                  "invalid endpoint");
    }
    if (!ngx_micro_rpc_allowed(alcf, &ctx->service)) {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_FORBIDDEN,
                                  "service not allowed");
    }
    (void) ngx_micro_rpc_string(r, root, "address", &ctx->address);
    ctx->resolved = 1;

    /* the request: an object, or a JSON string holding one */
    req = ngx_micro_rpc_member(root, "request");
    parsed = NULL;
    if (json_is_string(req)) {
        parsed = json_loadb(json_string_value(req), json_string_length(req),
                            JSON_ALLOW_NUL, &err);
        if (parsed == NULL) {
            ngx_snprintf((u_char *) detail, sizeof(detail),
                         "error decoding request string: %s%Z", err.text);
            json_decref(root);
            return ngx_micro_api_error_from(r, "go.micro.rpc",
                                            NGX_HTTP_BAD_REQUEST, detail);
        }
        req = parsed;
    }
    dump = req ? json_dumps(req, JSON_COMPACT | JSON_ENCODE_ANY)
               : strdup("{}");
    json_decref(parsed);
    json_decref(root);
    if (dump == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->call.body.len = ngx_strlen(dump);
    ctx->call.body.data = ngx_pnalloc(r->pool, ctx->call.body.len);
    if (ctx->call.body.data == NULL) {
        free(dump);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_memcpy(ctx->call.body.data, dump, ctx->call.body.len);
    free(dump);
    ngx_str_set(&ctx->call.content_type, "application/json");

    /* the Timeout header (seconds) caps the call */
    timeout = ngx_micro_api_header(r, "Timeout");
    if (timeout) {
        secs = ngx_atoi(timeout->value.data, timeout->value.len);
        if (secs > 0 && (ngx_msec_t) secs * 1000
                        < alcf->upstream.read_timeout)
        {
            ctx->upstream = ngx_palloc(r->pool,
                                       sizeof(ngx_http_upstream_conf_t));
            if (ctx->upstream == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            *ctx->upstream = alcf->upstream;
            ctx->upstream->read_timeout = (ngx_msec_t) secs * 1000;
        }
    }

    return ngx_micro_api_dispatch(r, ctx);
}


static ngx_int_t
ngx_micro_rpc_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_http_set_ctx(r, ctx, ngx_micro_api_module);
    ctx->resolved = 2;                   /* until the body names one */
    if (ngx_micro_api_request_id(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->handler = ngx_micro_rpc_call;

    if (!(r->method & NGX_HTTP_POST)) {
        rc = ngx_http_discard_request_body(r);
        return rc != NGX_OK ? rc
                            : ngx_micro_api_error_from(r, "go.micro.rpc",
                                                       NGX_HTTP_NOT_ALLOWED,
                                                       "Method not allowed");
    }
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_micro_api_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return NGX_DONE;
}


/*
 * The errors NGINX itself answers for a call (413 over client_max_body_size,
 * 502 when no node could be reached, 504 on a timeout) go out in go-micro's
 * JSON shape too, instead
 * of the HTML error page: the header filter swaps the body the body
 * filter then sends.
 */

static ngx_http_output_header_filter_pt  ngx_micro_api_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_micro_api_next_body_filter;


static ngx_int_t
ngx_micro_api_header_filter(ngx_http_request_t *r)
{
    u_char               *p;
    const char           *detail;
    ngx_micro_api_ctx_t       *ctx;
    ngx_micro_api_loc_conf_t  *alcf;

    /* 413 comes before the handler ran, from client_max_body_size */
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);

    /*
     * A reply transcoded to JSON: its length is known once it is all in,
     * so the header waits for the body and goes out with Content-Length
     * (no chunked encoding, no extra write for its end).
     */
    if (alcf->enabled && ctx && ctx->called && r->err_status == 0
        && (ctx->call.response_type || ctx->call.api_reply) && r->upstream
        && r->headers_out.status == NGX_HTTP_OK && r == r->main)
    {
        ctx->hold = 1;
        return NGX_OK;
    }

    if (!alcf->enabled
        || (r->err_status < 500
            && r->err_status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
        || (r->err_status >= 500 && (ctx == NULL || !ctx->called)))
    {
        return ngx_micro_api_next_header_filter(r);
    }
    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }
        ngx_http_set_ctx(r, ctx, ngx_micro_api_module);
    }

    detail = r->err_status == NGX_HTTP_GATEWAY_TIME_OUT
             ? "the service did not answer in time"
             : r->err_status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
             ? "request body too large"
             : "no node of the service could be reached";
    ctx->error = ngx_create_temp_buf(r->pool, 256);
    if (ctx->error == NULL) {
        return NGX_ERROR;
    }
    p = ngx_snprintf(ctx->error->pos, 256, "{\"id\":\"go.micro.api\","
                     "\"code\":%ui,\"detail\":\"%s\",\"status\":\"%s\"}\n",
                     r->err_status, detail,
                     micro_http_status_text((int) r->err_status));
    ctx->error->last = p;
    ctx->error->last_buf = 1;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = p - ctx->error->pos;
    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }
    return ngx_micro_api_next_header_filter(r);
}


static ngx_int_t
ngx_micro_api_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                 len;
    ngx_int_t             rc;
    ngx_chain_t           out, *cl;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);

    if (ctx && ctx->hold) {
        if (in == NULL) {
            return NGX_OK;
        }
        /* the transcoded body: now the header, with its length */
        for (len = 0, cl = in; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
        ctx->hold = 0;
        r->headers_out.content_length_n = len;
        rc = ngx_micro_api_next_header_filter(r);
        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            /* no body goes out (HEAD, 204, 304): this one is done with,
             * or the upstream would wait for it to be sent */
            for (cl = in; cl; cl = cl->next) {
                cl->buf->pos = cl->buf->last;
            }
            return rc;
        }
        return ngx_micro_api_next_body_filter(r, in);
    }

    if (ctx == NULL || ctx->error == NULL) {
        return ngx_micro_api_next_body_filter(r, in);
    }
    for ( /* void */ ; in; in = in->next) {
        in->buf->pos = in->buf->last;       /* nginx's page: dropped */
    }
    if (ctx->error->pos == ctx->error->last) {
        return NGX_OK;
    }
    out.buf = ctx->error;
    out.next = NULL;
    ctx->error = ngx_calloc_buf(r->pool);   /* sent once */
    if (ctx->error == NULL) {
        return NGX_ERROR;
    }
    return ngx_micro_api_next_body_filter(r, &out);
}


static ngx_int_t
ngx_micro_api_init(ngx_conf_t *cf)
{
    ngx_micro_api_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_micro_api_header_filter;
    ngx_micro_api_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_micro_api_body_filter;
    return NGX_OK;
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
                 "{\"registry\":{\"worker\":%P,\"connected\":%s,"
                 "\"loads\":%ui,\"events\":%ui},\"services\":{%Z",
                 ngx_pid, st.connected ? "true" : "false", st.syncs,
                 st.events);
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
    ngx_micro_api_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_micro_api_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }
    amcf->keepalive = NGX_CONF_UNSET;
    amcf->keepalive_timeout = NGX_CONF_UNSET_MSEC;
    return amcf;
}


static char *
ngx_micro_api_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_micro_api_main_conf_t  *amcf = conf;

    ngx_conf_init_value(amcf->keepalive, 64);
    ngx_conf_init_msec_value(amcf->keepalive_timeout, 60000);
    return NGX_CONF_OK;
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
     *     conf->upstream.bufs.num = 0;
     *     conf->upstream.next_upstream = 0;
     */

    conf->selector = NGX_CONF_UNSET_UINT;
    conf->resolver = NGX_CONF_UNSET_UINT;
    conf->filter = NGX_CONF_UNSET_PTR;
    conf->weights = NGX_CONF_UNSET_PTR;
    conf->upstream.local = NGX_CONF_UNSET_PTR;
    conf->upstream.socket_keepalive = NGX_CONF_UNSET;
    conf->upstream.next_upstream_tries = NGX_CONF_UNSET_UINT;
    conf->upstream.connect_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.send_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.read_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.next_upstream_timeout = NGX_CONF_UNSET_MSEC;
    conf->upstream.buffer_size = NGX_CONF_UNSET_SIZE;

    /* the reply is small and streamed as it comes: no buffering to disk */
    conf->upstream.cyclic_temp_file = 0;
    conf->upstream.buffering = 0;
    conf->upstream.ignore_client_abort = 0;
    conf->upstream.send_lowat = 0;
    conf->upstream.max_temp_file_size = 0;
    conf->upstream.temp_file_write_size = 0;
    conf->upstream.intercept_errors = 0;
    conf->upstream.pass_request_headers = 0;
    conf->upstream.pass_request_body = 0;

    return conf;
}


static char *
ngx_micro_api_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_micro_api_loc_conf_t  *prev = parent;
    ngx_micro_api_loc_conf_t  *conf = child;

    ngx_conf_merge_str_value(conf->namespace, prev->namespace,
                             NGX_MICRO_API_DEFAULT_NAMESPACE);
    ngx_conf_merge_uint_value(conf->selector, prev->selector,
                              NGX_MICRO_API_RANDOM);
    ngx_conf_merge_uint_value(conf->resolver, prev->resolver,
                              NGX_MICRO_API_RESOLVE_MICRO);
    ngx_conf_merge_ptr_value(conf->filter, prev->filter, NULL);
    ngx_conf_merge_ptr_value(conf->weights, prev->weights, NULL);
    ngx_conf_merge_str_value(conf->label_header, prev->label_header, "");

    ngx_conf_merge_ptr_value(conf->upstream.local, prev->upstream.local,
                             NULL);
    ngx_conf_merge_value(conf->upstream.socket_keepalive,
                         prev->upstream.socket_keepalive, 0);
    ngx_conf_merge_uint_value(conf->upstream.next_upstream_tries,
                              prev->upstream.next_upstream_tries, 0);
    ngx_conf_merge_msec_value(conf->upstream.connect_timeout,
                              prev->upstream.connect_timeout, 5000);
    ngx_conf_merge_msec_value(conf->upstream.send_timeout,
                              prev->upstream.send_timeout, 5000);
    ngx_conf_merge_msec_value(conf->upstream.read_timeout,
                              prev->upstream.read_timeout, 30000);
    ngx_conf_merge_msec_value(conf->upstream.next_upstream_timeout,
                              prev->upstream.next_upstream_timeout, 0);
    ngx_conf_merge_size_value(conf->upstream.buffer_size,
                              prev->upstream.buffer_size,
                              (size_t) ngx_pagesize);
    ngx_conf_merge_bitmask_value(conf->upstream.next_upstream,
                                 prev->upstream.next_upstream,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_HTTP_UPSTREAM_FT_ERROR
                                  |NGX_HTTP_UPSTREAM_FT_TIMEOUT));

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


/* An HTTP header name: a token (RFC 9110), as a client could send it. */
static char *
ngx_micro_api_header_name(ngx_conf_t *cf, void *post, void *data)
{
    u_char      *p, *end;
    ngx_str_t   *name = data;

    end = name->data + name->len;
    for (p = name->data; p < end; p++) {
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z')
            && !(*p >= '0' && *p <= '9')
            && (*p == '\0' || ngx_strchr("!#$%&'*+-.^_`|~", *p) == NULL))
        {
            break;
        }
    }
    if (name->len == 0 || p < end) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid header name \"%V\"", name);
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
    if (ngx_micro_api_peer_cache_init(cycle, amcf->keepalive,
                                      amcf->keepalive_timeout)
        != NGX_OK)
    {
        return NGX_ERROR;
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
    ngx_micro_api_peer_exit();
}


/* micro_api [handler=rpc|api|proxy] */
static char *
ngx_micro_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_api_loc_conf_t *alcf = conf;

    ngx_str_t                  *value, name;
    ngx_conf_enum_t            *e;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_micro_api_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_micro_api_module);
    if (amcf->registry == NULL) {
        return "needs \"micro_registry\" in the http block before it";
    }
    if (alcf->enabled) {
        return "is duplicate";
    }

    value = cf->args->elts;
    alcf->handler = NGX_MICRO_API_HANDLER_RPC;
    if (cf->args->nelts == 2) {
        name = value[1];
        if (name.len > 8 && ngx_strncmp(name.data, "handler=", 8) == 0) {
            name.data += 8;
            name.len -= 8;
        } else {
            name.len = 0;
        }
        for (e = ngx_micro_api_handlers; e->name.len; e++) {
            if (e->name.len == name.len
                && ngx_strncmp(e->name.data, name.data, name.len) == 0)
            {
                break;
            }
        }
        if (e->name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter "
                               "\"%V\": expected handler=rpc, handler=api "
                               "or handler=proxy", &value[1]);
            return NGX_CONF_ERROR;
        }
        alcf->handler = e->value;
    }

    if (alcf->handler == NGX_MICRO_API_HANDLER_PROXY
        && ngx_micro_api_proxy_conf(cf, &alcf->proxy) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_micro_api_handler;
    alcf->enabled = 1;
    alcf->upstream.upstream = ngx_micro_api_peer_conf(cf);
    return alcf->upstream.upstream ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* micro_proto FILE: a FileDescriptorSet, read at configuration time. */
static char *
ngx_micro_api_proto(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_api_main_conf_t  *amcf = conf;

    u_char       *data;
    ssize_t       n;
    ngx_str_t    *value, path;
    ngx_file_t    file;

    value = cf->args->elts;
    path = value[1];
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;
    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }
    if (ngx_fd_info(file.fd, &file.info) == NGX_FILE_ERROR) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }
    data = ngx_pnalloc(cf->temp_pool, ngx_file_size(&file.info) + 1);
    n = data ? ngx_read_file(&file, data, ngx_file_size(&file.info), 0)
             : NGX_ERROR;
    ngx_close_file(file.fd);
    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (amcf->pool == NULL) {
        ngx_pool_cleanup_t  *cln = ngx_pool_cleanup_add(cf->pool, 0);

        if (cln == NULL || micro_pb_pool_new(&amcf->pool) != MICRO_OK) {
            return NGX_CONF_ERROR;
        }
        cln->handler = (ngx_pool_cleanup_pt) micro_pb_pool_free;
        cln->data = amcf->pool;
    }
    if (micro_pb_pool_add_descriptor_set(amcf->pool, data, (size_t) n)
        != MICRO_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid descriptor set "
                           "\"%V\": %s", &path, micro_error_detail());
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}


static ngx_uint_t
ngx_micro_api_pair_key_seen(ngx_array_t *pairs, u_char *key, size_t len)
{
    ngx_uint_t     i;
    ngx_keyval_t  *kv = pairs->elts;

    for (i = 0; i < pairs->nelts; i++) {
        if (kv[i].key.len == len && ngx_strncmp(kv[i].key.data, key, len) == 0)
        {
            return 1;
        }
    }
    return 0;
}


/*
 * key=value ...: micro_api_filter ("version" or a node metadata label) and
 * micro_selector_weights (a version and its weight, an integer).
 */
static char *
ngx_micro_api_pairs(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char        *eq;
    ngx_str_t     *value;
    ngx_uint_t     i, weight;
    ngx_array_t  **pairs;
    ngx_keyval_t  *kv;

    weight = ngx_strcmp(cmd->post, "weight") == 0;
    pairs = (ngx_array_t **) (p + cmd->offset);
    if (*pairs != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    if (weight && cf->args->nelts > 17) {
        return "takes 16 versions at most";
    }
    *pairs = ngx_array_create(cf->pool, cf->args->nelts - 1,
                              sizeof(ngx_keyval_t));
    if (*pairs == NULL) {
        return NGX_CONF_ERROR;
    }
    value = cf->args->elts;
    for (i = 1; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
        if (eq == NULL || eq == value[i].data
            || (weight && ngx_atoi(eq + 1, value[i].data + value[i].len
                                           - (eq + 1)) == NGX_ERROR))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %s \"%V\": "
                               "expected %s", cmd->post, &value[i],
                               weight ? "version=weight" : "key=value");
            return NGX_CONF_ERROR;
        }
        if (ngx_micro_api_pair_key_seen(*pairs, value[i].data,
                                        eq - value[i].data))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate %s \"%*s\" "
                               "in \"%V\"", weight ? "version" : "key",
                               eq - value[i].data, value[i].data, &value[i]);
            return NGX_CONF_ERROR;
        }
        kv = ngx_array_push(*pairs);
        if (kv == NULL) {
            return NGX_CONF_ERROR;
        }
        /* NUL-terminated key for the metadata lookup */
        *eq = '\0';
        kv->key.data = value[i].data;
        kv->key.len = eq - value[i].data;
        kv->value.data = eq + 1;
        kv->value.len = value[i].data + value[i].len - (eq + 1);
    }
    return NGX_CONF_OK;
}


/* micro_rpc [namespace ...]: /rpc here, for those services (or all). */
static char *
ngx_micro_rpc(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_api_loc_conf_t *alcf = conf;

    ngx_str_t                  *value, *ns;
    ngx_uint_t                  i;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_micro_api_main_conf_t  *amcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_micro_api_module);
    if (amcf->registry == NULL) {
        return "needs \"micro_registry\" in the http block before it";
    }
    if (alcf->rpc) {
        return "is duplicate";
    }
    alcf->rpc = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
    if (alcf->rpc == NULL) {
        return NGX_CONF_ERROR;
    }
    value = cf->args->elts;
    for (i = 1; i < cf->args->nelts; i++) {
        if (!micro_namespace_valid((char *) value[i].data, value[i].len)
            || value[i].len == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid namespace "
                               "\"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
        ns = ngx_array_push(alcf->rpc);
        if (ns == NULL) {
            return NGX_CONF_ERROR;
        }
        *ns = value[i];
    }
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_micro_rpc_handler;
    alcf->enabled = 1;
    alcf->upstream.upstream = ngx_micro_api_peer_conf(cf);
    return alcf->upstream.upstream ? NGX_CONF_OK : NGX_CONF_ERROR;
}
