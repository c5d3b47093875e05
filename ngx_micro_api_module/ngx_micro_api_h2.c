/*
 * HTTP/2 client connections on NGINX's event loop (ngx_micro_api_h2.h).
 * NGINX's own grpc_pass takes a connection a request; here every request
 * of the worker to a node shares the node's one connection, nghttp2 does
 * the framing, and the worker's loop does the I/O: connect, read whatever
 * is there, and write what nghttp2 has once a turn (a posted event), with
 * TCP_NODELAY so no small write waits for an ACK.
 *
 * A connection and its streams are the worker's (ngx_alloc), not a
 * request's: a stream whose request went away is reset and lives until
 * nghttp2 closes it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_event_connect.h>

#include "ngx_micro_api_h2.h"


#define NGX_MICRO_H2_WINDOW       (1 << 20)     /* a stream's, received */
#define NGX_MICRO_H2_CONN_WINDOW  (16 << 20)
#define NGX_MICRO_H2_WRITE_MAX    (256 * 1024)  /* pending before a send */


struct ngx_micro_h2_conn_s {
    ngx_str_node_t             sn;            /* in the tree, by node */
    ngx_connection_t          *c;
    nghttp2_session           *session;
    ngx_queue_t                streams;
    ngx_uint_t                 nstreams;
    ngx_event_t                flush;         /* posted: write this turn */
    u_char                    *out;           /* what nghttp2 gave, */
    size_t                     out_pos;       /* written so far, */
    size_t                     out_len;       /* in all */
    size_t                     out_size;
    ngx_msec_t                 idle_timeout;
    ngx_log_t                  log;
    unsigned                   connected:1;
    unsigned                   in_tree:1;
    unsigned                   reading:1;     /* in nghttp2's callbacks */
};

struct ngx_micro_h2_stream_s {
    ngx_queue_t                queue;
    ngx_micro_h2_conn_t       *conn;
    int32_t                    id;
    ngx_micro_h2_handler_t    *handler;
    void                      *data;          /* NULL: cancelled */
    u_char                    *body;          /* to send, */
    size_t                     len;           /* bytes of it left */
    unsigned                   last:1;        /* END_STREAM after them */
    unsigned                   deferred:1;    /* nghttp2 waits for more */
    unsigned                   sent:1;        /* its HEADERS went out */
};


static ngx_rbtree_t                ngx_micro_h2_tree;
static ngx_rbtree_node_t           ngx_micro_h2_sentinel;
static nghttp2_session_callbacks  *ngx_micro_h2_callbacks;
static u_char                      ngx_micro_h2_buf[16384];   /* reads */


static ngx_micro_h2_conn_t *ngx_micro_h2_connect(ngx_micro_h2_peer_t *peer);
static void ngx_micro_h2_read_handler(ngx_event_t *rev);
static void ngx_micro_h2_write_handler(ngx_event_t *wev);
static void ngx_micro_h2_flush_handler(ngx_event_t *ev);
static ngx_int_t ngx_micro_h2_write(ngx_micro_h2_conn_t *h2);
static void ngx_micro_h2_close(ngx_micro_h2_conn_t *h2, const char *why);
static void ngx_micro_h2_idle(ngx_micro_h2_conn_t *h2);
static void ngx_micro_h2_forget(ngx_micro_h2_conn_t *h2);


static void
ngx_micro_h2_post(ngx_micro_h2_conn_t *h2)
{
    if (!h2->flush.posted) {
        ngx_post_event(&h2->flush, &ngx_posted_events);
    }
}


/* nghttp2's callbacks */

static ssize_t
ngx_micro_h2_body(nghttp2_session *session, int32_t id, uint8_t *buf,
    size_t length, uint32_t *flags, nghttp2_data_source *source,
    void *user_data)
{
    size_t                  n;
    ngx_micro_h2_stream_t  *st = source->ptr;

    if (st->data == NULL) {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (st->len == 0 && !st->last && st->handler->drained) {
        st->handler->drained(st->data);          /* may send more */
    }
    n = ngx_min(length, st->len);
    if (n) {
        ngx_memcpy(buf, st->body, n);
        st->body += n;
        st->len -= n;
    }
    if (st->len == 0) {
        if (st->last) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        } else if (n == 0) {
            st->deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
    }
    return (ssize_t) n;
}


static int
ngx_micro_h2_on_header(nghttp2_session *session, const nghttp2_frame *frame,
    const uint8_t *name, size_t namelen, const uint8_t *value,
    size_t valuelen, uint8_t flags, void *user_data)
{
    ngx_str_t               n, v;
    ngx_micro_h2_stream_t  *st;

    if (frame->hd.type != NGHTTP2_HEADERS) {
        return 0;
    }
    st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (st == NULL || st->data == NULL) {
        return 0;
    }
    n.data = (u_char *) name;
    n.len = namelen;
    v.data = (u_char *) value;
    v.len = valuelen;
    if (st->handler->header(st->data, &n, &v,
                            frame->headers.cat == NGHTTP2_HCAT_HEADERS)
        != NGX_OK)
    {
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;   /* resets it */
    }
    return 0;
}


static int
ngx_micro_h2_on_data(nghttp2_session *session, uint8_t flags, int32_t id,
    const uint8_t *data, size_t len, void *user_data)
{
    ngx_micro_h2_stream_t  *st;

    st = nghttp2_session_get_stream_user_data(session, id);
    if (st == NULL || st->data == NULL) {
        (void) nghttp2_session_consume(session, id, len);
        return 0;
    }
    if (st->handler->data(st->data, (u_char *) data, len) != NGX_OK) {
        (void) nghttp2_session_consume(session, id, len);
        (void) nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id,
                                         NGHTTP2_CANCEL);
    }
    return 0;
}


static int
ngx_micro_h2_on_frame_send(nghttp2_session *session,
    const nghttp2_frame *frame, void *user_data)
{
    ngx_micro_h2_stream_t  *st;

    if (frame->hd.type == NGHTTP2_HEADERS) {
        st = nghttp2_session_get_stream_user_data(session,
                                                  frame->hd.stream_id);
        if (st) {
            st->sent = 1;
        }
    }
    return 0;
}


/* A GOAWAY: no new stream on this connection; those it did not take are
 * closed by nghttp2 as refused, and tried elsewhere by their owners. */
static int
ngx_micro_h2_on_frame_recv(nghttp2_session *session,
    const nghttp2_frame *frame, void *user_data)
{
    ngx_micro_h2_conn_t  *h2 = user_data;

    if (frame->hd.type == NGHTTP2_GOAWAY) {
        ngx_log_error(NGX_LOG_INFO, &h2->log, 0, "micro grpc: %V sent "
                      "GOAWAY (%ud), last stream %D", &h2->sn.str,
                      frame->goaway.error_code, frame->goaway.last_stream_id);
        ngx_micro_h2_forget(h2);
    }
    return 0;
}


static int
ngx_micro_h2_on_close(nghttp2_session *session, int32_t id,
    uint32_t error_code, void *user_data)
{
    ngx_micro_h2_conn_t     *h2 = user_data;
    ngx_micro_h2_stream_t   *st;
    ngx_micro_h2_end_t       how;

    st = nghttp2_session_get_stream_user_data(session, id);
    if (st == NULL) {
        return 0;
    }
    (void) nghttp2_session_set_stream_user_data(session, id, NULL);
    ngx_queue_remove(&st->queue);
    h2->nstreams--;

    if (st->data) {
        how = error_code == NGHTTP2_NO_ERROR ? NGX_MICRO_H2_CLOSED
              : error_code == NGHTTP2_REFUSED_STREAM ? NGX_MICRO_H2_REFUSED
              : NGX_MICRO_H2_RESET;
        st->handler->end(st->data, how, error_code);
    }
    ngx_free(st);

    if (h2->nstreams == 0) {
        ngx_micro_h2_idle(h2);
    }
    return 0;
}


static ngx_int_t
ngx_micro_h2_init_callbacks(void)
{
    nghttp2_session_callbacks  *cb;

    if (ngx_micro_h2_callbacks) {
        return NGX_OK;
    }
    if (nghttp2_session_callbacks_new(&cb) != 0) {
        return NGX_ERROR;
    }
    nghttp2_session_callbacks_set_on_header_callback(cb,
                                                     ngx_micro_h2_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb,
        ngx_micro_h2_on_data);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb,
        ngx_micro_h2_on_frame_send);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb,
        ngx_micro_h2_on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb,
        ngx_micro_h2_on_close);
    ngx_micro_h2_callbacks = cb;
    ngx_rbtree_init(&ngx_micro_h2_tree, &ngx_micro_h2_sentinel,
                    ngx_str_rbtree_insert_value);
    return NGX_OK;
}


/* streams */

ngx_micro_h2_stream_t *
ngx_micro_h2_open(ngx_micro_h2_peer_t *peer, nghttp2_nv *nv, size_t nnv,
    u_char *body, size_t len, ngx_uint_t last,
    ngx_micro_h2_handler_t *handler, void *data)
{
    uint32_t                hash;
    ngx_micro_h2_conn_t    *h2;
    ngx_micro_h2_stream_t  *st;
    nghttp2_data_provider   provider;

    if (ngx_micro_h2_init_callbacks() != NGX_OK) {
        return NULL;
    }
    hash = ngx_crc32_short(peer->node.data, peer->node.len);
    h2 = (ngx_micro_h2_conn_t *) ngx_str_rbtree_lookup(&ngx_micro_h2_tree,
                                                       &peer->node, hash);
    if (h2 == NULL) {
        h2 = ngx_micro_h2_connect(peer);
        if (h2 == NULL) {
            return NULL;
        }
    }

    st = ngx_calloc(sizeof(ngx_micro_h2_stream_t), peer->log);
    if (st == NULL) {
        return NULL;
    }
    st->conn = h2;
    st->handler = handler;
    st->data = data;
    st->body = body;
    st->len = len;
    st->last = last;
    provider.source.ptr = st;
    provider.read_callback = ngx_micro_h2_body;

    st->id = nghttp2_submit_request(h2->session, NULL, nv, nnv, &provider,
                                    st);
    if (st->id < 0) {
        ngx_log_error(NGX_LOG_ERR, peer->log, 0, "micro grpc: no stream to "
                      "%V: %s", &peer->node, nghttp2_strerror(st->id));
        ngx_free(st);
        return NULL;
    }
    ngx_queue_insert_tail(&h2->streams, &st->queue);
    if (h2->nstreams++ == 0) {
        h2->c->idle = 0;
        if (h2->c->read->timer_set) {
            ngx_del_timer(h2->c->read);
        }
    }
    ngx_micro_h2_post(h2);
    return st;
}


ngx_int_t
ngx_micro_h2_send(ngx_micro_h2_stream_t *st, u_char *body, size_t len,
    ngx_uint_t last)
{
    ngx_micro_h2_conn_t  *h2 = st->conn;

    st->body = body;
    st->len = len;
    st->last = last;
    if (st->deferred) {
        st->deferred = 0;
        if (nghttp2_session_resume_data(h2->session, st->id) != 0) {
            return NGX_ERROR;
        }
    }
    ngx_micro_h2_post(h2);
    return NGX_OK;
}


size_t
ngx_micro_h2_sending(ngx_micro_h2_stream_t *st)
{
    return st->len;
}


void
ngx_micro_h2_consume(ngx_micro_h2_stream_t *st, size_t n)
{
    (void) nghttp2_session_consume(st->conn->session, st->id, n);
    if (!st->conn->reading) {
        ngx_micro_h2_post(st->conn);
    }
}


void
ngx_micro_h2_cancel(ngx_micro_h2_stream_t *st)
{
    ngx_micro_h2_conn_t  *h2 = st->conn;

    st->data = NULL;
    (void) nghttp2_submit_rst_stream(h2->session, NGHTTP2_FLAG_NONE, st->id,
                                     NGHTTP2_CANCEL);
    ngx_micro_h2_post(h2);
}


/* connections */

static ngx_micro_h2_conn_t *
ngx_micro_h2_connect(ngx_micro_h2_peer_t *peer)
{
    ngx_int_t               rc;
    nghttp2_option         *opt;
    ngx_connection_t       *c;
    ngx_micro_h2_conn_t    *h2;
    ngx_peer_connection_t   pc;
    nghttp2_settings_entry  settings[] = {
        { NGHTTP2_SETTINGS_ENABLE_PUSH, 0 },
        { NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, NGX_MICRO_H2_WINDOW },
    };

    h2 = ngx_calloc(sizeof(ngx_micro_h2_conn_t) + peer->node.len,
                    peer->log);
    if (h2 == NULL) {
        return NULL;
    }
    h2->sn.str.data = (u_char *) (h2 + 1);
    h2->sn.str.len = peer->node.len;
    ngx_memcpy(h2->sn.str.data, peer->node.data, peer->node.len);
    h2->sn.node.key = ngx_crc32_short(peer->node.data, peer->node.len);
    h2->idle_timeout = peer->idle_timeout;
    h2->log = *ngx_cycle->log;
    h2->log.connection = 0;
    h2->log.handler = NULL;
    h2->log.data = NULL;
    ngx_queue_init(&h2->streams);

    if (nghttp2_option_new(&opt) != 0) {
        ngx_free(h2);
        return NULL;
    }
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
    rc = nghttp2_session_client_new2(&h2->session, ngx_micro_h2_callbacks,
                                     h2, opt);
    nghttp2_option_del(opt);
    if (rc != 0) {
        ngx_free(h2);
        return NULL;
    }
    (void) nghttp2_submit_settings(h2->session, NGHTTP2_FLAG_NONE, settings,
                                   sizeof(settings) / sizeof(settings[0]));
    (void) nghttp2_session_set_local_window_size(h2->session,
                                                 NGHTTP2_FLAG_NONE, 0,
                                                 NGX_MICRO_H2_CONN_WINDOW);

    ngx_memzero(&pc, sizeof(ngx_peer_connection_t));
    pc.sockaddr = peer->sockaddr;
    pc.socklen = peer->socklen;
    pc.name = &h2->sn.str;
    pc.get = ngx_event_get_peer;
    pc.log = &h2->log;
    pc.log_error = NGX_ERROR_ERR;

    rc = ngx_event_connect_peer(&pc);
    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, peer->log, 0, "micro grpc: cannot "
                      "connect to %V", &peer->node);
        if (pc.connection) {
            ngx_close_connection(pc.connection);
        }
        nghttp2_session_del(h2->session);
        ngx_free(h2);
        return NULL;
    }

    c = pc.connection;
    h2->c = c;
    c->data = h2;
    c->log = &h2->log;
    c->read->log = &h2->log;
    c->write->log = &h2->log;
    c->read->handler = ngx_micro_h2_read_handler;
    c->write->handler = ngx_micro_h2_write_handler;
    h2->flush.handler = ngx_micro_h2_flush_handler;
    h2->flush.data = h2;
    h2->flush.log = &h2->log;

    ngx_rbtree_insert(&ngx_micro_h2_tree, &h2->sn.node);
    h2->in_tree = 1;

    if (rc == NGX_AGAIN) {
        ngx_add_timer(c->write, peer->connect_timeout);
    } else {
        h2->connected = 1;
        (void) ngx_tcp_nodelay(c);
    }
    return h2;
}


/* New calls go to a new connection; this one ends with its streams. */
static void
ngx_micro_h2_forget(ngx_micro_h2_conn_t *h2)
{
    if (h2->in_tree) {
        ngx_rbtree_delete(&ngx_micro_h2_tree, &h2->sn.node);
        h2->in_tree = 0;
    }
}


/* No stream left: kept for the next calls, or closed when the worker is
 * going away or the node said GOAWAY. */
static void
ngx_micro_h2_idle(ngx_micro_h2_conn_t *h2)
{
    if (!h2->in_tree || ngx_exiting || ngx_terminate) {
        /* after what is pending is written (a GOAWAY, a RST) */
        (void) nghttp2_session_terminate_session(h2->session,
                                                 NGHTTP2_NO_ERROR);
        ngx_micro_h2_post(h2);
        return;
    }
    h2->c->idle = 1;
    ngx_add_timer(h2->c->read, h2->idle_timeout);
}


static void
ngx_micro_h2_read_handler(ngx_event_t *rev)
{
    ssize_t               n, rv;
    ngx_connection_t     *c = rev->data;
    ngx_micro_h2_conn_t  *h2 = c->data;

    if (rev->timedout || c->close) {
        /* kept idle for idle_timeout, or the worker's shutdown */
        if (h2->nstreams == 0) {
            ngx_micro_h2_close(h2, NULL);
            return;
        }
        rev->timedout = 0;
    }

    for ( ;; ) {
        n = c->recv(c, ngx_micro_h2_buf, sizeof(ngx_micro_h2_buf));
        if (n == NGX_AGAIN) {
            break;
        }
        if (n == 0 || n == NGX_ERROR) {
            ngx_micro_h2_close(h2, n == 0 ? "the node closed the connection"
                                          : "the connection failed");
            return;
        }
        h2->reading = 1;
        rv = nghttp2_session_mem_recv(h2->session, ngx_micro_h2_buf,
                                      (size_t) n);
        h2->reading = 0;
        if (rv < 0) {
            ngx_log_error(NGX_LOG_ERR, &h2->log, 0, "micro grpc: %V: %s",
                          &h2->sn.str, nghttp2_strerror((int) rv));
            ngx_micro_h2_close(h2, "HTTP/2 protocol error");
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_micro_h2_close(h2, "the connection failed");
        return;
    }
    /* acks and window updates without waiting for the turn's end */
    (void) ngx_micro_h2_write(h2);
}


static void
ngx_micro_h2_write_handler(ngx_event_t *wev)
{
    int                   err;
    socklen_t             len;
    ngx_connection_t     *c = wev->data;
    ngx_micro_h2_conn_t  *h2 = c->data;

    if (!h2->connected) {
        if (wev->timedout) {
            ngx_log_error(NGX_LOG_ERR, &h2->log, NGX_ETIMEDOUT,
                          "micro grpc: connecting to %V timed out",
                          &h2->sn.str);
            ngx_micro_h2_close(h2, NULL);
            return;
        }
        err = 0;
        len = sizeof(int);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len)
            == -1)
        {
            err = ngx_socket_errno;
        }
        if (err) {
            ngx_log_error(NGX_LOG_ERR, &h2->log, err, "micro grpc: connect "
                          "to %V failed", &h2->sn.str);
            ngx_micro_h2_close(h2, NULL);
            return;
        }
        if (wev->timer_set) {
            ngx_del_timer(wev);
        }
        h2->connected = 1;
        (void) ngx_tcp_nodelay(c);
    }
    (void) ngx_micro_h2_write(h2);
}


static void
ngx_micro_h2_flush_handler(ngx_event_t *ev)
{
    (void) ngx_micro_h2_write(ev->data);
}


/*
 * What nghttp2 has, gathered into one buffer and sent; the rest when the
 * socket takes more. NGX_ERROR: the connection is closed (h2 freed).
 */
static ngx_int_t
ngx_micro_h2_write(ngx_micro_h2_conn_t *h2)
{
    u_char            *p;
    ssize_t            n;
    size_t             size;
    const uint8_t     *data;
    ngx_connection_t  *c = h2->c;

    if (!h2->connected) {
        return NGX_OK;
    }
    for ( ;; ) {
        while (h2->out_len < NGX_MICRO_H2_WRITE_MAX
               && (n = nghttp2_session_mem_send(h2->session, &data)) != 0)
        {
            if (n < 0) {
                ngx_micro_h2_close(h2, "HTTP/2 protocol error");
                return NGX_ERROR;
            }
            if (h2->out_len + n > h2->out_size) {
                size = ngx_max(h2->out_size * 2, h2->out_len + n);
                size = ngx_max(size, 16384);
                p = ngx_alloc(size, &h2->log);
                if (p == NULL) {
                    ngx_micro_h2_close(h2, "out of memory");
                    return NGX_ERROR;
                }
                if (h2->out) {
                    ngx_memcpy(p, h2->out + h2->out_pos,
                               h2->out_len - h2->out_pos);
                    ngx_free(h2->out);
                }
                h2->out_len -= h2->out_pos;
                h2->out_pos = 0;
                h2->out = p;
                h2->out_size = size;
            }
            ngx_memcpy(h2->out + h2->out_len, data, n);
            h2->out_len += n;
        }
        if (h2->out_pos == h2->out_len) {
            break;
        }

        n = c->send(c, h2->out + h2->out_pos, h2->out_len - h2->out_pos);
        if (n == NGX_ERROR) {
            ngx_micro_h2_close(h2, "the connection failed");
            return NGX_ERROR;
        }
        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_micro_h2_close(h2, "the connection failed");
                return NGX_ERROR;
            }
            return NGX_OK;
        }
        h2->out_pos += n;
        if (h2->out_pos == h2->out_len) {
            h2->out_pos = h2->out_len = 0;
        }
    }

    if (!nghttp2_session_want_read(h2->session)
        && !nghttp2_session_want_write(h2->session))
    {
        ngx_micro_h2_close(h2, NULL);            /* GOAWAY both ways */
        return NGX_ERROR;
    }
    return NGX_OK;
}


/*
 * The connection closed: each stream still on it ends, refused when its
 * request never went out (its owner may try another node), reset if not.
 */
static void
ngx_micro_h2_close(ngx_micro_h2_conn_t *h2, const char *why)
{
    ngx_queue_t            *q;
    ngx_micro_h2_stream_t  *st;

    if (why && h2->nstreams) {
        ngx_log_error(NGX_LOG_ERR, &h2->log, 0, "micro grpc: %V: %s, %ui "
                      "calls ended", &h2->sn.str, why, h2->nstreams);
    }
    ngx_micro_h2_forget(h2);

    while (!ngx_queue_empty(&h2->streams)) {
        q = ngx_queue_head(&h2->streams);
        ngx_queue_remove(q);
        st = ngx_queue_data(q, ngx_micro_h2_stream_t, queue);
        (void) nghttp2_session_set_stream_user_data(h2->session, st->id,
                                                    NULL);
        if (st->data) {
            st->handler->end(st->data, st->sent && h2->connected
                                       ? NGX_MICRO_H2_RESET
                                       : NGX_MICRO_H2_REFUSED, 0);
        }
        ngx_free(st);
    }

    if (h2->flush.posted) {
        ngx_delete_posted_event(&h2->flush);
    }
    nghttp2_session_del(h2->session);
    ngx_close_connection(h2->c);
    if (h2->out) {
        ngx_free(h2->out);
    }
    ngx_free(h2);
}


/* The worker's exit: its connections closed, nghttp2's callbacks freed. */
void
ngx_micro_h2_exit(void)
{
    ngx_queue_t            *q;
    ngx_rbtree_node_t      *node;
    ngx_micro_h2_conn_t    *h2;
    ngx_micro_h2_stream_t  *st;

    if (ngx_micro_h2_callbacks == NULL) {
        return;
    }
    while (ngx_micro_h2_tree.root != ngx_micro_h2_tree.sentinel) {
        node = ngx_rbtree_min(ngx_micro_h2_tree.root,
                              ngx_micro_h2_tree.sentinel);
        h2 = (ngx_micro_h2_conn_t *) node;
        for (q = ngx_queue_head(&h2->streams);
             q != ngx_queue_sentinel(&h2->streams);
             q = ngx_queue_next(q))
        {
            st = ngx_queue_data(q, ngx_micro_h2_stream_t, queue);
            st->data = NULL;
        }
        ngx_micro_h2_close(h2, NULL);
    }
    nghttp2_session_callbacks_del(ngx_micro_h2_callbacks);
    ngx_micro_h2_callbacks = NULL;
}
