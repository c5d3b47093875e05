/* Internal: synchronous Redis connections with timeouts, AUTH and SELECT. */

#ifndef MICRO_REDIS_H
#define MICRO_REDIS_H

#include <hiredis/hiredis.h>

#include "micro/registry.h"

/* A ready connection in *out, or an error with micro_error_detail() set. */
int micro_redis_connect(const micro_registry_options_t *o, redisContext **out);

/*
 * Maps a reply (NULL on I/O failure) to a libmicro code, setting the
 * detail. An I/O failure means the connection must be dropped.
 */
int micro_redis_status(redisContext *c, redisReply *reply, const char *what);

#endif
