/*
 * testsrv: the service the RPC tests start. Test.Echo returns its input
 * (its bag of tags and items too) and the node's address, Test.Sleep blocks for the asked time, Test.Block
 * blocks until the file named by text exists (at most n ms), Test.Touch
 * creates the file named by text (a sign the call ran), Test.Fail
 * returns the asked error. Test.Block lets tests hold a request in flight
 * for exactly as long as they need, with no timing involved. --delay
 * makes every Test.Echo take that long (a slow node, for benchmarks).
 * Test.Header answers with the value of the request header named by text
 * (the metadata a call came with).
 * For the gateway's api handler: Test.Api answers a go.api.Request with
 * the request as JSON, its reply shaped by the query (status=N,
 * header=Name:Value, type=Content-Type, body=TEXT); Test.BadApi answers
 * with a go.api.Response that does not parse.
 *
 *   testsrv [--name NAME] [--max-body BYTES] [--delay MS] [server options]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <micro.h>

#include "api.pb-c.h"
#include "testsvc.pb-c.h"

static micro_server_t  *server;
static long             delay_ms;


static int
test_echo(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Micro__Test__EchoRequest  *req = (const void *) in;
    Micro__Test__EchoResponse       *resp = (void *) out;

    (void) data;
    if (delay_ms > 0) {
        struct timespec  ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000 };

        nanosleep(&ts, NULL);
    }
    resp->text = micro_request_strdup(r, req->text);
    resp->n = req->n;
    resp->data.len = req->data.len;
    resp->data.data = micro_request_alloc(r, req->data.len);
    if (req->data.len) {
        memcpy(resp->data.data, req->data.data, req->data.len);
    }
    resp->bag = req->bag;             /* the request outlives the packing */
    resp->node = micro_request_strdup(r, micro_server_address(server));
    if (micro_request_header(r, "Micro-Id")) {
        resp->id = micro_request_strdup(r, micro_request_header(r, "Micro-Id"));
    }
    return 0;
}


static int
test_header(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Micro__Test__EchoRequest  *req = (const void *) in;
    Micro__Test__EchoResponse       *resp = (void *) out;
    const char                      *value;

    (void) data;
    value = micro_request_header(r, req->text);
    resp->text = micro_request_strdup(r, value ? value : "");
    return 0;
}


static int
test_sleep(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Micro__Test__SleepRequest  *req = (const void *) in;
    Micro__Test__SleepResponse       *resp = (void *) out;
    struct timespec                   ts;

    (void) r;
    (void) data;
    ts.tv_sec = req->ms / 1000;
    ts.tv_nsec = (long) (req->ms % 1000) * 1000000;
    nanosleep(&ts, NULL);
    resp->slept_ms = req->ms;
    return 0;
}


static int
test_block(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    int64_t                          waited;
    const Micro__Test__EchoRequest  *req = (const void *) in;
    struct timespec                  ts = { 0, 5000000 };

    for (waited = 0; access(req->text, F_OK) != 0; waited += 5) {
        if (waited >= (req->n ? req->n : 60000)) {
            return micro_request_fail(r, 504, "%s never appeared", req->text);
        }
        nanosleep(&ts, NULL);
    }
    return test_echo(r, in, out, data);
}


static int
test_touch(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    FILE                            *f;
    const Micro__Test__EchoRequest  *req = (const void *) in;

    f = fopen(req->text, "w");
    if (f == NULL) {
        return micro_request_fail(r, 500, "cannot create %s", req->text);
    }
    fclose(f);
    return test_echo(r, in, out, data);
}


static int
test_fail(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Micro__Test__FailRequest  *req = (const void *) in;

    (void) out;
    (void) data;
    return micro_request_fail(r, req->code, "%s", req->detail);
}


/* One of go.api.Request's maps as {"key": ["value", ...]}. */
static json_t *
api_map(size_t n, Go__Api__Request__HeaderEntry **entries)
{
    size_t   i, j;
    json_t  *o = json_object(), *values;

    for (i = 0; i < n; i++) {
        values = json_array();
        for (j = 0; entries[i]->value && j < entries[i]->value->n_values;
             j++)
        {
            json_array_append_new(values,
                                  json_string(entries[i]->value->values[j]));
        }
        json_object_set_new(o, entries[i]->key, values);
    }
    return o;
}


/* The reply's header named name, made on first use. */
static Go__Api__Pair *
api_header(micro_request_t *r, Go__Api__Response *resp, const char *name)
{
    size_t                           i;
    Go__Api__Pair                   *p;
    Go__Api__Response__HeaderEntry  *e;

    for (i = 0; i < resp->n_header; i++) {
        if (strcmp(resp->header[i]->key, name) == 0) {
            return resp->header[i]->value;
        }
    }
    e = micro_request_alloc(r, sizeof(*e));
    p = micro_request_alloc(r, sizeof(*p));
    go__api__response__header_entry__init(e);
    go__api__pair__init(p);
    p->values = micro_request_alloc(r, 8 * sizeof(char *));
    e->key = p->key = micro_request_strdup(r, name);
    e->value = p;
    resp->header[resp->n_header++] = e;
    return p;
}


static int
test_api(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Go__Api__Request  *req = (const void *) in;
    Go__Api__Response       *resp = (void *) out;
    size_t                   i, j;
    char                    *s, *colon;
    json_t                  *echo;
    Go__Api__Pair           *p, *v;

    (void) data;
    resp->header = micro_request_alloc(r, 16 * sizeof(void *));
    for (i = 0; i < req->n_get; i++) {
        v = req->get[i]->value;
        for (j = 0; v && j < v->n_values; j++) {
            const char  *k = req->get[i]->key;

            if (strcmp(k, "status") == 0) {
                resp->statuscode = atoi(v->values[j]);
            } else if (strcmp(k, "body") == 0) {
                resp->body = micro_request_strdup(r, v->values[j]);
            } else if (strcmp(k, "type") == 0) {
                p = api_header(r, resp, "Content-Type");
                p->values[p->n_values++] = v->values[j];
            } else if (strcmp(k, "header") == 0 && resp->n_header < 15
                       && (colon = strchr(v->values[j], ':')) != NULL)
            {
                s = micro_request_strdup(r, v->values[j]);
                s[colon - v->values[j]] = '\0';
                p = api_header(r, resp, s);
                if (p->n_values < 8) {
                    p->values[p->n_values++] = colon + 1;
                }
            }
        }
    }
    if (resp->body[0] == '\0') {
        echo = json_pack("{ss ss ss ss so so so}", "method", req->method,
                         "path", req->path, "url", req->url,
                         "body", req->body,
                         "header", api_map(req->n_header, req->header),
                         "get", api_map(req->n_get, (void *) req->get),
                         "post", api_map(req->n_post, (void *) req->post));
        s = json_dumps(echo, JSON_COMPACT | JSON_SORT_KEYS);
        resp->body = micro_request_strdup(r, s);
        free(s);
        json_decref(echo);
    }
    return 0;
}


static int
test_bad_api(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    Micro__Test__BrokenApiResponse  *resp = (void *) out;

    (void) r;
    (void) in;
    (void) data;
    resp->header.data = (uint8_t *) "\xff\xff";    /* a truncated varint */
    resp->header.len = 2;
    return 0;
}


int
main(int argc, char **argv)
{
    int                      i, n = 1;
    char                    *args[32];
    micro_server_options_t   o;

    micro_server_options_init(&o, "go.micro.srv.test");
    args[0] = argv[0];
    for (i = 1; i < argc && n < 31; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            o.name = argv[++i];
        } else if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc) {
            delay_ms = atol(argv[++i]);
        } else if (strcmp(argv[i], "--max-body") == 0 && i + 1 < argc) {
            o.max_body = (size_t) atol(argv[++i]);
        } else {
            args[n++] = argv[i];
        }
    }
    if (micro_server_options_args(&o, n, args) != 0
        || micro_server_new(&o, &server) != 0)
    {
        return 2;
    }
    micro_server_handle(server, "Test.Echo",
                        &micro__test__echo_request__descriptor,
                        &micro__test__echo_response__descriptor,
                        test_echo, NULL);
    micro_server_handle(server, "Test.Header",
                        &micro__test__echo_request__descriptor,
                        &micro__test__echo_response__descriptor,
                        test_header, NULL);
    micro_server_handle(server, "Test.Sleep",
                        &micro__test__sleep_request__descriptor,
                        &micro__test__sleep_response__descriptor,
                        test_sleep, NULL);
    micro_server_handle(server, "Test.Block",
                        &micro__test__echo_request__descriptor,
                        &micro__test__echo_response__descriptor,
                        test_block, NULL);
    micro_server_handle(server, "Test.Touch",
                        &micro__test__echo_request__descriptor,
                        &micro__test__echo_response__descriptor,
                        test_touch, NULL);
    micro_server_handle(server, "Test.Fail",
                        &micro__test__fail_request__descriptor,
                        &micro__test__fail_response__descriptor,
                        test_fail, NULL);
    micro_server_handle(server, "Test.Api", &go__api__request__descriptor,
                        &go__api__response__descriptor, test_api, NULL);
    micro_server_handle(server, "Test.BadApi", &go__api__request__descriptor,
                        &micro__test__broken_api_response__descriptor,
                        test_bad_api, NULL);
    if (micro_server_run(server) != 0) {
        fprintf(stderr, "testsrv: %s\n", micro_error_detail());
        return 1;
    }
    micro_server_free(server);
    return 0;
}
