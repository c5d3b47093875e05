/*
 * gRPC over h2c, server side, with nghttp2: the connections the HTTP/1.1
 * transport hands over by their preface, their writes, timers (idle,
 * keepalive, the grace after GOAWAY) and nghttp2's callbacks; each call
 * is grpc_server_call.c's. Flow control is nghttp2's, with a stream's
 * window given back only as its handler takes messages.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "micro/error.h"
#include "core/clock.h"
#include "transport/grpc_server.h"

static void micro_h2_idle_check(micro_h2_conn_t *c);


/* --- connections ------------------------------------------------------- */

static void
micro_h2_conn_free(micro_h2_conn_t *c)
{
    nghttp2_session_del(c->session);
    pthread_mutex_destroy(&c->lock);
    free(c);
}


static void
micro_h2_on_handle_closed(uv_handle_t *h)
{
    micro_h2_conn_t  *c = h->data;

    if (--c->handles == 0 && c->nstreams == 0) {
        micro_h2_conn_free(c);
    }
}


static void
micro_h2_close(micro_h2_conn_t *c)
{
    micro_h2_stream_t  *hs, *next;

    if (c->closing == 2) {
        return;
    }
    c->closing = 2;
    __atomic_sub_fetch(&c->io->server->nconns, 1, __ATOMIC_RELAXED);
    if (c->prev) {
        c->prev->next = c->next;
    } else if (c->io->grpc_conns == c) {
        c->io->grpc_conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    uv_close((uv_handle_t *) &c->tcp, micro_h2_on_handle_closed);
    uv_close((uv_handle_t *) &c->idle, micro_h2_on_handle_closed);
    uv_close((uv_handle_t *) &c->ping, micro_h2_on_handle_closed);
    uv_close((uv_handle_t *) &c->later, micro_h2_on_handle_closed);
    /* nghttp2 will not close them: the calls end with the connection */
    for (hs = c->streams; hs; hs = next) {
        next = hs->next;
        micro_h2_stream_closed(hs);
    }
    pthread_mutex_lock(&c->lock);
    uv_close((uv_handle_t *) &c->wake, micro_h2_on_handle_closed);
    pthread_mutex_unlock(&c->lock);
}


static void
micro_h2_on_write(uv_write_t *req, int status)
{
    micro_h2_conn_t  *c = micro_grpc_written(req);

    c->writing = 0;
    if (status != 0) {
        micro_h2_close(c);
        return;
    }
    micro_h2_flush(c);
}


/* Everything nghttp2 has to send, in one write; closes when it is done. */
void
micro_h2_flush(micro_h2_conn_t *c)
{
    int  rc;

    if (c->writing || c->closing == 2) {
        return;
    }
    rc = micro_grpc_write(c->session, (uv_stream_t *) &c->tcp, c,
                          micro_h2_on_write);
    if (rc < 0 || (rc == 0 && (c->close_after_write
                               || (!nghttp2_session_want_read(c->session)
                                   && !nghttp2_session_want_write(
                                       c->session)))))
    {
        micro_h2_close(c);                  /* failed, or all is said */
        return;
    }
    c->writing = rc;
}


static void
micro_h2_on_later(uv_check_t *h)
{
    micro_h2_conn_t  *c = h->data;

    uv_check_stop(h);
    c->flush_later = 0;
    micro_h2_flush(c);
}


/*
 * Replies that workers finish come back one by one in a loop turn; they
 * go out in one write after it (the check phase), not a write each.
 */
void
micro_h2_flush_later(micro_h2_conn_t *c)
{
    if (!c->flush_later && c->closing != 2) {
        c->flush_later = 1;
        uv_check_start(&c->later, micro_h2_on_later);
    }
}


static void
micro_h2_on_idle(uv_timer_t *t)
{
    micro_h2_conn_t  *c = t->data;

    /* idle too long, or the grace after a GOAWAY is over */
    nghttp2_session_terminate_session(c->session, NGHTTP2_NO_ERROR);
    c->close_after_write = 1;
    micro_h2_flush(c);
}


/* Idle: the idle timer runs; after a GOAWAY the last call closes it. */
static void
micro_h2_idle_check(micro_h2_conn_t *c)
{
    if (c->closing == 2) {
        return;
    }
    if (c->closing) {
        if (c->nstreams == 0) {
            micro_h2_on_idle(&c->idle);
        }
    } else if (c->nstreams == 0) {
        uv_timer_start(&c->idle, micro_h2_on_idle,
                       (uint64_t) c->io->server->opts.idle_timeout_ms, 0);
    } else {
        uv_timer_stop(&c->idle);
    }
}


static void
micro_h2_on_ping(uv_timer_t *t)
{
    micro_h2_conn_t  *c = t->data;
    int               ms = c->io->server->opts.keepalive_ms;

    if (c->ping_unanswered) {
        micro_log_warn("%s: closing an HTTP/2 connection: keepalive ping "
                       "not answered", c->io->server->opts.name);
        micro_h2_close(c);
        return;
    }
    c->ping_unanswered = 1;
    nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL);
    micro_h2_flush(c);
    uv_timer_start(&c->ping, micro_h2_on_ping,
                   (uint64_t) (ms < MICRO_GRPC_KEEPALIVE_ACK
                               ? ms : MICRO_GRPC_KEEPALIVE_ACK), 0);
}


/* --- streams ----------------------------------------------------------- */

static void
micro_h2_stream_on_closed(uv_handle_t *h)
{
    micro_h2_stream_t  *hs = h->data;
    micro_h2_conn_t    *c = hs->conn;

    micro_grpc_reader_free(&hs->rd);
    micro_buf_free(&hs->out);
    if (hs->r) {
        micro_request_free(hs->r);
    }
    free(hs);
    if (--c->nstreams == 0) {
        if (c->handles == 0) {
            micro_h2_conn_free(c);
        } else {
            micro_h2_idle_check(c);
        }
    }
}


/* nghttp2 is done with it and no worker has it: gone. */
void
micro_h2_stream_free(micro_h2_stream_t *hs)
{
    micro_h2_conn_t  *c = hs->conn;

    if (hs->prev) {
        hs->prev->next = hs->next;
    } else if (c->streams == hs) {
        c->streams = hs->next;
    }
    if (hs->next) {
        hs->next->prev = hs->prev;
    }
    hs->prev = hs->next = NULL;
    pthread_mutex_lock(&c->lock);
    if (hs->woken) {
        micro_h2_stream_t  **p;

        for (p = &c->woken; *p; p = &(*p)->wake_next) {
            if (*p == hs) {
                *p = hs->wake_next;
                break;
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    uv_close((uv_handle_t *) &hs->timer, micro_h2_stream_on_closed);
}


static void
micro_h2_on_wake(uv_async_t *a)
{
    int                 cancel;
    size_t              consumed;
    micro_stream_t     *st;
    micro_h2_conn_t    *c = a->data;
    micro_h2_stream_t  *hs, *next;

    pthread_mutex_lock(&c->lock);
    hs = c->woken;
    c->woken = NULL;
    for (next = hs; next; next = next->wake_next) {
        next->woken = 0;
    }
    pthread_mutex_unlock(&c->lock);

    for ( ; hs; hs = next) {
        next = hs->wake_next;
        st = hs->st;
        if (st == NULL || hs->closed) {
            continue;
        }
        consumed = micro_stream_window(st, 0, &hs->held);
        pthread_mutex_lock(&st->lock);
        cancel = st->cancel;
        pthread_mutex_unlock(&st->lock);
        if (consumed) {
            nghttp2_session_consume_stream(c->session, hs->id, consumed);
        }
        if (cancel) {
            nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, hs->id,
                                      NGHTTP2_CANCEL);
        } else {
            nghttp2_session_resume_data(c->session, hs->id);
        }
    }
    micro_h2_flush(c);
}


static int
micro_h2_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame,
    void *arg)
{
    micro_h2_conn_t    *c = arg;
    micro_h2_stream_t  *hs;

    if (frame->hd.type != NGHTTP2_HEADERS
        || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    {
        return 0;
    }
    hs = calloc(1, sizeof(*hs));
    if (hs) {
        hs->r = calloc(1, sizeof(micro_request_t));
    }
    if (hs == NULL || hs->r == NULL) {
        free(hs);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    hs->conn = c;
    hs->id = frame->hd.stream_id;
    hs->r->conn = hs;
    hs->r->server = c->io->server;
    uv_timer_init(&c->io->loop, &hs->timer);
    hs->timer.data = hs;
    c->nstreams++;
    hs->next = c->streams;
    if (c->streams) {
        c->streams->prev = hs;
    }
    c->streams = hs;
    nghttp2_session_set_stream_user_data(session, hs->id, hs);
    micro_h2_idle_check(c);
    return 0;
}


static int
micro_h2_on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *arg)
{
    micro_request_t    *r;
    micro_h2_stream_t  *hs;

    (void) flags;
    (void) arg;
    if (frame->hd.type != NGHTTP2_HEADERS
        || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    {
        return 0;                               /* trailers: not used */
    }
    hs = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (hs == NULL || hs->r == NULL) {
        return 0;
    }
    r = hs->r;
    hs->header_bytes += namelen + valuelen + 32;
    if (hs->header_bytes > MICRO_GRPC_MAX_METADATA) {
        if (r->status == 0) {
            micro_request_set_error(r, "go.micro.server", 413, "request "
                                    "headers over the limit of %d bytes",
                                    MICRO_GRPC_MAX_METADATA);
        }
        return 0;
    }
    return micro_request_add_header(r, (const char *) name, namelen,
                                    (const char *) value, valuelen)
           == MICRO_OK ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}


static int
micro_h2_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
    void *arg)
{
    micro_h2_conn_t    *c = arg;
    micro_h2_stream_t  *hs;
    int                 ms;

    switch (frame->hd.type) {
    case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
            c->ping_unanswered = 0;
            ms = c->io->server->opts.keepalive_ms;
            if (ms > 0) {
                uv_timer_start(&c->ping, micro_h2_on_ping, (uint64_t) ms, 0);
            }
        }
        return 0;
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA:
        break;
    default:
        return 0;
    }
    hs = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (hs == NULL) {
        return 0;
    }
    if (frame->hd.type == NGHTTP2_HEADERS && !hs->routed
        && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    {
        micro_h2_route(hs);
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        micro_h2_request_end(hs);
    }
    return 0;
}


static int
micro_h2_on_data(nghttp2_session *session, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *arg)
{
    int                 rc;
    size_t              n, max;
    micro_h2_stream_t  *hs;

    (void) flags;
    (void) arg;
    nghttp2_session_consume_connection(session, len);
    hs = nghttp2_session_get_stream_user_data(session, id);
    if (hs == NULL || (hs->st == NULL && hs->replied)) {
        nghttp2_session_consume_stream(session, id, len);
        return 0;                           /* answered: discarded */
    }
    max = hs->conn->io->server->opts.max_body;
    if (hs->st == NULL) {
        nghttp2_session_consume_stream(session, id, len);
        hs->body_bytes += len;
        if (hs->body_bytes > max + MICRO_GRPC_HEADER_LEN) {
            micro_request_set_error(hs->r, "go.micro.server", 413, "request "
                                    "message over the limit of %zu bytes",
                                    max);
            uv_timer_stop(&hs->timer);
            micro_h2_refuse(hs);
            return 0;
        }
        return micro_buf_append(&hs->rd.in, data, len) == MICRO_OK
               ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }

    rc = micro_stream_on_data(hs->st, &hs->rd, data, len, &hs->held, &n);
    if (n) {
        nghttp2_session_consume_stream(session, id, n);
    }
    if (rc == -3) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (rc == -1) {
        micro_h2_stream_fail(hs, MICRO_EINVAL, 501, "compressed messages "
                             "are not supported");
    } else if (rc == -2) {
        micro_h2_stream_fail(hs, MICRO_ETOOBIG, 413, "a request message is "
                             "over the limit");
    }
    return 0;
}


/*
 * The status is out while the caller is still sending: as gRPC servers
 * do, RST_STREAM(NO_ERROR) tells it to stop (after the trailers, so
 * they are not lost).
 */
static int
micro_h2_on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
    void *arg)
{
    micro_h2_stream_t  *hs;

    (void) arg;
    if (frame->hd.type != NGHTTP2_HEADERS
        || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    {
        return 0;
    }
    hs = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (hs && !hs->in_ended) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, hs->id,
                                  NGHTTP2_NO_ERROR);
    }
    return 0;
}


static int
micro_h2_on_stream_close(nghttp2_session *session, int32_t id,
    uint32_t error_code, void *arg)
{
    micro_h2_stream_t  *hs;

    (void) error_code;
    hs = nghttp2_session_get_stream_user_data(session, id);
    if (hs) {
        micro_h2_stream_closed(hs);
        micro_h2_idle_check(arg);
    }
    return 0;
}


/* --- the connection ---------------------------------------------------- */

static nghttp2_session_callbacks  *micro_h2_callbacks;
static nghttp2_option             *micro_h2_option;
static pthread_once_t              micro_h2_once = PTHREAD_ONCE_INIT;


static void
micro_h2_init(void)
{
    nghttp2_session_callbacks  *cb;

    if (nghttp2_session_callbacks_new(&cb) != 0
        || nghttp2_option_new(&micro_h2_option) != 0)
    {
        return;
    }
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb,
        micro_h2_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, micro_h2_on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
        micro_h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
        micro_h2_on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb,
        micro_h2_on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb,
        micro_h2_on_frame_send);
    /* windows are given back as calls take their messages */
    nghttp2_option_set_no_auto_window_update(micro_h2_option, 1);
    micro_h2_callbacks = cb;
}


/* nghttp2 copies what it keeps: one read buffer serves a thread's loop */
static __thread char  micro_h2_buf[65536];


static void
micro_h2_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h;
    (void) suggested;
    buf->base = micro_h2_buf;
    buf->len = sizeof(micro_h2_buf);
}


/* Bytes in: nghttp2 takes them; a peer that breaks HTTP/2 is sent away. */
static void
micro_h2_recv(micro_h2_conn_t *c, const char *data, size_t len)
{
    ssize_t  n;

    n = nghttp2_session_mem_recv(c->session, (const uint8_t *) data, len);
    if (n < 0) {
        uv_read_stop((uv_stream_t *) &c->tcp);
        nghttp2_session_terminate_session(c->session,
                                          NGHTTP2_PROTOCOL_ERROR);
    }
    micro_h2_flush(c);
}


static void
micro_h2_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    micro_h2_conn_t  *c = s->data;

    if (nread < 0) {
        micro_h2_close(c);
        return;
    }
    if (nread > 0) {
        micro_h2_recv(c, buf->base, (size_t) nread);
    }
}


int
micro_grpc_server_adopt(micro_io_t *io, int fd, const char *bytes,
    size_t len)
{
    micro_h2_conn_t          *c;
    micro_server_t           *s = io->server;
    nghttp2_settings_entry    settings[] = {
        { NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MICRO_GRPC_MAX_STREAMS },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, MICRO_GRPC_WINDOW },
        { NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MICRO_GRPC_MAX_METADATA }
    };

    pthread_once(&micro_h2_once, micro_h2_init);
    if (micro_h2_callbacks == NULL) {
        return micro_error_set(MICRO_ENOMEM, "cannot set up nghttp2");
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return micro_error_set(MICRO_ENOMEM, "out of memory");
    }
    if (nghttp2_session_server_new2(&c->session, micro_h2_callbacks, c,
                                    micro_h2_option) != 0)
    {
        free(c);
        return micro_error_set(MICRO_ENOMEM, "cannot set up nghttp2");
    }
    c->io = io;
    pthread_mutex_init(&c->lock, NULL);
    uv_tcp_init(&io->loop, &c->tcp);
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        /* the handle closes, and the descriptor is still the caller's */
        c->tcp.data = c;
        c->handles = 1;
        uv_close((uv_handle_t *) &c->tcp, micro_h2_on_handle_closed);
        return micro_error_set(MICRO_EINVAL, "cannot take the connection");
    }
    uv_timer_init(&io->loop, &c->idle);
    uv_timer_init(&io->loop, &c->ping);
    uv_async_init(&io->loop, &c->wake, micro_h2_on_wake);
    uv_check_init(&io->loop, &c->later);
    c->tcp.data = c->idle.data = c->ping.data = c->wake.data = c;
    c->later.data = c;
    c->handles = 5;
    __atomic_add_fetch(&s->nconns, 1, __ATOMIC_RELAXED);
    c->next = io->grpc_conns;
    if (c->next) {
        c->next->prev = c;
    }
    io->grpc_conns = c;

    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings,
                            sizeof(settings) / sizeof(settings[0]));
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
                                          MICRO_GRPC_CONN_WINDOW);
    micro_h2_idle_check(c);
    if (s->opts.keepalive_ms > 0) {
        uv_timer_start(&c->ping, micro_h2_on_ping,
                       (uint64_t) s->opts.keepalive_ms, 0);
    }
    uv_read_start((uv_stream_t *) &c->tcp, micro_h2_alloc, micro_h2_on_read);
    micro_h2_recv(c, bytes, len);
    return MICRO_OK;
}


/* GOAWAY: no new calls; those in flight finish within the read timeout. */
void
micro_grpc_server_shutdown(micro_io_t *io)
{
    micro_h2_conn_t  *c, *next;

    for (c = io->grpc_conns; c; c = next) {
        next = c->next;
        if (c->closing) {
            continue;
        }
        c->closing = 1;
        uv_timer_stop(&c->ping);
        nghttp2_submit_goaway(c->session, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(
                                  c->session),
                              NGHTTP2_NO_ERROR, NULL, 0);
        uv_timer_start(&c->idle, micro_h2_on_idle,
                       (uint64_t) io->server->opts.read_timeout_ms, 0);
        micro_h2_flush(c);
    }
}
