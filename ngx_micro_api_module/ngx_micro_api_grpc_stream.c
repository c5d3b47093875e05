/*
 * A server-streaming method's reply, as it streams: each message a line
 * of newline-delimited JSON, {"result": MESSAGE} (grpc-gateway's), or a
 * server-sent event (data: MESSAGE) when the client accepts
 * text/event-stream, flushed as it comes. A status other than OK after
 * messages is a last line {"error": {...}} (an "error" event); before
 * any, the reply is the unary call's error. A client that reads slowly
 * holds the node's HTTP/2 window instead of the gateway buffering: the
 * bytes of a message go back to the window once its line is written.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include <micro/error.h>
#include <micro/transcode.h>

#include "ngx_micro_api_grpc.h"


void
ngx_micro_api_grpc_stream_init(ngx_micro_api_grpc_t *g,
    const micro_pb_method_t *m)
{
    ngx_table_elt_t  *accept;

    if (!m->server_streaming || g->call->api_reply) {
        return;
    }
    g->streaming = 1;
    accept = g->request->headers_in.accept;
    g->sse = accept && ngx_strlcasestrn(accept->value.data,
                                        accept->value.data
                                        + accept->value.len,
                                        (u_char *) "text/event-stream",
                                        sizeof("text/event-stream") - 2)
                       != NULL;
}


/* Lines written: their memory freed, their links kept for the next. */
static void
ngx_micro_api_grpc_stream_written(ngx_micro_api_grpc_t *g)
{
    ngx_chain_t  *cl;

    while (g->busy && ngx_buf_size(g->busy->buf) == 0) {
        cl = g->busy;
        g->busy = cl->next;
        ngx_free(cl->buf->start);
        cl->buf->start = NULL;
        cl->next = g->free;
        g->free = cl;
    }
}


/* The reply's header, once: 200, chunked, not to be buffered. */
static ngx_int_t
ngx_micro_api_grpc_stream_header(ngx_micro_api_grpc_t *g)
{
    ngx_int_t            rc;
    ngx_table_elt_t     *h;
    ngx_http_request_t  *r = g->request;

    g->answering = 1;
    r->headers_out.status = NGX_HTTP_OK;
    if (g->sse) {
        ngx_str_set(&r->headers_out.content_type, "text/event-stream");
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }
        h->hash = 1;
        ngx_str_set(&h->key, "Cache-Control");
        ngx_str_set(&h->value, "no-cache");
    } else {
        ngx_str_set(&r->headers_out.content_type, "application/x-ndjson");
    }
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    ngx_http_clear_content_length(r);
    r->allow_ranges = 0;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        return NGX_ERROR;
    }
    r->write_event_handler = ngx_micro_api_grpc_stream_writer;
    return NGX_OK;
}


ngx_int_t
ngx_micro_api_grpc_stream_out(ngx_micro_api_grpc_t *g, u_char *p,
    size_t len, ngx_uint_t last)
{
    ngx_int_t            rc;
    ngx_buf_t           *b;
    ngx_chain_t         *cl, **ll;
    ngx_http_request_t  *r = g->request;

    cl = ngx_chain_get_free_buf(r->pool, &g->free);
    if (cl == NULL) {
        ngx_free(p);
        return NGX_ERROR;
    }
    b = cl->buf;
    ngx_memzero(b, sizeof(ngx_buf_t));
    b->start = b->pos = p;
    b->last = b->end = p + len;
    b->memory = 1;
    b->flush = 1;
    b->last_buf = last;
    b->tag = (ngx_buf_tag_t) &ngx_micro_api_module;

    for (ll = &g->busy; *ll; ll = &(*ll)->next) { /* void */ }
    *ll = cl;

    rc = ngx_http_output_filter(r, cl);
    ngx_micro_api_grpc_stream_written(g);
    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/* One line out: head, the JSON, tail, in memory of its own. */
static ngx_int_t
ngx_micro_api_grpc_stream_line(ngx_micro_api_grpc_t *g, const char *head,
    const u_char *json, size_t len, const char *tail, ngx_uint_t last)
{
    u_char  *p, *q;
    size_t   hl, tl;

    if (!g->answering && ngx_micro_api_grpc_stream_header(g) != NGX_OK) {
        return NGX_ERROR;
    }
    hl = ngx_strlen(head);
    tl = ngx_strlen(tail);
    p = ngx_alloc(hl + len + tl, g->request->connection->log);
    if (p == NULL) {
        return NGX_ERROR;
    }
    q = ngx_cpymem(p, head, hl);
    q = ngx_cpymem(q, json, len);
    q = ngx_cpymem(q, tail, tl);
    return ngx_micro_api_grpc_stream_out(g, p, q - p, last);
}


/* The client took what was queued: the node may send as much again. */
void
ngx_micro_api_grpc_stream_writer(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_micro_api_grpc_t  *g;

    g = ngx_http_get_module_ctx(r, ngx_micro_api_module)
        ? ((ngx_micro_api_ctx_t *) ngx_http_get_module_ctx(
               r, ngx_micro_api_module))->call.upstream_ctx
        : NULL;
    if (g == NULL) {
        return;
    }
    rc = ngx_http_output_filter(r, NULL);
    ngx_micro_api_grpc_stream_written(g);
    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }
    if (g->busy == NULL && g->held && g->stream) {
        ngx_micro_h2_consume(g->stream, g->held);
        g->held = 0;
    }
    if (g->busy && ngx_handle_write_event(r->connection->write, 0)
                   != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


ngx_int_t
ngx_micro_api_grpc_stream_data(ngx_micro_api_grpc_t *g, u_char *p,
    size_t len)
{
    int                    rc;
    size_t                 n;
    micro_buf_t            json = { 0 };
    const uint8_t         *msg;
    ngx_micro_api_call_t  *call = g->call;

    if (micro_buf_append(&g->reader.in, p, len) != MICRO_OK) {
        return NGX_ERROR;
    }
    while ((rc = micro_grpc_read(&g->reader, call->max_reply_size, &msg,
                                 &n)) == 1)
    {
        json.len = 0;
        if (micro_pb_to_json(call->response_type, msg, n, &call->transcode,
                             &json) != MICRO_OK)
        {
            ngx_log_error(NGX_LOG_ERR, g->request->connection->log, 0,
                          "micro grpc: a message of %V %V is not a %s: %s",
                          &call->peer.service, &call->endpoint,
                          call->response_type->full_name,
                          micro_error_detail());
            micro_buf_free(&json);
            return NGX_ERROR;
        }
        rc = g->ws ? ngx_micro_api_grpc_ws_message(g, json.data, json.len)
             : ngx_micro_api_grpc_stream_line(g, g->sse ? "data: "
                                                 : "{\"result\":",
                                              json.data, json.len,
                                              g->sse ? "\n\n" : "}\n", 0);
        if (rc != NGX_OK) {
            micro_buf_free(&json);
            return NGX_ERROR;
        }
    }
    micro_buf_free(&json);
    if (rc == -2) {
        g->too_large = 1;
        return NGX_ERROR;
    }
    if (rc == -1) {
        return NGX_ERROR;                        /* compressed */
    }

    /* the window back at once, or once the client has taken the lines */
    if (g->busy) {
        g->held += len;
    } else {
        ngx_micro_h2_consume(g->stream, len);
    }
    return NGX_OK;
}


ngx_int_t
ngx_micro_api_grpc_stream_end(ngx_micro_api_grpc_t *g, ngx_int_t status)
{
    char                *dump;
    json_t              *doc;
    ngx_int_t            rc;
    micro_rpc_error_t    e;
    ngx_http_request_t  *r = g->request;

    if (g->ws) {
        return ngx_micro_api_grpc_ws_end(g, status);
    }
    if (!g->answering) {
        if (status != MICRO_GRPC_OK) {
            return ngx_micro_api_grpc_error(g, status);
        }
        /* no message at all: an empty stream */
        if (ngx_micro_api_grpc_stream_header(g) != NGX_OK) {
            return NGX_ERROR;
        }
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }
    if (status == MICRO_GRPC_OK) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    /* grpc-gateway's error line; the same as an SSE "error" event */
    ngx_micro_api_grpc_error_fields(g, status, &e);
    doc = json_pack("{s:{s:i,s:i,s:s,s:s,s:s,s:[]}}", "error", "grpc_code",
                    (int) status, "http_code",
                    (int) ngx_micro_api_grpc_http_status(status), "message",
                    e.detail, "http_status", micro_http_status_text(
                        (int) ngx_micro_api_grpc_http_status(status)),
                    "id", e.id, "details");
    dump = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (dump == NULL) {
        return NGX_ERROR;
    }
    rc = ngx_micro_api_grpc_stream_line(g, g->sse ? "event: error\ndata: "
                                           : "", (u_char *) dump,
                                        ngx_strlen(dump),
                                        g->sse ? "\n\n" : "\n", 1);
    free(dump);
    return rc;
}


void
ngx_micro_api_grpc_stream_free(ngx_micro_api_grpc_t *g)
{
    ngx_chain_t  *cl;

    for (cl = g->busy; cl; cl = cl->next) {
        ngx_free(cl->buf->start);
        cl->buf->start = NULL;
    }
    g->busy = NULL;
}
