/*
 * The gateway's counters in shared memory (ngx_micro_metrics.h). A series
 * is a (service, endpoint, node) with its counts by status code and its
 * latency histogram, found by the hash of its labels in a red-black tree
 * of the zone's slab pool, under the pool's mutex: one lookup and a few
 * additions a request, in the log phase.
 *
 * Cardinality is bounded by what the registry knows: a request that
 * reached no node is not counted per service, and an endpoint the
 * service's registry entry does not list is counted under endpoint=""
 * unless its call succeeded, so a client sending random paths adds no
 * series. A full zone adds no more series (said once in the log); the
 * series it holds go on counting.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <micro/transcode.h>

#include "ngx_micro_metrics.h"
#include "ngx_micro_balancer.h"
#include "ngx_micro_registry.h"


#define NGX_MICRO_METRICS_CODES    8     /* status codes kept a series */
#define NGX_MICRO_METRICS_BUCKETS  12


/* the histogram's upper bounds, in ms (Prometheus' default buckets) */
static const ngx_msec_t  ngx_micro_metrics_bounds[NGX_MICRO_METRICS_BUCKETS]
    = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
        NGX_MAX_UINT32_VALUE };

static const char  *ngx_micro_metrics_le[NGX_MICRO_METRICS_BUCKETS] = {
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
    "10", "+Inf"
};


typedef struct {
    ngx_rbtree_node_t          node;         /* key: the labels' hash */
    ngx_queue_t                queue;        /* in the order added */
    ngx_uint_t                 codes[NGX_MICRO_METRICS_CODES];
    uint64_t                   counts[NGX_MICRO_METRICS_CODES];
    uint64_t                   buckets[NGX_MICRO_METRICS_BUCKETS];
    uint64_t                   sum_ms;
    uint64_t                   count;
    u_short                    service_len;
    u_short                    endpoint_len;
    u_short                    node_len;
    u_char                     labels[1];    /* service endpoint node */
} ngx_micro_series_t;


typedef struct {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                queue;
    ngx_uint_t                 series;
    ngx_uint_t                 full;         /* said so in the log */
} ngx_micro_metrics_sh_t;


typedef struct {
    ngx_micro_metrics_sh_t    *sh;
    ngx_slab_pool_t           *shpool;
} ngx_micro_metrics_zone_t;


static ngx_int_t
ngx_micro_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_micro_metrics_zone_t  *old = data;
    ngx_micro_metrics_zone_t  *z = shm_zone->data;

    /* a reload: the counters go on */
    if (old) {
        z->sh = old->sh;
        z->shpool = old->shpool;
        return NGX_OK;
    }

    z->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    if (shm_zone->shm.exists) {
        z->sh = z->shpool->data;
        return NGX_OK;
    }

    z->sh = ngx_slab_alloc(z->shpool, sizeof(ngx_micro_metrics_sh_t));
    if (z->sh == NULL) {
        return NGX_ERROR;
    }
    z->shpool->data = z->sh;
    ngx_rbtree_init(&z->sh->rbtree, &z->sh->sentinel,
                    ngx_rbtree_insert_value);
    ngx_queue_init(&z->sh->queue);
    z->shpool->log_nomem = 0;              /* "full" is said once, here */
    return NGX_OK;
}


char *
ngx_micro_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_micro_core_main_conf_t  *cmcf = conf;

    ssize_t                    size;
    ngx_str_t                 *value;
    ngx_micro_metrics_zone_t  *z;

    if (cmcf->stats) {
        return "is duplicate";
    }
    value = cf->args->elts;
    size = ngx_parse_size(&value[2]);
    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid zone size \"%V\": "
                           "%uz at least", &value[2], 8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }
    z = ngx_pcalloc(cf->pool, sizeof(ngx_micro_metrics_zone_t));
    if (z == NULL) {
        return NGX_CONF_ERROR;
    }
    cmcf->stats = ngx_shared_memory_add(cf, &value[1], size,
                                        &ngx_micro_core_module);
    if (cmcf->stats == NULL) {
        return NGX_CONF_ERROR;
    }
    if (cmcf->stats->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "zone \"%V\" is already "
                           "used", &value[1]);
        return NGX_CONF_ERROR;
    }
    cmcf->stats->init = ngx_micro_metrics_init_zone;
    cmcf->stats->data = z;
    return NGX_CONF_OK;
}


/* Does the service's registry entry list the endpoint? */
static ngx_uint_t
ngx_micro_metrics_known(ngx_micro_core_main_conf_t *cmcf, ngx_str_t *service,
    ngx_str_t *endpoint)
{
    size_t                           i, j;
    const micro_service_t           *e;
    const micro_snapshot_service_t  *svc;

    svc = micro_snapshot_get(ngx_micro_registry_snapshot(cmcf->registry),
                             (char *) service->data);
    for (i = 0; svc && i < svc->len; i++) {
        e = &svc->entries[i];
        for (j = 0; j < e->nendpoints; j++) {
            if (ngx_strlen(e->endpoints[j].name) == endpoint->len
                && ngx_strncmp(e->endpoints[j].name, endpoint->data,
                               endpoint->len) == 0)
            {
                return 1;
            }
        }
    }
    return 0;
}


static ngx_micro_series_t *
ngx_micro_metrics_lookup(ngx_micro_metrics_sh_t *sh, uint32_t hash,
    ngx_str_t *labels)
{
    ngx_int_t            rc;
    ngx_rbtree_node_t   *node, *sentinel;
    ngx_micro_series_t  *s;

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;
    while (node != sentinel) {
        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }
        s = (ngx_micro_series_t *) node;
        rc = (ngx_int_t) labels[0].len - s->service_len;
        rc = rc ? rc : (ngx_int_t) labels[1].len - s->endpoint_len;
        rc = rc ? rc : (ngx_int_t) labels[2].len - s->node_len;
        if (rc == 0) {
            rc = ngx_memcmp(labels[0].data, s->labels, labels[0].len);
        }
        if (rc == 0) {
            rc = ngx_memcmp(labels[1].data, s->labels + s->service_len,
                            labels[1].len);
        }
        if (rc == 0) {
            rc = ngx_memcmp(labels[2].data,
                            s->labels + s->service_len + s->endpoint_len,
                            labels[2].len);
        }
        if (rc == 0) {
            return s;
        }
        node = (rc < 0) ? node->left : node->right;
    }
    return NULL;
}


static ngx_micro_series_t *
ngx_micro_metrics_add(ngx_micro_metrics_zone_t *z, uint32_t hash,
    ngx_str_t *labels, ngx_log_t *log)
{
    u_char              *p;
    size_t               len;
    ngx_micro_series_t  *s;

    len = labels[0].len + labels[1].len + labels[2].len;
    s = ngx_slab_calloc_locked(z->shpool,
                               offsetof(ngx_micro_series_t, labels) + len);
    if (s == NULL) {
        if (!z->sh->full) {
            z->sh->full = 1;
            ngx_log_error(NGX_LOG_WARN, log, 0, "micro: stats zone is full "
                          "at %ui series: no more are added, those there "
                          "go on counting", z->sh->series);
        }
        return NULL;
    }
    s->node.key = hash;
    s->service_len = (u_short) labels[0].len;
    s->endpoint_len = (u_short) labels[1].len;
    s->node_len = (u_short) labels[2].len;
    p = ngx_cpymem(s->labels, labels[0].data, labels[0].len);
    p = ngx_cpymem(p, labels[1].data, labels[1].len);
    ngx_memcpy(p, labels[2].data, labels[2].len);
    ngx_rbtree_insert(&z->sh->rbtree, &s->node);
    ngx_queue_insert_tail(&z->sh->queue, &s->queue);
    z->sh->series++;
    return s;
}


static void
ngx_micro_metrics_count(ngx_micro_series_t *s, ngx_uint_t status,
    ngx_msec_t ms)
{
    ngx_uint_t  i;

    /* a code not seen before takes a free slot; the last one takes the
     * rest (code 0: "other") */
    for (i = 0; i < NGX_MICRO_METRICS_CODES - 1; i++) {
        if (s->codes[i] == status || s->codes[i] == 0) {
            break;
        }
    }
    if (s->codes[i] == 0 && i < NGX_MICRO_METRICS_CODES - 1) {
        s->codes[i] = status;
    }
    s->counts[i]++;
    for (i = 0; ms > ngx_micro_metrics_bounds[i]; i++) { /* void */ }
    s->buckets[i]++;
    s->sum_ms += ms;
    s->count++;
}


static ngx_int_t
ngx_micro_metrics_log(ngx_http_request_t *r)
{
    uint32_t                     hash;
    ngx_str_t                    labels[3];
    ngx_uint_t                   status;
    ngx_msec_t                   ms;
    ngx_time_t                  *tp;
    ngx_micro_peer_t            *peer;
    ngx_micro_series_t          *s;
    ngx_micro_metrics_zone_t    *z;
    ngx_micro_core_main_conf_t  *cmcf;

    peer = ngx_http_get_module_ctx(r, ngx_micro_core_module);
    if (peer == NULL || peer->node.len == 0) {
        return NGX_OK;                   /* reached no node */
    }
    cmcf = ngx_micro_core_request_conf(r);
    z = cmcf->stats->data;

    status = r->err_status ? r->err_status : r->headers_out.status;
    if (status == 0) {
        status = NGX_HTTP_CLIENT_CLOSED_REQUEST;   /* gone before a reply */
    }
    tp = ngx_timeofday();
    ms = (ngx_msec_t) ((tp->sec - r->start_sec) * 1000
                       + (tp->msec - r->start_msec));

    labels[0] = peer->service;
    labels[1] = peer->endpoint;
    labels[2] = peer->node;
    if (labels[1].len && (status < 200 || status >= 400)
        && !ngx_micro_metrics_known(cmcf, &labels[0], &labels[1]))
    {
        ngx_str_null(&labels[1]);
    }

    ngx_crc32_init(hash);
    ngx_crc32_update(&hash, labels[0].data, labels[0].len);
    ngx_crc32_update(&hash, (u_char *) "\0", 1);
    ngx_crc32_update(&hash, labels[1].data, labels[1].len);
    ngx_crc32_update(&hash, (u_char *) "\0", 1);
    ngx_crc32_update(&hash, labels[2].data, labels[2].len);
    ngx_crc32_final(hash);

    ngx_shmtx_lock(&z->shpool->mutex);
    s = ngx_micro_metrics_lookup(z->sh, hash, labels);
    if (s == NULL) {
        s = ngx_micro_metrics_add(z, hash, labels, r->connection->log);
    }
    if (s) {
        ngx_micro_metrics_count(s, status, ms);
    }
    ngx_shmtx_unlock(&z->shpool->mutex);
    return NGX_OK;
}


ngx_int_t
ngx_micro_metrics_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *hmcf;

    if (ngx_micro_core_conf(cf)->stats == NULL) {
        return NGX_OK;
    }
    hmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    h = ngx_array_push(&hmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_micro_metrics_log;
    return NGX_OK;
}


/* --- the endpoint ---------------------------------------------------------- */


/* fmt as ngx_sprintf() takes it, appended to out; -1 without memory. */
static int
ngx_micro_metrics_printf(micro_buf_t *out, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    if (out->cap - out->len < 1024 && micro_buf_reserve(out, 1024) != 0) {
        return -1;
    }
    va_start(args, fmt);
    p = ngx_vslprintf(out->data + out->len, out->data + out->cap,
                      fmt, args);
    va_end(args);
    out->len = p - out->data;
    return 0;
}


/* A label value as Prometheus reads it: \, " and newlines escaped. */
static int
ngx_micro_metrics_label(micro_buf_t *out, u_char *p, size_t len)
{
    u_char  *end = p + len;

    if (micro_buf_reserve(out, 2 * len) != 0) {
        return -1;
    }
    for ( /* void */ ; p < end; p++) {
        if (*p == '\\' || *p == '"' || *p == '\n') {
            out->data[out->len++] = '\\';
        }
        out->data[out->len++] = (*p == '\n') ? 'n' : *p;
    }
    return 0;
}


/* {service="..",endpoint="..",node=".." with no closing brace */
static int
ngx_micro_metrics_labels(micro_buf_t *out, const char *name,
    ngx_micro_series_t *s)
{
    u_char  *p = s->labels;

    return (ngx_micro_metrics_printf(out, "%s{service=\"", name) != 0
            || ngx_micro_metrics_label(out, p, s->service_len) != 0
            || ngx_micro_metrics_printf(out, "\",endpoint=\"") != 0
            || ngx_micro_metrics_label(out, p + s->service_len,
                                       s->endpoint_len) != 0
            || ngx_micro_metrics_printf(out, "\",node=\"") != 0
            || ngx_micro_metrics_label(out, p + s->service_len
                                            + s->endpoint_len,
                                       s->node_len) != 0
            || ngx_micro_metrics_printf(out, "\"") != 0) ? -1 : 0;
}


static int
ngx_micro_metrics_requests(micro_buf_t *out, ngx_micro_series_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_MICRO_METRICS_CODES; i++) {
        if (s->counts[i] == 0) {
            continue;
        }
        if (ngx_micro_metrics_labels(out, "micro_requests_total", s) != 0
            || (s->codes[i]
                ? ngx_micro_metrics_printf(out, ",code=\"%ui\"} %uL\n",
                                           s->codes[i], s->counts[i])
                : ngx_micro_metrics_printf(out, ",code=\"other\"} %uL\n",
                                           s->counts[i])) != 0)
        {
            return -1;
        }
    }
    return 0;
}


static int
ngx_micro_metrics_histogram(micro_buf_t *out, ngx_micro_series_t *s)
{
    ngx_uint_t  i;
    uint64_t    sum = 0;

    for (i = 0; i < NGX_MICRO_METRICS_BUCKETS; i++) {
        sum += s->buckets[i];
        if (ngx_micro_metrics_labels(out,
                "micro_request_duration_seconds_bucket", s) != 0
            || ngx_micro_metrics_printf(out, ",le=\"%s\"} %uL\n",
                                        ngx_micro_metrics_le[i], sum) != 0)
        {
            return -1;
        }
    }
    return (ngx_micro_metrics_labels(out,
                "micro_request_duration_seconds_sum", s) != 0
            || ngx_micro_metrics_printf(out, "} %uL.%03uL\n",
                                        s->sum_ms / 1000, s->sum_ms % 1000)
               != 0
            || ngx_micro_metrics_labels(out,
                   "micro_request_duration_seconds_count", s) != 0
            || ngx_micro_metrics_printf(out, "} %uL\n", s->count) != 0)
           ? -1 : 0;
}


typedef struct {
    micro_nodes_t  *nodes;
    ngx_uint_t      services;
    ngx_uint_t      entries;
    ngx_uint_t      aside;
} ngx_micro_metrics_registry_t;


static int
ngx_micro_metrics_registry_count(const char *name,
    const micro_snapshot_service_t *svc, void *data)
{
    size_t                         i;
    ngx_micro_metrics_registry_t  *reg = data;

    reg->services++;
    reg->entries += svc->len;
    for (i = 0; i < svc->len; i++) {
        reg->aside += micro_nodes_aside(reg->nodes,
                                        svc->entries[i].nodes[0].address)
                      ? 1 : 0;
    }
    return 0;
}


/* The series copied out of the zone, to be written without its lock. */
static ngx_array_t *
ngx_micro_metrics_copy(ngx_http_request_t *r, ngx_micro_metrics_zone_t *z,
    ngx_uint_t *full)
{
    size_t               len;
    ngx_queue_t         *q;
    ngx_array_t         *a;
    ngx_micro_series_t  *s, **copy;

    ngx_shmtx_lock(&z->shpool->mutex);
    *full = z->sh->full;
    a = ngx_array_create(r->pool, z->sh->series + 1,
                         sizeof(ngx_micro_series_t *));
    for (q = ngx_queue_head(&z->sh->queue);
         a && q != ngx_queue_sentinel(&z->sh->queue);
         q = ngx_queue_next(q))
    {
        s = ngx_queue_data(q, ngx_micro_series_t, queue);
        len = offsetof(ngx_micro_series_t, labels) + s->service_len
              + s->endpoint_len + s->node_len;
        copy = ngx_array_push(a);
        *copy = ngx_pnalloc(r->pool, len);
        if (*copy == NULL) {
            a = NULL;
            break;
        }
        ngx_memcpy(*copy, s, len);
    }
    ngx_shmtx_unlock(&z->shpool->mutex);
    return a;
}


static int
ngx_micro_metrics_text(ngx_http_request_t *r, micro_buf_t *out)
{
    ngx_uint_t                     i, full;
    ngx_array_t                   *series;
    ngx_micro_series_t           **s;
    ngx_micro_registry_stats_t     st;
    ngx_micro_metrics_registry_t   reg = { 0 };
    ngx_micro_core_main_conf_t    *cmcf;

    cmcf = ngx_micro_core_request_conf(r);
    series = ngx_micro_metrics_copy(r, cmcf->stats->data, &full);
    if (series == NULL) {
        return -1;
    }

    /* a family's samples together, after its HELP and TYPE */
    s = series->elts;
    if (ngx_micro_metrics_printf(out,
            "# HELP micro_requests_total Requests that reached a node, by "
            "service, endpoint, node and status code.\n"
            "# TYPE micro_requests_total counter\n") != 0)
    {
        return -1;
    }
    for (i = 0; i < series->nelts; i++) {
        if (ngx_micro_metrics_requests(out, s[i]) != 0) {
            return -1;
        }
    }
    if (ngx_micro_metrics_printf(out,
            "# HELP micro_request_duration_seconds Time from the request's "
            "first byte to its log line.\n"
            "# TYPE micro_request_duration_seconds histogram\n") != 0)
    {
        return -1;
    }
    for (i = 0; i < series->nelts; i++) {
        if (ngx_micro_metrics_histogram(out, s[i]) != 0) {
            return -1;
        }
    }

    reg.nodes = cmcf->nodes;
    ngx_micro_registry_stats(cmcf->registry, &st);
    (void) micro_snapshot_foreach(ngx_micro_registry_snapshot(cmcf->registry),
                                  ngx_micro_metrics_registry_count, &reg);

    return ngx_micro_metrics_printf(out,
        "# HELP micro_registry_connected Whether the answering worker is "
        "connected to the registry.\n"
        "# TYPE micro_registry_connected gauge\n"
        "micro_registry_connected %ui\n"
        "# HELP micro_registry_loads_total Full registry loads by the "
        "answering worker.\n"
        "# TYPE micro_registry_loads_total counter\n"
        "micro_registry_loads_total %ui\n"
        "# HELP micro_registry_services Services in the answering worker's "
        "registry snapshot.\n"
        "# TYPE micro_registry_services gauge\n"
        "micro_registry_services %ui\n"
        "# HELP micro_registry_nodes Nodes in the answering worker's "
        "registry snapshot.\n"
        "# TYPE micro_registry_nodes gauge\n"
        "micro_registry_nodes %ui\n"
        "# HELP micro_nodes_aside Nodes the answering worker has put "
        "aside after failures.\n"
        "# TYPE micro_nodes_aside gauge\n"
        "micro_nodes_aside %ui\n"
        "# HELP micro_stats_series Series in the stats zone.\n"
        "# TYPE micro_stats_series gauge\n"
        "micro_stats_series %ui\n"
        "# HELP micro_stats_zone_full Whether the stats zone has refused "
        "a new series.\n"
        "# TYPE micro_stats_zone_full gauge\n"
        "micro_stats_zone_full %ui\n",
        (ngx_uint_t) (st.connected ? 1 : 0), st.syncs, reg.services,
        reg.entries,
        reg.aside, series->nelts, full);
}


/* One series as JSON: labels, counts by code, count, sum, buckets. */
static json_t *
ngx_micro_metrics_series_json(ngx_micro_series_t *s)
{
    u_char      code[NGX_INT_T_LEN + 1];
    json_t     *o, *codes, *buckets;
    ngx_uint_t  i;

    o = json_object();
    codes = json_object();
    buckets = json_array();
    if (o == NULL || codes == NULL || buckets == NULL) {
        json_decref(o);
        json_decref(codes);
        json_decref(buckets);
        return NULL;
    }
    json_object_set_new(o, "service", json_stringn((char *) s->labels,
                                                   s->service_len));
    json_object_set_new(o, "endpoint",
                        json_stringn((char *) s->labels + s->service_len,
                                     s->endpoint_len));
    json_object_set_new(o, "node",
                        json_stringn((char *) s->labels + s->service_len
                                     + s->endpoint_len, s->node_len));
    for (i = 0; i < NGX_MICRO_METRICS_CODES; i++) {
        if (s->counts[i]) {
            if (s->codes[i]) {
                *ngx_sprintf(code, "%ui", s->codes[i]) = '\0';
            } else {
                ngx_cpystrn(code, (u_char *) "other", sizeof(code));
            }
            json_object_set_new(codes, (char *) code,
                                json_integer((json_int_t) s->counts[i]));
        }
    }
    for (i = 0; i < NGX_MICRO_METRICS_BUCKETS; i++) {
        json_array_append_new(buckets,
                              json_integer((json_int_t) s->buckets[i]));
    }
    json_object_set_new(o, "codes", codes);
    json_object_set_new(o, "count", json_integer((json_int_t) s->count));
    json_object_set_new(o, "sum", json_real((double) s->sum_ms / 1000));
    json_object_set_new(o, "buckets", buckets);
    return o;
}


int
ngx_micro_metrics_json(ngx_http_request_t *r, micro_buf_t *out)
{
    int                          rc;
    char                        *dump;
    json_t                      *root, *list, *bounds, *o;
    ngx_uint_t                   i, full;
    ngx_array_t                 *series;
    ngx_micro_series_t         **s;
    ngx_micro_core_main_conf_t  *cmcf;

    cmcf = ngx_micro_core_request_conf(r);
    if (cmcf->stats == NULL) {
        return micro_buf_append(out, "{\"enabled\":false}", 17);
    }
    series = ngx_micro_metrics_copy(r, cmcf->stats->data, &full);
    root = json_object();
    list = json_array();
    bounds = json_array();
    if (series == NULL || root == NULL || list == NULL || bounds == NULL) {
        json_decref(root);
        json_decref(list);
        json_decref(bounds);
        return -1;
    }
    s = series->elts;
    for (i = 0; i < series->nelts; i++) {
        o = ngx_micro_metrics_series_json(s[i]);
        if (o == NULL || json_array_append_new(list, o) != 0) {
            json_decref(root);
            json_decref(list);
            json_decref(bounds);
            return -1;
        }
    }
    for (i = 0; i + 1 < NGX_MICRO_METRICS_BUCKETS; i++) {
        json_array_append_new(bounds,
                              json_real((double) ngx_micro_metrics_bounds[i]
                                        / 1000));
    }
    json_object_set_new(root, "enabled", json_true());
    json_object_set_new(root, "full", json_boolean(full));
    json_object_set_new(root, "bounds", bounds);
    json_object_set_new(root, "series", list);
    dump = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    rc = dump ? micro_buf_append(out, dump, ngx_strlen(dump)) : -1;
    free(dump);
    return rc;
}


static ngx_int_t
ngx_micro_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    micro_buf_t   out = { 0 };

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }
    if ((ngx_micro_wants_json(r) ? ngx_micro_metrics_json(r, &out)
                                 : ngx_micro_metrics_text(r, &out)) != 0)
    {
        micro_buf_free(&out);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b = ngx_create_temp_buf(r->pool, out.len ? out.len : 1);
    if (b == NULL) {
        micro_buf_free(&out);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->last = ngx_cpymem(b->pos, out.data, out.len);
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;
    micro_buf_free(&out);
    return ngx_micro_send(r, NGX_HTTP_OK, ngx_micro_wants_json(r)
                                          ? "application/json"
                                          : "text/plain; version=0.0.4", b);
}


char *
ngx_micro_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (ngx_micro_core_conf(cf)->stats == NULL) {
        return "needs \"micro_stats_zone\" in the http block before it";
    }
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_micro_metrics_handler;
    return NGX_CONF_OK;
}
