/*
 * The JSON <-> protobuf transcoder, every mapping rule, with both kinds of
 * pool (protobuf-c descriptors and a protoc descriptor set), and checked
 * against protobuf-c's own encoder and decoder.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <micro.h>
#include <micro/pb.h>
#include <micro/pb_wire.h>
#include <micro/transcode.h>

#include "everything.pb-c.h"

static micro_pb_pool_t            *pools[2];
static const micro_pb_message_t   *everything[2];

typedef struct {
    const char  *in;
    const char  *out;     /* canonical output; NULL: same as in */
} micro_case_t;


static int
setup(void **state)
{
    FILE     *f;
    long      size;
    uint8_t  *data;

    (void) state;
    micro_pb_pool_new(&pools[0]);
    if (micro_pb_pool_add_protobuf_c(pools[0],
                                     &micro__test__everything__descriptor,
                                     &everything[0]) != 0)
    {
        return -1;
    }

    f = fopen(MICRO_TEST_DESCRIPTOR_SET, "rb");
    if (f == NULL) {
        return -1;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    data = malloc(size);
    if (fread(data, 1, size, f) != (size_t) size) {
        return -1;
    }
    fclose(f);
    micro_pb_pool_new(&pools[1]);
    if (micro_pb_pool_add_descriptor_set(pools[1], data, size) != 0) {
        return -1;
    }
    free(data);
    everything[1] = micro_pb_pool_message(pools[1], "micro.test.Everything");
    return everything[1] ? 0 : -1;
}


static int
teardown(void **state)
{
    (void) state;
    micro_pb_pool_free(pools[0]);
    micro_pb_pool_free(pools[1]);
    return 0;
}


static void
assert_json_equal(const char *got, size_t len, const char *want)
{
    json_t  *a, *b;

    a = json_loadb(got, len, 0, NULL);
    b = json_loads(want, 0, NULL);
    if (a == NULL || b == NULL || !json_equal(a, b)) {
        fail_msg("got  %.*s\nwant %s", (int) len, got, want);
    }
    json_decref(a);
    json_decref(b);
}


/* JSON -> pb (which protobuf-c must accept) -> JSON, with both pools. */
static void
round_trip(const micro_case_t *c, const micro_transcode_options_t *o_in)
{
    int                        p;
    micro_buf_t                pb = { 0 }, json = { 0 };
    ProtobufCMessage          *msg;
    micro_transcode_options_t  o = { 0 };

    for (p = 0; p < 2; p++) {
        if (o_in) {
            o = *o_in;
        }
        o.pool = pools[p];
        pb.len = json.len = 0;
        if (micro_json_to_pb(everything[p], c->in, strlen(c->in), &o, &pb)
            != 0)
        {
            fail_msg("json_to_pb(%s): %s", c->in, micro_error_detail());
        }
        msg = protobuf_c_message_unpack(&micro__test__everything__descriptor,
                                        NULL, pb.len, pb.data);
        if (msg == NULL) {
            fail_msg("protobuf-c cannot unpack the encoding of %s", c->in);
        }
        protobuf_c_message_free_unpacked(msg, NULL);
        if (micro_pb_to_json(everything[p], pb.data, pb.len, &o, &json)
            != 0)
        {
            fail_msg("pb_to_json(%s): %s", c->in, micro_error_detail());
        }
        assert_json_equal((char *) json.data, json.len,
                          c->out ? c->out : c->in);
    }
    micro_buf_free(&pb);
    micro_buf_free(&json);
}


static void
run_cases(const micro_case_t *cases, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        round_trip(&cases[i], NULL);
    }
}

#define RUN(cases)  run_cases(cases, sizeof(cases) / sizeof(cases[0]))


static void
test_scalars(void **state)
{
    static const micro_case_t  cases[] = {
        { "{}", NULL },
        { "{\"fInt32\":-5,\"fUint32\":4294967295,\"fSint32\":-2147483648,"
          "\"fFixed32\":7,\"fSfixed32\":-7}", NULL },
        /* 64-bit integers are strings; numbers and strings are accepted */
        { "{\"fInt64\":\"-9223372036854775808\",\"fUint64\":"
          "\"18446744073709551615\",\"fSint64\":\"-1\",\"fFixed64\":\"1\","
          "\"fSfixed64\":\"-9007199254740993\"}", NULL },
        { "{\"fInt64\":123,\"fUint64\":\"7\"}",
          "{\"fInt64\":\"123\",\"fUint64\":\"7\"}" },
        { "{\"fInt32\":\"42\",\"fUint32\":1e3,\"fFixed32\":2.0}",
          "{\"fInt32\":42,\"fUint32\":1000,\"fFixed32\":2}" },
        { "{\"fFloat\":1.5,\"fDouble\":-0.1}", NULL },
        { "{\"fFloat\":0.1,\"fDouble\":1e+300}", NULL },
        /* FLT_MAX and its negative as printed come back in */
        { "{\"fFloat\":3.4028235e+38}", NULL },
        { "{\"fFloat\":-3.4028235e+38}", NULL },
        { "{\"fDouble\":\"NaN\",\"fFloat\":\"-Infinity\"}", NULL },
        { "{\"fDouble\":\"Infinity\"}", NULL },
        { "{\"fDouble\":\"2.5\"}", "{\"fDouble\":2.5}" },
        { "{\"fBool\":true}", NULL },
        { "{\"fString\":\"h\\u00e9llo \\\"q\\\" \\n\\ud83d\\ude00\"}",
          "{\"fString\":\"h\\u00e9llo \\\"q\\\" \\n\\ud83d\\ude00\"}" },
        /* bytes: base64, URL-safe and unpadded accepted */
        { "{\"fBytes\":\"AP8=\"}", NULL },
        { "{\"fBytes\":\"-_8\"}", "{\"fBytes\":\"+/8=\"}" },
        /* enums by name, numbers accepted, unknown numbers kept */
        { "{\"fEnum\":\"GREEN\"}", NULL },
        { "{\"fEnum\":-3}", "{\"fEnum\":\"BLUE\"}" },
        { "{\"fEnum\":7}", NULL },
        /* proto names accepted, zero values left out */
        { "{\"f_int32\":1,\"field_name_with_underscores\":2,"
          "\"fieldName2\":3}",
          "{\"fInt32\":1,\"fieldNameWithUnderscores\":2,\"fieldName2\":3}" },
        { "{\"fInt32\":0,\"fString\":\"\",\"fBool\":false,\"fEnum\":"
          "\"COLOR_UNSPECIFIED\",\"fDouble\":0}", "{}" },
        /* null means absent */
        { "{\"fInt32\":null,\"fMessage\":null}", "{}" },
    };

    (void) state;
    RUN(cases);
}


static void
test_messages_and_repeated(void **state)
{
    static const micro_case_t  cases[] = {
        { "{\"fMessage\":{\"a\":1,\"b\":\"x\",\"child\":{\"a\":2}}}", NULL },
        { "{\"fMessage\":{}}", NULL },
        { "{\"rInt32\":[1,-2,3],\"rInt64\":[\"1\",\"-5\"],"
          "\"rDouble\":[0.5,\"NaN\"],\"rString\":[\"a\",\"\"],"
          "\"rEnum\":[\"RED\",\"BLUE\"],\"rBool\":[true,false],"
          "\"rUnpacked\":[4,5]}", NULL },
        { "{\"rMessage\":[{\"a\":1},{},{\"b\":\"c\"}]}", NULL },
        /* empty repeated fields are left out, never {} */
        { "{\"rInt32\":[],\"rMessage\":[]}", "{}" },
        /* a long nested message needs a wider length prefix */
        { "{\"fMessage\":{\"b\":\"0123456789012345678901234567890123456789"
          "01234567890123456789012345678901234567890123456789012345678901"
          "23456789012345678901234567890123456789\"}}", NULL },
    };

    (void) state;
    RUN(cases);
}


static void
test_maps(void **state)
{
    static const micro_case_t  cases[] = {
        { "{\"mStringInt32\":{\"a\":1,\"b\":0}}", NULL },
        { "{\"mInt32String\":{\"-1\":\"neg\",\"7\":\"x\"}}", NULL },
        { "{\"mInt64Message\":{\"9007199254740993\":{\"a\":1}}}", NULL },
        { "{\"mBoolEnum\":{\"true\":\"RED\",\"false\":\"GREEN\"}}", NULL },
        { "{\"mUint32Bytes\":{\"1\":\"AQI=\"}}", NULL },
        { "{\"mStringValue\":{\"k\":[1,\"two\",null,{\"x\":true}]}}", NULL },
        { "{\"mStringInt32\":{}}", "{}" },
    };

    (void) state;
    RUN(cases);
}


static void
test_oneof_and_optional(void **state)
{
    static const micro_case_t  cases[] = {
        { "{\"oString\":\"s\"}", NULL },
        { "{\"oInt32\":0}", NULL },                /* set, though zero */
        { "{\"oMessage\":{}}", NULL },
        { "{\"oString\":null,\"oInt32\":5}", "{\"oInt32\":5}" },
    };
    micro_buf_t                pb = { 0 }, json = { 0 };
    const micro_pb_message_t  *opt;
    const char                *in = "{\"optInt32\":0,\"optString\":\"\","
                                    "\"plain\":0}";

    (void) state;
    RUN(cases);

    /* proto3 optional: a zero that was set is kept, a plain zero is not */
    opt = micro_pb_pool_message(pools[1], "micro.test.Optional");
    assert_non_null(opt);
    assert_true(micro_pb_field_by_number(opt, 1)->presence);
    assert_false(micro_pb_field_by_number(opt, 3)->presence);
    assert_int_equal(micro_json_to_pb(opt, in, strlen(in), NULL, &pb), 0);
    assert_int_equal(micro_pb_to_json(opt, pb.data, pb.len, NULL, &json), 0);
    assert_json_equal((char *) json.data, json.len,
                      "{\"optInt32\":0,\"optString\":\"\"}");
    micro_buf_free(&pb);
    micro_buf_free(&json);
}


static void
test_well_known_types(void **state)
{
    static const micro_case_t  cases[] = {
        { "{\"wTimestamp\":\"1972-01-01T10:00:20.021Z\"}", NULL },
        { "{\"wTimestamp\":\"1970-01-01T00:00:00Z\"}", NULL },
        { "{\"wTimestamp\":\"2024-02-29T12:00:00Z\"}", NULL },  /* leap */
        { "{\"wTimestamp\":\"2000-02-29T00:00:00Z\"}", NULL },
        { "{\"wTimestamp\":\"0001-01-01T00:00:00Z\"}", NULL },
        { "{\"wTimestamp\":\"9999-12-31T23:59:59.999999999Z\"}", NULL },
        { "{\"wTimestamp\":\"1969-12-31T23:59:59.000001Z\"}", NULL },
        { "{\"wTimestamp\":\"2020-02-29T12:00:00+01:30\"}",
          "{\"wTimestamp\":\"2020-02-29T10:30:00Z\"}" },
        { "{\"wDuration\":\"1.5s\"}", "{\"wDuration\":\"1.500s\"}" },
        { "{\"wDuration\":\"-0.000000001s\"}", NULL },
        { "{\"wDuration\":\"315576000000s\"}", NULL },
        { "{\"wDuration\":\"0s\"}", NULL },
        { "{\"wFieldMask\":\"fooBar,baz.quxQuux\"}", NULL },
        { "{\"wFieldMask\":\"\"}", NULL },
        { "{\"wStruct\":{\"a\":1,\"b\":[true,null,\"s\"],\"c\":{\"d\":{}}}}",
          NULL },
        { "{\"wStruct\":{}}", NULL },
        { "{\"wValue\":null}", NULL },
        { "{\"wValue\":1.25}", NULL },
        { "{\"wValue\":\"s\"}", NULL },
        { "{\"wValue\":false}", NULL },
        { "{\"wValue\":{\"x\":[1,[2]]}}", NULL },
        { "{\"wList\":[1,\"a\",{}]}", NULL },
        { "{\"wList\":[]}", NULL },
        { "{\"wEmpty\":{}}", NULL },
        { "{\"wInt32\":0,\"wInt64\":\"5\",\"wUint64\":\"18446744073709551615\","
          "\"wString\":\"\",\"wBool\":false,\"wDouble\":\"NaN\","
          "\"wBytes\":\"AA==\",\"wFloat\":1.5,\"wUint32\":3}", NULL },
        { "{\"rValue\":[null,1,\"x\"]}", NULL },
        { "{\"wNull\":null}", "{}" },      /* NullValue 0 is the default */
        /* Any: a message inline, a well-known type under "value" */
        { "{\"wAny\":{\"@type\":\"type.googleapis.com/micro.test.Inner\","
          "\"a\":1,\"b\":\"x\"}}", NULL },
        { "{\"wAny\":{\"a\":1,\"@type\":\"type.googleapis.com/micro.test.Inner\""
          "}}", "{\"wAny\":{\"@type\":\"type.googleapis.com/micro.test.Inner\","
          "\"a\":1}}" },
        { "{\"wAny\":{\"@type\":\"type.googleapis.com/google.protobuf.Duration\","
          "\"value\":\"2s\"}}", NULL },
        { "{\"wAny\":{\"@type\":\"type.googleapis.com/google.protobuf.Struct\","
          "\"value\":{\"k\":\"v\"}}}", NULL },
        { "{\"rAny\":[{\"@type\":\"type.googleapis.com/micro.test.Inner\"},"
          "{\"@type\":\"type.googleapis.com/google.protobuf.Int32Value\","
          "\"value\":3}]}", NULL },
        { "{\"wAny\":{}}", NULL },
    };

    (void) state;
    RUN(cases);
}


static void
expect_error(const char *json, const char *detail)
{
    micro_buf_t                pb = { 0 };
    micro_transcode_options_t  o = { 0 };

    o.pool = pools[1];
    if (micro_json_to_pb(everything[1], json, strlen(json), &o, &pb)
        != MICRO_EPARSE)
    {
        fail_msg("%s was accepted", json);
    }
    if (strstr(micro_error_detail(), detail) == NULL) {
        fail_msg("%s: detail \"%s\" does not say \"%s\"", json,
                 micro_error_detail(), detail);
    }
    micro_buf_free(&pb);
}


static void
test_errors(void **state)
{
    (void) state;
    expect_error("", "unexpected end of JSON");
    expect_error("{", "unexpected end of JSON");
    expect_error("{\"fInt32\":1", "unexpected end of JSON");
    expect_error("{\"fInt32\":1}x", "unexpected data after the JSON value");
    expect_error("[]", "expected '{'");
    expect_error("{\"nope\":1}", "unknown field \"nope\" in micro.test."
                 "Everything");
    expect_error("{\"fInt32\":1,\"fInt32\":2}", "duplicate field");
    expect_error("{\"fInt32\":1,\"f_int32\":2}", "duplicate field");
    expect_error("{\"fInt32\":\"x\"}", "field \"fInt32\": invalid integer");
    expect_error("{\"fInt32\":1.5}", "not an integer");
    expect_error("{\"fInt32\":2147483648}", "integer out of range");
    expect_error("{\"fUint32\":-1}", "negative value");
    expect_error("{\"fInt64\":\"9223372036854775808\"}", "out of range");
    expect_error("{\"fInt32\":01}", "expected '}'");
    expect_error("{\"fInt32\":true}", "expected a number");
    expect_error("{\"fFloat\":1e39}", "number out of range");
    expect_error("{\"fDouble\":\"nan\"}", "invalid number");
    expect_error("{\"fBool\":\"true\"}", "expected true or false");
    expect_error("{\"fString\":1}", "expected a string");
    expect_error("{\"fString\":\"\\x\"}", "invalid escape");
    expect_error("{\"fString\":\"\\ud800\"}", "lone high surrogate");
    expect_error("{\"fString\":\"\xc3\x28\"}", "invalid UTF-8");
    expect_error("{\"fString\":\"a\nb\"}", "control character");
    expect_error("{\"fBytes\":\"!!\"}", "invalid base64");
    expect_error("{\"fEnum\":\"PURPLE\"}", "unknown value \"PURPLE\"");
    expect_error("{\"fMessage\":{\"a\":\"b\"}}", "field \"a\"");
    expect_error("{\"rInt32\":[1,null]}", "null in a repeated field");
    expect_error("{\"rInt32\":{}}", "expected '['");
    expect_error("{\"mInt32String\":{\"x\":\"y\"}}", "invalid map key");
    expect_error("{\"mBoolEnum\":{\"yes\":\"RED\"}}", "invalid bool map key");
    expect_error("{\"oString\":\"a\",\"oInt32\":1}", "another field of its "
                 "oneof");
    expect_error("{\"wTimestamp\":\"1972-01-01 10:00:20Z\"}",
                 "invalid timestamp");
    expect_error("{\"wTimestamp\":\"10000-01-01T00:00:00Z\"}",
                 "invalid timestamp");
    expect_error("{\"wTimestamp\":\"1972-13-01T00:00:00Z\"}",
                 "invalid timestamp");
    expect_error("{\"wTimestamp\":\"2023-02-29T00:00:00Z\"}",
                 "invalid timestamp");
    expect_error("{\"wTimestamp\":\"1900-02-29T00:00:00Z\"}",
                 "invalid timestamp");
    expect_error("{\"wTimestamp\":\"2023-04-31T00:00:00Z\"}",
                 "invalid timestamp");
    expect_error("{\"fFloat\":3.5e38}", "number out of range");
    expect_error("{\"wDuration\":\"1.5\"}", "invalid duration");
    expect_error("{\"wDuration\":\"315576000001s\"}", "duration out of range");
    expect_error("{\"wFieldMask\":\"foo_bar\"}", "invalid field mask path");
    expect_error("{\"wAny\":{\"a\":1}}", "Any without \"@type\"");
    expect_error("{\"wAny\":{\"@type\":\"x/no.Such\"}}", "unknown type");
    expect_error("{\"wAny\":{\"@type\":\"x/google.protobuf.Duration\","
                 "\"v\":1}}", "unexpected key in Any");
    expect_error("{\"wValue\":NaN}", "invalid JSON value");

    /* a key given twice, as a field given twice, is an error */
    expect_error("{\"mStringInt32\":{\"a\":1,\"b\":2,\"a\":3}}",
                 "field \"mStringInt32\": duplicate map key \"a\"");
    expect_error("{\"mInt32String\":{\"7\":\"x\",\"-0\":\"y\",\"0\":\"z\"}}",
                 "duplicate map key \"0\"");
    expect_error("{\"mBoolEnum\":{\"false\":\"RED\",\"false\":\"RED\"}}",
                 "duplicate map key \"false\"");
    expect_error("{\"wStruct\":{\"k\":1,\"k\":{}}}",
                 "duplicate Struct key \"k\"");
    expect_error("{\"mStringValue\":{\"v\":{\"k\":1,\"k\":2}}}",
                 "duplicate Struct key \"k\"");
}


/* Errors say where: the offset (from 0) at which the parser found them. */
static void
test_error_offsets(void **state)
{
    (void) state;
    expect_error("{\"fInt32\":1}x", "value (at offset 12)");
    expect_error("{\"rInt32\":[1,2,true]}", "expected a number (at offset 15)");
    expect_error("{\"fString\":\"ab\xc3\x28\"}", "UTF-8 in string (at offset "
                 "14)");
    expect_error("{\n  \"fInt32\": 1,\n  \"fBool\": 3\n}",
                 "field \"fBool\": expected true or false (at offset 28)");
    expect_error("{\"fMessage\":{\"a\":1,}}", "(at offset 19)");
}


/* A Value of lists within lists, depth of them, as protobuf bytes. */
static void
nested_lists(micro_buf_t *pb, int depth)
{
    int          i;
    micro_buf_t  list = { 0 };

    pb->len = 0;
    micro_buf_append(pb, "\x08\x00", 2);                /* null_value */
    for (i = 0; i < depth; i++) {
        list.len = 0;
        micro_buf_tag(&list, 1, MICRO_WIRE_LEN);         /* values */
        micro_buf_varint(&list, pb->len);
        micro_buf_append(&list, pb->data, pb->len);
        pb->len = 0;
        micro_buf_tag(pb, 6, MICRO_WIRE_LEN);            /* list_value */
        micro_buf_varint(pb, list.len);
        micro_buf_append(pb, list.data, list.len);
    }
    list.len = 0;
    micro_buf_tag(&list, 55, MICRO_WIRE_LEN);            /* w_value */
    micro_buf_varint(&list, pb->len);
    micro_buf_append(&list, pb->data, pb->len);
    pb->len = 0;
    micro_buf_append(pb, list.data, list.len);
    micro_buf_free(&list);
}


/*
 * Both directions stop at the same depth: JSON the printer writes, the
 * parser reads (it wrote 255 levels where the parser read 99).
 */
static void
test_depth_same_both_ways(void **state)
{
    int          depth;
    char        *json;
    size_t       n;
    micro_buf_t  pb = { 0 }, out = { 0 }, back = { 0 };

    (void) state;
    json = malloc(2 * MICRO_TRANSCODE_MAX_DEPTH + 64);
    for (depth = MICRO_TRANSCODE_MAX_DEPTH - 1;
         depth <= MICRO_TRANSCODE_MAX_DEPTH; depth++)
    {
        /* the outer object is one level, each list one more */
        nested_lists(&pb, depth);
        out.len = 0;
        if (depth == MICRO_TRANSCODE_MAX_DEPTH) {
            assert_int_equal(micro_pb_to_json(everything[1], pb.data, pb.len,
                                              NULL, &out), MICRO_EPARSE);
            assert_non_null(strstr(micro_error_detail(),
                                   "nested too deeply"));
        } else {
            assert_int_equal(micro_pb_to_json(everything[1], pb.data, pb.len,
                                              NULL, &out), MICRO_OK);
            back.len = 0;
            if (micro_json_to_pb(everything[1], (char *) out.data, out.len,
                                 NULL, &back) != MICRO_OK)
            {
                fail_msg("the printer wrote what the parser refuses: %s",
                         micro_error_detail());
            }
            assert_int_equal(back.len, pb.len);
            assert_memory_equal(back.data, pb.data, pb.len);
        }

        n = sprintf(json, "{\"wValue\":");
        memset(json + n, '[', depth);
        n += depth;
        n += sprintf(json + n, "null");
        memset(json + n, ']', depth);
        n += depth;
        strcpy(json + n, "}");
        back.len = 0;
        assert_int_equal(micro_json_to_pb(everything[1], json, strlen(json),
                                          NULL, &back),
                         depth < MICRO_TRANSCODE_MAX_DEPTH ? MICRO_OK
                                                           : MICRO_EPARSE);
    }
    free(json);
    micro_buf_free(&pb);
    micro_buf_free(&out);
    micro_buf_free(&back);
}


/*
 * Struct keys are bytes: two that differ only after a NUL are two keys
 * (they were one), and of a key given twice on the wire the last wins.
 */
static void
test_struct_keys(void **state)
{
    static const char  in[] = "{\"wStruct\":{\"a\\u0000b\":1,\"a\\u0000c\":2}}";
    static const char  first[] = "{\"wStruct\":{\"k\":1,\"j\":0}}";
    static const char  second[] = "{\"wStruct\":{\"k\":2}}";
    micro_buf_t        pb = { 0 }, json = { 0 };

    (void) state;
    assert_int_equal(micro_json_to_pb(everything[1], in, strlen(in), NULL,
                                      &pb), MICRO_OK);
    assert_int_equal(micro_pb_to_json(everything[1], pb.data, pb.len, NULL,
                                      &json), MICRO_OK);
    assert_int_equal(json.len, strlen(in));
    assert_memory_equal(json.data, in, json.len);

    /* {"k":1} then {"k":2}: one Struct on the wire, merged */
    pb.len = json.len = 0;
    assert_int_equal(micro_json_to_pb(everything[1], first, strlen(first),
                                      NULL, &pb), MICRO_OK);
    assert_int_equal(micro_json_to_pb(everything[1], second, strlen(second),
                                      NULL, &pb), MICRO_OK);
    assert_int_equal(micro_pb_to_json(everything[1], pb.data, pb.len, NULL,
                                      &json), MICRO_OK);
    assert_json_equal((char *) json.data, json.len,
                      "{\"wStruct\":{\"j\":0,\"k\":2}}");
    micro_buf_free(&pb);
    micro_buf_free(&json);
}


static void
test_depth_limit(void **state)
{
    int     i;
    char   *deep;
    size_t  n = 0;

    (void) state;
    deep = malloc(20000);
    n += sprintf(deep, "{\"wValue\":");
    for (i = 0; i < 2000; i++) {
        deep[n++] = '[';
    }
    for (i = 0; i < 2000; i++) {
        deep[n++] = ']';
    }
    strcpy(deep + n, "}");
    expect_error(deep, "nested too deeply");
    free(deep);
}


static void
test_options(void **state)
{
    micro_transcode_options_t  o = { 0 };
    micro_case_t               c;

    (void) state;
    o.ignore_unknown = 1;
    c.in = "{\"nope\":{\"x\":[1,2]},\"fInt32\":1,\"fEnum\":\"PURPLE\"}";
    c.out = "{\"fInt32\":1}";
    round_trip(&c, &o);

    o.ignore_unknown = 0;
    o.proto_names = 1;
    c.in = "{\"fInt32\":1,\"fieldNameWithUnderscores\":2}";
    c.out = "{\"f_int32\":1,\"field_name_with_underscores\":2}";
    round_trip(&c, &o);

    /* enums as numbers out; names or numbers are read either way */
    o.proto_names = 0;
    o.enums_as_ints = 1;
    c.in = "{\"fEnum\":\"BLUE\",\"rEnum\":[\"RED\",2]}";
    c.out = "{\"fEnum\":-3,\"rEnum\":[1,2]}";
    round_trip(&c, &o);
}


static void
test_emit_defaults(void **state)
{
    json_t                    *doc;
    micro_buf_t                json = { 0 };
    micro_transcode_options_t  o = { 0 };

    (void) state;
    o.emit_defaults = 1;
    o.pool = pools[0];
    assert_int_equal(micro_pb_to_json(everything[0], NULL, 0, &o, &json), 0);
    doc = json_loadb((char *) json.data, json.len, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "fInt32")), 0);
    assert_string_equal(json_string_value(json_object_get(doc, "fInt64")),
                        "0");
    assert_string_equal(json_string_value(json_object_get(doc, "fEnum")),
                        "COLOR_UNSPECIFIED");
    assert_true(json_is_array(json_object_get(doc, "rInt32")));
    assert_true(json_is_object(json_object_get(doc, "mStringInt32")));
    assert_true(json_is_false(json_object_get(doc, "fBool")));
    assert_string_equal(json_string_value(json_object_get(doc, "fBytes")), "");
    /* fields with presence stay absent */
    assert_null(json_object_get(doc, "fMessage"));
    assert_null(json_object_get(doc, "oString"));
    json_decref(doc);
    micro_buf_free(&json);
}


/* What our encoder writes, protobuf-c decodes to the right values. */
static void
test_wire_checked_by_protobuf_c(void **state)
{
    micro_buf_t             pb = { 0 };
    Micro__Test__Everything  *m;
    const char             *json =
        "{\"fInt64\":\"-9007199254740993\",\"fSint32\":-3,\"fFloat\":0.25,"
        "\"rInt32\":[1,2,300],\"mInt32String\":{\"5\":\"five\"},"
        "\"oInt32\":9,\"wTimestamp\":\"1970-01-02T00:00:01.5Z\","
        "\"fEnum\":\"BLUE\"}";

    (void) state;
    assert_int_equal(micro_json_to_pb(everything[0], json, strlen(json), NULL,
                                      &pb), 0);
    m = micro__test__everything__unpack(NULL, pb.len, pb.data);
    assert_non_null(m);
    assert_true(m->f_int64 == -9007199254740993LL);
    assert_int_equal(m->f_sint32, -3);
    assert_true(m->f_float == 0.25f);
    assert_int_equal(m->n_r_int32, 3);
    assert_int_equal(m->r_int32[2], 300);
    assert_int_equal(m->n_m_int32_string, 1);
    assert_int_equal(m->m_int32_string[0]->key, 5);
    assert_string_equal(m->m_int32_string[0]->value, "five");
    assert_int_equal(m->choice_case, MICRO__TEST__EVERYTHING__CHOICE_O_INT32);
    assert_int_equal(m->o_int32, 9);
    assert_int_equal(m->w_timestamp->seconds, 86401);
    assert_int_equal(m->w_timestamp->nanos, 500000000);
    assert_int_equal(m->f_enum, MICRO__TEST__COLOR__BLUE);
    micro__test__everything__free_unpacked(m, NULL);
    micro_buf_free(&pb);
}


/*
 * Every field kind both ways against protobuf-c: its encoding printed by
 * us must be the JSON written here by hand, and that JSON encoded by us
 * must decode (by protobuf-c) to the same message, so an encoder and a
 * decoder that share a mistake (zigzag, fixed widths, map keys) still fail.
 */
static void
test_every_field_against_protobuf_c(void **state)
{
    int                     p;
    size_t                  len, len2;
    uint8_t                 a[1024], a2[1024];
    micro_buf_t             json = { 0 }, pb = { 0 };
    Micro__Test__Everything   m = MICRO__TEST__EVERYTHING__INIT, *m2;
    Micro__Test__Inner        inner = MICRO__TEST__INNER__INIT;
    Micro__Test__Inner        child = MICRO__TEST__INNER__INIT;
    Micro__Test__Inner        r1 = MICRO__TEST__INNER__INIT;
    Micro__Test__Inner       *rmsg[] = { &r1, &child };
    Google__Protobuf__Timestamp    ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Google__Protobuf__Int64Value   w64 = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    Google__Protobuf__UInt32Value  wu32 = GOOGLE__PROTOBUF__UINT32_VALUE__INIT;
    Micro__Test__Everything__MStringInt32Entry   ms =
        MICRO__TEST__EVERYTHING__MSTRING_INT32_ENTRY__INIT, *msp[] = { &ms };
    Micro__Test__Everything__MInt32StringEntry   mi1 =
        MICRO__TEST__EVERYTHING__MINT32_STRING_ENTRY__INIT,
        mi2 = MICRO__TEST__EVERYTHING__MINT32_STRING_ENTRY__INIT,
        *mip[] = { &mi1, &mi2 };
    Micro__Test__Everything__MInt64MessageEntry  ml =
        MICRO__TEST__EVERYTHING__MINT64_MESSAGE_ENTRY__INIT, *mlp[] = { &ml };
    Micro__Test__Everything__MBoolEnumEntry      mb1 =
        MICRO__TEST__EVERYTHING__MBOOL_ENUM_ENTRY__INIT,
        mb2 = MICRO__TEST__EVERYTHING__MBOOL_ENUM_ENTRY__INIT,
        *mbp[] = { &mb1, &mb2 };
    Micro__Test__Everything__MUint32BytesEntry   mu =
        MICRO__TEST__EVERYTHING__MUINT32_BYTES_ENTRY__INIT, *mup[] = { &mu };
    int32_t                 ri32[] = { -1, 0, 2147483647 };
    int64_t                 ri64[] = { -9223372036854775807LL - 1, 3 };
    double                  rd[] = { -2.5, 0 };
    char                   *rs[] = { "x", "" };
    Micro__Test__Color        re[] = { MICRO__TEST__COLOR__BLUE,
                                     MICRO__TEST__COLOR__RED };
    protobuf_c_boolean      rb[] = { 1, 0 };
    int32_t                 ru[] = { -7, 300 };
    const char             *want =
        "{\"fInt32\":-123456,\"fInt64\":\"-9007199254740993\","
        "\"fUint32\":4000000000,\"fUint64\":\"18446744073709551615\","
        "\"fSint32\":-2147483648,\"fSint64\":\"-9223372036854775807\","
        "\"fFixed32\":4294967295,\"fFixed64\":\"18446744073709551614\","
        "\"fSfixed32\":-2,\"fSfixed64\":\"-9223372036854775808\","
        "\"fFloat\":-0.25,\"fDouble\":1e+100,\"fBool\":true,"
        "\"fString\":\"\u00e9t\u00e9\",\"fBytes\":\"AP+A\","
        "\"fEnum\":\"BLUE\","
        "\"fMessage\":{\"a\":-1,\"b\":\"in\",\"child\":{\"a\":9}},"
        "\"rInt32\":[-1,0,2147483647],"
        "\"rInt64\":[\"-9223372036854775808\",\"3\"],"
        "\"rDouble\":[-2.5,0],\"rString\":[\"x\",\"\"],"
        "\"rMessage\":[{\"b\":\"r\"},{\"a\":9}],"
        "\"rEnum\":[\"BLUE\",\"RED\"],\"rBool\":[true,false],"
        "\"rUnpacked\":[-7,300],"
        "\"mStringInt32\":{\"k\":-5},"
        "\"mInt32String\":{\"-2147483648\":\"min\",\"7\":\"seven\"},"
        "\"mInt64Message\":{\"-9007199254740993\":{\"b\":\"r\"}},"
        "\"mBoolEnum\":{\"true\":\"GREEN\",\"false\":\"BLUE\"},"
        "\"mUint32Bytes\":{\"4294967295\":\"/w==\"},"
        "\"oInt32\":-3,"
        "\"wTimestamp\":\"1969-12-31T23:59:59.999Z\","
        "\"wInt64\":\"-5\",\"wUint32\":4294967295,"
        "\"fieldNameWithUnderscores\":80,\"fieldName2\":81}";

    (void) state;
    m.f_int32 = -123456;
    m.f_int64 = -9007199254740993LL;
    m.f_uint32 = 4000000000U;
    m.f_uint64 = 18446744073709551615ULL;
    m.f_sint32 = -2147483647 - 1;
    m.f_sint64 = -9223372036854775807LL;
    m.f_fixed32 = 4294967295U;
    m.f_fixed64 = 18446744073709551614ULL;
    m.f_sfixed32 = -2;
    m.f_sfixed64 = -9223372036854775807LL - 1;
    m.f_float = -0.25f;
    m.f_double = 1e100;
    m.f_bool = 1;
    m.f_string = "\xc3\xa9t\xc3\xa9";
    m.f_bytes.data = (uint8_t *) "\x00\xff\x80";
    m.f_bytes.len = 3;
    m.f_enum = MICRO__TEST__COLOR__BLUE;
    inner.a = -1;
    inner.b = "in";
    child.a = 9;
    inner.child = &child;
    m.f_message = &inner;
    m.n_r_int32 = 3;
    m.r_int32 = ri32;
    m.n_r_int64 = 2;
    m.r_int64 = ri64;
    m.n_r_double = 2;
    m.r_double = rd;
    m.n_r_string = 2;
    m.r_string = rs;
    r1.b = "r";
    m.n_r_message = 2;
    m.r_message = rmsg;
    m.n_r_enum = 2;
    m.r_enum = re;
    m.n_r_bool = 2;
    m.r_bool = rb;
    m.n_r_unpacked = 2;
    m.r_unpacked = ru;
    ms.key = "k";
    ms.value = -5;
    m.n_m_string_int32 = 1;
    m.m_string_int32 = msp;
    mi1.key = -2147483647 - 1;
    mi1.value = "min";
    mi2.key = 7;
    mi2.value = "seven";
    m.n_m_int32_string = 2;
    m.m_int32_string = mip;
    ml.key = -9007199254740993LL;
    ml.value = &r1;
    m.n_m_int64_message = 1;
    m.m_int64_message = mlp;
    mb1.key = 1;
    mb1.value = MICRO__TEST__COLOR__GREEN;
    mb2.key = 0;
    mb2.value = MICRO__TEST__COLOR__BLUE;
    m.n_m_bool_enum = 2;
    m.m_bool_enum = mbp;
    mu.key = 4294967295U;
    mu.value.data = (uint8_t *) "\xff";
    mu.value.len = 1;
    m.n_m_uint32_bytes = 1;
    m.m_uint32_bytes = mup;
    m.choice_case = MICRO__TEST__EVERYTHING__CHOICE_O_INT32;
    m.o_int32 = -3;
    ts.seconds = -1;
    ts.nanos = 999000000;
    m.w_timestamp = &ts;
    w64.value = -5;
    m.w_int64 = &w64;
    wu32.value = 4294967295U;
    m.w_uint32 = &wu32;
    m.field_name_with_underscores = 80;
    m.fieldname2 = 81;

    assert_true(micro__test__everything__get_packed_size(&m) <= sizeof(a));
    len = micro__test__everything__pack(&m, a);

    for (p = 0; p < 2; p++) {
        micro_transcode_options_t  o = { 0 };

        o.pool = pools[p];
        json.len = pb.len = 0;
        assert_int_equal(micro_pb_to_json(everything[p], a, len, &o, &json),
                         0);
        assert_json_equal((char *) json.data, json.len, want);

        assert_int_equal(micro_json_to_pb(everything[p], (char *) json.data,
                                          json.len, &o, &pb), 0);
        m2 = micro__test__everything__unpack(NULL, pb.len, pb.data);
        assert_non_null(m2);
        len2 = micro__test__everything__pack(m2, a2);
        micro__test__everything__free_unpacked(m2, NULL);
        if (len2 != len || memcmp(a, a2, len) != 0) {
            fail_msg("pool %d: our encoding of %.*s decodes to another "
                     "message", p, (int) json.len, (char *) json.data);
        }
    }
    micro_buf_free(&json);
    micro_buf_free(&pb);
}


/* What protobuf-c encodes, we print as the mapping says. */
static void
test_json_from_protobuf_c(void **state)
{
    uint8_t                     buf[256];
    size_t                      len;
    micro_buf_t                 json = { 0 };
    Micro__Test__Inner            inner = MICRO__TEST__INNER__INIT;
    Micro__Test__Everything       m = MICRO__TEST__EVERYTHING__INIT;
    Google__Protobuf__Duration  d = GOOGLE__PROTOBUF__DURATION__INIT;
    int64_t                     r64[] = { 1, -2 };

    (void) state;
    m.f_uint64 = 18446744073709551615ULL;
    m.f_double = 0.1;
    m.f_string = "x";
    inner.a = 7;
    m.f_message = &inner;
    m.n_r_int64 = 2;
    m.r_int64 = r64;
    d.seconds = -1;
    d.nanos = -500000000;
    m.w_duration = &d;
    m.choice_case = MICRO__TEST__EVERYTHING__CHOICE_O_STRING;
    m.o_string = "";

    len = micro__test__everything__pack(&m, buf);
    assert_int_equal(micro_pb_to_json(everything[1], buf, len, NULL, &json),
                     0);
    assert_json_equal((char *) json.data, json.len,
                      "{\"fUint64\":\"18446744073709551615\",\"fDouble\":0.1,"
                      "\"fString\":\"x\",\"fMessage\":{\"a\":7},"
                      "\"rInt64\":[\"1\",\"-2\"],\"oString\":\"\","
                      "\"wDuration\":\"-1.500s\"}");
    micro_buf_free(&json);
}


static void
test_malformed_protobuf(void **state)
{
    size_t       i;
    micro_buf_t  json = { 0 };
    static const struct {
        const char  *bytes;
        size_t       len;
    } bad[] = {
        { "\x08", 1 },                     /* varint missing */
        { "\x0a\x05" "ab", 4 },            /* length past the end */
        { "\x00\x01", 2 },                 /* field number 0 */
        { "\x0f", 1 },                     /* wire type 7 */
        { "\x72\x02\xc3\x28", 4 },         /* f_string not UTF-8 */
        { "\x8a\x01\x03\x08\x01\x0f", 6 }, /* bad bytes inside f_message */
        { "\x0d\x01\x00\x00\x00", 5 },     /* f_int32 with a fixed32 */
    };

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json.len = 0;
        if (micro_pb_to_json(everything[0], (const uint8_t *) bad[i].bytes,
                             bad[i].len, NULL, &json) != MICRO_EPARSE)
        {
            fail_msg("malformed input %zu was accepted", i);
        }
    }
    micro_buf_free(&json);
}


static size_t  allocations;

static void *
counting_alloc(void *ctx, size_t size)
{
    (void) ctx;
    allocations++;
    return malloc(size);
}


static void
counting_free(void *ctx, void *p)
{
    (void) ctx;
    free(p);
}


/* A pool-style allocator without realloc gets the same bytes. */
static void
test_caller_allocator(void **state)
{
    micro_buf_t              a = { 0 }, b = { 0 };
    const char              *json = "{\"rString\":[\"0123456789012345678901234"
                                    "5678901234567890123456789\",\"x\"],"
                                    "\"fMessage\":{\"b\":\"0123456789012345678"
                                    "9012345678901234567890123456789012345678"
                                    "9012345678901234567890123456789012345678"
                                    "901234567890123456789012345678901234567"
                                    "890123456789012345678901234567890123456"
                                    "78901234567890123456789012345678901234"
                                    "56789\"}}";
    const micro_allocator_t  alloc = { counting_alloc, NULL, counting_free,
                                       NULL };

    (void) state;
    b.allocator = &alloc;
    assert_int_equal(micro_json_to_pb(everything[0], json, strlen(json), NULL,
                                      &a), 0);
    assert_int_equal(micro_json_to_pb(everything[0], json, strlen(json), NULL,
                                      &b), 0);
    assert_true(allocations >= 2);             /* grew without realloc */
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    micro_buf_free(&a);
    micro_buf_free(&b);
}


static void
test_pool(void **state)
{
    const micro_pb_field_t    *f;
    const micro_pb_message_t  *m = everything[1];

    (void) state;
    assert_non_null(micro_pb_pool_message(pools[1], ".micro.test.Inner"));
    assert_non_null(micro_pb_pool_message(pools[1], "google.protobuf.Any"));
    assert_null(micro_pb_pool_message(pools[1], "micro.test.Nope"));
    f = micro_pb_field_by_number(m, 31);
    assert_string_equal(f->json_name, "mStringInt32");
    assert_true(f->message->map_entry);
    assert_true(micro_pb_field_by_number(everything[0], 31)->message
                ->map_entry);
    assert_false(micro_pb_field_by_number(m, 25)->message->map_entry);
    assert_true(micro_pb_field_by_number(m, 17)->presence);
    assert_false(micro_pb_field_by_number(m, 1)->presence);
    assert_true(micro_pb_field_by_number(m, 21)->packed);
    assert_false(micro_pb_field_by_number(m, 28)->packed);
    assert_int_equal(micro_pb_field_by_number(m, 42)->oneof,
                     micro_pb_field_by_number(m, 41)->oneof);
}


static void
test_bad_descriptor_set(void **state)
{
    micro_pb_pool_t  *p;

    (void) state;
    micro_pb_pool_new(&p);
    assert_int_equal(micro_pb_pool_add_descriptor_set(p,
                     (const uint8_t *) "\x0a\x05junk", 7), MICRO_EPARSE);
    assert_string_equal(micro_error_detail(), "not a FileDescriptorSet");
    micro_pb_pool_free(p);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_bad_descriptor_set),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_messages_and_repeated),
        cmocka_unit_test(test_maps),
        cmocka_unit_test(test_oneof_and_optional),
        cmocka_unit_test(test_well_known_types),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_offsets),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_depth_same_both_ways),
        cmocka_unit_test(test_struct_keys),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_emit_defaults),
        cmocka_unit_test(test_wire_checked_by_protobuf_c),
        cmocka_unit_test(test_json_from_protobuf_c),
        cmocka_unit_test(test_every_field_against_protobuf_c),
        cmocka_unit_test(test_malformed_protobuf),
        cmocka_unit_test(test_caller_allocator),
    };

    return cmocka_run_group_tests_name("transcode", tests, setup, teardown);
}
