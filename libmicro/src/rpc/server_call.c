/* One request: routing, decoding, the handler, encoding the reply. */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "micro/error.h"
#include "micro/transcode.h"
#include "core/clock.h"
#include "rpc/server_internal.h"


void
micro_request_set_error(micro_request_t *r, const char *id, int code,
    const char *fmt, ...)
{
    va_list  ap;
    char     detail[512];

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    micro_rpc_error_set(&r->error, id, code, "%s", detail);
    r->status = code >= 400 && code <= 599 ? code : 500;
}


/* A header as a transport read it: its name and value in one block. */
int
micro_request_add_header(micro_request_t *r, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
    char          *kv;
    size_t         cap;
    micro_pair_t  *items;

    if (r->headers.len == r->headers_cap) {
        cap = r->headers_cap ? r->headers_cap * 2 : 16;
        items = realloc(r->headers.items, cap * sizeof(micro_pair_t));
        if (items == NULL) {
            return MICRO_ENOMEM;
        }
        r->headers.items = items;
        r->headers_cap = cap;
    }
    kv = malloc(nlen + vlen + 2);
    if (kv == NULL) {
        return MICRO_ENOMEM;
    }
    memcpy(kv, name, nlen);
    kv[nlen] = '\0';
    memcpy(kv + nlen + 1, value, vlen);
    kv[nlen + 1 + vlen] = '\0';
    r->headers.items[r->headers.len].key = kv;
    r->headers.items[r->headers.len].value = kv + nlen + 1;
    r->headers.len++;
    return MICRO_OK;
}


const char *
micro_request_header(micro_request_t *r, const char *name)
{
    size_t  i;

    for (i = 0; i < r->headers.len; i++) {
        if (strcasecmp(r->headers.items[i].key, name) == 0) {
            return r->headers.items[i].value;
        }
    }
    return NULL;
}


const char *
micro_request_endpoint(micro_request_t *r)
{
    return r->endpoint_name;
}


void *
micro_request_alloc(micro_request_t *r, size_t size)
{
    void   *p, **blocks;

    blocks = realloc(r->blocks, (r->nblocks + 1) * sizeof(void *));
    if (blocks == NULL) {
        return NULL;
    }
    r->blocks = blocks;
    p = calloc(1, size ? size : 1);
    if (p) {
        r->blocks[r->nblocks++] = p;
    }
    return p;
}


char *
micro_request_strdup(micro_request_t *r, const char *s)
{
    char  *d = micro_request_alloc(r, strlen(s) + 1);

    if (d) {
        strcpy(d, s);
    }
    return d;
}


char *
micro_request_printf(micro_request_t *r, const char *fmt, ...)
{
    int      n;
    char    *s;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = micro_request_alloc(r, (size_t) n + 1);
    if (s) {
        va_start(ap, fmt);
        vsnprintf(s, (size_t) n + 1, fmt, ap);
        va_end(ap);
    }
    return s;
}


int
micro_request_fail(micro_request_t *r, int code, const char *fmt, ...)
{
    va_list  ap;
    char     detail[512];

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    micro_request_set_error(r, r->server->opts.name, code, "%s", detail);
    return -1;
}


int
micro_request_set_header(micro_request_t *r, const char *name,
    const char *value)
{
    const char  *p;

    for (p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
              || *p == '.'))
        {
            break;
        }
    }
    if (*name == '\0' || *p || strncasecmp(name, "grpc-", 5) == 0
        || strpbrk(value, "\r\n") != NULL)
    {
        return micro_error_set(MICRO_EINVAL, "header \"%s\" cannot be sent",
                               name);
    }
    return micro_metadata_set(&r->reply_headers, name, value);
}


int
micro_request_cancelled(micro_request_t *r)
{
    return __atomic_load_n(&r->cancelled, __ATOMIC_ACQUIRE)
           || (r->deadline && micro_now_ms() >= r->deadline);
}


int
micro_request_remaining_ms(micro_request_t *r)
{
    int64_t  left;

    if (r->deadline == 0) {
        return -1;
    }
    left = r->deadline - micro_now_ms();
    return left > 0 ? (int) (left > INT32_MAX ? INT32_MAX : left) : 0;
}


void
micro_request_free(micro_request_t *r)
{
    size_t  i;

    for (i = 0; i < r->headers.len; i++) {
        free(r->headers.items[i].key);           /* the value with it */
    }
    free(r->headers.items);
    micro_metadata_free(&r->reply_headers);
    for (i = 0; i < r->nblocks; i++) {
        free(r->blocks[i]);
    }
    free(r->blocks);
    micro_buf_free(&r->body);
    micro_buf_free(&r->reply);
    free(r);
}


/*
 * Picks the codec and the endpoint, or decides an error status; runs on
 * the I/O thread when the request has been read.
 */
void
micro_request_route(micro_request_t *r)
{
    size_t           len;
    const char      *ct, *name, *service;
    micro_server_t  *s = r->server;

    if (r->status) {
        return;                              /* decided while reading */
    }

    ct = micro_request_header(r, "Content-Type");
    len = ct ? strcspn(ct, "; ") : 0;
    if (ct == NULL || (len == 20 && strncasecmp(ct, "application/protobuf", 20)
                                    == 0)
        || (len == 17 && strncasecmp(ct, "application/proto", 17) == 0)
        || (len == 24 && strncasecmp(ct, "application/octet-stream", 24)
                         == 0))
    {
        r->json = 0;
    } else if (len == 16 && strncasecmp(ct, "application/json", 16) == 0) {
        r->json = 1;
    } else {
        r->json = 1;                         /* errors go out as JSON */
        micro_request_set_error(r, "go.micro.server", 400,
                                "unsupported Content-Type \"%.*s\"",
                                (int) len, ct);
        return;
    }

    service = micro_request_header(r, "Micro-Service");
    if (service == NULL) {
        service = micro_request_header(r, "X-Micro-Service");
    }
    name = micro_request_header(r, "Micro-Endpoint");
    if (name == NULL) {
        name = micro_request_header(r, "Micro-Method");
    }
    if (name == NULL) {
        name = micro_request_header(r, "X-Micro-Endpoint");
    }
    if (name == NULL) {
        name = micro_request_header(r, "X-Micro-Method");
    }
    r->endpoint_name = name ? name : "";

    if (service && strcmp(service, s->opts.name) != 0) {
        micro_request_set_error(r, "go.micro.server", 404,
                                "service %s is not served here", service);
        return;
    }
    if (name == NULL) {
        micro_request_set_error(r, "go.micro.server", 400,
                                "no Micro-Endpoint header");
        return;
    }
    micro_request_find(r, name);
    if (r->endpoint && r->endpoint->stream) {
        micro_request_set_error(r, "go.micro.server", 400, "%s is a stream: "
                                "call it over gRPC", name);
    }
}


/* "/pkg.Service/Method" -> "Service.Method", go-micro's endpoint name. */
const char *
micro_request_grpc_endpoint(micro_request_t *r, const char *path)
{
    char        *name;
    size_t       slen, mlen;
    const char  *slash, *svc;

    if (path == NULL || path[0] != '/') {
        return NULL;
    }
    slash = strrchr(path, '/');
    if (slash == path || slash[1] == '\0') {
        return NULL;
    }
    for (svc = slash; svc > path + 1 && svc[-1] != '.' && svc[-1] != '/';
         svc--)
    {
        /* back to the start of the service's short name */
    }
    slen = (size_t) (slash - svc);
    mlen = strlen(slash + 1);
    name = micro_request_alloc(r, slen + mlen + 2);
    if (name) {
        memcpy(name, svc, slen);
        name[slen] = '.';
        memcpy(name + slen + 1, slash + 1, mlen + 1);
    }
    return name;
}


/* The endpoint called name (Debug.Health: none), or a 404. */
void
micro_request_find(micro_request_t *r, const char *name)
{
    size_t           i;
    micro_server_t  *s = r->server;

    if (name[0] == '/' && (name = micro_request_grpc_endpoint(r, name))
                          == NULL)
    {
        micro_request_set_error(r, "go.micro.server", 404, "unknown "
                                "endpoint");
        return;
    }
    r->endpoint_name = name;
    if (strcmp(name, "Debug.Health") == 0) {
        return;
    }
    for (i = 0; i < s->nendpoints; i++) {
        if (strcmp(s->endpoints[i].name, name) == 0) {
            r->endpoint = &s->endpoints[i];
            return;
        }
    }
    micro_request_set_error(r, "go.micro.server", 404, "unknown endpoint %s",
                            name);
}


static void
micro_request_health(micro_request_t *r)
{
    /* go-micro's Debug.Health: HealthResponse{status: "ok"} */
    if (r->json) {
        micro_buf_append(&r->reply, "{\"status\":\"ok\"}", 15);
    } else {
        micro_buf_append(&r->reply, "\x0a\x02ok", 4);
    }
    r->status = 200;
}


/* Decodes, runs the handler, encodes; on a worker or the I/O thread. */
void
micro_request_execute(micro_request_t *r)
{
    int                              rc;
    micro_buf_t                      pb = { 0 };
    ProtobufCMessage                *req = NULL, *resp = NULL;
    const micro_endpoint_handler_t  *ep = r->endpoint;

    if (r->status) {
        return;
    }
    if (ep == NULL) {
        micro_request_health(r);
        return;
    }

    if (r->json) {
        rc = micro_json_to_pb(ep->request_type, (const char *) r->body.data,
                              r->body.len, NULL, &pb);
        if (rc != MICRO_OK) {
            micro_request_set_error(r, "go.micro.server", 400,
                                    "invalid request body: %s",
                                    micro_error_detail());
            goto done;
        }
        req = protobuf_c_message_unpack(ep->request, NULL, pb.len, pb.data);
    } else {
        req = protobuf_c_message_unpack(ep->request, NULL, r->body.len,
                                        r->body.data);
    }
    if (req == NULL) {
        micro_request_set_error(r, "go.micro.server", 400,
                                "invalid request body: not a %s",
                                ep->request->name);
        goto done;
    }

    resp = micro_request_alloc(r, ep->response->sizeof_message);
    if (resp == NULL) {
        micro_request_set_error(r, "go.micro.server", 500, "out of memory");
        goto done;
    }
    ep->response->message_init(resp);

    rc = ep->handler(r, req, resp, ep->data);
    if (rc != 0) {
        if (r->status == 0) {
            micro_request_set_error(r, r->server->opts.name, 500,
                                    "handler %s failed", ep->name);
        }
        goto done;
    }

    pb.len = 0;
    if (micro_buf_pack(&pb, resp) != MICRO_OK) {
        micro_request_set_error(r, "go.micro.server", 500, "out of memory");
        goto done;
    }

    if (r->json) {
        if (micro_pb_to_json(ep->response_type, pb.data, pb.len, NULL,
                             &r->reply) != MICRO_OK)
        {
            micro_request_set_error(r, "go.micro.server", 500,
                                    "cannot encode the response: %s",
                                    micro_error_detail());
            goto done;
        }
    } else {
        micro_buf_free(&r->reply);
        r->reply = pb;
        memset(&pb, 0, sizeof(pb));
    }
    r->status = 200;

done:
    if (req) {
        protobuf_c_message_free_unpacked(req, NULL);
    }
    micro_buf_free(&pb);
}
