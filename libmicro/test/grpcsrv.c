/*
 * The gRPC tests' server: micro.shapes.Shapes (test/proto/shapes.proto)
 * registered at once from its service descriptor, as the README's
 * "Writing an SRV service" shows. grpcio and grpc-go serve the same
 * service in t/peers, so one client's cases run against all three.
 *
 *   grpcsrv [server options]      (micro_server_options_args)
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <micro.h>

#include "shapes.pb-c.h"

/* gRPC status -> the go-micro code a handler fails with (README, "gRPC"):
 * 10, 11 and 15 have none of their own and arrive as 6, 3 and 13 */
static const int  grpc_to_code[17] = {
    200, 499, 418, 400, 408, 404, 409, 403, 429, 412, 409, 400, 501, 500,
    503, 500, 401
};


/* Sleeps ms in steps, until the caller goes away. */
static void
nap(micro_request_t *r, int ms)
{
    while (ms > 0 && !micro_request_cancelled(r)) {
        usleep(ms > 10 ? 10000 : (useconds_t) ms * 1000);
        ms -= 10;
    }
}


static int
fail_with(micro_request_t *r, int status, const char *detail)
{
    if (status < 0 || status > 16) {
        status = 2;
    }
    return micro_request_fail(r, grpc_to_code[status], "%s",
                              detail && *detail ? detail : "asked to fail");
}


/* Fills resp from req: the shape back, the metadata asked for, padding. */
static int
echo_into(micro_request_t *r, const Micro__Shapes__EchoRequest *req,
    Micro__Shapes__EchoResponse *resp)
{
    size_t                                       i, n = 0;
    const char                                  *v;
    Micro__Shapes__EchoResponse__HeadersEntry  **entries;

    if (req->fail_status) {
        return fail_with(r, req->fail_status, req->fail_detail);
    }
    nap(r, req->sleep_ms);
    resp->shape = req->shape;
    resp->remaining_ms = micro_request_remaining_ms(r);
    entries = micro_request_alloc(r, (req->n_echo_headers + 1)
                                     * sizeof(*entries));
    for (i = 0; entries && i < req->n_echo_headers; i++) {
        v = micro_request_header(r, req->echo_headers[i]);
        if (v == NULL) {
            continue;
        }
        micro_request_set_header(r, req->echo_headers[i], v);
        if (strlen(req->echo_headers[i]) > 4
            && strcmp(req->echo_headers[i] + strlen(req->echo_headers[i]) - 4,
                      "-bin") == 0)
        {
            continue;                /* binary: metadata only, as grpcio */
        }
        entries[n] = micro_request_alloc(r, sizeof(**entries));
        micro__shapes__echo_response__headers_entry__init(entries[n]);
        entries[n]->key = req->echo_headers[i];
        entries[n]->value = (char *) v;
        n++;
    }
    resp->n_headers = n;
    resp->headers = entries;
    if (req->pad > 0) {
        resp->padding.data = micro_request_alloc(r, (size_t) req->pad);
        if (resp->padding.data == NULL) {
            return micro_request_fail(r, 500, "out of memory");
        }
        memset(resp->padding.data, 'x', (size_t) req->pad);
        resp->padding.len = (size_t) req->pad;
    }
    return 0;
}


static int
echo(micro_request_t *r, const ProtobufCMessage *in, ProtobufCMessage *out,
    void *data)
{
    (void) data;
    return echo_into(r, (const Micro__Shapes__EchoRequest *) in,
                     (Micro__Shapes__EchoResponse *) out);
}


/* Server stream: n = 1..count, failing after fail_after if asked. */
static int
count(micro_request_t *r, micro_stream_t *st, void *data)
{
    int                           i, rc;
    ProtobufCMessage             *m;
    Micro__Shapes__CountRequest  *req;
    Micro__Shapes__CountReply     reply = MICRO__SHAPES__COUNT_REPLY__INIT;

    (void) data;
    if (micro_stream_recv(st, &m) != MICRO_OK) {
        return micro_request_fail(r, 400, "no request: %s",
                                  micro_error_detail());
    }
    req = (Micro__Shapes__CountRequest *) m;
    rc = 0;
    for (i = 1; i <= req->count; i++) {
        if (req->fail_after && i > req->fail_after) {
            rc = micro_request_fail(r, 412, "failed after %d",
                                    req->fail_after);
            break;
        }
        reply.n = i;
        if (micro_stream_send(st, &reply.base) != MICRO_OK
            || micro_request_cancelled(r))
        {
            /* the caller has gone: the tests look for this line */
            fprintf(stderr, "grpcsrv: Count cancelled after %d\n", i);
            rc = -1;
            break;
        }
        nap(r, req->sleep_ms);
    }
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}


/* Client stream: the sum of the counts sent. */
static int
sum(micro_request_t *r, micro_stream_t *st, void *data)
{
    int                 rc;
    ProtobufCMessage   *m;
    Micro__Shapes__SumReply  reply = MICRO__SHAPES__SUM_REPLY__INIT;

    (void) data;
    while ((rc = micro_stream_recv(st, &m)) == MICRO_OK) {
        reply.total += ((Micro__Shapes__CountRequest *) m)->count;
        reply.messages++;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    if (rc != MICRO_EEND) {
        return micro_request_fail(r, 400, "%s", micro_error_detail());
    }
    return micro_stream_send(st, &reply.base) == MICRO_OK ? 0 : -1;
}


/* Bidirectional: each request echoed as it comes. */
static int
chat(micro_request_t *r, micro_stream_t *st, void *data)
{
    int                           rc;
    ProtobufCMessage             *m;
    Micro__Shapes__EchoResponse   resp;

    (void) data;
    while ((rc = micro_stream_recv(st, &m)) == MICRO_OK) {
        micro__shapes__echo_response__init(&resp);
        rc = echo_into(r, (Micro__Shapes__EchoRequest *) m, &resp);
        if (rc == 0) {
            rc = micro_stream_send(st, &resp.base);
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (rc != 0) {
            return -1;
        }
    }
    return rc == MICRO_EEND ? 0 : -1;
}


int
main(int argc, char **argv)
{
    int                              rc;
    micro_server_t                  *s;
    micro_server_options_t           o;
    static const micro_method_handler_t  handlers[] = {
        MICRO_UNARY(echo), MICRO_STREAM(count), MICRO_STREAM(sum),
        MICRO_STREAM(chat)
    };

    micro_server_options_init(&o, "go.micro.srv.shapes");
    if (micro_server_options_args(&o, argc, argv) != 0
        || micro_server_new(&o, &s) != MICRO_OK
        || micro_server_handle_service(s, &micro__shapes__shapes__descriptor,
                                       handlers, NULL) != MICRO_OK)
    {
        fprintf(stderr, "grpcsrv: %s\n", micro_error_detail());
        return 1;
    }
    rc = micro_server_run(s);
    micro_server_free(s);
    return rc == MICRO_OK ? 0 : 1;
}
