/*
 * A gRPC call on the server, from its headers to its status: routing by
 * :path, the deadline, a unary call read whole and run as a micro
 * transport call is (a worker, or in place), a stream's handler on a
 * thread of its own with the stream object between it and the I/O
 * thread, and the reply: headers, messages, trailers.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "micro/error.h"
#include "core/clock.h"
#include "transport/grpc_server.h"

static void micro_h2_reply(micro_h2_stream_t *hs);
static void micro_h2_on_stream_timer(uv_timer_t *t);


/* Called by the stream's user under its lock: the I/O thread has work. */
static void
micro_h2_stream_wake(micro_stream_t *st)
{
    micro_h2_stream_t  *hs = st->io;
    micro_h2_conn_t    *c = hs->conn;

    pthread_mutex_lock(&c->lock);
    if (!hs->woken) {
        hs->woken = 1;
        hs->wake_next = c->woken;
        c->woken = hs;
    }
    pthread_mutex_unlock(&c->lock);
    uv_async_send(&c->wake);
}


/* A call's status in trailers (or trailers only, before any headers). */
static void
micro_h2_submit_status(micro_h2_stream_t *hs, int code,
    const micro_rpc_error_t *err)
{
    int               status;
    char              num[8];
    size_t            n = 0;
    nghttp2_nv        nv[6];
    micro_buf_t       msg = { 0 }, json = { 0 };
    micro_h2_conn_t  *c = hs->conn;

    status = code == 200 ? MICRO_GRPC_OK : micro_grpc_status_from_code(code);
    snprintf(num, sizeof(num), "%d", status);
    if (!hs->replied) {
        nv[n++] = (nghttp2_nv) MICRO_NV(":status", "200", 3);
        nv[n++] = (nghttp2_nv) MICRO_NV("content-type", hs->json
                                        ? "application/grpc+json"
                                        : "application/grpc",
                                        hs->json ? 21 : 16);
    }
    nv[n++] = (nghttp2_nv) MICRO_NV("grpc-status", num, strlen(num));
    if (status != MICRO_GRPC_OK) {
        micro_grpc_message_encode(err->detail, &msg);
        micro_rpc_error_json(err, &json);
        nv[n++] = (nghttp2_nv) MICRO_NV("grpc-message", msg.data
                                        ? (char *) msg.data : "", msg.len);
        nv[n++] = (nghttp2_nv) MICRO_NV("micro-error", json.data
                                        ? (char *) json.data : "", json.len);
    }
    if (hs->replied) {
        nghttp2_submit_trailer(c->session, hs->id, nv, n);
    } else {
        hs->replied = 1;
        nghttp2_submit_response(c->session, hs->id, nv, n, NULL);
    }
    micro_buf_free(&msg);
    micro_buf_free(&json);
}


/* An error before any reply: trailers only (on_frame_send stops the
 * request's upload once they are out). */
void
micro_h2_refuse(micro_h2_stream_t *hs)
{
    micro_h2_submit_status(hs, hs->r->status, &hs->r->error);
}


static ssize_t
micro_h2_read_reply(nghttp2_session *session, int32_t id, uint8_t *buf,
    size_t length, uint32_t *flags, nghttp2_data_source *source, void *arg)
{
    int                 eof = 0, finished = 0, code = 200;
    size_t              n;
    ssize_t             got;
    micro_rpc_error_t   err;
    micro_h2_stream_t  *hs = source->ptr;

    (void) session;
    (void) id;
    (void) arg;
    if (hs->st == NULL) {
        n = hs->out.len - hs->out_pos;
        if (n > length) {
            n = length;
        }
        if (n) {
            memcpy(buf, hs->out.data + hs->out_pos, n);
        }
        hs->out_pos += n;
        got = (ssize_t) n;
        eof = hs->out_pos == hs->out.len;
        finished = 1;
        memset(&err, 0, sizeof(err));
    } else {
        got = micro_stream_take_output(hs->st, buf, length, &eof);
        pthread_mutex_lock(&hs->st->lock);
        finished = hs->st->done;
        code = hs->st->error.code ? hs->st->error.code : 200;
        err = hs->st->error;
        pthread_mutex_unlock(&hs->st->lock);
        if (got < 0) {
            if (!finished) {
                return NGHTTP2_ERR_DEFERRED;
            }
            got = 0;
            eof = 1;
        }
    }
    if (eof && finished) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        micro_h2_submit_status(hs, code, &err);
    } else if (eof && got == 0) {
        return NGHTTP2_ERR_DEFERRED;       /* closed, the status to come */
    }
    return got;
}


/* Headers and a data source: a unary reply or the stream's replies. */
static void
micro_h2_submit_response(micro_h2_stream_t *hs, const micro_metadata_t *md)
{
    size_t                  i, n = 0;
    nghttp2_nv             *nv;
    nghttp2_data_provider   prd;

    nv = calloc(2 + (md ? md->len : 0), sizeof(*nv));
    if (nv == NULL) {
        nghttp2_submit_rst_stream(hs->conn->session, NGHTTP2_FLAG_NONE,
                                  hs->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    nv[n++] = (nghttp2_nv) MICRO_NV(":status", "200", 3);
    nv[n++] = (nghttp2_nv) MICRO_NV("content-type", hs->json
                                    ? "application/grpc+json"
                                    : "application/grpc",
                                    hs->json ? 21 : 16);
    for (i = 0; md && i < md->len; i++) {
        nv[n].name = (uint8_t *) md->items[i].key;
        nv[n].namelen = strlen(md->items[i].key);
        nv[n].value = (uint8_t *) md->items[i].value;
        nv[n].valuelen = strlen(md->items[i].value);
        nv[n].flags = NGHTTP2_NV_FLAG_NONE;
        n++;
    }
    prd.source.ptr = hs;
    prd.read_callback = micro_h2_read_reply;
    hs->replied = 1;
    nghttp2_submit_response(hs->conn->session, hs->id, nv, n, &prd);
    free(nv);
}


/* The unary call has been decided: its reply, or its error. */
static void
micro_h2_reply(micro_h2_stream_t *hs)
{
    micro_request_t  *r = hs->r;
    uint8_t           prefix[MICRO_GRPC_HEADER_LEN];

    uv_timer_stop(&hs->timer);
    if (r->status != 200) {
        micro_h2_submit_status(hs, r->status, &r->error);
        return;
    }
    micro_grpc_prefix(prefix, r->reply.len);
    if (micro_buf_append(&hs->out, prefix, sizeof(prefix)) != MICRO_OK
        || micro_buf_append(&hs->out, r->reply.data, r->reply.len)
           != MICRO_OK)
    {
        micro_request_set_error(r, "go.micro.server", 500, "out of memory");
        micro_h2_submit_status(hs, r->status, &r->error);
        return;
    }
    micro_h2_submit_response(hs, &r->reply_headers);
}


static void
micro_h2_work(uv_work_t *w)
{
    micro_request_execute(w->data);
}


static void
micro_h2_after_work(uv_work_t *w, int status)
{
    micro_request_t    *r = w->data;
    micro_h2_stream_t  *hs = r->conn;
    micro_h2_conn_t    *c = hs->conn;

    (void) status;
    hs->working = 0;
    if (hs->closed) {
        micro_h2_stream_free(hs);        /* the client went away */
        return;
    }
    if (!hs->replied) {                  /* else its deadline answered */
        micro_h2_reply(hs);
    }
    micro_h2_flush_later(c);
}


/* The request's one message, read whole: run it. */
static void
micro_h2_unary(micro_h2_stream_t *hs)
{
    int               rc;
    size_t            len;
    const uint8_t    *msg;
    micro_request_t  *r = hs->r;

    rc = micro_grpc_read(&hs->rd, r->server->opts.max_body, &msg, &len);
    if (rc == 1 && hs->rd.pos == hs->rd.in.len) {
        /* the message alone is the body */
        memmove(hs->rd.in.data, msg, len);
        r->body = hs->rd.in;
        r->body.len = len;
        memset(&hs->rd, 0, sizeof(hs->rd));
    } else if (rc == -1) {
        micro_request_set_error(r, "go.micro.server", 501, "compressed "
                                "messages are not supported");
    } else {
        micro_request_set_error(r, "go.micro.server", 400, "a unary call "
                                "takes exactly one request message");
    }
    /* read: from now on only the deadline counts */
    uv_timer_stop(&hs->timer);
    if (r->deadline) {
        uv_timer_start(&hs->timer, micro_h2_on_stream_timer, (uint64_t)
                       (r->deadline > micro_now_ms()
                        ? r->deadline - micro_now_ms() : 0), 0);
    }
    if (r->status || r->server->opts.workers == 0) {
        micro_request_execute(r);
        micro_h2_reply(hs);
        return;
    }
    r->work.data = r;
    hs->working = 1;
    if (uv_queue_work(&hs->conn->io->loop, &r->work, micro_h2_work,
                      micro_h2_after_work) != 0)
    {
        hs->working = 0;
        micro_request_set_error(r, "go.micro.server", 503, "cannot queue "
                                "the request");
        micro_h2_reply(hs);
    }
}


/* A stream's handler, on its own thread. */
static void *
micro_h2_stream_thread(void *arg)
{
    int               rc, code;
    micro_stream_t   *st = arg;
    micro_request_t  *r = st->request;
    micro_server_t   *s = r->server;

    rc = r->endpoint->stream(r, st, r->endpoint->data);
    code = rc == 0 ? 200 : r->status ? r->status : 500;
    if (rc != 0 && r->status == 0) {
        micro_request_set_error(r, s->opts.name, 500, "handler %s failed",
                                r->endpoint->name);
    }
    pthread_mutex_lock(&st->lock);
    st->out_closed = 1;
    if (!st->done) {
        st->done = 1;
        st->result = rc == 0 ? MICRO_OK : MICRO_EREMOTE;
        if (code != 200) {
            st->error = r->error;
        }
    }
    if (st->io) {
        st->wake(st);
    }
    st->request = NULL;
    pthread_mutex_unlock(&st->lock);
    micro_stream_release(st);
    micro_request_free(r);
    __atomic_sub_fetch(&s->streams, 1, __ATOMIC_RELEASE);
    return NULL;
}


/* A stream endpoint: the replies' headers now, the handler on a thread. */
static void
micro_h2_stream_start(micro_h2_stream_t *hs)
{
    pthread_t             tid;
    pthread_attr_t        attr;
    micro_stream_t       *st;
    micro_request_t      *r = hs->r;
    const micro_endpoint_handler_t  *ep = r->endpoint;

    st = micro_stream_new(r->server->opts.max_body, r->json, ep->request,
                          r->deadline);
    if (st == NULL) {
        micro_request_set_error(r, "go.micro.server", 503, "out of memory");
        micro_h2_refuse(hs);
        return;
    }
    st->recv_pb = ep->request_type;
    st->send_pb = ep->response_type;
    st->request = r;
    st->wake = micro_h2_stream_wake;
    st->io = hs;
    st->refs = 2;                       /* the handler's and ours */
    hs->st = st;

    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    __atomic_add_fetch(&r->server->streams, 1, __ATOMIC_ACQUIRE);
    hs->r = NULL;                        /* the thread's now */
    if (pthread_create(&tid, &attr, micro_h2_stream_thread, st) != 0) {
        __atomic_sub_fetch(&r->server->streams, 1, __ATOMIC_RELEASE);
        hs->r = r;
        hs->st = NULL;
        st->io = NULL;
        st->refs = 1;
        st->request = NULL;
        micro_stream_release(st);
        micro_request_set_error(r, "go.micro.server", 503, "cannot start a "
                                "thread for the stream");
        micro_h2_refuse(hs);
    } else {
        r->conn = NULL;
        micro_h2_submit_response(hs, NULL);
    }
    pthread_attr_destroy(&attr);
}


/* --- reading calls ----------------------------------------------------- */

/* nghttp2 closed the stream, or the connection went: let go of it. */
void
micro_h2_stream_closed(micro_h2_stream_t *hs)
{
    micro_rpc_error_t  err;

    if (hs->closed) {
        return;
    }
    hs->closed = 1;
    nghttp2_session_set_stream_user_data(hs->conn->session, hs->id, NULL);
    if (hs->st) {
        micro_rpc_error_set(&err, "go.micro.server", 499, "the caller "
                            "cancelled the stream");
        micro_stream_on_finish(hs->st, MICRO_ECLOSED, &err);
        micro_stream_detach(hs->st);
        hs->st = NULL;
    }
    if (hs->r) {
        __atomic_store_n(&hs->r->cancelled, 1, __ATOMIC_RELEASE);
    }
    if (!hs->working) {
        micro_h2_stream_free(hs);
    }
}


static void
micro_h2_on_stream_timer(uv_timer_t *t)
{
    micro_h2_stream_t  *hs = t->data;
    micro_request_t    *r = hs->r;
    micro_rpc_error_t   err;
    int                 late = 0;

    if (hs->st) {
        micro_rpc_error_set(&err, "go.micro.server", 408, "deadline "
                            "exceeded");
        micro_stream_on_finish(hs->st, MICRO_ETIMEDOUT, &err);
        nghttp2_session_resume_data(hs->conn->session, hs->id);
    } else if (r && !hs->replied) {
        late = r->deadline && micro_now_ms() >= r->deadline;
        if (late || !hs->working) {
            if (late) {
                micro_request_set_error(r, "go.micro.server", 408, "deadline "
                                        "exceeded");
            } else {
                micro_request_set_error(r, "go.micro.server", 408, "request "
                                        "timeout: the request did not arrive "
                                        "within %d ms",
                                        r->server->opts.read_timeout_ms);
            }
            __atomic_store_n(&r->cancelled, 1, __ATOMIC_RELEASE);
            micro_h2_refuse(hs);
        }
    }
    micro_h2_flush(hs->conn);
}


/* The request's headers are in: decide what the call is. */
void
micro_h2_route(micro_h2_stream_t *hs)
{
    int64_t           ms;
    const char       *path, *ct, *timeout, *name;
    micro_request_t  *r = hs->r;
    micro_server_t   *s = r->server;

    hs->routed = 1;
    path = micro_request_header(r, ":path");
    ct = micro_request_header(r, "content-type");
    timeout = micro_request_header(r, "grpc-timeout");
    hs->json = r->json = ct && strncasecmp(ct, "application/grpc+json", 21)
                               == 0;
    if (timeout) {
        ms = micro_grpc_timeout_parse(timeout, strlen(timeout));
        if (ms >= 0) {
            r->deadline = micro_now_ms() + ms;
        }
    }
    if (r->status) {
        /* decided while reading the headers */
    } else if (ct == NULL || strncasecmp(ct, "application/grpc", 16) != 0
               || (ct[16] != '\0' && ct[16] != '+' && ct[16] != ';'))
    {
        micro_request_set_error(r, "go.micro.server", 415, "unsupported "
                                "Content-Type \"%s\"", ct ? ct : "");
    } else if (strcmp(micro_request_header(r, ":method") ?: "", "POST")
               != 0)
    {
        micro_request_set_error(r, "go.micro.server", 405, "method not "
                                "allowed");
    } else if ((name = micro_request_grpc_endpoint(r, path)) == NULL) {
        micro_request_set_error(r, "go.micro.server", 501, "no such method "
                                "%s", path ? path : "");
    } else if (strcmp(path, "/grpc.health.v1.Health/Check") == 0) {
        /* gRPC's own health check: HealthCheckResponse{status: SERVING} */
        r->endpoint_name = "Debug.Health";
        micro_buf_append(&r->reply, "\x08\x01", 2);
        r->status = 200;
    } else {
        micro_request_find(r, name);
        if (r->status == 404) {
            micro_request_set_error(r, "go.micro.server", 501, "unknown "
                                    "method %s", path);
        }
    }

    if (r->status && r->status != 200) {
        micro_h2_refuse(hs);
        return;
    }
    if (r->endpoint && r->endpoint->stream) {
        micro_h2_stream_start(hs);
        if (r->deadline && hs->st) {
            uv_timer_start(&hs->timer, micro_h2_on_stream_timer,
                           (uint64_t) (r->deadline - micro_now_ms()), 0);
        }
        return;
    }
    ms = s->opts.read_timeout_ms;
    if (r->deadline && r->deadline - micro_now_ms() < ms) {
        ms = r->deadline - micro_now_ms();
    }
    uv_timer_start(&hs->timer, micro_h2_on_stream_timer,
                   (uint64_t) (ms > 0 ? ms : 0), 0);
}


/* The caller has sent its last message. */
void
micro_h2_request_end(micro_h2_stream_t *hs)
{
    hs->in_ended = 1;
    if (hs->st) {
        micro_stream_on_end(hs->st);
    } else if (hs->r && !hs->replied && !hs->working) {
        micro_h2_unary(hs);
    }
}


/* A stream's message that cannot be taken: the call ends with err. */
void
micro_h2_stream_fail(micro_h2_stream_t *hs, int result, int code,
    const char *why)
{
    micro_rpc_error_t  err;

    micro_rpc_error_set(&err, "go.micro.server", code, "%s", why);
    micro_stream_on_finish(hs->st, result, &err);
    nghttp2_session_resume_data(hs->conn->session, hs->id);
}
