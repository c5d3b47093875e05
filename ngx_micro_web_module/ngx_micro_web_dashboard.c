/*
 * micro_web_dashboard: micro web's dashboard, served by the module from
 * files built into it (dashboard/, by tools/embed). Below the location:
 *
 *     ""             the web apps          JSON: {"apps": [...]}
 *     registry       the registry          JSON: {"services": [...]}
 *                    (?service=NAME: that service only)
 *     call           a call form, through the rpc= location
 *     stats          the stats zone        JSON: the core's
 *     events         server-sent events: "registry" after every change
 *                    of the worker's snapshot (its watch, no Redis here)
 *     assets/...     the script and style
 *
 * A page is the same HTML shell; its script draws it from the JSON,
 * putting every registry string in as text. Every reply forbids inline
 * scripts (Content-Security-Policy). Off unless configured.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <micro/service.h>
#include <micro/transcode.h>

#include "ngx_micro_error.h"
#include "ngx_micro_metrics.h"
#include "ngx_micro_registry.h"
#include "ngx_micro_web.h"


#define NGX_MICRO_WEB_PING  15000       /* an event stream's keepalive */


typedef struct {
    ngx_str_t                  path;
    const char                *type;
    const u_char              *data;
    size_t                     len;
} ngx_micro_web_asset_t;

#include "ngx_micro_web_assets.h"


/* An event stream: the registry's changes, a ping, the client going. */
typedef struct {
    ngx_http_request_t        *request;
    ngx_event_t                changed;
    ngx_event_t                ping;
    void                      *follower;
} ngx_micro_web_events_t;


static ngx_str_t  ngx_micro_web_csp = ngx_string(
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'");


static ngx_int_t
ngx_micro_web_header(ngx_http_request_t *r, const char *key, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;
    return NGX_OK;
}


/* What every reply of the dashboard carries. */
static ngx_int_t
ngx_micro_web_secure(ngx_http_request_t *r)
{
    static ngx_str_t  nosniff = ngx_string("nosniff");
    static ngx_str_t  no_store = ngx_string("no-store");

    return (ngx_micro_web_header(r, "Content-Security-Policy",
                                 &ngx_micro_web_csp) != NGX_OK
            || ngx_micro_web_header(r, "X-Content-Type-Options", &nosniff)
               != NGX_OK
            || ngx_micro_web_header(r, "Cache-Control", &no_store) != NGX_OK)
           ? NGX_ERROR : NGX_OK;
}


static ngx_int_t
ngx_micro_web_send_buf(ngx_http_request_t *r, const char *type,
    const void *data, size_t len)
{
    ngx_buf_t  *b;

    b = ngx_create_temp_buf(r->pool, len ? len : 1);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->last = ngx_cpymem(b->pos, data, len);
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;
    return ngx_micro_send(r, NGX_HTTP_OK, type, b);
}


/* --- the JSON ------------------------------------------------------------- */


typedef struct {
    json_t                    *list;
    const char                *only;         /* ?service=, or NULL */
    ngx_micro_web_loc_conf_t  *wlcf;
    ngx_uint_t                 apps;         /* the index's form */
} ngx_micro_web_list_t;


/* Entries of one name and version become one service with their nodes. */
static int
ngx_micro_web_add_service(const char *name,
    const micro_snapshot_service_t *svc, void *data)
{
    char                  *dump;
    size_t                 i, j, ns, first;
    json_t                *e, *have, *nodes;
    ngx_micro_web_list_t  *l = data;

    if (l->only && ngx_strcmp(l->only, name) != 0) {
        return 0;
    }
    if (l->apps) {
        ns = l->wlcf->namespace.len;
        if (ngx_strncmp(name, l->wlcf->namespace.data, ns) != 0
            || name[ns] != '.')
        {
            return 0;
        }
        e = json_pack("{s:s, s:s}", "name", name + ns + 1, "service", name);
        return e ? json_array_append_new(l->list, e) : -1;
    }

    /* the versions of this service are those added from here on */
    first = json_array_size(l->list);
    for (i = 0; i < svc->len; i++) {
        dump = micro_service_to_json(&svc->entries[i]);
        e = dump ? json_loads(dump, 0, NULL) : NULL;
        free(dump);
        if (e == NULL) {
            return -1;
        }
        for (j = first; j < json_array_size(l->list); j++) {
            have = json_array_get(l->list, j);
            if (json_equal(json_object_get(have, "version"),
                              json_object_get(e, "version")))
            {
                nodes = json_object_get(have, "nodes");
                json_array_extend(nodes, json_object_get(e, "nodes"));
                json_decref(e);
                e = NULL;
                break;
            }
        }
        if (e && json_array_append_new(l->list, e) != 0) {
            return -1;
        }
    }
    return 0;
}


static ngx_int_t
ngx_micro_web_json(ngx_http_request_t *r, ngx_uint_t apps)
{
    u_char                      *only;
    char                        *dump;
    json_t                      *root;
    ngx_int_t                    rc;
    ngx_str_t                    arg;
    ngx_micro_web_list_t         l;
    ngx_micro_core_main_conf_t  *cmcf;

    cmcf = ngx_micro_core_request_conf(r);
    l.wlcf = ngx_http_get_module_loc_conf(r, ngx_micro_web_module);
    l.apps = apps;
    l.only = NULL;
    if (!apps && ngx_http_arg(r, (u_char *) "service", 7, &arg) == NGX_OK) {
        only = ngx_pnalloc(r->pool, arg.len + 1);
        if (only == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        l.only = (char *) only;
        ngx_unescape_uri(&only, &arg.data, arg.len, NGX_UNESCAPE_URI);
        *only = '\0';
    }

    l.list = json_array();
    if (l.list == NULL
        || micro_snapshot_foreach(ngx_micro_registry_snapshot(cmcf->registry),
                                  ngx_micro_web_add_service, &l) != 0)
    {
        json_decref(l.list);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    root = json_pack("{s:o}", apps ? "apps" : "services", l.list);
    dump = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (dump == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = ngx_micro_web_send_buf(r, "application/json", dump,
                                ngx_strlen(dump));
    free(dump);
    return rc;
}


static ngx_int_t
ngx_micro_web_stats(ngx_http_request_t *r)
{
    ngx_int_t    rc;
    micro_buf_t  out = { 0 };

    if (ngx_micro_metrics_json(r, &out) != 0) {
        micro_buf_free(&out);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = ngx_micro_web_send_buf(r, "application/json", out.data, out.len);
    micro_buf_free(&out);
    return rc;
}


/* --- the pages ------------------------------------------------------------ */


static const char  *ngx_micro_web_fields[] = {
    "%BASE%", "%VIEW%", "%RPC%", "%APPS%", "%NAMESPACE%", NULL
};


/* The shell with values[i] for each ngx_micro_web_fields[i], escaped for
 * an attribute, into out (NULL: only the length is counted). */
static size_t
ngx_micro_web_fill(u_char *out, ngx_str_t *values)
{
    size_t                        n, len = 0;
    ngx_uint_t                    i;
    const u_char                 *p, *end;
    const ngx_micro_web_asset_t  *shell = &ngx_micro_web_assets[0];

    p = shell->data;
    end = p + shell->len;
    while (p < end) {
        for (i = 0; *p == '%' && ngx_micro_web_fields[i]; i++) {
            n = ngx_strlen(ngx_micro_web_fields[i]);
            if ((size_t) (end - p) >= n
                && ngx_strncmp(p, ngx_micro_web_fields[i], n) == 0)
            {
                break;
            }
        }
        if (*p == '%' && ngx_micro_web_fields[i]) {
            if (out) {
                out = (u_char *) ngx_escape_html(out, values[i].data,
                                                 values[i].len);
            }
            len += values[i].len + ngx_escape_html(NULL, values[i].data,
                                                   values[i].len);
            p += n;
            continue;
        }
        if (out) {
            *out++ = *p;
        }
        p++;
        len++;
    }
    return len;
}


/* The page: the shell, told its view and the configuration. */
static ngx_int_t
ngx_micro_web_page(ngx_http_request_t *r, const char *view)
{
    u_char                    *out;
    size_t                     len;
    ngx_str_t                  values[5];
    ngx_micro_web_loc_conf_t  *wlcf;

    wlcf = ngx_http_get_module_loc_conf(r, ngx_micro_web_module);
    values[0] = wlcf->base;
    values[1].data = (u_char *) view;
    values[1].len = ngx_strlen(view);
    values[2] = wlcf->rpc;
    values[3] = wlcf->apps;
    values[4] = wlcf->namespace;

    len = ngx_micro_web_fill(NULL, values);
    out = ngx_pnalloc(r->pool, len);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    (void) ngx_micro_web_fill(out, values);
    return ngx_micro_web_send_buf(r, "text/html; charset=utf-8", out, len);
}


/* --- the event stream ------------------------------------------------------- */


static void
ngx_micro_web_events_send(ngx_micro_web_events_t *es, const char *text)
{
    ngx_buf_t           *b;
    ngx_chain_t          out;
    ngx_http_request_t  *r = es->request;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }
    b->pos = (u_char *) text;
    b->last = b->pos + ngx_strlen(text);
    b->memory = 1;
    b->flush = 1;
    out.buf = b;
    out.next = NULL;
    if (ngx_http_output_filter(r, &out) == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


static void
ngx_micro_web_events_changed(ngx_event_t *ev)
{
    ngx_micro_web_events_t  *es = ev->data;
    ngx_connection_t        *c = es->request->connection;

    ngx_micro_web_events_send(es, "event: registry\ndata: changed\n\n");
    ngx_http_run_posted_requests(c);
}


static void
ngx_micro_web_events_ping(ngx_event_t *ev)
{
    ngx_micro_web_events_t  *es = ev->data;
    ngx_connection_t        *c = es->request->connection;

    ngx_micro_web_events_send(es, ": ping\n\n");
    if (!c->destroyed && !c->error) {
        ngx_add_timer(&es->ping, NGX_MICRO_WEB_PING);
    }
    ngx_http_run_posted_requests(c);
}


static void
ngx_micro_web_events_cleanup(void *data)
{
    ngx_micro_web_events_t  *es = data;

    ngx_micro_registry_unwait(es->follower);
    if (es->ping.timer_set) {
        ngx_del_timer(&es->ping);
    }
    if (es->changed.posted) {
        ngx_delete_posted_event(&es->changed);
    }
}


static ngx_int_t
ngx_micro_web_events(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_pool_cleanup_t          *cln;
    ngx_micro_web_events_t      *es;
    ngx_micro_core_main_conf_t  *cmcf;

    es = ngx_pcalloc(r->pool, sizeof(ngx_micro_web_events_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (es == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    cmcf = ngx_micro_core_request_conf(r);
    es->request = r;
    es->changed.handler = ngx_micro_web_events_changed;
    es->changed.data = es;
    es->changed.log = r->connection->log;
    es->ping.handler = ngx_micro_web_events_ping;
    es->ping.data = es;
    es->ping.log = r->connection->log;
    es->ping.cancelable = 1;       /* a worker shutting down does not wait */
    es->follower = ngx_micro_registry_follow(cmcf->registry, &es->changed,
                                             r->pool);
    if (es->follower == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    cln->handler = ngx_micro_web_events_cleanup;
    cln->data = es;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->keepalive = 0;
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    /*
     * Open until the client goes (NGINX reads to see it). Idle between
     * events: a worker shutting down (a reload) closes it, and the
     * browser's EventSource comes back to a new worker.
     */
    r->read_event_handler = ngx_http_test_reading;
    r->connection->idle = 1;
    r->main->count++;
    ngx_add_timer(&es->ping, NGX_MICRO_WEB_PING);
    ngx_micro_web_events_send(es, "retry: 1000\n: following the registry"
                                  "\n\n");
    return NGX_DONE;
}


/* --- routing ----------------------------------------------------------------- */


static ngx_int_t
ngx_micro_web_dashboard_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_str_t                     rest;
    ngx_uint_t                    json;
    ngx_micro_web_loc_conf_t     *wlcf;
    const ngx_micro_web_asset_t  *a;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }
    wlcf = ngx_http_get_module_loc_conf(r, ngx_micro_web_module);
    if (ngx_micro_web_secure(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the dashboard's own paths, below its base */
    if (r->uri.len < wlcf->base.len
        || ngx_strncmp(r->uri.data, wlcf->base.data, wlcf->base.len) != 0)
    {
        return ngx_micro_error_page(r, NGX_MICRO_WEB_ID, NGX_HTTP_NOT_FOUND,
                                    "not found");
    }
    rest.data = r->uri.data + wlcf->base.len;
    rest.len = r->uri.len - wlcf->base.len;
    json = ngx_micro_wants_json(r);

#define ngx_micro_web_is(s)                                                   \
    (rest.len == sizeof(s) - 1 && ngx_strncmp(rest.data, s, rest.len) == 0)

    if (rest.len == 0) {
        return json ? ngx_micro_web_json(r, 1)
                    : ngx_micro_web_page(r, "index");
    }
    if (ngx_micro_web_is("registry")) {
        return json ? ngx_micro_web_json(r, 0)
                    : ngx_micro_web_page(r, "registry");
    }
    if (ngx_micro_web_is("stats")) {
        return json ? ngx_micro_web_stats(r) : ngx_micro_web_page(r, "stats");
    }
    if (ngx_micro_web_is("call")) {
        return ngx_micro_web_page(r, "call");
    }
    if (ngx_micro_web_is("events")) {
        return ngx_micro_web_events(r);
    }

    /* the script and style (the shell, first, is not served as is) */
    for (a = &ngx_micro_web_assets[1]; a->path.len; a++) {
        if (rest.len + 1 == a->path.len
            && ngx_strncmp(rest.data, a->path.data + 1, rest.len) == 0)
        {
            return ngx_micro_web_send_buf(r, a->type, a->data, a->len);
        }
    }
    return ngx_micro_error_page(r, NGX_MICRO_WEB_ID, NGX_HTTP_NOT_FOUND,
                                "not found");
}


/* micro_web_dashboard [rpc=URI] [apps=URI] */
char *
ngx_micro_web_dashboard(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_web_loc_conf_t *wlcf = conf;

    u_char                    *p;
    ngx_str_t                 *value, *to;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_micro_core_conf(cf)->registry == NULL) {
        return "needs \"micro_registry\" in the http block before it";
    }
    if (wlcf->base.len || wlcf->proxy) {
        return "is duplicate";
    }
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    if (clcf->named || clcf->noname || clcf->exact_match
#if (NGX_PCRE)
        || clcf->regex
#endif
       )
    {
        return "needs a prefix location, such as \"location /dashboard/\"";
    }

    value = cf->args->elts;
    ngx_str_set(&wlcf->apps, "/");
    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "rpc=", 4) == 0) {
            to = &wlcf->rpc;
        } else if (ngx_strncmp(value[i].data, "apps=", 5) == 0) {
            to = &wlcf->apps;
        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter "
                               "\"%V\": expected rpc=URI or apps=URI",
                               &value[i]);
            return NGX_CONF_ERROR;
        }
        p = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=') + 1;
        to->data = p;
        to->len = value[i].data + value[i].len - p;
        if (to->len == 0 || to->data[0] != '/') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter "
                               "\"%V\": a URI starting with \"/\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    /* its pages are below the prefix and a slash */
    wlcf->base.len = clcf->name.len
                     + (clcf->name.data[clcf->name.len - 1] != '/');
    wlcf->base.data = ngx_pnalloc(cf->pool, wlcf->base.len);
    if (wlcf->base.data == NULL) {
        return NGX_CONF_ERROR;
    }
    p = ngx_cpymem(wlcf->base.data, clcf->name.data, clcf->name.len);
    if (p < wlcf->base.data + wlcf->base.len) {
        *p = '/';
    }

    clcf->handler = ngx_micro_web_dashboard_handler;
    return NGX_CONF_OK;
}
