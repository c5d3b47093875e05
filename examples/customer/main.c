/*
 * customer, an API service (go.micro.api.customer: the gateway's
 * /customer/orders is its Customer.Orders):
 * Customer.Orders {"customerId": "c42", "limit": 2} -> orders with
 * nested messages, repeated items, a map of labels, an enum, 64-bit ids
 * and Timestamps, made up from the customer id so answers are repeatable.
 * Customer.Login, Customer.UpdateProfile and Customer.PlaceOrder each
 * publish an event (go-micro's go.api.Event: name, id, timestamp,
 * header, data, in protobuf) to go.micro.evt.customer through the broker
 * and answer with its id; examples/audit keeps them.
 *
 *   build/bin/customer [--registry redis://127.0.0.1:6379/0] [--address ...]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <micro.h>

#include "api.pb-c.h"
#include "customer.pb-c.h"

typedef Go__Micro__Srv__Customer__Order           order_t;
typedef Go__Micro__Srv__Customer__Item            item_t;
typedef Go__Micro__Srv__Customer__Money           money_t;
typedef Go__Micro__Srv__Customer__Order__LabelsEntry  label_t;
typedef Google__Protobuf__Timestamp         timestamp_t;

#define EVENT_TOPIC  "go.micro.evt.customer"

static micro_broker_t  *broker;

#define NEW(r, type, init)                                                   \
    ({ type *p_ = micro_request_alloc(r, sizeof(type));                     \
       if (p_) { type i_ = init; *p_ = i_; } p_; })


static money_t *
money(micro_request_t *r, int64_t units, int32_t nanos)
{
    money_t  *m = NEW(r, money_t, GO__MICRO__SRV__CUSTOMER__MONEY__INIT);

    if (m) {
        m->currency = "EUR";
        m->units = units;
        m->nanos = nanos;
    }
    return m;
}


static order_t *
make_order(micro_request_t *r, const char *customer, int n)
{
    order_t      *o;
    item_t       *item;
    label_t      *label;
    timestamp_t  *ts;

    o = NEW(r, order_t, GO__MICRO__SRV__CUSTOMER__ORDER__INIT);
    item = NEW(r, item_t, GO__MICRO__SRV__CUSTOMER__ITEM__INIT);
    label = NEW(r, label_t,
                GO__MICRO__SRV__CUSTOMER__ORDER__LABELS_ENTRY__INIT);
    ts = NEW(r, timestamp_t, GOOGLE__PROTOBUF__TIMESTAMP__INIT);
    o->items = micro_request_alloc(r, sizeof(item_t *));
    o->labels = micro_request_alloc(r, sizeof(label_t *));
    if (!o || !item || !label || !ts || !o->items || !o->labels) {
        return NULL;
    }

    /* ids above 2^53 show why 64-bit integers travel as JSON strings */
    o->id = 9007199254740993LL + n;
    o->status = n % 2 ? GO__MICRO__SRV__CUSTOMER__STATUS__SHIPPED
                      : GO__MICRO__SRV__CUSTOMER__STATUS__DELIVERED;
    item->sku = micro_request_printf(r, "sku-%s-%d", customer, n);
    item->quantity = n + 1;
    item->price = money(r, 10 + n, 500000000);
    o->n_items = 1;
    o->items[0] = item;
    label->key = "channel";
    label->value = n % 2 ? "web" : "store";
    o->n_labels = 1;
    o->labels[0] = label;
    ts->seconds = 1700000000 + 86400 * n;
    ts->nanos = 0;
    o->created_at = ts;
    o->total = money(r, (10 + n) * (n + 1), 0);
    return o;
}


static int
customer_orders(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    int                                    i, limit;
    const Go__Micro__Srv__Customer__OrdersRequest  *req = (const void *) in;
    Go__Micro__Srv__Customer__OrdersResponse      *resp = (void *) out;

    (void) data;
    if (req->customer_id[0] == '\0') {
        return micro_request_fail(r, 400, "customer_id is required");
    }
    if (strcmp(req->customer_id, "nobody") == 0) {
        return micro_request_fail(r, 404, "customer %s not found",
                                  req->customer_id);
    }
    limit = req->limit > 0 ? req->limit : 2;
    if (limit > 100) {
        return micro_request_fail(r, 400, "limit must be at most 100");
    }

    resp->customer_id = micro_request_strdup(r, req->customer_id);
    resp->orders = micro_request_alloc(r, limit * sizeof(order_t *));
    if (resp->orders == NULL) {
        return micro_request_fail(r, 500, "out of memory");
    }
    for (i = 0; i < limit; i++) {
        resp->orders[i] = make_order(r, req->customer_id, i);
        if (resp->orders[i] == NULL) {
            return micro_request_fail(r, 500, "out of memory");
        }
    }
    resp->n_orders = limit;
    resp->total_count = 1000000000000LL;
    return 0;
}


/*
 * Publishes the event NAME (a go.api.Event in protobuf, as go-micro's
 * client sends it) with data (a JSON object, taken) and answers with its
 * id; fails the call when the broker did not store it.
 */
static int
customer_event(micro_request_t *r, const char *name, json_t *data,
    ProtobufCMessage *out)
{
    int                                   rc;
    char                                  id[37], *text;
    micro_pair_t                          micro_id = { "Micro-Id", id };
    micro_metadata_t                      header = { &micro_id, 1 };
    Go__Api__Event                        ev = GO__API__EVENT__INIT;
    Go__Micro__Srv__Customer__EventReply  *reply = (void *) out;

    text = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (text == NULL) {
        return micro_request_fail(r, 500, "out of memory");
    }
    micro_message_id(id);
    ev.name = (char *) name;
    ev.id = id;
    ev.timestamp = (int64_t) time(NULL);
    ev.data = text;
    rc = micro_broker_publish_pb(broker, EVENT_TOPIC, &ev.base, &header,
                                 NULL, 0);
    free(text);
    if (rc != MICRO_OK) {
        return micro_request_fail(r, 503, "event %s not stored: %s", name,
                                  micro_error_detail());
    }
    reply->event_id = micro_request_strdup(r, id);
    reply->name = (char *) name;
    return 0;
}


static int
customer_login(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Go__Micro__Srv__Customer__LoginRequest  *req = (const void *) in;

    (void) data;
    if (req->customer_id[0] == '\0') {
        return micro_request_fail(r, 400, "customer_id is required");
    }
    return customer_event(r, "customer.login",
                          json_pack("{s:s}", "customerId", req->customer_id),
                          out);
}


static int
customer_update_profile(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Go__Micro__Srv__Customer__ProfileRequest  *req = (const void *) in;

    (void) data;
    if (req->customer_id[0] == '\0') {
        return micro_request_fail(r, 400, "customer_id is required");
    }
    return customer_event(r, "customer.profile",
                          json_pack("{s:s, s:s, s:s}", "customerId",
                                    req->customer_id, "name", req->name,
                                    "email", req->email), out);
}


static int
customer_place_order(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Go__Micro__Srv__Customer__PlaceOrderRequest  *req = (const void *) in;

    (void) data;
    if (req->customer_id[0] == '\0' || req->n_items == 0) {
        return micro_request_fail(r, 400, "customer_id and items are "
                                  "required");
    }
    return customer_event(r, "customer.order",
                          json_pack("{s:s, s:I}", "customerId",
                                    req->customer_id, "items",
                                    (json_int_t) req->n_items), out);
}


int
main(int argc, char **argv)
{
    int                        rc;
    micro_server_t            *s;
    micro_server_options_t     o;
    micro_registry_options_t   ro;

    micro_server_options_init(&o, "go.micro.api.customer");
    if (micro_server_options_args(&o, argc, argv) != 0
        || micro_server_new(&o, &s) != 0
        || micro_registry_options_parse(&ro, o.registry) != 0)
    {
        return 2;
    }
    rc = micro_broker_new(&ro, NULL, &broker);
    micro_registry_options_free(&ro);
    if (rc != 0) {
        return 2;
    }
    micro_server_handle(s, "Customer.Login",
                        &go__micro__srv__customer__login_request__descriptor,
                        &go__micro__srv__customer__event_reply__descriptor,
                        customer_login, NULL);
    micro_server_handle(s, "Customer.UpdateProfile",
                        &go__micro__srv__customer__profile_request__descriptor,
                        &go__micro__srv__customer__event_reply__descriptor,
                        customer_update_profile, NULL);
    micro_server_handle(s, "Customer.PlaceOrder",
        &go__micro__srv__customer__place_order_request__descriptor,
        &go__micro__srv__customer__event_reply__descriptor,
        customer_place_order, NULL);
    micro_server_handle(s, "Customer.Orders",
                        &go__micro__srv__customer__orders_request__descriptor,
                        &go__micro__srv__customer__orders_response__descriptor,
                        customer_orders, NULL);
    if (micro_server_run(s) != 0) {
        fprintf(stderr, "customer: %s\n", micro_error_detail());
        return 1;
    }
    micro_server_free(s);
    micro_broker_free(broker);
    return 0;
}
