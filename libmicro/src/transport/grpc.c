/* gRPC's wire conventions (micro/grpc.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "micro/error.h"
#include "micro/grpc.h"

/* gRPC status -> go-micro code; the reverse below picks one for each. */
static const int  micro_grpc_codes[17] = {
    200, 499, 500, 400, 408, 404, 409, 403, 429, 412, 409, 400, 501, 500,
    503, 500, 401
};

static const char *const  micro_grpc_names[17] = {
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"
};


int
micro_grpc_code_from_status(int status)
{
    return status >= 0 && status <= 16 ? micro_grpc_codes[status] : 500;
}


const char *
micro_grpc_status_name(int status)
{
    return status >= 0 && status <= 16 ? micro_grpc_names[status] : "UNKNOWN";
}


int
micro_grpc_status_from_http(int http)
{
    switch (http) {
    case 400: return MICRO_GRPC_INTERNAL;
    case 401: return MICRO_GRPC_UNAUTHENTICATED;
    case 403: return MICRO_GRPC_PERMISSION_DENIED;
    case 404: return MICRO_GRPC_UNIMPLEMENTED;
    case 429: case 502: case 503: case 504: return MICRO_GRPC_UNAVAILABLE;
    }
    return MICRO_GRPC_UNKNOWN;
}


/* As go-micro's grpc server maps its errors, and a few codes more. */
int
micro_grpc_status_from_code(int code)
{
    switch (code) {
    case 200: return MICRO_GRPC_OK;
    case 400: return MICRO_GRPC_INVALID_ARGUMENT;
    case 401: return MICRO_GRPC_UNAUTHENTICATED;
    case 403: return MICRO_GRPC_PERMISSION_DENIED;
    case 404: return MICRO_GRPC_NOT_FOUND;
    case 408: return MICRO_GRPC_DEADLINE_EXCEEDED;
    case 409: return MICRO_GRPC_ALREADY_EXISTS;
    case 412: return MICRO_GRPC_FAILED_PRECONDITION;
    case 413: return MICRO_GRPC_RESOURCE_EXHAUSTED;
    case 429: return MICRO_GRPC_RESOURCE_EXHAUSTED;
    case 499: return MICRO_GRPC_CANCELLED;
    case 500: return MICRO_GRPC_INTERNAL;
    case 501: return MICRO_GRPC_UNIMPLEMENTED;
    case 503: return MICRO_GRPC_UNAVAILABLE;
    case 504: return MICRO_GRPC_DEADLINE_EXCEEDED;
    }
    return MICRO_GRPC_UNKNOWN;
}


int64_t
micro_grpc_timeout_parse(const char *s, size_t len)
{
    size_t   i;
    int64_t  v = 0;

    /* TimeoutValue is at most 8 digits, then the unit */
    if (len < 2 || len > 9) {
        return -1;
    }
    for (i = 0; i < len - 1; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    switch (s[len - 1]) {
    case 'H': return v * 3600000;
    case 'M': return v * 60000;
    case 'S': return v * 1000;
    case 'm': return v;
    case 'u': return (v + 999) / 1000;
    case 'n': return (v + 999999) / 1000000;
    }
    return -1;
}


void
micro_grpc_timeout_format(int64_t ms, char *buf, size_t size)
{
    if (ms < 0) {
        ms = 0;
    }
    if (ms < 100000000) {
        snprintf(buf, size, "%lldm", (long long) ms);
    } else {
        snprintf(buf, size, "%lldS", (long long) (ms + 999) / 1000);
    }
}


int
micro_grpc_message_encode(const char *s, micro_buf_t *out)
{
    char                  esc[3];
    static const char     hex[] = "0123456789ABCDEF";
    const unsigned char  *p;

    for (p = (const unsigned char *) s; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            if (micro_buf_append(out, p, 1) != MICRO_OK) {
                return MICRO_ENOMEM;
            }
            continue;
        }
        esc[0] = '%';
        esc[1] = hex[*p >> 4];
        esc[2] = hex[*p & 15];
        if (micro_buf_append(out, esc, 3) != MICRO_OK) {
            return MICRO_ENOMEM;
        }
    }
    return MICRO_OK;
}


static int
micro_hex(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}


int
micro_grpc_message_decode(const char *s, size_t len, micro_buf_t *out)
{
    int            hi, lo;
    size_t         i;
    unsigned char  c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if (c == '%' && i + 2 < len
            && (hi = micro_hex(s[i + 1])) >= 0
            && (lo = micro_hex(s[i + 2])) >= 0)
        {
            c = (unsigned char) (hi << 4 | lo);
            i += 2;
        }
        if (micro_buf_append(out, &c, 1) != MICRO_OK) {
            return MICRO_ENOMEM;
        }
    }
    return MICRO_OK;
}


void
micro_grpc_prefix(uint8_t *p, size_t len)
{
    p[0] = 0;
    p[1] = (uint8_t) (len >> 24);
    p[2] = (uint8_t) (len >> 16);
    p[3] = (uint8_t) (len >> 8);
    p[4] = (uint8_t) len;
}


int
micro_grpc_read(micro_grpc_reader_t *rd, size_t max, const uint8_t **msg,
    size_t *len)
{
    size_t          n, avail;
    const uint8_t  *p;

    /* drop what the last call handed out */
    if (rd->pos) {
        memmove(rd->in.data, rd->in.data + rd->pos, rd->in.len - rd->pos);
        rd->in.len -= rd->pos;
        rd->pos = 0;
    }
    avail = rd->in.len;
    if (avail < MICRO_GRPC_HEADER_LEN) {
        return 0;
    }
    p = rd->in.data;
    if (p[0] != 0) {
        return -1;
    }
    n = (size_t) p[1] << 24 | (size_t) p[2] << 16 | (size_t) p[3] << 8 | p[4];
    if (n > max) {
        return -2;
    }
    if (avail - MICRO_GRPC_HEADER_LEN < n) {
        return 0;
    }
    *msg = p + MICRO_GRPC_HEADER_LEN;
    *len = n;
    rd->pos = MICRO_GRPC_HEADER_LEN + n;
    return 1;
}


void
micro_grpc_reader_free(micro_grpc_reader_t *rd)
{
    micro_buf_free(&rd->in);
    rd->pos = 0;
}


int
micro_grpc_reserved_header(const char *name, size_t len)
{
    static const char *const  reserved[] = {
        "content-type", "te", "user-agent", "grpc-timeout", "grpc-encoding",
        "grpc-accept-encoding", "grpc-status", "grpc-message",
        "content-length", "connection", "host", "transfer-encoding",
        "keep-alive", "upgrade", "proxy-connection", NULL
    };
    size_t  i;

    if (len == 0 || name[0] == ':') {
        return 1;
    }
    for (i = 0; reserved[i]; i++) {
        if (strlen(reserved[i]) == len
            && strncasecmp(reserved[i], name, len) == 0)
        {
            return 1;
        }
    }
    return 0;
}


/*
 * go-micro's naming to gRPC's: "Say.Hello" of go.micro.srv.greeter is
 * /go.micro.srv.greeter.Say/Hello (go-micro's own rule); "pkg.Say.Hello"
 * is /pkg.Say/Hello; "/pkg.Say/Hello" stays as it is.
 */
int
micro_grpc_path(const char *service, const char *endpoint, char *buf,
    size_t size)
{
    int          n;
    const char  *dot, *first;

    if (endpoint[0] == '/') {
        n = snprintf(buf, size, "%s", endpoint);
    } else if ((dot = strrchr(endpoint, '.')) == NULL || dot[1] == '\0') {
        return micro_error_set(MICRO_EINVAL, "endpoint \"%s\" is not "
                               "Service.Method", endpoint);
    } else if ((first = strchr(endpoint, '.')) != dot || service == NULL) {
        n = snprintf(buf, size, "/%.*s/%s", (int) (dot - endpoint), endpoint,
                     dot + 1);
    } else {
        n = snprintf(buf, size, "/%s.%.*s/%s", service,
                     (int) (dot - endpoint), endpoint, dot + 1);
    }
    if (n < 0 || (size_t) n >= size) {
        return micro_error_set(MICRO_EINVAL, "endpoint name too long");
    }
    return MICRO_OK;
}
