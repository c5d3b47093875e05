/*
 * The RPC leg: an ngx_http_upstream protocol handler speaking the micro
 * transport (README, "Wire protocol") to the selected node, the way
 * ngx_http_memcached_module speaks memcached. The request goes out in one
 * write; the reply is passed through, or transcoded from protobuf to JSON
 * once all of it is in.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/error.h>
#include <micro/transcode.h>

#include "ngx_micro_api.h"
#include "ngx_micro_api_goapi.h"
#include "ngx_micro_error.h"
#include "ngx_micro_api_upstream.h"


typedef struct {
    ngx_micro_api_call_t      *call;
    ngx_http_request_t        *request;
    ngx_http_status_t          status;
    ngx_str_t                  content_type;
    off_t                      length;       /* -1: none, or chunked */
    ngx_uint_t                 chunked;      /* Transfer-Encoding */
    ngx_http_chunked_t         chunk;        /* its parser's state */
    ngx_uint_t                 close;        /* Connection: close */
    ngx_uint_t                 transcode;    /* the reply made at the end */
    micro_buf_t                reply;        /* collected when transcoding */
} ngx_micro_api_upstream_ctx_t;


static ngx_int_t ngx_micro_api_create_request(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_reinit_request(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_process_status_line(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_process_header(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_reply_init(void *data);
static ngx_int_t ngx_micro_api_reply_filter(void *data, ssize_t bytes);
static ngx_int_t ngx_micro_api_reply_chunked(
    ngx_micro_api_upstream_ctx_t *ctx, ssize_t bytes);
static ngx_int_t ngx_micro_api_take(ngx_micro_api_upstream_ctx_t *ctx,
    u_char *p, size_t n);
static ngx_int_t ngx_micro_api_reply_end(ngx_micro_api_upstream_ctx_t *ctx);
static ngx_int_t ngx_micro_api_too_large(ngx_micro_api_upstream_ctx_t *ctx);
static ngx_int_t ngx_micro_api_transcoded(ngx_micro_api_upstream_ctx_t *ctx);
static ngx_int_t ngx_micro_api_reply_buf(ngx_micro_api_upstream_ctx_t *ctx,
    ngx_uint_t status, ngx_str_t *body);
static void ngx_micro_api_abort_request(ngx_http_request_t *r);
static void ngx_micro_api_finalize_request(ngx_http_request_t *r,
    ngx_int_t rc);




/* Memory for transcoded replies: the request's pool. */
static void *
ngx_micro_api_pool_alloc(void *ctx, size_t size)
{
    return ngx_palloc(ctx, size);
}


ngx_int_t
ngx_micro_api_upstream_start(ngx_http_request_t *r, ngx_micro_api_call_t *call,
    ngx_http_upstream_conf_t *conf, ngx_module_t *module)
{
    ngx_http_upstream_t            *u;
    ngx_micro_api_upstream_ctx_t   *ctx;

    if (ngx_http_upstream_create(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    u = r->upstream;
    ngx_str_set(&u->schema, "micro://");
    u->output.tag = (ngx_buf_tag_t) module;
    u->conf = conf;

    /* the peers come from the call's pick (the core's balancer) */
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_upstream_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->call = call;
    ctx->request = r;
    ctx->length = -1;
    ctx->reply.allocator = &call->allocator;
    call->allocator.alloc = ngx_micro_api_pool_alloc;
    call->allocator.ctx = r->pool;
    call->upstream_ctx = ctx;

    u->create_request = ngx_micro_api_create_request;
    u->reinit_request = ngx_micro_api_reinit_request;
    u->process_header = ngx_micro_api_process_status_line;
    u->abort_request = ngx_micro_api_abort_request;
    u->finalize_request = ngx_micro_api_finalize_request;
    u->input_filter_init = ngx_micro_api_reply_init;
    u->input_filter = ngx_micro_api_reply_filter;
    u->input_filter_ctx = ctx;

    /* reading the body took the reference the upstream now holds */
    ngx_http_upstream_init(r);
    return NGX_DONE;
}


/* Does a header's name match one of the list's (a trailing '*' matches
 * any rest)? */
static ngx_uint_t
ngx_micro_api_name_in(ngx_array_t *list, ngx_table_elt_t *h)
{
    ngx_str_t   *name;
    ngx_uint_t   i;

    name = list->elts;
    for (i = 0; i < list->nelts; i++) {
        if (name[i].len && name[i].data[name[i].len - 1] == '*'
            ? h->key.len >= name[i].len - 1
              && ngx_strncasecmp(h->lowcase_key, name[i].data,
                                 name[i].len - 1) == 0
            : h->key.len == name[i].len
              && ngx_strncasecmp(h->lowcase_key, name[i].data,
                                 name[i].len) == 0)
        {
            return 1;
        }
    }
    return 0;
}


/*
 * The client's headers go to the service as metadata, as go-micro passes
 * them, but for those of the transport (Micro-*, X-Micro-*: a client
 * cannot choose the endpoint), of the body's framing and hop by hop, and
 * those the location's micro_metadata_allow and _deny leave out. NGINX
 * keeps each name in lower case too.
 */
ngx_uint_t
ngx_micro_api_is_metadata(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    ngx_str_t                 *name;
    ngx_micro_api_loc_conf_t  *alcf;

    static ngx_str_t  own[] = {
        ngx_string("host"), ngx_string("content-length"),
        ngx_string("content-type"), ngx_string("transfer-encoding"),
        ngx_string("connection"), ngx_string("keep-alive"),
        ngx_string("upgrade"), ngx_string("te"), ngx_string("trailer"),
        ngx_string("expect"), ngx_string("proxy-connection"),
        ngx_null_string
    };

    if ((h->key.len >= 6 && ngx_strncmp(h->lowcase_key, "micro-", 6) == 0)
        || (h->key.len >= 8
            && ngx_strncmp(h->lowcase_key, "x-micro-", 8) == 0))
    {
        return 0;
    }
    for (name = own; name->len; name++) {
        if (name->len == h->key.len
            && ngx_strncmp(name->data, h->lowcase_key, name->len) == 0)
        {
            return 0;
        }
    }
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    if (alcf->metadata_allow && !ngx_micro_api_name_in(alcf->metadata_allow,
                                                       h))
    {
        return 0;
    }
    return alcf->metadata_deny == NULL
           || !ngx_micro_api_name_in(alcf->metadata_deny, h);
}


typedef struct {
    ngx_http_request_t  *request;
    size_t               len;
    u_char              *p;       /* NULL: only the length */
} ngx_micro_api_metadata_t;


/* A header line if the header is metadata; without p, its room at most. */
static ngx_int_t
ngx_micro_api_metadata_line(ngx_table_elt_t *h, void *data)
{
    ngx_micro_api_metadata_t  *m = data;

    if (m->p == NULL) {
        m->len += h->key.len + sizeof(": " CRLF) - 1 + h->value.len;
    } else if (ngx_micro_api_is_metadata(m->request, h)) {
        m->p = ngx_cpymem(m->p, h->key.data, h->key.len);
        *m->p++ = ':'; *m->p++ = ' ';
        m->p = ngx_cpymem(m->p, h->value.data, h->value.len);
        *m->p++ = CR; *m->p++ = LF;
    }
    return NGX_OK;
}


/* Room for the metadata lines (p NULL), or them written at p: its end. */
static u_char *
ngx_micro_api_put_metadata(ngx_http_request_t *r, u_char *p, size_t *room)
{
    ngx_micro_api_metadata_t  m = { r, 0, p };

    (void) ngx_micro_headers_each(r, ngx_micro_api_metadata_line, &m);
    if (room) {
        *room = m.len;
    }
    return m.p;
}


/* A header line "name: value" at p. */
static u_char *
ngx_micro_api_put_header(u_char *p, const char *name, size_t len,
    ngx_str_t *value)
{
    p = ngx_cpymem(p, name, len);
    p = ngx_cpymem(p, value->data, value->len);
    *p++ = CR; *p++ = LF;
    return p;
}


/* Head and body of the micro transport request, in one chain. */
static ngx_int_t
ngx_micro_api_create_request(ngx_http_request_t *r)
{
    size_t                         len, metadata;
    ngx_buf_t                     *b;
    ngx_chain_t                   *cl, *body;
    ngx_micro_api_call_t          *call;
    ngx_micro_api_upstream_ctx_t  *ctx = r->upstream->input_filter_ctx;

    call = ctx->call;
    (void) ngx_micro_api_put_metadata(r, NULL, &metadata);
    len = sizeof("POST / HTTP/1.1" CRLF "Host: " CRLF "Content-Type: " CRLF
                 "Micro-Service: " CRLF "Micro-Endpoint: " CRLF "Micro-Id: "
                 CRLF "Content-Length: " CRLF CRLF) - 1
          + call->peer.node.len + call->content_type.len
          + call->peer.service.len + call->endpoint.len + call->id.len
          + NGX_OFF_T_LEN + metadata;

    b = ngx_create_temp_buf(r->pool, len);
    cl = ngx_alloc_chain_link(r->pool);
    body = ngx_alloc_chain_link(r->pool);
    if (b == NULL || cl == NULL || body == NULL) {
        return NGX_ERROR;
    }

    /* by hand: ngx_sprintf was a tenth of a call's instructions */
    b->last = ngx_cpymem(b->last, "POST / HTTP/1.1" CRLF,
                         sizeof("POST / HTTP/1.1" CRLF) - 1);
    b->last = ngx_micro_api_put_header(b->last, "Host: ", 6,
                                       &call->peer.node);
    b->last = ngx_micro_api_put_header(b->last, "Content-Type: ", 14,
                                       &call->content_type);
    b->last = ngx_micro_api_put_header(b->last, "Micro-Service: ", 15,
                                       &call->peer.service);
    b->last = ngx_micro_api_put_header(b->last, "Micro-Endpoint: ", 16,
                                       &call->endpoint);
    b->last = ngx_micro_api_put_header(b->last, "Micro-Id: ", 10, &call->id);
    b->last = ngx_sprintf(b->last, "Content-Length: %uz" CRLF,
                          call->body.len);
    b->last = ngx_micro_api_put_metadata(r, b->last, NULL);
    *b->last++ = CR; *b->last++ = LF;
    cl->buf = b;
    cl->next = NULL;

    if (call->body.len) {
        b = ngx_calloc_buf(r->pool);
        if (b == NULL) {
            return NGX_ERROR;
        }
        b->start = b->pos = call->body.data;
        b->end = b->last = call->body.data + call->body.len;
        b->memory = 1;
        body->buf = b;
        body->next = NULL;
        cl->next = body;
    }

    r->upstream->request_bufs = cl;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro api: calling %V %V at %V", &call->peer.service,
                   &call->endpoint, &call->peer.node);
    return NGX_OK;
}


static ngx_int_t
ngx_micro_api_reinit_request(ngx_http_request_t *r)
{
    ngx_micro_api_upstream_ctx_t  *ctx = r->upstream->input_filter_ctx;

    ngx_memzero(&ctx->status, sizeof(ngx_http_status_t));
    ngx_memzero(&ctx->chunk, sizeof(ngx_http_chunked_t));
    ctx->content_type.len = 0;
    ctx->length = -1;
    ctx->chunked = 0;
    ctx->close = 0;
    ctx->reply.len = 0;
    r->upstream->process_header = ngx_micro_api_process_status_line;
    return NGX_OK;
}


static ngx_int_t
ngx_micro_api_process_status_line(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_http_upstream_t           *u = r->upstream;
    ngx_micro_api_upstream_ctx_t  *ctx = u->input_filter_ctx;

    rc = ngx_http_parse_status_line(r, &u->buffer, &ctx->status);
    if (rc == NGX_AGAIN) {
        return rc;
    }
    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro api: %V sent an invalid status line",
                      &ctx->call->peer.node);
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }
    /* requests go out in one write; later ones on this kept connection
     * must not wait for an ACK either */
    if (u->peer.connection
        && u->peer.connection->tcp_nodelay == NGX_TCP_NODELAY_UNSET
        && ngx_tcp_nodelay(u->peer.connection) != NGX_OK)
    {
        return NGX_ERROR;
    }

    u->headers_in.status_n = ctx->status.code;
    if (u->state && u->state->status == 0) {
        u->state->status = ctx->status.code;
    }
    u->process_header = ngx_micro_api_process_header;
    return ngx_micro_api_process_header(r);
}


static ngx_int_t
ngx_micro_api_process_header(ngx_http_request_t *r)
{
    size_t                         n;
    u_char                        *name;
    ngx_int_t                      rc;
    ngx_http_upstream_t           *u = r->upstream;
    ngx_micro_api_upstream_ctx_t  *ctx = u->input_filter_ctx;

    for ( ;; ) {
        rc = ngx_http_parse_header_line(r, &u->buffer, 1);

        if (rc == NGX_OK) {
            name = r->header_name_start;
            n = r->header_name_end - r->header_name_start;

            if (n == 14 && ngx_strncasecmp(name, (u_char *) "Content-Length",
                                           14) == 0)
            {
                ctx->length = ngx_atoof(r->header_start,
                                        r->header_end - r->header_start);
                if (ctx->length == NGX_ERROR) {
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }
            } else if (n == 12
                       && ngx_strncasecmp(name, (u_char *) "Content-Type", 12)
                          == 0)
            {
                ctx->content_type.len = r->header_end - r->header_start;
                ctx->content_type.data = ngx_pnalloc(r->pool,
                                                     ctx->content_type.len);
                if (ctx->content_type.data == NULL) {
                    return NGX_ERROR;
                }
                ngx_memcpy(ctx->content_type.data, r->header_start,
                           ctx->content_type.len);
            } else if (n == 10
                       && ngx_strncasecmp(name, (u_char *) "Connection", 10)
                          == 0
                       && r->header_end - r->header_start == 5
                       && ngx_strncasecmp(r->header_start,
                                          (u_char *) "close", 5) == 0)
            {
                ctx->close = 1;
            } else if (n == 17
                       && ngx_strncasecmp(name,
                                          (u_char *) "Transfer-Encoding", 17)
                          == 0)
            {
                if (r->header_end - r->header_start != 7
                    || ngx_strncasecmp(r->header_start, (u_char *) "chunked",
                                       7) != 0)
                {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "micro api: %V sent an unknown "
                                  "Transfer-Encoding", &ctx->call->peer.node);
                    return NGX_HTTP_UPSTREAM_INVALID_HEADER;
                }
                ctx->chunked = 1;
            }
            continue;
        }

        if (rc == NGX_HTTP_PARSE_HEADER_DONE) {
            break;
        }
        if (rc == NGX_AGAIN) {
            return NGX_AGAIN;
        }
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro api: %V sent an invalid header",
                      &ctx->call->peer.node);
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    if (ctx->chunked && ctx->length != -1) {
        /* as NGINX's proxy: a reply that could be read two ways is not */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro api: %V sent both Content-Length and "
                      "Transfer-Encoding", &ctx->call->peer.node);
        return NGX_HTTP_UPSTREAM_INVALID_HEADER;
    }

    /*
     * A reply in protobuf is turned into JSON (or a go.api.Response into
     * the reply) once it is all in, so its length is not known yet; errors
     * and JSON replies go out as they are.
     */
    ctx->transcode = (ctx->call->response_type != NULL || ctx->call->api_reply)
                     && ctx->status.code == 200;
    if (ctx->transcode || ctx->content_type.len == 0
        || ctx->status.code != 200)
    {
        ngx_str_set(&r->headers_out.content_type, "application/json");
    } else {
        r->headers_out.content_type = ctx->content_type;
    }
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    u->headers_in.content_length_n = ctx->transcode ? -1 : ctx->length;
    return NGX_OK;
}


/*
 * The reply body comes with a Content-Length, chunked, or until the node
 * closes the connection (HTTP/1.0 style, which some services in other
 * languages use). ngx_http_upstream reads until u->length is 0, or EOF
 * when it is -1; a chunked reply keeps it at 1 until its last chunk.
 */
static ngx_int_t
ngx_micro_api_reply_init(void *data)
{
    ngx_micro_api_upstream_ctx_t  *ctx = data;
    ngx_http_upstream_t           *u = ctx->request->upstream;

    u->length = ctx->chunked ? 1 : ctx->length;
    if (u->length == 0) {
        return ngx_micro_api_reply_end(ctx);
    }
    if (ctx->transcode && ctx->length > (off_t) ctx->call->max_reply_size) {
        return ngx_micro_api_too_large(ctx);
    }
    return NGX_OK;
}


static ngx_int_t
ngx_micro_api_reply_filter(void *data, ssize_t bytes)
{
    ngx_micro_api_upstream_ctx_t  *ctx = data;

    ngx_http_upstream_t  *u = ctx->request->upstream;

    if (ctx->call->replied) {
        u->buffer.last += bytes;         /* refused: the rest is not read */
        return NGX_OK;
    }
    if (ctx->chunked) {
        return ngx_micro_api_reply_chunked(ctx, bytes);
    }
    if (u->length != -1 && bytes > u->length) {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "micro api: %V sent more than its Content-Length",
                      &ctx->call->peer.node);
        bytes = (ssize_t) u->length;
        ctx->close = 1;                /* what follows is not a reply */
    }
    if (ngx_micro_api_take(ctx, u->buffer.last, bytes) != NGX_OK) {
        return NGX_ERROR;
    }
    u->buffer.last += bytes;
    if (u->length != -1) {
        u->length -= bytes;
        if (u->length == 0) {
            return ngx_micro_api_reply_end(ctx);
        }
    }
    return NGX_OK;
}


/* Chunks as they come (ngx_http_parse_chunked keeps the state). */
static ngx_int_t
ngx_micro_api_reply_chunked(ngx_micro_api_upstream_ctx_t *ctx,
    ssize_t bytes)
{
    off_t                 n;
    ngx_int_t             rc;
    ngx_buf_t            *b;
    ngx_http_request_t   *r = ctx->request;
    ngx_http_upstream_t  *u = r->upstream;

    b = &u->buffer;
    b->pos = b->last;
    b->last += bytes;

    while (u->length) {
        rc = ngx_http_parse_chunked(r, b, &ctx->chunk);

        if (rc == NGX_OK) {
            n = ngx_min(ctx->chunk.size, b->last - b->pos);
            if (ngx_micro_api_take(ctx, b->pos, (size_t) n) != NGX_OK) {
                return NGX_ERROR;
            }
            b->pos += n;
            ctx->chunk.size -= n;
            continue;
        }
        if (rc == NGX_DONE) {
            if (b->pos != b->last) {
                ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                              "micro api: %V sent data after the last chunk",
                              &ctx->call->peer.node);
                ctx->close = 1;
            }
            u->length = 0;
            return ngx_micro_api_reply_end(ctx);
        }
        if (rc == NGX_AGAIN) {
            break;
        }
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "micro api: %V sent an invalid chunked reply",
                      &ctx->call->peer.node);
        return NGX_ERROR;
    }

    /* all taken: the buffer can be reused for what comes next */
    b->pos = b->last;
    return NGX_OK;
}


/* A part of the reply body: held to be transcoded, or passed on. */
static ngx_int_t
ngx_micro_api_take(ngx_micro_api_upstream_ctx_t *ctx, u_char *p, size_t n)
{
    ngx_chain_t          *cl, **ll;
    ngx_http_upstream_t  *u = ctx->request->upstream;

    if (ctx->call->replied || n == 0) {
        return NGX_OK;                   /* e.g. after micro_max_reply_size */
    }
    if (ctx->transcode) {
        if (ctx->reply.len + n > ctx->call->max_reply_size) {
            return ngx_micro_api_too_large(ctx);
        }
        return micro_buf_append(&ctx->reply, p, n) == MICRO_OK ? NGX_OK
                                                               : NGX_ERROR;
    }

    for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
        ll = &cl->next;
    }
    cl = ngx_chain_get_free_buf(ctx->request->pool, &u->free_bufs);
    if (cl == NULL) {
        return NGX_ERROR;
    }
    cl->buf->flush = 1;
    cl->buf->memory = 1;
    cl->buf->pos = p;
    cl->buf->last = p + n;
    cl->buf->tag = u->output.tag;
    *ll = cl;
    return NGX_OK;
}


/* The whole reply is in: the connection may be kept, the held one made. */
static ngx_int_t
ngx_micro_api_reply_end(ngx_micro_api_upstream_ctx_t *ctx)
{
    ngx_http_upstream_t  *u = ctx->request->upstream;

    u->keepalive = !ctx->close;
    if (ctx->transcode && !ctx->call->replied) {
        return ngx_micro_api_transcoded(ctx);
    }
    return NGX_OK;
}


/*
 * A held reply over micro_max_reply_size: a 502 (its header has not gone
 * out), the rest of it left unread with the connection.
 */
static ngx_int_t
ngx_micro_api_too_large(ngx_micro_api_upstream_ctx_t *ctx)
{
    u_char               *p;
    ngx_str_t             detail;
    ngx_http_request_t   *r = ctx->request;
    ngx_micro_api_call_t *call = ctx->call;

    p = ngx_pnalloc(r->pool, call->peer.service.len + call->endpoint.len
                             + sizeof("the reply of   is larger than "
                                      "micro_max_reply_size ( bytes)")
                             + NGX_SIZE_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }
    detail.data = p;
    detail.len = ngx_sprintf(p, "the reply of %V %V is larger than "
                             "micro_max_reply_size (%uz bytes)%Z",
                             &call->peer.service, &call->endpoint,
                             call->max_reply_size) - p;
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "micro api: the reply of %V %V from %V is larger than "
                  "micro_max_reply_size (%uz bytes)", &call->peer.service,
                  &call->endpoint, &call->peer.node, call->max_reply_size);

    r->upstream->length = 0;
    r->upstream->keepalive = 0;
    return ngx_micro_api_reply_buf(ctx, NGX_HTTP_BAD_GATEWAY, &detail);
}


/*
 * The reply whole: transcoded to JSON, or a go.api.Response made the
 * reply; one that does not parse is a 502.
 */
static ngx_int_t
ngx_micro_api_transcoded(ngx_micro_api_upstream_ctx_t *ctx)
{
    ngx_int_t              rc;
    ngx_str_t              body;
    micro_buf_t            json = { 0 };
    ngx_http_request_t    *r = ctx->request;

    if (ctx->call->api_reply) {
        rc = ngx_micro_api_goapi_reply(r, ctx->reply.data, ctx->reply.len,
                                       &body);
        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }
    } else {
        json.allocator = &ctx->call->allocator;
        rc = micro_pb_to_json(ctx->call->response_type, ctx->reply.data,
                              ctx->reply.len, &ctx->call->transcode, &json);
        if (rc != MICRO_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "micro api: reply of %V %V is not a %s: %s",
                          &ctx->call->peer.service, &ctx->call->endpoint,
                          ctx->call->response_type->full_name,
                          micro_error_detail());
            rc = NGX_DECLINED;
        }
        body.data = json.data;
        body.len = json.len;
    }
    if (rc == NGX_DECLINED) {
        ngx_str_set(&body, "the service sent a reply that does not parse");
        body.len++;                                  /* its NUL */
        return ngx_micro_api_reply_buf(ctx, NGX_HTTP_BAD_GATEWAY, &body);
    }
    return ngx_micro_api_reply_buf(ctx, NGX_HTTP_OK, &body);
}


/*
 * The held reply's one buffer, after what the upstream has (the module's
 * header filter sends the header with it): the body, or for an error
 * status go-micro's JSON with the detail in body (NUL-terminated).
 */
static ngx_int_t
ngx_micro_api_reply_buf(ngx_micro_api_upstream_ctx_t *ctx, ngx_uint_t status,
    ngx_str_t *body)
{
    ngx_buf_t            *b, *error;
    ngx_chain_t          *cl, **ll;
    ngx_http_request_t   *r = ctx->request;
    ngx_http_upstream_t  *u = r->upstream;

    ctx->call->replied = 1;
    if (status != NGX_HTTP_OK) {
        error = ngx_micro_error_buf(r, NGX_MICRO_API_ID, status,
                                    (char *) body->data);
        if (error == NULL) {
            return NGX_ERROR;
        }
        body->data = error->pos;
        body->len = error->last - error->pos;
        r->headers_out.status = status;
        ngx_str_set(&r->headers_out.content_type, "application/json");
        r->headers_out.content_type_len = r->headers_out.content_type.len;
    }

    for (cl = u->out_bufs, ll = &u->out_bufs; cl; cl = cl->next) {
        ll = &cl->next;
    }
    cl = ngx_chain_get_free_buf(r->pool, &u->free_bufs);
    if (cl == NULL) {
        return NGX_ERROR;
    }
    b = cl->buf;
    b->pos = body->data;
    b->last = body->data + body->len;
    b->memory = body->len ? 1 : 0;
    b->sync = body->len ? 0 : 1;                /* an empty body */
    b->flush = 1;
    b->tag = u->output.tag;
    *ll = cl;
    return NGX_OK;
}


static void
ngx_micro_api_abort_request(ngx_http_request_t *r)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro api: abort request");
}


/*
 * A held reply not made yet: it ended with the connection (rc 0), or the
 * node failed after its header. Either way the client gets an answer.
 */
static void
ngx_micro_api_finalize_request(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_str_t                      detail;
    ngx_chain_t                   *out;
    ngx_http_upstream_t           *u = r->upstream;
    ngx_micro_api_upstream_ctx_t  *ctx = u->input_filter_ctx;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro api: finalize request %i", rc);

    if (!ctx->transcode || ctx->call->replied || !u->header_sent) {
        return;
    }
    if (rc == 0) {
        rc = ngx_micro_api_transcoded(ctx);
    } else {
        ngx_str_set(&detail, "the service failed before its reply ended");
        detail.len++;                                /* its NUL */
        rc = ngx_micro_api_reply_buf(ctx, NGX_HTTP_BAD_GATEWAY, &detail);
    }
    out = u->out_bufs;
    u->out_bufs = NULL;
    if (rc == NGX_OK && out) {
        (void) ngx_http_output_filter(r, out);
    }
}
