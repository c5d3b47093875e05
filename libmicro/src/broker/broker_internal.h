/*
 * Internal: the broker's shared state and the stream layout (README,
 * "Broker format"). Keys (P = prefix): P"topic:"T the topic's stream,
 * P"dead:"T its dead letters. An entry's fields: "header" (a JSON object
 * of strings) and "body" (bytes); a dead letter adds "group", "entry"
 * (the id it had) and "deliveries". Groups: "queue:"Q, "name:"N, and
 * "once:"CONSUMER for a subscription that keeps nothing between runs.
 */

#ifndef MICRO_BROKER_INTERNAL_H
#define MICRO_BROKER_INTERNAL_H

#include <pthread.h>

#include <hiredis/hiredis.h>

#include "micro/broker.h"

struct micro_broker_s {
    micro_registry_options_t   redis;
    micro_broker_options_t     opts;
    pthread_mutex_t            lock;     /* c, for publish and tools */
    redisContext              *c;
};

/* P + kind + topic, malloc'd ("topic:", "dead:"). */
char *micro_broker_key(const micro_broker_t *b, const char *kind,
    const char *topic);

/* A stream entry's field/value array into a message; the body points
 * into the reply, the header is the caller's (micro_metadata_free). */
int micro_broker_entry_message(const redisReply *fields, micro_message_t *m);

/* The value of field name in a field/value array, or NULL. */
const redisReply *micro_broker_field(const redisReply *fields,
    const char *name);

/*
 * XADD of header and body (plus extra field/value pairs) to key, trimmed
 * by the broker's retention, on c; the entry id into entry when not NULL.
 */
int micro_broker_xadd(micro_broker_t *b, redisContext *c, const char *key,
    const char *header, size_t header_len, const void *body, size_t len,
    const char **extra, size_t nextra, char *entry, size_t entry_size);

/* Compares stream ids "ms-seq": <0, 0, >0. */
int micro_broker_id_cmp(const char *a, const char *b);

#endif
