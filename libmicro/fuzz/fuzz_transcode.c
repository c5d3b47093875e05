/*
 * libFuzzer target for the transcoder. The first byte picks the direction
 * (even: JSON -> protobuf, odd: protobuf -> JSON) and the options; the
 * rest is the input, transcoded as micro.test.Everything. Whatever comes
 * out of JSON -> protobuf must transcode back without error.
 *
 *   make fuzz && build/fuzz/fuzz_transcode -max_total_time=600 corpus/
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <micro/pb.h>
#include <micro/transcode.h>

#include "everything.pb-c.h"

static micro_pb_pool_t           *pool;
static const micro_pb_message_t  *everything;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    micro_buf_t                out = { 0 }, back = { 0 };
    micro_transcode_options_t  o = { 0 };

    if (pool == NULL) {
        micro_pb_pool_new(&pool);
        micro_pb_pool_add_protobuf_c(pool,
                                     &micro__test__everything__descriptor,
                                     &everything);
    }
    if (size == 0) {
        return 0;
    }
    o.pool = pool;
    o.emit_defaults = (data[0] >> 1) & 1;
    o.ignore_unknown = (data[0] >> 2) & 1;
    o.proto_names = (data[0] >> 3) & 1;

    if (data[0] & 1) {
        micro_pb_to_json(everything, data + 1, size - 1, &o, &out);
    } else if (micro_json_to_pb(everything, (const char *) data + 1,
                                size - 1, &o, &out) == 0)
    {
        if (micro_pb_to_json(everything, out.data, out.len, &o, &back) != 0) {
            abort();            /* our own encoding must decode */
        }
    }
    micro_buf_free(&out);
    micro_buf_free(&back);
    return 0;
}
