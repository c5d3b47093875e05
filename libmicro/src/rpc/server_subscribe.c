/*
 * A service's subscribers: topics it takes messages from through the
 * broker, each message decoded into the subscriber's protobuf-c type.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "micro/error.h"
#include "micro/transcode.h"
#include "rpc/server_internal.h"

#define MICRO_RESUBSCRIBE_MS  1000


int
micro_server_subscribe(micro_server_t *s, const char *topic,
    const ProtobufCMessageDescriptor *type, micro_subscriber_t handler,
    void *data, const micro_subscribe_options_t *opts)
{
    micro_server_subscriber_t  *subs, *sb;

    if (!micro_name_valid(topic)) {
        return micro_error_set(MICRO_EINVAL, "invalid topic \"%.64s\"",
                               topic ? topic : "");
    }
    subs = realloc(s->subscribers, (s->nsubscribers + 1) * sizeof(*subs));
    if (subs == NULL) {
        return MICRO_ENOMEM;
    }
    s->subscribers = subs;
    sb = &subs[s->nsubscribers];
    memset(sb, 0, sizeof(*sb));
    if (opts) {
        sb->opts = *opts;
    }
    if (sb->opts.queue == NULL && sb->opts.name == NULL) {
        sb->opts.queue = s->opts.name;       /* once by the service */
    }
    sb->opts.queue = sb->opts.queue ? strdup(sb->opts.queue) : NULL;
    sb->opts.name = sb->opts.name ? strdup(sb->opts.name) : NULL;
    sb->topic = strdup(topic);
    if (sb->topic == NULL
        || (type && micro_pb_pool_add_protobuf_c(s->pool, type, &sb->pb_type)
                    != MICRO_OK))
    {
        free(sb->topic);
        free((char *) sb->opts.queue);
        free((char *) sb->opts.name);
        return MICRO_ENOMEM;
    }
    sb->type = type;
    sb->handler = handler;
    sb->data = data;
    sb->server = s;
    s->nsubscribers++;
    return MICRO_OK;
}


static int
micro_server_is_json(const char *ct)
{
    return ct == NULL || strncasecmp(ct, "application/json", 16) == 0;
}


/* A message decoded as the subscriber's type, handed to its handler. */
static int
micro_server_on_message(micro_delivery_t *d, void *data)
{
    int                         rc;
    micro_buf_t                 pb = { 0 };
    const char                 *ct;
    ProtobufCMessage           *msg = NULL;
    const micro_message_t      *m = micro_delivery_message(d);
    micro_server_subscriber_t  *sb = data;

    if (sb->type == NULL) {
        return sb->handler(d, NULL, sb->data);
    }
    ct = micro_delivery_header(d, "Content-Type");
    if (micro_server_is_json(ct)) {
        if (micro_json_to_pb(sb->pb_type, m->body, m->len, NULL, &pb)
            == MICRO_OK)
        {
            msg = protobuf_c_message_unpack(sb->type, NULL, pb.len, pb.data);
        }
    } else {
        msg = protobuf_c_message_unpack(sb->type, NULL, m->len, m->body);
    }
    micro_buf_free(&pb);
    if (msg == NULL) {
        micro_log_warn("%s: %s: entry %s is not a %s (%s): not "
                       "acknowledged", sb->server->opts.name, sb->topic,
                       micro_delivery_entry(d), sb->type->name,
                       ct ? ct : "application/json");
        return -1;
    }
    rc = sb->handler(d, msg, sb->data);
    protobuf_c_message_free_unpacked(msg, NULL);
    return rc;
}


/* Subscribes those not subscribed yet; how many are still missing. */
static size_t
micro_server_subscribe_missing(micro_server_t *s)
{
    size_t                      i, missing = 0;
    micro_server_subscriber_t  *sb;

    for (i = 0; i < s->nsubscribers; i++) {
        sb = &s->subscribers[i];
        if (sb->sub == NULL
            && micro_broker_subscribe(s->broker, sb->topic, &sb->opts,
                                      micro_server_on_message, sb, &sb->sub)
               != MICRO_OK)
        {
            micro_log_warn("%s: cannot subscribe to %s yet: %s",
                           s->opts.name, sb->topic, micro_error_detail());
            missing++;
        }
    }
    return missing;
}


static void
micro_server_on_resubscribe(uv_timer_t *t)
{
    micro_server_t  *s = t->data;

    if (micro_server_subscribe_missing(s) == 0) {
        uv_timer_stop(t);
    }
}


void
micro_server_subscribers_start(micro_server_t *s)
{
    int                        rc;
    micro_registry_options_t   ro;

    uv_timer_init(&s->control, &s->resubscribe);
    s->resubscribe.data = s;
    if (s->nsubscribers == 0) {
        return;
    }
    rc = micro_registry_options_parse(&ro, s->opts.registry);
    if (rc == MICRO_OK) {
        rc = micro_broker_new(&ro, NULL, &s->broker);
        micro_registry_options_free(&ro);
    }
    if (rc != MICRO_OK) {
        micro_log_warn("%s: no broker: %s", s->opts.name,
                       micro_error_detail());
        return;
    }
    if (micro_server_subscribe_missing(s) != 0) {
        uv_timer_start(&s->resubscribe, micro_server_on_resubscribe,
                       MICRO_RESUBSCRIBE_MS, MICRO_RESUBSCRIBE_MS);
    }
}


void
micro_server_subscribers_stop(micro_server_t *s)
{
    size_t  i;

    if (!uv_is_closing((uv_handle_t *) &s->resubscribe)) {
        uv_close((uv_handle_t *) &s->resubscribe, NULL);
    }
    for (i = 0; i < s->nsubscribers; i++) {
        micro_subscription_close(s->subscribers[i].sub);
        s->subscribers[i].sub = NULL;
    }
    micro_broker_free(s->broker);
    s->broker = NULL;
}


void
micro_server_subscribers_free(micro_server_t *s)
{
    size_t  i;

    for (i = 0; i < s->nsubscribers; i++) {
        free(s->subscribers[i].topic);
        free((char *) s->subscribers[i].opts.queue);
        free((char *) s->subscribers[i].opts.name);
    }
    free(s->subscribers);
}


int
micro_server_subscribers_list(micro_server_t *s, micro_endpoint_t *eps)
{
    size_t                      i;
    micro_endpoint_t           *e;
    micro_server_subscriber_t  *sb;

    for (i = 0; i < s->nsubscribers; i++) {
        sb = &s->subscribers[i];
        e = &eps[i];
        e->name = malloc(strlen(sb->topic) + sizeof("Subscriber."));
        if (e->name == NULL) {
            return MICRO_ENOMEM;
        }
        strcpy(e->name, "Subscriber.");
        strcat(e->name, sb->topic);
        if (sb->type) {
            e->request = calloc(1, sizeof(micro_value_t));
            if (e->request == NULL) {
                return MICRO_ENOMEM;
            }
            micro_value_from(e->request, sb->type, sb->type->short_name, 0);
        }
        if (micro_metadata_set(&e->metadata, "subscriber", "true")
            || micro_metadata_set(&e->metadata, "topic", sb->topic)
            || (sb->opts.queue
                && micro_metadata_set(&e->metadata, "queue", sb->opts.queue)))
        {
            return MICRO_ENOMEM;
        }
    }
    return MICRO_OK;
}
