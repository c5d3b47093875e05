/*
 * web: a web service for micro_web, registered as go.micro.web.NAME with a
 * heartbeat. It serves, below the base path NGINX tells it in
 * X-Micro-Web-Base-Path:
 *
 *     /              an HTML page with a WebSocket echo (its script is
 *                    /app.js: no inline script, so a strict CSP holds)
 *     /info          JSON: what the request looked like here, and the
 *                    connections this node accepted (keepalive shows)
 *     /echo          the request's body back
 *     /stream        a chunked reply whose last line waits for a request
 *                    to /stream/release (a reply that streams, shown)
 *     /ws            WebSocket echo, text and binary
 *
 *   build/bin/web [--name demo] [--registry URL] [--address HOST:PORT]
 *                 [--advertise HOST:PORT] [--version V] [--ttl SECONDS]
 *
 * Any process that speaks HTTP can be a web service: register its address
 * under go.micro.web.NAME (README, "Registry format"); this one uses
 * libmicro's registry and heartbeat, with libuv and http-parser.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <uv.h>

#include <micro.h>

#include "micro/websocket.h"


#define WEB_MAX_BODY       (1024 * 1024)
#define WEB_MAX_HEAD       (16 * 1024)
#define WEB_HEADER_LEN     256


typedef enum {
    H_NONE = 0, H_BASE_PATH, H_HOST, H_XFF, H_XFP, H_XFH, H_WS_KEY, H_NHEADERS
} web_header_t;

static const char  *web_header_names[H_NHEADERS] = {
    NULL, "x-micro-web-base-path", "host", "x-forwarded-for",
    "x-forwarded-proto", "x-forwarded-host", "sec-websocket-key"
};


typedef struct {
    uv_tcp_t        tcp;
    http_parser     parser;
    char            url[1024];
    char            field[64];
    size_t          field_len;
    web_header_t    current;
    int             in_value;
    char            headers[H_NHEADERS][WEB_HEADER_LEN];
    char           *body;
    size_t          body_len;
    size_t          head_len;
    unsigned long   requests;        /* on this connection */
    int             websocket;
    int             closing;         /* 1: once written, 2: closed */
    int             writing;         /* writes not done */
    uint8_t        *ws;              /* frames not read whole yet */
    size_t          ws_len;
} web_conn_t;


static const char          *web_name;
static const char          *web_address;
static unsigned long        web_connections;   /* accepted */
static web_conn_t          *web_streaming;     /* held by /stream */
static http_parser_settings web_settings;


static void web_close(web_conn_t *c);


static void
web_on_write(uv_write_t *w, int status)
{
    web_conn_t  *c = w->data;

    (void) status;
    free(w);
    if (--c->writing == 0 && c->closing == 1) {
        web_close(c);
    }
}


/* Writes len bytes (copied); close 1: close once they are out. */
static void
web_send(web_conn_t *c, const void *data, size_t len, int close)
{
    uv_buf_t     b;
    uv_write_t  *w;

    if (c->closing) {
        return;
    }
    w = malloc(sizeof(uv_write_t) + len);
    if (w == NULL) {
        web_close(c);
        return;
    }
    memcpy(w + 1, data, len);
    w->data = c;
    b = uv_buf_init((char *) (w + 1), (unsigned) len);
    if (uv_write(w, (uv_stream_t *) &c->tcp, &b, 1, web_on_write) != 0) {
        free(w);
        web_close(c);
        return;
    }
    c->writing++;
    if (close) {
        c->closing = 1;
    }
}


static void
web_reply(web_conn_t *c, int status, const char *type, const char *extra,
    const char *body, size_t len)
{
    int    keep = http_should_keep_alive(&c->parser);
    char   head[512];
    int    n;

    n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                 status, status == 200 ? "OK" : "Error", type, len,
                 extra ? extra : "", keep ? "" : "Connection: close\r\n");
    web_send(c, head, (size_t) n, 0);
    web_send(c, body, len, !keep);
}


/* A JSON string's contents: quotes, backslashes and controls escaped. */
static void
web_json_str(char *out, size_t size, const char *s)
{
    size_t  o = 0;

    for ( /* void */ ; *s && o + 7 < size; s++) {
        if (*s == '"' || *s == '\\') {
            out[o++] = '\\';
            out[o++] = *s;
        } else if ((unsigned char) *s < 0x20) {
            o += (size_t) snprintf(out + o, size - o, "\\u%04x", *s);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}


static void
web_info(web_conn_t *c)
{
    int          i, n;
    char         body[4096], v[2 * WEB_HEADER_LEN];
    static const char  *keys[H_NHEADERS] = {
        NULL, "base_path", "host", "x_forwarded_for", "x_forwarded_proto",
        "x_forwarded_host", NULL
    };

    web_json_str(v, sizeof(v), c->url);
    n = snprintf(body, sizeof(body), "{\"service\":\"go.micro.web.%s\","
                 "\"node\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
                 "\"requests\":%lu,\"connections\":%lu", web_name,
                 web_address, http_method_str(c->parser.method), v,
                 c->requests, web_connections);
    for (i = H_BASE_PATH; i < H_WS_KEY; i++) {
        web_json_str(v, sizeof(v), c->headers[i]);
        n += snprintf(body + n, sizeof(body) - (size_t) n, ",\"%s\":\"%s\"",
                      keys[i], v);
    }
    n += snprintf(body + n, sizeof(body) - (size_t) n, "}\n");
    web_reply(c, 200, "application/json", NULL, body, (size_t) n);
}


static void
web_page(web_conn_t *c)
{
    int          n;
    char         body[2048], base[2 * WEB_HEADER_LEN];
    const char  *p;
    size_t       o = 0;

    /* the base path goes into attributes: escaped for them */
    for (p = c->headers[H_BASE_PATH]; *p && o + 6 < sizeof(base); p++) {
        o += (size_t) (strchr("<>&\"'", *p)
                       ? snprintf(base + o, sizeof(base) - o, "&#%d;", *p)
                       : snprintf(base + o, sizeof(base) - o, "%c", *p));
    }
    base[o] = '\0';
    n = snprintf(body, sizeof(body),
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>%s</title><script src=\"%s/app.js\" defer></script>"
        "</head>\n<body data-base=\"%s\"><h1>go.micro.web.%s</h1>"
        "<p>Served by <code>%s</code>.</p>\n"
        "<form id=\"echo\"><input id=\"message\" value=\"hello\">"
        "<button>Send</button></form>\n<ul id=\"replies\"></ul>\n"
        "</body></html>\n", web_name, base, base, web_name, web_address);
    web_reply(c, 200, "text/html; charset=utf-8", NULL, body, (size_t) n);
}


static void
web_script(web_conn_t *c)
{
    static const char  js[] =
        "const base = document.body.dataset.base;\n"
        "const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';\n"
        "const ws = new WebSocket(scheme + '//' + location.host + base"
        " + '/ws');\n"
        "ws.onmessage = (e) => {\n"
        "  const li = document.createElement('li');\n"
        "  li.textContent = e.data;\n"
        "  document.getElementById('replies').append(li);\n"
        "};\n"
        "document.getElementById('echo').onsubmit = (e) => {\n"
        "  e.preventDefault();\n"
        "  ws.send(document.getElementById('message').value);\n"
        "};\n";

    web_reply(c, 200, "text/javascript", NULL, js, sizeof(js) - 1);
}


/* /stream: two lines now, the last once /stream/release comes. */
static void
web_stream(web_conn_t *c)
{
    static const char  head[] = "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
        "X-Accel-Buffering: no\r\n\r\n"
        "7\r\nline 1\n\r\n" "7\r\nline 2\n\r\n";

    if (web_streaming) {
        web_reply(c, 409, "text/plain", NULL, "one stream at a time\n", 21);
        return;
    }
    web_send(c, head, sizeof(head) - 1, 0);
    web_streaming = c;
}


static void
web_release(web_conn_t *c)
{
    static const char  last[] = "5\r\nlast\n\r\n0\r\n\r\n";

    if (web_streaming == NULL) {
        web_reply(c, 409, "text/plain", NULL, "no stream\n", 10);
        return;
    }
    web_send(web_streaming, last, sizeof(last) - 1,
             !http_should_keep_alive(&web_streaming->parser));
    web_streaming = NULL;
    web_reply(c, 200, "text/plain", NULL, "released\n", 9);
}


static void
web_upgrade(web_conn_t *c)
{
    int   n;
    char  head[256], accept[29];

    if (c->headers[H_WS_KEY][0] == '\0') {
        web_reply(c, 400, "text/plain", NULL, "no Sec-WebSocket-Key\n", 21);
        c->closing = c->closing ? c->closing : 1;
        return;
    }
    micro_ws_accept_key(c->headers[H_WS_KEY], strlen(c->headers[H_WS_KEY]),
                  accept);
    n = snprintf(head, sizeof(head), "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    web_send(c, head, (size_t) n, 0);
    c->websocket = 1;
}


/* Echoes frames; answers ping, and close with close. */
static void
web_ws_data(web_conn_t *c, const char *data, size_t len)
{
    long        n;
    size_t      used = 0;
    uint8_t    *out, *grown;
    micro_ws_frame_t  f;

    grown = realloc(c->ws, c->ws_len + len);
    if (grown == NULL) {
        web_close(c);
        return;
    }
    c->ws = grown;
    memcpy(c->ws + c->ws_len, data, len);
    c->ws_len += len;

    while (!c->closing
           && (n = micro_ws_frame_read(c->ws + used, c->ws_len - used,
                                 WEB_MAX_BODY, &f)) != 0)
    {
        if (n < 0) {
            static const uint8_t  too_big[] = { 0x88, 2, 0x03, 0xf1 };

            web_send(c, too_big, sizeof(too_big), 1);     /* 1009 */
            break;
        }
        used += (size_t) n;
        out = malloc(micro_ws_frame_size(f.len));
        if (out == NULL) {
            web_close(c);
            return;
        }
        n = (long) micro_ws_frame_write(out, f.fin, f.opcode == MICRO_WS_PING ? MICRO_WS_PONG
                                                                  : f.opcode,
                                  f.payload, f.len);
        if (f.opcode != MICRO_WS_PONG) {
            web_send(c, out, (size_t) n, f.opcode == MICRO_WS_CLOSE);
        }
        free(out);
    }
    memmove(c->ws, c->ws + used, c->ws_len - used);
    c->ws_len -= used;
}


static int
web_on_message_begin(http_parser *p)
{
    web_conn_t  *c = p->data;

    c->url[0] = '\0';
    c->field_len = 0;
    c->in_value = 0;
    c->current = H_NONE;
    c->body_len = 0;
    c->head_len = 0;
    memset(c->headers, 0, sizeof(c->headers));
    return 0;
}


static int
web_on_url(http_parser *p, const char *at, size_t len)
{
    web_conn_t  *c = p->data;
    size_t       have = strlen(c->url);

    if (have + len >= sizeof(c->url)) {
        return -1;
    }
    memcpy(c->url + have, at, len);
    c->url[have + len] = '\0';
    return 0;
}


/* A header's name may come in pieces, then its value in pieces. */
static int
web_on_header_field(http_parser *p, const char *at, size_t len)
{
    size_t       i;
    web_conn_t  *c = p->data;

    c->head_len += len;
    if (c->head_len > WEB_MAX_HEAD) {
        return -1;
    }
    if (c->in_value) {
        c->in_value = 0;
        c->field_len = 0;
    }
    for (i = 0; i < len && c->field_len + 1 < sizeof(c->field); i++) {
        c->field[c->field_len++] = (char) (at[i] | 0x20);     /* lowercase */
    }
    c->field[c->field_len] = '\0';
    return 0;
}


static int
web_on_header_value(http_parser *p, const char *at, size_t len)
{
    int          i;
    size_t       have;
    web_conn_t  *c = p->data;

    c->head_len += len;
    if (c->head_len > WEB_MAX_HEAD) {
        return -1;
    }
    if (!c->in_value) {
        c->in_value = 1;
        c->current = H_NONE;
        for (i = 1; i < H_NHEADERS; i++) {
            if (strcmp(c->field, web_header_names[i]) == 0) {
                c->current = (web_header_t) i;
            }
        }
    }
    if (c->current == H_NONE) {
        return 0;
    }
    have = strlen(c->headers[c->current]);
    if (have + len < WEB_HEADER_LEN) {
        memcpy(c->headers[c->current] + have, at, len);
        c->headers[c->current][have + len] = '\0';
    }
    return 0;
}


static int
web_on_body(http_parser *p, const char *at, size_t len)
{
    char        *grown;
    web_conn_t  *c = p->data;

    if (c->body_len + len > WEB_MAX_BODY) {
        return -1;
    }
    grown = realloc(c->body, c->body_len + len + 1);
    if (grown == NULL) {
        return -1;
    }
    c->body = grown;
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}


static int
web_on_message_complete(http_parser *p)
{
    web_conn_t  *c = p->data;
    char         url[sizeof(c->url)];

    /* routed by the path; /info shows the query too */
    c->requests++;
    snprintf(url, sizeof(url), "%.*s", (int) strcspn(c->url, "?"), c->url);
    if (p->upgrade) {
        if (strcmp(url, "/ws") == 0) {
            web_upgrade(c);
        } else {
            web_reply(c, 404, "text/plain", NULL, "no such socket\n", 15);
            c->closing = c->closing ? c->closing : 1;
        }
    } else if (strcmp(url, "/") == 0) {
        web_page(c);
    } else if (strcmp(url, "/app.js") == 0) {
        web_script(c);
    } else if (strcmp(url, "/info") == 0) {
        web_info(c);
    } else if (strcmp(url, "/echo") == 0) {
        web_reply(c, 200, "application/octet-stream", NULL,
                  c->body ? c->body : "", c->body_len);
    } else if (strcmp(url, "/stream") == 0) {
        web_stream(c);
    } else if (strcmp(url, "/stream/release") == 0) {
        web_release(c);
    } else {
        web_reply(c, 404, "text/plain", NULL, "not found\n", 10);
    }
    return 0;
}


static void
web_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void) h;
    b->base = malloc(suggested);
    b->len = b->base ? suggested : 0;
}


static void
web_on_close(uv_handle_t *h)
{
    web_conn_t  *c = h->data;

    if (web_streaming == c) {
        web_streaming = NULL;
    }
    free(c->body);
    free(c->ws);
    free(c);
}


static void
web_close(web_conn_t *c)
{
    if (c->closing != 2) {
        c->closing = 2;
        uv_close((uv_handle_t *) &c->tcp, web_on_close);
    }
}


static void
web_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    size_t       used;
    web_conn_t  *c = s->data;

    if (n < 0) {
        web_close(c);
    } else if (n > 0 && c->websocket) {
        web_ws_data(c, b->base, (size_t) n);
    } else if (n > 0) {
        used = http_parser_execute(&c->parser, &web_settings, b->base,
                                   (size_t) n);
        if (c->parser.upgrade && c->websocket) {
            web_ws_data(c, b->base + used, (size_t) n - used);
        } else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
            static const char  bad[] = "HTTP/1.1 400 Bad Request\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n";

            web_send(c, bad, sizeof(bad) - 1, 1);
        }
    }
    free(b->base);
}


static void
web_on_connection(uv_stream_t *server, int status)
{
    web_conn_t  *c;

    if (status != 0 || (c = calloc(1, sizeof(web_conn_t))) == NULL) {
        return;
    }
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *) &c->tcp) != 0) {
        uv_close((uv_handle_t *) &c->tcp, web_on_close);
        return;
    }
    web_connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_read_start((uv_stream_t *) &c->tcp, web_alloc, web_on_read);
}


static void
web_on_signal(uv_signal_t *sig, int signum)
{
    (void) signum;
    uv_stop(sig->loop);
}


/* --name NAME taken out of argv; the rest is libmicro's server options. */
static const char *
web_take_name(int *argc, char **argv)
{
    int          i;
    const char  *name = "demo";

    for (i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < *argc) {
            name = argv[i + 1];
            memmove(&argv[i], &argv[i + 2], (size_t) (*argc - i - 1)
                                            * sizeof(char *));
            *argc -= 2;
            break;
        }
    }
    return name;
}


int
main(int argc, char **argv)
{
    int                       rc, len;
    char                      service[MICRO_NAME_MAX + 1], host[64];
    char                      address[80], id[MICRO_NAME_MAX + 40];
    uv_loop_t                *loop = uv_default_loop();
    uv_tcp_t                  server;
    uv_signal_t               sigint, sigterm;
    micro_node_t              node;
    micro_service_t           svc;
    micro_registry_t         *reg = NULL;
    micro_heartbeat_t        *hb = NULL;
    struct sockaddr_storage   sa;
    micro_registry_options_t  ro;
    micro_server_options_t    o;

    web_name = web_take_name(&argc, argv);
    snprintf(service, sizeof(service), "go.micro.web.%s", web_name);
    micro_server_options_init(&o, service);
    if (micro_server_options_args(&o, argc, argv) != 0) {
        return 2;
    }

    /* listen where asked (port 0: the kernel's choice) */
    len = sizeof(sa);
    if (sscanf(o.address, "%63[^:]:%d", host, &rc) != 2
        || uv_ip4_addr(host, rc, (struct sockaddr_in *) &sa) != 0
        || uv_tcp_init(loop, &server) != 0
        || uv_tcp_bind(&server, (struct sockaddr *) &sa, 0) != 0
        || uv_listen((uv_stream_t *) &server, 511, web_on_connection) != 0
        || uv_tcp_getsockname(&server, (struct sockaddr *) &sa, &len) != 0)
    {
        fprintf(stderr, "web: cannot listen on \"%s\"\n", o.address);
        return 1;
    }
    snprintf(address, sizeof(address), "%s:%d", host,
             ntohs(((struct sockaddr_in *) &sa)->sin_port));
    web_address = o.advertise ? o.advertise : address;

    http_parser_settings_init(&web_settings);
    web_settings.on_message_begin = web_on_message_begin;
    web_settings.on_url = web_on_url;
    web_settings.on_header_field = web_on_header_field;
    web_settings.on_header_value = web_on_header_value;
    web_settings.on_body = web_on_body;
    web_settings.on_message_complete = web_on_message_complete;
    signal(SIGPIPE, SIG_IGN);

    /* registered once it can serve: a plain HTTP node, with its TTL */
    memset(&svc, 0, sizeof(svc));
    memset(&node, 0, sizeof(node));
    snprintf(id, sizeof(id), "%s-%s", service, web_address);
    node.id = id;
    node.address = (char *) web_address;
    svc.name = service;
    svc.version = (char *) (o.version ? o.version : "latest");
    svc.nodes = &node;
    svc.nnodes = 1;
    rc = micro_registry_options_parse(&ro, o.registry);
    if (rc == MICRO_OK) {
        rc = micro_registry_new(&ro, &reg);
        micro_registry_options_free(&ro);
    }
    if (rc == MICRO_OK) {
        rc = micro_heartbeat_start(reg, &svc, o.ttl_ms, &hb);
    }
    if (rc != MICRO_OK) {
        fprintf(stderr, "web: not registered yet: %s\n",
                micro_error_detail());
    }
    fprintf(stderr, "%s listening on %s\n", service, web_address);

    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, web_on_signal, SIGINT);
    uv_signal_start(&sigterm, web_on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);

    /* deregistered first, so no new request comes */
    if (hb) {
        micro_heartbeat_stop(hb, 1);
    }
    micro_registry_free(reg);
    return 0;
}
