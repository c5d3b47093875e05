/*
 * Plain-HTTP services behind NGINX's own proxy module: micro_api
 * handler=proxy (go-micro's "proxy"/"http" handler) and micro_web. The
 * directive writes, for its location, what a user would otherwise write
 * by hand:
 *
 *     proxy_pass http://micro_proxy;           an upstream whose peers
 *                                              come from the registry
 *     proxy_http_version 1.1;                  keepalive and WebSocket
 *     proxy_set_header Host $micro_proxy_host;
 *     proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
 *     proxy_set_header X-Forwarded-Proto $scheme;
 *     proxy_set_header X-Forwarded-Host $micro_proxy_host;
 *     proxy_set_header Upgrade $http_upgrade;
 *     proxy_set_header Connection $micro_proxy_connection;
 *
 * and the module's own (api: Micro-Id; web: X-Micro-Web-Base-Path), so
 * buffering, chunked replies, the 101 tunnel and every proxy_* directive
 * work as they do for proxy_pass, and the core's balancer and keepalive
 * cache (selection, failover, in-flight counts) are the same as for the
 * RPC leg.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_core.h"
#include "ngx_micro_proxy.h"


extern ngx_module_t  ngx_http_proxy_module;


#define NGX_MICRO_PROXY_HOST        0
#define NGX_MICRO_PROXY_CONNECTION  1


static ngx_int_t ngx_micro_proxy_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_str_t  ngx_micro_proxy_upstream = ngx_string("micro_proxy");

static ngx_keyval_t  ngx_micro_proxy_headers[] = {
    { ngx_string("Host"), ngx_string("$micro_proxy_host") },
    { ngx_string("X-Forwarded-For"),
      ngx_string("$proxy_add_x_forwarded_for") },
    { ngx_string("X-Forwarded-Proto"), ngx_string("$scheme") },
    { ngx_string("X-Forwarded-Host"), ngx_string("$micro_proxy_host") },
    { ngx_string("Upgrade"), ngx_string("$http_upgrade") },
    { ngx_string("Connection"), ngx_string("$micro_proxy_connection") },
    { ngx_null_string, ngx_null_string }
};

static ngx_http_variable_t  ngx_micro_proxy_vars[] = {

    { ngx_string("micro_proxy_host"), NULL, ngx_micro_proxy_variable,
      NGX_MICRO_PROXY_HOST, 0, 0 },

    { ngx_string("micro_proxy_connection"), NULL, ngx_micro_proxy_variable,
      NGX_MICRO_PROXY_CONNECTION, 0, 0 },

      ngx_http_null_variable
};


/*
 * $micro_proxy_host: the Host the client sent (with its port, as go-micro
 * forwards it), else the server's name. $micro_proxy_connection: "upgrade"
 * when the client asks for one, else empty, so the header is left out and
 * the connection to the node can be kept.
 */
static ngx_int_t
ngx_micro_proxy_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  s;
    ngx_http_core_srv_conf_t  *cscf;

    if (data == NGX_MICRO_PROXY_HOST) {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        s = r->headers_in.host ? r->headers_in.host->value
                               : cscf->server_name;       /* as $host */
    } else if (r->headers_in.upgrade) {
        ngx_str_set(&s, "upgrade");
    } else {
        ngx_str_null(&s);
    }
    v->len = s.len;
    v->data = s.data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}


/* A directive of NGINX's proxy module, run as if written in this location. */
static char *
ngx_micro_proxy_directive(ngx_conf_t *cf, const char *name,
    ngx_str_t *arg1, ngx_str_t *arg2)
{
    char                 *rv;
    ngx_str_t             args[3];
    ngx_array_t           a, *saved;
    ngx_command_t        *cmd;
    ngx_http_conf_ctx_t  *ctx = cf->ctx;

    args[0].data = (u_char *) name;
    args[0].len = ngx_strlen(name);
    for (cmd = ngx_http_proxy_module.commands; cmd->name.len; cmd++) {
        if (cmd->name.len == args[0].len
            && ngx_strncmp(cmd->name.data, name, args[0].len) == 0)
        {
            break;
        }
    }
    if (cmd->name.len == 0) {
        return "needs NGINX's proxy module";
    }

    args[1] = *arg1;
    if (arg2) {
        args[2] = *arg2;
    }
    a.elts = args;
    a.nelts = arg2 ? 3 : 2;
    a.size = sizeof(ngx_str_t);
    a.nalloc = 3;
    a.pool = cf->pool;

    saved = cf->args;
    cf->args = &a;
    rv = cmd->set(cf, cmd, ctx->loc_conf[ngx_http_proxy_module.ctx_index]);
    cf->args = saved;

    if (rv != NGX_CONF_OK && rv != NGX_CONF_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" sets "
                           "\"%s\" itself, which %s here",
                           (ngx_str_t *) saved->elts, name, rv);
        return NGX_CONF_ERROR;
    }
    return rv;
}


ngx_int_t
ngx_micro_proxy_add_variables(ngx_conf_t *cf)
{
    return ngx_micro_add_variables(cf, ngx_micro_proxy_vars);
}


/* proxy_set_header for each of a list ending in a null key. */
static char *
ngx_micro_proxy_headers_set(ngx_conf_t *cf, ngx_keyval_t *h)
{
    char  *rv = NGX_CONF_OK;

    for ( /* void */ ; rv == NGX_CONF_OK && h->key.len; h++) {
        rv = ngx_micro_proxy_directive(cf, "proxy_set_header", &h->key,
                                       &h->value);
    }
    return rv;
}


char *
ngx_micro_proxy_conf(ngx_conf_t *cf, ngx_keyval_t *headers,
    ngx_http_handler_pt *handler)
{
    char                          *rv;
    ngx_str_t                      url, version;
    ngx_url_t                      u;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_upstream_srv_conf_t  *uscf;

    /* one upstream for every such location: the same that proxy_pass
     * below finds by its name */
    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url = ngx_micro_proxy_upstream;
    u.default_port = 80;
    u.no_resolve = 1;
    uscf = ngx_http_upstream_add(cf, &u, 0);
    if (uscf == NULL) {
        return NGX_CONF_ERROR;
    }
    uscf->peer.init_upstream = ngx_micro_upstream_init;

    url.len = sizeof("http://") - 1 + ngx_micro_proxy_upstream.len;
    url.data = ngx_pnalloc(cf->pool, url.len);
    if (url.data == NULL) {
        return NGX_CONF_ERROR;
    }
    ngx_sprintf(url.data, "http://%V", &ngx_micro_proxy_upstream);
    ngx_str_set(&version, "1.1");

    rv = ngx_micro_proxy_directive(cf, "proxy_pass", &url, NULL);
    if (rv == NGX_CONF_OK) {
        rv = ngx_micro_proxy_directive(cf, "proxy_http_version",
                                           &version, NULL);
    }
    if (rv == NGX_CONF_OK) {
        rv = ngx_micro_proxy_headers_set(cf, ngx_micro_proxy_headers);
    }
    if (rv == NGX_CONF_OK) {
        rv = ngx_micro_proxy_headers_set(cf, headers);
    }
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    /* the proxy's content handler runs once the node is chosen */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    *handler = clcf->handler;
    return NGX_CONF_OK;
}
