/*
 * The broker: durable publish/subscribe on Redis Streams, with go-micro's
 * semantics (a message has a header map and a body; subscribers without a
 * queue each get every message, those sharing a queue each get a share)
 * and none of its losses: a topic is a stream, a queue or a named
 * subscriber a consumer group, so what is published while a subscriber is
 * away waits for it. The layout is a public contract (README, "Broker
 * format"): any language can publish and subscribe with plain commands.
 *
 *   micro_broker_t        *b;
 *   micro_subscription_t  *sub;
 *   micro_subscribe_options_t  so = { .queue = "audit" };
 *
 *   micro_broker_new(NULL, NULL, &b);                // $MICRO_REGISTRY
 *   micro_broker_subscribe(b, "go.micro.evt.customer", &so, on_event,
 *                          NULL, &sub);               // its own thread
 *   micro_broker_publish(b, "go.micro.evt.customer", &msg, id, sizeof(id));
 *
 * Delivery is at least once: a message a handler does not acknowledge in
 * the visibility timeout goes to another member of its queue (or back to
 * the same subscriber), and after max_deliveries to the topic's dead-letter
 * stream. Handlers of one subscription run one at a time, in the topic's
 * order. A micro_broker_t is safe to share between threads.
 */

#ifndef MICRO_BROKER_H
#define MICRO_BROKER_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "micro/registry.h"
#include "micro/service.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MICRO_BROKER_MAX_MESSAGE      (1024 * 1024)   /* header + body */
#define MICRO_BROKER_RETENTION        100000   /* entries a topic keeps */
#define MICRO_BROKER_VISIBILITY       30000    /* ms */
#define MICRO_BROKER_MAX_DELIVERIES   5
#define MICRO_BROKER_ID_MAX           64       /* a message id, with NUL */

/* The header names libmicro sets: go-micro's. */
#define MICRO_BROKER_HEADER_ID        "Micro-Id"
#define MICRO_BROKER_HEADER_TOPIC     "Micro-Topic"

typedef struct {
    micro_metadata_t    header;     /* "Content-Type", ... */
    const void         *body;
    size_t              len;
} micro_message_t;

typedef struct {
    long long           retention_len;  /* entries kept a topic, about;
                                           default 100000, -1: no limit */
    long long           retention_ms;   /* and no older than; 0: no limit */
    size_t              max_message;    /* default 1 MiB */
} micro_broker_options_t;

typedef struct micro_broker_s        micro_broker_t;
typedef struct micro_subscription_s  micro_subscription_t;
typedef struct micro_delivery_s      micro_delivery_t;

/*
 * Redis as for the registry (NULL: $MICRO_REGISTRY, then the default);
 * opts may be NULL for the defaults. Does not connect: the first call does.
 */
int micro_broker_new(const micro_registry_options_t *redis,
    const micro_broker_options_t *opts, micro_broker_t **b);
void micro_broker_free(micro_broker_t *b);

/*
 * Stores m in topic and returns once Redis has it, or an error within the
 * connect and command timeouts (then nothing can be counted on as
 * stored). The message gets a Micro-Id header (kept when m has one) and
 * Micro-Topic; id, when not NULL, receives the Micro-Id. A topic is a
 * name as for services (micro_name_valid); a message over max_message
 * is MICRO_ETOOBIG before anything is sent.
 */
int micro_broker_publish(micro_broker_t *b, const char *topic,
    const micro_message_t *m, char *id, size_t id_size);

/*
 * A protobuf-c message published as its bytes, with Content-Type
 * application/protobuf (go-micro's client default) and the header given
 * (may be NULL); as micro_broker_publish otherwise.
 */
int micro_broker_publish_pb(micro_broker_t *b, const char *topic,
    const ProtobufCMessage *msg, const micro_metadata_t *header, char *id,
    size_t id_size);

/* A new message id: a UUID (version 4), 36 characters and a NUL. */
void micro_message_id(char out[37]);

/*
 * A handler returns 0 when done with the message: it is acknowledged
 * (unless manual_ack). Anything else gives it back at once, for another
 * delivery (to this or another member of the queue).
 */
typedef int (*micro_broker_handler_t)(micro_delivery_t *d, void *data);

/* Errors a subscription meets on its thread: Redis lost (and found again:
 * code 0), messages trimmed by retention before it read them. */
typedef void (*micro_broker_error_t)(int code, const char *detail,
    void *data);

typedef struct {
    const char         *queue;     /* shared with its other members */
    const char         *name;      /* without a queue: a durable name, so
                                      messages wait while it is away;
                                      NULL: none kept between runs */
    int                 manual_ack;     /* micro_delivery_ack() by hand */
    int                 from_start;     /* a new queue or name starts at
                                           the oldest message kept, not at
                                           what is published from now */
    int                 visibility_ms;  /* default 30000 */
    int                 max_deliveries; /* default 5; then dead letter */
    int                 batch;          /* read at once; default 16 */
    micro_broker_error_t  on_error;     /* default: micro_log_warn */
} micro_subscribe_options_t;

/*
 * Subscribes on a thread of its own (opts may be NULL: every message
 * from now while subscribed). Returns once the subscription's consumer
 * group exists, so a message published after the call reaches it; or an
 * error (Redis unreachable, a bad name).
 */
int micro_broker_subscribe(micro_broker_t *b, const char *topic,
    const micro_subscribe_options_t *opts, micro_broker_handler_t handler,
    void *data, micro_subscription_t **sub);

/*
 * Stops taking messages, lets the handler in progress finish, gives the
 * messages read but not handled back for others at once, and frees sub.
 * A subscription without a queue or name is removed from Redis.
 */
void micro_subscription_close(micro_subscription_t *sub);

/* --- inside a handler ---------------------------------------------------- */

const char *micro_delivery_topic(const micro_delivery_t *d);
const micro_message_t *micro_delivery_message(const micro_delivery_t *d);
const char *micro_delivery_header(const micro_delivery_t *d,
    const char *name);
/* The stream entry's id ("1700000000000-0"): the topic's order. */
const char *micro_delivery_entry(const micro_delivery_t *d);
/* 1 the first time, more when redelivered. */
int micro_delivery_count(const micro_delivery_t *d);
/* With manual_ack: acknowledges now (else it is redelivered later). */
int micro_delivery_ack(micro_delivery_t *d);

/* --- the dead letters and topics, for tools ------------------------------ */

typedef struct {
    char               *topic;
    long long           length;         /* entries kept */
    long long           dead;           /* entries in its dead letters */
    size_t              ngroups;
    struct {
        char           *name;           /* "queue:audit", "name:x", ... */
        long long       pending;        /* delivered, not acknowledged */
        long long       lag;            /* not yet delivered; -1 unknown */
        size_t          consumers;
    }                  *groups;
} micro_topic_info_t;

typedef struct {
    micro_topic_info_t *items;
    size_t              len;
} micro_topic_list_t;

/* Every topic in Redis with its length, groups and lag. */
int micro_broker_topics(micro_broker_t *b, micro_topic_list_t *out);
void micro_topic_list_free(micro_topic_list_t *list);

/*
 * Publishes every dead letter of topic again (as new messages, same
 * Micro-Id) and removes it from the dead letters; returns how many, or an
 * error.
 */
long long micro_broker_replay(micro_broker_t *b, const char *topic);

#ifdef __cplusplus
}
#endif

#endif
