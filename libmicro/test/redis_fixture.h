/*
 * Test fixture: a real redis-server on a free loopback port, started and
 * stopped by the tests themselves, plus bounded waiting.
 */

#ifndef MICRO_TEST_REDIS_FIXTURE_H
#define MICRO_TEST_REDIS_FIXTURE_H

#include <sys/types.h>

#include <hiredis/hiredis.h>

#include <micro.h>

typedef struct {
    int      port;
    pid_t    pid;
    char     dir[64];
    char     url[128];
    char     password[32];  /* set before start for requirepass */
} micro_test_redis_t;

/* A TCP port on 127.0.0.1 nobody listens on (probed), in 20000-31999. */
int micro_test_free_port(void);

/*
 * Starts redis-server (keeping r->port if set), listening on loopback and
 * on the socket r->dir/redis.sock; 0 when it answers PING.
 */
int micro_test_redis_start(micro_test_redis_t *r);
void micro_test_redis_stop(micro_test_redis_t *r);

/* Stops it for good and removes its directory. */
void micro_test_redis_free(micro_test_redis_t *r);

/* A raw command on a fresh connection (for writes other programs make). */
redisReply *micro_test_redis_cmd(micro_test_redis_t *r, const char *fmt, ...);

/* A registry on r with the given key prefix (NULL: default). */
micro_registry_t *micro_test_registry(micro_test_redis_t *r,
    const char *prefix);

/* Polls cond every 10 ms until it is true or timeout_ms passed. */
int micro_test_wait(int (*cond)(void *arg), void *arg, int timeout_ms);

/* A service of one node for tests. */
void micro_test_service(micro_service_t *s, const char *name,
    const char *version, const char *id, int port);

/*
 * A cmocka group's redis and registry: setup starts both, teardown stops
 * them, flush (a per-test setup) empties Redis.
 */
extern micro_test_redis_t   fx_redis;
extern micro_registry_t    *fx_reg;

int micro_test_group_setup(void **state);
int micro_test_group_teardown(void **state);
int micro_test_flush(void **state);

/* The generous limit every wait in the tests uses. */
#define MICRO_TEST_WAIT_MS  20000

#endif
