/*
 * Internal: a stream between the thread that uses it (a client's caller,
 * a server's stream handler) and the I/O thread that carries it over
 * HTTP/2. Everything here is under the stream's lock; the I/O side is
 * told of new output, consumed input and a cancel by st->wake, and
 * reports what arrives with the micro_stream_on_* calls.
 */

#ifndef MICRO_STREAM_INTERNAL_H
#define MICRO_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "micro/pb.h"
#include "transport/grpc.h"
#include "micro/server.h"
#include "micro/stream.h"

#define MICRO_STREAM_OUT_MAX  (1 << 20)   /* bytes queued before send waits */

typedef struct micro_stream_msg_s  micro_stream_msg_t;

struct micro_stream_msg_s {
    micro_stream_msg_t                *next;
    size_t                             len;
    uint8_t                            data[];
};

struct micro_stream_s {
    pthread_mutex_t                    lock;
    pthread_cond_t                     cond;
    int                                refs;

    /* received, not yet taken */
    micro_stream_msg_t                *in_head;
    micro_stream_msg_t                *in_tail;
    int                                in_ended;     /* the peer's last */
    size_t                             queued;       /* bytes in, untaken */
    int                                holding;      /* the I/O side holds
                                                        window back */
    /* to send: framed messages */
    micro_buf_t                        out;
    size_t                             out_pos;
    int                                out_closed;
    int                                cancel;
    int                                unsent;       /* never reached the
                                                        peer: safe to retry */

    /* the end: result is a micro_errno_t, error the peer's or ours */
    int                                done;
    int                                result;
    micro_rpc_error_t                  error;

    int64_t                            deadline;     /* micro_now_ms; 0 */
    size_t                             max_message;
    int                                json;
    const ProtobufCMessageDescriptor  *recv_type;
    const micro_pb_message_t          *recv_pb;      /* JSON streams: the */
    const micro_pb_message_t          *send_pb;      /* types to transcode */
    micro_metadata_t                   headers;      /* the peer's first */
    micro_request_t                   *request;      /* server side */

    /* the I/O side: wake is called under the lock while io is set */
    void                             (*wake)(micro_stream_t *st);
    void                              *io;
};

micro_stream_t *micro_stream_new(size_t max_message, int json,
    const ProtobufCMessageDescriptor *recv_type, int64_t deadline);

/* refs: the user holds one, the I/O side one while io is set */
void micro_stream_release(micro_stream_t *st);

/* From the I/O side (each takes the lock). */
int micro_stream_on_message(micro_stream_t *st, const uint8_t *data,
    size_t len);
void micro_stream_on_end(micro_stream_t *st);
void micro_stream_on_finish(micro_stream_t *st, int result,
    const micro_rpc_error_t *err);

/*
 * Copies up to size bytes of output to buf: the count, or -1 while there
 * is none yet; *eof is set once all output is out and sending closed.
 */
ssize_t micro_stream_take_output(micro_stream_t *st, uint8_t *buf,
    size_t size, int *eof);

/*
 * Flow control: of the bytes received (and those held before), how many
 * to give back to the peer's window now: all while the messages waiting
 * to be taken are under a window's worth, else none (held in *held, and
 * the stream wakes its I/O side as they are taken).
 */
size_t micro_stream_window(micro_stream_t *st, size_t received,
    size_t *held);

/*
 * A DATA frame's bytes for the stream: its whole messages onto the
 * queue, the rest kept in rd; *consume is what to give back to the
 * peer's window now (micro_stream_window). 0; as micro_grpc_read, -1
 * for a compressed message and -2 for one over the stream's limit; -3
 * out of memory.
 */
int micro_stream_on_data(micro_stream_t *st, micro_grpc_reader_t *rd,
    const uint8_t *data, size_t len, size_t *held, size_t *consume);

/* Detaches the I/O side (io = NULL) and drops its reference. */
void micro_stream_detach(micro_stream_t *st);

#endif
