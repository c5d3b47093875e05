/*
 * micro's HTTP/1.1 transport, server side: requests parsed with
 * http-parser, pipelined requests answered in order, keepalive, read and
 * idle timeouts, the connection limit, and the hand-off of each call to
 * the RPC layer (a worker thread, or in place).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <http_parser.h>

#include "micro/error.h"
#include "micro/pb_wire.h"
#include "rpc/server_internal.h"
#include "transport/grpc.h"

#define MICRO_SERVER_PIPELINE  64      /* queued requests per connection */
#define MICRO_SERVER_HEADERS   100     /* headers per request */
#define MICRO_SERVER_LINGER_TIMEOUT  5000    /* ms between reads, and */
#define MICRO_SERVER_LINGER_TIME     30000   /* in all (NGINX's lingering) */

typedef struct micro_conn_s  micro_conn_t;

struct micro_conn_s {
    micro_io_t                        *io;
    uv_tcp_t                           tcp;
    uv_timer_t                         timer;       /* read or idle */
    http_parser                        parser;
    micro_request_t                   *parsing;
    micro_request_t                   *head;
    micro_request_t                   *tail;
    size_t                             queued;
    size_t                             working;     /* in worker threads */
    int                                closing;
    int                                closed;
    int                                refused;     /* close by lingering */
    int                                lingering;
    uint64_t                           linger_until;
    uv_shutdown_t                      shutdown;
    int                                reading;
    int                                served;      /* read HTTP/1.1 */
    int                                header_state; /* 1 field, 2 value */
    micro_buf_t                        field;
    micro_buf_t                        value;
    micro_conn_t                      *prev;
    micro_conn_t                      *next;
};


static int micro_conn_on_message_begin(http_parser *p);
static int micro_conn_on_header_field(http_parser *p, const char *at,
    size_t len);
static int micro_conn_on_header_value(http_parser *p, const char *at,
    size_t len);
static int micro_conn_on_headers_complete(http_parser *p);
static int micro_conn_on_body(http_parser *p, const char *at, size_t len);
static int micro_conn_on_message_complete(http_parser *p);
static void micro_conn_flush(micro_conn_t *c);
static void micro_conn_reject(micro_conn_t *c);
static void micro_conn_on_read(uv_stream_t *s, ssize_t nread,
    const uv_buf_t *buf);

static const http_parser_settings  micro_conn_settings = {
    .on_message_begin = micro_conn_on_message_begin,
    .on_header_field = micro_conn_on_header_field,
    .on_header_value = micro_conn_on_header_value,
    .on_headers_complete = micro_conn_on_headers_complete,
    .on_body = micro_conn_on_body,
    .on_message_complete = micro_conn_on_message_complete,
};

typedef struct {
    uv_write_t       req;
    uv_buf_t         buf;
    micro_conn_t    *conn;
    int              close;
} micro_write_t;


static void
micro_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void) h;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}


static void
micro_conn_free(micro_conn_t *c)
{
    micro_request_t  *r, *next;

    for (r = c->head; r; r = next) {
        next = r->next;
        micro_request_free(r);
    }
    if (c->parsing) {
        micro_request_free(c->parsing);
    }
    micro_buf_free(&c->field);
    micro_buf_free(&c->value);
    free(c);
}


/* Both handles closed: the connection is gone but for work in flight. */
static void
micro_conn_on_closed(uv_handle_t *h)
{
    micro_conn_t  *c = h->data;

    c->closed = 1;
    __atomic_sub_fetch(&c->io->server->nconns, 1, __ATOMIC_RELAXED);
    if (c->prev) {
        c->prev->next = c->next;
    } else if (c->io->conns == c) {
        c->io->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;

    /* requests in worker threads come back to a closed connection */
    if (c->working == 0) {
        micro_conn_free(c);
    }
}


static void
micro_conn_on_close(uv_handle_t *h)
{
    micro_conn_t  *c = h->data;

    uv_close((uv_handle_t *) &c->timer, micro_conn_on_closed);
}


static void
micro_conn_close(micro_conn_t *c)
{
    if (!c->closing) {
        c->closing = 1;
    }
    if (!uv_is_closing((uv_handle_t *) &c->tcp)) {
        uv_close((uv_handle_t *) &c->tcp, micro_conn_on_close);
    }
}


/* Closes now if nothing is pending, else after the last reply. */
static void
micro_conn_shutdown(micro_conn_t *c)
{
    c->closing = 1;
    if (c->head == NULL && c->parsing == NULL) {
        micro_conn_close(c);
    }
}


static micro_request_t *
micro_request_new(micro_conn_t *c)
{
    micro_request_t  *r;

    r = calloc(1, sizeof(*r));
    if (r) {
        r->conn = c;
        r->server = c->io->server;
    }
    return r;
}


/* Appends r to the connection's queue of requests awaiting replies. */
static void
micro_conn_enqueue(micro_conn_t *c, micro_request_t *r)
{
    if (c->tail) {
        c->tail->next = r;
    } else {
        c->head = r;
    }
    c->tail = r;
    c->queued++;
}


/*
 * The connection's one timer: the request being read must arrive within
 * read_timeout_ms (a 408 then), a kept connection waits idle_timeout_ms
 * for its next request; none while handlers run.
 */
static void
micro_conn_on_timeout(uv_timer_t *t)
{
    micro_conn_t     *c = t->data;
    micro_request_t  *r = c->parsing;

    if (r == NULL) {
        micro_conn_close(c);
        return;
    }
    uv_read_stop((uv_stream_t *) &c->tcp);
    c->reading = 0;
    micro_request_set_error(r, "go.micro.server", 408, "request timeout: "
                            "the request did not arrive within %d ms",
                            r->server->opts.read_timeout_ms);
    micro_conn_reject(c);
}


static void
micro_conn_wait(micro_conn_t *c, int ms)
{
    uv_timer_start(&c->timer, micro_conn_on_timeout, (uint64_t) ms, 0);
}


static int
micro_conn_on_message_begin(http_parser *p)
{
    micro_conn_t  *c = p->data;

    micro_conn_wait(c, c->io->server->opts.read_timeout_ms);
    c->parsing = micro_request_new(c);
    c->header_state = 0;
    return c->parsing ? 0 : -1;
}


/* Stores the header collected so far. */
static int
micro_conn_header_done(micro_conn_t *c)
{
    micro_request_t  *r = c->parsing;

    if (c->header_state != 2) {
        return 0;
    }
    c->header_state = 0;
    if (r->headers.len == MICRO_SERVER_HEADERS) {
        micro_request_set_error(r, "go.micro.server", 400, "too many "
                                "headers");
        return -1;
    }
    return micro_request_add_header(r, (char *) c->field.data, c->field.len,
                                    (char *) c->value.data, c->value.len)
           == MICRO_OK ? 0 : -1;
}


static int
micro_conn_on_header_field(http_parser *p, const char *at, size_t len)
{
    micro_conn_t  *c = p->data;

    if (c->header_state == 2 && micro_conn_header_done(c) != 0) {
        return -1;
    }
    if (c->header_state == 0) {
        c->field.len = 0;
        c->value.len = 0;
        c->header_state = 1;
    }
    return micro_buf_append(&c->field, at, len) == MICRO_OK ? 0 : -1;
}


static int
micro_conn_on_header_value(http_parser *p, const char *at, size_t len)
{
    micro_conn_t  *c = p->data;

    c->header_state = 2;
    return micro_buf_append(&c->value, at, len) == MICRO_OK ? 0 : -1;
}


static int
micro_conn_on_headers_complete(http_parser *p)
{
    micro_conn_t     *c = p->data;
    micro_request_t  *r = c->parsing;
    size_t            max = r->server->opts.max_body;

    if (micro_conn_header_done(c) != 0) {
        return -1;
    }
    r->keep_alive = http_should_keep_alive(p);
    if (p->method != HTTP_POST) {
        micro_request_set_error(r, "go.micro.server", 405, "method %s not "
                                "allowed", http_method_str(p->method));
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > max) {
        micro_request_set_error(r, "go.micro.server", 413, "request body of "
                                "%llu bytes is over the limit of %zu",
                                (unsigned long long) p->content_length, max);
        return -1;
    }
    if ((p->flags & F_CONTENTLENGTH)
        && micro_buf_reserve(&r->body, p->content_length) != MICRO_OK)
    {
        return -1;
    }
    return 0;
}


static int
micro_conn_on_body(http_parser *p, const char *at, size_t len)
{
    micro_conn_t     *c = p->data;
    micro_request_t  *r = c->parsing;

    if (r->body.len + len > r->server->opts.max_body) {
        micro_request_set_error(r, "go.micro.server", 413, "request body is "
                                "over the limit of %zu",
                                r->server->opts.max_body);
        return -1;
    }
    return micro_buf_append(&r->body, at, len) == MICRO_OK ? 0 : -1;
}


static void
micro_conn_work(uv_work_t *w)
{
    micro_request_execute(w->data);
}


static void
micro_conn_after_work(uv_work_t *w, int status)
{
    micro_request_t  *r = w->data;
    micro_conn_t     *c = r->conn;

    (void) status;
    c->working--;
    r->done = 1;
    if (uv_is_closing((uv_handle_t *) &c->tcp)) {
        /* both handles closed: the last work frees; else on_closed will */
        if (c->closed && c->working == 0) {
            micro_conn_free(c);           /* frees r, still queued */
        }
        return;
    }
    micro_conn_flush(c);
}


static int
micro_conn_on_message_complete(http_parser *p)
{
    micro_conn_t     *c = p->data;
    micro_request_t  *r = c->parsing;

    c->parsing = NULL;
    uv_timer_stop(&c->timer);
    micro_conn_enqueue(c, r);

    micro_request_route(r);
    if (r->status || r->server->opts.workers == 0) {
        micro_request_execute(r);
        r->done = 1;
    } else {
        r->work.data = r;
        c->working++;
        if (uv_queue_work(&c->io->loop, &r->work, micro_conn_work,
                          micro_conn_after_work) != 0)
        {
            c->working--;
            micro_request_set_error(r, "go.micro.server", 503, "cannot "
                                    "queue the request");
            r->done = 1;
        }
    }
    /* stop after this message when the connection will not be kept */
    if (!r->keep_alive) {
        c->closing = 1;
        http_parser_pause(p, 1);
    }
    return 0;
}


static void
micro_conn_on_linger_timeout(uv_timer_t *t)
{
    micro_conn_close(t->data);
}


/*
 * After a refusal (a 413 with the body still coming, a 400) the client may
 * still be sending: closing with its bytes unread would reset the
 * connection, and a reset can take our reply with it. So shut our side
 * down after the reply and read what comes, discarded, until the client
 * closes, for up to 5 s between reads and 30 s in all, as NGINX's
 * lingering close does.
 */
static void
micro_conn_linger(micro_conn_t *c)
{
    c->lingering = 1;
    c->linger_until = uv_now(&c->io->loop) + MICRO_SERVER_LINGER_TIME;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *) &c->tcp, NULL) != 0) {
        micro_conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, micro_conn_on_linger_timeout,
                   MICRO_SERVER_LINGER_TIMEOUT, 0);
    if (!c->reading
        && uv_read_start((uv_stream_t *) &c->tcp, micro_conn_alloc,
                         micro_conn_on_read) == 0)
    {
        c->reading = 1;
    }
}


static void
micro_conn_on_write(uv_write_t *req, int status)
{
    micro_write_t  *w = (micro_write_t *) req;
    micro_conn_t   *c = w->conn;

    free(w->buf.base);
    if (status != 0) {
        micro_conn_close(c);
    } else if (w->close && c->head == NULL) {
        c->refused ? micro_conn_linger(c) : micro_conn_close(c);
    }
    free(w);
}


/* The handler's headers (micro_request_set_header), "name: value" lines. */
static int
micro_conn_write_headers(micro_buf_t *out, const micro_metadata_t *md)
{
    size_t  i;

    for (i = 0; i < md->len; i++) {
        if (micro_buf_append(out, md->items[i].key, strlen(md->items[i].key))
            != MICRO_OK
            || micro_buf_append(out, ": ", 2) != MICRO_OK
            || micro_buf_append(out, md->items[i].value,
                                strlen(md->items[i].value)) != MICRO_OK
            || micro_buf_append(out, "\r\n", 2) != MICRO_OK)
        {
            return MICRO_ENOMEM;
        }
    }
    return MICRO_OK;
}


/* The status line, headers and body of r, in one buffer. */
static int
micro_conn_write(micro_conn_t *c, micro_request_t *r, int last)
{
    int              n;
    char             head[1024];
    const char      *id, *ct;
    micro_buf_t      out = { 0 }, err = { 0 };
    micro_write_t   *w;

    if (r->status != 200) {
        micro_rpc_error_json(&r->error, &err);
        micro_buf_free(&r->reply);
        r->reply = err;
        memset(&err, 0, sizeof(err));
    }
    ct = r->json || r->status != 200 ? "application/json"
                                     : "application/protobuf";
    id = micro_request_header(r, "Micro-Id");

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "%s%.*s%s"
                 "%s",
                 r->status, micro_http_status_text(r->status), ct,
                 r->reply.len,
                 id ? "Micro-Id: " : "", id ? 200 : 0, id ? id : "",
                 id ? "\r\n" : "",
                 last ? "Connection: close\r\n" : "");
    if (n < 0 || (size_t) n >= sizeof(head)
        || micro_buf_append(&out, head, n) != MICRO_OK
        || (r->status != 200
            && (micro_buf_append(&out, "Micro-Error: ", 13) != MICRO_OK
                || micro_buf_append(&out, r->reply.data, r->reply.len)
                   != MICRO_OK
                || micro_buf_append(&out, "\r\n", 2) != MICRO_OK))
        || micro_conn_write_headers(&out, &r->reply_headers) != MICRO_OK
        || micro_buf_append(&out, "\r\n", 2) != MICRO_OK
        || micro_buf_append(&out, r->reply.data, r->reply.len) != MICRO_OK)
    {
        micro_buf_free(&out);
        return -1;
    }

    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        micro_buf_free(&out);
        return -1;
    }
    w->conn = c;
    w->close = last;
    w->buf = uv_buf_init((char *) out.data, (unsigned) out.len);
    if (uv_write(&w->req, (uv_stream_t *) &c->tcp, &w->buf, 1,
                 micro_conn_on_write) != 0)
    {
        free(w->buf.base);
        free(w);
        return -1;
    }
    return 0;
}



/* Writes the replies that are ready, in request order. */
static void
micro_conn_flush(micro_conn_t *c)
{
    int               last;
    micro_request_t  *r;

    while ((r = c->head) && r->done) {
        c->head = r->next;
        if (c->head == NULL) {
            c->tail = NULL;
        }
        c->queued--;
        last = !r->keep_alive || (c->closing && c->head == NULL);
        if (micro_conn_write(c, r, last) != 0) {
            micro_request_free(r);
            micro_conn_close(c);
            return;
        }
        micro_request_free(r);
        if (last) {
            return;
        }
    }

    /* reading was paused while the pipeline was full */
    if (!c->reading && !c->closing && c->queued < MICRO_SERVER_PIPELINE / 2) {
        c->reading = 1;
        uv_read_start((uv_stream_t *) &c->tcp, micro_conn_alloc,
                      micro_conn_on_read);
    }
    if (c->head == NULL && c->parsing == NULL) {
        if (c->closing) {
            micro_conn_close(c);
        } else {
            micro_conn_wait(c, c->io->server->opts.idle_timeout_ms);
        }
    }
}


/* A request that could not be parsed: 400 (or 413), then close. */
static void
micro_conn_reject(micro_conn_t *c)
{
    micro_request_t  *r = c->parsing;

    if (r == NULL) {
        r = micro_request_new(c);
        if (r == NULL) {
            micro_conn_close(c);
            return;
        }
    }
    c->parsing = NULL;
    if (r->status == 0) {
        micro_request_set_error(r, "go.micro.server", 400, "malformed HTTP "
                                "request: %s",
                                http_errno_description(
                                    HTTP_PARSER_ERRNO(&c->parser)));
    }
    r->json = 1;
    r->keep_alive = 0;
    r->done = 1;
    micro_conn_enqueue(c, r);
    c->closing = 1;
    c->refused = 1;
    micro_conn_flush(c);
}


/* A connection's first bytes are HTTP/2's preface (or the start of it). */
static int
micro_conn_is_http2(const char *data, size_t len)
{
    if (len > MICRO_GRPC_PREFACE_LEN) {
        len = MICRO_GRPC_PREFACE_LEN;
    }
    return len >= 4 && memcmp(data, MICRO_GRPC_PREFACE, len) == 0;
}


/*
 * gRPC on this port: the gRPC transport takes the socket (a duplicate of
 * its descriptor, as a handle cannot move) with the bytes read so far,
 * and this connection closes without touching the socket itself.
 */
static void
micro_conn_hand_over(micro_conn_t *c, const char *data, size_t len)
{
    int  fd = -1;

    uv_read_stop((uv_stream_t *) &c->tcp);
    c->reading = 0;
    if (uv_fileno((uv_handle_t *) &c->tcp, &fd) == 0) {
        fd = dup(fd);
    }
    if (fd < 0 || micro_grpc_server_adopt(c->io, fd, data, len) != MICRO_OK)
    {
        if (fd >= 0) {
            close(fd);
        }
        micro_log_warn("%s: cannot serve an HTTP/2 connection: %s",
                       c->io->server->opts.name, micro_error_detail());
    }
    micro_conn_close(c);
}


static void
micro_conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    size_t         parsed;
    micro_conn_t  *c = s->data;

    if (c->lingering) {
        free(buf->base);
        if (nread < 0 || uv_now(&c->io->loop) >= c->linger_until) {
            micro_conn_close(c);
        } else if (nread > 0) {
            uv_timer_start(&c->timer, micro_conn_on_linger_timeout,
                           MICRO_SERVER_LINGER_TIMEOUT, 0);
        }
        return;
    }
    if (nread < 0) {
        free(buf->base);
        /* the peer went away: finish what is queued, then close */
        uv_read_stop(s);
        c->reading = 0;
        if (c->parsing) {
            micro_request_free(c->parsing);
            c->parsing = NULL;
        }
        micro_conn_shutdown(c);
        return;
    }
    if (nread == 0 || c->closing) {
        free(buf->base);
        return;
    }

    if (!c->served && micro_conn_is_http2(buf->base, (size_t) nread)) {
        micro_conn_hand_over(c, buf->base, (size_t) nread);
        free(buf->base);
        return;
    }
    c->served = 1;
    parsed = http_parser_execute(&c->parser, &micro_conn_settings, buf->base,
                                 (size_t) nread);
    free(buf->base);

    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
        uv_read_stop(s);                  /* the last request of this conn */
        c->reading = 0;
    } else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK
               || c->parser.upgrade || parsed != (size_t) nread)
    {
        uv_read_stop(s);
        c->reading = 0;
        micro_conn_reject(c);
        return;
    }
    if (c->queued >= MICRO_SERVER_PIPELINE && c->reading) {
        uv_read_stop(s);                  /* back-pressure */
        c->reading = 0;
    }
    micro_conn_flush(c);
}


static void
micro_http_on_connection(uv_stream_t *listener, int status)
{
    int              n;
    micro_io_t      *io = listener->data;
    micro_conn_t    *c;
    micro_server_t  *s = io->server;

    if (status == UV_EMFILE || status == UV_ENFILE) {
        micro_io_pause(io, status);
        return;
    }
    if (status != 0 || io->stopping) {
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return;
    }
    c->io = io;
    uv_tcp_init(&io->loop, &c->tcp);
    uv_timer_init(&io->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    n = __atomic_add_fetch(&s->nconns, 1, __ATOMIC_RELAXED);
    if (uv_accept(listener, (uv_stream_t *) &c->tcp) != 0) {
        uv_close((uv_handle_t *) &c->tcp, micro_conn_on_close);
        return;
    }
    if (n > s->opts.max_connections) {
        /* taken and closed at once: the client learns now, not in the
         * backlog, and the fd comes back */
        if (!__atomic_exchange_n(&s->refusing, 1, __ATOMIC_RELAXED)) {
            micro_log_warn("%s: %d connections open, the most "
                           "max_connections allows; closing new ones",
                           s->opts.name, s->opts.max_connections);
        }
        uv_close((uv_handle_t *) &c->tcp, micro_conn_on_close);
        return;
    }
    if (n < s->opts.max_connections * 9 / 10) {
        __atomic_store_n(&s->refusing, 0, __ATOMIC_RELAXED);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;

    c->next = io->conns;
    if (io->conns) {
        ((micro_conn_t *) io->conns)->prev = c;
    }
    io->conns = c;

    c->reading = 1;
    micro_conn_wait(c, s->opts.idle_timeout_ms);
    uv_read_start((uv_stream_t *) &c->tcp, micro_conn_alloc,
                  micro_conn_on_read);
}


static void
micro_http_shutdown(micro_io_t *io)
{
    micro_conn_t  *c, *next;

    for (c = io->conns; c; c = next) {
        next = c->next;
        micro_conn_shutdown(c);
    }
}


const micro_server_transport_t  micro_http_server_transport = {
    "http", micro_http_on_connection, micro_http_shutdown
};
