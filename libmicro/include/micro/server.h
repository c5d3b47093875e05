/*
 * SRV services: handlers for endpoints named like "Customer.Orders", served
 * over the micro HTTP transport (README, "Wire protocol") and registered
 * in the registry with a heartbeat.
 *
 *   micro_server_options_t  o;
 *   micro_server_t         *s;
 *
 *   micro_server_options_init(&o, "go.micro.srv.greeter");
 *   micro_server_options_args(&o, argc, argv);      // --registry, ...
 *   micro_server_new(&o, &s);
 *   micro_server_handle(s, "Say.Hello", &say__request__descriptor,
 *                       &say__response__descriptor, say_hello, NULL);
 *   return micro_server_run(s);        // until SIGINT or SIGTERM
 *
 * Threads: every core gets an I/O thread; handlers run on a pool of
 * worker threads (micro_server_options_t.workers, default 64), so one that
 * blocks stalls no other connection. With workers = 0 handlers run on the
 * I/O threads themselves: faster for handlers that never block.
 */

#ifndef MICRO_SERVER_H
#define MICRO_SERVER_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "micro/broker.h"
#include "micro/service.h"
#include "micro/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MICRO_SERVER_MAX_BODY         (4 * 1024 * 1024)
#define MICRO_SERVER_READ_TIMEOUT     30000     /* ms */
#define MICRO_SERVER_IDLE_TIMEOUT     75000     /* ms; NGINX keeps 60 s */
#define MICRO_SERVER_MAX_CONNECTIONS  1024

typedef struct {
    const char         *name;        /* "go.micro.srv.greeter" */
    const char         *version;     /* default "latest" */
    const char         *address;     /* listen on; default "127.0.0.1:0" */
    const char         *advertise;   /* registered; default: bound address */
    const char         *registry;    /* URL; NULL: $MICRO_REGISTRY/default */
    int                 ttl_ms;      /* default 30000 */
    size_t              max_body;    /* a request (gRPC: a message),
                                        4 MiB */
    int                 threads;     /* I/O threads; default: cores */
    int                 workers;     /* handler threads; 0: run inline */
    int                 read_timeout_ms;  /* a request's head and body
                                             arrive within; default 30 s */
    int                 idle_timeout_ms;  /* a kept connection waits for
                                             its next request; 75 s */
    int                 max_connections;  /* open at once; default 1024 */
    int                 keepalive_ms;     /* gRPC: ping a connection this
                                             often, close it when the ack
                                             is not back in 20 s; 0: off */
    micro_metadata_t    metadata;    /* node metadata */
} micro_server_options_t;

typedef struct micro_server_s   micro_server_t;
typedef struct micro_request_s  micro_request_t;

/*
 * A handler fills resp (already initialised) from req and returns 0, or
 * returns micro_request_fail(). Memory for resp's fields comes from
 * micro_request_alloc()/micro_request_strdup() (freed after the reply) or
 * is static; the server never frees what resp points to.
 */
typedef int (*micro_handler_t)(micro_request_t *r, const ProtobufCMessage *req,
    ProtobufCMessage *resp, void *data);

void micro_server_options_init(micro_server_options_t *o, const char *name);

/*
 * Reads --registry URL, --address HOST:PORT, --advertise HOST:PORT,
 * --version V, --ttl SECONDS, --threads N, --workers N, --read-timeout
 * SECONDS, --idle-timeout SECONDS, --max-connections N, --keepalive
 * SECONDS, --max-body BYTES from argv (both
 * "--opt v" and "--opt=v"). Returns 0, or -1 after printing usage.
 */
int micro_server_options_args(micro_server_options_t *o, int argc,
    char **argv);

int micro_server_new(const micro_server_options_t *o, micro_server_t **s);
void micro_server_free(micro_server_t *s);

int micro_server_handle(micro_server_t *s, const char *endpoint,
    const ProtobufCMessageDescriptor *request,
    const ProtobufCMessageDescriptor *response, micro_handler_t handler,
    void *data);

/*
 * A stream handler serves a server-streaming, client-streaming or
 * bidirectional endpoint over gRPC: it reads requests with
 * micro_stream_recv() (as the request type) and sends replies with
 * micro_stream_send() (the response type) until it returns: 0 ends the
 * call with OK, micro_request_fail() with that error. Each open stream
 * has a thread of its own, so the handler may block. The registry lists
 * the endpoint with stream=true; over the micro transport it answers 400.
 */
typedef int (*micro_stream_handler_t)(micro_request_t *r, micro_stream_t *st,
    void *data);

int micro_server_handle_stream(micro_server_t *s, const char *endpoint,
    const ProtobufCMessageDescriptor *request,
    const ProtobufCMessageDescriptor *response, micro_stream_handler_t handler,
    void *data);

/*
 * A subscriber gets each message of its topic decoded as its type (NULL:
 * msg is NULL, the bytes are in micro_delivery_message(d)); 0 when done,
 * and the message is acknowledged (unless opts->manual_ack).
 */
typedef int (*micro_subscriber_t)(micro_delivery_t *d,
    const ProtobufCMessage *msg, void *data);

/*
 * Subscribes the service to topic (micro/broker.h) once it runs, on the
 * server's Redis: each message decoded from JSON or protobuf by its
 * Content-Type (one that does not decode is not acknowledged: after
 * max_deliveries it is among the dead letters). By default the service's
 * nodes share a queue named after the service, so each message is
 * handled once by the service; opts (may be NULL) can name another queue
 * or a name. Listed in the registry entry as go-micro lists subscribers:
 * an endpoint "Subscriber.TOPIC" with metadata subscriber=true, topic=.
 * At SIGTERM the server stops taking messages and finishes or gives back
 * those in hand before it deregisters.
 */
int micro_server_subscribe(micro_server_t *s, const char *topic,
    const ProtobufCMessageDescriptor *type, micro_subscriber_t handler,
    void *data, const micro_subscribe_options_t *opts);

/*
 * Listens, registers (with a heartbeat every TTL/3), serves until SIGINT
 * or SIGTERM or micro_server_stop(), then deregisters first, finishes the
 * requests in flight and returns 0.
 */
int micro_server_run(micro_server_t *s);

/* From any thread: the same shutdown as a signal. */
void micro_server_stop(micro_server_t *s);

/* The bound "host:port", once running. */
const char *micro_server_address(micro_server_t *s);

/* --- inside a handler ---------------------------------------------------- */

/* A request header (metadata), case-insensitive; NULL when absent. */
const char *micro_request_header(micro_request_t *r, const char *name);
const char *micro_request_endpoint(micro_request_t *r);

/*
 * Every method of a .proto service at once, from the descriptor protoc-c
 * generates (greeter__say__descriptor): handlers[i] serves methods[i] of
 * the descriptor (the order of the .proto), as "Say.Hello" over micro's
 * transport and /pkg.Say/Hello over gRPC. A method streams when its
 * handler is a stream handler (protoc-c's descriptor does not say).
 */
typedef struct {
    micro_handler_t          unary;
    micro_stream_handler_t   stream;
} micro_method_handler_t;

#define MICRO_UNARY(fn)   { (fn), NULL }
#define MICRO_STREAM(fn)  { NULL, (fn) }

int micro_server_handle_service(micro_server_t *s,
    const ProtobufCServiceDescriptor *service,
    const micro_method_handler_t *handlers, void *data);

/* A header (metadata) to send back with the reply (gRPC: initial
 * metadata); 0, or MICRO_EINVAL for a name or value not allowed. */
int micro_request_set_header(micro_request_t *r, const char *name,
    const char *value);

/* Whether the caller has gone (cancelled, or its deadline passed), and
 * the deadline as milliseconds left (-1: none). */
int micro_request_cancelled(micro_request_t *r);
int micro_request_remaining_ms(micro_request_t *r);

/* Memory that lives until the reply has been written. */
void *micro_request_alloc(micro_request_t *r, size_t size);
char *micro_request_strdup(micro_request_t *r, const char *s);
char *micro_request_printf(micro_request_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Makes the reply go-micro's error {id: service name, code, detail};
 * returns -1 for the handler to return. */
int micro_request_fail(micro_request_t *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
