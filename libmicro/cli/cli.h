/* The micro CLI's parsed command line and the commands in other files. */

#ifndef MICRO_CLI_H
#define MICRO_CLI_H

#include <micro.h>

#define MICRO_CLI_MAX_ARGS  8
#define MICRO_CLI_MAX_META  32

typedef struct {
    const char         *registry;
    const char         *ttl;
    const char         *address;
    const char         *timeout;
    const char         *queue;
    const char         *name;
    const char         *protocol;       /* --protocol grpc|mucp */
    const char         *descriptors;    /* --descriptors FILE */
    int                 from_start;
    int                 json;
    int                 argc;
    const char         *argv[MICRO_CLI_MAX_ARGS];
    size_t              nmetadata;
    micro_pair_t        metadata[MICRO_CLI_MAX_META];
    char                meta_buf[MICRO_CLI_MAX_META][256];
} micro_cli_t;

/* Prints "micro: WHAT: detail" on stderr; returns 1. */
int micro_cli_fail(const char *what);

/* Messages as JSON, or as protobuf with --descriptors (codec.c). */
typedef struct {
    micro_pb_pool_t            *pool;
    const micro_pb_message_t   *request;
    const micro_pb_message_t   *response;
} micro_cli_codec_t;

int micro_cli_codec_open(micro_cli_codec_t *k, const micro_cli_t *cli,
    const char *endpoint);
const char *micro_cli_codec_type(const micro_cli_codec_t *k);
int micro_cli_codec_encode(const micro_cli_codec_t *k, const char *json,
    micro_buf_t *out);
int micro_cli_codec_print(const micro_cli_codec_t *k, const micro_buf_t *msg);
void micro_cli_codec_close(micro_cli_codec_t *k);

/* The call's options from the command line; 2 after a bad --timeout. */
int micro_cli_call_options(const micro_cli_t *cli, micro_client_options_t *o,
    micro_call_options_t *co);
int micro_cli_call_failed(const micro_rpc_error_t *err);

/* stream SERVICE ENDPOINT (stream.c) */
int micro_cli_stream(const micro_cli_t *cli);

/* The broker's commands (broker.c): publish, subscribe, topics, replay. */
int micro_cli_publish(const micro_cli_t *cli);
int micro_cli_subscribe(const micro_cli_t *cli);
int micro_cli_topics(const micro_cli_t *cli);
int micro_cli_replay(const micro_cli_t *cli);

#endif
