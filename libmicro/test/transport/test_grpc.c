/*
 * gRPC's wire details in isolation (transport/grpc.c): grpc-timeout both
 * ways, grpc-message's percent-encoding, the status <-> go-micro code
 * table the README documents, the length-prefixed message reader, the
 * endpoint -> :path rules, which protocols a registry node speaks, and
 * a descriptor set's methods with their paths and kinds of stream.
 * The peers themselves are in t/libmicro/grpc.t.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "micro/error.h"
#include "micro/pb.h"
#include "micro/service.h"
#include "transport/grpc.h"
#include "transport/grpc_client.h"


static void
test_grpc_timeout(void **state)
{
    char  buf[16];

    (void) state;
    assert_int_equal(micro_grpc_timeout_parse("100m", 4), 100);
    assert_int_equal(micro_grpc_timeout_parse("2S", 2), 2000);
    assert_int_equal(micro_grpc_timeout_parse("1M", 2), 60000);
    assert_int_equal(micro_grpc_timeout_parse("1H", 2), 3600000);
    assert_int_equal(micro_grpc_timeout_parse("1500u", 5), 2);   /* up */
    assert_int_equal(micro_grpc_timeout_parse("1n", 2), 1);
    assert_int_equal(micro_grpc_timeout_parse("", 0), -1);
    assert_int_equal(micro_grpc_timeout_parse("m", 1), -1);
    assert_int_equal(micro_grpc_timeout_parse("12x", 3), -1);
    assert_int_equal(micro_grpc_timeout_parse("-1m", 3), -1);
    assert_int_equal(micro_grpc_timeout_parse("123456789m", 10), -1);

    micro_grpc_timeout_format(5000, buf, sizeof(buf));
    assert_string_equal(buf, "5000m");
    micro_grpc_timeout_format(-3, buf, sizeof(buf));
    assert_string_equal(buf, "0m");
    /* over 8 digits of ms: seconds, rounded up */
    micro_grpc_timeout_format(200000000, buf, sizeof(buf));
    assert_string_equal(buf, "200000S");
}


static void
test_grpc_message(void **state)
{
    micro_buf_t  enc = { 0 }, dec = { 0 };

    (void) state;
    assert_int_equal(micro_grpc_message_encode("100% sure\n\xc3\xa9", &enc),
                     MICRO_OK);
    assert_int_equal(enc.len, strlen("100%25 sure%0A%C3%A9"));
    assert_memory_equal(enc.data, "100%25 sure%0A%C3%A9", enc.len);
    assert_int_equal(micro_grpc_message_decode((char *) enc.data, enc.len,
                                               &dec), MICRO_OK);
    assert_int_equal(dec.len, strlen("100% sure\n\xc3\xa9"));
    assert_memory_equal(dec.data, "100% sure\n\xc3\xa9", dec.len);

    /* a stray or cut-off % stays as it is */
    dec.len = 0;
    micro_grpc_message_decode("50%zz%4", 7, &dec);
    assert_int_equal(dec.len, 7);
    assert_memory_equal(dec.data, "50%zz%4", 7);
    micro_buf_free(&enc);
    micro_buf_free(&dec);
}


static void
test_grpc_status_table(void **state)
{
    int  s;
    static const int  codes[][2] = {
        { 400, 3 }, { 401, 16 }, { 403, 7 }, { 404, 5 }, { 408, 4 },
        { 409, 6 }, { 412, 9 }, { 413, 8 }, { 429, 8 }, { 499, 1 },
        { 500, 13 }, { 501, 12 }, { 503, 14 }, { 504, 4 }, { 418, 2 },
        { 200, 0 }
    };

    (void) state;
    for (s = 0; s < (int) (sizeof(codes) / sizeof(codes[0])); s++) {
        assert_int_equal(micro_grpc_status_from_code(codes[s][0]),
                         codes[s][1]);
    }
    /* every status but the three without a code of their own round-trips */
    for (s = 0; s <= 16; s++) {
        if (s == 2 || s == 10 || s == 11 || s == 15) {
            continue;
        }
        assert_int_equal(micro_grpc_status_from_code(
                             micro_grpc_code_from_status(s)), s);
    }
    assert_int_equal(micro_grpc_code_from_status(10), 409);
    assert_int_equal(micro_grpc_code_from_status(11), 400);
    assert_int_equal(micro_grpc_code_from_status(15), 500);
    assert_int_equal(micro_grpc_code_from_status(99), 500);
    assert_string_equal(micro_grpc_status_name(4), "DEADLINE_EXCEEDED");
    assert_string_equal(micro_grpc_status_name(-1), "UNKNOWN");
}


static void
test_grpc_reader(void **state)
{
    size_t               len;
    uint8_t              prefix[5];
    const uint8_t       *msg;
    micro_grpc_reader_t  rd = { 0 };

    (void) state;
    micro_grpc_prefix(prefix, 3);
    assert_memory_equal(prefix, "\0\0\0\0\3", 5);

    /* in pieces: nothing until the message is whole */
    micro_buf_append(&rd.in, "\0\0\0", 3);
    assert_int_equal(micro_grpc_read(&rd, 100, &msg, &len), 0);
    micro_buf_append(&rd.in, "\0\3ab", 4);
    assert_int_equal(micro_grpc_read(&rd, 100, &msg, &len), 0);
    micro_buf_append(&rd.in, "c\0\0\0\0\0", 6);
    assert_int_equal(micro_grpc_read(&rd, 100, &msg, &len), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(msg, "abc", 3);
    /* an empty message right after it */
    assert_int_equal(micro_grpc_read(&rd, 100, &msg, &len), 1);
    assert_int_equal(len, 0);
    assert_int_equal(micro_grpc_read(&rd, 100, &msg, &len), 0);

    /* compressed, then over the limit */
    micro_buf_append(&rd.in, "\1\0\0\0\1x", 6);
    assert_int_equal(micro_grpc_read(&rd, 100, &msg, &len), -1);
    micro_grpc_reader_free(&rd);
    micro_buf_append(&rd.in, "\0\0\0\1\0", 5);
    assert_int_equal(micro_grpc_read(&rd, 255, &msg, &len), -2);
    micro_grpc_reader_free(&rd);
}


static void
test_grpc_path(void **state)
{
    char  path[64];

    (void) state;
    /* go-micro's rule: the service's name is the package */
    assert_int_equal(micro_grpc_path("go.micro.srv.greeter", "Say.Hello",
                                     path, sizeof(path)), MICRO_OK);
    assert_string_equal(path, "/go.micro.srv.greeter.Say/Hello");
    assert_int_equal(micro_grpc_path("x", "greeter.Say.Hello", path,
                                     sizeof(path)), MICRO_OK);
    assert_string_equal(path, "/greeter.Say/Hello");
    assert_int_equal(micro_grpc_path("x", "/pkg.S/M", path, sizeof(path)),
                     MICRO_OK);
    assert_string_equal(path, "/pkg.S/M");
    assert_int_equal(micro_grpc_path(NULL, "Say.Hello", path, sizeof(path)),
                     MICRO_OK);
    assert_string_equal(path, "/Say/Hello");
    assert_int_equal(micro_grpc_path("x", "Hello", path, sizeof(path)),
                     MICRO_EINVAL);
    assert_int_equal(micro_grpc_path("x", "Say.", path, sizeof(path)),
                     MICRO_EINVAL);
    assert_int_equal(micro_grpc_path("a.very.long.service.name.indeed",
                                     "Service.Method", path, 16),
                     MICRO_EINVAL);
}


static void
test_grpc_node_protocols(void **state)
{
    micro_node_t  n = { 0 };

    (void) state;
    assert_int_equal(micro_node_protocols(&n), MICRO_PROTOCOL_MUCP);
    micro_metadata_set(&n.metadata, "protocol", "grpc");
    assert_int_equal(micro_node_protocols(&n), MICRO_PROTOCOL_GRPC);
    micro_metadata_set(&n.metadata, "protocols", "mucp, grpc");
    assert_int_equal(micro_node_protocols(&n),
                     MICRO_PROTOCOL_MUCP | MICRO_PROTOCOL_GRPC);
    micro_metadata_set(&n.metadata, "protocols", "carrier-pigeon");
    assert_int_equal(micro_node_protocols(&n), MICRO_PROTOCOL_MUCP);
    micro_metadata_free(&n.metadata);
}


static void
test_grpc_methods(void **state)
{
    long                      size;
    FILE                     *f;
    uint8_t                  *data;
    micro_pb_pool_t          *pool;
    const micro_pb_method_t  *m;

    (void) state;
    f = fopen(MICRO_TEST_SHAPES_SET, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    data = malloc((size_t) size);
    assert_int_equal(fread(data, 1, (size_t) size, f), (size_t) size);
    fclose(f);
    assert_int_equal(micro_pb_pool_new(&pool), MICRO_OK);
    assert_int_equal(micro_pb_pool_add_descriptor_set(pool, data,
                                                      (size_t) size),
                     MICRO_OK);
    free(data);

    m = micro_pb_pool_rpc(pool, "Shapes.Echo");
    assert_non_null(m);
    assert_string_equal(m->path, "/micro.shapes.Shapes/Echo");
    assert_string_equal(m->request->full_name, "micro.shapes.EchoRequest");
    assert_false(m->client_streaming || m->server_streaming);
    m = micro_pb_pool_rpc(pool, "Shapes.Count");
    assert_true(!m->client_streaming && m->server_streaming);
    m = micro_pb_pool_rpc(pool, "Shapes.Sum");
    assert_true(m->client_streaming && !m->server_streaming);
    m = micro_pb_pool_rpc(pool, "Shapes.Chat");
    assert_true(m->client_streaming && m->server_streaming);
    assert_null(micro_pb_pool_rpc(pool, "Shapes.Nothing"));
    micro_pb_pool_free(pool);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_grpc_timeout),
        cmocka_unit_test(test_grpc_message),
        cmocka_unit_test(test_grpc_status_table),
        cmocka_unit_test(test_grpc_reader),
        cmocka_unit_test(test_grpc_path),
        cmocka_unit_test(test_grpc_node_protocols),
        cmocka_unit_test(test_grpc_methods),
    };

    return cmocka_run_group_tests_name("grpc", tests, NULL, NULL);
}
