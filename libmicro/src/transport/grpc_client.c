/*
 * gRPC over h2c, client side, with nghttp2: one HTTP/2 connection a node,
 * carrying the calls of every thread at once. An I/O thread of the
 * transport's own runs the connections; a caller's thread hands it a
 * stream (stream.c) and waits on that stream alone, so a call blocks its
 * caller only, never past its deadline. A unary call is a stream with
 * one message each way.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "micro/error.h"
#include "core/clock.h"
#include "core/map.h"
#include "transport/grpc.h"
#include "transport/grpc_client.h"
#include "transport/stream_internal.h"

typedef struct micro_h2c_s       micro_h2c_t;
typedef struct micro_h2c_call_s  micro_h2c_call_t;

typedef struct {
    micro_transport_t          transport;
    size_t                     max_message;
    pthread_mutex_t            lock;         /* pending, woken, started */
    int                        started;
    int                        stopping;
    uv_loop_t                  loop;
    uv_async_t                 async;
    uv_thread_t                thread;
    micro_h2c_call_t          *pending;      /* new calls */
    micro_h2c_call_t          *woken;        /* calls with news */
    micro_map_t                conns;        /* address -> micro_h2c_t */
} micro_grpc_transport_t;

struct micro_h2c_call_s {
    micro_grpc_transport_t    *t;
    micro_stream_t            *st;
    micro_h2c_t               *conn;
    int32_t                    id;
    char                      *address;
    nghttp2_nv                *nv;           /* the request's headers */
    size_t                     nnv;
    micro_buf_t                strings;      /* what nv points into */
    micro_grpc_reader_t        rd;
    size_t                     held;         /* window held back */
    int                        status;       /* grpc-status; -1 none */
    int                        http_status;
    micro_buf_t                message;      /* grpc-message, decoded */
    micro_buf_t                micro_error;
    int                        woken;
    micro_h2c_call_t          *next;         /* pending, waiting, on conn */
    micro_h2c_call_t          *prev;
    micro_h2c_call_t          *wake_next;
};

struct micro_h2c_s {
    micro_grpc_transport_t    *t;
    char                      *address;
    uv_tcp_t                   tcp;
    uv_connect_t               connect;
    nghttp2_session           *session;
    int                        connected;
    int                        closing;
    int                        writing;
    micro_h2c_call_t          *waiting;      /* for the connection */
    micro_h2c_call_t          *calls;        /* its open streams */
};

static void micro_h2c_flush(micro_h2c_t *c);


/* --- a call's end ------------------------------------------------------- */

static void
micro_h2c_call_free(micro_h2c_call_t *call)
{
    free(call->address);
    free(call->nv);
    micro_buf_free(&call->strings);
    micro_buf_free(&call->message);
    micro_buf_free(&call->micro_error);
    micro_grpc_reader_free(&call->rd);
    free(call);
}


/*
 * The stream is over: its result from grpc-status (the peer's go-micro
 * error when it sent one), or from how it was reset. sent: whether the
 * call may have reached the server.
 */
static void
micro_h2c_call_end(micro_h2c_call_t *call, uint32_t reset, const char *why)
{
    int                 result = MICRO_OK, status = call->status;
    micro_rpc_error_t   err;
    micro_h2c_call_t  **p;

    memset(&err, 0, sizeof(err));
    if (status < 0 && call->http_status && call->http_status != 200) {
        status = micro_grpc_status_from_http(call->http_status);
        micro_buf_append(&call->message, "HTTP status ", 12);
    }
    if (status > 0) {
        result = MICRO_EREMOTE;
        if (call->micro_error.len) {
            micro_rpc_error_parse(&err, (char *) call->micro_error.data,
                                  call->micro_error.len);
        }
        if (err.code == 0) {
            micro_rpc_error_set(&err, "go.micro.client",
                                micro_grpc_code_from_status(status),
                                "%s: %.*s", micro_grpc_status_name(status),
                                (int) call->message.len,
                                call->message.data
                                ? (char *) call->message.data : "");
        }
    } else if (status < 0) {
        result = MICRO_ECONNECT;
        if (reset == NGHTTP2_REFUSED_STREAM) {
            call->id = 0;                /* refused: it never ran */
        }
        micro_rpc_error_set(&err, "go.micro.client",
                            reset == NGHTTP2_REFUSED_STREAM ? 503 : 500,
                            "%s", why ? why : "the stream was reset");
    }
    pthread_mutex_lock(&call->st->lock);
    if (result == MICRO_ECONNECT && call->id <= 0) {
        call->st->unsent = 1;
    }
    pthread_mutex_unlock(&call->st->lock);
    micro_stream_on_finish(call->st, result, &err);
    micro_stream_detach(call->st);
    call->st = NULL;

    /* off its connection and, since no wake comes any more, its list */
    if (call->conn) {
        if (call->prev) {
            call->prev->next = call->next;
        } else {
            call->conn->calls = call->next;
        }
        if (call->next) {
            call->next->prev = call->prev;
        }
    }
    pthread_mutex_lock(&call->t->lock);
    if (call->woken) {
        for (p = &call->t->woken; *p; p = &(*p)->wake_next) {
            if (*p == call) {
                *p = call->wake_next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&call->t->lock);
    micro_h2c_call_free(call);
}


/* --- connections -------------------------------------------------------- */

static void
micro_h2c_on_closed(uv_handle_t *h)
{
    micro_h2c_t  *c = h->data;

    nghttp2_session_del(c->session);
    free(c->address);
    free(c);
}


/* The connection is gone: every call on it or waiting for it ends. */
static void
micro_h2c_close(micro_h2c_t *c, const char *why)
{
    micro_h2c_call_t  *call, *next;

    if (c->closing) {
        return;
    }
    c->closing = 1;
    if (micro_map_get(&c->t->conns, c->address) == c) {
        micro_map_remove(&c->t->conns, c->address);
    }
    for (call = c->waiting; call; call = next) {
        next = call->next;
        micro_h2c_call_end(call, NGHTTP2_REFUSED_STREAM, why);
    }
    c->waiting = NULL;
    /* nghttp2 would not close them: each stream's call ends here */
    while (c->calls) {
        nghttp2_session_set_stream_user_data(c->session, c->calls->id, NULL);
        micro_h2c_call_end(c->calls, 0, why);
    }
    uv_close((uv_handle_t *) &c->tcp, micro_h2c_on_closed);
}


static void
micro_h2c_on_write(uv_write_t *req, int status)
{
    micro_h2c_t  *c = micro_grpc_written(req);

    c->writing = 0;
    if (status != 0) {
        micro_h2c_close(c, "cannot write to the connection");
        return;
    }
    micro_h2c_flush(c);
}


static void
micro_h2c_flush(micro_h2c_t *c)
{
    int  rc;

    if (c->writing || c->closing || !c->connected) {
        return;
    }
    rc = micro_grpc_write(c->session, (uv_stream_t *) &c->tcp, c,
                          micro_h2c_on_write);
    if (rc < 0) {
        micro_h2c_close(c, "cannot write to the connection");
    } else if (rc == 0 && !nghttp2_session_want_read(c->session)
               && !nghttp2_session_want_write(c->session))
    {
        micro_h2c_close(c, "the server closed the connection");
    } else {
        c->writing = rc;
    }
}


/* --- a call on the wire -------------------------------------------------- */

static ssize_t
micro_h2c_read_request(nghttp2_session *session, int32_t id, uint8_t *buf,
    size_t length, uint32_t *flags, nghttp2_data_source *source, void *arg)
{
    int                eof;
    ssize_t            n;
    micro_h2c_call_t  *call = source->ptr;

    (void) session;
    (void) id;
    (void) arg;
    n = micro_stream_take_output(call->st, buf, length, &eof);
    if (n < 0) {
        return NGHTTP2_ERR_DEFERRED;
    }
    if (eof) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return n;
}


static void
micro_h2c_submit(micro_h2c_t *c, micro_h2c_call_t *call)
{
    int32_t                 id;
    nghttp2_data_provider   prd;

    prd.source.ptr = call;
    prd.read_callback = micro_h2c_read_request;
    id = nghttp2_submit_request(c->session, NULL, call->nv, call->nnv, &prd,
                                call);
    if (id < 0) {
        micro_h2c_call_end(call, NGHTTP2_REFUSED_STREAM,
                           nghttp2_strerror(id));
        return;
    }
    call->id = id;
    call->conn = c;
    call->prev = NULL;
    call->next = c->calls;
    if (c->calls) {
        c->calls->prev = call;
    }
    c->calls = call;
}


static int
micro_h2c_on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *arg)
{
    char               *k, *v;
    micro_h2c_call_t   *call;

    (void) flags;
    (void) arg;
    if (frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    call = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (call == NULL) {
        return 0;
    }
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        call->http_status = atoi((const char *) value);
    } else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
        call->status = atoi((const char *) value);
    } else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
        call->message.len = 0;
        micro_grpc_message_decode((const char *) value, valuelen,
                                  &call->message);
    } else if (namelen == 11 && memcmp(name, "micro-error", 11) == 0) {
        call->micro_error.len = 0;
        micro_buf_append(&call->micro_error, value, valuelen);
    } else if (name[0] != ':') {
        k = strndup((const char *) name, namelen);
        v = strndup((const char *) value, valuelen);
        if (k && v) {
            pthread_mutex_lock(&call->st->lock);
            micro_metadata_set(&call->st->headers, k, v);
            pthread_mutex_unlock(&call->st->lock);
        }
        free(k);
        free(v);
    }
    return 0;
}


static int
micro_h2c_on_data(nghttp2_session *session, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
    int                rc;
    size_t             n;
    micro_h2c_call_t  *call;

    (void) flags;
    (void) arg;
    nghttp2_session_consume_connection(session, len);
    call = nghttp2_session_get_stream_user_data(session, id);
    if (call == NULL) {
        nghttp2_session_consume_stream(session, id, len);
        return 0;
    }
    rc = micro_stream_on_data(call->st, &call->rd, data, len, &call->held,
                              &n);
    if (n) {
        nghttp2_session_consume_stream(session, id, n);
    }
    if (rc == -3) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (rc < 0) {
        /* compressed, or over the limit: not for us */
        call->status = rc == -1 ? MICRO_GRPC_UNIMPLEMENTED
                                : MICRO_GRPC_RESOURCE_EXHAUSTED;
        call->message.len = 0;
        micro_buf_append(&call->message, rc == -1 ? "compressed reply"
                         : "reply message over the limit", rc == -1 ? 16 : 28);
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id,
                                  NGHTTP2_CANCEL);
    }
    return 0;
}


static int
micro_h2c_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
    void *arg)
{
    micro_h2c_t       *c = arg;
    micro_h2c_call_t  *call;

    if (frame->hd.type == NGHTTP2_GOAWAY) {
        /* no new calls here: the next ones open a new connection */
        if (micro_map_get(&c->t->conns, c->address) == c) {
            micro_map_remove(&c->t->conns, c->address);
        }
        return 0;
    }
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS)
        && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    {
        call = nghttp2_session_get_stream_user_data(session,
                                                    frame->hd.stream_id);
        if (call) {
            micro_stream_on_end(call->st);
        }
    }
    return 0;
}


static int
micro_h2c_on_stream_close(nghttp2_session *session, int32_t id,
    uint32_t error_code, void *arg)
{
    char               why[64];
    micro_h2c_call_t  *call;

    (void) arg;
    call = nghttp2_session_get_stream_user_data(session, id);
    if (call) {
        nghttp2_session_set_stream_user_data(session, id, NULL);
        snprintf(why, sizeof(why), "stream reset by the server (%s)",
                 nghttp2_http2_strerror(error_code));
        micro_h2c_call_end(call, error_code, why);
    }
    return 0;
}


static nghttp2_session_callbacks  *micro_h2c_callbacks;
static nghttp2_option             *micro_h2c_option;
static pthread_once_t              micro_h2c_once = PTHREAD_ONCE_INIT;


static void
micro_h2c_init(void)
{
    nghttp2_session_callbacks  *cb;

    if (nghttp2_session_callbacks_new(&cb) != 0
        || nghttp2_option_new(&micro_h2c_option) != 0)
    {
        return;
    }
    nghttp2_session_callbacks_set_on_header_callback(cb, micro_h2c_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
        micro_h2c_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
        micro_h2c_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb,
        micro_h2c_on_stream_close);
    nghttp2_option_set_no_auto_window_update(micro_h2c_option, 1);
    micro_h2c_callbacks = cb;
}


static void
micro_h2c_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}


static void
micro_h2c_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ssize_t       n;
    micro_h2c_t  *c = s->data;

    if (nread < 0) {
        free(buf->base);
        micro_h2c_close(c, "the server closed the connection");
        return;
    }
    if (nread > 0) {
        n = nghttp2_session_mem_recv(c->session, (const uint8_t *) buf->base,
                                     (size_t) nread);
        if (n < 0) {
            free(buf->base);
            micro_h2c_close(c, "the server broke HTTP/2");
            return;
        }
    }
    free(buf->base);
    micro_h2c_flush(c);
}


static void
micro_h2c_on_connect(uv_connect_t *req, int status)
{
    micro_h2c_t             *c = req->data;
    micro_h2c_call_t        *call, *next;
    nghttp2_settings_entry   settings[] = {
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, MICRO_GRPC_WINDOW },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MICRO_GRPC_MAX_METADATA }
    };

    if (c->closing) {
        return;
    }
    if (status != 0) {
        micro_h2c_close(c, uv_strerror(status));
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings,
                            sizeof(settings) / sizeof(settings[0]));
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
                                          MICRO_GRPC_CONN_WINDOW);
    for (call = c->waiting; call; call = next) {
        next = call->next;
        micro_h2c_submit(c, call);
    }
    c->waiting = NULL;
    uv_read_start((uv_stream_t *) &c->tcp, micro_h2c_alloc,
                  micro_h2c_on_read);
    micro_h2c_flush(c);
}


/* The node's connection, opened now if there is none. */
static micro_h2c_t *
micro_h2c_get(micro_grpc_transport_t *t, const char *address)
{
    int                       port;
    char                      host[64];
    const char               *colon;
    micro_h2c_t              *c;
    struct sockaddr_storage   sa;

    c = micro_map_get(&t->conns, address);
    if (c) {
        return c;
    }
    colon = strrchr(address, ':');
    if (colon == NULL || colon - address >= (int) sizeof(host)) {
        return NULL;
    }
    port = atoi(colon + 1);
    if (address[0] == '[') {
        snprintf(host, sizeof(host), "%.*s", (int) (colon - address - 2),
                 address + 1);
    } else {
        snprintf(host, sizeof(host), "%.*s", (int) (colon - address),
                 address);
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *) &sa) != 0
        && uv_ip6_addr(host, port, (struct sockaddr_in6 *) &sa) != 0)
    {
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->address = strdup(address)) == NULL
        || nghttp2_session_client_new2(&c->session, micro_h2c_callbacks, c,
                                       micro_h2c_option) != 0)
    {
        if (c) {
            free(c->address);
        }
        free(c);
        return NULL;
    }
    c->t = t;
    uv_tcp_init(&t->loop, &c->tcp);
    c->tcp.data = c;
    c->connect.data = c;
    if (micro_map_set(&t->conns, address, c) != MICRO_OK) {
        c->closing = 1;
        uv_close((uv_handle_t *) &c->tcp, micro_h2c_on_closed);
        return NULL;
    }
    if (uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *) &sa,
                       micro_h2c_on_connect) != 0)
    {
        micro_h2c_close(c, "cannot connect");
        return NULL;
    }
    return c;
}


/* --- the I/O thread ------------------------------------------------------ */

static void
micro_grpc_on_async(uv_async_t *a)
{
    int                      cancel, stopping;
    size_t                   consumed;
    micro_h2c_t             *c;
    micro_h2c_call_t        *call, *next, *woken;
    micro_grpc_transport_t  *t = a->data;

    pthread_mutex_lock(&t->lock);
    call = t->pending;
    t->pending = NULL;
    woken = t->woken;
    t->woken = NULL;
    for (next = woken; next; next = next->wake_next) {
        next->woken = 0;
    }
    stopping = t->stopping;
    pthread_mutex_unlock(&t->lock);

    /* new calls: onto their node's connection */
    for ( ; call; call = next) {
        next = call->next;
        call->next = NULL;
        c = stopping ? NULL : micro_h2c_get(t, call->address);
        if (c == NULL) {
            micro_h2c_call_end(call, NGHTTP2_REFUSED_STREAM,
                               stopping ? "the client is closing"
                                        : "cannot connect");
        } else if (!c->connected) {
            call->next = c->waiting;
            c->waiting = call;
        } else {
            micro_h2c_submit(c, call);
            micro_h2c_flush(c);
        }
    }

    /* calls with output, consumed input or a cancel */
    for (call = woken; call; call = next) {
        next = call->wake_next;
        if (call->conn == NULL || call->st == NULL) {
            continue;
        }
        consumed = micro_stream_window(call->st, 0, &call->held);
        pthread_mutex_lock(&call->st->lock);
        cancel = call->st->cancel;
        pthread_mutex_unlock(&call->st->lock);
        c = call->conn;
        if (consumed) {
            nghttp2_session_consume_stream(c->session, call->id, consumed);
        }
        if (cancel) {
            nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE,
                                      call->id, NGHTTP2_CANCEL);
        } else {
            nghttp2_session_resume_data(c->session, call->id);
        }
        micro_h2c_flush(c);
    }

    if (stopping) {
        size_t  i;

        for (i = 0; i < t->conns.cap; i++) {
            if (micro_map_live(&t->conns, i)) {
                micro_h2c_close(t->conns.slots[i].value,
                                "the client is closing");
            }
        }
        uv_close((uv_handle_t *) &t->async, NULL);
    }
}


static void
micro_grpc_run(void *arg)
{
    micro_grpc_transport_t  *t = arg;

    uv_run(&t->loop, UV_RUN_DEFAULT);
}


/* Called by the caller's thread under the stream's lock. */
static void
micro_grpc_wake(micro_stream_t *st)
{
    micro_h2c_call_t        *call = st->io;
    micro_grpc_transport_t  *t = call->t;

    pthread_mutex_lock(&t->lock);
    if (!call->woken) {
        call->woken = 1;
        call->wake_next = t->woken;
        t->woken = call;
    }
    pthread_mutex_unlock(&t->lock);
    uv_async_send(&t->async);
}


/* The I/O thread, started with the first call. */
static int
micro_grpc_start(micro_grpc_transport_t *t)
{
    int  rc = MICRO_OK;

    pthread_once(&micro_h2c_once, micro_h2c_init);
    if (micro_h2c_callbacks == NULL) {
        return micro_error_set(MICRO_ENOMEM, "cannot set up nghttp2");
    }
    pthread_mutex_lock(&t->lock);
    if (!t->started) {
        if (uv_loop_init(&t->loop) != 0
            || uv_async_init(&t->loop, &t->async, micro_grpc_on_async) != 0)
        {
            rc = micro_error_set(MICRO_ENOMEM, "cannot set up an I/O loop");
        } else {
            t->async.data = t;
            if (uv_thread_create(&t->thread, micro_grpc_run, t) != 0) {
                rc = micro_error_set(MICRO_ENOMEM, "cannot start a thread");
            } else {
                t->started = 1;
            }
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}


/* --- calls ---------------------------------------------------------------- */

/* The request's headers, in one allocation nghttp2 reads from. */
static int
micro_h2c_headers(micro_h2c_call_t *call, const micro_transport_call_t *in,
    const char *path)
{
    char         timeout[16];
    size_t       i, n = 0, off[64][4], k;
    const char  *ct;
    const char  *pairs[64][2];

    ct = in->content_type && strstr(in->content_type, "json")
         ? "application/grpc+json" : "application/grpc";
    pairs[n][0] = ":method"; pairs[n++][1] = "POST";
    pairs[n][0] = ":scheme"; pairs[n++][1] = "http";
    pairs[n][0] = ":path"; pairs[n++][1] = path;
    pairs[n][0] = ":authority"; pairs[n++][1] = in->address;
    pairs[n][0] = "content-type"; pairs[n++][1] = ct;
    pairs[n][0] = "te"; pairs[n++][1] = "trailers";
    pairs[n][0] = "user-agent"; pairs[n++][1] = "libmicro-grpc/0.1";
    if (in->timeout_ms > 0) {
        micro_grpc_timeout_format(in->timeout_ms, timeout, sizeof(timeout));
        pairs[n][0] = "grpc-timeout"; pairs[n++][1] = timeout;
    }
    if (in->id) {
        pairs[n][0] = "micro-id"; pairs[n++][1] = in->id;
    }
    for (i = 0; i < in->nmetadata && n < 64; i++) {
        pairs[n][0] = in->metadata[i].key;
        pairs[n++][1] = in->metadata[i].value;
    }

    /* names lowercased, as HTTP/2 wants them */
    for (i = 0; i < n; i++) {
        off[i][0] = call->strings.len;
        off[i][1] = strlen(pairs[i][0]);
        if (micro_buf_append(&call->strings, pairs[i][0], off[i][1])
            != MICRO_OK)
        {
            return MICRO_ENOMEM;
        }
        for (k = 0; k < off[i][1]; k++) {
            char  *ch = (char *) call->strings.data + off[i][0] + k;

            if (*ch >= 'A' && *ch <= 'Z') {
                *ch = (char) (*ch + 32);
            }
        }
        off[i][2] = call->strings.len;
        off[i][3] = strlen(pairs[i][1]);
        if (micro_buf_append(&call->strings, pairs[i][1], off[i][3])
            != MICRO_OK)
        {
            return MICRO_ENOMEM;
        }
    }
    call->nv = calloc(n, sizeof(nghttp2_nv));
    if (call->nv == NULL) {
        return MICRO_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        call->nv[i].name = call->strings.data + off[i][0];
        call->nv[i].namelen = off[i][1];
        call->nv[i].value = call->strings.data + off[i][2];
        call->nv[i].valuelen = off[i][3];
    }
    call->nnv = n;
    return MICRO_OK;
}


int
micro_grpc_open(micro_transport_t *tr, const micro_transport_call_t *in,
    const ProtobufCMessageDescriptor *recv_type, micro_stream_t **out)
{
    int                      rc;
    char                     path[512];
    micro_stream_t          *st;
    micro_h2c_call_t        *call;
    micro_grpc_transport_t  *t = (micro_grpc_transport_t *) tr;

    *out = NULL;
    rc = micro_grpc_path(in->service, in->endpoint, path, sizeof(path));
    if (rc != MICRO_OK || (rc = micro_grpc_start(t)) != MICRO_OK) {
        return rc;
    }
    call = calloc(1, sizeof(*call));
    st = micro_stream_new(t->max_message, in->content_type
                          && strstr(in->content_type, "json") != NULL,
                          recv_type, in->deadline);
    if (call == NULL || st == NULL || (call->address = strdup(in->address))
                                      == NULL
        || micro_h2c_headers(call, in, path) != MICRO_OK)
    {
        if (call) {
            micro_h2c_call_free(call);
        }
        if (st) {
            micro_stream_release(st);
        }
        return micro_error_set(MICRO_ENOMEM, "out of memory");
    }
    call->t = t;
    call->st = st;
    call->status = -1;
    st->wake = micro_grpc_wake;
    st->io = call;
    st->refs = 2;                        /* the caller's and the I/O side's */

    pthread_mutex_lock(&t->lock);
    call->next = t->pending;
    t->pending = call;
    pthread_mutex_unlock(&t->lock);
    uv_async_send(&t->async);
    *out = st;
    return MICRO_OK;
}


/* A unary call: one message out, one back, the status. */
static micro_trip_t
micro_grpc_call(micro_transport_t *tr, const micro_transport_call_t *in,
    micro_transport_reply_t *reply)
{
    int              rc, unsent;
    micro_stream_t  *st;
    micro_rpc_error_t err;

    rc = micro_grpc_open(tr, in, NULL, &st);
    if (rc != MICRO_OK) {
        snprintf(reply->why, sizeof(reply->why), "%s", micro_error_detail());
        return MICRO_TRIP_CONNECT;
    }
    if (micro_stream_send_raw(st, in->body, in->len) == MICRO_OK) {
        micro_stream_close_send(st);
        micro_stream_recv_raw(st, reply->body);
    } else {
        micro_stream_cancel(st);
    }
    rc = micro_stream_status(st, &err);
    pthread_mutex_lock(&st->lock);
    unsent = st->unsent;
    if (reply->headers) {
        *reply->headers = st->headers;
        memset(&st->headers, 0, sizeof(st->headers));
    }
    pthread_mutex_unlock(&st->lock);
    micro_stream_free(st);

    switch (rc) {
    case MICRO_OK:
        reply->status = 200;
        return MICRO_TRIP_OK;
    case MICRO_EREMOTE:
        reply->status = err.code >= 400 && err.code <= 599 ? err.code : 500;
        reply->body->len = 0;
        micro_rpc_error_json(&err, &reply->error);
        return MICRO_TRIP_OK;
    case MICRO_ETIMEDOUT:
        snprintf(reply->why, sizeof(reply->why), "no reply in %d ms",
                 in->timeout_ms);
        return MICRO_TRIP_TIMEOUT;
    default:
        snprintf(reply->why, sizeof(reply->why), "%.200s", err.detail);
        return unsent ? MICRO_TRIP_CONNECT : MICRO_TRIP_BROKEN;
    }
}


static int
micro_grpc_check(const micro_transport_call_t *call)
{
    char    path[512];
    size_t  i;

    for (i = 0; i < call->nmetadata; i++) {
        if (micro_grpc_reserved_header(call->metadata[i].key,
                                       strlen(call->metadata[i].key))
            || strpbrk(call->metadata[i].value, "\r\n") != NULL)
        {
            return micro_error_set(MICRO_EINVAL, "metadata \"%s\" cannot be "
                                   "sent", call->metadata[i].key);
        }
    }
    return micro_grpc_path(call->service, call->endpoint, path, sizeof(path));
}


static void
micro_grpc_free(micro_transport_t *tr)
{
    micro_grpc_transport_t  *t = (micro_grpc_transport_t *) tr;

    if (t->started) {
        pthread_mutex_lock(&t->lock);
        t->stopping = 1;
        pthread_mutex_unlock(&t->lock);
        uv_async_send(&t->async);
        uv_thread_join(&t->thread);
        uv_loop_close(&t->loop);
    }
    micro_map_free(&t->conns);
    pthread_mutex_destroy(&t->lock);
    free(t);
}


static const micro_transport_ops_t  micro_grpc_ops = {
    "grpc", micro_grpc_check, micro_grpc_call, micro_grpc_free
};


int
micro_grpc_transport_new(size_t max_message, micro_transport_t **out)
{
    micro_grpc_transport_t  *t;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return MICRO_ENOMEM;
    }
    t->transport.ops = &micro_grpc_ops;
    t->max_message = max_message;
    pthread_mutex_init(&t->lock, NULL);
    *out = &t->transport;
    return MICRO_OK;
}
