/*
 * ngx_micro_api_module: the Micro API gateway.
 *
 * micro_api in a location: the request path resolves (go-micro's "micro"
 * resolver) to a service and an endpoint, the core's balancer picks a
 * node of the service from the worker's registry snapshot, and the call
 * goes to it over the micro transport (ngx_micro_api_upstream.c): JSON
 * passed through, or transcoded to and from protobuf when micro_proto
 * knows the endpoint's types. This file holds the directives, variables
 * and configuration; ngx_micro_api.h lists the others.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/resolver.h>
#include <micro/select.h>
#include <micro/service.h>

#include "ngx_micro_api.h"
#include "ngx_micro_proxy.h"
#include "ngx_micro_api_h2.h"


#define NGX_MICRO_API_DEFAULT_NAMESPACE  "go.micro.api"
#define NGX_MICRO_API_MAX_REPLY_SIZE     (4 * 1024 * 1024)  /* gRPC's */
#define NGX_MICRO_API_WS_RATE            1000   /* frames a second */


static ngx_int_t ngx_micro_api_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_micro_api_preconfiguration(ngx_conf_t *cf);
static void ngx_micro_api_exit_process(ngx_cycle_t *cycle);
static void *ngx_micro_api_create_loc_conf(ngx_conf_t *cf);
static char *ngx_micro_api_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_micro_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_micro_rpc(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_micro_api_names(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


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
    { ngx_string("event"), NGX_MICRO_API_HANDLER_EVENT },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_micro_api_protocols[] = {
    { ngx_string("auto"), NGX_MICRO_API_PROTOCOL_AUTO },
    { ngx_string("mucp"), NGX_MICRO_API_PROTOCOL_MUCP },
    { ngx_string("grpc"), NGX_MICRO_API_PROTOCOL_GRPC },
    { ngx_null_string, 0 }
};

/* the transcoder's options (micro/transcode.h) */
static ngx_conf_bitmask_t  ngx_micro_api_json_masks[] = {
    { ngx_string("emit_defaults"), NGX_MICRO_API_JSON_EMIT_DEFAULTS },
    { ngx_string("proto_names"), NGX_MICRO_API_JSON_PROTO_NAMES },
    { ngx_string("enums_as_ints"), NGX_MICRO_API_JSON_ENUMS_AS_INTS },
    { ngx_string("ignore_unknown"), NGX_MICRO_API_JSON_IGNORE_UNKNOWN },
    { ngx_string("off"), NGX_MICRO_API_JSON_OFF },
    { ngx_null_string, 0 }
};

/* proxy_next_upstream's conditions, but for those of a cache */
static ngx_conf_bitmask_t  ngx_micro_api_next_upstream_masks[] = {
    { ngx_string("error"), NGX_HTTP_UPSTREAM_FT_ERROR },
    { ngx_string("timeout"), NGX_HTTP_UPSTREAM_FT_TIMEOUT },
    { ngx_string("invalid_header"), NGX_HTTP_UPSTREAM_FT_INVALID_HEADER },
    { ngx_string("non_idempotent"), NGX_HTTP_UPSTREAM_FT_NON_IDEMPOTENT },
    { ngx_string("http_500"), NGX_HTTP_UPSTREAM_FT_HTTP_500 },
    { ngx_string("http_502"), NGX_HTTP_UPSTREAM_FT_HTTP_502 },
    { ngx_string("http_503"), NGX_HTTP_UPSTREAM_FT_HTTP_503 },
    { ngx_string("http_504"), NGX_HTTP_UPSTREAM_FT_HTTP_504 },
    { ngx_string("http_429"), NGX_HTTP_UPSTREAM_FT_HTTP_429 },
    { ngx_string("off"), NGX_HTTP_UPSTREAM_FT_OFF },
    { ngx_null_string, 0 }
};

/* handler=proxy's headers beside the core's: the request id */
static ngx_keyval_t  ngx_micro_api_proxy_headers[] = {
    { ngx_string("Micro-Id"), ngx_string("$micro_id") },
    { ngx_null_string, ngx_null_string }
};

static ngx_conf_post_handler_pt  ngx_micro_api_namespace_p =
    ngx_micro_conf_namespace;


static ngx_command_t  ngx_micro_api_commands[] = {

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

    { ngx_string("micro_next_upstream"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, upstream.next_upstream),
      &ngx_micro_api_next_upstream_masks },

    { ngx_string("micro_next_upstream_tries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, upstream.next_upstream_tries),
      NULL },

    { ngx_string("micro_next_upstream_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, upstream.next_upstream_timeout),
      NULL },

    { ngx_string("micro_max_reply_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, max_reply_size),
      NULL },

    { ngx_string("micro_protocol"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, protocol),
      &ngx_micro_api_protocols },

    { ngx_string("micro_json_options"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, json),
      &ngx_micro_api_json_masks },

    { ngx_string("micro_websocket_rate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, ws_rate),
      NULL },

    { ngx_string("micro_metadata_allow"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_micro_api_names,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, metadata_allow),
      NULL },

    { ngx_string("micro_metadata_deny"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_micro_api_names,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_api_loc_conf_t, metadata_deny),
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
    ngx_micro_api_preconfiguration,        /* preconfiguration */
    ngx_micro_api_filter_init,             /* postconfiguration */

    NULL,                                  /* create main configuration */
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
    NULL,                                  /* init process */
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
      offsetof(ngx_micro_api_ctx_t, call.peer.node),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("micro_id"), NULL, ngx_micro_api_service_variable,
      offsetof(ngx_micro_api_ctx_t, call.id), NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_int_t
ngx_micro_api_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_micro_api_resolve(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_micro_variable_set(v, ctx->resolved == 1
                              ? (ngx_str_t *) ((char *) ctx + data) : NULL);
    return NGX_OK;
}


static ngx_int_t
ngx_micro_api_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_micro_core_check(cf, "ngx_micro_api_module") != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_micro_add_variables(cf, ngx_micro_api_vars);
}


/* Connections to gRPC nodes still open when the worker exits. */
static void
ngx_micro_api_exit_process(ngx_cycle_t *cycle)
{
    ngx_micro_h2_exit();
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
     *     conf->json = 0;
     */

    conf->resolver = NGX_CONF_UNSET_UINT;
    conf->max_reply_size = NGX_CONF_UNSET_SIZE;
    conf->protocol = NGX_CONF_UNSET_UINT;
    conf->ws_rate = NGX_CONF_UNSET_UINT;
    conf->metadata_allow = NGX_CONF_UNSET_PTR;
    conf->metadata_deny = NGX_CONF_UNSET_PTR;
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

    /* events go to go.micro.evt unless their own location says */
    if (conf->namespace.data == NULL && conf->enabled
        && conf->handler == NGX_MICRO_API_HANDLER_EVENT)
    {
        ngx_str_set(&conf->namespace, NGX_MICRO_API_EVENT_NAMESPACE);
    }
    ngx_conf_merge_str_value(conf->namespace, prev->namespace,
                             NGX_MICRO_API_DEFAULT_NAMESPACE);
    ngx_conf_merge_uint_value(conf->resolver, prev->resolver,
                              NGX_MICRO_API_RESOLVE_MICRO);
    ngx_conf_merge_size_value(conf->max_reply_size, prev->max_reply_size,
                              NGX_MICRO_API_MAX_REPLY_SIZE);
    ngx_conf_merge_uint_value(conf->protocol, prev->protocol,
                              NGX_MICRO_API_PROTOCOL_AUTO);
    ngx_conf_merge_bitmask_value(conf->json, prev->json, NGX_CONF_BITMASK_SET);
    ngx_conf_merge_uint_value(conf->ws_rate, prev->ws_rate,
                              NGX_MICRO_API_WS_RATE);
    ngx_conf_merge_ptr_value(conf->metadata_allow, prev->metadata_allow,
                             NULL);
    ngx_conf_merge_ptr_value(conf->metadata_deny, prev->metadata_deny, NULL);

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
    if (conf->upstream.next_upstream & NGX_HTTP_UPSTREAM_FT_OFF) {
        conf->upstream.next_upstream = NGX_CONF_BITMASK_SET
                                       |NGX_HTTP_UPSTREAM_FT_OFF;
    }

    return NGX_CONF_OK;
}


/* The location calls nodes: its content handler, and the core's peers. */
static char *
ngx_micro_api_location(ngx_conf_t *cf, ngx_micro_api_loc_conf_t *alcf,
    ngx_http_handler_pt handler)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = handler;
    alcf->enabled = 1;
    alcf->upstream.upstream = ngx_micro_upstream_conf(cf);
    return alcf->upstream.upstream ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/* micro_api [handler=rpc|api|proxy|event] */
static char *
ngx_micro_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_api_loc_conf_t *alcf = conf;

    ngx_str_t        *value, name;
    ngx_conf_enum_t  *e;

    if (ngx_micro_core_conf(cf)->registry == NULL) {
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
                               "\"%V\": expected handler=rpc, handler=api, "
                               "handler=proxy or handler=event", &value[1]);
            return NGX_CONF_ERROR;
        }
        alcf->handler = e->value;
    }

    if (alcf->handler == NGX_MICRO_API_HANDLER_PROXY
        && ngx_micro_proxy_conf(cf, ngx_micro_api_proxy_headers,
                                &alcf->proxy) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* events are named below a prefix location: /events/customer/login */
    if (alcf->handler == NGX_MICRO_API_HANDLER_EVENT) {
        alcf->prefix = ngx_micro_location_prefix(cf);
    }

    return ngx_micro_api_location(cf, alcf,
                                  alcf->handler == NGX_MICRO_API_HANDLER_EVENT
                                  ? ngx_micro_api_event_handler
                                  : ngx_micro_api_handler);
}


/* micro_rpc [namespace ...]: /rpc here, for those services (or all). */
static char *
ngx_micro_rpc(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_api_loc_conf_t *alcf = conf;

    ngx_str_t   *value, *ns;
    ngx_uint_t   i;

    if (ngx_micro_core_conf(cf)->registry == NULL) {
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
    return ngx_micro_api_location(cf, alcf, ngx_micro_rpc_handler);
}


/* micro_metadata_allow / _deny name ...: header names, "prefix*" too. */
static char *
ngx_micro_api_names(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_array_t  **list = (ngx_array_t **) ((char *) conf + cmd->offset);

    ngx_str_t   *value, *name;
    ngx_uint_t   i;

    if (*list != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    *list = ngx_array_create(cf->pool, cf->args->nelts - 1,
                             sizeof(ngx_str_t));
    if (*list == NULL) {
        return NGX_CONF_ERROR;
    }
    value = cf->args->elts;
    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid header name "
                               "\"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
        name = ngx_array_push(*list);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }
        *name = value[i];
    }
    return NGX_CONF_OK;
}
