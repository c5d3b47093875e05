/*
 * The server's life: options, endpoints, listening on every core
 * (SO_REUSEPORT, one libuv loop a thread), registration with a heartbeat,
 * and the orderly stop: deregister, stop accepting, drain, exit.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/random.h"
#include "micro/error.h"
#include "micro/registry.h"
#include "rpc/server_internal.h"


void
micro_server_options_init(micro_server_options_t *o, const char *name)
{
    memset(o, 0, sizeof(*o));
    o->name = name;
    o->version = "latest";
    o->address = "127.0.0.1:0";
    o->ttl_ms = MICRO_REGISTRY_DEFAULT_TTL;
    o->max_body = MICRO_SERVER_MAX_BODY;
    o->threads = 0;
    o->workers = 64;
    o->read_timeout_ms = MICRO_SERVER_READ_TIMEOUT;
    o->idle_timeout_ms = MICRO_SERVER_IDLE_TIMEOUT;
    o->max_connections = MICRO_SERVER_MAX_CONNECTIONS;
}


/* The command-line options: each sets a field of the options. */
typedef enum {
    MICRO_OPT_STRING, MICRO_OPT_INT, MICRO_OPT_SECONDS, MICRO_OPT_SIZE
} micro_opt_kind_t;

static const struct {
    const char        *name;
    micro_opt_kind_t   kind;
    size_t             offset;
} micro_server_opts[] = {
    { "registry", MICRO_OPT_STRING, offsetof(micro_server_options_t, registry) },
    { "address", MICRO_OPT_STRING, offsetof(micro_server_options_t, address) },
    { "advertise", MICRO_OPT_STRING,
      offsetof(micro_server_options_t, advertise) },
    { "version", MICRO_OPT_STRING, offsetof(micro_server_options_t, version) },
    { "ttl", MICRO_OPT_SECONDS, offsetof(micro_server_options_t, ttl_ms) },
    { "threads", MICRO_OPT_INT, offsetof(micro_server_options_t, threads) },
    { "workers", MICRO_OPT_INT, offsetof(micro_server_options_t, workers) },
    { "read-timeout", MICRO_OPT_SECONDS,
      offsetof(micro_server_options_t, read_timeout_ms) },
    { "idle-timeout", MICRO_OPT_SECONDS,
      offsetof(micro_server_options_t, idle_timeout_ms) },
    { "max-connections", MICRO_OPT_INT,
      offsetof(micro_server_options_t, max_connections) },
    { "keepalive", MICRO_OPT_SECONDS,
      offsetof(micro_server_options_t, keepalive_ms) },
    { "max-body", MICRO_OPT_SIZE,
      offsetof(micro_server_options_t, max_body) },
};


int
micro_server_options_args(micro_server_options_t *o, int argc, char **argv)
{
    int          i;
    char        *field;
    size_t       len, k, n = sizeof(micro_server_opts)
                             / sizeof(micro_server_opts[0]);
    const char  *arg, *val;

    for (i = 1; i < argc; i++) {
        arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            goto usage;
        }
        arg += 2;
        val = strchr(arg, '=');
        len = val ? (size_t) (val - arg) : strlen(arg);
        if (val) {
            val++;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            goto usage;
        }
        for (k = 0; k < n; k++) {
            if (strlen(micro_server_opts[k].name) == len
                && strncmp(arg, micro_server_opts[k].name, len) == 0)
            {
                break;
            }
        }
        if (k == n) {
            goto usage;
        }
        field = (char *) o + micro_server_opts[k].offset;
        switch (micro_server_opts[k].kind) {
        case MICRO_OPT_STRING:
            *(const char **) field = val;
            break;
        case MICRO_OPT_INT:
            *(int *) field = atoi(val);
            break;
        case MICRO_OPT_SECONDS:
            *(int *) field = atoi(val) * 1000;
            break;
        case MICRO_OPT_SIZE:
            *(size_t *) field = (size_t) strtoull(val, NULL, 10);
            break;
        }
    }
    return 0;

usage:
    fprintf(stderr, "usage: %s [--registry URL] [--address HOST:PORT] "
            "[--advertise HOST:PORT] [--version V] [--ttl SECONDS] "
            "[--threads N] [--workers N] [--read-timeout SECONDS] "
            "[--idle-timeout SECONDS] [--max-connections N] "
            "[--keepalive SECONDS] [--max-body BYTES]\n", argv[0]);
    return -1;
}


int
micro_server_new(const micro_server_options_t *o, micro_server_t **out)
{
    char             n[16];
    micro_server_t  *s;

    if (!micro_name_valid(o->name)) {
        return micro_error_set(MICRO_EINVAL, "invalid service name \"%s\"",
                               o->name ? o->name : "");
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || micro_pb_pool_new(&s->pool) != MICRO_OK) {
        free(s);
        return MICRO_ENOMEM;
    }
    s->opts = *o;
    s->transport = &micro_http_server_transport;
    if (s->opts.max_body == 0) {
        s->opts.max_body = MICRO_SERVER_MAX_BODY;
    }
    if (s->opts.read_timeout_ms <= 0) {
        s->opts.read_timeout_ms = MICRO_SERVER_READ_TIMEOUT;
    }
    if (s->opts.idle_timeout_ms <= 0) {
        s->opts.idle_timeout_ms = MICRO_SERVER_IDLE_TIMEOUT;
    }
    if (s->opts.max_connections <= 0) {
        s->opts.max_connections = MICRO_SERVER_MAX_CONNECTIONS;
    }
    if (s->opts.ttl_ms <= 0) {
        s->opts.ttl_ms = MICRO_REGISTRY_DEFAULT_TTL;
    }
    if (s->opts.threads <= 0) {
        s->opts.threads = (int) uv_available_parallelism();
    }
    if (s->opts.workers > 0) {
        /* libuv sizes its pool once, from the environment */
        snprintf(n, sizeof(n), "%d", s->opts.workers > 1024
                                     ? 1024 : s->opts.workers);
        setenv("UV_THREADPOOL_SIZE", n, 0);
    }
    *out = s;
    return MICRO_OK;
}


void
micro_server_free(micro_server_t *s)
{
    size_t  i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < s->nendpoints; i++) {
        free(s->endpoints[i].name);
    }
    free(s->endpoints);
    micro_server_subscribers_free(s);
    free(s->io);
    micro_pb_pool_free(s->pool);
    free(s);
}


static int
micro_server_add(micro_server_t *s, const char *endpoint,
    const ProtobufCMessageDescriptor *request,
    const ProtobufCMessageDescriptor *response, micro_handler_t handler,
    micro_stream_handler_t stream, void *data)
{
    micro_endpoint_handler_t  *eps, *e;

    eps = realloc(s->endpoints, (s->nendpoints + 1) * sizeof(*eps));
    if (eps == NULL) {
        return MICRO_ENOMEM;
    }
    s->endpoints = eps;
    e = &eps[s->nendpoints];
    memset(e, 0, sizeof(*e));
    e->name = strdup(endpoint);
    if (e->name == NULL
        || micro_pb_pool_add_protobuf_c(s->pool, request, &e->request_type)
           != MICRO_OK
        || micro_pb_pool_add_protobuf_c(s->pool, response, &e->response_type)
           != MICRO_OK)
    {
        free(e->name);
        return MICRO_ENOMEM;
    }
    e->request = request;
    e->response = response;
    e->handler = handler;
    e->stream = stream;
    e->data = data;
    s->nendpoints++;
    return MICRO_OK;
}


int
micro_server_handle(micro_server_t *s, const char *endpoint,
    const ProtobufCMessageDescriptor *request,
    const ProtobufCMessageDescriptor *response, micro_handler_t handler,
    void *data)
{
    return micro_server_add(s, endpoint, request, response, handler, NULL,
                            data);
}


int
micro_server_handle_stream(micro_server_t *s, const char *endpoint,
    const ProtobufCMessageDescriptor *request,
    const ProtobufCMessageDescriptor *response, micro_stream_handler_t handler,
    void *data)
{
    return micro_server_add(s, endpoint, request, response, NULL, handler,
                            data);
}


int
micro_server_handle_service(micro_server_t *s,
    const ProtobufCServiceDescriptor *service,
    const micro_method_handler_t *handlers, void *data)
{
    int                               rc;
    char                              name[256];
    unsigned                          i;
    const ProtobufCMethodDescriptor  *m;

    for (i = 0; i < service->n_methods; i++) {
        m = &service->methods[i];
        if ((handlers[i].unary == NULL) == (handlers[i].stream == NULL)) {
            return micro_error_set(MICRO_EINVAL, "method %s.%s: give it "
                                   "either a unary or a stream handler",
                                   service->short_name, m->name);
        }
        snprintf(name, sizeof(name), "%s.%s", service->short_name, m->name);
        rc = micro_server_add(s, name, m->input, m->output,
                              handlers[i].unary, handlers[i].stream, data);
        if (rc != MICRO_OK) {
            return rc;
        }
    }
    return MICRO_OK;
}


const char *
micro_server_address(micro_server_t *s)
{
    return s->address;
}


/* --- registration --------------------------------------------------------- */

/* go-micro's registry.Value tree of a message type, to depth 3. */
void
micro_value_from(micro_value_t *v, const ProtobufCMessageDescriptor *d,
    const char *name, int depth)
{
    unsigned                         i;
    const ProtobufCFieldDescriptor  *f;
    static const char               *types[] = {
        "int32", "int32", "int32", "int64", "int64", "int64", "uint32",
        "uint32", "uint64", "uint64", "float32", "float64", "bool", "int32",
        "string", "[]uint8", ""
    };

    v->name = strdup(name);
    v->type = strdup(d->short_name);
    if (depth >= 3 || d->n_fields == 0) {
        return;
    }
    v->values = calloc(d->n_fields, sizeof(micro_value_t));
    if (v->values == NULL) {
        return;
    }
    v->nvalues = d->n_fields;
    for (i = 0; i < d->n_fields; i++) {
        f = &d->fields[i];
        if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            micro_value_from(&v->values[i], f->descriptor, f->name,
                             depth + 1);
        } else {
            v->values[i].name = strdup(f->name);
            v->values[i].type = strdup(f->type == PROTOBUF_C_TYPE_ENUM
                ? ((const ProtobufCEnumDescriptor *) f->descriptor)
                  ->short_name : types[f->type]);
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED && v->values[i].type) {
            char  *t = malloc(strlen(v->values[i].type) + 3);

            if (t) {
                sprintf(t, "[]%s", v->values[i].type);
                free(v->values[i].type);
                v->values[i].type = t;
            }
        }
    }
}


static int
micro_server_service(micro_server_t *s, micro_service_t *svc)
{
    size_t             i;
    char               id[MICRO_NAME_MAX + 1];
    unsigned char      rnd[8];
    micro_endpoint_t  *e;

    memset(svc, 0, sizeof(*svc));
    micro_random_bytes(rnd, sizeof(rnd));
    snprintf(id, sizeof(id), "%s-%02x%02x%02x%02x-%02x%02x-%02x%02x",
             s->opts.name, rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5],
             rnd[6], rnd[7]);

    svc->name = strdup(s->opts.name);
    svc->version = strdup(s->opts.version ? s->opts.version : "latest");
    svc->nodes = calloc(1, sizeof(micro_node_t));
    svc->endpoints = calloc(s->nendpoints + s->nsubscribers + 1,
                            sizeof(micro_endpoint_t));
    if (svc->name == NULL || svc->version == NULL || svc->nodes == NULL
        || svc->endpoints == NULL)
    {
        return MICRO_ENOMEM;
    }
    svc->nnodes = 1;
    svc->nodes[0].id = strdup(id);
    svc->nodes[0].address = strdup(s->opts.advertise ? s->opts.advertise
                                                     : s->address);
    for (i = 0; i < s->opts.metadata.len; i++) {
        micro_metadata_set(&svc->nodes[0].metadata,
                           s->opts.metadata.items[i].key,
                           s->opts.metadata.items[i].value);
    }
    micro_metadata_set(&svc->nodes[0].metadata, "transport", "http");
    micro_metadata_set(&svc->nodes[0].metadata, "protocol", "mucp");
    micro_metadata_set(&svc->nodes[0].metadata, "protocols", "mucp,grpc");
    micro_metadata_set(&svc->nodes[0].metadata, "server", "libmicro");
    micro_metadata_set(&svc->nodes[0].metadata, "registry", "redis");

    for (i = 0; i < s->nendpoints; i++) {
        e = &svc->endpoints[i];
        e->name = strdup(s->endpoints[i].name);
        e->request = calloc(1, sizeof(micro_value_t));
        e->response = calloc(1, sizeof(micro_value_t));
        if (e->request && e->response) {
            micro_value_from(e->request, s->endpoints[i].request,
                             s->endpoints[i].request->short_name, 0);
            micro_value_from(e->response, s->endpoints[i].response,
                             s->endpoints[i].response->short_name, 0);
        }
        micro_metadata_set(&e->metadata, "stream",
                           s->endpoints[i].stream ? "true" : "false");
    }
    svc->endpoints[i].name = strdup("Debug.Health");
    svc->nendpoints = s->nendpoints + 1 + s->nsubscribers;
    if (micro_server_subscribers_list(s, &svc->endpoints[i + 1])
        != MICRO_OK)
    {
        return MICRO_ENOMEM;
    }
    return svc->nodes[0].id && svc->nodes[0].address ? MICRO_OK
                                                     : MICRO_ENOMEM;
}


/* --- listening -------------------------------------------------------- */

static int
micro_split_address(const char *address, char *host, size_t size, int *port)
{
    const char  *colon;

    colon = strrchr(address, ':');
    if (colon == NULL || (size_t) (colon - address) >= size) {
        return -1;
    }
    if (address[0] == '[') {
        snprintf(host, size, "%.*s", (int) (colon - address - 2),
                 address + 1);
    } else {
        snprintf(host, size, "%.*s", (int) (colon - address), address);
    }
    if (host[0] == '\0') {
        snprintf(host, size, "0.0.0.0");
    }
    *port = atoi(colon + 1);
    return *port >= 0 && *port <= 65535 ? 0 : -1;
}


/* A socket bound with SO_REUSEPORT, so every thread can have its own. */
static int
micro_bind(const char *host, int port, int *bound_port)
{
    int                       fd, one = 1;
    socklen_t                 len;
    struct addrinfo           hints, *ai;
    struct sockaddr_storage   ss;
    char                      service[16];

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
    snprintf(service, sizeof(service), "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0) {
        return micro_error_set(MICRO_EINVAL, "listen address \"%s\" is not "
                               "an IP address", host);
    }
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0
        || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0
        || listen(fd, 511) != 0)
    {
        int  err = errno;

        if (fd >= 0) {
            close(fd);
        }
        freeaddrinfo(ai);
        return micro_error_set(MICRO_EINVAL, "cannot listen on %s:%d: %s",
                               host, port, strerror(err));
    }
    freeaddrinfo(ai);
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *) &ss, &len);
    *bound_port = ntohs(ss.ss_family == AF_INET
                        ? ((struct sockaddr_in *) &ss)->sin_port
                        : ((struct sockaddr_in6 *) &ss)->sin6_port);
    return fd;
}


/* The first non-loopback IPv4 address, for a wildcard listener. */
static void
micro_advertise_host(char *host, size_t size)
{
    struct ifaddrs  *ifs, *i;

    if (getifaddrs(&ifs) != 0) {
        return;
    }
    for (i = ifs; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET
            && ntohl(((struct sockaddr_in *) i->ifa_addr)->sin_addr.s_addr)
               >> 24 != 127)
        {
            inet_ntop(AF_INET, &((struct sockaddr_in *) i->ifa_addr)->sin_addr,
                      host, (socklen_t) size);
            break;
        }
    }
    freeifaddrs(ifs);
}


static void
micro_io_close_walk(uv_handle_t *h, void *arg)
{
    micro_io_t  *io = arg;

    if (h == (uv_handle_t *) &io->listener || h == (uv_handle_t *) &io->wakeup
        || h == (uv_handle_t *) &io->retry)
    {
        if (!uv_is_closing(h)) {
            uv_close(h, NULL);
        }
    }
}


/* Stop: no new connections, idle ones closed, busy ones after replies. */
static void
micro_io_on_wakeup(uv_async_t *a)
{
    micro_io_t  *io = a->data;

    io->stopping = 1;
    uv_walk(&io->loop, micro_io_close_walk, io);
    io->server->transport->shutdown(io);
    micro_grpc_server_shutdown(io);
}


static void
micro_io_run(void *arg)
{
    micro_io_t  *io = arg;

    uv_run(&io->loop, UV_RUN_DEFAULT);
}


/*
 * Accepting on the thread's socket through a duplicate of it: closing the
 * duplicate stops accepting (see micro_io_pause) and leaves the socket,
 * its port and its backlog as they are.
 */
static int
micro_io_listen(micro_io_t *io)
{
    int  fd;

    fd = dup(io->fd);
    if (fd < 0) {
        return micro_error_set(MICRO_EINVAL, "cannot listen: %s",
                               strerror(errno));
    }
    if (uv_tcp_init(&io->loop, &io->listener) != 0) {
        close(fd);
        return micro_error_set(MICRO_ENOMEM, "cannot listen");
    }
    io->listener.data = io;
    if (uv_tcp_open(&io->listener, fd) != 0
        || uv_listen((uv_stream_t *) &io->listener, 511,
                     io->server->transport->on_connection) != 0)
    {
        uv_close((uv_handle_t *) &io->listener, NULL);   /* closes fd */
        return micro_error_set(MICRO_EINVAL, "cannot listen");
    }
    return MICRO_OK;
}


static void
micro_io_on_retry(uv_timer_t *t)
{
    micro_io_t  *io = t->data;

    if (io->stopping) {
        return;
    }
    if (micro_io_listen(io) != MICRO_OK) {
        io->backoff = io->backoff * 2 > MICRO_SERVER_ACCEPT_BACKOFF_MAX
                      ? MICRO_SERVER_ACCEPT_BACKOFF_MAX : io->backoff * 2;
        uv_timer_start(&io->retry, micro_io_on_retry, io->backoff, 0);
        return;
    }
    micro_log_warn("%s: accepting connections again", io->server->opts.name);
    io->paused = 0;
}


/*
 * Out of file descriptors: libuv would call accept() again at once, for
 * good (its spare descriptor for this case is not safe with several
 * loops in one process), so this thread stops accepting and tries again
 * 100 ms later, doubling to 1 s; connections wait in the backlog.
 */
void
micro_io_pause(micro_io_t *io, int err)
{
    if (io->paused || io->stopping) {
        return;
    }
    io->paused = 1;
    micro_log_warn("%s: cannot accept connections: %s; trying again "
                   "shortly", io->server->opts.name, uv_strerror(err));
    uv_close((uv_handle_t *) &io->listener, NULL);
    io->backoff = MICRO_SERVER_ACCEPT_BACKOFF;
    uv_timer_start(&io->retry, micro_io_on_retry, io->backoff, 0);
}


static int
micro_io_start(micro_io_t *io)
{
    if (uv_loop_init(&io->loop) != 0
        || uv_async_init(&io->loop, &io->wakeup, micro_io_on_wakeup) != 0
        || uv_timer_init(&io->loop, &io->retry) != 0)
    {
        return micro_error_set(MICRO_ENOMEM, "cannot set up an I/O loop");
    }
    io->wakeup.data = io;
    io->retry.data = io;
    if (micro_io_listen(io) != MICRO_OK) {
        return MICRO_EINVAL;
    }
    return uv_thread_create(&io->thread, micro_io_run, io) == 0
           ? MICRO_OK : micro_error_set(MICRO_ENOMEM, "cannot start a "
                                        "thread");
}


static void
micro_server_on_signal(uv_signal_t *sig, int signo)
{
    micro_server_t  *s = sig->data;

    (void) signo;
    uv_close((uv_handle_t *) &s->sigint, NULL);
    uv_close((uv_handle_t *) &s->sigterm, NULL);
    uv_close((uv_handle_t *) &s->stop, NULL);
    micro_server_subscribers_stop(s);
}


static void
micro_server_on_stop(uv_async_t *a)
{
    micro_server_on_signal((uv_signal_t *) &((micro_server_t *) a->data)
                           ->sigint, 0);
}


void
micro_server_stop(micro_server_t *s)
{
    if (__atomic_load_n(&s->running, __ATOMIC_ACQUIRE)) {
        uv_async_send(&s->stop);
    }
}


int
micro_server_run(micro_server_t *s)
{
    int                        i, rc, port, bound = 0;
    char                       host[256];
    micro_service_t            svc;
    micro_registry_t          *reg = NULL;
    micro_heartbeat_t         *hb = NULL;
    micro_registry_options_t   ro;

    if (micro_split_address(s->opts.address, host, sizeof(host), &port) != 0)
    {
        return micro_error_set(MICRO_EINVAL, "invalid listen address \"%s\"",
                               s->opts.address);
    }
    if (s->opts.advertise && !micro_address_valid(s->opts.advertise)) {
        return micro_error_set(MICRO_EINVAL, "advertise address \"%s\" is "
                               "not an IP address and port", s->opts.advertise);
    }

    s->nio = s->opts.threads;
    s->io = calloc((size_t) s->nio, sizeof(micro_io_t));
    if (s->io == NULL) {
        return MICRO_ENOMEM;
    }
    for (i = 0; i < s->nio; i++) {
        s->io[i].server = s;
        s->io[i].fd = micro_bind(host, i == 0 ? port : bound, &bound);
        if (s->io[i].fd < 0) {
            return s->io[i].fd;
        }
    }
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
        micro_advertise_host(host, sizeof(host));
    }
    snprintf(s->address, sizeof(s->address), strchr(host, ':') ? "[%s]:%d"
                                                                : "%s:%d",
             host, bound);

    /* a write to a connection its client reset is an error to handle
     * (EPIPE), not a reason for the process to die */
    signal(SIGPIPE, SIG_IGN);

    uv_loop_init(&s->control);
    uv_signal_init(&s->control, &s->sigint);
    uv_signal_init(&s->control, &s->sigterm);
    uv_async_init(&s->control, &s->stop, micro_server_on_stop);
    s->sigint.data = s->sigterm.data = s->stop.data = s;
    uv_signal_start(&s->sigint, micro_server_on_signal, SIGINT);
    uv_signal_start(&s->sigterm, micro_server_on_signal, SIGTERM);

    for (i = 0; i < s->nio; i++) {
        rc = micro_io_start(&s->io[i]);
        if (rc != MICRO_OK) {
            return rc;
        }
    }

    /* registered once it can serve */
    rc = micro_registry_options_parse(&ro, s->opts.registry);
    if (rc == MICRO_OK) {
        rc = micro_registry_new(&ro, &reg);
        micro_registry_options_free(&ro);
    }
    if (rc == MICRO_OK) {
        rc = micro_server_service(s, &svc);
    }
    if (rc == MICRO_OK) {
        if (micro_heartbeat_start(reg, &svc, s->opts.ttl_ms, &hb)
            != MICRO_OK)
        {
            micro_log_warn("%s: not registered yet: %s", s->opts.name,
                           micro_error_detail());
        }
        micro_service_free(&svc);
    } else {
        micro_log_warn("%s: cannot register: %s", s->opts.name,
                       micro_error_detail());
    }
    micro_server_subscribers_start(s);
    fprintf(stderr, "%s listening on %s\n", s->opts.name, s->address);

    __atomic_store_n(&s->running, 1, __ATOMIC_RELEASE);
    uv_run(&s->control, UV_RUN_DEFAULT);
    __atomic_store_n(&s->running, 0, __ATOMIC_RELEASE);

    /* deregister first, so no new traffic comes; then drain */
    if (hb) {
        micro_heartbeat_stop(hb, 1);
    }
    micro_registry_free(reg);
    for (i = 0; i < s->nio; i++) {
        uv_async_send(&s->io[i].wakeup);
    }
    for (i = 0; i < s->nio; i++) {
        uv_thread_join(&s->io[i].thread);
        uv_loop_close(&s->io[i].loop);
        close(s->io[i].fd);
    }
    /* stream handlers were told their streams ended; they return */
    while (__atomic_load_n(&s->streams, __ATOMIC_ACQUIRE) > 0) {
        usleep(10000);
    }
    uv_loop_close(&s->control);
    return MICRO_OK;
}
