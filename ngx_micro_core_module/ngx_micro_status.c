/*
 * micro_registry_status: what the answering worker follows of the
 * registry, as JSON: {"registry":{"worker","connected","loads","events"},
 * "services":{name:[entry, ...]}}. It shows internals, so it is only
 * where configured (and can be limited with allow/deny).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <micro/service.h>
#include <micro/transcode.h>

#include "ngx_micro_registry.h"
#include "ngx_micro_status.h"



typedef struct {
    micro_buf_t   *out;
    ngx_uint_t     first;
} ngx_micro_status_ctx_t;


static int
ngx_micro_status_service(const char *name,
    const micro_snapshot_service_t *svc, void *data)
{
    char                    *json;
    size_t                   i;
    ngx_micro_status_ctx_t  *ctx = data;

    if (micro_buf_append(ctx->out, ctx->first ? "\"" : ",\"",
                         ctx->first ? 1 : 2) != 0
        || micro_buf_append(ctx->out, name, ngx_strlen(name)) != 0
        || micro_buf_append(ctx->out, "\":[", 3) != 0)
    {
        return -1;
    }
    ctx->first = 0;
    for (i = 0; i < svc->len; i++) {
        json = micro_service_to_json(&svc->entries[i]);
        if (json == NULL
            || (i && micro_buf_append(ctx->out, ",", 1) != 0)
            || micro_buf_append(ctx->out, json, ngx_strlen(json)) != 0)
        {
            free(json);
            return -1;
        }
        free(json);
    }
    return micro_buf_append(ctx->out, "]", 1);
}


ngx_int_t
ngx_micro_status_handler(ngx_http_request_t *r)
{
    u_char                       head[160];
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    micro_buf_t                  json = { 0 };
    ngx_micro_status_ctx_t       ctx = { &json, 1 };
    ngx_micro_registry_stats_t   st;
    ngx_micro_core_main_conf_t  *cmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    cmcf = ngx_micro_core_request_conf(r);
    ngx_micro_registry_stats(cmcf->registry, &st);

    ngx_snprintf(head, sizeof(head),
                 "{\"registry\":{\"worker\":%P,\"connected\":%s,"
                 "\"loads\":%ui,\"events\":%ui},\"services\":{%Z",
                 ngx_pid, st.connected ? "true" : "false", st.syncs,
                 st.events);
    if (micro_buf_append(&json, head, ngx_strlen(head)) != 0
        || micro_snapshot_foreach(ngx_micro_registry_snapshot(cmcf->registry),
                                  ngx_micro_status_service, &ctx) != 0
        || micro_buf_append(&json, "}}\n", 3) != 0)
    {
        micro_buf_free(&json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* without the last "\n": the buffer adds one */
    b = ngx_micro_json_buf(r, json.data, json.len - 1);
    micro_buf_free(&json);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return ngx_micro_json_send(r, NGX_HTTP_OK, b);
}
