/*
 * micro's HTTP/1.1 transport through the transport interface, against a
 * peer on a loopback socket that reads the bytes and answers as scripted:
 * what a call puts on the wire, replies in each framing, a kept
 * connection reused and one the node closed meanwhile, timeouts, refusals.
 */

#define _GNU_SOURCE                      /* strcasestr */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "micro/error.h"
#include "core/clock.h"
#include "transport/transport.h"

/*
 * A peer: for each scripted reply reads one request (the head and its
 * Content-Length bytes) on its connection, accepting one when it has none,
 * and writes the reply; "close" closes the connection unanswered, "hang"
 * answers nothing for 2 s.
 */
typedef struct {
    int              listener;
    char             address[32];
    const char      *replies[4];
    char             requests[4][2048];
    int              accepted;
    pthread_t        thread;
} peer_t;


static int
read_request(int fd, char *buf, size_t size)
{
    size_t       len = 0;
    ssize_t      n;
    char        *end, *cl;
    size_t       want;

    for ( ;; ) {
        n = recv(fd, buf + len, size - 1 - len, 0);
        if (n <= 0) {
            return -1;
        }
        len += (size_t) n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            continue;
        }
        cl = strcasestr(buf, "Content-Length: ");
        want = (size_t) (end + 4 - buf) + (cl ? strtoul(cl + 16, NULL, 10)
                                              : 0);
        if (len >= want) {
            return 0;
        }
    }
}


static void *
peer_run(void *arg)
{
    int      i, fd = -1;
    peer_t  *p = arg;

    for (i = 0; i < 4 && p->replies[i]; i++) {
        if (fd < 0) {
            fd = accept(p->listener, NULL, NULL);
            p->accepted++;
        }
        if (read_request(fd, p->requests[i], sizeof(p->requests[i])) != 0) {
            /* the client closed a kept connection: take the next one */
            close(fd);
            fd = accept(p->listener, NULL, NULL);
            p->accepted++;
            if (read_request(fd, p->requests[i], sizeof(p->requests[i]))
                != 0)
            {
                break;
            }
        }
        if (strcmp(p->replies[i], "hang") == 0) {
            sleep(2);
            break;
        }
        if (strcmp(p->replies[i], "close") == 0) {
            close(fd);
            fd = -1;
            continue;
        }
        send(fd, p->replies[i], strlen(p->replies[i]), MSG_NOSIGNAL);
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}


static void
peer_start(peer_t *p)
{
    struct sockaddr_in  sa;
    socklen_t           len = sizeof(sa);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(p->listener >= 0);
    assert_int_equal(bind(p->listener, (struct sockaddr *) &sa, sizeof(sa)),
                     0);
    assert_int_equal(listen(p->listener, 8), 0);
    getsockname(p->listener, (struct sockaddr *) &sa, &len);
    snprintf(p->address, sizeof(p->address), "127.0.0.1:%d",
             ntohs(sa.sin_port));
    pthread_create(&p->thread, NULL, peer_run, p);
}


static void
peer_stop(peer_t *p)
{
    pthread_join(p->thread, NULL);
    close(p->listener);
}


static micro_transport_call_t
a_call(const char *address, const micro_pair_t *md, size_t nmd)
{
    micro_transport_call_t  call;

    memset(&call, 0, sizeof(call));
    call.address = address;
    call.service = "go.micro.srv.t";
    call.endpoint = "T.Echo";
    call.content_type = "application/json";
    call.id = "id-1";
    call.body = "{\"a\":1}";
    call.len = 7;
    call.metadata = md;
    call.nmetadata = nmd;
    call.timeout_ms = 1000;
    call.deadline = micro_now_ms() + 10000;
    return call;
}


static void
reply_reset(micro_transport_reply_t *r, micro_buf_t *body)
{
    micro_buf_free(&r->error);
    memset(r, 0, sizeof(*r));
    body->len = 0;
    r->body = body;
}


/* The call's head says what go-micro's HTTP transport says. */
static void
test_request_on_the_wire(void **state)
{
    peer_t                   p = { 0 };
    micro_buf_t              body = { 0 };
    micro_transport_t       *t;
    micro_transport_call_t   call;
    micro_transport_reply_t  r = { 0 };
    micro_pair_t             md[] = { { "X-Trace", "t-9" } };

    (void) state;
    p.replies[0] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    peer_start(&p);
    assert_int_equal(micro_http_transport_new(4, &t), MICRO_OK);
    assert_string_equal(t->ops->name, "http");

    call = a_call(p.address, md, 1);
    assert_int_equal(t->ops->check(&call), MICRO_OK);
    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_OK);
    assert_int_equal(r.status, 200);
    assert_int_equal(body.len, 2);
    assert_memory_equal(body.data, "ok", 2);

    peer_stop(&p);
    assert_non_null(strstr(p.requests[0], "POST / HTTP/1.1\r\n"));
    assert_non_null(strstr(p.requests[0], "\r\nMicro-Service: go.micro.srv.t"
                                          "\r\n"));
    assert_non_null(strstr(p.requests[0], "\r\nMicro-Endpoint: T.Echo\r\n"));
    assert_non_null(strstr(p.requests[0], "\r\nMicro-Id: id-1\r\n"));
    assert_non_null(strstr(p.requests[0], "\r\nTimeout: 1000000000\r\n"));
    assert_non_null(strstr(p.requests[0], "\r\nContent-Type: application/"
                                          "json\r\n"));
    assert_non_null(strstr(p.requests[0], "\r\nX-Trace: t-9\r\n"));
    assert_non_null(strstr(p.requests[0], "\r\n\r\n{\"a\":1}"));

    t->ops->free(t);
    micro_buf_free(&body);
}


/* A go-micro error in Micro-Error beside a chunked body; then the kept
 * connection carries the next call. */
static void
test_error_reply_and_keepalive(void **state)
{
    peer_t                   p = { 0 };
    micro_buf_t              body = { 0 };
    micro_transport_t       *t;
    micro_transport_call_t   call;
    micro_transport_reply_t  r = { 0 };
    static const char        error[] = "{\"id\":\"x\",\"code\":500}";

    (void) state;
    p.replies[0] = "HTTP/1.1 500 Internal Server Error\r\n"
                   "Micro-Error: {\"id\":\"x\",\"code\":500}\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n"
                   "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    p.replies[1] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2";
    peer_start(&p);
    assert_int_equal(micro_http_transport_new(4, &t), MICRO_OK);

    call = a_call(p.address, NULL, 0);
    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_OK);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.error.len, strlen(error));
    assert_memory_equal(r.error.data, error, r.error.len);
    assert_int_equal(body.len, 5);
    assert_memory_equal(body.data, "abcde", 5);

    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_OK);
    assert_int_equal(r.status, 200);
    assert_memory_equal(body.data, "2", 1);

    peer_stop(&p);
    assert_int_equal(p.accepted, 1);
    reply_reset(&r, &body);
    t->ops->free(t);
    micro_buf_free(&body);
}


/*
 * A kept connection that ends before any byte of the reply (the node
 * closed it while it was idle): the call goes again on a new connection,
 * unseen by the caller, as NGINX does with kept upstream connections. A
 * new connection that ends so is a broken call, not repeated (it may have
 * run).
 */
static void
test_connection_closed_unanswered(void **state)
{
    peer_t                   p = { 0 }, fresh = { 0 };
    micro_buf_t              body = { 0 };
    micro_transport_t       *t;
    micro_transport_call_t   call;
    micro_transport_reply_t  r = { 0 };

    (void) state;
    p.replies[0] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1";
    p.replies[1] = "close";
    p.replies[2] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3";
    peer_start(&p);
    assert_int_equal(micro_http_transport_new(4, &t), MICRO_OK);

    call = a_call(p.address, NULL, 0);
    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_OK);
    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_OK);
    assert_memory_equal(body.data, "3", 1);
    peer_stop(&p);
    assert_int_equal(p.accepted, 2);

    fresh.replies[0] = "close";
    peer_start(&fresh);
    call = a_call(fresh.address, NULL, 0);
    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_BROKEN);
    assert_string_equal(r.why, "connection lost");
    peer_stop(&fresh);
    assert_int_equal(fresh.accepted, 1);

    reply_reset(&r, &body);
    t->ops->free(t);
    micro_buf_free(&body);
}


static void
test_timeout_and_refused(void **state)
{
    int64_t                  t0;
    peer_t                   p = { 0 };
    micro_buf_t              body = { 0 };
    micro_transport_t       *t;
    micro_transport_call_t   call;
    micro_transport_reply_t  r = { 0 };

    (void) state;
    p.replies[0] = "hang";
    peer_start(&p);
    assert_int_equal(micro_http_transport_new(4, &t), MICRO_OK);

    call = a_call(p.address, NULL, 0);
    call.deadline = micro_now_ms() + 300;
    t0 = micro_now_ms();
    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_TIMEOUT);
    assert_true(micro_now_ms() - t0 >= 300);
    assert_string_equal(r.why, "timed out");
    peer_stop(&p);

    /* nobody listens there any more */
    call.deadline = micro_now_ms() + 10000;
    reply_reset(&r, &body);
    assert_int_equal(t->ops->call(t, &call, &r), MICRO_TRIP_CONNECT);
    assert_non_null(strstr(r.why, "refused"));

    reply_reset(&r, &body);
    t->ops->free(t);
    micro_buf_free(&body);
}


/* Metadata may not forge the transport's own headers or break the head. */
static void
test_metadata_checked(void **state)
{
    micro_transport_t       *t;
    micro_transport_call_t   call;
    micro_pair_t             own[] = { { "content-length", "1" } };
    micro_pair_t             colon[] = { { "a:b", "1" } };
    micro_pair_t             newline[] = { { "X-A", "1\r\nX-B: 2" } };

    (void) state;
    assert_int_equal(micro_http_transport_new(4, &t), MICRO_OK);
    call = a_call("127.0.0.1:9", own, 1);
    assert_int_equal(t->ops->check(&call), MICRO_EINVAL);
    assert_non_null(strstr(micro_error_detail(), "the transport's own"));
    call = a_call("127.0.0.1:9", colon, 1);
    assert_int_equal(t->ops->check(&call), MICRO_EINVAL);
    call = a_call("127.0.0.1:9", newline, 1);
    assert_int_equal(t->ops->check(&call), MICRO_EINVAL);
    assert_non_null(strstr(micro_error_detail(), "invalid metadata"));
    t->ops->free(t);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_request_on_the_wire),
        cmocka_unit_test(test_error_reply_and_keepalive),
        cmocka_unit_test(test_connection_closed_unanswered),
        cmocka_unit_test(test_timeout_and_refused),
        cmocka_unit_test(test_metadata_checked),
    };

    return cmocka_run_group_tests_name("http transport", tests, NULL, NULL);
}
