/*
 * Query strings and urlencoded forms: one reader of their pairs, for the
 * rpc handler's JSON (go-micro's qson) and the api handler's go.api maps.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include "ngx_micro_api.h"


/* A part of a pair unescaped as Go's url.QueryUnescape does ('+' is a
 * space, %2B a plus), NUL-terminated, from the pool. */
static ngx_int_t
ngx_micro_api_query_unescape(ngx_pool_t *pool, u_char *start, u_char *end,
    ngx_str_t *out)
{
    u_char  *p, *src, *dst;

    out->data = ngx_pnalloc(pool, end - start + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }
    for (p = out->data; start < end; start++) {
        *p++ = (*start == '+') ? ' ' : *start;
    }
    src = out->data;
    dst = out->data;
    ngx_unescape_uri(&dst, &src, p - out->data, 0);
    *dst = '\0';
    out->len = dst - out->data;
    return NGX_OK;
}


/*
 * The next key=value of the query from *pos on (a pair without "=" has an
 * empty value, empty pairs are skipped): NGX_OK, NGX_DONE at the end, or
 * NGX_ERROR without memory.
 */
ngx_int_t
ngx_micro_api_query_next(ngx_pool_t *pool, u_char **pos, u_char *end,
    ngx_str_t *key, ngx_str_t *value)
{
    u_char  *p, *amp, *eq;

    for (p = *pos; p < end && *p == '&'; p++) { /* void */ }
    if (p >= end) {
        *pos = end;
        return NGX_DONE;
    }
    amp = ngx_strlchr(p, end, '&');
    if (amp == NULL) {
        amp = end;
    }
    eq = ngx_strlchr(p, amp, '=');
    *pos = amp;
    if (ngx_micro_api_query_unescape(pool, p, eq ? eq : amp, key) != NGX_OK
        || ngx_micro_api_query_unescape(pool, eq ? eq + 1 : amp, amp, value)
           != NGX_OK)
    {
        return NGX_ERROR;
    }
    return NGX_OK;
}


/* value under key in node: a[b][c] walks down, a[] appends to an array. */
static void
ngx_micro_api_qson_set(json_t *root, char *key, json_t *value)
{
    char    *seg, *next, *close;
    json_t  *node, *child;

    node = root;
    seg = key;
    next = strchr(seg, '[');
    if (next) {
        *next++ = '\0';
    }
    while (next) {
        close = strchr(next, ']');
        if (close == NULL) {
            break;
        }
        *close = '\0';
        child = json_object_get(node, seg);
        if (*next == '\0') {
            if (!json_is_array(child)) {
                child = json_array();
                json_object_set_new(node, seg, child);
            }
            json_array_append_new(child, value);
            return;
        }
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(node, seg, child);
        }
        node = child;
        seg = next;
        next = close[1] == '[' ? close + 2 : NULL;
    }
    json_object_set_new(node, seg, value);
}


/*
 * A query string (a GET's, or a form body) as JSON, go-micro's way (qson):
 * a[b]=1 nests, a[]=x appends, each value is read as JSON first (id=123
 * is a number), else it is a string.
 */
ngx_int_t
ngx_micro_api_query_json(ngx_http_request_t *r, ngx_str_t *in,
    ngx_str_t *out)
{
    char       *dump;
    u_char     *p;
    json_t     *root, *value;
    ngx_int_t   rc;
    ngx_str_t   key, val;

    root = json_object();
    if (root == NULL) {
        return NGX_ERROR;
    }
    p = in->data;
    while ((rc = ngx_micro_api_query_next(r->pool, &p, in->data + in->len,
                                          &key, &val))
           == NGX_OK)
    {
        if (key.len == 0) {
            continue;
        }
        value = json_loadb((char *) val.data, val.len, JSON_DECODE_ANY, NULL);
        if (value == NULL) {
            value = json_stringn((char *) val.data, val.len);
        }
        ngx_micro_api_qson_set(root, (char *) key.data, value);
    }
    if (rc == NGX_ERROR) {
        json_decref(root);
        return NGX_ERROR;
    }

    dump = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (dump == NULL) {
        return NGX_ERROR;
    }
    out->len = ngx_strlen(dump);
    out->data = ngx_pnalloc(r->pool, out->len);
    if (out->data == NULL) {
        free(dump);
        return NGX_ERROR;
    }
    ngx_memcpy(out->data, dump, out->len);
    free(dump);
    return NGX_OK;
}
