/*
 * micro stream SERVICE ENDPOINT: a gRPC stream from the shell. Each line
 * of stdin is a request (JSON); each reply is printed as a JSON line as
 * it comes, from a thread of its own, so a bidirectional stream answers
 * while input is still being read. EOF on stdin closes sending; the
 * exit status is the call's (0, or 1 with its go-micro error on stderr).
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct {
    micro_stream_t            *st;
    const micro_cli_codec_t   *codec;
    int                        rc;
} micro_cli_reader_t;


static void *
micro_cli_read_replies(void *arg)
{
    micro_cli_reader_t  *rd = arg;
    micro_buf_t          msg = { 0 };

    for ( ;; ) {
        msg.len = 0;
        rd->rc = micro_stream_recv_raw(rd->st, &msg);
        if (rd->rc != MICRO_OK) {
            break;
        }
        micro_cli_codec_print(rd->codec, &msg);
        fflush(stdout);
    }
    micro_buf_free(&msg);
    return NULL;
}


int
micro_cli_stream(const micro_cli_t *cli)
{
    int                     rc;
    char                   *line = NULL;
    size_t                  cap = 0;
    ssize_t                 n;
    pthread_t               reader;
    micro_buf_t             body = { 0 };
    micro_client_t         *c;
    micro_stream_t         *st;
    micro_rpc_error_t       err;
    micro_cli_codec_t       codec;
    micro_cli_reader_t      rd;
    micro_call_options_t    co;
    micro_client_options_t  o;

    if (micro_cli_call_options(cli, &o, &co) != 0) {
        return 2;
    }
    if (cli->timeout == NULL) {
        co.timeout_ms = -1;              /* a stream lasts as it needs */
    }
    if (micro_cli_codec_open(&codec, cli, cli->argv[2]) != 0) {
        return 1;
    }
    if (micro_client_new(&o, &c) != MICRO_OK) {
        micro_cli_codec_close(&codec);
        return micro_cli_fail("stream");
    }
    rc = micro_client_stream_raw(c, cli->argv[1], cli->argv[2],
                                 codec.pool ? "application/grpc"
                                            : "application/grpc+json",
                                 &co, &st, &err);
    if (rc != MICRO_OK) {
        micro_client_free(c);
        micro_cli_codec_close(&codec);
        return micro_cli_call_failed(&err);
    }
    rd.st = st;
    rd.codec = &codec;
    rd.rc = MICRO_OK;
    pthread_create(&reader, NULL, micro_cli_read_replies, &rd);

    while ((n = getline(&line, &cap, stdin)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        if (n == 0) {
            continue;
        }
        body.len = 0;
        if (micro_cli_codec_encode(&codec, line, &body) != MICRO_OK) {
            micro_cli_fail("request");
            micro_stream_cancel(st);
            break;
        }
        if (micro_stream_send_raw(st, body.data, body.len) != MICRO_OK) {
            break;                       /* the stream ended: status says */
        }
    }
    micro_stream_close_send(st);
    pthread_join(reader, NULL);
    rc = micro_stream_status(st, &err);

    free(line);
    micro_buf_free(&body);
    micro_stream_free(st);
    micro_client_free(c);
    micro_cli_codec_close(&codec);
    return rc == MICRO_OK ? 0 : micro_cli_call_failed(&err);
}
