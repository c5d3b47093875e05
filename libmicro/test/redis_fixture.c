#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_fixture.h"

micro_test_redis_t   fx_redis;
micro_registry_t    *fx_reg;


int
micro_test_free_port(void)
{
    int                  fd, port, i;
    struct sockaddr_in   sa;

    srand((unsigned) time(NULL) ^ (unsigned) getpid());
    for (i = 0; i < 1000; i++) {
        port = 20000 + rand() % 12000;
        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0) {
            close(fd);
            return port;
        }
        close(fd);
    }
    return -1;
}


static void
micro_test_sleep_ms(int ms)
{
    struct timespec  ts = { ms / 1000, (long) (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}


int
micro_test_wait(int (*cond)(void *arg), void *arg, int timeout_ms)
{
    int  waited;

    for (waited = 0; waited < timeout_ms; waited += 10) {
        if (cond(arg)) {
            return 1;
        }
        micro_test_sleep_ms(10);
    }
    return cond(arg);
}


static int
micro_test_redis_ping(void *arg)
{
    int                  ok;
    redisReply          *reply;
    micro_test_redis_t  *r = arg;

    reply = micro_test_redis_cmd(r, "PING");
    ok = reply && (reply->type == REDIS_REPLY_STATUS
                   || (reply->type == REDIS_REPLY_ERROR
                       && strncmp(reply->str, "NOAUTH", 6) == 0));
    if (reply) {
        freeReplyObject(reply);
    }
    return ok;
}


int
micro_test_redis_start(micro_test_redis_t *r)
{
    char   port[16], sock[96];
    pid_t  pid;

    if (r->port == 0) {
        r->port = micro_test_free_port();
    }
    if (r->dir[0] == '\0') {
        snprintf(r->dir, sizeof(r->dir), "/tmp/micro-unit-XXXXXX");
        if (mkdtemp(r->dir) == NULL) {
            return -1;
        }
    }
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(sock, sizeof(sock), "%s/redis.sock", r->dir);
    snprintf(r->url, sizeof(r->url), "redis://%s%s%s127.0.0.1:%d/0",
             r->password[0] ? ":" : "", r->password,
             r->password[0] ? "@" : "", r->port);

    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL) {
            _exit(127);
        }
        if (r->password[0]) {
            execlp("redis-server", "redis-server", "--port", port, "--bind",
                   "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                   r->dir, "--unixsocket", sock, "--requirepass", r->password,
                   (char *) NULL);
        } else {
            execlp("redis-server", "redis-server", "--port", port, "--bind",
                   "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                   r->dir, "--unixsocket", sock, (char *) NULL);
        }
        _exit(127);
    }
    r->pid = pid;
    return micro_test_wait(micro_test_redis_ping, r, MICRO_TEST_WAIT_MS)
           ? 0 : -1;
}


void
micro_test_redis_stop(micro_test_redis_t *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGKILL);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}


void
micro_test_redis_free(micro_test_redis_t *r)
{
    micro_test_redis_stop(r);
    if (r->dir[0]) {
        char  sock[96];

        snprintf(sock, sizeof(sock), "%s/redis.sock", r->dir);
        unlink(sock);
        rmdir(r->dir);
        r->dir[0] = '\0';
    }
}


redisReply *
micro_test_redis_cmd(micro_test_redis_t *r, const char *fmt, ...)
{
    va_list          ap;
    redisReply      *reply = NULL, *auth;
    redisContext    *c;
    struct timeval   tv = { 5, 0 };

    c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c == NULL || c->err) {
        if (c) {
            redisFree(c);
        }
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (r->password[0]) {
        auth = redisCommand(c, "AUTH %s", r->password);
        if (auth) {
            freeReplyObject(auth);
        }
    }
    va_start(ap, fmt);
    reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return reply;
}


micro_registry_t *
micro_test_registry(micro_test_redis_t *r, const char *prefix)
{
    char                       url[256];
    micro_registry_t          *reg = NULL;
    micro_registry_options_t   opts;

    snprintf(url, sizeof(url), "%s%s%s", r->url, prefix ? "?prefix=" : "",
             prefix ? prefix : "");
    if (micro_registry_options_parse(&opts, url) != MICRO_OK) {
        return NULL;
    }
    micro_registry_new(&opts, &reg);
    micro_registry_options_free(&opts);
    return reg;
}


void
micro_test_service(micro_service_t *s, const char *name, const char *version,
    const char *id, int port)
{
    char  address[32];

    memset(s, 0, sizeof(*s));
    snprintf(address, sizeof(address), "127.0.0.1:%d", port);
    s->name = strdup(name);
    s->version = strdup(version);
    s->nodes = calloc(1, sizeof(micro_node_t));
    s->nnodes = 1;
    s->nodes[0].id = strdup(id);
    s->nodes[0].address = strdup(address);
}


int
micro_test_group_setup(void **state)
{
    (void) state;
    if (micro_test_redis_start(&fx_redis) != 0) {
        return -1;
    }
    fx_reg = micro_test_registry(&fx_redis, NULL);
    return fx_reg ? 0 : -1;
}


int
micro_test_group_teardown(void **state)
{
    (void) state;
    micro_registry_free(fx_reg);
    micro_test_redis_free(&fx_redis);
    return 0;
}


int
micro_test_flush(void **state)
{
    redisReply  *reply;

    (void) state;
    reply = micro_test_redis_cmd(&fx_redis, "FLUSHALL");
    if (reply) {
        freeReplyObject(reply);
    }
    return 0;
}
