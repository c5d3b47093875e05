/*
 * micro's HTTP/1.1 transport, client side: a call is a POST with the
 * service, endpoint, id and timeout in Micro-* headers, metadata as
 * headers and the body; the reply's status, body and Micro-Error come
 * back. Connections are kept a node (up to pool_size idle ones) and are
 * non-blocking underneath, so every wait is bounded by the call's
 * deadline.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>

#include "micro/error.h"
#include "micro/pb_wire.h"
#include "core/clock.h"
#include "core/map.h"
#include "transport/transport.h"

typedef struct micro_idle_s  micro_idle_t;

struct micro_idle_s {
    int                        fd;
    micro_idle_t              *next;
};

typedef struct {
    micro_idle_t              *idle;
    size_t                     nidle;
} micro_node_pool_t;

typedef struct {
    micro_transport_t          transport;
    int                        pool_size;
    pthread_mutex_t            lock;
    micro_map_t                pools;      /* address -> micro_node_pool_t */
} micro_http_transport_t;

typedef struct {
    int                        status;
    int                        complete;
    int                        header_state;
    int                        is_error_header;
    micro_buf_t               *body;
    micro_buf_t                error;      /* Micro-Error header */
} micro_http_response_t;


/* --- connections ---------------------------------------------------------- */

static int
micro_pool_get(micro_http_transport_t *t, const char *address)
{
    int                 fd = -1;
    micro_idle_t       *idle;
    micro_node_pool_t  *p;

    pthread_mutex_lock(&t->lock);
    p = micro_map_get(&t->pools, address);
    if (p && p->idle) {
        idle = p->idle;
        p->idle = idle->next;
        p->nidle--;
        fd = idle->fd;
        free(idle);
    }
    pthread_mutex_unlock(&t->lock);
    return fd;
}


static void
micro_pool_put(micro_http_transport_t *t, const char *address, int fd)
{
    micro_idle_t       *idle;
    micro_node_pool_t  *p;

    pthread_mutex_lock(&t->lock);
    p = micro_map_get(&t->pools, address);
    if (p == NULL) {
        p = calloc(1, sizeof(*p));
        if (p && micro_map_set(&t->pools, address, p) != MICRO_OK) {
            free(p);
            p = NULL;
        }
    }
    idle = p && p->nidle < (size_t) t->pool_size
           ? malloc(sizeof(*idle)) : NULL;
    if (idle) {
        idle->fd = fd;
        idle->next = p->idle;
        p->idle = idle;
        p->nidle++;
        fd = -1;
    }
    pthread_mutex_unlock(&t->lock);
    if (fd >= 0) {
        close(fd);
    }
}


static int
micro_wait_fd(int fd, short events, int64_t deadline)
{
    int            rc;
    int64_t        left;
    struct pollfd  pfd;

    for ( ;; ) {
        left = deadline - micro_now_ms();
        if (left <= 0) {
            return 0;
        }
        pfd.fd = fd;
        pfd.events = events;
        rc = poll(&pfd, 1, (int) left);
        if (rc >= 0 || errno != EINTR) {
            return rc;
        }
    }
}


/* A new non-blocking connection to host:port, or -1 (errno set). */
static int
micro_connect(const char *address, int64_t deadline, int *timed_out)
{
    int               fd = -1, one = 1, err = 0;
    char              host[256];
    const char       *colon, *port;
    socklen_t         len = sizeof(err);
    struct addrinfo   hints, *ai, *a;

    *timed_out = 0;
    colon = strrchr(address, ':');
    if (colon == NULL || (size_t) (colon - address) >= sizeof(host)) {
        errno = EINVAL;
        return -1;
    }
    if (address[0] == '[') {
        snprintf(host, sizeof(host), "%.*s", (int) (colon - address - 2),
                 address + 1);
    } else {
        snprintf(host, sizeof(host), "%.*s", (int) (colon - address),
                 address);
    }
    port = colon + 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    for (a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        if (fd < 0) {
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            break;
        }
        if (errno == EINPROGRESS) {
            if (micro_wait_fd(fd, POLLOUT, deadline) <= 0) {
                *timed_out = 1;
                err = ETIMEDOUT;
            } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0
                       && err == 0)
            {
                break;
            }
        } else {
            err = errno;
        }
        close(fd);
        fd = -1;
        if (*timed_out) {
            break;
        }
    }
    freeaddrinfo(ai);
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    } else {
        errno = err ? err : ECONNREFUSED;
    }
    return fd;
}


/* --- one request/response ------------------------------------------------- */

static int
micro_resp_on_status(http_parser *p, const char *at, size_t len)
{
    micro_http_response_t  *r = p->data;

    (void) at;
    (void) len;
    r->status = (int) p->status_code;
    return 0;
}


static int
micro_resp_on_field(http_parser *p, const char *at, size_t len)
{
    micro_http_response_t  *r = p->data;

    /* Micro-Error arrives in one piece in practice; be exact anyway */
    if (r->header_state != 1) {
        r->is_error_header = 0;
    }
    r->header_state = 1;
    r->is_error_header = len == 11 && strncasecmp(at, "Micro-Error", 11) == 0;
    return 0;
}


static int
micro_resp_on_value(http_parser *p, const char *at, size_t len)
{
    micro_http_response_t  *r = p->data;

    r->header_state = 2;
    if (r->is_error_header) {
        return micro_buf_append(&r->error, at, len) == MICRO_OK ? 0 : -1;
    }
    return 0;
}


static int
micro_resp_on_body(http_parser *p, const char *at, size_t len)
{
    micro_http_response_t  *r = p->data;

    return micro_buf_append(r->body, at, len) == MICRO_OK ? 0 : -1;
}


static int
micro_resp_on_complete(http_parser *p)
{
    micro_http_response_t  *r = p->data;

    r->status = (int) p->status_code;
    r->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings  micro_resp_settings = {
    .on_status = micro_resp_on_status,
    .on_header_field = micro_resp_on_field,
    .on_header_value = micro_resp_on_value,
    .on_body = micro_resp_on_body,
    .on_message_complete = micro_resp_on_complete,
};


static int
micro_send_all(int fd, const uint8_t *p, size_t len, int64_t deadline)
{
    ssize_t  n;

    while (len) {
        n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (micro_wait_fd(fd, POLLOUT, deadline) <= 0) {
                return -2;
            }
            continue;
        }
        return -1;
    }
    return 0;
}


/*
 * Sends req on fd and reads the whole response. Returns a micro_trip_t;
 * *got_bytes says whether any byte of a response arrived.
 */
static micro_trip_t
micro_exchange(int fd, const micro_buf_t *req, micro_http_response_t *resp,
    int64_t deadline, int *got_bytes, int *keep_alive)
{
    int          rc;
    char         buf[16384];
    ssize_t      n;
    size_t       parsed;
    http_parser  parser;

    *got_bytes = 0;
    rc = micro_send_all(fd, req->data, req->len, deadline);
    if (rc == -2) {
        return MICRO_TRIP_TIMEOUT;
    }
    if (rc != 0) {
        return MICRO_TRIP_BROKEN;
    }

    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = resp;
    while (!resp->complete) {
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (micro_wait_fd(fd, POLLIN, deadline) <= 0) {
                return MICRO_TRIP_TIMEOUT;
            }
            continue;
        }
        if (n <= 0) {
            /* EOF: fine only as the end of a body without a length */
            if (n == 0 && *got_bytes) {
                http_parser_execute(&parser, &micro_resp_settings, buf, 0);
                if (resp->complete) {
                    break;
                }
            }
            return MICRO_TRIP_BROKEN;
        }
        *got_bytes = 1;
        parsed = http_parser_execute(&parser, &micro_resp_settings, buf,
                                     (size_t) n);
        if (HTTP_PARSER_ERRNO(&parser) != HPE_OK
            && HTTP_PARSER_ERRNO(&parser) != HPE_PAUSED)
        {
            return MICRO_TRIP_BROKEN;
        }
        (void) parsed;
    }
    *keep_alive = http_should_keep_alive(&parser);
    return MICRO_TRIP_OK;
}


/* Headers the transport writes itself: metadata may not set them. */
static int
micro_transport_header(const char *name)
{
    static const char  *own[] = { "Host", "Content-Type", "Content-Length",
                                  "Transfer-Encoding", "Connection",
                                  "Micro-Service", "Micro-Endpoint",
                                  "Timeout" };
    size_t              i;

    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        if (strcasecmp(name, own[i]) == 0) {
            return 1;
        }
    }
    return 0;
}


static int
micro_http_check(const micro_transport_call_t *call)
{
    size_t  i;

    for (i = 0; i < call->nmetadata; i++) {
        if (strpbrk(call->metadata[i].key, ":\r\n")
            || strpbrk(call->metadata[i].value, "\r\n"))
        {
            return micro_error_set(MICRO_EINVAL, "invalid metadata \"%s\"",
                                   call->metadata[i].key);
        }
        if (micro_transport_header(call->metadata[i].key)) {
            return micro_error_set(MICRO_EINVAL, "metadata \"%s\" is the "
                                   "transport's own header",
                                   call->metadata[i].key);
        }
    }
    return MICRO_OK;
}


/* The call as one HTTP/1.1 request: the head, metadata, the body. */
static int
micro_http_request(micro_buf_t *req, const micro_transport_call_t *call)
{
    int     n;
    size_t  i;
    char    head[2048];

    n = snprintf(head, sizeof(head),
                 "POST / HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Content-Type: %s\r\n"
                 "Micro-Service: %s\r\n"
                 "Micro-Endpoint: %s\r\n"
                 "Micro-Id: %s\r\n"
                 "Timeout: %lld\r\n"
                 "Content-Length: %zu\r\n",
                 call->address, call->content_type,
                 call->service ? call->service : "", call->endpoint, call->id,
                 (long long) call->timeout_ms * 1000000LL, call->len);
    if (n < 0 || (size_t) n >= sizeof(head)
        || micro_buf_append(req, head, (size_t) n) != MICRO_OK)
    {
        return micro_error_set(MICRO_EINVAL, "the call's head is too long");
    }
    for (i = 0; i < call->nmetadata; i++) {
        if (strcasecmp(call->metadata[i].key, "Micro-Id") == 0) {
            continue;                       /* written above */
        }
        n = snprintf(head, sizeof(head), "%s: %s\r\n", call->metadata[i].key,
                     call->metadata[i].value);
        if (n < 0 || (size_t) n >= sizeof(head)
            || micro_buf_append(req, head, (size_t) n) != MICRO_OK)
        {
            return micro_error_set(MICRO_EINVAL, "metadata \"%s\" is too "
                                   "long", call->metadata[i].key);
        }
    }
    if (micro_buf_append(req, "\r\n", 2) != MICRO_OK
        || micro_buf_append(req, call->body, call->len) != MICRO_OK)
    {
        return micro_error_set(MICRO_ENOMEM, "out of memory");
    }
    return MICRO_OK;
}


/* One call at one node, with one extra try when a kept connection turns
 * out to have been closed by the node meanwhile. */
static micro_trip_t
micro_http_call(micro_transport_t *tr, const micro_transport_call_t *call,
    micro_transport_reply_t *reply)
{
    int                      fd, reused, got, keep = 0, timed_out, attempt;
    size_t                   body_len = reply->body->len;
    micro_buf_t              req = { 0 };
    micro_trip_t             trip = MICRO_TRIP_CONNECT;
    micro_http_response_t    resp;
    micro_http_transport_t  *t = (micro_http_transport_t *) tr;

    if (micro_http_request(&req, call) != MICRO_OK) {
        snprintf(reply->why, sizeof(reply->why), "%s", micro_error_detail());
        micro_buf_free(&req);
        return MICRO_TRIP_CONNECT;
    }
    memset(&resp, 0, sizeof(resp));
    resp.body = reply->body;

    for (attempt = 0; attempt < 2; attempt++) {
        fd = micro_pool_get(t, call->address);
        reused = fd >= 0;
        if (!reused) {
            fd = micro_connect(call->address, call->deadline, &timed_out);
            if (fd < 0) {
                snprintf(reply->why, sizeof(reply->why), "%s",
                         strerror(errno));
                trip = timed_out ? MICRO_TRIP_TIMEOUT : MICRO_TRIP_CONNECT;
                break;
            }
        }
        resp.complete = 0;
        resp.status = 0;
        resp.error.len = 0;
        resp.body->len = body_len;

        trip = micro_exchange(fd, &req, &resp, call->deadline, &got, &keep);
        if (trip == MICRO_TRIP_OK) {
            if (keep) {
                micro_pool_put(t, call->address, fd);
            } else {
                close(fd);
            }
            break;
        }
        close(fd);
        snprintf(reply->why, sizeof(reply->why), "%s",
                 trip == MICRO_TRIP_TIMEOUT ? "timed out" : "connection lost");
        if (!(reused && !got && trip == MICRO_TRIP_BROKEN)) {
            break;
        }
    }
    reply->status = resp.status;
    micro_buf_free(&reply->error);
    reply->error = resp.error;
    micro_buf_free(&req);
    return trip;
}


static void
micro_http_free(micro_transport_t *tr)
{
    size_t                   i;
    micro_idle_t            *idle, *next;
    micro_node_pool_t       *p;
    micro_http_transport_t  *t = (micro_http_transport_t *) tr;

    for (i = 0; i < t->pools.cap; i++) {
        if (!micro_map_live(&t->pools, i)) {
            continue;
        }
        p = t->pools.slots[i].value;
        for (idle = p->idle; idle; idle = next) {
            next = idle->next;
            close(idle->fd);
            free(idle);
        }
        free(p);
    }
    micro_map_free(&t->pools);
    pthread_mutex_destroy(&t->lock);
    free(t);
}


static const micro_transport_ops_t  micro_http_ops = {
    "http", micro_http_check, micro_http_call, micro_http_free
};


int
micro_http_transport_new(int pool_size, micro_transport_t **out)
{
    micro_http_transport_t  *t;

    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return micro_error_set(MICRO_ENOMEM, "out of memory");
    }
    t->transport.ops = &micro_http_ops;
    t->pool_size = pool_size;
    pthread_mutex_init(&t->lock, NULL);
    *out = &t->transport;
    return MICRO_OK;
}
