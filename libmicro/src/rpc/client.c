/*
 * The RPC client: node selection and failover over a blocking transport
 * with per-node keepalive pools. Sockets are non-blocking underneath so
 * every wait is bounded by the call's deadline.
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

#include "micro/client.h"
#include "micro/error.h"
#include "micro/registry.h"
#include "core/clock.h"
#include "core/map.h"
#include "micro/pb_wire.h"

#define MICRO_CLIENT_ID  "go.micro.client"

typedef struct micro_idle_s  micro_idle_t;

struct micro_idle_s {
    int                        fd;
    micro_idle_t              *next;
};

typedef struct {
    micro_idle_t              *idle;
    size_t                     nidle;
} micro_node_pool_t;

struct micro_client_s {
    micro_client_options_t     opts;
    char                      *registry_url;
    pthread_mutex_t            lock;
    micro_map_t                pools;      /* address -> micro_node_pool_t */
    micro_registry_t          *registry;
    micro_cache_t             *cache;
    micro_selector_t          *selector;
    uint64_t                   seq;
};

/* What a round trip to one node came to. */
typedef enum {
    MICRO_TRIP_OK = 0,
    MICRO_TRIP_CONNECT,      /* never reached the node: safe to retry */
    MICRO_TRIP_TIMEOUT,
    MICRO_TRIP_BROKEN        /* sent, then the connection failed */
} micro_trip_t;

typedef struct {
    int                        status;
    int                        complete;
    int                        header_state;
    int                        is_error_header;
    micro_buf_t               *body;
    micro_buf_t                error;      /* Micro-Error header */
} micro_response_t;


int
micro_client_new(const micro_client_options_t *opts, micro_client_t **out)
{
    micro_client_t  *c;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return MICRO_ENOMEM;
    }
    if (opts) {
        c->opts = *opts;
    }
    if (c->opts.timeout_ms <= 0) {
        c->opts.timeout_ms = 5000;
    }
    if (c->opts.retries == 0) {
        c->opts.retries = 1;
    } else if (c->opts.retries < 0) {
        c->opts.retries = 0;
    }
    if (c->opts.pool_size <= 0) {
        c->opts.pool_size = 16;
    }
    if (c->opts.registry) {
        c->registry_url = strdup(c->opts.registry);
        c->opts.registry = c->registry_url;
    }
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return MICRO_OK;
}


void
micro_client_free(micro_client_t *c)
{
    size_t              i;
    micro_idle_t       *idle, *next;
    micro_node_pool_t  *p;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < c->pools.cap; i++) {
        if (!micro_map_live(&c->pools, i)) {
            continue;
        }
        p = c->pools.slots[i].value;
        for (idle = p->idle; idle; idle = next) {
            next = idle->next;
            close(idle->fd);
            free(idle);
        }
        free(p);
    }
    micro_map_free(&c->pools);
    micro_selector_free(c->selector);
    micro_cache_free(c->cache);
    micro_registry_free(c->registry);
    pthread_mutex_destroy(&c->lock);
    free(c->registry_url);
    free(c);
}


/* The registry, cache and selector, made on the first call by name. */
static int
micro_client_selector(micro_client_t *c, micro_rpc_error_t *err)
{
    int                        rc = MICRO_OK;
    micro_registry_options_t   ro;

    pthread_mutex_lock(&c->lock);
    if (c->selector == NULL) {
        rc = micro_registry_options_parse(&ro, c->opts.registry);
        if (rc == MICRO_OK) {
            rc = micro_registry_new(&ro, &c->registry);
            micro_registry_options_free(&ro);
        }
        if (rc == MICRO_OK) {
            rc = micro_cache_new(c->registry, &c->cache);
        }
        if (rc == MICRO_OK) {
            rc = micro_cache_wait(c->cache, c->opts.timeout_ms);
        }
        if (rc == MICRO_OK) {
            rc = micro_selector_new(c->cache, &c->opts.selector,
                                    &c->selector);
        }
        if (rc != MICRO_OK) {
            micro_rpc_error_set(err, MICRO_CLIENT_ID, 500, "registry: %s",
                                micro_error_detail());
            micro_cache_free(c->cache);
            micro_registry_free(c->registry);
            c->cache = NULL;
            c->registry = NULL;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}


int
micro_client_nodes(micro_client_t *c, const char *service,
    micro_service_list_t *out)
{
    micro_rpc_error_t  err;

    if (micro_client_selector(c, &err) != MICRO_OK) {
        return micro_error_set(MICRO_EREDIS, "%s", err.detail);
    }
    return micro_cache_get(c->cache, service, out);
}


/* --- connections ---------------------------------------------------------- */

static int
micro_pool_get(micro_client_t *c, const char *address)
{
    int                 fd = -1;
    micro_idle_t       *idle;
    micro_node_pool_t  *p;

    pthread_mutex_lock(&c->lock);
    p = micro_map_get(&c->pools, address);
    if (p && p->idle) {
        idle = p->idle;
        p->idle = idle->next;
        p->nidle--;
        fd = idle->fd;
        free(idle);
    }
    pthread_mutex_unlock(&c->lock);
    return fd;
}


static void
micro_pool_put(micro_client_t *c, const char *address, int fd)
{
    micro_idle_t       *idle;
    micro_node_pool_t  *p;

    pthread_mutex_lock(&c->lock);
    p = micro_map_get(&c->pools, address);
    if (p == NULL) {
        p = calloc(1, sizeof(*p));
        if (p && micro_map_set(&c->pools, address, p) != MICRO_OK) {
            free(p);
            p = NULL;
        }
    }
    idle = p && p->nidle < (size_t) c->opts.pool_size
           ? malloc(sizeof(*idle)) : NULL;
    if (idle) {
        idle->fd = fd;
        idle->next = p->idle;
        p->idle = idle;
        p->nidle++;
        fd = -1;
    }
    pthread_mutex_unlock(&c->lock);
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
    micro_response_t  *r = p->data;

    (void) at;
    (void) len;
    r->status = (int) p->status_code;
    return 0;
}


static int
micro_resp_on_field(http_parser *p, const char *at, size_t len)
{
    micro_response_t  *r = p->data;

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
    micro_response_t  *r = p->data;

    r->header_state = 2;
    if (r->is_error_header) {
        return micro_buf_append(&r->error, at, len) == MICRO_OK ? 0 : -1;
    }
    return 0;
}


static int
micro_resp_on_body(http_parser *p, const char *at, size_t len)
{
    micro_response_t  *r = p->data;

    return micro_buf_append(r->body, at, len) == MICRO_OK ? 0 : -1;
}


static int
micro_resp_on_complete(http_parser *p)
{
    micro_response_t  *r = p->data;

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
micro_exchange(int fd, const micro_buf_t *req, micro_response_t *resp,
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


/* The call's Micro-Id: the caller's metadata, or one made here. */
static const char *
micro_call_id(micro_client_t *c, const micro_call_options_t *co, char *buf,
    size_t size)
{
    size_t    i;
    uint64_t  id;

    for (i = 0; co && i < co->nmetadata; i++) {
        if (strcasecmp(co->metadata[i].key, "Micro-Id") == 0) {
            return co->metadata[i].value;
        }
    }
    pthread_mutex_lock(&c->lock);
    id = ++c->seq;
    pthread_mutex_unlock(&c->lock);
    snprintf(buf, size, "%d-%llu", (int) getpid(), (unsigned long long) id);
    return buf;
}


static int
micro_build_request(micro_client_t *c, micro_buf_t *req, const char *address,
    const char *service, const char *endpoint, const char *content_type,
    const void *body, size_t len, const micro_call_options_t *co,
    int timeout_ms)
{
    int          n;
    size_t       i;
    char         head[2048], made[48];
    const char  *id;

    id = micro_call_id(c, co, made, sizeof(made));
    n = snprintf(head, sizeof(head),
                 "POST / HTTP/1.1\r\n"
                 "Host: %s\r\n"
                 "Content-Type: %s\r\n"
                 "Micro-Service: %s\r\n"
                 "Micro-Endpoint: %s\r\n"
                 "Micro-Id: %s\r\n"
                 "Timeout: %lld\r\n"
                 "Content-Length: %zu\r\n",
                 address, content_type, service ? service : "", endpoint,
                 id, (long long) timeout_ms * 1000000LL, len);
    if (n < 0 || (size_t) n >= sizeof(head)
        || micro_buf_append(req, head, (size_t) n) != MICRO_OK)
    {
        return MICRO_EINVAL;
    }
    for (i = 0; co && i < co->nmetadata; i++) {
        if (strpbrk(co->metadata[i].key, ":\r\n")
            || strpbrk(co->metadata[i].value, "\r\n"))
        {
            return micro_error_set(MICRO_EINVAL, "invalid metadata \"%s\"",
                                   co->metadata[i].key);
        }
        if (micro_transport_header(co->metadata[i].key)) {
            return micro_error_set(MICRO_EINVAL, "metadata \"%s\" is the "
                                   "transport's own header",
                                   co->metadata[i].key);
        }
        if (strcasecmp(co->metadata[i].key, "Micro-Id") == 0) {
            continue;                       /* written above */
        }
        n = snprintf(head, sizeof(head), "%s: %s\r\n", co->metadata[i].key,
                     co->metadata[i].value);
        if (n < 0 || (size_t) n >= sizeof(head)
            || micro_buf_append(req, head, (size_t) n) != MICRO_OK)
        {
            return MICRO_EINVAL;
        }
    }
    if (micro_buf_append(req, "\r\n", 2) != MICRO_OK
        || micro_buf_append(req, body, len) != MICRO_OK)
    {
        return MICRO_ENOMEM;
    }
    return MICRO_OK;
}


/* One attempt at one node, with one extra try when a kept connection
 * turns out to have been closed by the node meanwhile. */
static micro_trip_t
micro_round_trip(micro_client_t *c, const char *address,
    const micro_buf_t *req, micro_response_t *resp, int64_t deadline,
    char *why, size_t why_size)
{
    int           fd, reused, got, keep = 0, timed_out, attempt;
    size_t        body_len = resp->body->len;
    micro_trip_t  t = MICRO_TRIP_CONNECT;

    for (attempt = 0; attempt < 2; attempt++) {
        fd = micro_pool_get(c, address);
        reused = fd >= 0;
        if (!reused) {
            fd = micro_connect(address, deadline, &timed_out);
            if (fd < 0) {
                snprintf(why, why_size, "%s", strerror(errno));
                return timed_out ? MICRO_TRIP_TIMEOUT : MICRO_TRIP_CONNECT;
            }
        }
        resp->complete = 0;
        resp->status = 0;
        resp->error.len = 0;
        resp->body->len = body_len;

        t = micro_exchange(fd, req, resp, deadline, &got, &keep);
        if (t == MICRO_TRIP_OK) {
            if (keep) {
                micro_pool_put(c, address, fd);
            } else {
                close(fd);
            }
            return t;
        }
        close(fd);
        snprintf(why, why_size, "%s", t == MICRO_TRIP_TIMEOUT
                                      ? "timed out" : "connection lost");
        if (!(reused && !got && t == MICRO_TRIP_BROKEN)) {
            return t;
        }
    }
    return t;
}


int
micro_client_call_raw(micro_client_t *c, const char *service,
    const char *endpoint, const char *content_type, const void *body,
    size_t len, const micro_call_options_t *co, micro_buf_t *reply,
    micro_rpc_error_t *err)
{
    int                rc, attempt, attempts, timeout_ms;
    char               why[256], tried_addr[4][MICRO_NAME_MAX + 1];
    const char        *tried[4];
    int64_t            deadline;
    micro_buf_t        req = { 0 };
    micro_trip_t       t = MICRO_TRIP_CONNECT;
    micro_selected_t   node;
    micro_response_t   resp;
    micro_rpc_error_t  local;

    if (err == NULL) {
        err = &local;
    }
    memset(err, 0, sizeof(*err));
    memset(&resp, 0, sizeof(resp));
    resp.body = reply;

    timeout_ms = co && co->timeout_ms > 0 ? co->timeout_ms
                                          : c->opts.timeout_ms;
    attempts = 1 + c->opts.retries;
    if (co && co->address) {
        attempts = 1;
    } else if (micro_client_selector(c, err) != MICRO_OK) {
        return MICRO_EREDIS;
    }

    for (attempt = 0; attempt < attempts; attempt++) {
        if (co && co->address) {
            snprintf(node.address, sizeof(node.address), "%s", co->address);
            node.id[0] = '\0';
            node.node = NULL;
        } else {
            /* another node than those tried, if the selector has one */
            rc = micro_selector_select(c->selector, service,
                                       co ? co->filter : NULL, tried,
                                       attempt < 4 ? attempt : 4, &node);
            if (rc == MICRO_ENONODE && attempt > 0) {
                rc = micro_selector_select(c->selector, service,
                                           co ? co->filter : NULL, NULL, 0,
                                           &node);
            }
            if (rc != MICRO_OK) {
                micro_rpc_error_set(err, MICRO_CLIENT_ID,
                                    rc == MICRO_ENOTFOUND ? 404 : 503,
                                    "service %s: %s", service,
                                    rc == MICRO_ENOTFOUND
                                    ? "not found" : "none available");
                goto done;
            }
            if (attempt < 4) {
                snprintf(tried_addr[attempt], sizeof(tried_addr[attempt]),
                         "%s", node.address);
                tried[attempt] = tried_addr[attempt];
            }
        }

        req.len = 0;
        rc = micro_build_request(c, &req, node.address, service, endpoint,
                                 content_type, body, len, co, timeout_ms);
        if (rc != MICRO_OK) {
            micro_rpc_error_set(err, MICRO_CLIENT_ID, 400, "%s",
                                micro_error_detail());
            goto done;
        }
        deadline = micro_now_ms() + timeout_ms;
        t = micro_round_trip(c, node.address, &req, &resp, deadline, why,
                             sizeof(why));
        if (node.node) {
            micro_selector_done(c->selector, &node, t != MICRO_TRIP_OK);
        }
        if (t == MICRO_TRIP_OK) {
            break;
        }
        if (t == MICRO_TRIP_TIMEOUT) {
            micro_rpc_error_set(err, MICRO_CLIENT_ID, 408, "call timeout: "
                                "%s at %s", why, node.address);
        } else {
            micro_rpc_error_set(err, MICRO_CLIENT_ID, 500, "connection "
                                "error: %s at %s", why, node.address);
        }
        if (t == MICRO_TRIP_BROKEN) {
            break;                /* it may have run: not safe to repeat */
        }
    }

    if (t != MICRO_TRIP_OK) {
        rc = t == MICRO_TRIP_TIMEOUT ? MICRO_ETIMEDOUT : MICRO_ECONNECT;
        rc = micro_error_set(rc, "%s", err->detail);
        goto done;
    }
    if (resp.status != 200) {
        if (resp.error.len) {
            micro_rpc_error_parse(err, (char *) resp.error.data,
                                  resp.error.len);
        } else {
            micro_rpc_error_parse(err, (char *) reply->data, reply->len);
        }
        if (err->code == 0) {
            err->code = resp.status;
            snprintf(err->status, sizeof(err->status), "%s",
                     micro_http_status_text(resp.status));
        }
        rc = micro_error_set(MICRO_EREMOTE, "%s", err->detail);
        goto done;
    }
    rc = MICRO_OK;

done:
    if (rc != MICRO_OK && err->code == 0) {
        micro_rpc_error_set(err, MICRO_CLIENT_ID, 500, "%s",
                            micro_error_detail());
    }
    micro_buf_free(&req);
    micro_buf_free(&resp.error);
    return rc;
}


int
micro_client_call(micro_client_t *c, const char *service,
    const char *endpoint, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *response, ProtobufCMessage **resp,
    const micro_call_options_t *co, micro_rpc_error_t *err)
{
    int          rc;
    size_t       size;
    micro_buf_t  body = { 0 }, reply = { 0 };

    *resp = NULL;
    size = protobuf_c_message_get_packed_size(req);
    if (micro_buf_reserve(&body, size ? size : 1) != MICRO_OK) {
        return MICRO_ENOMEM;
    }
    body.len = protobuf_c_message_pack(req, body.data);

    rc = micro_client_call_raw(c, service, endpoint, "application/protobuf",
                               body.data, body.len, co, &reply, err);
    if (rc == MICRO_OK) {
        *resp = protobuf_c_message_unpack(response, NULL, reply.len,
                                          reply.data);
        if (*resp == NULL) {
            if (err) {
                micro_rpc_error_set(err, MICRO_CLIENT_ID, 500, "cannot "
                                    "decode the %s reply", response->name);
            }
            rc = micro_error_set(MICRO_EPARSE, "cannot decode the %s reply",
                                 response->name);
        }
    }
    micro_buf_free(&body);
    micro_buf_free(&reply);
    return rc;
}
