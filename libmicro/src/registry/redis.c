/* Synchronous Redis connections for the registry and its watchers. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "micro/error.h"
#include "micro/registry_format.h"
#include "registry/redis.h"


static struct timeval
micro_tv(int ms)
{
    struct timeval  tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}


int
micro_redis_status(redisContext *c, redisReply *reply, const char *what)
{
    if (reply == NULL) {
        if (c->err == REDIS_ERR_IO
            && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
            return micro_error_set(MICRO_ETIMEDOUT, "%s: redis did not "
                                   "answer in time", what);
        }
        return micro_error_set(MICRO_EREDIS, "%s: %s", what,
                               c->errstr[0] ? c->errstr : "connection lost");
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        return micro_error_set(MICRO_EREDIS, "%s: %s", what, reply->str);
    }
    return MICRO_OK;
}


static int
micro_redis_simple(redisContext *c, const char *what, const char *fmt, ...)
{
    int          rc;
    va_list      ap;
    redisReply  *reply;

    va_start(ap, fmt);
    reply = redisvCommand(c, fmt, ap);
    va_end(ap);

    rc = micro_redis_status(c, reply, what);
    if (reply) {
        freeReplyObject(reply);
    }
    return rc;
}


int
micro_redis_connect(const micro_registry_options_t *o, redisContext **out)
{
    int            rc;
    redisContext  *c;

    if (o->unix_path) {
        c = redisConnectUnixWithTimeout(o->unix_path,
                                        micro_tv(o->connect_timeout_ms));
    } else {
        c = redisConnectWithTimeout(o->host, o->port,
                                    micro_tv(o->connect_timeout_ms));
    }
    if (c == NULL) {
        return micro_error_set(MICRO_ENOMEM, "out of memory connecting to "
                               "redis");
    }
    if (c->err) {
        rc = micro_error_set(c->err == REDIS_ERR_IO && errno == EINPROGRESS
                             ? MICRO_ETIMEDOUT : MICRO_EREDIS,
                             "cannot connect to redis at %s: %s",
                             micro_registry_where(o), c->errstr);
        redisFree(c);
        return rc;
    }

    rc = redisSetTimeout(c, micro_tv(o->command_timeout_ms)) == REDIS_OK
         ? MICRO_OK : micro_error_set(MICRO_EREDIS, "cannot set timeouts");
    if (rc == MICRO_OK && o->password) {
        rc = micro_redis_simple(c, "redis AUTH", "AUTH %s", o->password);
    }
    if (rc == MICRO_OK && o->db) {
        rc = micro_redis_simple(c, "redis SELECT", "SELECT %d", o->db);
    }
    if (rc != MICRO_OK) {
        redisFree(c);
        return rc;
    }
    *out = c;
    return MICRO_OK;
}
