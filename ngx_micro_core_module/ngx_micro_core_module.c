/*
 * ngx_micro_core_module: the part of nginx-micro that ngx_micro_api_module
 * and ngx_micro_web_module share, built and loaded once, so a worker
 * follows the registry once (two Redis connections) and keeps one node
 * state and one keepalive cache whichever modules use them.
 *
 * Its directives are in the http block: micro_registry, micro_proto, the
 * keepalive and node marking tunables; the selection directives
 * (ngx_micro_pick.c) wherever api or web locations take them; and
 * micro_registry_status in a location.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/error.h>
#include <micro/resolver.h>

#include "ngx_micro_core.h"
#include "ngx_micro_keepalive.h"
#include "ngx_micro_metrics.h"
#include "ngx_micro_pick.h"
#include "ngx_micro_proxy.h"
#include "ngx_micro_registry.h"
#include "ngx_micro_status.h"


static void *ngx_micro_core_create_main_conf(ngx_conf_t *cf);
static char *ngx_micro_core_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_micro_core_registry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_micro_core_proto(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_micro_core_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_micro_core_init_process(ngx_cycle_t *cycle);
static void ngx_micro_core_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_micro_core_commands[] = {

    { ngx_string("micro_registry"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_micro_core_registry,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_registry_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_core_main_conf_t, load_wait),
      NULL },

    { ngx_string("micro_proto"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_micro_core_proto,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_keepalive"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_core_main_conf_t, keepalive),
      NULL },

    { ngx_string("micro_keepalive_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_core_main_conf_t, keepalive_timeout),
      NULL },

    { ngx_string("micro_keepalive_requests"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_core_main_conf_t, keepalive_requests),
      NULL },

    { ngx_string("micro_max_fails"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_core_main_conf_t, max_fails),
      NULL },

    { ngx_string("micro_fail_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_core_main_conf_t, fail_timeout),
      NULL },

    { ngx_string("micro_max_conns"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_micro_core_main_conf_t, max_conns),
      NULL },

    { ngx_string("micro_selector"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_core_loc_conf_t, selector),
      &ngx_micro_pick_selectors },

    { ngx_string("micro_selector_weights"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_micro_pick_pairs,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_core_loc_conf_t, weights),
      "weight" },

    { ngx_string("micro_api_filter"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_micro_pick_pairs,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_core_loc_conf_t, filter),
      "filter" },

    { ngx_string("micro_api_label_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_micro_core_loc_conf_t, label_header),
      &ngx_micro_pick_header_name_p },

    { ngx_string("micro_stats_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_micro_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_micro_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("micro_registry_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_micro_core_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_micro_core_module_ctx = {
    ngx_micro_proxy_add_variables,         /* preconfiguration */
    ngx_micro_metrics_init,                /* postconfiguration */

    ngx_micro_core_create_main_conf,       /* create main configuration */
    ngx_micro_core_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_micro_pick_create_loc_conf,        /* create location configuration */
    ngx_micro_pick_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_micro_core_module = {
    NGX_MODULE_V1,
    &ngx_micro_core_module_ctx,            /* module context */
    ngx_micro_core_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_micro_core_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_micro_core_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* Workers (or a single process) follow the registry; helpers do not. */
static ngx_int_t
ngx_micro_core_init_process(ngx_cycle_t *cycle)
{
    micro_nodes_options_t        opts;
    ngx_micro_core_main_conf_t  *cmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }
    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_micro_core_module);
    if (cmcf == NULL || cmcf->registry == NULL) {
        return NGX_OK;
    }

    /* micro_max_fails 0 turns marking off, as max_fails=0 does */
    opts.max_fails = cmcf->max_fails ? (int) cmcf->max_fails : -1;
    opts.fail_timeout_ms = (int) cmcf->fail_timeout;
    opts.max_inflight = (unsigned) cmcf->max_conns;
    if (micro_nodes_new(&opts, &cmcf->nodes) != MICRO_OK
        || ngx_micro_keepalive_init(cycle, cmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }
    return ngx_micro_registry_start(cmcf->registry, cycle->log);
}


static void
ngx_micro_core_exit_process(ngx_cycle_t *cycle)
{
    ngx_micro_core_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_micro_core_module);
    if (cmcf == NULL || cmcf->registry == NULL) {
        return;
    }
    ngx_micro_registry_stop(cmcf->registry);

    /* the module's memory goes away with it (dlclose) */
    micro_nodes_free(cmcf->nodes);
    cmcf->nodes = NULL;
}


ngx_http_upstream_srv_conf_t *
ngx_micro_upstream_conf(ngx_conf_t *cf)
{
    ngx_http_upstream_srv_conf_t  *uscf;

    /* no servers of its own: the peers come per request */
    uscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_upstream_srv_conf_t));
    if (uscf == NULL) {
        return NULL;
    }
    ngx_str_set(&uscf->host, "micro");
    uscf->peer.init = ngx_micro_keepalive_init_peer;
    return uscf;
}


ngx_int_t
ngx_micro_upstream_init(ngx_conf_t *cf, ngx_http_upstream_srv_conf_t *us)
{
    us->peer.init = ngx_micro_keepalive_init_peer;
    return NGX_OK;
}


ngx_int_t
ngx_micro_add_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
{
    ngx_http_variable_t  *var, *v;

    for (v = vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }
    return NGX_OK;
}


void
ngx_micro_variable_set(ngx_http_variable_value_t *v, ngx_str_t *s)
{
    if (s == NULL) {
        v->not_found = 1;
        return;
    }
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = s->data;
}


ngx_buf_t *
ngx_micro_json_buf(ngx_http_request_t *r, const void *data, size_t len)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        return NULL;
    }
    b->last = ngx_cpymem(b->pos, data, len);
    *b->last++ = '\n';
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    return b;
}


ngx_int_t
ngx_micro_send(ngx_http_request_t *r, ngx_uint_t status, const char *type,
    ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
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


ngx_int_t
ngx_micro_json_send(ngx_http_request_t *r, ngx_uint_t status, ngx_buf_t *b)
{
    return ngx_micro_send(r, status, "application/json", b);
}


ngx_str_t
ngx_micro_location_prefix(ngx_conf_t *cf)
{
    ngx_str_t                  prefix = ngx_null_string;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    if (!clcf->named && !clcf->noname && !clcf->exact_match
#if (NGX_PCRE)
        && clcf->regex == NULL
#endif
       )
    {
        prefix = clcf->name;
        while (prefix.len && prefix.data[prefix.len - 1] == '/') {
            prefix.len--;
        }
    }
    return prefix;
}


ngx_str_t
ngx_micro_below_prefix(ngx_str_t *uri, ngx_str_t *prefix)
{
    ngx_str_t  rest = *uri;

    if (prefix->len && uri->len >= prefix->len
        && ngx_strncmp(uri->data, prefix->data, prefix->len) == 0
        && (uri->len == prefix->len || uri->data[prefix->len] == '/'))
    {
        rest.data += prefix->len;
        rest.len -= prefix->len;
    }
    return rest;
}


/*
 * Does the client ask for JSON rather than a page: Accept naming
 * application/json, or (as micro web read it) a JSON Content-Type?
 */
ngx_uint_t
ngx_micro_wants_json(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_micro_header_in(r, "Accept");
    if (h && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                              (u_char *) "application/json", 16 - 1))
    {
        return 1;
    }
    h = r->headers_in.content_type;
    return h && h->value.len >= 16
           && ngx_strncasecmp(h->value.data, (u_char *) "application/json",
                              16) == 0;
}


ngx_int_t
ngx_micro_headers_each(ngx_http_request_t *r,
    ngx_int_t (*fn)(ngx_table_elt_t *h, void *data), void *data)
{
    ngx_int_t         rc;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;
        for (i = 0; i < part->nelts; i++) {
            rc = fn(&h[i], data);
            if (rc != NGX_OK) {
                return rc;
            }
        }
    }
    return NGX_OK;
}


typedef struct {
    ngx_str_t          name;
    ngx_table_elt_t   *found;
} ngx_micro_header_find_t;


static ngx_int_t
ngx_micro_header_match(ngx_table_elt_t *h, void *data)
{
    ngx_micro_header_find_t  *f = data;

    if (h->key.len == f->name.len
        && ngx_strncasecmp(h->key.data, f->name.data, f->name.len) == 0)
    {
        f->found = h;
        return NGX_DONE;
    }
    return NGX_OK;
}


ngx_table_elt_t *
ngx_micro_header_in(ngx_http_request_t *r, const char *name)
{
    ngx_micro_header_find_t  f;

    f.name.data = (u_char *) name;
    f.name.len = ngx_strlen(name);
    f.found = NULL;
    (void) ngx_micro_headers_each(r, ngx_micro_header_match, &f);
    return f.found;
}


char *
ngx_micro_conf_namespace(ngx_conf_t *cf, void *post, void *data)
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


static void *
ngx_micro_core_create_main_conf(ngx_conf_t *cf)
{
    ngx_micro_core_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_micro_core_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     cmcf->registry = NULL;
     *     cmcf->pool = NULL;
     *     cmcf->nodes = NULL;
     */

    cmcf->load_wait = NGX_CONF_UNSET_MSEC;
    cmcf->keepalive = NGX_CONF_UNSET;
    cmcf->keepalive_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->keepalive_requests = NGX_CONF_UNSET;
    cmcf->max_fails = NGX_CONF_UNSET;
    cmcf->fail_timeout = NGX_CONF_UNSET_MSEC;
    cmcf->max_conns = NGX_CONF_UNSET;
    return cmcf;
}


static char *
ngx_micro_core_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_micro_core_main_conf_t  *cmcf = conf;

    ngx_conf_init_msec_value(cmcf->load_wait, 5000);
    ngx_conf_init_value(cmcf->keepalive, 64);
    ngx_conf_init_msec_value(cmcf->keepalive_timeout, 60000);
    ngx_conf_init_value(cmcf->keepalive_requests, 1000);
    ngx_conf_init_value(cmcf->max_fails, 3);
    ngx_conf_init_msec_value(cmcf->fail_timeout, 30000);
    ngx_conf_init_value(cmcf->max_conns, 0);
    return NGX_CONF_OK;
}


static char *
ngx_micro_core_registry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_core_main_conf_t  *cmcf = conf;

    char       *err;
    ngx_str_t  *value;

    if (cmcf->registry) {
        return "is duplicate";
    }
    value = cf->args->elts;
    cmcf->registry = ngx_micro_registry_create(cf, &value[1], &err);
    if (cmcf->registry == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid registry \"%V\": "
                           "%s", &value[1], err);
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}


/* micro_proto FILE: a FileDescriptorSet, read at configuration time. */
static char *
ngx_micro_core_proto(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_core_main_conf_t  *cmcf = conf;

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

    if (cmcf->pool == NULL) {
        ngx_pool_cleanup_t  *cln = ngx_pool_cleanup_add(cf->pool, 0);

        if (cln == NULL || micro_pb_pool_new(&cmcf->pool) != MICRO_OK) {
            return NGX_CONF_ERROR;
        }
        cln->handler = (ngx_pool_cleanup_pt) micro_pb_pool_free;
        cln->data = cmcf->pool;
    }
    if (micro_pb_pool_add_descriptor_set(cmcf->pool, data, (size_t) n)
        != MICRO_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid descriptor set "
                           "\"%V\": %s", &path, micro_error_detail());
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}


static char *
ngx_micro_core_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t    *clcf;
    ngx_micro_core_main_conf_t  *cmcf;

    cmcf = ngx_micro_core_conf(cf);
    if (cmcf->registry == NULL) {
        return "needs \"micro_registry\" in the http block before it";
    }
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_micro_status_handler;
    return NGX_CONF_OK;
}
