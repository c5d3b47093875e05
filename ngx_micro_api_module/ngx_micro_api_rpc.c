/*
 * micro_rpc: go-micro's /rpc endpoint. {"service", "endpoint" (or
 * "method"), "request", "address"} calls any service micro_rpc allows,
 * so it is only where configured.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>

#include <micro/service.h>

#include "ngx_micro_api.h"
#include "ngx_micro_error.h"


/* A member of a JSON object by name, case-insensitively (Go's decoder). */
static json_t *
ngx_micro_rpc_member(json_t *o, const char *name)
{
    void        *it;
    const char  *key;

    for (it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        key = json_object_iter_key(it);
        if (strcasecmp(key, name) == 0) {
            return json_object_iter_value(it);
        }
    }
    return NULL;
}


static ngx_int_t
ngx_micro_rpc_string(ngx_http_request_t *r, json_t *o, const char *name,
    ngx_str_t *out)
{
    json_t  *v = ngx_micro_rpc_member(o, name);

    out->len = 0;
    if (!json_is_string(v) || json_string_length(v) == 0
        || ngx_strlen(json_string_value(v)) != json_string_length(v))
    {
        return NGX_DECLINED;                  /* names never hold a NUL */
    }
    out->len = json_string_length(v);
    out->data = ngx_pnalloc(r->pool, out->len + 1);
    if (out->data == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(out->data, json_string_value(v), out->len + 1);
    return NGX_OK;
}


/* Is the service one of micro_rpc's namespaces (or are all allowed)? */
static ngx_uint_t
ngx_micro_rpc_allowed(ngx_micro_api_loc_conf_t *alcf, ngx_str_t *service)
{
    ngx_str_t   *ns;
    ngx_uint_t   i;

    if (alcf->rpc->nelts == 0) {
        return 1;
    }
    ns = alcf->rpc->elts;
    for (i = 0; i < alcf->rpc->nelts; i++) {
        if (service->len == ns[i].len
            && ngx_strncmp(service->data, ns[i].data, ns[i].len) == 0)
        {
            return 1;
        }
        if (service->len > ns[i].len + 1
            && ngx_strncmp(service->data, ns[i].data, ns[i].len) == 0
            && service->data[ns[i].len] == '.')
        {
            return 1;
        }
    }
    return 0;
}


static ngx_int_t
ngx_micro_rpc_fail(ngx_http_request_t *r, json_t *root, ngx_uint_t status,
    const char *detail)
{
    json_decref(root);
    return ngx_micro_error_send(r, NGX_MICRO_RPC_ID, status, detail);
}


/*
 * {"service", "endpoint" (or "method"), "request", "address"}, as JSON or
 * form fields; "request" an object or a JSON string. Sent as JSON, as
 * go-micro's /rpc did.
 */
static ngx_int_t
ngx_micro_rpc_call(ngx_http_request_t *r)
{
    char                      *dump;
    ngx_str_t                  body, ct;
    json_t                    *root, *req, *parsed;
    json_error_t               err;
    ngx_int_t                  secs;
    ngx_table_elt_t           *timeout;
    ngx_micro_api_ctx_t       *ctx;
    ngx_micro_api_loc_conf_t  *alcf;
    char                       detail[256];

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);

    if (ngx_micro_api_read_body(r, &body) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ct = r->headers_in.content_type ? r->headers_in.content_type->value
                                    : (ngx_str_t) ngx_null_string;
    if (!(ct.len >= 16 && ngx_strncasecmp(ct.data,
                                          (u_char *) "application/json", 16)
                          == 0)
        && ngx_micro_api_query_json(r, &body, &body) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* \u0000 is valid JSON, and a protobuf string may hold it */
    root = json_loadb((char *) body.data, body.len, JSON_ALLOW_NUL, &err);
    if (!json_is_object(root)) {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_BAD_REQUEST,
                                  "invalid request body");
    }
    if (ngx_micro_rpc_string(r, root, "service", &ctx->service) != NGX_OK
        || !micro_name_valid((char *) ctx->service.data))
    {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_BAD_REQUEST,
                                  "invalid service");
    }
    if (ngx_micro_rpc_string(r, root, "endpoint", &ctx->endpoint) != NGX_OK
        && ngx_micro_rpc_string(r, root, "method", &ctx->endpoint) != NGX_OK)
    {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_BAD_REQUEST,
                                  "invalid endpoint");
    }
    if (!ngx_micro_rpc_allowed(alcf, &ctx->service)) {
        return ngx_micro_rpc_fail(r, root, NGX_HTTP_FORBIDDEN,
                                  "service not allowed");
    }
    (void) ngx_micro_rpc_string(r, root, "address", &ctx->call.peer.address);
    ctx->resolved = 1;

    /* the request: an object, or a JSON string holding one */
    req = ngx_micro_rpc_member(root, "request");
    parsed = NULL;
    if (json_is_string(req)) {
        parsed = json_loadb(json_string_value(req), json_string_length(req),
                            JSON_ALLOW_NUL, &err);
        if (parsed == NULL) {
            ngx_snprintf((u_char *) detail, sizeof(detail),
                         "error decoding request string: %s%Z", err.text);
            json_decref(root);
            return ngx_micro_error_send(r, NGX_MICRO_RPC_ID,
                                        NGX_HTTP_BAD_REQUEST, detail);
        }
        req = parsed;
    }
    dump = req ? json_dumps(req, JSON_COMPACT | JSON_ENCODE_ANY)
               : strdup("{}");
    json_decref(parsed);
    json_decref(root);
    if (dump == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->call.body.len = ngx_strlen(dump);
    ctx->call.body.data = ngx_pnalloc(r->pool, ctx->call.body.len);
    if (ctx->call.body.data == NULL) {
        free(dump);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_memcpy(ctx->call.body.data, dump, ctx->call.body.len);
    free(dump);
    ngx_str_set(&ctx->call.content_type, "application/json");

    /* the Timeout header (seconds) caps the call */
    timeout = ngx_micro_header_in(r, "Timeout");
    if (timeout) {
        secs = ngx_atoi(timeout->value.data, timeout->value.len);
        if (secs > 0 && (ngx_msec_t) secs * 1000
                        < alcf->upstream.read_timeout)
        {
            ctx->upstream = ngx_palloc(r->pool,
                                       sizeof(ngx_http_upstream_conf_t));
            if (ctx->upstream == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            *ctx->upstream = alcf->upstream;
            ctx->upstream->read_timeout = (ngx_msec_t) secs * 1000;
        }
    }

    return ngx_micro_api_dispatch(r, ctx);
}


ngx_int_t
ngx_micro_rpc_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_http_set_ctx(r, ctx, ngx_micro_api_module);
    ctx->resolved = 2;                   /* until the body names one */
    if (ngx_micro_api_request_id(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ctx->handler = ngx_micro_rpc_call;
    ctx->pick.id = NGX_MICRO_RPC_ID;

    if (!(r->method & NGX_HTTP_POST)) {
        rc = ngx_http_discard_request_body(r);
        return rc != NGX_OK ? rc
                            : ngx_micro_error_send(r, NGX_MICRO_RPC_ID,
                                                   NGX_HTTP_NOT_ALLOWED,
                                                   "Method not allowed");
    }
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_micro_api_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return NGX_DONE;
}
