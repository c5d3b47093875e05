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


void
micro_uuid(char out[37])
{
    unsigned char  b[16];

    micro_random_bytes(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
             b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}
