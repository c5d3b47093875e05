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


/* An HTML page for a browser: the status and the detail, escaped. */
static ngx_int_t
ngx_micro_error_html(ngx_http_request_t *r, ngx_uint_t status,
    const char *detail)
{
    size_t        len, escaped;
    u_char       *p;
    ngx_buf_t    *b;

    static const char  head[] = "<!DOCTYPE html>\n<html><head>"
                                "<meta charset=\"utf-8\"><title>";

    len = ngx_strlen(detail);
    escaped = len + ngx_escape_html(NULL, (u_char *) detail, len);
    b = ngx_create_temp_buf(r->pool, sizeof(head) + 2 * escaped
                                     + sizeof("</title></head><body><h1>")
                                     + sizeof("</h1><p>HTTP ")
                                     + NGX_INT_T_LEN
                                     + sizeof("</p></body></html>\n"));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    p = ngx_cpymem(b->last, head, sizeof(head) - 1);
    p = (u_char *) ngx_escape_html(p, (u_char *) detail, len);
    p = ngx_cpymem(p, "</title></head><body><h1>",
                   sizeof("</title></head><body><h1>") - 1);
    p = (u_char *) ngx_escape_html(p, (u_char *) detail, len);
    b->last = ngx_sprintf(p, "</h1><p>HTTP %ui</p></body></html>\n",
                          status);
    b->last_buf = (r == r->main);
    b->last_in_chain = 1;
    ngx_str_set(&r->headers_out.charset, "utf-8");
    return ngx_micro_send(r, status, "text/html", b);
}


ngx_int_t
ngx_micro_error_page(ngx_http_request_t *r, const char *id, ngx_uint_t status,
    const char *detail)
{
    ngx_int_t  rc;

    if (ngx_micro_wants_json(r)) {
        return ngx_micro_error_send(r, id, status, detail);
    }
    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }
    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "micro: %s answers %ui as a page", id, status);
    return ngx_micro_error_html(r, status, detail);
}
