/*
 * Client- and bidirectional-streaming gRPC methods over a WebSocket: the
 * client upgrades on the endpoint's path (GET, HTTP/1.1), each text frame
 * it sends is one JSON request message, each message of the node's is a
 * text frame back, and a close frame carries the final status: 1000 for
 * OK, 4000 + the gRPC status otherwise, with its message as the reason.
 * An empty text frame ends the requests (END_STREAM) with the socket open
 * for the replies, as a client-streaming method needs; a close frame ends
 * them too. The framing is libmicro's (micro/websocket.h).
 *
 * Back-pressure both ways: the client is not read while a megabyte of its
 * messages waits for the node's window, and the node's window is held
 * while the client reads slowly (ngx_micro_api_grpc_stream.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/error.h>
#include <micro/transcode.h>
#include <micro/websocket.h>

#include "ngx_micro_api_grpc.h"


#define NGX_MICRO_WS_QUEUE_MAX  (1024 * 1024)  /* then the client waits */
#define NGX_MICRO_WS_REASON     123            /* a close frame's room */


static void ngx_micro_api_grpc_ws_read(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_grpc_ws_push(ngx_micro_api_grpc_t *g);


ngx_uint_t
ngx_micro_api_grpc_ws_wanted(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h = r->headers_in.upgrade;

    return h && (r->method & NGX_HTTP_GET)
           && r->http_version == NGX_HTTP_VERSION_11
           && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                               (u_char *) "websocket",
                               sizeof("websocket") - 2) != NULL;
}


ngx_int_t
ngx_micro_api_grpc_ws_init(ngx_micro_api_grpc_t *g,
    const micro_pb_method_t *m)
{
    ngx_table_elt_t  *version;

    if (m == NULL || !(m->client_streaming || m->server_streaming)) {
        return NGX_HTTP_BAD_REQUEST;
    }
    version = ngx_micro_header_in(g->request, "Sec-WebSocket-Version");
    if (ngx_micro_header_in(g->request, "Sec-WebSocket-Key") == NULL
        || version == NULL || version->value.len != 2
        || ngx_strncmp(version->value.data, "13", 2) != 0)
    {
        return NGX_HTTP_BAD_REQUEST;
    }
    g->method = m;
    g->ws = 1;
    g->streaming = 1;
    return NGX_OK;
}


/* A frame of the server's to the client (control frames, text). */
static ngx_int_t
ngx_micro_api_grpc_ws_frame(ngx_micro_api_grpc_t *g, int opcode,
    const u_char *data, size_t len, ngx_uint_t last)
{
    u_char  *p;
    size_t   n;

    p = ngx_alloc(micro_ws_frame_size(len), g->request->connection->log);
    if (p == NULL) {
        return NGX_ERROR;
    }
    n = micro_ws_frame_write(p, 1, opcode, data, len);
    return ngx_micro_api_grpc_stream_out(g, p, n, last);
}


ngx_int_t
ngx_micro_api_grpc_ws_accept(ngx_micro_api_grpc_t *g)
{
    char                 accept[29];
    ngx_int_t            rc;
    ngx_table_elt_t     *key, *h;
    ngx_http_request_t  *r = g->request;

    key = ngx_micro_header_in(r, "Sec-WebSocket-Key");
    micro_ws_accept_key((char *) key->value.data, key->value.len, accept);

    r->headers_out.status = NGX_HTTP_SWITCHING_PROTOCOLS;
    ngx_str_set(&r->headers_out.status_line, "101 Switching Protocols");
    ngx_http_clear_content_length(r);
    r->keepalive = 0;
    r->allow_ranges = 0;
    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    ngx_str_set(&h->key, "Upgrade");
    ngx_str_set(&h->value, "websocket");
    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    ngx_str_set(&h->key, "Sec-WebSocket-Accept");
    h->value.data = ngx_pnalloc(r->pool, 28);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(h->value.data, accept, 28);
    h->value.len = 28;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK
        || ngx_http_send_special(r, NGX_HTTP_FLUSH) == NGX_ERROR)
    {
        return NGX_ERROR;
    }
    g->answering = 1;
    (void) ngx_tcp_nodelay(r->connection);

    /* frames the client sent with its request are read first */
    if (r->header_in->pos < r->header_in->last) {
        if (micro_buf_append(&g->ws_in, r->header_in->pos,
                             r->header_in->last - r->header_in->pos)
            != MICRO_OK)
        {
            return NGX_ERROR;
        }
        r->header_in->pos = r->header_in->last;
    }
    r->read_event_handler = ngx_micro_api_grpc_ws_read;
    r->write_event_handler = ngx_micro_api_grpc_stream_writer;
    ngx_post_event(r->connection->read, &ngx_posted_events);
    return NGX_OK;
}


ngx_int_t
ngx_micro_api_grpc_ws_message(ngx_micro_api_grpc_t *g, u_char *json,
    size_t len)
{
    return ngx_micro_api_grpc_ws_frame(g, MICRO_WS_TEXT, json, len, 0);
}


/* The close frame: code and a reason cut at a character's start. */
static ngx_int_t
ngx_micro_api_grpc_ws_close(ngx_micro_api_grpc_t *g, ngx_uint_t code,
    const char *reason)
{
    size_t  n;
    u_char  payload[2 + NGX_MICRO_WS_REASON];

    payload[0] = (u_char) (code >> 8);
    payload[1] = (u_char) code;
    n = ngx_strlen(reason);
    if (n > NGX_MICRO_WS_REASON) {
        n = NGX_MICRO_WS_REASON;
        while (n && (reason[n] & 0xc0) == 0x80) {
            n--;
        }
    }
    ngx_memcpy(payload + 2, reason, n);

    /* the client may still be sending: read what comes while the close
     * frame goes, or its TCP reset would lose the frame */
    g->request->lingering_close = 1;
    if (g->stream) {
        ngx_micro_h2_cancel(g->stream);
        g->stream = NULL;
        (void) ngx_micro_balancer_end(&g->call->peer, 0, 0,
                                      g->request->connection->log);
    }
    return ngx_micro_api_grpc_ws_frame(g, MICRO_WS_CLOSE, payload, 2 + n, 1);
}


ngx_int_t
ngx_micro_api_grpc_ws_end(ngx_micro_api_grpc_t *g, ngx_int_t status)
{
    micro_rpc_error_t  e;

    if (status == MICRO_GRPC_OK) {
        return ngx_micro_api_grpc_ws_close(g, 1000, "");
    }
    ngx_micro_api_grpc_error_fields(g, status, &e);
    return ngx_micro_api_grpc_ws_close(g, 4000 + status, e.detail);
}


/* A protocol failure of the client's: the call cancelled, a close frame
 * saying why, and the request ended. */
static void
ngx_micro_api_grpc_ws_refuse(ngx_micro_api_grpc_t *g, ngx_uint_t code,
    const char *reason)
{
    ngx_log_error(NGX_LOG_INFO, g->request->connection->log, 0,
                  "micro grpc: WebSocket closed (%ui): %s", code, reason);
    g->done = 1;
    if (g->deadline.timer_set) {
        ngx_del_timer(&g->deadline);
    }
    ngx_http_finalize_request(g->request,
                              ngx_micro_api_grpc_ws_close(g, code, reason));
}


/* One text frame: a request message, queued behind those before it. */
static ngx_int_t
ngx_micro_api_grpc_ws_text(ngx_micro_api_grpc_t *g, micro_ws_frame_t *f)
{
    size_t       at;
    micro_buf_t  *q = &g->ws_queued;

    at = q->len;
    if (micro_buf_reserve(q, MICRO_GRPC_HEADER_LEN) != MICRO_OK) {
        return NGX_ERROR;
    }
    q->len += MICRO_GRPC_HEADER_LEN;
    if (micro_json_to_pb(g->method->request, (char *) f->payload, f->len,
                         &g->call->transcode, q) != MICRO_OK)
    {
        q->len = at;
        ngx_micro_api_grpc_ws_refuse(g, 1007, micro_error_detail());
        return NGX_DONE;
    }
    micro_grpc_prefix(q->data + at, q->len - at - MICRO_GRPC_HEADER_LEN);
    return ngx_micro_api_grpc_ws_push(g);
}


/* One more of the client's frames: over micro_websocket_rate in this
 * second? */
static ngx_uint_t
ngx_micro_api_grpc_ws_over_rate(ngx_micro_api_grpc_t *g)
{
    ngx_micro_api_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(g->request, ngx_micro_api_module);
    if (alcf->ws_rate == 0) {
        return 0;
    }
    if (ngx_current_msec - g->ws_second >= 1000) {
        g->ws_second = ngx_current_msec;
        g->ws_frames = 0;
    }
    return ++g->ws_frames > alcf->ws_rate;
}


/* The frames in ws_in, as far as they go: NGX_DONE when the request has
 * ended. */
static ngx_int_t
ngx_micro_api_grpc_ws_frames(ngx_micro_api_grpc_t *g)
{
    long               n;
    size_t             pos = 0;
    ngx_int_t          rc = NGX_OK;
    micro_ws_frame_t   f;

    while (!g->ws_half
           && (n = micro_ws_frame_read(g->ws_in.data + pos,
                                       g->ws_in.len - pos,
                                       g->call->max_reply_size, &f)) != 0)
    {
        if (n < 0) {
            ngx_micro_api_grpc_ws_refuse(g, 1002, "a frame a client must not "
                                         "send, or one larger than "
                                         "micro_max_reply_size");
            return NGX_DONE;
        }
        pos += (size_t) n;
        if (ngx_micro_api_grpc_ws_over_rate(g)) {
            ngx_micro_api_grpc_ws_refuse(g, 1008, "more frames a second "
                                         "than micro_websocket_rate");
            return NGX_DONE;
        }
        if (!f.fin || f.opcode == 0) {
            ngx_micro_api_grpc_ws_refuse(g, 1003, "fragmented messages are "
                                         "not supported");
            return NGX_DONE;
        }
        switch (f.opcode) {
        case MICRO_WS_TEXT:
            if (f.len == 0) {
                g->ws_half = 1;            /* the end of the requests */
                rc = ngx_micro_api_grpc_ws_push(g);
                break;
            }
            rc = ngx_micro_api_grpc_ws_text(g, &f);
            break;
        case MICRO_WS_PING:
            rc = ngx_micro_api_grpc_ws_frame(g, MICRO_WS_PONG, f.payload,
                                             f.len, 0);
            break;
        case MICRO_WS_PONG:
            break;
        case MICRO_WS_CLOSE:
            g->ws_half = 1;                /* no more requests */
            rc = ngx_micro_api_grpc_ws_push(g);
            break;
        default:
            ngx_micro_api_grpc_ws_refuse(g, 1003, "binary frames are not "
                                         "supported: send JSON as text");
            return NGX_DONE;
        }
        if (rc != NGX_OK) {
            if (rc == NGX_ERROR) {
                ngx_http_finalize_request(g->request, NGX_ERROR);
            }
            return NGX_DONE;
        }
    }
    if (pos) {
        ngx_memmove(g->ws_in.data, g->ws_in.data + pos, g->ws_in.len - pos);
        g->ws_in.len -= pos;
    }
    return NGX_OK;
}


/* The client's bytes, read while the queue to the node has room. */
static void
ngx_micro_api_grpc_ws_read(ngx_http_request_t *r)
{
    ssize_t                n;
    ngx_connection_t      *c = r->connection;
    ngx_micro_api_ctx_t   *ctx;
    ngx_micro_api_grpc_t  *g;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    g = ctx->call.upstream_ctx;

    for ( ;; ) {
        if (ngx_micro_api_grpc_ws_frames(g) == NGX_DONE) {
            return;
        }
        if (g->ws_paused || g->ws_half || g->done) {
            return;                   /* until the queue drains, or end */
        }
        if (micro_buf_reserve(&g->ws_in, 16384) != MICRO_OK) {
            ngx_http_finalize_request(r, NGX_ERROR);
            return;
        }
        n = c->recv(c, g->ws_in.data + g->ws_in.len,
                    g->ws_in.cap - g->ws_in.len);
        if (n == NGX_AGAIN) {
            break;
        }
        if (n == 0 || n == NGX_ERROR) {
            /* gone without a close frame: the call is cancelled */
            ngx_http_finalize_request(r, NGX_HTTP_CLIENT_CLOSED_REQUEST);
            return;
        }
        g->ws_in.len += (size_t) n;
        if (g->idle) {
            if (g->deadline.timer_set) {
                ngx_del_timer(&g->deadline);
            }
            ngx_add_timer(&g->deadline, g->idle);
        }
    }
    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_ERROR);
    }
}


/*
 * The queued messages to h2 once it has taken those before them (then
 * the client's close as END_STREAM); reading the client stops while a
 * megabyte waits, and starts again when it has gone.
 */
static ngx_int_t
ngx_micro_api_grpc_ws_push(ngx_micro_api_grpc_t *g)
{
    micro_buf_t  t;

    if (g->stream == NULL || ngx_micro_h2_sending(g->stream)) {
        g->ws_paused = g->ws_queued.len > NGX_MICRO_WS_QUEUE_MAX;
        return NGX_OK;
    }
    if (g->ws_queued.len) {
        t = g->ws_inflight;
        g->ws_inflight = g->ws_queued;
        g->ws_queued = t;
        g->ws_queued.len = 0;
        g->ws_sent = 1;
        if (ngx_micro_h2_send(g->stream, g->ws_inflight.data,
                              g->ws_inflight.len, g->ws_half) != NGX_OK)
        {
            return NGX_ERROR;
        }
        g->ws_last = g->ws_half;
    } else if (g->ws_half && !g->ws_last) {
        g->ws_last = 1;
        if (ngx_micro_h2_send(g->stream, NULL, 0, 1) != NGX_OK) {
            return NGX_ERROR;
        }
    }
    if (g->ws_paused) {
        g->ws_paused = 0;                /* read the client again */
        ngx_post_event(g->request->connection->read, &ngx_posted_events);
    }
    return NGX_OK;
}


void
ngx_micro_api_grpc_ws_drained(void *data)
{
    ngx_micro_api_grpc_t  *g = data;

    if (g->ws) {
        (void) ngx_micro_api_grpc_ws_push(g);
    }
}


void
ngx_micro_api_grpc_ws_free(ngx_micro_api_grpc_t *g)
{
    micro_buf_free(&g->ws_in);
    micro_buf_free(&g->ws_inflight);
    micro_buf_free(&g->ws_queued);
}
