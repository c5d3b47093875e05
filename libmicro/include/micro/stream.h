/*
 * Streams: a call that carries any number of messages each way, over
 * gRPC. The same object serves both ends: a client opens one with
 * micro_client_stream() (micro/client.h); a server's stream handler
 * (micro_server_handle_stream(), micro/server.h) is given one.
 *
 *   while ((rc = micro_stream_recv(st, &msg)) == MICRO_OK) {
 *       ...
 *       micro_stream_send(st, &reply.base);
 *       protobuf_c_message_free_unpacked(msg, NULL);
 *   }
 *   // MICRO_EEND: the peer has sent all it will
 *
 * Threads: one thread sends and one receives at a time (they may be two
 * different threads). Every call blocks the calling thread only, and
 * never past the call's deadline.
 */

#ifndef MICRO_STREAM_H
#define MICRO_STREAM_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "micro/rpc_error.h"
#include "micro/transcode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct micro_stream_s  micro_stream_t;

/*
 * Sends one message (packed, or JSON on a JSON stream). Blocks while the
 * peer is not taking messages (flow control). MICRO_ECLOSED once the
 * stream has ended or this side closed sending (the peer enforces its
 * own limit on what it receives).
 */
int micro_stream_send(micro_stream_t *st, const ProtobufCMessage *msg);
int micro_stream_send_raw(micro_stream_t *st, const void *data, size_t len);

/*
 * The next message, unpacked with the stream's receive type (free it
 * with protobuf_c_message_free_unpacked), or its bytes appended to out.
 * MICRO_EEND when the peer has finished: on a client, the call's own
 * result is then micro_stream_status(). Another error (MICRO_ETIMEDOUT,
 * MICRO_ECLOSED, MICRO_EREMOTE, MICRO_EPARSE) means the stream failed.
 */
int micro_stream_recv(micro_stream_t *st, ProtobufCMessage **msg);
int micro_stream_recv_raw(micro_stream_t *st, micro_buf_t *out);

/* No more messages from this side (the peer's recv gets MICRO_EEND). */
int micro_stream_close_send(micro_stream_t *st);

/* Ends the stream now: the peer sees CANCELLED. */
void micro_stream_cancel(micro_stream_t *st);

/*
 * Waits for the stream's end and returns its result: MICRO_OK, or
 * MICRO_EREMOTE (the peer's error in err), MICRO_ETIMEDOUT,
 * MICRO_ECONNECT, MICRO_ECLOSED (cancelled). err may be NULL.
 */
int micro_stream_status(micro_stream_t *st, micro_rpc_error_t *err);

/* A header (metadata) the peer sent first; NULL when absent. */
const char *micro_stream_header(micro_stream_t *st, const char *name);

/* Client side: cancels the stream if it is still open, and frees it. */
void micro_stream_free(micro_stream_t *st);

#ifdef __cplusplus
}
#endif

#endif
