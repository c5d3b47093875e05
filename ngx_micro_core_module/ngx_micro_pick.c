/*
 * A request's node, as api and web choose it (ngx_micro_pick.h): the
 * selection directives, the client's labels, the balancer's answer as a
 * reply when it has no node, and the wait for the first registry load.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_pick.h"
#include "ngx_micro_error.h"
#include "ngx_micro_registry.h"


#define NGX_MICRO_PICK_MAX_LABELS  16


static char *ngx_micro_pick_header_name(ngx_conf_t *cf, void *post,
    void *data);


ngx_conf_enum_t  ngx_micro_pick_selectors[] = {
    { ngx_string("random"), MICRO_STRATEGY_RANDOM },
    { ngx_string("round_robin"), MICRO_STRATEGY_ROUND_ROBIN },
    { ngx_string("least_inflight"), MICRO_STRATEGY_LEAST_INFLIGHT },
    { ngx_string("peak_ewma"), MICRO_STRATEGY_PEAK_EWMA },
    { ngx_null_string, 0 }
};

ngx_conf_post_handler_pt  ngx_micro_pick_header_name_p =
    ngx_micro_pick_header_name;


static ngx_int_t
ngx_micro_pick_error(ngx_http_request_t *r, ngx_micro_pick_ctx_t *pc,
    ngx_uint_t status, const char *detail)
{
    return pc->page ? ngx_micro_error_page(r, pc->id, status, detail)
                    : ngx_micro_error_send(r, pc->id, status, detail);
}


/*
 * The labels of micro_api_label_header's header: "k=v" pairs split by
 * "," or ";", spaces around them ignored, as NUL-terminated strings for
 * the selection's filter. NGX_DECLINED: not such pairs.
 */
static ngx_int_t
ngx_micro_pick_labels(ngx_http_request_t *r, ngx_micro_core_loc_conf_t *clcf,
    ngx_micro_pick_ctx_t *pc)
{
    u_char           *p, *end, *pair, *eq, *last;
    micro_pair_t     *kv;
    ngx_table_elt_t  *h;

    if (clcf->label_header.len == 0) {
        return NGX_OK;
    }
    h = ngx_micro_header_in(r, (char *) clcf->label_header.data);
    if (h == NULL) {
        return NGX_OK;
    }
    pc->labels = ngx_array_create(r->pool, 2, sizeof(micro_pair_t));
    if (pc->labels == NULL) {
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
            || pc->labels->nelts == NGX_MICRO_PICK_MAX_LABELS)
        {
            return NGX_DECLINED;
        }
        kv = ngx_array_push(pc->labels);
        if (kv == NULL) {
            return NGX_ERROR;
        }
        *eq = '\0';
        kv->key = (char *) pair;
        kv->value = (char *) eq + 1;
    }
    return NGX_OK;
}


/* The balancer's question: micro_api_filter, then the labels asked for. */
static void
ngx_micro_pick_question(ngx_micro_core_loc_conf_t *clcf,
    ngx_micro_pick_ctx_t *pc)
{
    ngx_uint_t       n = 0;
    micro_select_t  *how = &pc->peer->how;

    if (clcf->filter) {
        pc->filters[n].labels = clcf->filter->elts;
        pc->filters[n++].nlabels = clcf->filter->nelts;
    }
    if (pc->labels) {
        pc->filters[n].labels = pc->labels->elts;
        pc->filters[n++].nlabels = pc->labels->nelts;
    }
    how->strategy = (micro_strategy_t) clcf->selector;
    how->filters = pc->filters;
    how->nfilters = n;
    if (clcf->weights) {
        how->weights = clcf->weights->elts;
        how->nweights = clcf->weights->nelts;
    }
}


static void
ngx_micro_pick_wait_handler(ngx_event_t *ev)
{
    ngx_int_t              rc;
    ngx_micro_pick_ctx_t  *pc = ev->data;
    ngx_http_request_t    *r = pc->peer->request;
    ngx_connection_t      *c = r->connection;

    if (ev->timedout) {
        pc->waited = 1;
    } else if (pc->wait.timer_set) {
        ngx_del_timer(&pc->wait);
    }
    ngx_micro_registry_unwait(pc->waiter);
    pc->waiter = NULL;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "micro: %s", pc->waited
                   ? "gave up waiting for the first registry load"
                   : "woken by the first registry load");

    rc = pc->resume(r);

    /* the proxy module took a reference of its own: ours is dropped */
    if (rc != NGX_DONE || pc->proxy) {
        ngx_http_finalize_request(r, rc);
    }
    ngx_http_run_posted_requests(c);
}


static void
ngx_micro_pick_wait_cleanup(void *data)
{
    ngx_micro_pick_ctx_t  *pc = data;

    if (pc->wait.timer_set) {
        ngx_del_timer(&pc->wait);
    }
    if (pc->wait.posted) {
        ngx_delete_posted_event(&pc->wait);
    }
    ngx_micro_registry_unwait(pc->waiter);
}


/*
 * A worker just started (a reload, a restart) has not loaded the registry
 * yet: rather than answer "not found" for a service that exists, the
 * request waits for the load, which wakes it, for micro_registry_wait.
 */
static ngx_int_t
ngx_micro_pick_wait_for_load(ngx_http_request_t *r, ngx_micro_pick_ctx_t *pc,
    ngx_micro_core_main_conf_t *cmcf)
{
    ngx_http_cleanup_t  *cln;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro: waiting for the first registry load");

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    pc->wait.handler = ngx_micro_pick_wait_handler;
    pc->wait.data = pc;
    pc->wait.log = r->connection->log;
    pc->waiter = ngx_micro_registry_wait(cmcf->registry, &pc->wait, r->pool);
    if (pc->waiter == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    cln->handler = ngx_micro_pick_wait_cleanup;
    cln->data = pc;
    ngx_add_timer(&pc->wait, cmcf->load_wait);

    /* the others wait holding the body's reference; proxy has none */
    if (pc->proxy) {
        r->main->count++;
    }
    return NGX_DONE;
}


/* What ngx_micro_pick() answers when it has no node: the reply's code. */
static ngx_int_t
ngx_micro_pick_reply(ngx_http_request_t *r, ngx_micro_pick_ctx_t *pc)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_micro_peer_t            *peer = pc->peer;
    ngx_micro_core_loc_conf_t   *clcf;
    ngx_micro_core_main_conf_t  *cmcf;
    ngx_micro_registry_stats_t   st;
    u_char                       detail[160];

    clcf = ngx_http_get_module_loc_conf(r, ngx_micro_core_module);
    cmcf = ngx_micro_core_request_conf(r);
    peer->request = r;

    rc = ngx_micro_pick_labels(r, clcf, pc);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc == NGX_DECLINED) {
        ngx_snprintf(detail, sizeof(detail), "invalid labels in %V: expected "
                     "key=value, separated by \",\" (%d at most)%Z",
                     &clcf->label_header, NGX_MICRO_PICK_MAX_LABELS);
        return ngx_micro_pick_error(r, pc, NGX_HTTP_BAD_REQUEST,
                                    (char *) detail);
    }
    ngx_micro_pick_question(clcf, pc);

    switch (ngx_micro_balancer_pick(peer)) {

    case NGX_MICRO_PICKED:
        pc->picked = 1;
        return NGX_OK;

    case NGX_MICRO_NOT_A_NODE:
        return ngx_micro_pick_error(r, pc, NGX_HTTP_BAD_REQUEST,
                                    "address is not a node of the service");

    case NGX_MICRO_NO_MATCH:
        if (peer->ntried) {
            /* the nodes that pass have no IP address (logged) */
            return ngx_micro_pick_error(r, pc, NGX_HTTP_BAD_GATEWAY,
                                        "no reachable node");
        }
        return ngx_micro_pick_error(r, pc, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    pc->labels
                                    ? "no node of the service matches "
                                      "micro_api_filter and the labels asked"
                                    : "no node of the service matches "
                                      "micro_api_filter");

    case NGX_MICRO_ALL_BUSY:
        return ngx_micro_pick_error(r, pc, NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "every node of the service is at "
                                    "micro_max_conns");

    case NGX_MICRO_NO_SERVICE:
        ngx_micro_registry_stats(cmcf->registry, &st);
        if (st.syncs == 0 && !pc->waited) {
            return ngx_micro_pick_wait_for_load(r, pc, cmcf);
        }
        /* go-micro's words, and which service it was */
        p = ngx_pnalloc(r->pool, sizeof("service not found: ")
                                 + peer->service.len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_sprintf(p, "service not found: %V%Z", &peer->service);
        return ngx_micro_pick_error(r, pc, NGX_HTTP_NOT_FOUND, (char *) p);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


ngx_int_t
ngx_micro_pick(ngx_http_request_t *r, ngx_micro_pick_ctx_t *pc, ngx_int_t *rc)
{
    pc->picked = 0;
    *rc = ngx_micro_pick_reply(r, pc);
    return pc->picked ? NGX_OK : NGX_DECLINED;
}


/* An HTTP header name: a token (RFC 9110), as a client could send it. */
static char *
ngx_micro_pick_header_name(ngx_conf_t *cf, void *post, void *data)
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


/* Was the key of argument n (up to its "=") given by an argument before? */
static ngx_uint_t
ngx_micro_pick_pair_key_seen(ngx_conf_t *cf, ngx_uint_t n, size_t len)
{
    ngx_uint_t   i;
    ngx_str_t   *value = cf->args->elts;

    for (i = 1; i < n; i++) {
        if (ngx_strlen(value[i].data) == len
            && ngx_strncmp(value[i].data, value[n].data, len) == 0)
        {
            return 1;
        }
    }
    return 0;
}


/*
 * key=value ...: micro_api_filter ("version" or a node metadata label)
 * as the selection's labels, and micro_selector_weights (a version and
 * its weight, an integer) as its weights.
 */
char *
ngx_micro_pick_pairs(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    u_char          *eq;
    ngx_int_t        w;
    ngx_str_t       *value;
    ngx_uint_t       i, weight;
    ngx_array_t    **pairs;
    micro_pair_t    *label;
    micro_weight_t  *version;

    weight = ngx_strcmp(cmd->post, "weight") == 0;
    pairs = (ngx_array_t **) (p + cmd->offset);
    if (*pairs != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    if (weight && cf->args->nelts > 17) {
        return "takes 16 versions at most";
    }
    *pairs = ngx_array_create(cf->pool, cf->args->nelts - 1,
                              weight ? sizeof(micro_weight_t)
                                     : sizeof(micro_pair_t));
    if (*pairs == NULL) {
        return NGX_CONF_ERROR;
    }
    value = cf->args->elts;
    for (i = 1; i < cf->args->nelts; i++) {
        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
        w = (eq && weight) ? ngx_atoi(eq + 1, value[i].data + value[i].len
                                              - (eq + 1))
                           : 0;
        if (eq == NULL || eq == value[i].data || w == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %s \"%V\": "
                               "expected %s", cmd->post, &value[i],
                               weight ? "version=weight" : "key=value");
            return NGX_CONF_ERROR;
        }
        if (ngx_micro_pick_pair_key_seen(cf, i, eq - value[i].data)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "duplicate %s \"%*s\" "
                               "in \"%V\"", weight ? "version" : "key",
                               eq - value[i].data, value[i].data, &value[i]);
            return NGX_CONF_ERROR;
        }

        /* the arguments are NUL-terminated; so is the key from now on */
        *eq = '\0';
        if (weight) {
            version = ngx_array_push(*pairs);
            if (version == NULL) {
                return NGX_CONF_ERROR;
            }
            version->version = (char *) value[i].data;
            version->weight = (unsigned) w;
        } else {
            label = ngx_array_push(*pairs);
            if (label == NULL) {
                return NGX_CONF_ERROR;
            }
            label->key = (char *) value[i].data;
            label->value = (char *) eq + 1;
        }
    }
    return NGX_CONF_OK;
}


void *
ngx_micro_pick_create_loc_conf(ngx_conf_t *cf)
{
    ngx_micro_core_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_micro_core_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->label_header = { 0, NULL };
     */

    conf->selector = NGX_CONF_UNSET_UINT;
    conf->filter = NGX_CONF_UNSET_PTR;
    conf->weights = NGX_CONF_UNSET_PTR;
    return conf;
}


char *
ngx_micro_pick_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_micro_core_loc_conf_t  *prev = parent;
    ngx_micro_core_loc_conf_t  *conf = child;

    ngx_conf_merge_uint_value(conf->selector, prev->selector,
                              MICRO_STRATEGY_RANDOM);
    ngx_conf_merge_ptr_value(conf->filter, prev->filter, NULL);
    ngx_conf_merge_ptr_value(conf->weights, prev->weights, NULL);
    ngx_conf_merge_str_value(conf->label_header, prev->label_header, "");
    return NGX_CONF_OK;
}
