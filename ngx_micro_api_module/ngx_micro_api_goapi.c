/*
 * go-micro's "api" handler: the whole HTTP request goes to the service as a
 * go.api.Request and the service's go.api.Response is the reply. Both are
 * small fixed messages, so they are written and read here at the wire
 * level: one buffer each way, bodies of any bytes, nothing copied twice.
 *
 * The request follows go-micro's requestToProto (api/handler/api/util.go):
 * header names in Go's canonical form, X-Forwarded-For with the client's
 * address appended, the query decoded into "get", a form body into "post"
 * and any other body into "body" as it came.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/pb_wire.h>

#include "ngx_micro_api.h"

#include "ngx_micro_api_goapi.h"


typedef struct {
    ngx_str_t                 key;
    ngx_array_t               values;       /* ngx_str_t */
} ngx_micro_api_pair_t;


typedef struct {
    uint64_t                  number;
    ngx_uint_t                wire;
    uint64_t                  value;        /* a varint field's */
    ngx_str_t                 bytes;        /* a length-delimited field's */
} ngx_micro_api_field_t;


/* Reply headers NGINX sets itself, as proxy_pass leaves them out too. */
static ngx_str_t  ngx_micro_api_goapi_own[] = {
    ngx_string("Content-Length"),
    ngx_string("Transfer-Encoding"),
    ngx_string("Connection"),
    ngx_string("Keep-Alive"),
    ngx_string("Upgrade"),
    ngx_string("Date"),
    ngx_string("Server"),
    ngx_null_string
};


static ngx_int_t
ngx_micro_api_pair_add(ngx_array_t *map, ngx_str_t *key, ngx_str_t *value)
{
    ngx_str_t             *v;
    ngx_uint_t             i;
    ngx_micro_api_pair_t  *pair = map->elts;

    for (i = 0; i < map->nelts; i++) {
        if (pair[i].key.len == key->len
            && ngx_strncmp(pair[i].key.data, key->data, key->len) == 0)
        {
            break;
        }
    }
    if (i == map->nelts) {
        pair = ngx_array_push(map);
        if (pair == NULL
            || ngx_array_init(&pair->values, map->pool, 1, sizeof(ngx_str_t))
               != NGX_OK)
        {
            return NGX_ERROR;
        }
        pair->key = *key;
    } else {
        pair = &pair[i];
    }
    v = ngx_array_push(&pair->values);
    if (v == NULL) {
        return NGX_ERROR;
    }
    *v = *value;
    return NGX_OK;
}


static ngx_uint_t
ngx_micro_api_token_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != '\0' && ngx_strchr("!#$%&'*+-.^_`|~", c) != NULL);
}


/* Go's CanonicalMIMEHeaderKey: content-type -> Content-Type. */
static ngx_int_t
ngx_micro_api_canonical(ngx_pool_t *pool, ngx_str_t *name, ngx_str_t *out)
{
    u_char      c, *p;
    ngx_uint_t  i, upper;

    *out = *name;
    for (i = 0; i < name->len; i++) {
        if (!ngx_micro_api_token_char(name->data[i])) {
            return NGX_OK;                     /* Go leaves it as it is */
        }
    }
    p = ngx_pnalloc(pool, name->len);
    if (p == NULL) {
        return NGX_ERROR;
    }
    for (i = 0, upper = 1; i < name->len; i++) {
        c = name->data[i];
        p[i] = upper ? ngx_toupper(c) : ngx_tolower(c);
        upper = (c == '-');
    }
    out->data = p;
    return NGX_OK;
}


/* a=1&b=2&a=3 into the map, values of one key together. */
static ngx_int_t
ngx_micro_api_query_pairs(ngx_pool_t *pool, ngx_str_t *query,
    ngx_array_t *map)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   key, value;

    p = query->data;
    while ((rc = ngx_micro_api_query_next(pool, &p, query->data + query->len,
                                          &key, &value))
           == NGX_OK)
    {
        if (ngx_micro_api_pair_add(map, &key, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }
    return rc == NGX_DONE ? NGX_OK : NGX_ERROR;
}


typedef struct {
    ngx_http_request_t  *request;
    ngx_array_t         *map;
    ngx_str_t            xff;          /* "prior, prior, " so far */
} ngx_micro_api_headers_t;


static ngx_int_t
ngx_micro_api_header_pair(ngx_table_elt_t *h, void *data)
{
    ngx_micro_api_headers_t  *hs = data;

    u_char     *p;
    ngx_str_t   name;

    if (ngx_micro_api_canonical(hs->request->pool, &h->key, &name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }
    if (name.len != sizeof("X-Forwarded-For") - 1
        || ngx_strncmp(name.data, "X-Forwarded-For", name.len) != 0)
    {
        return ngx_micro_api_pair_add(hs->map, &name, &h->value);
    }
    p = ngx_pnalloc(hs->request->pool, hs->xff.len + h->value.len + 2);
    if (p == NULL) {
        return NGX_ERROR;
    }
    hs->xff.data = ngx_cpymem(p, hs->xff.data, hs->xff.len);
    hs->xff.data = ngx_cpymem(hs->xff.data, h->value.data, h->value.len);
    *hs->xff.data++ = ',';
    *hs->xff.data++ = ' ';
    hs->xff.len = hs->xff.data - p;
    hs->xff.data = p;
    return NGX_OK;
}


/* The request's headers; X-Forwarded-For gets the client appended. */
static ngx_int_t
ngx_micro_api_header_pairs(ngx_http_request_t *r, ngx_array_t *map)
{
    u_char                   *p;
    ngx_str_t                 xff, value;
    ngx_micro_api_headers_t   hs = { r, map, ngx_null_string };

    if (ngx_micro_headers_each(r, ngx_micro_api_header_pair, &hs) != NGX_OK) {
        return NGX_ERROR;
    }

    /* "prior, prior, client", one value, as $proxy_add_x_forwarded_for */
    p = ngx_pnalloc(r->pool, hs.xff.len + r->connection->addr_text.len);
    if (p == NULL) {
        return NGX_ERROR;
    }
    value.data = p;
    p = ngx_cpymem(p, hs.xff.data, hs.xff.len);
    p = ngx_cpymem(p, r->connection->addr_text.data,
                   r->connection->addr_text.len);
    value.len = p - value.data;
    ngx_str_set(&xff, "X-Forwarded-For");
    return ngx_micro_api_pair_add(map, &xff, &value);
}


/* --- the wire ------------------------------------------------------------ */

/* A length-delimited field (numbers below 16: one byte of tag). */
static size_t
ngx_micro_api_field_size(size_t len)
{
    return 1 + micro_varint_size(len) + len;
}


static u_char *
ngx_micro_api_put_field(u_char *p, ngx_uint_t number, u_char *data,
    size_t len)
{
    *p++ = (u_char) ((number << 3) | MICRO_WIRE_LEN);
    p += micro_varint_put(p, len);
    return ngx_cpymem(p, data, len);
}


static size_t
ngx_micro_api_pair_size(ngx_micro_api_pair_t *pair)
{
    size_t       n;
    ngx_str_t   *v = pair->values.elts;
    ngx_uint_t   i;

    n = pair->key.len ? ngx_micro_api_field_size(pair->key.len) : 0;
    for (i = 0; i < pair->values.nelts; i++) {
        n += ngx_micro_api_field_size(v[i].len);
    }
    return n;
}


/* map<string, Pair>: an entry {1: key, 2: Pair {1: key, 2: values}} each. */
static size_t
ngx_micro_api_map_size(ngx_array_t *map)
{
    size_t                 n;
    ngx_uint_t             i;
    ngx_micro_api_pair_t  *pair = map->elts;

    for (i = 0, n = 0; i < map->nelts; i++) {
        n += ngx_micro_api_field_size(
                 ngx_micro_api_field_size(pair[i].key.len)
                 + ngx_micro_api_field_size(ngx_micro_api_pair_size(&pair[i])));
    }
    return n;
}


static u_char *
ngx_micro_api_put_map(u_char *p, ngx_uint_t number, ngx_array_t *map)
{
    size_t                 size;
    ngx_str_t             *v;
    ngx_uint_t             i, j;
    ngx_micro_api_pair_t  *pair = map->elts;

    for (i = 0; i < map->nelts; i++) {
        size = ngx_micro_api_pair_size(&pair[i]);
        *p++ = (u_char) ((number << 3) | MICRO_WIRE_LEN);
        p += micro_varint_put(p, ngx_micro_api_field_size(pair[i].key.len)
                                 + ngx_micro_api_field_size(size));
        p = ngx_micro_api_put_field(p, 1, pair[i].key.data, pair[i].key.len);
        *p++ = (u_char) ((2 << 3) | MICRO_WIRE_LEN);
        p += micro_varint_put(p, size);
        if (pair[i].key.len) {
            p = ngx_micro_api_put_field(p, 1, pair[i].key.data,
                                        pair[i].key.len);
        }
        v = pair[i].values.elts;
        for (j = 0; j < pair[i].values.nelts; j++) {
            p = ngx_micro_api_put_field(p, 2, v[j].data, v[j].len);
        }
    }
    return p;
}


/* A string field, left out when empty (proto3). */
static size_t
ngx_micro_api_string_size(ngx_str_t *s)
{
    return s->len ? ngx_micro_api_field_size(s->len) : 0;
}


static u_char *
ngx_micro_api_put_string(u_char *p, ngx_uint_t number, ngx_str_t *s)
{
    return s->len ? ngx_micro_api_put_field(p, number, s->data, s->len) : p;
}


ngx_int_t
ngx_micro_api_goapi_request(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *out)
{
    u_char       *p;
    size_t        size;
    ngx_str_t     form, none = ngx_null_string;
    ngx_array_t   header, get, post;

    if (ngx_array_init(&header, r->pool, 16, sizeof(ngx_micro_api_pair_t))
        != NGX_OK
        || ngx_array_init(&get, r->pool, 4, sizeof(ngx_micro_api_pair_t))
           != NGX_OK
        || ngx_array_init(&post, r->pool, 4, sizeof(ngx_micro_api_pair_t))
           != NGX_OK
        || ngx_micro_api_header_pairs(r, &header) != NGX_OK
        || ngx_micro_api_query_pairs(r->pool, &r->args, &get) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* a form's fields go to "post" and its body no further (go-micro) */
    ngx_str_set(&form, "application/x-www-form-urlencoded");
    if (r->headers_in.content_type
        && r->headers_in.content_type->value.len >= form.len
        && ngx_strncasecmp(r->headers_in.content_type->value.data, form.data,
                           form.len) == 0)
    {
        if (ngx_micro_api_query_pairs(r->pool, body, &post) != NGX_OK) {
            return NGX_ERROR;
        }
        body = &none;
    }

    size = ngx_micro_api_string_size(&r->method_name)
           + ngx_micro_api_string_size(&r->uri)
           + ngx_micro_api_map_size(&header)
           + ngx_micro_api_map_size(&get)
           + ngx_micro_api_map_size(&post)
           + ngx_micro_api_string_size(body)
           + ngx_micro_api_string_size(&r->unparsed_uri);

    p = ngx_pnalloc(r->pool, size ? size : 1);
    if (p == NULL) {
        return NGX_ERROR;
    }
    out->data = p;
    p = ngx_micro_api_put_string(p, 1, &r->method_name);
    p = ngx_micro_api_put_string(p, 2, &r->uri);
    p = ngx_micro_api_put_map(p, 3, &header);
    p = ngx_micro_api_put_map(p, 4, &get);
    p = ngx_micro_api_put_map(p, 5, &post);
    p = ngx_micro_api_put_string(p, 6, body);
    p = ngx_micro_api_put_string(p, 7, &r->unparsed_uri);
    out->len = p - out->data;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro api: go.api.Request of %uz bytes, %ui headers, "
                   "%ui get, %ui post", out->len, header.nelts, get.nelts,
                   post.nelts);
    return NGX_OK;
}


ngx_int_t
ngx_micro_api_goapi_event(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *id, time_t timestamp, ngx_str_t *data, ngx_str_t *out)
{
    u_char       *p;
    size_t        size;
    ngx_array_t   header;

    if (ngx_array_init(&header, r->pool, 16, sizeof(ngx_micro_api_pair_t))
        != NGX_OK
        || ngx_micro_api_header_pairs(r, &header) != NGX_OK)
    {
        return NGX_ERROR;
    }
    size = ngx_micro_api_string_size(name) + ngx_micro_api_string_size(id)
           + 1 + micro_varint_size((uint64_t) timestamp)
           + ngx_micro_api_map_size(&header)
           + ngx_micro_api_string_size(data);
    p = ngx_pnalloc(r->pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }
    out->data = p;
    p = ngx_micro_api_put_string(p, 1, name);
    p = ngx_micro_api_put_string(p, 2, id);
    *p++ = (u_char) ((3 << 3) | MICRO_WIRE_VARINT);
    p += micro_varint_put(p, (uint64_t) timestamp);
    p = ngx_micro_api_put_map(p, 4, &header);
    p = ngx_micro_api_put_string(p, 5, data);
    out->len = p - out->data;
    return NGX_OK;
}


/* --- the reply ----------------------------------------------------------- */

/* The next field at *pp; NGX_DONE at end, NGX_ERROR when malformed. */
static ngx_int_t
ngx_micro_api_next_field(u_char **pp, u_char *end, ngx_micro_api_field_t *f)
{
    uint64_t        tag, len;
    const uint8_t  *p = *pp;

    if (p == end) {
        return NGX_DONE;
    }
    if (micro_varint_get(&p, end, &tag) != 0) {
        return NGX_ERROR;
    }
    f->number = tag >> 3;
    f->wire = tag & 7;

    switch (f->wire) {
    case MICRO_WIRE_VARINT:
        if (micro_varint_get(&p, end, &f->value) != 0) {
            return NGX_ERROR;
        }
        break;
    case MICRO_WIRE_I64:
    case MICRO_WIRE_I32:
        len = (f->wire == MICRO_WIRE_I64) ? 8 : 4;
        if ((uint64_t) (end - p) < len) {
            return NGX_ERROR;
        }
        p += len;
        break;
    case MICRO_WIRE_LEN:
        if (micro_varint_get(&p, end, &len) != 0
            || len > (uint64_t) (end - p))
        {
            return NGX_ERROR;
        }
        f->bytes.data = (u_char *) p;
        f->bytes.len = len;
        p += len;
        break;
    default:
        return NGX_ERROR;
    }
    *pp = (u_char *) p;
    return NGX_OK;
}


static ngx_uint_t
ngx_micro_api_own_header(ngx_str_t *name)
{
    ngx_str_t  *own;

    for (own = ngx_micro_api_goapi_own; own->len; own++) {
        if (own->len == name->len
            && ngx_strncasecmp(own->data, name->data, name->len) == 0)
        {
            return 1;
        }
    }
    return 0;
}


/* One header line of the reply, made safe as Go's server makes it. */
static ngx_int_t
ngx_micro_api_reply_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char           *p;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    for (i = 0; i < name->len; i++) {
        if (!ngx_micro_api_token_char(name->data[i])) {
            break;
        }
    }
    if (name->len == 0 || i < name->len) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "micro api: reply header \"%V\" is not a valid name, "
                      "left out", name);
        return NGX_OK;
    }
    if (ngx_micro_api_own_header(name)) {
        return NGX_OK;
    }
    if (name->len == 12
        && ngx_strncasecmp(name->data, (u_char *) "Content-Type", 12) == 0)
    {
        if (r->headers_out.content_type.len == 0) {
            r->headers_out.content_type = *value;
            r->headers_out.content_type_len = value->len;
        }
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    h->key = *name;
    h->value = *value;
    h->lowcase_key = NULL;

    /* no header splitting: line breaks become spaces */
    if (ngx_strlchr(value->data, value->data + value->len, CR)
        || ngx_strlchr(value->data, value->data + value->len, LF))
    {
        p = ngx_pnalloc(r->pool, value->len);
        if (p == NULL) {
            return NGX_ERROR;
        }
        for (i = 0; i < value->len; i++) {
            p[i] = (value->data[i] == CR || value->data[i] == LF)
                   ? ' ' : value->data[i];
        }
        h->value.data = p;
    }
    return NGX_OK;
}


/*
 * One map entry {1: key, 2: Pair {1: key, 2: values}}: checked, and with
 * apply, each value a header line named by the Pair's key (go-micro's
 * choice) or else by the entry's.
 */
static ngx_int_t
ngx_micro_api_reply_entry(ngx_http_request_t *r, ngx_str_t *entry,
    ngx_uint_t apply)
{
    u_char                 *p, *end;
    ngx_int_t               rc;
    ngx_str_t               key, name, pair;
    ngx_micro_api_field_t   f;

    ngx_str_null(&key);
    ngx_str_null(&name);
    ngx_str_null(&pair);
    p = entry->data;
    end = p + entry->len;
    while ((rc = ngx_micro_api_next_field(&p, end, &f)) == NGX_OK) {
        if (f.wire == MICRO_WIRE_LEN && f.number == 1) {
            key = f.bytes;
        } else if (f.wire == MICRO_WIRE_LEN && f.number == 2) {
            pair = f.bytes;
        }
    }
    if (rc == NGX_ERROR) {
        return NGX_DECLINED;
    }

    p = pair.data;
    end = p + pair.len;
    while ((rc = ngx_micro_api_next_field(&p, end, &f)) == NGX_OK) {
        if (f.wire == MICRO_WIRE_LEN && f.number == 1) {
            name = f.bytes;
        }
    }
    if (rc == NGX_ERROR) {
        return NGX_DECLINED;
    }
    if (!apply) {
        return NGX_OK;
    }
    if (name.len == 0) {
        name = key;
    }

    p = pair.data;
    while (ngx_micro_api_next_field(&p, end, &f) == NGX_OK) {
        if (f.wire == MICRO_WIRE_LEN && f.number == 2
            && ngx_micro_api_reply_header(r, &name, &f.bytes) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }
    return NGX_OK;
}


ngx_int_t
ngx_micro_api_goapi_reply(ngx_http_request_t *r, u_char *data, size_t len,
    ngx_str_t *body)
{
    u_char                 *p, *end = data + len;
    int32_t                 status;
    ngx_int_t               rc;
    ngx_micro_api_field_t   f;

    /* first all of it checked, so a bad reply adds no header */
    status = 0;
    ngx_str_null(body);
    for (p = data; (rc = ngx_micro_api_next_field(&p, end, &f)) == NGX_OK;
         /* void */)
    {
        if (f.wire == MICRO_WIRE_VARINT && f.number == 1) {
            status = (int32_t) f.value;
        } else if (f.wire == MICRO_WIRE_LEN && f.number == 3) {
            *body = f.bytes;
        } else if (f.wire == MICRO_WIRE_LEN && f.number == 2
                   && ngx_micro_api_reply_entry(r, &f.bytes, 0) != NGX_OK)
        {
            rc = NGX_ERROR;
            break;
        }
    }
    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro api: the reply is not a go.api.Response");
        return NGX_DECLINED;
    }
    if (status == 0) {
        status = NGX_HTTP_OK;                       /* go-micro's default */
    }
    if (status < NGX_HTTP_OK || status > 599) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro api: go.api.Response has status %D", status);
        return NGX_DECLINED;
    }

    r->headers_out.status = status;
    r->headers_out.content_type.len = 0;
    r->headers_out.content_type_lowcase = NULL;
    for (p = data; ngx_micro_api_next_field(&p, end, &f) == NGX_OK;
         /* void */)
    {
        if (f.wire == MICRO_WIRE_LEN && f.number == 2
            && ngx_micro_api_reply_entry(r, &f.bytes, 1) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }
    if (r->headers_out.content_type.len == 0) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro api: go.api.Response %D, %uz bytes of body",
                   status, body->len);
    return NGX_OK;
}
