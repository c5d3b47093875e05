/*
 * Internal: libmicro's gRPC client transport (grpc_client.c), for the
 * RPC layer: unary calls through micro_transport_ops_t, and streams.
 */

#ifndef MICRO_GRPC_CLIENT_H
#define MICRO_GRPC_CLIENT_H

#include "micro/stream.h"
#include "transport/transport.h"

/* Replies over max_message bytes are refused (RESOURCE_EXHAUSTED). */
int micro_grpc_transport_new(size_t max_message, micro_transport_t **out);

/* Opens a stream for the call (body and len unused); recv_type may be
 * NULL for raw streams. */
int micro_grpc_open(micro_transport_t *tr, const micro_transport_call_t *in,
    const ProtobufCMessageDescriptor *recv_type, micro_stream_t **out);

#endif
