/*
 * The heartbeat thread: re-register every TTL/3, retry fast after failures,
 * and between beats check every second that the registration is still
 * there, so a Redis restarted empty has the service back at once rather
 * than at its next beat.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "micro/error.h"
#include "micro/heartbeat.h"

#define MICRO_HEARTBEAT_RETRY_MS  500
#define MICRO_HEARTBEAT_PROBE_MS  1000

struct micro_heartbeat_s {
    micro_registry_t   *r;
    micro_service_t     service;
    int                 ttl_ms;
    int                 stop;
    int                 failing;
    unsigned long       count;
    pthread_t           thread;
    pthread_mutex_t     lock;
    pthread_cond_t      cond;
};


static int
micro_heartbeat_beat(micro_heartbeat_t *hb)
{
    int  rc;

    rc = micro_registry_register(hb->r, &hb->service, hb->ttl_ms);

    pthread_mutex_lock(&hb->lock);
    if (rc == MICRO_OK) {
        hb->count++;
        if (hb->failing) {
            micro_log_warn("heartbeat: \"%s\" registered again",
                           hb->service.name);
        }
        hb->failing = 0;
    } else if (!hb->failing) {
        micro_log_warn("heartbeat: registering \"%s\" failed: %s; retrying",
                       hb->service.name, micro_error_detail());
        hb->failing = 1;
    }
    pthread_mutex_unlock(&hb->lock);
    return rc;
}


/* Waits ms or until stopped; lock held. Returns 0 when stopped. */
static int
micro_heartbeat_wait(micro_heartbeat_t *hb, int ms)
{
    struct timespec  until;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long) (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (!hb->stop
           && pthread_cond_timedwait(&hb->cond, &hb->lock, &until)
              != ETIMEDOUT)
    { /* void */ }
    return !hb->stop;
}


static void *
micro_heartbeat_run(void *arg)
{
    int                 interval, since, step, present;
    micro_heartbeat_t  *hb = arg;

    since = 0;                      /* ms since the last beat */
    pthread_mutex_lock(&hb->lock);
    for ( ;; ) {
        interval = hb->failing ? MICRO_HEARTBEAT_RETRY_MS : hb->ttl_ms / 3;
        if (interval <= 0) {
            interval = MICRO_REGISTRY_DEFAULT_TTL / 3;
        }
        step = interval - since;
        if (step > MICRO_HEARTBEAT_PROBE_MS) {
            step = MICRO_HEARTBEAT_PROBE_MS;
        }
        if (!micro_heartbeat_wait(hb, step)) {
            break;
        }
        since += step;
        pthread_mutex_unlock(&hb->lock);

        present = since < interval
                  ? micro_registry_present(hb->r, &hb->service) : 0;
        if (present == 0 && since < interval) {
            micro_log_warn("heartbeat: \"%s\" is gone from the registry; "
                           "registering it again", hb->service.name);
        }
        if (present != 1) {
            /* due, gone, or Redis failed the probe: the beat says which */
            micro_heartbeat_beat(hb);
            since = 0;
        }
        pthread_mutex_lock(&hb->lock);
    }
    pthread_mutex_unlock(&hb->lock);
    return NULL;
}


int
micro_heartbeat_start(micro_registry_t *r, const micro_service_t *s,
    int ttl_ms, micro_heartbeat_t **out)
{
    int                  rc;
    pthread_condattr_t   attr;
    micro_heartbeat_t   *hb;

    *out = NULL;
    if ((rc = micro_service_validate(s)) != MICRO_OK) {
        return rc;
    }
    hb = calloc(1, sizeof(*hb));
    if (hb == NULL) {
        return MICRO_ENOMEM;
    }
    rc = micro_service_copy(&hb->service, s);
    if (rc != MICRO_OK) {
        free(hb);
        return rc;
    }
    hb->r = r;
    hb->ttl_ms = ttl_ms;
    pthread_mutex_init(&hb->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hb->cond, &attr);
    pthread_condattr_destroy(&attr);

    rc = micro_heartbeat_beat(hb);

    if (pthread_create(&hb->thread, NULL, micro_heartbeat_run, hb) != 0) {
        micro_service_free(&hb->service);
        pthread_mutex_destroy(&hb->lock);
        pthread_cond_destroy(&hb->cond);
        free(hb);
        return micro_error_set(MICRO_ENOMEM, "cannot start heartbeat thread");
    }
    *out = hb;
    return rc;
}


unsigned long
micro_heartbeat_count(micro_heartbeat_t *hb)
{
    unsigned long  n;

    pthread_mutex_lock(&hb->lock);
    n = hb->count;
    pthread_mutex_unlock(&hb->lock);
    return n;
}


int
micro_heartbeat_stop(micro_heartbeat_t *hb, int deregister)
{
    int  rc = MICRO_OK;

    pthread_mutex_lock(&hb->lock);
    hb->stop = 1;
    pthread_cond_signal(&hb->cond);
    pthread_mutex_unlock(&hb->lock);
    pthread_join(hb->thread, NULL);

    if (deregister) {
        rc = micro_registry_deregister(hb->r, &hb->service);
    }
    micro_service_free(&hb->service);
    pthread_mutex_destroy(&hb->lock);
    pthread_cond_destroy(&hb->cond);
    free(hb);
    return rc;
}
