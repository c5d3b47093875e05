/*
 * libmicro's gRPC client against a micro.shapes.Shapes server at ADDRESS
 * (grpcio's, grpc-go's or libmicro's own): the cases of
 * t/peers/grpc_client.py through libmicro's typed API, each printing
 * "ok - NAME" or "not ok - NAME: why" for t/libmicro/grpc.t.
 *
 *   grpcpeer ADDRESS [libmicro]   (libmicro: the server sends go-micro's
 *                                  errors whole, codes included)
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <micro.h>

#include "shapes.pb-c.h"

#define SVC  "go.micro.srv.shapes"

static const ProtobufCServiceDescriptor  *shapes = &micro__shapes__shapes__descriptor;
static micro_client_t                    *client;
static const char                        *address;
static int                                own_server;
static char                               why[1024];

/* go-micro's code for each gRPC status (README, "gRPC"), and the codes
 * grpcsrv.c fails with for them */
static const int  from_status[17] = {
    200, 499, 500, 400, 408, 404, 409, 403, 429, 412, 409, 400, 501, 500,
    503, 500, 401
};
static const int  grpcsrv_code[17] = {
    200, 499, 418, 400, 408, 404, 409, 403, 429, 412, 409, 400, 501, 500,
    503, 500, 401
};


static micro_call_options_t
opts(int timeout_ms)
{
    micro_call_options_t  co = { 0 };

    co.address = address;
    co.protocol = "grpc";
    co.timeout_ms = timeout_ms;
    return co;
}


static int
fail(const char *fmt, const char *a, long b)
{
    snprintf(why, sizeof(why), fmt, a, b);
    return -1;
}


static int
echo(Micro__Shapes__EchoRequest *req, int timeout_ms,
    micro_call_options_t *co_in, Micro__Shapes__EchoResponse **resp,
    micro_rpc_error_t *err)
{
    micro_call_options_t  co = co_in ? *co_in : opts(timeout_ms);

    return micro_client_call_method(client, SVC, shapes, "Echo", &req->base,
                                    (ProtobufCMessage **) resp, &co, err);
}


static int
unary(void)
{
    int                           rc;
    uint8_t                       blob[] = { 0, 0xff, 0x10 };
    micro_rpc_error_t             err;
    Micro__Shapes__Point          p1 = MICRO__SHAPES__POINT__INIT;
    Micro__Shapes__Point          c = MICRO__SHAPES__POINT__INIT;
    Micro__Shapes__Point         *pts[] = { &p1 };
    Micro__Shapes__Shape__TagsEntry  tag = MICRO__SHAPES__SHAPE__TAGS_ENTRY__INIT;
    Micro__Shapes__Shape__TagsEntry *tags[] = { &tag };
    Micro__Shapes__Shape          shape = MICRO__SHAPES__SHAPE__INIT;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    p1.x = 1; p1.y = -2; c.x = 7;
    tag.key = "big"; tag.value = 9007199254740993LL;
    shape.name = "tri"; shape.n_points = 1; shape.points = pts;
    shape.n_tags = 1; shape.tags = tags; shape.mood = MICRO__SHAPES__MOOD__SAD;
    shape.center = &c; shape.blob.data = blob; shape.blob.len = 3;
    req.shape = &shape;
    rc = echo(&req, 10000, NULL, &resp, &err);
    if (rc != MICRO_OK) {
        return fail("%s%ld", err.detail, 0);
    }
    rc = resp->shape && strcmp(resp->shape->name, "tri") == 0
         && resp->shape->n_points == 1 && resp->shape->points[0]->y == -2
         && resp->shape->n_tags == 1
         && resp->shape->tags[0]->value == 9007199254740993LL
         && resp->shape->mood == MICRO__SHAPES__MOOD__SAD
         && resp->shape->center && resp->shape->center->x == 7
         && resp->shape->blob.len == 3 && resp->shape->blob.data[1] == 0xff
         ? 0 : fail("the shape came back changed%s%ld", "", 0);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}


/* Count{count, fail_after}: the ns received, then the status. */
static int
count(int n, int fail_after, int sleep_ms, int *got, micro_stream_t **keep,
    micro_rpc_error_t *err)
{
    int                           rc, k = 0;
    ProtobufCMessage             *m;
    micro_stream_t               *st;
    micro_call_options_t          co = opts(keep ? -1 : 10000);
    Micro__Shapes__CountRequest   req = MICRO__SHAPES__COUNT_REQUEST__INIT;

    req.count = n;
    req.fail_after = fail_after;
    req.sleep_ms = sleep_ms;
    rc = micro_client_stream_method(client, SVC, shapes, "Count", &co, &st,
                                    err);
    if (rc != MICRO_OK) {
        return rc;
    }
    micro_stream_send(st, &req.base);
    micro_stream_close_send(st);
    while ((keep == NULL || k < 2) && micro_stream_recv(st, &m) == MICRO_OK) {
        got[k++] = ((Micro__Shapes__CountReply *) m)->n;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    if (keep) {
        *keep = st;
        return k;
    }
    rc = micro_stream_status(st, err);
    micro_stream_free(st);
    return rc == MICRO_OK ? k : rc;
}


static int
server_stream(void)
{
    int                got[8];
    micro_rpc_error_t  err;

    if (count(5, 0, 0, got, NULL, &err) != 5 || got[0] != 1 || got[4] != 5) {
        return fail("stream failed: %s%ld", err.detail, 0);
    }
    return 0;
}


static int
client_stream(void)
{
    int                           rc, i;
    ProtobufCMessage             *m;
    micro_stream_t               *st;
    micro_rpc_error_t             err;
    micro_call_options_t          co = opts(10000);
    Micro__Shapes__CountRequest   req = MICRO__SHAPES__COUNT_REQUEST__INIT;
    Micro__Shapes__SumReply      *sum;

    if (micro_client_stream_method(client, SVC, shapes, "Sum", &co, &st,
                                   &err) != MICRO_OK)
    {
        return fail("%s%ld", err.detail, 0);
    }
    for (i = 1; i <= 4; i++) {
        req.count = i;
        micro_stream_send(st, &req.base);
    }
    micro_stream_close_send(st);
    rc = micro_stream_recv(st, &m);
    if (rc != MICRO_OK) {
        micro_stream_status(st, &err);
        micro_stream_free(st);
        return fail("no reply: %s%ld", err.detail, 0);
    }
    sum = (Micro__Shapes__SumReply *) m;
    rc = sum->total == 10 && sum->messages == 4
         ? 0 : fail("total %s%ld", "", (long) sum->total);
    protobuf_c_message_free_unpacked(m, NULL);
    if (micro_stream_status(st, &err) != MICRO_OK) {
        rc = fail("status %s%ld", err.detail, 0);
    }
    micro_stream_free(st);
    return rc;
}


static int
bidi(void)
{
    int                           i, rc = 0;
    char                          name[8];
    ProtobufCMessage             *m;
    micro_stream_t               *st;
    micro_rpc_error_t             err;
    micro_call_options_t          co = opts(10000);
    Micro__Shapes__Shape          shape = MICRO__SHAPES__SHAPE__INIT;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;

    if (micro_client_stream_method(client, SVC, shapes, "Chat", &co, &st,
                                   &err) != MICRO_OK)
    {
        return fail("%s%ld", err.detail, 0);
    }
    req.shape = &shape;
    /* each request only after the reply to the one before */
    for (i = 0; i < 3 && rc == 0; i++) {
        snprintf(name, sizeof(name), "%d", i);
        shape.name = name;
        micro_stream_send(st, &req.base);
        if (micro_stream_recv(st, &m) != MICRO_OK) {
            rc = fail("no reply %s%ld", "", i);
            break;
        }
        if (strcmp(((Micro__Shapes__EchoResponse *) m)->shape->name, name)) {
            rc = fail("reply %s%ld out of turn", "", i);
        }
        protobuf_c_message_free_unpacked(m, NULL);
    }
    micro_stream_close_send(st);
    if (rc == 0 && micro_stream_recv(st, &m) != MICRO_EEND) {
        rc = fail("no end of stream%s%ld", "", 0);
    }
    if (rc == 0 && micro_stream_status(st, &err) != MICRO_OK) {
        rc = fail("status: %s%ld", err.detail, 0);
    }
    micro_stream_free(st);
    return rc;
}


static int
deadline_exceeded(void)
{
    int                           rc;
    micro_rpc_error_t             err;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    req.sleep_ms = 5000;
    rc = echo(&req, 300, NULL, &resp, &err);
    if (rc == MICRO_OK) {
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return rc == MICRO_ETIMEDOUT && err.code == 408
           ? 0 : fail("rc %s %ld", micro_strerror(rc), err.code);
}


static int
deadline_reaches_handler(void)
{
    int                           rc;
    micro_rpc_error_t             err;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    if (echo(&req, 30000, NULL, &resp, &err) != MICRO_OK) {
        return fail("%s%ld", err.detail, 0);
    }
    rc = resp->remaining_ms > 0 && resp->remaining_ms <= 31000
         ? 0 : fail("remaining %s%ld", "", resp->remaining_ms);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}


static int
cancel_mid_stream(void)
{
    int                           got[4], rc;
    micro_stream_t               *st;
    micro_rpc_error_t             err;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    rc = count(100000, 0, 20, got, &st, &err);
    if (rc != 2) {
        return fail("no replies: %s%ld", err.detail, rc);
    }
    micro_stream_cancel(st);
    rc = micro_stream_status(st, &err);
    micro_stream_free(st);
    if (rc != MICRO_ECLOSED) {
        return fail("status %s%ld", micro_strerror(rc), 0);
    }
    if (echo(&req, 10000, NULL, &resp, &err) != MICRO_OK) {
        return fail("no call after: %s%ld", err.detail, 0);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return got[0] == 1 && got[1] == 2 ? 0 : fail("got %s%ld", "", got[0]);
}


static int
every_status(void)
{
    int                           s, want, rc;
    char                          detail[32];
    micro_rpc_error_t             err;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    for (s = 1; s <= 16; s++) {
        snprintf(detail, sizeof(detail), "boom %d", s);
        req.fail_status = s;
        req.fail_detail = detail;
        rc = echo(&req, 10000, NULL, &resp, &err);
        want = own_server ? grpcsrv_code[s] : from_status[s];
        if (rc == MICRO_OK) {
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
        if (rc != MICRO_EREMOTE || err.code != want
            || strstr(err.detail, detail) == NULL)
        {
            snprintf(why, sizeof(why), "status %d: rc %s, %d %s", s,
                     micro_strerror(rc), err.code, err.detail);
            return -1;
        }
    }
    return 0;
}


static int
stream_error(void)
{
    int                got[8], rc;
    micro_rpc_error_t  err;

    rc = count(5, 2, 0, got, NULL, &err);
    return rc == MICRO_EREMOTE && err.code == 412
           && strstr(err.detail, "failed after 2")
           ? 0 : fail("rc %s, %ld", err.detail, rc);
}


static int
metadata(void)
{
    int                           rc;
    char                         *names[] = { "x-token", "x-trace-bin" };
    const char                   *tok, *bin;
    micro_pair_t                  md[] = { { "x-token", "abc" },
                                           { "x-trace-bin", "AAH+" } };
    micro_metadata_t              back = { 0 };
    micro_rpc_error_t             err;
    micro_call_options_t          co = opts(10000);
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    co.metadata = md;
    co.nmetadata = 2;
    co.reply_metadata = &back;
    req.n_echo_headers = 2;
    req.echo_headers = names;
    if (echo(&req, 0, &co, &resp, &err) != MICRO_OK) {
        return fail("%s%ld", err.detail, 0);
    }
    tok = micro_metadata_get(&back, "x-token");
    bin = micro_metadata_get(&back, "x-trace-bin");
    rc = tok && strcmp(tok, "abc") == 0 && bin
         && strncmp(bin, "AAH+", 4) == 0 && resp->n_headers == 1
         ? 0 : fail("metadata back: x-token %s, x-trace-bin %ld",
                    tok ? tok : "(none)", bin ? (long) strlen(bin) : -1L);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    micro_metadata_free(&back);
    return rc;
}


static int
big(int request, int pad, int *code)
{
    int                           rc;
    micro_rpc_error_t             err;
    Micro__Shapes__Shape          shape = MICRO__SHAPES__SHAPE__INIT;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    shape.blob.len = (size_t) request;
    shape.blob.data = calloc(1, (size_t) request + 1);
    req.shape = &shape;
    req.pad = pad;
    rc = echo(&req, 30000, NULL, &resp, &err);
    free(shape.blob.data);
    *code = err.code;
    if (rc == MICRO_OK) {
        rc = resp->shape && resp->shape->blob.len == (size_t) request
             && resp->padding.len == (size_t) pad ? 0 : -1;
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    }
    return rc;
}


static int
big_messages(void)
{
    int  code;

    return big(5000000, 0, &code) == 0 && big(10, 5000000, &code) == 0
           ? 0 : fail("5 MB failed: %s%ld", "", code);
}


static int
over_the_limit(void)
{
    int  code, rc;

    rc = big(9000000, 0, &code);
    if (rc != MICRO_EREMOTE || code != (own_server ? 413 : 429)) {
        return fail("9 MB request: %s%ld", micro_strerror(rc), code);
    }
    /* a reply over the client's own limit (8 MiB) */
    rc = big(10, 9000000, &code);
    return rc != MICRO_OK && code == 429
           ? 0 : fail("9 MB reply: %s%ld", micro_strerror(rc), code);
}


static void *
one_call(void *arg)
{
    long                          i = (long) arg;
    char                          name[16];
    micro_rpc_error_t             err;
    Micro__Shapes__Shape          shape = MICRO__SHAPES__SHAPE__INIT;
    Micro__Shapes__EchoRequest    req = MICRO__SHAPES__ECHO_REQUEST__INIT;
    Micro__Shapes__EchoResponse  *resp;

    snprintf(name, sizeof(name), "%ld", i);
    shape.name = name;
    req.shape = &shape;
    req.sleep_ms = 50;
    if (echo(&req, 60000, NULL, &resp, &err) != MICRO_OK) {
        return (void *) 1;
    }
    i = strcmp(resp->shape->name, name) != 0;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return (void *) i;
}


static int
concurrent(void)
{
    long       i, bad = 0;
    void      *r;
    pthread_t  t[100];

    for (i = 0; i < 100; i++) {
        pthread_create(&t[i], NULL, one_call, (void *) i);
    }
    for (i = 0; i < 100; i++) {
        pthread_join(t[i], &r);
        bad += r != NULL;
    }
    return bad ? fail("%s%ld calls failed", "", bad) : 0;
}


static int
unknown_method(void)
{
    int                rc;
    micro_buf_t        reply = { 0 };
    micro_rpc_error_t  err;
    micro_call_options_t co = opts(10000);

    rc = micro_client_call_raw(client, SVC, "/micro.shapes.Shapes/Nope",
                               "application/protobuf", "", 0, &co, &reply,
                               &err);
    micro_buf_free(&reply);
    return rc == MICRO_EREMOTE && err.code == 501
           ? 0 : fail("rc %s, %ld", micro_strerror(rc), err.code);
}


int
main(int argc, char **argv)
{
    size_t                  i;
    micro_client_options_t  o = { 0 };
    static const struct {
        const char  *name;
        int        (*fn)(void);
    } cases[] = {
        { "unary with nested, repeated, map, enum, bytes", unary },
        { "server stream", server_stream },
        { "client stream", client_stream },
        { "bidirectional stream", bidi },
        { "deadline exceeded", deadline_exceeded },
        { "deadline reaches the handler", deadline_reaches_handler },
        { "cancel mid-stream", cancel_mid_stream },
        { "every error status", every_status },
        { "error mid-stream", stream_error },
        { "metadata both ways, -bin included", metadata },
        { "5 MB each way", big_messages },
        { "over the limit", over_the_limit },
        { "100 concurrent calls, one connection", concurrent },
        { "unknown method", unknown_method },
    };

    if (argc < 2) {
        fprintf(stderr, "usage: grpcpeer ADDRESS [libmicro]\n");
        return 2;
    }
    address = argv[1];
    own_server = argc > 2 && strcmp(argv[2], "libmicro") == 0;
    o.max_message = 8 << 20;
    if (micro_client_new(&o, &client) != MICRO_OK) {
        return 1;
    }
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        why[0] = '\0';
        if (cases[i].fn() == 0) {
            printf("ok - %s\n", cases[i].name);
        } else {
            printf("not ok - %s: %s\n", cases[i].name, why);
        }
        fflush(stdout);
    }
    micro_client_free(client);
    return 0;
}
