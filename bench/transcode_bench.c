/*
 * Transcoder throughput on the customer example's OrdersResponse (10
 * orders: nested, repeated, map, enum, int64, Timestamp), both ways, with
 * the types loaded from a descriptor set as the gateway does.
 *
 *   make bench
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <micro.h>

#define ROUNDS  200000


static double
now_s(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static char *
orders_json(void)
{
    int     i;
    size_t  n = 0;
    char   *s = malloc(16384);

    n += sprintf(s + n, "{\"customerId\":\"c42\",\"orders\":[");
    for (i = 0; i < 10; i++) {
        n += sprintf(s + n, "%s{\"id\":\"%lld\",\"status\":\"SHIPPED\","
                     "\"items\":[{\"sku\":\"sku-c42-%d\",\"quantity\":%d,"
                     "\"price\":{\"currency\":\"EUR\",\"units\":\"%d\","
                     "\"nanos\":500000000}}],\"labels\":{\"channel\":\"web\","
                     "\"gift\":\"no\"},\"createdAt\":\"2023-11-14T22:13:20.5Z\","
                     "\"total\":{\"currency\":\"EUR\",\"units\":\"%d\"}}",
                     i ? "," : "", 9007199254740993LL + i, i, i + 1, 10 + i,
                     (10 + i) * (i + 1));
    }
    sprintf(s + n, "],\"totalCount\":\"1000000000000\"}");
    return s;
}


int
main(int argc, char **argv)
{
    int                        i;
    FILE                      *f;
    long                       size;
    char                      *json;
    double                     t0, t;
    uint8_t                   *set;
    micro_buf_t                pb = { 0 }, out = { 0 };
    micro_pb_pool_t           *pool;
    const micro_pb_message_t  *m;

    f = fopen(argc > 1 ? argv[1] : "build/gen/proto/services.pb", "rb");
    if (f == NULL) {
        perror("descriptor set");
        return 1;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    set = malloc(size);
    if (fread(set, 1, size, f) != (size_t) size) {
        return 1;
    }
    fclose(f);
    micro_pb_pool_new(&pool);
    if (micro_pb_pool_add_descriptor_set(pool, set, size) != 0) {
        fprintf(stderr, "%s\n", micro_error_detail());
        return 1;
    }
    m = micro_pb_pool_message(pool, "go.micro.srv.customer.OrdersResponse");
    json = orders_json();

    if (micro_json_to_pb(m, json, strlen(json), NULL, &pb) != 0) {
        fprintf(stderr, "%s\n", micro_error_detail());
        return 1;
    }

    printf("| direction (OrdersResponse, 10 orders)   | messages/s | MB/s (JSON) |\n");
    printf("|-----------------------------------------|------------|-------------|\n");
    t0 = now_s();
    for (i = 0; i < ROUNDS; i++) {
        pb.len = 0;
        micro_json_to_pb(m, json, strlen(json), NULL, &pb);
    }
    t = now_s() - t0;
    printf("| JSON -> protobuf (%4zu -> %4zu bytes)    | %10.0f | %11.1f |\n",
           strlen(json), pb.len, ROUNDS / t,
           ROUNDS * strlen(json) / t / 1e6);

    t0 = now_s();
    for (i = 0; i < ROUNDS; i++) {
        out.len = 0;
        micro_pb_to_json(m, pb.data, pb.len, NULL, &out);
    }
    t = now_s() - t0;
    printf("| protobuf -> JSON (%4zu -> %4zu bytes)    | %10.0f | %11.1f |\n",
           pb.len, out.len, ROUNDS / t, ROUNDS * out.len / t / 1e6);

    micro_buf_free(&pb);
    micro_buf_free(&out);
    micro_pb_pool_free(pool);
    free(set);
    free(json);
    return 0;
}
