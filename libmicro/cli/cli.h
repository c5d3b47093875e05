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

/* The broker's commands (broker.c): publish, subscribe, topics, replay. */
int micro_cli_publish(const micro_cli_t *cli);
int micro_cli_subscribe(const micro_cli_t *cli);
int micro_cli_topics(const micro_cli_t *cli);
int micro_cli_replay(const micro_cli_t *cli);

#endif
