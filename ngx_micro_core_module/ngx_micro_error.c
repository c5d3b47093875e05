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
    b = ngx_micro_json_buf(r, json.data, json.len);
    micro_buf_free(&json);
    return b;
}


ngx_int_t
ngx_micro_error_send(ngx_http_request_t *r, const char *id, ngx_uint_t status,
    const char *detail)
{
    ngx_int_t    rc;
    ngx_buf_t   *b;

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

    return ngx_micro_json_send(r, status, b);
}
