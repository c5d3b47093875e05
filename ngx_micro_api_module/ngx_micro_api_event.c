/*
 * micro_api handler=event: go-micro's event handler. POST /{topic}/{event}
 * (below the location's prefix, if it has one) publishes a go.api.Event (name, id, timestamp, the request's headers,
 * the body as data) to the topic joined to the location's namespace
 * (go.micro.evt by default), in the broker's format (README, "Broker
 * format"), from the worker on its Redis connection: the answer waits
 * for Redis to have stored it. 200 {"id": ...}; Redis down or silent past
 * micro_read_timeout: 503, and nothing may be counted on as stored.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/broker.h>
#include <micro/service.h>

#include "ngx_micro_api.h"
#include "ngx_micro_api_goapi.h"
#include "ngx_micro_error.h"
#include "ngx_micro_registry.h"

/* libmicro's defaults, as XADD's argument */
#define NGX_MICRO_STR(x)           NGX_MICRO_STR_(x)
#define NGX_MICRO_STR_(x)          #x
#define NGX_MICRO_EVENT_RETENTION  NGX_MICRO_STR(MICRO_BROKER_RETENTION)


/*
 * A publish in flight. It outlives its request when the client goes or
 * the timeout answers first: Redis's reply frees it then.
 */
typedef struct {
    ngx_http_request_t        *request;     /* NULL once it is gone */
    ngx_event_t                timer;
    ngx_str_t                  id;
    unsigned                   answered:1;  /* Redis replied */
} ngx_micro_api_publish_t;


/*
 * go-micro's evRoute: /foo/bar/baz -> topic NS.foo, event bar.baz; a
 * version first (/v1/foo/bar) belongs to the topic: NS.v1.foo, foo.bar.
 */
static ngx_int_t
ngx_micro_api_event_route(ngx_http_request_t *r, ngx_str_t *ns,
    ngx_str_t *prefix, ngx_str_t *topic, ngx_str_t *name)
{
    u_char      *p, *end, *seg, *t, *n;
    ngx_str_t    path, segs[16];
    ngx_uint_t   i, nseg, first;

    path = ngx_micro_below_prefix(&r->uri, prefix);
    p = path.data;
    end = p + path.len;
    for (nseg = 0; p < end; ) {
        while (p < end && *p == '/') {
            p++;
        }
        seg = p;
        while (p < end && *p != '/') {
            p++;
        }
        if (p > seg) {
            if (nseg == 16) {
                return NGX_DECLINED;
            }
            segs[nseg].data = seg;
            segs[nseg++].len = p - seg;
        }
    }
    first = nseg > 2 && segs[0].len > 1 && segs[0].data[0] == 'v'
            && segs[0].data[1] >= '0' && segs[0].data[1] <= '9';
    if (nseg < 2 + first) {
        return NGX_DECLINED;
    }

    t = ngx_pnalloc(r->pool, ns->len + r->uri.len + 3);
    n = ngx_pnalloc(r->pool, r->uri.len + 1);
    if (t == NULL || n == NULL) {
        return NGX_ERROR;
    }
    topic->data = t;
    t = ngx_cpymem(t, ns->data, ns->len);
    for (i = 0; i <= first; i++) {
        *t++ = '.';
        t = ngx_cpymem(t, segs[i].data, segs[i].len);
    }
    *t = '\0';
    topic->len = t - topic->data;

    name->data = n;
    for (i = 1; i < nseg; i++) {
        if (n > name->data) {
            *n++ = '.';
        }
        n = ngx_cpymem(n, segs[i].data, segs[i].len);
    }
    *n = '\0';
    name->len = n - name->data;
    return micro_name_valid((char *) topic->data)
           && micro_name_valid((char *) name->data) ? NGX_OK : NGX_DECLINED;
}


static void
ngx_micro_api_publish_cleanup(void *data)
{
    ngx_micro_api_publish_t  *pub = data;

    if (pub->timer.timer_set) {
        ngx_del_timer(&pub->timer);
    }
    if (pub->answered) {
        ngx_free(pub);
    } else {
        pub->request = NULL;        /* the reply frees it */
    }
}


static void
ngx_micro_api_publish_done(ngx_micro_api_publish_t *pub, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r = pub->request;

    c = r->connection;
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_micro_api_publish_timeout(ngx_event_t *ev)
{
    ngx_micro_api_publish_t  *pub = ev->data;

    ngx_log_error(NGX_LOG_ERR, pub->request->connection->log, 0,
                  "micro: event %V: redis did not answer in time", &pub->id);
    ngx_micro_api_publish_done(pub, ngx_micro_error_send(pub->request,
        NGX_MICRO_API_ID, NGX_HTTP_SERVICE_UNAVAILABLE,
        "the event may not have been stored: redis did not answer in "
        "time"));
}


static void
ngx_micro_api_publish_reply(redisAsyncContext *ac, void *data, void *arg)
{
    u_char                   *p, *json;
    ngx_buf_t                *b;
    redisReply               *reply = data;
    ngx_http_request_t       *r;
    ngx_micro_api_publish_t  *pub = arg;

    (void) ac;
    pub->answered = 1;
    r = pub->request;
    if (r == NULL) {
        ngx_free(pub);               /* answered already, or gone */
        return;
    }
    if (pub->timer.timer_set) {
        ngx_del_timer(&pub->timer);
    }
    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "micro: event %V "
                      "not stored: %s", &pub->id, reply == NULL
                      ? "the connection to redis was lost"
                      : reply->type == REDIS_REPLY_ERROR ? reply->str
                      : "unexpected reply");
        ngx_micro_api_publish_done(pub, ngx_micro_error_send(r,
            NGX_MICRO_API_ID, NGX_HTTP_SERVICE_UNAVAILABLE, reply == NULL
            ? "the event may not have been stored: the connection to "
              "redis was lost"
            : "the event was not stored"));
        return;
    }
    json = ngx_pnalloc(r->pool, pub->id.len + 9);
    if (json == NULL) {
        ngx_micro_api_publish_done(pub, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    p = ngx_sprintf(json, "{\"id\":\"%V\"}", &pub->id);
    b = ngx_micro_json_buf(r, json, p - json);
    ngx_micro_api_publish_done(pub, b ? ngx_micro_json_send(r, NGX_HTTP_OK, b)
                                      : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* The event as a stream entry of its topic, sent; NGX_DONE while Redis
 * has it, or a status. */
static ngx_int_t
ngx_micro_api_publish(ngx_http_request_t *r, ngx_str_t *topic,
    ngx_str_t *name)
{
    u_char                     *p;
    char                        uuid[37];
    size_t                      lens[10];
    ngx_str_t                   body, event, key, header;
    const char                 *argv[10];
    ngx_uint_t                  i;
    ngx_pool_cleanup_t         *cln;
    ngx_micro_api_publish_t    *pub;
    ngx_micro_api_loc_conf_t   *alcf;
    ngx_micro_core_main_conf_t *cmcf;
    const char                 *prefix;

    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    cmcf = ngx_micro_core_request_conf(r);
    if (ngx_micro_api_read_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* go-micro's id: topic-event-uuid; the message's Micro-Id too */
    micro_message_id(uuid);
    pub = ngx_calloc(sizeof(ngx_micro_api_publish_t), r->connection->log);
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (pub == NULL || cln == NULL) {
        ngx_free(pub);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    pub->id.data = ngx_pnalloc(r->pool, topic->len + name->len + 40);
    if (pub->id.data == NULL) {
        ngx_free(pub);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    pub->id.len = ngx_sprintf(pub->id.data, "%V-%V-%s", topic, name, uuid)
                  - pub->id.data;
    cln->handler = ngx_micro_api_publish_cleanup;
    cln->data = pub;
    pub->request = r;
    pub->answered = 1;               /* the cleanup frees it, until sent */

    if (ngx_micro_api_goapi_event(r, name, &pub->id, ngx_time(), &body,
                                  &event) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (event.len > MICRO_BROKER_MAX_MESSAGE) {
        return ngx_micro_error_send(r, NGX_MICRO_API_ID,
                                    NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "the event is over the broker's limit");
    }

    prefix = ngx_micro_registry_prefix(cmcf->registry);
    key.len = ngx_strlen(prefix) + sizeof("topic:") - 1 + topic->len;
    header.len = pub->id.len + topic->len + 100;
    key.data = ngx_pnalloc(r->pool, key.len);
    header.data = ngx_pnalloc(r->pool, header.len);
    if (key.data == NULL || header.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    p = ngx_sprintf(key.data, "%stopic:%V", prefix, topic);
    key.len = p - key.data;
    /* the names are checked: none needs JSON escaping */
    p = ngx_sprintf(header.data, "{\"" MICRO_BROKER_HEADER_ID "\":\"%V\",\""
                    MICRO_BROKER_HEADER_TOPIC "\":\"%V\",\"Content-Type\":"
                    "\"application/protobuf\"}", &pub->id, topic);
    header.len = p - header.data;

    argv[0] = "XADD";
    argv[1] = (char *) key.data;
    lens[1] = key.len;
    argv[2] = "MAXLEN";
    argv[3] = "~";
    argv[4] = NGX_MICRO_EVENT_RETENTION;
    argv[5] = "*";
    argv[6] = "header";
    argv[7] = (char *) header.data;
    lens[7] = header.len;
    argv[8] = "body";
    argv[9] = (char *) event.data;
    lens[9] = event.len;
    for (i = 0; i < 10; i++) {
        if (i != 1 && i != 7 && i != 9) {
            lens[i] = ngx_strlen(argv[i]);
        }
    }
    if (ngx_micro_registry_command(cmcf->registry,
                                   ngx_micro_api_publish_reply, pub, 10,
                                   argv, lens) != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "micro: event %V "
                      "not stored: redis is not connected", &pub->id);
        return ngx_micro_error_send(r, NGX_MICRO_API_ID,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    "the event was not stored: redis is "
                                    "not connected");
    }
    pub->answered = 0;
    pub->timer.handler = ngx_micro_api_publish_timeout;
    pub->timer.data = pub;
    pub->timer.log = r->connection->log;
    ngx_add_timer(&pub->timer, alcf->upstream.read_timeout);
    return NGX_DONE;
}


static void
ngx_micro_api_event_body(ngx_http_request_t *r)
{
    ngx_int_t            rc;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    rc = ngx_micro_api_publish(r, &ctx->service, &ctx->endpoint);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


ngx_int_t
ngx_micro_api_event_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_micro_api_ctx_t       *ctx;
    ngx_micro_api_loc_conf_t  *alcf;

    if (r->method != NGX_HTTP_POST) {
        return ngx_micro_error_send(r, NGX_MICRO_API_ID, NGX_HTTP_NOT_ALLOWED,
                                    "events are published with POST");
    }
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_http_set_ctx(r, ctx, ngx_micro_api_module);
    /* the topic and event stand where a service and endpoint would */
    rc = ngx_micro_api_event_route(r, &alcf->namespace, &alcf->prefix,
                                   &ctx->service, &ctx->endpoint);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc != NGX_OK) {
        return ngx_micro_error_send(r, NGX_MICRO_API_ID, NGX_HTTP_BAD_REQUEST,
                                    "expected POST /TOPIC/EVENT, names of "
                                    "letters, digits, '.', '-' and '_'");
    }
    ctx->resolved = 1;              /* $micro_service: the topic */
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_micro_api_event_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return NGX_DONE;
}
