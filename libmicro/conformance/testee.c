/*
 * A testee for protobuf's conformance runner: reads length-prefixed
 * ConformanceRequest messages on stdin and answers ConformanceResponse
 * messages on stdout (conformance.proto), transcoding with libmicro.
 *
 *   testee TYPES.pb
 *
 * TYPES.pb is a descriptor set holding the runner's test messages
 * (protoc --include_imports --descriptor_set_out=TYPES.pb
 *  google/protobuf/test_messages_proto3.proto ...proto2.proto).
 *
 * What it answers: JSON input to protobuf or JSON output, and protobuf
 * input to JSON output. Protobuf to protobuf (a re-serialisation, not a
 * transcoding), JSPB and text format are answered "skipped".
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <micro/pb.h>
#include <micro/transcode.h>
#include <micro/error.h>

enum {
    REQ_PROTOBUF = 1, REQ_JSON = 2, REQ_OUTPUT = 3, REQ_TYPE = 4,
    REQ_CATEGORY = 5, REQ_JSPB = 7, REQ_TEXT = 8
};
enum { OUT_PROTOBUF = 1, OUT_JSON = 2 };
enum { CATEGORY_JSON_IGNORE_UNKNOWN = 3 };
enum {
    RESP_PARSE_ERROR = 1, RESP_RUNTIME_ERROR = 2, RESP_PROTOBUF = 3,
    RESP_JSON = 4, RESP_SKIPPED = 5, RESP_SERIALIZE_ERROR = 6
};

typedef struct {
    const uint8_t  *payload;
    size_t          payload_len;
    int             payload_kind;
    int             output;
    int             category;
    char            type[256];
} request_t;


static int
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    int  shift;

    *v = 0;
    for (shift = 0; shift < 64 && *p < end; shift += 7) {
        *v |= (uint64_t) (**p & 0x7f) << shift;
        if (*(*p)++ < 0x80) {
            return 0;
        }
    }
    return -1;
}


static int
parse_request(const uint8_t *p, size_t len, request_t *r)
{
    uint64_t        key, v;
    const uint8_t  *end = p + len;

    memset(r, 0, sizeof(*r));
    while (p < end) {
        if (varint(&p, end, &key) != 0) {
            return -1;
        }
        if ((key & 7) == 0) {
            if (varint(&p, end, &v) != 0) {
                return -1;
            }
            if ((key >> 3) == REQ_OUTPUT) {
                r->output = (int) v;
            } else if ((key >> 3) == REQ_CATEGORY) {
                r->category = (int) v;
            }
        } else if ((key & 7) == 2) {
            if (varint(&p, end, &v) != 0 || v > (uint64_t) (end - p)) {
                return -1;
            }
            switch (key >> 3) {
            case REQ_PROTOBUF:
            case REQ_JSON:
            case REQ_JSPB:
            case REQ_TEXT:
                r->payload = p;
                r->payload_len = v;
                r->payload_kind = (int) (key >> 3);
                break;
            case REQ_TYPE:
                snprintf(r->type, sizeof(r->type), "%.*s", (int) v, p);
                break;
            }
            p += v;
        } else {
            return -1;
        }
    }
    return 0;
}


static void
respond(int field, const void *data, size_t len)
{
    uint8_t   head[16];
    size_t    n = 0, total;
    uint64_t  v = len;

    head[n++] = (uint8_t) (field << 3 | 2);
    while (v >= 0x80) {
        head[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    head[n++] = (uint8_t) v;
    total = n + len;
    fwrite(&(uint32_t) { (uint32_t) total }, 4, 1, stdout);
    fwrite(head, 1, n, stdout);
    fwrite(data, 1, len, stdout);
    fflush(stdout);
}


static void
answer(micro_pb_pool_t *pool, const request_t *r)
{
    int                        rc;
    const char                *e;
    micro_buf_t                pb = { 0 }, json = { 0 };
    micro_transcode_options_t  o = { 0 };
    const micro_pb_message_t  *m;

    o.pool = pool;
    o.ignore_unknown = r->category == CATEGORY_JSON_IGNORE_UNKNOWN;

    if (strcmp(r->type, "conformance.FailureSet") == 0) {
        respond(RESP_PROTOBUF, "", 0);          /* an empty FailureSet */
        return;
    }
    m = micro_pb_pool_message(pool, r->type);
    if (m == NULL) {
        e = "unknown message type";
        respond(RESP_SKIPPED, e, strlen(e));
        return;
    }
    if ((r->payload_kind != REQ_JSON && r->payload_kind != REQ_PROTOBUF)
        || (r->output != OUT_JSON && r->output != OUT_PROTOBUF)
        || (r->payload_kind == REQ_PROTOBUF && r->output == OUT_PROTOBUF))
    {
        e = "only JSON <-> protobuf transcoding";
        respond(RESP_SKIPPED, e, strlen(e));
        return;
    }

    if (r->payload_kind == REQ_JSON) {
        rc = micro_json_to_pb(m, (const char *) r->payload, r->payload_len,
                              &o, &pb);
        if (rc != MICRO_OK) {
            e = micro_error_detail();
            respond(RESP_PARSE_ERROR, e, strlen(e));
            goto done;
        }
        if (r->output == OUT_PROTOBUF) {
            respond(RESP_PROTOBUF, pb.data, pb.len);
            goto done;
        }
        rc = micro_pb_to_json(m, pb.data, pb.len, &o, &json);
    } else {
        rc = micro_pb_to_json(m, r->payload, r->payload_len, &o, &json);
        if (rc == MICRO_EPARSE) {
            e = micro_error_detail();
            respond(RESP_PARSE_ERROR, e, strlen(e));
            goto done;
        }
    }
    if (rc != MICRO_OK) {
        e = micro_error_detail();
        respond(RESP_SERIALIZE_ERROR, e, strlen(e));
    } else {
        respond(RESP_JSON, json.data, json.len);
    }

done:
    micro_buf_free(&pb);
    micro_buf_free(&json);
}


int
main(int argc, char **argv)
{
    FILE             *f;
    long              size;
    uint8_t          *buf;
    uint32_t          len;
    request_t         r;
    micro_pb_pool_t  *pool;

    if (argc != 2 || (f = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: testee TYPES.pb\n");
        return 2;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    buf = malloc(size);
    if (fread(buf, 1, size, f) != (size_t) size) {
        return 2;
    }
    fclose(f);
    micro_pb_pool_new(&pool);
    if (micro_pb_pool_add_descriptor_set(pool, buf, size) != MICRO_OK) {
        fprintf(stderr, "testee: %s\n", micro_error_detail());
        return 2;
    }
    free(buf);

    while (fread(&len, 4, 1, stdin) == 1) {
        buf = malloc(len ? len : 1);
        if (fread(buf, 1, len, stdin) != len) {
            free(buf);
            break;
        }
        if (parse_request(buf, len, &r) != 0) {
            respond(RESP_RUNTIME_ERROR, "bad request", 11);
        } else {
            answer(pool, &r);
        }
        free(buf);
    }
    micro_pb_pool_free(pool);
    return 0;
}
