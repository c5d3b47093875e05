/*
 * Error codes and messages shared by every part of libmicro.
 *
 * Functions return 0 on success or one of the negative codes below.
 * micro_strerror() names the code; micro_error_detail() says what exactly
 * went wrong in the calling thread's most recent failure.
 */

#ifndef MICRO_ERROR_H
#define MICRO_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MICRO_OK = 0,
    MICRO_EINVAL = -1,      /* invalid argument or name */
    MICRO_ENOMEM = -2,
    MICRO_EPARSE = -3,      /* malformed JSON or URL */
    MICRO_EREDIS = -4,      /* Redis unreachable or answered with an error */
    MICRO_ETIMEDOUT = -5,
    MICRO_ENOTFOUND = -6,   /* service not found */
    MICRO_ENONODE = -7,     /* service known, but no node available */
    MICRO_ECLOSED = -8,     /* object was stopped */
    MICRO_EENCODE = -9,     /* valid input that the output cannot express */
    MICRO_EBUSY = -10,      /* every node is at its limit of calls */
    MICRO_ECONNECT = -11,   /* a service's node unreachable, or the
                             * connection to it broke */
    MICRO_ETRIMMED = -12,   /* broker: messages removed by retention before
                             * a subscriber read them */
    MICRO_ETOOBIG = -13,    /* a message over its limit */
    MICRO_EEND = -14,       /* a stream's peer sent its last message */
    MICRO_EREMOTE = -20     /* the service answered with an error */
} micro_errno_t;

const char *micro_strerror(int code);

/* Detail of the calling thread's last failure; never NULL. */
const char *micro_error_detail(void);

/* Records a detail for micro_error_detail() and returns code. */
int micro_error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Warnings that have no caller to return to (a malformed registry entry
 * skipped during a read, a reconnect) go to this handler; the default
 * writes "libmicro: <message>" to stderr.
 */
typedef void (*micro_log_handler_t)(const char *message, void *data);

void micro_log_set_handler(micro_log_handler_t handler, void *data);
void micro_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#ifdef __cplusplus
}
#endif

#endif
