/*
 * micro_api's content handler: the request's body (JSON, protobuf, a form
 * or a GET's query) made the call for the handler configured, a node
 * picked by the core's balancer, and the call started over the micro
 * transport (or handed to the proxy module for handler=proxy).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/error.h>
#include <micro/service.h>
#include <micro/transcode.h>

#include "ngx_micro_api.h"
#include "ngx_micro_api_goapi.h"
#include "ngx_micro_error.h"


static ngx_int_t ngx_micro_api_call(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_call_api(ngx_http_request_t *r);
static ngx_int_t ngx_micro_api_call_proxy(ngx_http_request_t *r);


/*
 * The request id: the client's Micro-Id when it sent a sane one, else a
 * new one (128 random bits in hex). It goes to the service, back to the
 * client and into $micro_id for the logs.
 */
ngx_int_t
ngx_micro_api_request_id(ngx_http_request_t *r, ngx_micro_api_ctx_t *ctx)
{
    u_char           *p;
    uint32_t          bits[4];
    ngx_uint_t        i;
    ngx_table_elt_t  *h, *out;

    h = ngx_micro_header_in(r, "Micro-Id");
    if (h && h->value.len > 0 && h->value.len <= 128) {
        ctx->call.id = h->value;
    }

    if (ctx->call.id.len == 0) {
        p = ngx_pnalloc(r->pool, 32);
        if (p == NULL) {
            return NGX_ERROR;
        }
        for (i = 0; i < 4; i++) {
            bits[i] = (uint32_t) ngx_random();
        }
        ngx_hex_dump(p, (u_char *) bits, sizeof(bits));
        ctx->call.id.data = p;
        ctx->call.id.len = 32;
    }

    out = ngx_list_push(&r->headers_out.headers);
    if (out == NULL) {
        return NGX_ERROR;
    }
    out->hash = 1;
    ngx_str_set(&out->key, "Micro-Id");
    out->value = ctx->call.id;
    return NGX_OK;
}


ngx_int_t
ngx_micro_api_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_micro_api_ctx_t       *ctx;
    ngx_micro_api_loc_conf_t  *alcf;

    /* the api handler passes any method on; the service decides */
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    if (alcf->handler == NGX_MICRO_API_HANDLER_RPC
        && !(r->method & (NGX_HTTP_GET|NGX_HTTP_POST|NGX_HTTP_PUT
                          |NGX_HTTP_PATCH|NGX_HTTP_DELETE)))
    {
        return ngx_micro_error_send(r, NGX_MICRO_API_ID, NGX_HTTP_NOT_ALLOWED,
                                    "method not allowed");
    }

    ctx = ngx_micro_api_resolve(r);
    if (ctx == NULL || ngx_micro_api_request_id(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->pick.id = NGX_MICRO_API_ID;
    ctx->handler = (alcf->handler == NGX_MICRO_API_HANDLER_API)
                   ? ngx_micro_api_call_api
                   : (alcf->handler == NGX_MICRO_API_HANDLER_PROXY)
                   ? ngx_micro_api_call_proxy : ngx_micro_api_call;
    if (ctx->resolved != 1) {
        return ngx_micro_error_send(r, NGX_MICRO_API_ID, NGX_HTTP_NOT_FOUND,
                                    "not found");
    }

    /* the proxy module reads the body itself, as it is configured to */
    if (alcf->handler == NGX_MICRO_API_HANDLER_PROXY) {
        return ngx_micro_api_call_proxy(r);
    }

    /* the body is used whole: keep it in one memory buffer if it fits */
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_micro_api_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return NGX_DONE;
}


/* The request body in one piece (from memory or the temp file). */
ngx_int_t
ngx_micro_api_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    size_t        len;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = NULL;
    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }
    len = 0;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }
    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }
    body->data = p;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }
            p += n;
        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }
    body->len = p - body->data;
    return NGX_OK;
}


/* The location's micro_json_options for the call's transcoding. */
static void
ngx_micro_api_transcode_options(ngx_http_request_t *r,
    micro_transcode_options_t *o)
{
    ngx_uint_t                 json;
    ngx_micro_api_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    json = (alcf->json & NGX_MICRO_API_JSON_OFF) ? 0 : alcf->json;
    o->pool = ngx_micro_core_request_conf(r)->pool;
    o->emit_defaults = (json & NGX_MICRO_API_JSON_EMIT_DEFAULTS) ? 1 : 0;
    o->proto_names = (json & NGX_MICRO_API_JSON_PROTO_NAMES) ? 1 : 0;
    o->enums_as_ints = (json & NGX_MICRO_API_JSON_ENUMS_AS_INTS) ? 1 : 0;
    o->ignore_unknown = (json & NGX_MICRO_API_JSON_IGNORE_UNKNOWN) ? 1 : 0;
}


/* handler=rpc: JSON (or protobuf) to the endpoint, with micro_proto
 * types transcoded. */
static ngx_int_t
ngx_micro_api_call(ngx_http_request_t *r)
{
    u_char                      *name;
    ngx_str_t                    body, ct;
    micro_buf_t                  pb = { 0 };
    ngx_micro_api_ctx_t         *ctx;
    ngx_micro_api_call_t        *call;
    const micro_pb_message_t    *request_type, *response_type;
    ngx_micro_core_main_conf_t  *cmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    cmcf = ngx_micro_core_request_conf(r);
    call = &ctx->call;

    /* the body: JSON, protobuf as is, or the query of a GET as JSON */
    ct = r->headers_in.content_type ? r->headers_in.content_type->value
                                    : (ngx_str_t) ngx_null_string;
    if (r->method & NGX_HTTP_GET) {
        if (ngx_micro_api_query_json(r, &r->args, &body) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_str_null(&ct);
    } else if (ngx_micro_api_read_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    } else if (ct.len >= 33
               && ngx_strncasecmp(ct.data, (u_char *)
                                  "application/x-www-form-urlencoded", 33)
                  == 0)
    {
        /* form fields become the JSON object, as go-micro's rpc handler */
        if (ngx_micro_api_query_json(r, &body, &body) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        ngx_str_null(&ct);
    }

    if (ct.len >= 20 && ngx_strncasecmp(ct.data,
                                        (u_char *) "application/protobuf", 20)
                        == 0)
    {
        ngx_str_set(&call->content_type, "application/protobuf");
    } else {
        ngx_str_set(&call->content_type, "application/json");
    }
    call->body = body;

    /* with micro_proto types for the endpoint: JSON -> protobuf */
    name = ngx_pnalloc(r->pool, ctx->endpoint.len + 1);
    if (name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_cpystrn(name, ctx->endpoint.data, ctx->endpoint.len + 1);
    if (cmcf->pool && call->content_type.len == 16
        && micro_pb_pool_method(cmcf->pool, (char *) name, &request_type,
                                &response_type) == MICRO_OK)
    {
        call->allocator.alloc = (void *(*)(void *, size_t)) ngx_palloc;
        call->allocator.ctx = r->pool;
        pb.allocator = &call->allocator;
        ngx_micro_api_transcode_options(r, &call->transcode);
        if (micro_json_to_pb(request_type, (char *) body.data, body.len,
                             &call->transcode, &pb) != MICRO_OK)
        {
            return ngx_micro_error_send(r, NGX_MICRO_API_ID,
                                        NGX_HTTP_BAD_REQUEST,
                                        micro_error_detail());
        }
        call->body.data = pb.data;
        call->body.len = pb.len;
        ngx_str_set(&call->content_type, "application/protobuf");
        call->response_type = response_type;
    }

    return ngx_micro_api_dispatch(r, ctx);
}


/* handler=api: the request as a go.api.Request, the reply from its answer. */
static ngx_int_t
ngx_micro_api_call_api(ngx_http_request_t *r)
{
    ngx_str_t              body;
    ngx_micro_api_ctx_t   *ctx;
    ngx_micro_api_call_t  *call;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    call = &ctx->call;
    if (ngx_micro_api_read_body(r, &body) != NGX_OK
        || ngx_micro_api_goapi_request(r, &body, &call->body) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_str_set(&call->content_type, "application/protobuf");
    call->api_reply = 1;
    return ngx_micro_api_dispatch(r, ctx);
}


/* handler=proxy: the proxy module's handler takes it from here. */
static ngx_int_t
ngx_micro_api_call_proxy(ngx_http_request_t *r)
{
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    ctx->proxy = 1;
    return ngx_micro_api_dispatch(r, ctx);
}



/*
 * The call to a node: the one asked for (/rpc's "address"), or one the
 * balancer picks from the snapshot (no Redis on this path).
 */
ngx_int_t
ngx_micro_api_dispatch(ngx_http_request_t *r, ngx_micro_api_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_micro_peer_t          *peer = &ctx->call.peer;
    ngx_micro_api_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    peer->service.data = ngx_pnalloc(r->pool, ctx->service.len + 1);
    if (peer->service.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_cpystrn(peer->service.data, ctx->service.data, ctx->service.len + 1);
    peer->service.len = ctx->service.len;
    ctx->call.endpoint = ctx->endpoint;
    ctx->call.max_reply_size = alcf->max_reply_size;

    ctx->pick.peer = peer;
    peer->endpoint = ctx->endpoint;
    peer->protocol = ctx->proxy ? 0 : alcf->protocol;
    if (peer->protocol == 0 && !ctx->proxy && ngx_micro_api_grpc_ws_wanted(r))
    {
        peer->protocol = MICRO_PROTOCOL_GRPC;     /* streams are gRPC's */
    }
    ctx->pick.resume = ctx->handler;
    ctx->pick.proxy = ctx->proxy;
    if (ngx_micro_pick(r, &ctx->pick, &rc) != NGX_OK) {
        return rc;
    }

    ctx->called = 1;

    if (ctx->proxy) {
        return alcf->proxy(r);
    }

    /* the micro transport where the node speaks it (unless micro_protocol
     * says grpc), gRPC where it does not; retries keep to the same */
    if (peer->protocol == 0) {
        peer->protocol = (peer->protocols & MICRO_PROTOCOL_MUCP)
                         ? MICRO_PROTOCOL_MUCP : MICRO_PROTOCOL_GRPC;
    }
    if (peer->protocol == MICRO_PROTOCOL_GRPC) {
        return ngx_micro_api_grpc_start(r, &ctx->call, ctx->upstream
                                        ? ctx->upstream : &alcf->upstream);
    }
    return ngx_micro_api_upstream_start(r, &ctx->call, ctx->upstream
                                        ? ctx->upstream : &alcf->upstream,
                                        &ngx_micro_api_module);
}


void
ngx_micro_api_body_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    rc = ctx->handler(r);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}
