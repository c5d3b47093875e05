/* go-micro's error shape: making, printing and parsing it. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "micro/rpc_error.h"


const char *
micro_http_status_text(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default:  return "";
    }
}


void
micro_rpc_error_set(micro_rpc_error_t *e, const char *id, int code,
    const char *fmt, ...)
{
    va_list  ap;

    snprintf(e->id, sizeof(e->id), "%s", id);
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    va_end(ap);
    snprintf(e->status, sizeof(e->status), "%s", micro_http_status_text(code));
}


int
micro_rpc_error_json(const micro_rpc_error_t *e, micro_buf_t *out)
{
    int      rc;
    char    *s;
    json_t  *o;

    o = json_pack("{s:s, s:i, s:s, s:s}", "id", e->id, "code", (int) e->code,
                  "detail", e->detail, "status", e->status);
    s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (s == NULL) {
        return -2;
    }
    rc = micro_buf_append(out, s, strlen(s));
    free(s);
    return rc;
}


static void
micro_copy_json_string(char *dst, size_t size, json_t *v)
{
    snprintf(dst, size, "%s", json_is_string(v) ? json_string_value(v) : "");
}


void
micro_rpc_error_parse(micro_rpc_error_t *e, const char *s, size_t len)
{
    json_t  *o, *code;

    memset(e, 0, sizeof(*e));
    o = json_loadb(s, len, 0, NULL);
    code = json_object_get(o, "code");
    if (!json_is_object(o) || (code && !json_is_integer(code))) {
        snprintf(e->detail, sizeof(e->detail), "%.*s",
                 (int) (len < sizeof(e->detail) ? len : sizeof(e->detail) - 1),
                 s);
        json_decref(o);
        return;
    }
    micro_copy_json_string(e->id, sizeof(e->id), json_object_get(o, "id"));
    micro_copy_json_string(e->detail, sizeof(e->detail),
                           json_object_get(o, "detail"));
    micro_copy_json_string(e->status, sizeof(e->status),
                           json_object_get(o, "status"));
    e->code = code ? (int32_t) json_integer_value(code) : 0;
    json_decref(o);
}
