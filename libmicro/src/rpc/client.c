/*
 * The RPC client: node selection, failover and go-micro errors over a
 * transport (transport/transport.h) that carries one call to one node.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "micro/client.h"
#include "micro/error.h"
#include "micro/registry.h"
#include "core/clock.h"
#include "micro/server.h"
#include "transport/grpc_client.h"
#include "transport/transport.h"

#define MICRO_CLIENT_ID  "go.micro.client"

struct micro_client_s {
    micro_client_options_t     opts;
    char                      *registry_url;
    pthread_mutex_t            lock;
    micro_transport_t         *http;
    micro_transport_t         *grpc;
    micro_registry_t          *registry;
    micro_cache_t             *cache;
    micro_selector_t          *selector;
    uint64_t                   seq;
};


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
    if (c->opts.max_message == 0) {
        c->opts.max_message = MICRO_SERVER_MAX_BODY;
    }
    if (micro_http_transport_new(c->opts.pool_size, &c->http) != MICRO_OK) {
        free(c->registry_url);
        free(c);
        return MICRO_ENOMEM;
    }
    if (micro_grpc_transport_new(c->opts.max_message, &c->grpc) != MICRO_OK)
    {
        c->http->ops->free(c->http);
        free(c->registry_url);
        free(c);
        return MICRO_ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return MICRO_OK;
}


void
micro_client_free(micro_client_t *c)
{
    if (c == NULL) {
        return;
    }
    c->http->ops->free(c->http);
    c->grpc->ops->free(c->grpc);
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


/* The call's transport: the one asked for, else mucp if the node has it. */
static micro_transport_t *
micro_client_transport(micro_client_t *c, const micro_call_options_t *co,
    unsigned protocols)
{
    if (co && co->protocol) {
        return strcmp(co->protocol, "grpc") == 0 ? c->grpc : c->http;
    }
    return protocols & MICRO_PROTOCOL_MUCP ? c->http : c->grpc;
}


/* The call as the transport sees it, checked (a 400 in err if not). */
static int
micro_client_prepare(micro_client_t *c, micro_transport_t *tr,
    const char *service, const char *endpoint, const char *content_type,
    const micro_call_options_t *co, char *id, size_t size,
    micro_transport_call_t *call, micro_rpc_error_t *err)
{
    memset(call, 0, sizeof(*call));
    call->service = service;
    call->endpoint = endpoint;
    call->content_type = content_type;
    call->id = micro_call_id(c, co, id, size);
    call->metadata = co ? co->metadata : NULL;
    call->nmetadata = co ? co->nmetadata : 0;
    call->timeout_ms = co && co->timeout_ms ? co->timeout_ms
                                            : c->opts.timeout_ms;
    if (tr->ops->check(call) != MICRO_OK) {
        micro_rpc_error_set(err, MICRO_CLIENT_ID, 400, "%s",
                            micro_error_detail());
        return MICRO_EINVAL;
    }
    return MICRO_OK;
}


int
micro_client_call_raw(micro_client_t *c, const char *service,
    const char *endpoint, const char *content_type, const void *body,
    size_t len, const micro_call_options_t *co, micro_buf_t *reply,
    micro_rpc_error_t *err)
{
    int                      rc, attempt, attempts;
    char                     tried_addr[4][MICRO_NAME_MAX + 1], made[48];
    const char              *tried[4];
    micro_trip_t             t = MICRO_TRIP_CONNECT;
    micro_selected_t         node;
    micro_rpc_error_t        local;
    micro_transport_t       *tr;
    micro_transport_call_t   call;
    micro_transport_reply_t  got;

    if (err == NULL) {
        err = &local;
    }
    memset(err, 0, sizeof(*err));
    memset(&got, 0, sizeof(got));
    got.body = reply;
    got.headers = co ? co->reply_metadata : NULL;

    tr = micro_client_transport(c, co, MICRO_PROTOCOL_MUCP);
    if (micro_client_prepare(c, tr, service, endpoint, content_type, co,
                             made, sizeof(made), &call, err) != MICRO_OK)
    {
        return MICRO_EINVAL;
    }
    call.body = body;
    call.len = len;
    if (call.timeout_ms <= 0) {
        call.timeout_ms = c->opts.timeout_ms;
    }

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

        call.address = node.address;
        call.deadline = micro_now_ms() + call.timeout_ms;
        if (node.node && micro_client_transport(c, co, node.protocols) != tr)
        {
            tr = micro_client_transport(c, co, node.protocols);
            if (tr->ops->check(&call) != MICRO_OK) {
                micro_selector_done(c->selector, &node, 0);
                micro_rpc_error_set(err, MICRO_CLIENT_ID, 400, "%s",
                                    micro_error_detail());
                rc = MICRO_EINVAL;
                goto done;
            }
        }
        t = tr->ops->call(tr, &call, &got);
        if (node.node) {
            micro_selector_done(c->selector, &node, t != MICRO_TRIP_OK);
        }
        if (t == MICRO_TRIP_OK) {
            break;
        }
        if (t == MICRO_TRIP_TIMEOUT) {
            micro_rpc_error_set(err, MICRO_CLIENT_ID, 408, "call timeout: "
                                "%s at %s", got.why, node.address);
        } else {
            micro_rpc_error_set(err, MICRO_CLIENT_ID, 500, "connection "
                                "error: %s at %s", got.why, node.address);
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
    if (got.status != 200) {
        if (got.error.len) {
            micro_rpc_error_parse(err, (char *) got.error.data,
                                  got.error.len);
        } else {
            micro_rpc_error_parse(err, (char *) reply->data, reply->len);
        }
        if (err->code == 0) {
            err->code = got.status;
            snprintf(err->status, sizeof(err->status), "%s",
                     micro_http_status_text(got.status));
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
    micro_buf_free(&got.error);
    return rc;
}


/*
 * A stream to a node that speaks gRPC: picked as a call's node is, but
 * never retried (what the stream carried cannot be sent again).
 */
static int
micro_client_open(micro_client_t *c, const char *service,
    const char *endpoint, const char *content_type,
    const ProtobufCMessageDescriptor *response,
    const micro_call_options_t *co, micro_stream_t **st,
    micro_rpc_error_t *err)
{
    int                      rc;
    char                     made[48];
    micro_selected_t         node;
    micro_rpc_error_t        local;
    micro_transport_call_t   call;

    *st = NULL;
    if (err == NULL) {
        err = &local;
    }
    memset(err, 0, sizeof(*err));
    if (micro_client_prepare(c, c->grpc, service, endpoint, content_type, co,
                             made, sizeof(made), &call, err) != MICRO_OK)
    {
        return MICRO_EINVAL;
    }
    if (co && co->address) {
        snprintf(node.address, sizeof(node.address), "%s", co->address);
        node.node = NULL;
    } else {
        if (micro_client_selector(c, err) != MICRO_OK) {
            return MICRO_EREDIS;
        }
        rc = micro_selector_select(c->selector, service,
                                   co ? co->filter : NULL, NULL, 0, &node);
        if (rc != MICRO_OK) {
            micro_rpc_error_set(err, MICRO_CLIENT_ID,
                                rc == MICRO_ENOTFOUND ? 404 : 503,
                                "service %s: %s", service,
                                rc == MICRO_ENOTFOUND ? "not found"
                                                      : "none available");
            return rc;
        }
        /* a stream's length is its own: not counted as the node's load */
        micro_selector_done(c->selector, &node, 0);
        if (!(node.protocols & MICRO_PROTOCOL_GRPC)) {
            micro_rpc_error_set(err, MICRO_CLIENT_ID, 501, "service %s: node "
                                "%s does not speak gRPC, which streams "
                                "need", service, node.address);
            return micro_error_set(MICRO_EINVAL, "%s", err->detail);
        }
    }
    call.address = node.address;
    if (call.timeout_ms > 0) {
        call.deadline = micro_now_ms() + call.timeout_ms;
    } else {
        call.timeout_ms = 0;
    }
    rc = micro_grpc_open(c->grpc, &call, response, st);
    if (rc != MICRO_OK) {
        micro_rpc_error_set(err, MICRO_CLIENT_ID, 500, "%s",
                            micro_error_detail());
    }
    return rc;
}


int
micro_client_call(micro_client_t *c, const char *service,
    const char *endpoint, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *response, ProtobufCMessage **resp,
    const micro_call_options_t *co, micro_rpc_error_t *err)
{
    int          rc;
    micro_buf_t  body = { 0 }, reply = { 0 };

    *resp = NULL;
    if (micro_buf_pack(&body, req) != MICRO_OK) {
        return MICRO_ENOMEM;
    }

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


int
micro_client_stream_raw(micro_client_t *c, const char *service,
    const char *endpoint, const char *content_type,
    const micro_call_options_t *co, micro_stream_t **st,
    micro_rpc_error_t *err)
{
    return micro_client_open(c, service, endpoint, content_type, NULL, co,
                             st, err);
}


int
micro_client_stream(micro_client_t *c, const char *service,
    const char *endpoint, const ProtobufCMessageDescriptor *response,
    const micro_call_options_t *co, micro_stream_t **st,
    micro_rpc_error_t *err)
{
    return micro_client_open(c, service, endpoint, "application/grpc",
                             response, co, st, err);
}


/* The descriptor's method and its gRPC path; NULL (err set) if unknown. */
static const ProtobufCMethodDescriptor *
micro_client_method(const ProtobufCServiceDescriptor *d, const char *method,
    char *path, size_t size, micro_rpc_error_t *err)
{
    const ProtobufCMethodDescriptor  *m;

    m = protobuf_c_service_descriptor_get_method_by_name(d, method);
    if (m == NULL) {
        micro_rpc_error_set(err, MICRO_CLIENT_ID, 400, "%s has no method %s",
                            d->name, method);
        micro_error_set(MICRO_EINVAL, "%s", err->detail);
        return NULL;
    }
    snprintf(path, size, "/%s/%s", d->name, m->name);
    return m;
}


int
micro_client_call_method(micro_client_t *c, const char *service,
    const ProtobufCServiceDescriptor *d, const char *method,
    const ProtobufCMessage *req, ProtobufCMessage **resp,
    const micro_call_options_t *co, micro_rpc_error_t *err)
{
    char                              path[512];
    micro_rpc_error_t                 local;
    const ProtobufCMethodDescriptor  *m;

    *resp = NULL;
    m = micro_client_method(d, method, path, sizeof(path), err ? err
                                                               : &local);
    if (m == NULL) {
        return MICRO_EINVAL;
    }
    if (req->descriptor != m->input) {
        return micro_error_set(MICRO_EINVAL, "%s takes a %s, not a %s",
                               path, m->input->name, req->descriptor->name);
    }
    return micro_client_call(c, service, path, req, m->output, resp, co, err);
}


int
micro_client_stream_method(micro_client_t *c, const char *service,
    const ProtobufCServiceDescriptor *d, const char *method,
    const micro_call_options_t *co, micro_stream_t **st,
    micro_rpc_error_t *err)
{
    char                              path[512];
    micro_rpc_error_t                 local;
    const ProtobufCMethodDescriptor  *m;

    *st = NULL;
    m = micro_client_method(d, method, path, sizeof(path), err ? err
                                                               : &local);
    if (m == NULL) {
        return MICRO_EINVAL;
    }
    return micro_client_stream(c, service, path, m->output, co, st, err);
}
