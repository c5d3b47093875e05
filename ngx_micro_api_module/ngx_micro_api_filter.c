/*
 * The errors NGINX itself answers for a call (413 over client_max_body_size,
 * 502 when no node could be reached, 504 on a timeout) go out in go-micro's
 * JSON shape too, instead of the HTML error page: the header filter swaps
 * the body the body filter then sends. And a reply transcoded to JSON
 * waits for its body, so its header goes out with Content-Length.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_api.h"
#include "ngx_micro_error.h"


static ngx_http_output_header_filter_pt  ngx_micro_api_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_micro_api_next_body_filter;


static ngx_int_t
ngx_micro_api_header_filter(ngx_http_request_t *r)
{
    const char                *detail;
    ngx_micro_api_ctx_t       *ctx;
    ngx_micro_api_loc_conf_t  *alcf;

    /* 413 comes before the handler ran, from client_max_body_size */
    alcf = ngx_http_get_module_loc_conf(r, ngx_micro_api_module);
    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);

    /*
     * A reply transcoded to JSON: its length is known once it is all in,
     * so the header waits for the body and goes out with Content-Length
     * (no chunked encoding, no extra write for its end).
     */
    if (alcf->enabled && ctx && ctx->called && r->err_status == 0
        && (ctx->call.response_type || ctx->call.api_reply) && r->upstream
        && r->headers_out.status == NGX_HTTP_OK && r == r->main)
    {
        ctx->hold = 1;
        return NGX_OK;
    }

    if (!alcf->enabled
        || (r->err_status < 500
            && r->err_status != NGX_HTTP_REQUEST_ENTITY_TOO_LARGE)
        || (r->err_status >= 500 && (ctx == NULL || !ctx->called)))
    {
        return ngx_micro_api_next_header_filter(r);
    }
    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_micro_api_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }
        ngx_http_set_ctx(r, ctx, ngx_micro_api_module);
    }

    detail = r->err_status == NGX_HTTP_GATEWAY_TIME_OUT
             ? "the service did not answer in time"
             : r->err_status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
             ? "request body too large"
             : "no node of the service could be reached";
    ctx->error = ngx_micro_error_buf(r, NGX_MICRO_API_ID, r->err_status,
                                     detail);
    if (ctx->error == NULL) {
        return NGX_ERROR;
    }
    ctx->error->last_buf = 1;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = ctx->error->last - ctx->error->pos;
    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }
    return ngx_micro_api_next_header_filter(r);
}


static ngx_int_t
ngx_micro_api_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                 len;
    ngx_int_t             rc;
    ngx_chain_t           out, *cl;
    ngx_micro_api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_micro_api_module);

    if (ctx && ctx->hold) {
        /* the transcoded body is the upstream's buffer; flushes before
         * it have nothing to send */
        for (cl = in; cl; cl = cl->next) {
            if (cl->buf->tag == (ngx_buf_tag_t) &ngx_micro_api_module) {
                break;
            }
        }
        if (cl == NULL) {
            return NGX_OK;
        }
        /* now the header, with its length */
        for (len = 0, cl = in; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
        ctx->hold = 0;
        r->headers_out.content_length_n = len;
        rc = ngx_micro_api_next_header_filter(r);
        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            /* no body goes out (HEAD, 204, 304): this one is done with,
             * or the upstream would wait for it to be sent */
            for (cl = in; cl; cl = cl->next) {
                cl->buf->pos = cl->buf->last;
            }
            return rc;
        }
        return ngx_micro_api_next_body_filter(r, in);
    }

    if (ctx == NULL || ctx->error == NULL) {
        return ngx_micro_api_next_body_filter(r, in);
    }
    for ( /* void */ ; in; in = in->next) {
        in->buf->pos = in->buf->last;       /* nginx's page: dropped */
    }
    if (ctx->error->pos == ctx->error->last) {
        return NGX_OK;
    }
    out.buf = ctx->error;
    out.next = NULL;
    ctx->error = ngx_calloc_buf(r->pool);   /* sent once */
    if (ctx->error == NULL) {
        return NGX_ERROR;
    }
    return ngx_micro_api_next_body_filter(r, &out);
}


ngx_int_t
ngx_micro_api_filter_init(ngx_conf_t *cf)
{
    ngx_micro_api_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_micro_api_header_filter;
    ngx_micro_api_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_micro_api_body_filter;
    return NGX_OK;
}
