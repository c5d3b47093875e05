/*
 * testsrv: the service the RPC tests start. Test.Echo returns its input
 * and the node's address, Test.Sleep blocks for the asked time, Test.Block
 * blocks until the file named by text exists (at most n ms), Test.Fail
 * returns the asked error. Test.Block lets tests hold a request in flight
 * for exactly as long as they need, with no timing involved. --delay
 * makes every Test.Echo take that long (a slow node, for benchmarks).
 *
 *   testsrv [--name NAME] [--max-body BYTES] [--delay MS] [server options]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <micro.h>

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
    resp->node = micro_request_strdup(r, micro_server_address(server));
    if (micro_request_header(r, "Micro-Id")) {
        resp->id = micro_request_strdup(r, micro_request_header(r, "Micro-Id"));
    }
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
test_fail(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Micro__Test__FailRequest  *req = (const void *) in;

    (void) out;
    (void) data;
    return micro_request_fail(r, req->code, "%s", req->detail);
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
    micro_server_handle(server, "Test.Sleep",
                        &micro__test__sleep_request__descriptor,
                        &micro__test__sleep_response__descriptor,
                        test_sleep, NULL);
    micro_server_handle(server, "Test.Block",
                        &micro__test__echo_request__descriptor,
                        &micro__test__echo_response__descriptor,
                        test_block, NULL);
    micro_server_handle(server, "Test.Fail",
                        &micro__test__fail_request__descriptor,
                        &micro__test__fail_response__descriptor,
                        test_fail, NULL);
    if (micro_server_run(server) != 0) {
        fprintf(stderr, "testsrv: %s\n", micro_error_detail());
        return 1;
    }
    micro_server_free(server);
    return 0;
}
