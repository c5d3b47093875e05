/*
 * The RPC leg over gRPC, for nodes that speak it (their registry entry's
 * "protocols"): the call made a gRPC request on the node's shared HTTP/2
 * connection (ngx_micro_api_h2.c), the reply's message transcoded as the
 * micro transport's is, its status mapped to HTTP by grpc-gateway's table
 * and its metadata returned as Grpc-Metadata-* headers. A node that
 * cannot be reached, or refuses the stream, is failed over as
 * ngx_http_upstream would: through the core's balancer.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include <micro/error.h>
#include <micro/grpc.h>
#include <micro/rpc_error.h>
#include <micro/transcode.h>

#include "ngx_micro_api.h"
#include "ngx_micro_api_goapi.h"
#include "ngx_micro_api_grpc.h"
#include "ngx_micro_error.h"


static ngx_int_t ngx_micro_api_grpc_open(ngx_micro_api_grpc_t *g);
static void ngx_micro_api_grpc_arm(ngx_micro_api_grpc_t *g);
static void ngx_micro_api_grpc_finish(ngx_micro_api_grpc_t *g,
    ngx_int_t rc);
static ngx_int_t ngx_micro_api_grpc_fail(ngx_micro_api_grpc_t *g,
    ngx_uint_t status, const char *fmt, ...);
static void ngx_micro_api_grpc_late(ngx_micro_api_grpc_t *g);


/* grpc-gateway's HTTP status for each gRPC status (runtime/errors.go). */
static const ngx_uint_t  ngx_micro_api_grpc_http[17] = {
    200,    /* OK */
    499,    /* CANCELLED */
    500,    /* UNKNOWN */
    400,    /* INVALID_ARGUMENT */
    504,    /* DEADLINE_EXCEEDED */
    404,    /* NOT_FOUND */
    409,    /* ALREADY_EXISTS */
    403,    /* PERMISSION_DENIED */
    429,    /* RESOURCE_EXHAUSTED */
    400,    /* FAILED_PRECONDITION */
    409,    /* ABORTED */
    400,    /* OUT_OF_RANGE */
    501,    /* UNIMPLEMENTED */
    500,    /* INTERNAL */
    503,    /* UNAVAILABLE */
    500,    /* DATA_LOSS */
    401     /* UNAUTHENTICATED */
};


ngx_uint_t
ngx_micro_api_grpc_http_status(ngx_int_t status)
{
    return status >= 0 && status <= 16 ? ngx_micro_api_grpc_http[status]
                                       : 500;
}


static void
ngx_micro_api_grpc_nv(nghttp2_nv *nv, const char *name, ngx_str_t *value)
{
    nv->name = (uint8_t *) name;
    nv->namelen = ngx_strlen(name);
    nv->value = value->data;
    nv->valuelen = value->len;
    nv->flags = NGHTTP2_NV_FLAG_NONE;
}


typedef struct {
    ngx_http_request_t        *request;
    nghttp2_nv                *nv;           /* NULL: count only */
    size_t                     n;
} ngx_micro_api_grpc_md_t;


/* A client's header as the call's metadata, by the micro transport's
 * rules and the location's micro_api_metadata lists. */
static ngx_int_t
ngx_micro_api_grpc_metadata(ngx_table_elt_t *h, void *data)
{
    ngx_micro_api_grpc_md_t  *md = data;

    if (!ngx_micro_api_is_metadata(md->request, h)
        || micro_grpc_reserved_header((char *) h->lowcase_key, h->key.len))
    {
        return NGX_OK;
    }
    if (md->nv) {
        md->nv[md->n].name = h->lowcase_key;
        md->nv[md->n].namelen = h->key.len;
        md->nv[md->n].value = h->value.data;
        md->nv[md->n].valuelen = h->value.len;
        md->nv[md->n].flags = NGHTTP2_NV_FLAG_NONE;
    }
    md->n++;
    return NGX_OK;
}


/* The deadline: micro_read_timeout, the client's Timeout (go-micro's, in
 * seconds) or its grpc-timeout, whichever is shortest. */
static ngx_msec_t
ngx_micro_api_grpc_timeout(ngx_http_request_t *r, ngx_msec_t timeout)
{
    int64_t           ms;
    ngx_int_t         secs;
    ngx_table_elt_t  *h;

    h = ngx_micro_header_in(r, "Timeout");
    if (h) {
        secs = ngx_atoi(h->value.data, h->value.len);
        if (secs > 0 && (ngx_msec_t) secs * 1000 < timeout) {
            timeout = (ngx_msec_t) secs * 1000;
        }
    }
    h = ngx_micro_header_in(r, "grpc-timeout");
    if (h) {
        ms = micro_grpc_timeout_parse((char *) h->value.data, h->value.len);
        if (ms >= 0 && (ngx_msec_t) ms < timeout) {
            timeout = ms ? (ngx_msec_t) ms : 1;
        }
    }
    return timeout;
}


/* The request's headers, once: what each try sends (:authority aside). */
static ngx_int_t
ngx_micro_api_grpc_request(ngx_micro_api_grpc_t *g,
    ngx_http_upstream_conf_t *conf)
{
    u_char                    *p;
    size_t                     n;
    ngx_str_t                  path, v;
    ngx_http_request_t        *r = g->request;
    ngx_micro_api_call_t      *call = g->call;
    ngx_micro_api_grpc_md_t    md = { r, NULL, 0 };
    ngx_micro_core_main_conf_t *cmcf;
    const micro_pb_method_t   *m = NULL;
    char                       name[512];

    /* the path: the descriptor's, else go-micro's naming */
    cmcf = ngx_micro_core_request_conf(r);
    if (cmcf->pool) {
        n = ngx_min(call->endpoint.len, sizeof(name) - 1);
        ngx_memcpy(name, call->endpoint.data, n);
        name[n] = '\0';
        m = micro_pb_pool_rpc(cmcf->pool, name);
    }
    /* a stream's deadline is the client's alone; micro_read_timeout
     * bounds the wait for each of its messages */
    if (ngx_micro_api_grpc_ws_wanted(r)) {
        if (ngx_micro_api_grpc_ws_init(g, m) != NGX_OK) {
            return NGX_HTTP_BAD_REQUEST;
        }
    } else if (m) {
        ngx_micro_api_grpc_stream_init(g, m);
    }
    if (g->streaming) {
        g->timeout = ngx_micro_api_grpc_timeout(r, NGX_MAX_INT32_VALUE);
        g->timeout = g->timeout == NGX_MAX_INT32_VALUE ? 0 : g->timeout;
        g->idle = conf->read_timeout;
    } else {
        g->timeout = ngx_micro_api_grpc_timeout(r, conf->read_timeout);
    }

    if (m) {
        path.data = (u_char *) m->path;
        path.len = ngx_strlen(m->path);
    } else {
        n = ngx_min(call->endpoint.len, sizeof(name) - 1);
        ngx_memcpy(name, call->endpoint.data, n);
        name[n] = '\0';
        path.data = ngx_pnalloc(r->pool, 512);
        if (path.data == NULL) {
            return NGX_ERROR;
        }
        if (micro_grpc_path((char *) call->peer.service.data, name,
                            (char *) path.data, 512) != MICRO_OK)
        {
            return NGX_DECLINED;
        }
        path.len = ngx_strlen(path.data);
    }

    (void) ngx_micro_headers_each(r, ngx_micro_api_grpc_metadata, &md);
    g->nv = ngx_palloc(r->pool, (NGX_MICRO_GRPC_NV_FIXED + md.n)
                                * sizeof(nghttp2_nv));
    p = ngx_pnalloc(r->pool, NGX_INT64_LEN + 2);
    if (g->nv == NULL || p == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    ngx_str_set(&v, "POST");
    ngx_micro_api_grpc_nv(&g->nv[n++], ":method", &v);
    ngx_str_set(&v, "http");
    ngx_micro_api_grpc_nv(&g->nv[n++], ":scheme", &v);
    ngx_micro_api_grpc_nv(&g->nv[n++], ":path", &path);
    ngx_micro_api_grpc_nv(&g->nv[n++], ":authority", &call->peer.node);
    if (call->content_type.len == 16) {       /* application/json */
        ngx_str_set(&v, "application/grpc+json");
    } else {
        ngx_str_set(&v, "application/grpc");
    }
    ngx_micro_api_grpc_nv(&g->nv[n++], "content-type", &v);
    ngx_str_set(&v, "trailers");
    ngx_micro_api_grpc_nv(&g->nv[n++], "te", &v);
    ngx_str_set(&v, "nginx-micro");
    ngx_micro_api_grpc_nv(&g->nv[n++], "user-agent", &v);
    if (g->timeout) {
        micro_grpc_timeout_format((int64_t) g->timeout, (char *) p,
                                  NGX_INT64_LEN + 2);
        v.data = p;
        v.len = ngx_strlen(p);
        ngx_micro_api_grpc_nv(&g->nv[n++], "grpc-timeout", &v);
    }
    ngx_micro_api_grpc_nv(&g->nv[n++], "micro-id", &call->id);

    md.nv = g->nv + n;
    md.n = 0;
    (void) ngx_micro_headers_each(r, ngx_micro_api_grpc_metadata, &md);
    g->nnv = n + md.n;

    /* the message with its 5-byte prefix; a WebSocket's come as frames */
    if (g->ws) {
        return NGX_OK;
    }
    g->len = MICRO_GRPC_HEADER_LEN + call->body.len;
    g->body = ngx_pnalloc(r->pool, g->len);
    if (g->body == NULL) {
        return NGX_ERROR;
    }
    micro_grpc_prefix(g->body, call->body.len);
    ngx_memcpy(g->body + MICRO_GRPC_HEADER_LEN, call->body.data,
               call->body.len);
    return NGX_OK;
}


/* the stream's handler */

static ngx_int_t
ngx_micro_api_grpc_header(void *data, ngx_str_t *name, ngx_str_t *value,
    ngx_uint_t trailer)
{
    ngx_micro_api_grpc_t  *g = data;
    u_char                *p;
    ngx_str_t             *keep = NULL;
    ngx_table_elt_t       *h;
    ngx_http_request_t    *r = g->request;

    if (name->len == 7 && ngx_strncmp(name->data, ":status", 7) == 0) {
        g->http_status = ngx_atoi(value->data, value->len);
        return NGX_OK;
    }
    if (name->len == 11 && ngx_strncmp(name->data, "grpc-status", 11) == 0)
    {
        g->grpc_status = ngx_atoi(value->data, value->len);
        if (g->grpc_status == NGX_ERROR) {
            g->grpc_status = MICRO_GRPC_UNKNOWN;
        }
        return NGX_OK;
    }
    if (name->len == 12 && ngx_strncmp(name->data, "grpc-message", 12) == 0)
    {
        keep = &g->grpc_message;
    } else if (name->len == 11
               && ngx_strncmp(name->data, "micro-error", 11) == 0)
    {
        keep = &g->micro_error;
    }
    if (keep) {
        keep->data = ngx_pnalloc(r->pool, value->len + 1);
        if (keep->data == NULL) {
            return NGX_ERROR;
        }
        ngx_memcpy(keep->data, value->data, value->len);
        keep->data[value->len] = '\0';
        keep->len = value->len;
        return NGX_OK;
    }
    if (micro_grpc_reserved_header((char *) name->data, name->len)
        || (name->len == 4 && ngx_strncmp(name->data, "date", 4) == 0))
    {
        return NGX_OK;
    }

    /* metadata, headers and trailers alike: Grpc-Metadata-Name */
    h = ngx_list_push(&r->headers_out.headers);
    p = ngx_pnalloc(r->pool, sizeof("Grpc-Metadata-") - 1 + name->len
                             + value->len);
    if (h == NULL || p == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    h->key.data = p;
    h->key.len = sizeof("Grpc-Metadata-") - 1 + name->len;
    p = ngx_cpymem(p, "Grpc-Metadata-", sizeof("Grpc-Metadata-") - 1);
    p = ngx_cpymem(p, name->data, name->len);
    h->value.data = p;
    h->value.len = value->len;
    ngx_memcpy(p, value->data, value->len);
    (void) trailer;
    return NGX_OK;
}


/* The timer: the deadline, or for a stream the next message's wait if
 * that comes first. */
static void
ngx_micro_api_grpc_arm(ngx_micro_api_grpc_t *g)
{
    ngx_msec_t  left, wait;

    wait = g->idle;
    if (g->timeout) {
        left = g->timeout - ngx_min(g->timeout,
                                    ngx_current_msec - g->started);
        wait = wait ? ngx_min(wait, left) : left;
    }
    ngx_add_timer(&g->deadline, ngx_max(wait, 1));
}


static ngx_int_t
ngx_micro_api_grpc_data(void *data, u_char *p, size_t len)
{
    ngx_micro_api_grpc_t  *g = data;

    if (g->streaming) {
        ngx_micro_api_grpc_arm(g);
        return ngx_micro_api_grpc_stream_data(g, p, len);
    }
    ngx_micro_h2_consume(g->stream, len);
    if (g->reader.in.len + len
        > g->call->max_reply_size + MICRO_GRPC_HEADER_LEN)
    {
        g->too_large = 1;
        return NGX_ERROR;                /* resets the stream */
    }
    return micro_buf_append(&g->reader.in, p, len) == MICRO_OK ? NGX_OK
                                                                : NGX_ERROR;
}


/*
 * go-micro's error for a gRPC error: the service's own (its micro-error
 * trailer, or a grpc-message that is one, as go-micro's gRPC server sends
 * it) or one made of the message.
 */
void
ngx_micro_api_grpc_error_fields(ngx_micro_api_grpc_t *g, ngx_int_t status,
    micro_rpc_error_t *err)
{
    micro_buf_t           msg = { 0 };
    micro_rpc_error_t     e;
    ngx_uint_t            http;

    (void) micro_grpc_message_decode((char *) g->grpc_message.data,
                                     g->grpc_message.len, &msg);
    (void) micro_buf_append(&msg, "", 1);
    http = ngx_micro_api_grpc_http_status(status);

    e.code = 0;
    if (g->micro_error.len) {
        micro_rpc_error_parse(&e, (char *) g->micro_error.data,
                              g->micro_error.len);
    }
    if (e.code == 0 && msg.len > 1) {
        micro_rpc_error_parse(&e, (char *) msg.data, msg.len - 1);
    }
    if (e.code == 0) {
        micro_rpc_error_set(&e, (char *) g->call->peer.service.data,
                            (int) http, "%s", msg.len > 1
                                              ? (char *) msg.data
                                              : micro_grpc_status_name(
                                                    (int) status));
    }
    micro_buf_free(&msg);
    *err = e;
}


/* That error as the reply, with the gRPC code and status name beside. */
ngx_int_t
ngx_micro_api_grpc_error(ngx_micro_api_grpc_t *g, ngx_int_t status)
{
    char                 *dump;
    json_t               *doc;
    ngx_buf_t            *b;
    micro_rpc_error_t     e;
    ngx_http_request_t   *r = g->request;

    ngx_micro_api_grpc_error_fields(g, status, &e);
    doc = json_pack("{s:s,s:i,s:s,s:s,s:i,s:s}", "id", e.id, "code", e.code,
                    "detail", e.detail, "status", e.status, "grpc_code",
                    (int) status, "grpc_status",
                    micro_grpc_status_name((int) status));
    dump = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (dump == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b = ngx_micro_json_buf(r, dump, ngx_strlen(dump));
    free(dump);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "micro grpc: %V %V "
                  "at %V: %s (%i)", &g->call->peer.service,
                  &g->call->endpoint, &g->call->peer.node,
                  micro_grpc_status_name((int) status), status);
    return ngx_micro_json_send(r, ngx_micro_api_grpc_http_status(status), b);
}


/* The one message of a unary reply, made the client's reply. */
static ngx_int_t
ngx_micro_api_grpc_reply(ngx_micro_api_grpc_t *g)
{
    int                    rc;
    size_t                 len;
    ngx_str_t              body;
    ngx_buf_t             *b;
    micro_buf_t            json = { 0 };
    const uint8_t         *msg;
    ngx_http_request_t    *r = g->request;
    ngx_micro_api_call_t  *call = g->call;

    rc = micro_grpc_read(&g->reader, call->max_reply_size, &msg, &len);
    if (rc != 1) {
        return ngx_micro_api_grpc_fail(g, NGX_HTTP_BAD_GATEWAY,
                                       rc == -1 ? "the reply of %V %V is "
                                       "compressed" : "%V %V sent no reply "
                                       "message", &call->peer.service,
                                       &call->endpoint);
    }

    if (call->api_reply) {
        rc = ngx_micro_api_goapi_reply(r, (u_char *) msg, len, &body);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (rc == NGX_OK) {
            b = ngx_micro_json_buf(r, body.data, body.len);
            if (b == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            b->last--;                           /* no newline of JSON's */
            r->headers_out.content_length_n = b->last - b->pos;
            rc = ngx_http_send_header(r);
            if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
                return rc;
            }
            return ngx_http_output_filter(r, &(ngx_chain_t) { b, NULL });
        }
    } else if (call->response_type) {
        json.allocator = &call->allocator;
        if (micro_pb_to_json(call->response_type, msg, len,
                             &call->transcode, &json) == MICRO_OK)
        {
            b = ngx_micro_json_buf(r, json.data, json.len);
            return b ? ngx_micro_json_send(r, NGX_HTTP_OK, b)
                     : NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro grpc: reply of %V %V is not a %s: %s",
                      &call->peer.service, &call->endpoint,
                      call->response_type->full_name, micro_error_detail());
    } else {
        /* passed through as it came: JSON, or protobuf asked for */
        b = ngx_micro_json_buf(r, msg, len);
        if (b == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (call->content_type.len == 16) {
            return ngx_micro_json_send(r, NGX_HTTP_OK, b);
        }
        b->last--;
        return ngx_micro_send(r, NGX_HTTP_OK, "application/protobuf", b);
    }
    return ngx_micro_api_grpc_fail(g, NGX_HTTP_BAD_GATEWAY,
                                   "the service sent a reply that does not "
                                   "parse");
}


static void
ngx_micro_api_grpc_end(void *data, ngx_micro_h2_end_t how,
    uint32_t error_code)
{
    ngx_micro_api_grpc_t  *g = data;
    ngx_int_t              status;
    ngx_micro_peer_t      *p = &g->call->peer;
    ngx_http_request_t    *r = g->request;

    g->stream = NULL;

    if (how == NGX_MICRO_H2_REFUSED) {
        /* refused by the node (GOAWAY, REFUSED_STREAM) says nothing of
         * it; unreachable does */
        (void) ngx_micro_balancer_end(p, error_code ? -1 : 1, 0,
                                      r->connection->log);
        if (!g->ws_sent && ngx_micro_balancer_retry(p) == NGX_MICRO_PICKED) {
            if (ngx_micro_api_grpc_open(g) == NGX_OK) {
                return;
            }
        }
        ngx_micro_api_grpc_finish(g, ngx_micro_api_grpc_fail(g,
                                  NGX_HTTP_BAD_GATEWAY, "no node of %V "
                                  "could be reached", &p->service));
        return;
    }

    if (how == NGX_MICRO_H2_RESET) {
        (void) ngx_micro_balancer_end(p, g->too_large ? 0 : 1, 0,
                                      r->connection->log);
        if (g->too_large) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "micro grpc: the reply of %V %V from %V is larger "
                          "than micro_max_reply_size (%uz bytes)",
                          &p->service, &g->call->endpoint, &p->node,
                          g->call->max_reply_size);
            ngx_micro_api_grpc_finish(g, ngx_micro_api_grpc_fail(g,
                                      NGX_HTTP_BAD_GATEWAY, "the reply of "
                                      "%V %V is larger than "
                                      "micro_max_reply_size (%uz bytes)",
                                      &p->service, &g->call->endpoint,
                                      g->call->max_reply_size));
            return;
        }
        ngx_micro_api_grpc_finish(g, ngx_micro_api_grpc_fail(g,
                                  NGX_HTTP_BAD_GATEWAY, "the call to %V "
                                  "ended before its reply (HTTP/2 error "
                                  "%uD)", &p->service, error_code));
        return;
    }

    /* an answer past the deadline (the node's own DEADLINE_EXCEEDED, or
     * one that came as the timer was due) is the gateway's 504 */
    if (g->timeout && ngx_current_msec - g->started >= g->timeout) {
        ngx_micro_api_grpc_late(g);
        return;
    }

    (void) ngx_micro_balancer_end(p, 0, 1, r->connection->log);
    status = g->grpc_status;
    if (status < 0) {
        status = g->http_status == 200 ? MICRO_GRPC_INTERNAL
                 : micro_grpc_status_from_http((int) g->http_status);
        if (g->grpc_message.len == 0) {
            ngx_str_set(&g->grpc_message, "the reply carried no grpc-status");
        }
    }
    ngx_micro_api_grpc_finish(g, g->streaming
                                 ? ngx_micro_api_grpc_stream_end(g, status)
                                 : status == MICRO_GRPC_OK
                                 ? ngx_micro_api_grpc_reply(g)
                                 : ngx_micro_api_grpc_error(g, status));
}


static ngx_micro_h2_handler_t  ngx_micro_api_grpc_handler = {
    ngx_micro_api_grpc_header,
    ngx_micro_api_grpc_data,
    ngx_micro_api_grpc_end,
    ngx_micro_api_grpc_ws_drained
};


/* A go-micro error reply with a formatted detail. */
static ngx_int_t
ngx_micro_api_grpc_fail(ngx_micro_api_grpc_t *g, ngx_uint_t status,
    const char *fmt, ...)
{
    u_char             *p;
    va_list             args;
    micro_buf_t         json = { 0 };
    micro_rpc_error_t   e;
    u_char              detail[512];

    va_start(args, fmt);
    p = ngx_vslprintf(detail, detail + sizeof(detail) - 1, fmt, args);
    va_end(args);
    *p = '\0';

    /* a stream that has answered ends with an error line instead */
    if (g->answering) {
        g->grpc_message.len = 0;
        g->micro_error.len = 0;
        micro_rpc_error_set(&e, NGX_MICRO_API_ID, (int) status, "%s",
                            (char *) detail);
        if (micro_rpc_error_json(&e, &json) != MICRO_OK) {
            return NGX_ERROR;
        }
        g->micro_error.data = ngx_pnalloc(g->request->pool, json.len);
        if (g->micro_error.data) {
            ngx_memcpy(g->micro_error.data, json.data, json.len);
            g->micro_error.len = json.len;
        }
        micro_buf_free(&json);
        return ngx_micro_api_grpc_stream_end(g, status == 504
                                             ? MICRO_GRPC_DEADLINE_EXCEEDED
                                             : MICRO_GRPC_UNAVAILABLE);
    }
    return ngx_micro_error_send(g->request, NGX_MICRO_API_ID, status,
                                (char *) detail);
}


/* The reply is made (or failed): the request ends with it. */
static void
ngx_micro_api_grpc_finish(ngx_micro_api_grpc_t *g, ngx_int_t rc)
{
    g->done = 1;
    if (g->deadline.timer_set) {
        ngx_del_timer(&g->deadline);
    }
    ngx_http_finalize_request(g->request, rc);
}


static void
ngx_micro_api_grpc_timed_out(ngx_event_t *ev)
{
    ngx_micro_api_grpc_late(ev->data);
}


/*
 * The call's deadline passed, or a stream's next message did not come in
 * micro_read_timeout: 504. A unary call's node counts it as a failure
 * (one that hangs is put aside); a quiet stream says nothing of it.
 */
static void
ngx_micro_api_grpc_late(ngx_micro_api_grpc_t *g)
{
    ngx_msec_t         after;
    ngx_uint_t         idle;
    ngx_micro_peer_t  *p = &g->call->peer;

    idle = !(g->timeout && ngx_current_msec - g->started >= g->timeout);
    after = idle ? g->idle : g->timeout;
    ngx_log_error(NGX_LOG_ERR, g->request->connection->log, NGX_ETIMEDOUT,
                  "micro grpc: %V %V at %V %s %M ms", &p->service,
                  &g->call->endpoint, &p->node, idle ? "sent nothing for"
                                                     : "timed out after",
                  after);
    if (g->stream) {
        ngx_micro_h2_cancel(g->stream);
        g->stream = NULL;
    }
    (void) ngx_micro_balancer_end(p, g->streaming ? -1 : 1, 0,
                                  g->request->connection->log);
    ngx_micro_api_grpc_finish(g, ngx_micro_api_grpc_fail(g,
                              NGX_HTTP_GATEWAY_TIME_OUT, "%V %V %s %M ms",
                              &p->service, &g->call->endpoint,
                              idle ? "sent nothing for" : "timed out after",
                              after));
}


/* The request went (the client closed, or it ended): its stream too. */
static void
ngx_micro_api_grpc_cleanup(void *data)
{
    ngx_micro_api_grpc_t  *g = data;

    if (g->stream) {
        ngx_micro_h2_cancel(g->stream);
        g->stream = NULL;
        (void) ngx_micro_balancer_end(&g->call->peer, 0, 0,
                                      g->request->connection->log);
    }
    if (g->deadline.timer_set) {
        ngx_del_timer(&g->deadline);
    }
    micro_grpc_reader_free(&g->reader);
    ngx_micro_api_grpc_stream_free(g);
    ngx_micro_api_grpc_ws_free(g);
}


/* A try on the peer's node. */
static ngx_int_t
ngx_micro_api_grpc_open(ngx_micro_api_grpc_t *g)
{
    ngx_micro_peer_t            *p = &g->call->peer;
    ngx_micro_core_main_conf_t  *cmcf;

    cmcf = ngx_micro_core_request_conf(g->request);
    for ( ;; ) {
        g->nv[3].value = p->node.data;               /* :authority */
        g->nv[3].valuelen = p->node.len;
        g->peer.node = p->node;
        g->peer.sockaddr = p->sockaddr;
        g->peer.socklen = p->socklen;
        g->peer.idle_timeout = cmcf->keepalive_timeout;
        g->http_status = 0;
        g->grpc_status = -1;
        g->reader.in.len = 0;

        ngx_micro_balancer_start(p);
        g->stream = ngx_micro_h2_open(&g->peer, g->nv, g->nnv, g->body,
                                      g->len, !g->ws,
                                      &ngx_micro_api_grpc_handler, g);
        if (g->stream) {
            return NGX_OK;
        }
        (void) ngx_micro_balancer_end(p, 1, 0, g->request->connection->log);
        if (ngx_micro_balancer_retry(p) != NGX_MICRO_PICKED) {
            return NGX_DECLINED;
        }
    }
}


ngx_int_t
ngx_micro_api_grpc_start(ngx_http_request_t *r, ngx_micro_api_call_t *call,
    ngx_http_upstream_conf_t *conf)
{
    ngx_int_t              rc;
    ngx_pool_cleanup_t    *cln;
    ngx_micro_api_grpc_t  *g;

    g = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_grpc_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (g == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    g->request = r;
    g->call = call;
    g->grpc_status = -1;
    g->started = ngx_current_msec;
    g->peer.connect_timeout = conf->connect_timeout;
    g->peer.log = r->connection->log;
    cln->handler = ngx_micro_api_grpc_cleanup;
    cln->data = g;

    call->upstream_ctx = g;
    rc = ngx_micro_api_grpc_request(g, conf);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc == NGX_DECLINED) {
        return ngx_micro_error_send(r, NGX_MICRO_API_ID, NGX_HTTP_NOT_FOUND,
                                    "the endpoint is not Service.Method");
    }
    if (rc == NGX_HTTP_BAD_REQUEST) {
        return ngx_micro_error_send(r, NGX_MICRO_API_ID, rc, "a WebSocket "
                                    "needs a streaming method that "
                                    "micro_proto knows, Sec-WebSocket-Key "
                                    "and Sec-WebSocket-Version 13");
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro grpc: calling %V %V at %V", &call->peer.service,
                   &call->endpoint, &call->peer.node);

    if (ngx_micro_api_grpc_open(g) != NGX_OK) {
        return ngx_micro_api_grpc_fail(g, NGX_HTTP_BAD_GATEWAY, "no node of "
                                       "%V could be reached",
                                       &call->peer.service);
    }

    g->deadline.handler = ngx_micro_api_grpc_timed_out;
    g->deadline.data = g;
    g->deadline.log = r->connection->log;
    ngx_micro_api_grpc_arm(g);

    if (g->ws) {
        return ngx_micro_api_grpc_ws_accept(g) == NGX_OK ? NGX_DONE
                                                         : NGX_ERROR;
    }

    /* a client that goes away cancels the call */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    /* reading the body took the reference the call now holds */
    return NGX_DONE;
}
