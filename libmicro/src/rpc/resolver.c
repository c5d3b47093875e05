/* go-micro's "micro" resolver: paths to service names and endpoints. */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "micro/error.h"
#include "micro/resolver.h"
#include "micro/service.h"

#define MICRO_RESOLVE_SEGMENTS  16

typedef struct {
    const char  *data;
    size_t       len;
} micro_segment_t;


/* [a-zA-Z0-9]+(-[a-zA-Z0-9]+)* */
static int
micro_segment_valid(const micro_segment_t *s)
{
    size_t  i;

    if (s->len == 0 || s->data[0] == '-' || s->data[s->len - 1] == '-') {
        return 0;
    }
    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '-') {
            if (s->data[i - 1] == '-') {
                return 0;
            }
        } else if (!isalnum((unsigned char) s->data[i])) {
            return 0;
        }
    }
    return 1;
}


/*
 * Splits a path into its first max non-empty segments, with path.Clean's
 * handling of "." and "..", and stops at '?'. Returns the count, or -1 when
 * the path has more than max segments.
 */
static int
micro_path_split(const char *path, size_t len, micro_segment_t *seg, int max)
{
    int          n = 0;
    const char  *p, *end, *start;

    end = memchr(path, '?', len);
    end = end ? end : path + len;

    for (p = path; p < end; ) {
        while (p < end && *p == '/') {
            p++;
        }
        start = p;
        while (p < end && *p != '/') {
            p++;
        }
        if (p == start || (p - start == 1 && *start == '.')) {
            continue;
        }
        if (p - start == 2 && start[0] == '.' && start[1] == '.') {
            if (n > 0) {
                n--;
            }
            continue;
        }
        if (n == max) {
            return -1;
        }
        seg[n].data = start;
        seg[n].len = p - start;
        n++;
    }
    return n;
}


/* Appends a segment in camel case: "baz-xyz" -> "BazXyz". */
static size_t
micro_camel(char *out, const micro_segment_t *s)
{
    size_t  i, n = 0;
    int     up = 1;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] == '-') {
            up = 1;
            continue;
        }
        out[n++] = up ? toupper((unsigned char) s->data[i]) : s->data[i];
        up = 0;
    }
    return n;
}


static int
micro_is_version(const micro_segment_t *s)
{
    size_t  i;

    if (s->len < 2 || s->data[0] != 'v') {
        return 0;
    }
    for (i = 1; i < s->len; i++) {
        if (!isdigit((unsigned char) s->data[i])) {
            return 0;
        }
    }
    return 1;
}


/* Joins seg[0..n) with dots into buf; returns the length or -1. */
static int
micro_join_name(const micro_segment_t *seg, int n, char *buf, size_t size)
{
    int     i;
    size_t  len = 0;

    for (i = 0; i < n; i++) {
        if (len + seg[i].len + 2 > size) {
            return -1;
        }
        if (i) {
            buf[len++] = '.';
        }
        memcpy(buf + len, seg[i].data, seg[i].len);
        len += seg[i].len;
    }
    buf[len] = '\0';
    return (int) len;
}


int
micro_namespace_join(const char *ns, const char *name, size_t name_len,
    char *out, size_t size)
{
    size_t  i, nslen, total;

    nslen = ns ? strlen(ns) : 0;
    total = nslen + name_len + 1;
    if (total + 1 > size) {
        return micro_error_set(MICRO_EINVAL, "service name too long");
    }
    memcpy(out, ns, nslen);
    if (nslen && ns[nslen - 1] != '.' && ns[nslen - 1] != '-') {
        out[nslen++] = '.';
    }
    memcpy(out + nslen, name, name_len);
    out[nslen + name_len] = '\0';

    if (nslen && ns[strlen(ns) - 1] == '-') {
        for (i = 0; out[i]; i++) {
            if (out[i] == '.') {
                out[i] = '-';
            }
        }
    }
    return MICRO_OK;
}


int
micro_resolve_api(const char *path, size_t len, const char *ns,
    char *service, size_t service_size, char *endpoint, size_t endpoint_size)
{
    int              i, n, nname, m1, m2;
    char             name[MICRO_RESOLVE_SEGMENTS * 256];
    size_t           elen;
    micro_segment_t  seg[MICRO_RESOLVE_SEGMENTS], call = { "call", 4 };

    n = micro_path_split(path, len, seg, MICRO_RESOLVE_SEGMENTS);
    for (i = 0; i < n; i++) {
        if (!micro_segment_valid(&seg[i])) {
            n = -1;
        }
    }
    if (n <= 0) {
        return micro_error_set(MICRO_ENOTFOUND, "path names no service");
    }

    if (n == 1) {
        nname = 1; m1 = 0; m2 = -1;                 /* Foo.Call */
    } else if (n == 2) {
        nname = 1; m1 = 0; m2 = 1;                  /* Foo.Bar */
    } else if (n == 3 && micro_is_version(&seg[0])) {
        nname = 2; m1 = 1; m2 = 2;                  /* v1.foo Foo.Bar */
    } else {
        nname = n - 2; m1 = n - 2; m2 = n - 1;
    }

    if (seg[m1].len + (m2 >= 0 ? seg[m2].len : call.len) + 2 > endpoint_size
        || micro_join_name(seg, nname, name, sizeof(name)) < 0)
    {
        return micro_error_set(MICRO_ENOTFOUND, "path too long");
    }
    elen = micro_camel(endpoint, &seg[m1]);
    endpoint[elen++] = '.';
    elen += micro_camel(endpoint + elen, m2 >= 0 ? &seg[m2] : &call);
    endpoint[elen] = '\0';

    return micro_namespace_join(ns, name, strlen(name), service, service_size)
           == MICRO_OK ? MICRO_OK : MICRO_ENOTFOUND;
}


int
micro_resolve_proxy(const char *path, size_t len, const char *ns,
    char *service, size_t service_size)
{
    int              i, n, nname;
    char             name[2 * 256];
    micro_segment_t  seg[MICRO_RESOLVE_SEGMENTS];

    /* Only the leading segments name the service; the rest may be anything */
    n = micro_path_split(path, len, seg, MICRO_RESOLVE_SEGMENTS);
    if (n < 0) {
        n = MICRO_RESOLVE_SEGMENTS;
    }
    nname = (n >= 2 && micro_is_version(&seg[0])) ? 2 : 1;
    for (i = 0; i < nname && i < n; i++) {
        if (!micro_segment_valid(&seg[i])) {
            n = 0;
        }
    }
    if (n < nname || micro_join_name(seg, nname, name, sizeof(name)) < 0) {
        return micro_error_set(MICRO_ENOTFOUND, "path names no service");
    }
    return micro_namespace_join(ns, name, strlen(name), service, service_size)
           == MICRO_OK ? MICRO_OK : MICRO_ENOTFOUND;
}


int
micro_resolve_web(const char *path, size_t len, const char *ns,
    char *service, size_t service_size, const char **rest, size_t *rest_len)
{
    const char       *p, *end;
    micro_segment_t   seg;

    end = memchr(path, '?', len);
    end = end ? end : path + len;
    for (p = path; p < end && *p == '/'; p++) { /* void */ }
    seg.data = p;
    while (p < end && *p != '/') {
        p++;
    }
    seg.len = p - seg.data;
    if (!micro_segment_valid(&seg)) {
        return micro_error_set(MICRO_ENOTFOUND, "path names no service");
    }
    *rest = p < end ? p : "/";
    *rest_len = p < end ? (size_t) (end - p) : 1;
    return micro_namespace_join(ns, seg.data, seg.len, service, service_size)
           == MICRO_OK ? MICRO_OK : MICRO_ENOTFOUND;
}


int
micro_namespace_valid(const char *ns, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (ns[i] == '\0'
            || (!isalnum((unsigned char) ns[i]) && !strchr("._-", ns[i])))
        {
            return 0;
        }
    }
    return len <= MICRO_NAME_MAX;
}


/* The endpoint from the last one or two segments: B.C, or A.Call. */
static int
micro_endpoint_of(const micro_segment_t *a, const micro_segment_t *b,
    char *endpoint, size_t size)
{
    size_t           n;
    micro_segment_t  call = { "call", 4 };

    if (b == NULL) {
        b = &call;
    }
    if (a->len + b->len + 2 > size) {
        return micro_error_set(MICRO_ENOTFOUND, "path too long");
    }
    n = micro_camel(endpoint, a);
    endpoint[n++] = '.';
    n += micro_camel(endpoint + n, b);
    endpoint[n] = '\0';
    return MICRO_OK;
}


/* Splits and validates every segment; the count, or -1. */
static int
micro_path_segments(const char *path, size_t len, micro_segment_t *seg)
{
    int  i, n;

    n = micro_path_split(path, len, seg, MICRO_RESOLVE_SEGMENTS);
    for (i = 0; i < n; i++) {
        if (!micro_segment_valid(&seg[i])) {
            return -1;
        }
    }
    return n;
}


int
micro_resolve_path(const char *path, size_t len, const char *ns,
    char *service, size_t service_size, char *endpoint, size_t endpoint_size)
{
    int              n;
    micro_segment_t  seg[MICRO_RESOLVE_SEGMENTS];

    n = micro_path_segments(path, len, seg);
    if (n <= 0) {
        return micro_error_set(MICRO_ENOTFOUND, "path names no service");
    }
    if (micro_endpoint_of(n >= 3 ? &seg[n - 2] : &seg[0],
                          n >= 3 ? &seg[n - 1] : n == 2 ? &seg[1] : NULL,
                          endpoint, endpoint_size) != MICRO_OK)
    {
        return MICRO_ENOTFOUND;
    }
    return micro_namespace_join(ns, seg[0].data, seg[0].len, service,
                                service_size) == MICRO_OK
           ? MICRO_OK : MICRO_ENOTFOUND;
}


int
micro_resolve_host(const char *host, size_t host_len, const char *path,
    size_t len, const char *ns, char *service, size_t service_size,
    char *endpoint, size_t endpoint_size)
{
    int              n;
    size_t           i;
    const char      *colon;
    micro_segment_t  seg[MICRO_RESOLVE_SEGMENTS];

    colon = memchr(host, ':', host_len);
    if (colon) {
        host_len = colon - host;
    }
    for (i = 0; i < host_len; i++) {
        if (!isalnum((unsigned char) host[i]) && host[i] != '.'
            && host[i] != '-')
        {
            host_len = 0;
        }
    }
    n = micro_path_segments(path, len, seg);
    if (host_len == 0 || n <= 0) {
        return micro_error_set(MICRO_ENOTFOUND, "request names no service");
    }
    if (micro_endpoint_of(n >= 2 ? &seg[n - 2] : &seg[0],
                          n >= 2 ? &seg[n - 1] : NULL, endpoint,
                          endpoint_size) != MICRO_OK)
    {
        return MICRO_ENOTFOUND;
    }
    return micro_namespace_join(ns, host, host_len, service, service_size)
           == MICRO_OK ? MICRO_OK : MICRO_ENOTFOUND;
}
