/*
 * A stream's two queues and its end, shared by the user's thread and the
 * I/O thread (stream_internal.h); the same for clients and servers.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "micro/error.h"
#include "core/clock.h"
#include "transport/grpc.h"
#include "transport/stream_internal.h"

static const char  micro_stream_id[] = "go.micro.stream";

static void micro_stream_end(micro_stream_t *st, int result, int code,
    const char *why);


micro_stream_t *
micro_stream_new(size_t max_message, int json,
    const ProtobufCMessageDescriptor *recv_type, int64_t deadline)
{
    micro_stream_t      *st;
    pthread_condattr_t   attr;

    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cond, &attr);
    pthread_condattr_destroy(&attr);
    st->refs = 1;
    st->max_message = max_message;
    st->json = json;
    st->recv_type = recv_type;
    st->deadline = deadline;
    return st;
}


static void
micro_stream_destroy(micro_stream_t *st)
{
    micro_stream_msg_t  *m, *next;

    for (m = st->in_head; m; m = next) {
        next = m->next;
        free(m);
    }
    micro_buf_free(&st->out);
    micro_metadata_free(&st->headers);
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
    free(st);
}


void
micro_stream_release(micro_stream_t *st)
{
    int  refs;

    pthread_mutex_lock(&st->lock);
    refs = --st->refs;
    pthread_mutex_unlock(&st->lock);
    if (refs == 0) {
        micro_stream_destroy(st);
    }
}


void
micro_stream_detach(micro_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    st->io = NULL;
    micro_stream_end(st, MICRO_ECONNECT, 503, "the connection closed");
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    micro_stream_release(st);
}


/* Ends the stream as this side sees it (under the lock). */
static void
micro_stream_end(micro_stream_t *st, int result, int code, const char *why)
{
    if (st->done) {
        return;
    }
    st->done = 1;
    st->result = result;
    micro_rpc_error_set(&st->error, micro_stream_id, code, "%s", why);
    pthread_cond_broadcast(&st->cond);
}


static void
micro_stream_wake(micro_stream_t *st)
{
    if (st->io && st->wake) {
        st->wake(st);
    }
}


/* Waits for the condition to change, until the deadline (under lock). */
static int
micro_stream_wait(micro_stream_t *st)
{
    struct timespec  ts;

    if (st->deadline == 0) {
        pthread_cond_wait(&st->cond, &st->lock);
        return MICRO_OK;
    }
    if (micro_now_ms() >= st->deadline) {
        micro_stream_end(st, MICRO_ETIMEDOUT, 408, "deadline exceeded");
        st->cancel = 1;
        micro_stream_wake(st);
        return MICRO_ETIMEDOUT;
    }
    ts.tv_sec = st->deadline / 1000;
    ts.tv_nsec = (st->deadline % 1000) * 1000000;
    pthread_cond_timedwait(&st->cond, &st->lock, &ts);
    return MICRO_OK;
}


int
micro_stream_send_raw(micro_stream_t *st, const void *data, size_t len)
{
    int      rc = MICRO_OK;
    uint8_t  prefix[MICRO_GRPC_HEADER_LEN];

    /* the receiver's limit is the receiver's: here only the framing's */
    if (len > UINT32_MAX) {
        return micro_error_set(MICRO_ETOOBIG, "message of %zu bytes is over "
                               "gRPC's 4 GiB", len);
    }
    pthread_mutex_lock(&st->lock);
    while (!st->done && !st->out_closed
           && st->out.len - st->out_pos > MICRO_STREAM_OUT_MAX)
    {
        if ((rc = micro_stream_wait(st)) != MICRO_OK) {
            break;
        }
    }
    if (rc == MICRO_OK && (st->done || st->out_closed || st->io == NULL)) {
        rc = micro_error_set(MICRO_ECLOSED, "the stream is closed%s%s",
                             st->done ? ": " : "",
                             st->done ? st->error.detail : "");
    }
    if (rc == MICRO_OK) {
        if (st->out_pos == st->out.len) {
            st->out.len = st->out_pos = 0;
        }
        micro_grpc_prefix(prefix, len);
        if (micro_buf_append(&st->out, prefix, sizeof(prefix)) != MICRO_OK
            || micro_buf_append(&st->out, data, len) != MICRO_OK)
        {
            rc = MICRO_ENOMEM;
        } else {
            micro_stream_wake(st);
        }
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}


int
micro_stream_send(micro_stream_t *st, const ProtobufCMessage *msg)
{
    int          rc;
    micro_buf_t  pb = { 0 }, json = { 0 };

    if (micro_buf_pack(&pb, msg) != MICRO_OK) {
        return MICRO_ENOMEM;
    }
    if (st->json && st->send_pb) {
        rc = micro_pb_to_json(st->send_pb, pb.data, pb.len, NULL, &json);
        if (rc == MICRO_OK) {
            rc = micro_stream_send_raw(st, json.data, json.len);
        }
        micro_buf_free(&json);
    } else {
        rc = micro_stream_send_raw(st, pb.data, pb.len);
    }
    micro_buf_free(&pb);
    return rc;
}


int
micro_stream_close_send(micro_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    if (!st->out_closed) {
        st->out_closed = 1;
        micro_stream_wake(st);
    }
    pthread_mutex_unlock(&st->lock);
    return MICRO_OK;
}


void
micro_stream_cancel(micro_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    if (!st->done) {
        micro_stream_end(st, MICRO_ECLOSED, 499, "cancelled");
        st->cancel = 1;
        micro_stream_wake(st);
    }
    pthread_mutex_unlock(&st->lock);
}


/* The failure that ended the stream, as recv and status report it. */
static int
micro_stream_failed(micro_stream_t *st)
{
    return micro_error_set(st->result ? st->result : MICRO_ECLOSED, "%s",
                           st->error.detail);
}


int
micro_stream_recv_raw(micro_stream_t *st, micro_buf_t *out)
{
    int                  rc = MICRO_OK;
    micro_stream_msg_t  *m = NULL;

    pthread_mutex_lock(&st->lock);
    for ( ;; ) {
        if (st->in_head) {
            m = st->in_head;
            st->in_head = m->next;
            if (st->in_head == NULL) {
                st->in_tail = NULL;
            }
            st->queued -= MICRO_GRPC_HEADER_LEN + m->len;
            if (st->holding && st->queued < MICRO_GRPC_WINDOW) {
                micro_stream_wake(st);
            }
            break;
        }
        if (st->done && st->result != MICRO_OK) {
            rc = micro_stream_failed(st);
            break;
        }
        if (st->in_ended || st->done || st->io == NULL) {
            rc = MICRO_EEND;
            break;
        }
        if ((rc = micro_stream_wait(st)) != MICRO_OK) {
            rc = micro_stream_failed(st);
            break;
        }
    }
    pthread_mutex_unlock(&st->lock);

    if (m) {
        rc = micro_buf_append(out, m->data, m->len);
        free(m);
    }
    return rc;
}


int
micro_stream_recv(micro_stream_t *st, ProtobufCMessage **msg)
{
    int          rc;
    micro_buf_t  raw = { 0 }, pb = { 0 };
    micro_buf_t *bytes = &raw;

    *msg = NULL;
    if (st->recv_type == NULL) {
        return micro_error_set(MICRO_EINVAL, "the stream has no message "
                               "type: use micro_stream_recv_raw");
    }
    rc = micro_stream_recv_raw(st, &raw);
    if (rc == MICRO_OK && st->json && st->recv_pb) {
        rc = micro_json_to_pb(st->recv_pb, (const char *) raw.data, raw.len,
                              NULL, &pb);
        bytes = &pb;
    }
    if (rc == MICRO_OK) {
        *msg = protobuf_c_message_unpack(st->recv_type, NULL, bytes->len,
                                         bytes->data);
        if (*msg == NULL) {
            rc = micro_error_set(MICRO_EPARSE, "not a %s message",
                                 st->recv_type->name);
        }
    }
    micro_buf_free(&raw);
    micro_buf_free(&pb);
    return rc;
}


int
micro_stream_status(micro_stream_t *st, micro_rpc_error_t *err)
{
    int  rc = MICRO_OK;

    pthread_mutex_lock(&st->lock);
    while (!st->done && st->io) {
        if (micro_stream_wait(st) != MICRO_OK) {
            break;
        }
    }
    if (!st->done) {
        micro_stream_end(st, MICRO_ECONNECT, 500, "the stream broke");
    }
    if (err) {
        *err = st->error;
    }
    if (st->result != MICRO_OK) {
        rc = micro_stream_failed(st);
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}


const char *
micro_stream_header(micro_stream_t *st, const char *name)
{
    const char  *v;

    if (st->request) {
        return micro_request_header(st->request, name);
    }
    pthread_mutex_lock(&st->lock);
    v = micro_metadata_get(&st->headers, name);
    pthread_mutex_unlock(&st->lock);
    return v;
}


void
micro_stream_free(micro_stream_t *st)
{
    if (st) {
        micro_stream_cancel(st);
        micro_stream_release(st);
    }
}


/* --- the I/O side ------------------------------------------------------ */

int
micro_stream_on_message(micro_stream_t *st, const uint8_t *data, size_t len)
{
    micro_stream_msg_t  *m;

    m = malloc(sizeof(*m) + len);
    if (m == NULL) {
        return MICRO_ENOMEM;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->data, data, len);
    pthread_mutex_lock(&st->lock);
    if (st->in_tail) {
        st->in_tail->next = m;
    } else {
        st->in_head = m;
    }
    st->in_tail = m;
    st->queued += MICRO_GRPC_HEADER_LEN + len;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    return MICRO_OK;
}


void
micro_stream_on_end(micro_stream_t *st)
{
    pthread_mutex_lock(&st->lock);
    st->in_ended = 1;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
}


void
micro_stream_on_finish(micro_stream_t *st, int result,
    const micro_rpc_error_t *err)
{
    pthread_mutex_lock(&st->lock);
    if (!st->done) {
        st->done = 1;
        st->result = result;
        if (err) {
            st->error = *err;
        }
        pthread_cond_broadcast(&st->cond);
    }
    pthread_mutex_unlock(&st->lock);
}


int
micro_stream_on_data(micro_stream_t *st, micro_grpc_reader_t *rd,
    const uint8_t *data, size_t len, size_t *held, size_t *consume)
{
    int             rc;
    size_t          n;
    const uint8_t  *msg;

    *consume = len;
    if (micro_buf_append(&rd->in, data, len) != MICRO_OK) {
        return -3;
    }
    while ((rc = micro_grpc_read(rd, st->max_message, &msg, &n)) == 1) {
        if (micro_stream_on_message(st, msg, n) != MICRO_OK) {
            return -3;
        }
    }
    *consume = micro_stream_window(st, len, held);
    return rc;
}


size_t
micro_stream_window(micro_stream_t *st, size_t received, size_t *held)
{
    size_t  n = 0;

    pthread_mutex_lock(&st->lock);
    *held += received;
    if (st->queued < MICRO_GRPC_WINDOW) {
        n = *held;
        *held = 0;
        st->holding = 0;
    } else {
        st->holding = 1;
    }
    pthread_mutex_unlock(&st->lock);
    return n;
}


ssize_t
micro_stream_take_output(micro_stream_t *st, uint8_t *buf, size_t size,
    int *eof)
{
    size_t  n;

    pthread_mutex_lock(&st->lock);
    n = st->out.len - st->out_pos;
    if (n > size) {
        n = size;
    }
    if (n) {
        memcpy(buf, st->out.data + st->out_pos, n);
    }
    st->out_pos += n;
    *eof = st->out_closed && st->out_pos == st->out.len;
    if (n) {
        pthread_cond_broadcast(&st->cond);
    }
    pthread_mutex_unlock(&st->lock);
    return n == 0 && !*eof ? -1 : (ssize_t) n;
}
