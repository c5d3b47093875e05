/* Growable output buffers over a caller's allocator. */

#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/pb_wire.h"


static void *
micro_default_alloc(void *ctx, size_t size)
{
    (void) ctx;
    return malloc(size);
}


static void *
micro_default_realloc(void *ctx, void *ptr, size_t old, size_t size)
{
    (void) ctx;
    (void) old;
    return realloc(ptr, size);
}


static void
micro_default_free(void *ctx, void *ptr)
{
    (void) ctx;
    free(ptr);
}


const micro_allocator_t  micro_allocator_default = {
    micro_default_alloc, micro_default_realloc, micro_default_free, NULL
};


int
micro_buf_reserve(micro_buf_t *b, size_t n)
{
    size_t                    cap;
    uint8_t                  *data;
    const micro_allocator_t  *a;

    if (b->cap - b->len >= n) {
        return MICRO_OK;
    }
    a = b->allocator ? b->allocator : &micro_allocator_default;
    cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
        if (cap > (size_t) -1 / 2) {
            return MICRO_ENOMEM;
        }
        cap *= 2;
    }

    if (a->realloc) {
        data = a->realloc(a->ctx, b->data, b->cap, cap);
    } else {
        data = a->alloc(a->ctx, cap);
        if (data && b->len) {
            memcpy(data, b->data, b->len);
        }
        if (data && b->data && a->free) {
            a->free(a->ctx, b->data);
        }
    }
    if (data == NULL) {
        return micro_error_set(MICRO_ENOMEM, "out of memory");
    }
    b->data = data;
    b->cap = cap;
    return MICRO_OK;
}


int
micro_buf_append(micro_buf_t *b, const void *data, size_t n)
{
    if (n == 0) {
        return MICRO_OK;
    }
    if (micro_buf_reserve(b, n) != MICRO_OK) {
        return MICRO_ENOMEM;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return MICRO_OK;
}


void
micro_buf_free(micro_buf_t *b)
{
    const micro_allocator_t  *a;

    a = b->allocator ? b->allocator : &micro_allocator_default;
    if (b->data && a->free) {
        a->free(a->ctx, b->data);
    }
    b->data = NULL;
    b->len = b->cap = 0;
}


int
micro_buf_pack(micro_buf_t *b, const ProtobufCMessage *msg)
{
    size_t  size = protobuf_c_message_get_packed_size(msg);

    if (micro_buf_reserve(b, size ? size : 1) != MICRO_OK) {
        return MICRO_ENOMEM;
    }
    b->len += protobuf_c_message_pack(msg, b->data + b->len);
    return MICRO_OK;
}
