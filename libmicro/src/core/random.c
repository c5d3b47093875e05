/* Random bytes for ids. */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/random.h"


void
micro_random_bytes(void *buf, size_t n)
{
    size_t           i;
    uint64_t         x;
    ssize_t          got;
    struct timespec  ts;
    unsigned char   *p = buf;

    got = getrandom(buf, n, GRND_NONBLOCK);
    if (got == (ssize_t) n) {
        return;
    }
    /* no entropy yet (early boot): unique enough for ids, not secret */
    clock_gettime(CLOCK_REALTIME, &ts);
    x = (uint64_t) ts.tv_nsec ^ ((uint64_t) ts.tv_sec << 20)
        ^ ((uint64_t) getpid() << 40) ^ (uintptr_t) buf;
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char) x;
    }
}


/*
 * A thread's generator for ids: splitmix64, seeded from the kernel once
 * (and again after a fork), so an id costs no system call. Ids need to be
 * unique, not secret.
 */
static uint64_t
micro_id_next(void)
{
    uint64_t                   z;
    static __thread uint64_t   state;
    static __thread pid_t      owner;

    if (owner != getpid()) {
        micro_random_bytes(&state, sizeof(state));
        owner = getpid();
    }
    z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


void
micro_uuid(char out[37])
{
    uint64_t       x[2];
    unsigned char  b[16];

    x[0] = micro_id_next();
    x[1] = micro_id_next();
    memcpy(b, x, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}
