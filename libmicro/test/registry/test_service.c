/* The service model: go-micro JSON both ways, validation, merging. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <micro.h>

/* As go-micro v1 marshals a registered Service (nil maps and slices null). */
static const char  *go_micro_json =
    "{\"name\":\"go.micro.srv.greeter\",\"version\":\"latest\","
    "\"metadata\":null,"
    "\"endpoints\":[{\"name\":\"Say.Hello\","
    "\"request\":{\"name\":\"Request\",\"type\":\"Request\",\"values\":"
    "[{\"name\":\"name\",\"type\":\"string\",\"values\":null}]},"
    "\"response\":{\"name\":\"Response\",\"type\":\"Response\",\"values\":"
    "[{\"name\":\"msg\",\"type\":\"string\",\"values\":null}]},"
    "\"metadata\":{\"stream\":\"false\"}}],"
    "\"nodes\":[{\"id\":\"go.micro.srv.greeter-6b0b7d8a\","
    "\"address\":\"10.0.0.5:9090\",\"metadata\":{\"broker\":\"http\","
    "\"protocol\":\"mucp\",\"registry\":\"redis\",\"server\":\"mucp\","
    "\"transport\":\"http\"}}]}";


static void
test_parse_go_micro_service(void **state)
{
    micro_service_t   s;
    micro_endpoint_t *e;

    (void) state;
    assert_int_equal(micro_service_from_json(&s, go_micro_json,
                                             strlen(go_micro_json)), 0);
    assert_string_equal(s.name, "go.micro.srv.greeter");
    assert_string_equal(s.version, "latest");
    assert_int_equal(s.metadata.len, 0);
    assert_int_equal(s.nendpoints, 1);
    e = &s.endpoints[0];
    assert_string_equal(e->name, "Say.Hello");
    assert_string_equal(e->request->type, "Request");
    assert_int_equal(e->request->nvalues, 1);
    assert_string_equal(e->request->values[0].name, "name");
    assert_string_equal(e->response->values[0].type, "string");
    assert_string_equal(micro_metadata_get(&e->metadata, "stream"), "false");
    assert_int_equal(s.nnodes, 1);
    assert_string_equal(s.nodes[0].address, "10.0.0.5:9090");
    assert_string_equal(micro_metadata_get(&s.nodes[0].metadata, "protocol"),
                        "mucp");
    assert_null(micro_metadata_get(&s.nodes[0].metadata, "missing"));
    assert_int_equal(micro_service_validate(&s), 0);
    micro_service_free(&s);
}


static void
test_json_round_trip(void **state)
{
    char             *json, *again;
    json_t           *a, *b;
    micro_service_t   s, t;

    (void) state;
    assert_int_equal(micro_service_from_json(&s, go_micro_json,
                                             strlen(go_micro_json)), 0);
    json = micro_service_to_json(&s);
    assert_non_null(json);

    /* Same document as go-micro's, but for null vs {} service metadata. */
    a = json_loads(go_micro_json, 0, NULL);
    b = json_loads(json, 0, NULL);
    json_object_set_new(a, "metadata", json_object());
    assert_true(json_equal(a, b));
    assert_true(strncmp(json, "{\"name\":", 8) == 0);   /* Go field order */

    assert_int_equal(micro_service_from_json(&t, json, strlen(json)), 0);
    again = micro_service_to_json(&t);
    assert_string_equal(json, again);

    json_decref(a);
    json_decref(b);
    free(json);
    free(again);
    micro_service_free(&s);
    micro_service_free(&t);
}


static void
test_copy(void **state)
{
    char             *a, *b;
    micro_service_t   s, c;

    (void) state;
    micro_service_from_json(&s, go_micro_json, strlen(go_micro_json));
    assert_int_equal(micro_service_copy(&c, &s), 0);
    a = micro_service_to_json(&s);
    micro_service_free(&s);         /* the copy owns all of its memory */
    b = micro_service_to_json(&c);
    assert_string_equal(a, b);
    free(a);
    free(b);
    micro_service_free(&c);
}


static void
expect_parse_error(const char *json, const char *detail)
{
    micro_service_t  s;

    assert_int_equal(micro_service_from_json(&s, json, strlen(json)),
                     MICRO_EPARSE);
    assert_non_null(strstr(micro_error_detail(), detail));
    assert_null(s.name);
    assert_int_equal(s.nnodes, 0);
}


static void
test_malformed_json(void **state)
{
    int    i;
    char   deep[2048];
    size_t n = 0;

    (void) state;
    expect_parse_error("{\"name\":", "invalid JSON");
    expect_parse_error("[1,2]", "not a JSON object");
    expect_parse_error("{\"version\":\"1\"}", "has no \"name\"");
    expect_parse_error("{\"name\":7}", "\"name\" is not a string");
    expect_parse_error("{\"name\":\"a\",\"nodes\":{}}", "\"nodes\" is not an"
                       " array");
    expect_parse_error("{\"name\":\"a\",\"nodes\":[7]}", "node is not an "
                       "object");
    expect_parse_error("{\"name\":\"a\",\"metadata\":{\"k\":1}}",
                       "metadata \"k\" is not a string");
    expect_parse_error("{\"name\":\"a\",\"name\":\"b\"}", "invalid JSON");
    expect_parse_error("{\"name\":\"a\",\"endpoints\":[{\"request\":5}]}",
                       "not an object");

    /* A value tree deeper than the limit is refused, not recursed into. */
    n += sprintf(deep + n, "{\"name\":\"a\",\"endpoints\":[{\"request\":");
    for (i = 0; i < MICRO_VALUE_DEPTH + 2; i++) {
        n += sprintf(deep + n, "{\"name\":\"x\",\"values\":[");
    }
    n += sprintf(deep + n, "{}");
    for (i = 0; i < MICRO_VALUE_DEPTH + 2; i++) {
        n += sprintf(deep + n, "]}");
    }
    sprintf(deep + n, "}]}");
    expect_parse_error(deep, "nested deeper");
}


static void
test_names(void **state)
{
    (void) state;
    assert_true(micro_name_valid("go.micro.srv.greeter"));
    assert_true(micro_name_valid("topic:events"));
    assert_true(micro_name_valid("a-b_c"));
    assert_false(micro_name_valid(""));
    assert_false(micro_name_valid(".hidden"));
    assert_false(micro_name_valid("has space"));
    assert_false(micro_name_valid("slash/name"));
    assert_false(micro_name_valid(NULL));

    assert_true(micro_node_id_valid("go.micro.srv.greeter-6b0b7d8a"));
    assert_false(micro_node_id_valid("id with space"));
    assert_false(micro_node_id_valid(""));
}


static void
test_addresses(void **state)
{
    (void) state;
    assert_true(micro_address_valid("127.0.0.1:9090"));
    assert_true(micro_address_valid("[::1]:9090"));
    assert_true(micro_address_valid("[fe80::1:2]:1"));
    assert_true(micro_address_valid("[::ffff:10.0.0.1]:80"));
    /* a host name would need a lookup in every reader */
    assert_false(micro_address_valid("greeter.svc.cluster.local:80"));
    assert_false(micro_address_valid("localhost:9090"));
    assert_false(micro_address_valid("10.0.0:80"));
    assert_false(micro_address_valid("10.0.0.256:80"));
    assert_false(micro_address_valid("[::g]:80"));
    assert_false(micro_address_valid("::1:9090"));
    assert_false(micro_address_valid("127.0.0.1"));
    assert_false(micro_address_valid(":9090"));
    assert_false(micro_address_valid("10.0.0.1:0"));
    assert_false(micro_address_valid("10.0.0.1:65536"));
    assert_false(micro_address_valid("10.0.0.1:80x"));
    assert_false(micro_address_valid("10.0.0.1 :80"));
    assert_false(micro_address_valid("[::1]9090"));
    assert_false(micro_address_valid("[]:9090"));
    assert_false(micro_address_valid(NULL));
}


static void
test_validate_names_the_problem(void **state)
{
    micro_service_t  s;

    (void) state;
    memset(&s, 0, sizeof(s));
    s.name = "ok.name";
    s.nnodes = 1;
    s.nodes = &(micro_node_t) { .id = "n1", .address = "nowhere" };
    assert_int_equal(micro_service_validate(&s), MICRO_EINVAL);
    assert_string_equal(micro_error_detail(),
                        "invalid address \"nowhere\" of node \"n1\"");
}


static void
test_list_merge_by_version(void **state)
{
    size_t                 i;
    const char            *docs[] = {
        "{\"name\":\"s\",\"version\":\"1\",\"nodes\":[{\"id\":\"a\","
        "\"address\":\"10.0.0.1:1\"}]}",
        "{\"name\":\"s\",\"version\":\"2\",\"nodes\":[{\"id\":\"b\","
        "\"address\":\"10.0.0.1:2\"}]}",
        "{\"name\":\"s\",\"version\":\"1\",\"nodes\":[{\"id\":\"c\","
        "\"address\":\"10.0.0.1:3\"}]}",
    };
    micro_service_t        s;
    micro_service_list_t   list = { 0 };

    (void) state;
    for (i = 0; i < 3; i++) {
        assert_int_equal(micro_service_from_json(&s, docs[i],
                                                 strlen(docs[i])), 0);
        assert_int_equal(micro_service_list_merge(&list, &s), 0);
        assert_null(s.name);                     /* moved */
    }
    assert_int_equal(list.len, 2);
    assert_string_equal(list.items[0].version, "1");
    assert_int_equal(list.items[0].nnodes, 2);
    assert_string_equal(list.items[0].nodes[1].id, "c");
    assert_int_equal(list.items[1].nnodes, 1);
    micro_service_list_free(&list);
}


static void
test_metadata_set(void **state)
{
    micro_metadata_t  md = { 0 };

    (void) state;
    assert_int_equal(micro_metadata_set(&md, "k", "1"), 0);
    assert_int_equal(micro_metadata_set(&md, "k", "2"), 0);
    assert_int_equal(micro_metadata_set(&md, "j", "3"), 0);
    assert_int_equal(md.len, 2);
    assert_string_equal(micro_metadata_get(&md, "k"), "2");
    free(md.items[0].key);
    free(md.items[0].value);
    free(md.items[1].key);
    free(md.items[1].value);
    free(md.items);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_parse_go_micro_service),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_validate_names_the_problem),
        cmocka_unit_test(test_list_merge_by_version),
        cmocka_unit_test(test_metadata_set),
    };

    return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
