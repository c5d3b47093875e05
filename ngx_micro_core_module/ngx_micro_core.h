/*
 * ngx_micro_core_module: what ngx_micro_api_module and ngx_micro_web_module
 * share, once per worker whichever of them are loaded: the registry
 * follower, the descriptor pool, the node state and balancer, the
 * keepalive cache to nodes, and go-micro's error replies.
 *
 *     load_module modules/ngx_micro_core_module.so;
 *     load_module modules/ngx_micro_api_module.so;     (either or both)
 *     load_module modules/ngx_micro_web_module.so;
 */

#ifndef NGX_MICRO_CORE_H
#define NGX_MICRO_CORE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/pb.h>
#include <micro/select.h>


/*
 * The core's symbols are weak where api and web use them: loaded without
 * the core, or before it, they resolve to NULL instead of failing
 * dlopen(), and ngx_micro_core_check() says what to write. In the core's
 * own object they are ordinary definitions (glibc binds weak definitions
 * like strong ones).
 */
#define NGX_MICRO_CORE_API  __attribute__((weak))


typedef struct ngx_micro_registry_s  ngx_micro_registry_t;


typedef struct {
    ngx_micro_registry_t      *registry;     /* micro_registry */
    micro_pb_pool_t           *pool;         /* micro_proto types */
    ngx_msec_t                 load_wait;    /* micro_registry_wait */

    ngx_int_t                  keepalive;    /* idle connections a worker */
    ngx_msec_t                 keepalive_timeout;
    ngx_int_t                  keepalive_requests;

    ngx_int_t                  max_fails;    /* in a row put a node aside */
    ngx_msec_t                 fail_timeout; /* for so long */
    ngx_int_t                  max_conns;    /* calls in flight a node */

    micro_nodes_t             *nodes;        /* the worker's node state */
    ngx_shm_zone_t            *stats;        /* micro_stats_zone */
} ngx_micro_core_main_conf_t;


extern ngx_module_t  ngx_micro_core_module NGX_MICRO_CORE_API;


/*
 * For api and web, first thing in their configuration: NGX_ERROR, with
 * the load_module line to add, when the core is not loaded before them.
 */
static ngx_inline ngx_int_t
ngx_micro_core_check(ngx_conf_t *cf, const char *module)
{
    if (&ngx_micro_core_module == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s needs "
                           "ngx_micro_core_module: add \"load_module "
                           "modules/ngx_micro_core_module.so;\" before "
                           "the load_module line of %s", module, module);
        return NGX_ERROR;
    }
    return NGX_OK;
}


/* The core's main conf while parsing, and for a request. */
#define ngx_micro_core_conf(cf)                                              \
    ((ngx_micro_core_main_conf_t *)                                          \
     ngx_http_conf_get_module_main_conf(cf, ngx_micro_core_module))
#define ngx_micro_core_request_conf(r)                                       \
    ((ngx_micro_core_main_conf_t *)                                          \
     ngx_http_get_module_main_conf(r, ngx_micro_core_module))


/*
 * An upstream configuration whose peers come from each request's pick:
 * the balancer, with the keepalive cache around it.
 */
ngx_http_upstream_srv_conf_t *ngx_micro_upstream_conf(ngx_conf_t *cf)
    NGX_MICRO_CORE_API;

/* The same peers for an upstream{} block (its init_upstream). */
ngx_int_t ngx_micro_upstream_init(ngx_conf_t *cf,
    ngx_http_upstream_srv_conf_t *us) NGX_MICRO_CORE_API;

/*
 * fn for each request header in order, until it returns other than NGX_OK
 * (which is then returned): the one walk of the header list.
 */
ngx_int_t ngx_micro_headers_each(ngx_http_request_t *r,
    ngx_int_t (*fn)(ngx_table_elt_t *h, void *data), void *data)
    NGX_MICRO_CORE_API;

/* len bytes of JSON (and a newline) as the reply's last buffer, from the
 * request's pool; NULL without memory. */
ngx_buf_t *ngx_micro_json_buf(ngx_http_request_t *r, const void *data,
    size_t len) NGX_MICRO_CORE_API;

/* b as the reply, application/json with its length; what a content
 * handler returns. */
ngx_int_t ngx_micro_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b) NGX_MICRO_CORE_API;

/* b as the reply, of that Content-Type (a static string) and its length. */
ngx_int_t ngx_micro_send(ngx_http_request_t *r, ngx_uint_t status,
    const char *type, ngx_buf_t *b) NGX_MICRO_CORE_API;

/* Does the client ask for JSON (Accept, or a JSON Content-Type)? */
ngx_uint_t ngx_micro_wants_json(ngx_http_request_t *r) NGX_MICRO_CORE_API;

/* At configuration: the location's prefix without its trailing slashes
 * (a plain prefix location; empty for "=", regex and named ones). */
ngx_str_t ngx_micro_location_prefix(ngx_conf_t *cf) NGX_MICRO_CORE_API;

/* uri below prefix (/apps/blog/x below /apps: /blog/x); uri itself when
 * it is not below it. */
ngx_str_t ngx_micro_below_prefix(ngx_str_t *uri, ngx_str_t *prefix)
    NGX_MICRO_CORE_API;

/* A module's variables (a table ending in ngx_http_null_variable) added,
 * as its preconfiguration does. */
ngx_int_t ngx_micro_add_variables(ngx_conf_t *cf, ngx_http_variable_t *vars)
    NGX_MICRO_CORE_API;

/* s as a variable's value; NULL: not found. */
void ngx_micro_variable_set(ngx_http_variable_value_t *v, ngx_str_t *s)
    NGX_MICRO_CORE_API;

/* A request header by name (case-insensitive); NULL when absent. */
ngx_table_elt_t *ngx_micro_header_in(ngx_http_request_t *r,
    const char *name) NGX_MICRO_CORE_API;

/* A namespace directive's post handler: letters, digits, ".", "-", "_". */
char *ngx_micro_conf_namespace(ngx_conf_t *cf, void *post, void *data)
    NGX_MICRO_CORE_API;

#endif
