/* go-micro's error replies, written in one place for every handler. */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/rpc_error.h>

#include "ngx_micro_error.h"


ngx_buf_t *
ngx_micro_error_buf(ngx_http_request_t *r, const char *id, ngx_uint_t status,
    const char *detail)
{
    ngx_buf_t          *b;
    micro_buf_t         json = { 0 };
    micro_rpc_error_t   e;

    /* the detail may quote a client's input: the encoder escapes it */
    micro_rpc_error_set(&e, id, (int) status, "%s", detail);
    if (micro_rpc_error_json(&e, &json) != 0) {
        return NULL;
    }
    b = ngx_create_temp_buf(r->pool, json.len + 1);
    if (b == NULL) {
        micro_buf_free(&json);
        return NULL;
    }
    b->last = ngx_cpymem(b->pos, json.data, json.len);
    *b->last++ = '\n';
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    micro_buf_free(&json);
    return b;
}


ngx_int_t
ngx_micro_error_send(ngx_http_request_t *r, const char *id, ngx_uint_t status,
    const char *detail)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    /* an answer before the body was read: the body is read and dropped */
    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    b = ngx_micro_error_buf(r, id, status, detail);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro: %s answers %ui: %s", id, status, detail);

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = b->last - b->pos;
    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}
