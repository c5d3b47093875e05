/* Internal: random bytes for ids (node ids, message ids, consumers). */

#ifndef MICRO_RANDOM_H
#define MICRO_RANDOM_H

#include <stddef.h>

/* n random bytes from the kernel; a mix of the clock and pid without it. */
void micro_random_bytes(void *buf, size_t n);

/* A UUID (version 4) as 36 characters and a NUL into out. */
void micro_uuid(char out[37]);

#endif
