/*
 * The RPC client against an in-process server, over real loopback sockets
 * and a real redis-server: protobuf and JSON calls, remote errors,
 * timeouts, keepalive reuse, calls by address.
 */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "redis_fixture.h"
#include "testsvc.pb-c.h"

static micro_server_t  *server;
static pthread_t        server_thread;
static micro_client_t  *client;


static int
echo(micro_request_t *r, const ProtobufCMessage *in, ProtobufCMessage *out,
    void *data)
{
    const Micro__Test__EchoRequest  *req = (const void *) in;
    Micro__Test__EchoResponse       *resp = (void *) out;
    const char                      *who = micro_request_header(r, "X-Who");

    (void) data;
    resp->text = micro_request_printf(r, "%s%s%s", req->text,
                                      who ? " from " : "", who ? who : "");
    resp->n = req->n * 2;
    return 0;
}


static int
sleep_ms(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Micro__Test__SleepRequest  *req = (const void *) in;
    struct timespec                   ts = { req->ms / 1000,
                                             (req->ms % 1000) * 1000000L };

    (void) r;
    (void) out;
    (void) data;
    nanosleep(&ts, NULL);
    return 0;
}


static int
fail_with(micro_request_t *r, const ProtobufCMessage *in, ProtobufCMessage *out,
    void *data)
{
    const Micro__Test__FailRequest  *req = (const void *) in;

    (void) out;
    (void) data;
    return micro_request_fail(r, req->code, "%s", req->detail);
}


static void *
run(void *arg)
{
    (void) arg;
    micro_server_run(server);
    return NULL;
}


static int
registered(void *arg)
{
    micro_service_list_t  list;

    (void) arg;
    if (micro_registry_get(fx_reg, "go.micro.srv.rpc", &list) != 0) {
        return 0;
    }
    micro_service_list_free(&list);
    return micro_server_address(server)[0] != '\0';
}


static int
setup(void **state)
{
    micro_server_options_t  so;
    micro_client_options_t  co = { 0 };

    if (micro_test_group_setup(state) != 0) {
        return -1;
    }
    micro_server_options_init(&so, "go.micro.srv.rpc");
    so.registry = fx_redis.url;
    so.threads = 2;
    so.workers = 4;
    if (micro_server_new(&so, &server) != 0) {
        return -1;
    }
    micro_server_handle(server, "Test.Echo",
                        &micro__test__echo_request__descriptor,
                        &micro__test__echo_response__descriptor, echo, NULL);
    micro_server_handle(server, "Test.Sleep",
                        &micro__test__sleep_request__descriptor,
                        &micro__test__sleep_response__descriptor, sleep_ms,
                        NULL);
    micro_server_handle(server, "Test.Fail",
                        &micro__test__fail_request__descriptor,
                        &micro__test__fail_response__descriptor, fail_with,
                        NULL);
    pthread_create(&server_thread, NULL, run, NULL);
    if (!micro_test_wait(registered, NULL, MICRO_TEST_WAIT_MS)) {
        return -1;
    }
    co.registry = fx_redis.url;
    co.pool_size = 1;
    return micro_client_new(&co, &client);
}


static int
teardown(void **state)
{
    micro_client_free(client);
    micro_server_stop(server);
    pthread_join(server_thread, NULL);
    micro_server_free(server);
    return micro_test_group_teardown(state);
}


static void
test_protobuf_call(void **state)
{
    micro_rpc_error_t           err;
    Micro__Test__EchoRequest    req = MICRO__TEST__ECHO_REQUEST__INIT;
    Micro__Test__EchoResponse  *resp;
    micro_pair_t                md = { "X-Who", "cmocka" };
    micro_call_options_t        co = { 0 };

    (void) state;
    req.text = "hello";
    req.n = 21;
    co.metadata = &md;
    co.nmetadata = 1;
    assert_int_equal(micro_client_call(client, "go.micro.srv.rpc", "Test.Echo",
                                       &req.base,
                                       &micro__test__echo_response__descriptor,
                                       (ProtobufCMessage **) &resp, &co, &err),
                     0);
    assert_string_equal(resp->text, "hello from cmocka");
    assert_int_equal(resp->n, 42);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
}


static void
test_json_call(void **state)
{
    micro_buf_t        reply = { 0 };
    micro_rpc_error_t  err;
    const char        *in = "{\"text\":\"j\",\"n\":\"2\"}";
    const char        *want = "{\"text\":\"j\",\"n\":\"4\"}";

    (void) state;
    assert_int_equal(micro_client_call_raw(client, "go.micro.srv.rpc",
                                           "Test.Echo", "application/json",
                                           in, strlen(in), NULL, &reply,
                                           &err), 0);
    assert_int_equal(reply.len, strlen(want));
    assert_memory_equal(reply.data, want, reply.len);
    micro_buf_free(&reply);
}


static void
test_remote_error(void **state)
{
    micro_rpc_error_t           err;
    Micro__Test__FailRequest    req = MICRO__TEST__FAIL_REQUEST__INIT;
    ProtobufCMessage           *resp;

    (void) state;
    req.code = 409;
    req.detail = "already there";
    assert_int_equal(micro_client_call(client, "go.micro.srv.rpc", "Test.Fail",
                                       &req.base,
                                       &micro__test__fail_response__descriptor,
                                       &resp, NULL, &err), MICRO_EREMOTE);
    assert_null(resp);
    assert_int_equal(err.code, 409);
    assert_string_equal(err.id, "go.micro.srv.rpc");
    assert_string_equal(err.detail, "already there");
    assert_string_equal(err.status, "Conflict");
}


static void
test_timeout(void **state)
{
    micro_rpc_error_t          err;
    micro_call_options_t       co = { 0 };
    Micro__Test__SleepRequest  req = MICRO__TEST__SLEEP_REQUEST__INIT;
    ProtobufCMessage          *resp;

    (void) state;
    req.ms = 1500;
    co.timeout_ms = 100;
    assert_int_equal(micro_client_call(client, "go.micro.srv.rpc",
                                       "Test.Sleep", &req.base,
                                       &micro__test__sleep_response__descriptor,
                                       &resp, &co, &err), MICRO_ETIMEDOUT);
    assert_int_equal(err.code, 408);
    assert_string_equal(err.id, "go.micro.client");
}


static void
test_not_found(void **state)
{
    micro_buf_t        reply = { 0 };
    micro_rpc_error_t  err;

    (void) state;
    assert_int_not_equal(micro_client_call_raw(client, "go.micro.srv.none",
                                               "A.B", "application/json",
                                               "{}", 2, NULL, &reply, &err),
                         0);
    assert_int_equal(err.code, 404);
    assert_string_equal(err.detail, "service go.micro.srv.none: not found");
    micro_buf_free(&reply);
}


static int
established(int port)
{
    int    n = 0;
    char   line[512];
    FILE  *f = fopen("/proc/net/tcp", "r");
    unsigned  local_port, st;

    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, " %*d: %*8x:%4x %*8x:%*4x %2x", &local_port, &st)
            == 2 && (int) local_port == port && st == 1)
        {
            n++;
        }
    }
    if (f) {
        fclose(f);
    }
    return n;
}


static void
test_keepalive_reuse(void **state)
{
    int                i, port;
    micro_buf_t        reply = { 0 };
    micro_rpc_error_t  err;

    (void) state;
    port = atoi(strrchr(micro_server_address(server), ':') + 1);
    for (i = 0; i < 100; i++) {
        reply.len = 0;
        assert_int_equal(micro_client_call_raw(client, "go.micro.srv.rpc",
                                               "Test.Echo",
                                               "application/json", "{}", 2,
                                               NULL, &reply, &err), 0);
    }
    /* the earlier tests' connections went back to the pool of one too */
    assert_int_equal(established(port), 1);
    micro_buf_free(&reply);
}


static void
test_call_by_address(void **state)
{
    micro_buf_t           reply = { 0 };
    micro_rpc_error_t     err;
    micro_call_options_t  co = { 0 };
    char                  dead[32];

    (void) state;
    co.address = micro_server_address(server);
    assert_int_equal(micro_client_call_raw(client, "go.micro.srv.rpc",
                                           "Debug.Health", "application/json",
                                           "{}", 2, &co, &reply, &err), 0);
    assert_memory_equal(reply.data, "{\"status\":\"ok\"}", 15);

    snprintf(dead, sizeof(dead), "127.0.0.1:%d", micro_test_free_port());
    co.address = dead;
    assert_int_equal(micro_client_call_raw(client, "go.micro.srv.rpc",
                                           "Debug.Health", "application/json",
                                           "{}", 2, &co, &reply, &err),
                     MICRO_ECONNECT);
    assert_non_null(strstr(err.detail, "connection error"));
    assert_string_equal(micro_strerror(MICRO_ECONNECT),
                        "connection to the service failed");
    micro_buf_free(&reply);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_protobuf_call),
        cmocka_unit_test(test_json_call),
        cmocka_unit_test(test_remote_error),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_call_by_address),
    };

    return cmocka_run_group_tests_name("rpc", tests, setup, teardown);
}
