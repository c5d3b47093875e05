#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>

#include "micro/error.h"

/* room for a name or node id of 255 characters quoted in its context */
static __thread char micro_detail[512];

static pthread_mutex_t     micro_log_lock = PTHREAD_MUTEX_INITIALIZER;
static micro_log_handler_t micro_log_handler;
static void               *micro_log_data;


const char *
micro_strerror(int code)
{
    switch (code) {
    case MICRO_OK:        return "success";
    case MICRO_EINVAL:    return "invalid argument";
    case MICRO_ENOMEM:    return "out of memory";
    case MICRO_EPARSE:    return "parse error";
    case MICRO_EREDIS:    return "redis error";
    case MICRO_ETIMEDOUT: return "timed out";
    case MICRO_ENOTFOUND: return "service not found";
    case MICRO_ENONODE:   return "no node available";
    case MICRO_ECLOSED:   return "closed";
    case MICRO_EENCODE:   return "cannot be encoded";
    case MICRO_EBUSY:     return "every node busy";
    case MICRO_ECONNECT:  return "connection to the service failed";
    case MICRO_ETRIMMED:  return "messages trimmed before they were read";
    case MICRO_ETOOBIG:   return "message too large";
    case MICRO_EEND:      return "end of stream";
    case MICRO_EREMOTE:   return "the service answered with an error";
    default:              return "unknown error";
    }
}


const char *
micro_error_detail(void)
{
    return micro_detail;
}


int
micro_error_set(int code, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(micro_detail, sizeof(micro_detail), fmt, ap);
    va_end(ap);

    return code;
}


void
micro_log_set_handler(micro_log_handler_t handler, void *data)
{
    pthread_mutex_lock(&micro_log_lock);
    micro_log_handler = handler;
    micro_log_data = data;
    pthread_mutex_unlock(&micro_log_lock);
}


void
micro_log_warn(const char *fmt, ...)
{
    char     msg[512];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    pthread_mutex_lock(&micro_log_lock);
    if (micro_log_handler) {
        micro_log_handler(msg, micro_log_data);
    } else {
        fprintf(stderr, "libmicro: %s\n", msg);
    }
    pthread_mutex_unlock(&micro_log_lock);
}
