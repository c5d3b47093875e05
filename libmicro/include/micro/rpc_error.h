/*
 * go-micro's error, as services return it and clients receive it:
 * {"id":"go.micro.client","code":408,"detail":"...","status":"Request
 * Timeout"}, where status is the HTTP reason phrase of code.
 */

#ifndef MICRO_RPC_ERROR_H
#define MICRO_RPC_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "micro/transcode.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char        id[128];
    int32_t     code;
    char        detail[512];
    char        status[64];
} micro_rpc_error_t;

/* Fills e; status from code. */
void micro_rpc_error_set(micro_rpc_error_t *e, const char *id, int code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Appends e as compact JSON. */
int micro_rpc_error_json(const micro_rpc_error_t *e, micro_buf_t *out);

/*
 * Parses go-micro error JSON; text that is not one becomes the detail with
 * code 0, as go-micro's errors.Parse does.
 */
void micro_rpc_error_parse(micro_rpc_error_t *e, const char *s, size_t len);

/* "Not Found" for 404; "" for codes without a reason phrase. */
const char *micro_http_status_text(int code);

#ifdef __cplusplus
}
#endif

#endif
