/* Internal: UTF-8 validation, base64 and civil dates shared by both
 * transcoding directions. */

#ifndef MICRO_UTF8_H
#define MICRO_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at p, or 0 if it is not one. */
static inline size_t
micro_utf8_seq(const uint8_t *p, const uint8_t *end)
{
    size_t   n, i;
    uint8_t  lo = 0x80, hi = 0xbf;

    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        hi = p[0] == 0xed ? 0x9f : 0xbf;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        lo = p[0] == 0xf0 ? 0x90 : 0x80;
        hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if ((size_t) (end - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}


static inline int
micro_utf8_valid(const uint8_t *p, size_t len)
{
    size_t          n;
    const uint8_t  *end;

    if (len == 0) {
        return 1;
    }
    for (end = p + len; p < end; ) {
        n = micro_utf8_seq(p, end);
        if (n == 0) {
            return 0;
        }
        p += n;
    }
    return 1;
}


/* Days since 1970-01-01 of a proleptic Gregorian date, and back. */
static inline int64_t
micro_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t   era;
    unsigned  yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned) (y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}


static inline void
micro_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t   era;
    unsigned  doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned) (z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

/* Timestamp range of the proto3 JSON mapping: years 0001 to 9999. */
#define MICRO_TIMESTAMP_MIN  (-62135596800LL)
#define MICRO_TIMESTAMP_MAX  253402300799LL
#define MICRO_DURATION_MAX   315576000000LL

#endif
