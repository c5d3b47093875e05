/*
 * JSON text -> protobuf wire bytes, in one pass over the text with no
 * intermediate tree: each value is encoded as it is read. A nested message
 * is written after a one-byte length slot that is widened afterwards if
 * the message turned out longer than 127 bytes.
 */

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/transcode.h"
#include "micro/pb_wire.h"
#include "core/map.h"
#include "core/utf8.h"

typedef struct {
    const char                        *start;
    const char                        *p;
    const char                        *end;
    const micro_transcode_options_t   *o;
    micro_buf_t                       *out;
    micro_buf_t                        tmp;      /* keys, bytes, names */
    int                                depth;
    const char                        *field;    /* for messages */
} micro_j2p_t;

static int micro_j2p_body(micro_j2p_t *j, const micro_pb_message_t *m);
static int micro_j2p_object(micro_j2p_t *j, const micro_pb_message_t *m,
    int skip_type);
static int micro_j2p_any_value(micro_j2p_t *j);


static int
micro_j2p_fail(micro_j2p_t *j, const char *fmt, ...)
{
    char     msg[200];
    va_list  ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /* whatever was expected, running out of input is the real story */
    if (j->p >= j->end && j->end > j->start) {
        snprintf(msg, sizeof(msg), "unexpected end of JSON");
    }

    if (j->field) {
        return micro_error_set(MICRO_EPARSE, "field \"%s\": %s (at offset "
                               "%zu)", j->field, msg,
                               (size_t) (j->p - j->start));
    }
    return micro_error_set(MICRO_EPARSE, "%s (at offset %zu)", msg,
                           (size_t) (j->p - j->start));
}


static int
micro_j2p_nomem(void)
{
    return micro_error_set(MICRO_ENOMEM, "out of memory");
}


#define MICRO_TRY(expr)                                                      \
    do {                                                                     \
        int  rc_ = (expr);                                                   \
        if (rc_ != MICRO_OK) {                                               \
            return rc_ == -2 ? micro_j2p_nomem() : rc_;                      \
        }                                                                    \
    } while (0)


static int
micro_j2p_peek(micro_j2p_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
                             || *j->p == '\r'))
    {
        j->p++;
    }
    return j->p < j->end ? (unsigned char) *j->p : -1;
}


static int
micro_j2p_expect(micro_j2p_t *j, char c)
{
    if (micro_j2p_peek(j) != c) {
        return j->p < j->end ? micro_j2p_fail(j, "expected '%c'", c)
                             : micro_j2p_fail(j, "unexpected end of JSON");
    }
    j->p++;
    return MICRO_OK;
}


static int
micro_j2p_literal(micro_j2p_t *j, const char *word)
{
    size_t  n = strlen(word);

    if ((size_t) (j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
        return micro_j2p_fail(j, "invalid literal");
    }
    j->p += n;
    return MICRO_OK;
}


/*
 * Containers: enter '{' or '[' (1 when it is empty, and left already),
 * then after each item ask for more (1: another item, 0: closed).
 */
static int
micro_j2p_enter(micro_j2p_t *j, char open)
{
    int  rc;

    if ((rc = micro_j2p_expect(j, open)) != MICRO_OK) {
        return rc;
    }
    if (++j->depth > MICRO_TRANSCODE_MAX_DEPTH) {
        return micro_j2p_fail(j, "nested too deeply");
    }
    if (micro_j2p_peek(j) == (open == '{' ? '}' : ']')) {
        j->p++;
        j->depth--;
        return 1;
    }
    return MICRO_OK;
}


static int
micro_j2p_more(micro_j2p_t *j, char close)
{
    int  rc;

    if (micro_j2p_peek(j) == ',') {
        j->p++;
        return 1;
    }
    if ((rc = micro_j2p_expect(j, close)) != MICRO_OK) {
        return rc;
    }
    j->depth--;
    return 0;
}


static int
micro_hex4(const char *p, unsigned *out)
{
    int       i;
    unsigned  v = 0;

    for (i = 0; i < 4; i++) {
        v <<= 4;
        if (p[i] >= '0' && p[i] <= '9') {
            v |= p[i] - '0';
        } else if (p[i] >= 'a' && p[i] <= 'f') {
            v |= p[i] - 'a' + 10;
        } else if (p[i] >= 'A' && p[i] <= 'F') {
            v |= p[i] - 'A' + 10;
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}


static int
micro_put_utf8(micro_buf_t *b, unsigned cp)
{
    uint8_t  u[4];
    size_t   n;

    if (cp < 0x80) {
        u[0] = (uint8_t) cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = 0xc0 | (cp >> 6);
        u[1] = 0x80 | (cp & 0x3f);
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = 0xe0 | (cp >> 12);
        u[1] = 0x80 | ((cp >> 6) & 0x3f);
        u[2] = 0x80 | (cp & 0x3f);
        n = 3;
    } else {
        u[0] = 0xf0 | (cp >> 18);
        u[1] = 0x80 | ((cp >> 12) & 0x3f);
        u[2] = 0x80 | ((cp >> 6) & 0x3f);
        u[3] = 0x80 | (cp & 0x3f);
        n = 4;
    }
    return micro_buf_append(b, u, n);
}


/* Decodes the JSON string at p (its opening quote) and appends it to dst. */
static int
micro_j2p_string(micro_j2p_t *j, micro_buf_t *dst)
{
    size_t       n;
    unsigned     cp, lo;
    const char  *run;

    if (micro_j2p_peek(j) != '"') {
        return micro_j2p_fail(j, j->p < j->end ? "expected a string"
                                               : "unexpected end of JSON");
    }
    j->p++;

    for ( ;; ) {
        run = j->p;
        while (j->p < j->end && *j->p != '"' && *j->p != '\\'
               && (unsigned char) *j->p >= 0x20)
        {
            if ((unsigned char) *j->p < 0x80) {
                j->p++;
                continue;
            }
            n = micro_utf8_seq((const uint8_t *) j->p,
                               (const uint8_t *) j->end);
            if (n == 0) {
                return micro_j2p_fail(j, "invalid UTF-8 in string");
            }
            j->p += n;
        }
        MICRO_TRY(micro_buf_append(dst, run, j->p - run));

        if (j->p == j->end) {
            return micro_j2p_fail(j, "unterminated string");
        }
        if (*j->p == '"') {
            j->p++;
            return MICRO_OK;
        }
        if (*j->p != '\\') {
            return micro_j2p_fail(j, "control character in string");
        }
        if (j->end - j->p < 2) {
            return micro_j2p_fail(j, "unterminated string");
        }
        j->p += 2;
        switch (j->p[-1]) {
        case '"':  MICRO_TRY(micro_buf_putc(dst, '"')); break;
        case '\\': MICRO_TRY(micro_buf_putc(dst, '\\')); break;
        case '/':  MICRO_TRY(micro_buf_putc(dst, '/')); break;
        case 'b':  MICRO_TRY(micro_buf_putc(dst, '\b')); break;
        case 'f':  MICRO_TRY(micro_buf_putc(dst, '\f')); break;
        case 'n':  MICRO_TRY(micro_buf_putc(dst, '\n')); break;
        case 'r':  MICRO_TRY(micro_buf_putc(dst, '\r')); break;
        case 't':  MICRO_TRY(micro_buf_putc(dst, '\t')); break;
        case 'u':
            if (j->end - j->p < 4 || micro_hex4(j->p, &cp) != 0) {
                return micro_j2p_fail(j, "invalid \\u escape");
            }
            j->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                return micro_j2p_fail(j, "lone low surrogate");
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u'
                    || micro_hex4(j->p + 2, &lo) != 0
                    || lo < 0xdc00 || lo > 0xdfff)
                {
                    return micro_j2p_fail(j, "lone high surrogate");
                }
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            MICRO_TRY(micro_put_utf8(dst, cp));
            break;
        default:
            return micro_j2p_fail(j, "invalid escape");
        }
    }
}


/* The JSON number grammar; sets *is_int when there is no fraction or
 * exponent. Returns the token's length, 0 if there is none. */
static size_t
micro_number_token(const char *s, const char *end, int *is_int)
{
    const char  *p = s;

    *is_int = 1;
    if (p < end && *p == '-') {
        p++;
    }
    if (p == end || *p < '0' || *p > '9') {
        return 0;
    }
    if (*p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < end && *p == '.') {
        *is_int = 0;
        if (++p == end || *p < '0' || *p > '9') {
            return 0;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p == end || *p < '0' || *p > '9') {
            return 0;
        }
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    return p - s;
}


/*
 * A number, or a string holding one (how 64-bit integers travel). The
 * token is copied NUL-terminated into buf. *quoted tells which it was.
 */
static int
micro_j2p_numeric(micro_j2p_t *j, char *buf, size_t size, int *is_int,
    int *quoted)
{
    size_t       n;
    const char  *s;

    *quoted = micro_j2p_peek(j) == '"';
    if (*quoted) {
        j->tmp.len = 0;
        MICRO_TRY(micro_j2p_string(j, &j->tmp));
        s = (const char *) j->tmp.data;
        n = micro_number_token(s, s + j->tmp.len, is_int);
        if (n == 0 || n != j->tmp.len) {
            if (j->tmp.len < size) {
                memcpy(buf, s, j->tmp.len);
                buf[j->tmp.len] = '\0';
                return 1;                    /* a word: NaN, Infinity */
            }
            return micro_j2p_fail(j, "invalid number");
        }
    } else {
        s = j->p;
        n = micro_number_token(s, j->end, is_int);
        if (n == 0) {
            return micro_j2p_fail(j, "expected a number");
        }
        j->p += n;
    }
    if (n >= size) {
        return micro_j2p_fail(j, "number too long");
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return MICRO_OK;
}


static int
micro_j2p_double(micro_j2p_t *j, double *out, int is_float)
{
    int     rc, is_int, quoted;
    char    buf[64], *end;
    double  v;

    rc = micro_j2p_numeric(j, buf, sizeof(buf), &is_int, &quoted);
    if (rc == 1) {
        if (strcmp(buf, "NaN") == 0) {
            *out = NAN;
        } else if (strcmp(buf, "Infinity") == 0) {
            *out = INFINITY;
        } else if (strcmp(buf, "-Infinity") == 0) {
            *out = -INFINITY;
        } else {
            return micro_j2p_fail(j, "invalid number \"%s\"", buf);
        }
        return MICRO_OK;
    }
    if (rc != MICRO_OK) {
        return rc;
    }
    errno = 0;
    v = strtod(buf, &end);
    /* a float is in range when it rounds to a finite float: FLT_MAX as
     * printed (3.4028235e+38) is a little above FLT_MAX as a double */
    if (isinf(v) || (is_float && isinf((float) v))) {
        return micro_j2p_fail(j, "number out of range");
    }
    *out = v;
    return MICRO_OK;
}


/* An integer within [min, max] (signed) or [0, umax] (unsigned). */
static int
micro_j2p_integer(micro_j2p_t *j, int is_signed, int bits, uint64_t *out)
{
    int                 rc, is_int, quoted;
    char                buf[64], *end;
    double              d;
    int64_t             s;
    uint64_t            u;
    unsigned long long  ull;

    rc = micro_j2p_numeric(j, buf, sizeof(buf), &is_int, &quoted);
    if (rc == 1) {
        return micro_j2p_fail(j, "invalid integer \"%s\"", buf);
    }
    if (rc != MICRO_OK) {
        return rc;
    }

    if (is_int) {
        errno = 0;
        if (is_signed) {
            s = strtoll(buf, &end, 10);
            u = (uint64_t) s;
            if (errno == ERANGE || (bits == 32 && (s < INT32_MIN
                                                   || s > INT32_MAX)))
            {
                return micro_j2p_fail(j, "integer out of range");
            }
        } else {
            if (buf[0] == '-') {
                return micro_j2p_fail(j, "negative value for an unsigned "
                                      "integer");
            }
            ull = strtoull(buf, &end, 10);
            u = ull;
            if (errno == ERANGE || (bits == 32 && u > UINT32_MAX)) {
                return micro_j2p_fail(j, "integer out of range");
            }
        }
        *out = u;
        return MICRO_OK;
    }

    /* 1e3, 1.0: fine when the value is integral and in range */
    d = strtod(buf, &end);
    if (d != floor(d)) {
        return micro_j2p_fail(j, "not an integer");
    }
    if (is_signed) {
        if (d < (bits == 32 ? (double) INT32_MIN : -9223372036854775808.0)
            || d >= (bits == 32 ? 2147483648.0 : 9223372036854775808.0))
        {
            return micro_j2p_fail(j, "integer out of range");
        }
        *out = (uint64_t) (int64_t) d;
    } else {
        if (d < 0 || d >= (bits == 32 ? 4294967296.0
                                      : 18446744073709551616.0))
        {
            return micro_j2p_fail(j, "integer out of range");
        }
        *out = (uint64_t) d;
    }
    return MICRO_OK;
}


static int
micro_b64_value(int c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+' || c == '-') {
        return 62;
    }
    if (c == '/' || c == '_') {
        return 63;
    }
    return -1;
}


/* Standard or URL-safe base64, padding optional, decoded in place. */
static int
micro_b64_decode(uint8_t *s, size_t len, size_t *out_len)
{
    int       v;
    size_t    i, n = 0, bits = 0;
    uint32_t  acc = 0;

    while (len && s[len - 1] == '=') {
        len--;
    }
    for (i = 0; i < len; i++) {
        v = micro_b64_value(s[i]);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t) v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            s[n++] = (uint8_t) (acc >> bits);
        }
    }
    if (bits >= 6) {
        return -1;
    }
    *out_len = n;
    return 0;
}


/* A nested message: a one-byte length slot, widened when needed. */
static size_t
micro_j2p_open(micro_j2p_t *j)
{
    if (micro_buf_putc(j->out, 0) != 0) {
        return (size_t) -1;
    }
    return j->out->len;
}


static int
micro_j2p_close(micro_j2p_t *j, size_t body)
{
    size_t  len, n;

    len = j->out->len - body;
    n = micro_varint_size(len);
    if (n > 1) {
        MICRO_TRY(micro_buf_reserve(j->out, n - 1));
        memmove(j->out->data + body + n - 1, j->out->data + body, len);
        j->out->len += n - 1;
    }
    micro_varint_put(j->out->data + body - 1, len);
    return MICRO_OK;
}


#define MICRO_WRAP(j, expr)                                                  \
    do {                                                                     \
        size_t  body_ = micro_j2p_open(j);                                   \
        if (body_ == (size_t) -1) {                                          \
            return micro_j2p_nomem();                                        \
        }                                                                    \
        MICRO_TRY(expr);                                                     \
        MICRO_TRY(micro_j2p_close(j, body_));                                \
    } while (0)


static int
micro_j2p_skip(micro_j2p_t *j)
{
    int  c, rc, is_int;

    c = micro_j2p_peek(j);
    if (c == '{' || c == '[') {
        rc = micro_j2p_enter(j, (char) c);
        if (rc != MICRO_OK) {
            return rc == 1 ? MICRO_OK : rc;
        }
        do {
            if (c == '{') {
                j->tmp.len = 0;
                MICRO_TRY(micro_j2p_string(j, &j->tmp));
                MICRO_TRY(micro_j2p_expect(j, ':'));
            }
            MICRO_TRY(micro_j2p_skip(j));
        } while ((rc = micro_j2p_more(j, c == '{' ? '}' : ']')) == 1);
        return rc;
    }

    if (c == '"') {
        j->tmp.len = 0;
        return micro_j2p_string(j, &j->tmp);
    }
    if (c == 't') {
        return micro_j2p_literal(j, "true");
    }
    if (c == 'f') {
        return micro_j2p_literal(j, "false");
    }
    if (c == 'n') {
        return micro_j2p_literal(j, "null");
    }
    {
        size_t  n = micro_number_token(j->p, j->end, &is_int);

        if (n == 0) {
            return micro_j2p_fail(j, "invalid JSON value");
        }
        j->p += n;
    }
    return MICRO_OK;
}


/* Enum by name or number; 1 means "unknown name, skip the field". */
static int
micro_j2p_enum(micro_j2p_t *j, const micro_pb_enum_t *e, uint64_t *out)
{
    size_t  i;

    if (micro_j2p_peek(j) != '"') {
        return micro_j2p_integer(j, 1, 32, out);
    }
    j->tmp.len = 0;
    MICRO_TRY(micro_j2p_string(j, &j->tmp));
    for (i = 0; i < e->nvalues; i++) {
        if (strlen(e->values[i].name) == j->tmp.len
            && memcmp(e->values[i].name, j->tmp.data, j->tmp.len) == 0)
        {
            *out = (uint64_t) (int64_t) e->values[i].number;
            return MICRO_OK;
        }
    }
    if (j->o->ignore_unknown) {
        return 1;
    }
    return micro_j2p_fail(j, "unknown value \"%.*s\" of enum %s",
                          (int) j->tmp.len, j->tmp.data, e->full_name);
}


/*
 * One value of field f. With tag, the field's tag comes first; a singular
 * field without explicit presence that holds its default is left out.
 */
static int
micro_j2p_value(micro_j2p_t *j, const micro_pb_field_t *f, int tagged)
{
    int       rc, is_default = 0, c;
    size_t    start, n;
    double    d = 0;
    float     fl;
    uint64_t  v = 0, bits;

    start = j->out->len;

    switch (f->type) {

    case MICRO_PB_DOUBLE:
    case MICRO_PB_FLOAT:
        MICRO_TRY(micro_j2p_double(j, &d, f->type == MICRO_PB_FLOAT));
        if (tagged) {
            MICRO_TRY(micro_buf_tag(j->out, f->number,
                                    f->type == MICRO_PB_DOUBLE
                                    ? MICRO_WIRE_I64 : MICRO_WIRE_I32));
        }
        if (f->type == MICRO_PB_DOUBLE) {
            memcpy(&bits, &d, 8);
            MICRO_TRY(micro_buf_le(j->out, bits, 8));
        } else {
            uint32_t  b32;

            fl = (float) d;
            memcpy(&b32, &fl, 4);
            MICRO_TRY(micro_buf_le(j->out, b32, 4));
        }
        is_default = d == 0 && !signbit(d);
        break;

    case MICRO_PB_INT32:
    case MICRO_PB_INT64:
    case MICRO_PB_SINT32:
    case MICRO_PB_SINT64:
    case MICRO_PB_SFIXED32:
    case MICRO_PB_SFIXED64:
        MICRO_TRY(micro_j2p_integer(j, 1,
                                    f->type == MICRO_PB_INT32
                                    || f->type == MICRO_PB_SINT32
                                    || f->type == MICRO_PB_SFIXED32
                                    ? 32 : 64, &v));
        goto integer;

    case MICRO_PB_UINT32:
    case MICRO_PB_UINT64:
    case MICRO_PB_FIXED32:
    case MICRO_PB_FIXED64:
        MICRO_TRY(micro_j2p_integer(j, 0,
                                    f->type == MICRO_PB_UINT32
                                    || f->type == MICRO_PB_FIXED32
                                    ? 32 : 64, &v));
    integer:
        is_default = v == 0;
        if (f->type == MICRO_PB_FIXED32 || f->type == MICRO_PB_SFIXED32) {
            if (tagged) {
                MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_I32));
            }
            MICRO_TRY(micro_buf_le(j->out, v, 4));
            break;
        }
        if (f->type == MICRO_PB_FIXED64 || f->type == MICRO_PB_SFIXED64) {
            if (tagged) {
                MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_I64));
            }
            MICRO_TRY(micro_buf_le(j->out, v, 8));
            break;
        }
        if (f->type == MICRO_PB_SINT32 || f->type == MICRO_PB_SINT64) {
            v = micro_zigzag_enc((int64_t) v);
        }
        if (tagged) {
            MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_VARINT));
        }
        MICRO_TRY(micro_buf_varint(j->out, v));
        break;

    case MICRO_PB_BOOL:
        c = micro_j2p_peek(j);
        if (c == 't') {
            MICRO_TRY(micro_j2p_literal(j, "true"));
            v = 1;
        } else if (c == 'f') {
            MICRO_TRY(micro_j2p_literal(j, "false"));
        } else {
            return micro_j2p_fail(j, "expected true or false");
        }
        if (tagged) {
            MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_VARINT));
        }
        MICRO_TRY(micro_buf_varint(j->out, v));
        is_default = v == 0;
        break;

    case MICRO_PB_ENUM:
        rc = micro_j2p_enum(j, f->enumeration, &v);
        if (rc == 1) {
            return MICRO_OK;                    /* unknown name, ignored */
        }
        MICRO_TRY(rc);
        if (tagged) {
            MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_VARINT));
        }
        MICRO_TRY(micro_buf_varint(j->out, v));
        is_default = v == 0;
        break;

    case MICRO_PB_STRING:
        if (micro_j2p_peek(j) != '"') {
            return micro_j2p_fail(j, "expected a string");
        }
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_LEN));
        n = j->out->len;
        MICRO_WRAP(j, micro_j2p_string(j, j->out));
        is_default = j->out->len == n + 1;
        break;

    case MICRO_PB_BYTES:
        j->tmp.len = 0;
        MICRO_TRY(micro_j2p_string(j, &j->tmp));
        if (micro_b64_decode(j->tmp.data, j->tmp.len, &n) != 0) {
            return micro_j2p_fail(j, "invalid base64");
        }
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_LEN));
        MICRO_TRY(micro_buf_varint(j->out, n));
        MICRO_TRY(micro_buf_append(j->out, j->tmp.data, n));
        is_default = n == 0;
        break;

    case MICRO_PB_MESSAGE:
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_LEN));
        MICRO_WRAP(j, micro_j2p_body(j, f->message));
        break;

    case MICRO_PB_GROUP:
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_SGROUP));
        MICRO_TRY(micro_j2p_body(j, f->message));
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_EGROUP));
        break;

    default:
        return micro_j2p_fail(j, "unsupported field type %d", f->type);
    }

    if (is_default && tagged && !f->presence && !f->repeated) {
        j->out->len = start;
    }
    return MICRO_OK;
}


static int
micro_j2p_is_scalar(const micro_pb_field_t *f)
{
    return f->type != MICRO_PB_STRING && f->type != MICRO_PB_BYTES
           && f->type != MICRO_PB_MESSAGE && f->type != MICRO_PB_GROUP;
}


/* null as a value: a Value's null_value, NullValue's 0, else "absent". */
static int
micro_j2p_null(micro_j2p_t *j, const micro_pb_field_t *f)
{
    MICRO_TRY(micro_j2p_literal(j, "null"));
    if (f->message && f->message->wkt == MICRO_PB_WKT_VALUE) {
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_LEN));
        MICRO_TRY(micro_buf_append(j->out, "\x02\x08\x00", 3));
    } else if (f->enumeration && f->enumeration->null_value) {
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_VARINT));
        MICRO_TRY(micro_buf_putc(j->out, 0));
    }
    return MICRO_OK;
}


static int
micro_j2p_repeated(micro_j2p_t *j, const micro_pb_field_t *f)
{
    int     rc;
    size_t  start, body = 0;

    start = j->out->len;
    rc = micro_j2p_enter(j, '[');
    if (rc != MICRO_OK) {
        return rc == 1 ? MICRO_OK : rc;
    }
    if (f->packed && micro_j2p_is_scalar(f)) {
        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_LEN));
        body = micro_j2p_open(j);
        if (body == (size_t) -1) {
            return micro_j2p_nomem();
        }
    }
    do {
        if (micro_j2p_peek(j) == 'n') {
            if (f->message == NULL || f->message->wkt != MICRO_PB_WKT_VALUE) {
                return micro_j2p_fail(j, "null in a repeated field");
            }
            MICRO_TRY(micro_j2p_null(j, f));
        } else {
            MICRO_TRY(micro_j2p_value(j, f, body == 0));
        }
    } while ((rc = micro_j2p_more(j, ']')) == 1);

    if (rc == MICRO_OK && body) {
        if (j->out->len == body) {
            j->out->len = start;            /* only unknown enum names */
        } else {
            rc = micro_j2p_close(j, body);
        }
    }
    return rc;
}


/* A map key, given as a JSON string, encoded as field 1 of the entry. */
static int
micro_j2p_map_key(micro_j2p_t *j, const micro_pb_field_t *kf)
{
    micro_j2p_t  sub;

    if (kf->type == MICRO_PB_STRING) {
        MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_LEN));
        MICRO_TRY(micro_buf_varint(j->out, j->tmp.len));
        return micro_buf_append(j->out, j->tmp.data, j->tmp.len);
    }
    if (kf->type == MICRO_PB_BOOL) {
        if (j->tmp.len == 4 && memcmp(j->tmp.data, "true", 4) == 0) {
            MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_VARINT));
            return micro_buf_putc(j->out, 1);
        }
        if (j->tmp.len == 5 && memcmp(j->tmp.data, "false", 5) == 0) {
            return MICRO_OK;
        }
        return micro_j2p_fail(j, "invalid bool map key");
    }

    /* integers: parse the key text as a bare JSON number */
    sub = *j;
    sub.start = sub.p = (const char *) j->tmp.data;
    sub.end = sub.p + j->tmp.len;
    sub.tmp.data = NULL;
    sub.tmp.len = sub.tmp.cap = 0;
    {
        int  rc, is_int;

        if (micro_number_token(sub.p, sub.end, &is_int) != j->tmp.len
            || !is_int)
        {
            return micro_j2p_fail(j, "invalid map key \"%.*s\"",
                                  (int) j->tmp.len, j->tmp.data);
        }
        rc = micro_j2p_value(&sub, kf, 1);
        micro_buf_free(&sub.tmp);
        return rc;
    }
}


/*
 * A key of a JSON object that becomes a map or a Struct, as the entry's
 * encoded key (out from "from" on): given twice, it is an error, as a
 * field given twice is. The set holds the bytes in hex (a key may hold a
 * NUL); the message quotes the key as the JSON gave it (in tmp).
 */
static int
micro_j2p_key_once(micro_j2p_t *j, micro_map_t *keys, size_t from,
    const char *what)
{
    int             rc;
    char            stack[128], *hex;
    size_t          i, len = j->out->len - from;
    const uint8_t  *key = j->out->data + from;

    hex = 2 * len < sizeof(stack) ? stack : malloc(2 * len + 1);
    if (hex == NULL) {
        return micro_j2p_nomem();
    }
    for (i = 0; i < len; i++) {
        hex[2 * i] = "0123456789abcdef"[key[i] >> 4];
        hex[2 * i + 1] = "0123456789abcdef"[key[i] & 0xf];
    }
    hex[2 * len] = '\0';

    if (micro_map_get(keys, hex) != NULL) {
        rc = micro_j2p_fail(j, "duplicate %s \"%.*s\"", what,
                            (int) (j->tmp.len > 64 ? 64 : j->tmp.len),
                            j->tmp.data ? (const char *) j->tmp.data : "");
    } else {
        rc = micro_map_set(keys, hex, (void *) 1) == MICRO_OK
             ? MICRO_OK : micro_j2p_nomem();
    }
    if (hex != stack) {
        free(hex);
    }
    return rc;
}


static int
micro_j2p_map_entries(micro_j2p_t *j, const micro_pb_field_t *f,
    micro_map_t *keys)
{
    int                      rc;
    size_t                   body;
    const micro_pb_field_t  *kf = &f->message->fields[0];
    const micro_pb_field_t  *vf = &f->message->fields[1];

    rc = micro_j2p_enter(j, '{');
    if (rc != MICRO_OK) {
        return rc == 1 ? MICRO_OK : rc;
    }
    do {
        j->tmp.len = 0;
        MICRO_TRY(micro_j2p_string(j, &j->tmp));
        MICRO_TRY(micro_j2p_expect(j, ':'));

        MICRO_TRY(micro_buf_tag(j->out, f->number, MICRO_WIRE_LEN));
        body = micro_j2p_open(j);
        if (body == (size_t) -1) {
            return micro_j2p_nomem();
        }
        MICRO_TRY(micro_j2p_map_key(j, kf));
        MICRO_TRY(micro_j2p_key_once(j, keys, body, "map key"));
        if (micro_j2p_peek(j) == 'n') {
            if ((vf->message == NULL
                 || vf->message->wkt != MICRO_PB_WKT_VALUE)
                && (vf->enumeration == NULL || !vf->enumeration->null_value))
            {
                return micro_j2p_fail(j, "null map value");
            }
            MICRO_TRY(micro_j2p_null(j, vf));
        } else {
            MICRO_TRY(micro_j2p_value(j, vf, 1));
        }
        MICRO_TRY(micro_j2p_close(j, body));
    } while ((rc = micro_j2p_more(j, '}')) == 1);
    return rc;
}


static int
micro_j2p_map(micro_j2p_t *j, const micro_pb_field_t *f)
{
    int          rc;
    micro_map_t  keys = { 0 };

    rc = micro_j2p_map_entries(j, f, &keys);
    micro_map_free(&keys);
    return rc;
}


static int
micro_j2p_field(micro_j2p_t *j, const micro_pb_field_t *f)
{
    if (micro_j2p_peek(j) == 'n') {
        return micro_j2p_null(j, f);
    }
    if (f->repeated && f->message && f->message->map_entry) {
        return micro_j2p_map(j, f);
    }
    if (f->repeated) {
        return micro_j2p_repeated(j, f);
    }
    return micro_j2p_value(j, f, 1);
}


/* A message as a JSON object of its fields. */
static int
micro_j2p_object(micro_j2p_t *j, const micro_pb_message_t *m, int skip_type)
{
    int                      rc;
    size_t                   idx;
    uint8_t                  stack[128], *seen;
    const char              *outer = j->field;
    const micro_pb_field_t  *f;

    rc = micro_j2p_enter(j, '{');
    if (rc != MICRO_OK) {
        return rc == 1 ? MICRO_OK : rc;
    }

    /* fields seen, then oneofs seen: duplicates are errors */
    idx = m->nfields + m->noneofs;
    seen = idx <= sizeof(stack) ? stack : calloc(idx, 1);
    if (seen == NULL) {
        return micro_j2p_nomem();
    }
    memset(seen, 0, idx <= sizeof(stack) ? idx : 0);

    do {
        j->tmp.len = 0;
        if ((rc = micro_j2p_string(j, &j->tmp)) != MICRO_OK
            || (rc = micro_j2p_expect(j, ':')) != MICRO_OK)
        {
            break;
        }
        f = micro_pb_field_by_name(m, j->tmp.len ? (const char *) j->tmp.data
                                                 : "", j->tmp.len);
        if (f == NULL) {
            if ((skip_type && j->tmp.len == 5
                 && memcmp(j->tmp.data, "@type", 5) == 0)
                || j->o->ignore_unknown)
            {
                rc = micro_j2p_skip(j);
            } else {
                rc = micro_j2p_fail(j, "unknown field \"%.*s\" in %s",
                                    (int) j->tmp.len, j->tmp.data,
                                    m->full_name);
            }
            continue;
        }

        idx = (size_t) (f - m->fields);
        j->field = f->json_name;
        if (seen[idx]) {
            rc = micro_j2p_fail(j, "duplicate field");
        } else if (f->oneof >= 0 && micro_j2p_peek(j) != 'n'
                   && seen[m->nfields + (size_t) f->oneof])
        {
            rc = micro_j2p_fail(j, "another field of its oneof is set");
        } else {
            seen[idx] = 1;
            if (f->oneof >= 0 && micro_j2p_peek(j) != 'n') {
                seen[m->nfields + (size_t) f->oneof] = 1;
            }
            rc = micro_j2p_field(j, f);
        }
        if (rc == MICRO_OK) {
            j->field = outer;
        }
    } while (rc == MICRO_OK && (rc = micro_j2p_more(j, '}')) == 1);

    if (seen != stack) {
        free(seen);
    }
    return rc;
}


/* --- well-known types ---------------------------------------------------- */

static int
micro_digits(const char *s, int n, int *out)
{
    int  i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}


/* ".123" (1-9 digits) -> nanoseconds; returns the characters used. */
static int
micro_nanos(const char *s, const char *end, int *nanos)
{
    int  n = 0, scale = 100000000;

    *nanos = 0;
    if (s >= end || *s != '.') {
        return 0;
    }
    for (s++; s < end && *s >= '0' && *s <= '9' && n < 9; s++, n++) {
        *nanos += (*s - '0') * scale;
        scale /= 10;
    }
    return n == 0 || (s < end && *s >= '0' && *s <= '9') ? -1 : n + 1;
}


static int
micro_j2p_seconds_nanos(micro_j2p_t *j, int64_t seconds, int nanos)
{
    if (seconds) {
        MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_VARINT));
        MICRO_TRY(micro_buf_varint(j->out, (uint64_t) seconds));
    }
    if (nanos) {
        MICRO_TRY(micro_buf_tag(j->out, 2, MICRO_WIRE_VARINT));
        MICRO_TRY(micro_buf_varint(j->out, (uint64_t) (int64_t) nanos));
    }
    return MICRO_OK;
}


/* RFC 3339: 1972-01-01T10:00:20.021Z or with an offset such as +05:30. */
static int
micro_days_in_month(int y, int mo)
{
    static const int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                 31 };

    if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
        return 29;
    }
    return days[mo - 1];
}


static int
micro_j2p_timestamp(micro_j2p_t *j)
{
    int          y, mo, d, h, mi, s, nanos, n, oh, om;
    int64_t      secs;
    const char  *p, *end;

    j->tmp.len = 0;
    MICRO_TRY(micro_j2p_string(j, &j->tmp));
    p = (const char *) j->tmp.data;
    end = p + j->tmp.len;

    if (j->tmp.len < 20 || micro_digits(p, 4, &y) || p[4] != '-'
        || micro_digits(p + 5, 2, &mo) || p[7] != '-'
        || micro_digits(p + 8, 2, &d) || p[10] != 'T'
        || micro_digits(p + 11, 2, &h) || p[13] != ':'
        || micro_digits(p + 14, 2, &mi) || p[16] != ':'
        || micro_digits(p + 17, 2, &s)
        || y < 1 || mo < 1 || mo > 12 || d < 1
        || d > micro_days_in_month(y, mo) || h > 23 || mi > 59 || s > 59)
    {
        return micro_j2p_fail(j, "invalid timestamp");
    }
    p += 19;
    n = micro_nanos(p, end, &nanos);
    if (n < 0) {
        return micro_j2p_fail(j, "invalid timestamp");
    }
    p += n;

    secs = micro_days_from_civil(y, (unsigned) mo, (unsigned) d) * 86400
           + h * 3600 + mi * 60 + s;
    if (end - p == 1 && *p == 'Z') {
        /* UTC */
    } else if (end - p == 6 && (*p == '+' || *p == '-') && p[3] == ':'
               && micro_digits(p + 1, 2, &oh) == 0
               && micro_digits(p + 4, 2, &om) == 0 && oh < 24 && om < 60)
    {
        secs += (*p == '+' ? -1 : 1) * (oh * 3600 + om * 60);
    } else {
        return micro_j2p_fail(j, "invalid timestamp");
    }
    if (secs < MICRO_TIMESTAMP_MIN || secs > MICRO_TIMESTAMP_MAX) {
        return micro_j2p_fail(j, "timestamp out of range");
    }
    return micro_j2p_seconds_nanos(j, secs, nanos);
}


/* "-1.5s": seconds and nanos carry the same sign. */
static int
micro_j2p_duration(micro_j2p_t *j)
{
    int          neg = 0, nanos, n;
    int64_t      secs = 0;
    const char  *p, *end, *digits;

    j->tmp.len = 0;
    MICRO_TRY(micro_j2p_string(j, &j->tmp));
    p = (const char *) j->tmp.data;
    end = p + j->tmp.len;

    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    digits = p;
    while (p < end && *p >= '0' && *p <= '9' && p - digits < 13) {
        secs = secs * 10 + (*p++ - '0');
    }
    n = micro_nanos(p, end, &nanos);
    if (p == digits || n < 0 || end - (p + n) != 1 || p[n] != 's') {
        return micro_j2p_fail(j, "invalid duration");
    }
    if (secs > MICRO_DURATION_MAX) {
        return micro_j2p_fail(j, "duration out of range");
    }
    return micro_j2p_seconds_nanos(j, neg ? -secs : secs,
                                   neg ? -nanos : nanos);
}


/* "fooBar,baz.quxQuux" -> paths foo_bar, baz.qux_quux. */
static int
micro_j2p_field_mask(micro_j2p_t *j)
{
    size_t          i, start, body;
    const uint8_t  *s;

    j->tmp.len = 0;
    MICRO_TRY(micro_j2p_string(j, &j->tmp));
    s = j->tmp.data;

    for (start = 0; start < j->tmp.len; start = i + 1) {
        for (i = start; i < j->tmp.len && s[i] != ','; i++) { /* void */ }
        MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_LEN));
        body = micro_j2p_open(j);
        if (body == (size_t) -1) {
            return micro_j2p_nomem();
        }
        for (size_t k = start; k < i; k++) {
            if (s[k] >= 'A' && s[k] <= 'Z') {
                MICRO_TRY(micro_buf_putc(j->out, '_'));
                MICRO_TRY(micro_buf_putc(j->out, s[k] + 32));
            } else if ((s[k] >= 'a' && s[k] <= 'z')
                       || (s[k] >= '0' && s[k] <= '9') || s[k] == '.')
            {
                MICRO_TRY(micro_buf_putc(j->out, s[k]));
            } else {
                return micro_j2p_fail(j, "invalid field mask path");
            }
        }
        MICRO_TRY(micro_j2p_close(j, body));
    }
    return MICRO_OK;
}


/* Struct: {"k": any, ...} as map<string, Value> fields = 1. */
static int
micro_j2p_struct_entries(micro_j2p_t *j, micro_map_t *keys)
{
    int     rc;
    size_t  entry, key;

    rc = micro_j2p_enter(j, '{');
    if (rc != MICRO_OK) {
        return rc == 1 ? MICRO_OK : rc;
    }
    do {
        j->tmp.len = 0;
        MICRO_TRY(micro_j2p_string(j, &j->tmp));
        MICRO_TRY(micro_j2p_expect(j, ':'));

        MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_LEN));
        entry = micro_j2p_open(j);
        if (entry == (size_t) -1) {
            return micro_j2p_nomem();
        }
        key = j->out->len;
        MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_LEN));
        MICRO_TRY(micro_buf_varint(j->out, j->tmp.len));
        MICRO_TRY(micro_buf_append(j->out, j->tmp.data, j->tmp.len));
        MICRO_TRY(micro_j2p_key_once(j, keys, key, "Struct key"));
        MICRO_TRY(micro_buf_tag(j->out, 2, MICRO_WIRE_LEN));
        MICRO_WRAP(j, micro_j2p_any_value(j));
        MICRO_TRY(micro_j2p_close(j, entry));
    } while ((rc = micro_j2p_more(j, '}')) == 1);
    return rc;
}


static int
micro_j2p_struct(micro_j2p_t *j)
{
    int          rc;
    micro_map_t  keys = { 0 };

    rc = micro_j2p_struct_entries(j, &keys);
    micro_map_free(&keys);
    return rc;
}


/* ListValue: [any, ...] as repeated Value values = 1. */
static int
micro_j2p_list(micro_j2p_t *j)
{
    int  rc;

    rc = micro_j2p_enter(j, '[');
    if (rc != MICRO_OK) {
        return rc == 1 ? MICRO_OK : rc;
    }
    do {
        MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_LEN));
        MICRO_WRAP(j, micro_j2p_any_value(j));
    } while ((rc = micro_j2p_more(j, ']')) == 1);
    return rc;
}


/* Value: any JSON, as its oneof kind. */
static int
micro_j2p_any_value(micro_j2p_t *j)
{
    int       c, is_int;
    size_t    n;
    double    d;
    uint64_t  bits;
    char      buf[64], *end;

    c = micro_j2p_peek(j);
    switch (c) {
    case 'n':
        MICRO_TRY(micro_j2p_literal(j, "null"));
        return micro_buf_append(j->out, "\x08\x00", 2);
    case 't':
        MICRO_TRY(micro_j2p_literal(j, "true"));
        return micro_buf_append(j->out, "\x20\x01", 2);
    case 'f':
        MICRO_TRY(micro_j2p_literal(j, "false"));
        return micro_buf_append(j->out, "\x20\x00", 2);
    case '"':
        MICRO_TRY(micro_buf_tag(j->out, 3, MICRO_WIRE_LEN));
        MICRO_WRAP(j, micro_j2p_string(j, j->out));
        return MICRO_OK;
    case '{':
        MICRO_TRY(micro_buf_tag(j->out, 5, MICRO_WIRE_LEN));
        MICRO_WRAP(j, micro_j2p_struct(j));
        return MICRO_OK;
    case '[':
        MICRO_TRY(micro_buf_tag(j->out, 6, MICRO_WIRE_LEN));
        MICRO_WRAP(j, micro_j2p_list(j));
        return MICRO_OK;
    }

    n = micro_number_token(j->p, j->end, &is_int);
    if (n == 0 || n >= sizeof(buf)) {
        return micro_j2p_fail(j, c < 0 ? "unexpected end of JSON"
                                       : "invalid JSON value");
    }
    memcpy(buf, j->p, n);
    buf[n] = '\0';
    j->p += n;
    d = strtod(buf, &end);
    if (isinf(d)) {
        return micro_j2p_fail(j, "number out of range");
    }
    memcpy(&bits, &d, 8);
    MICRO_TRY(micro_buf_tag(j->out, 2, MICRO_WIRE_I64));
    return micro_buf_le(j->out, bits, 8);
}


/* Any: {"@type": "type.googleapis.com/pkg.Msg", fields or "value"}. */
static int
micro_j2p_any(micro_j2p_t *j)
{
    int                        rc;
    char                       url[512];
    size_t                     url_len = 0;
    const char                *start, *name;
    const micro_pb_message_t  *m;

    if (micro_j2p_peek(j) != '{') {
        return micro_j2p_fail(j, "expected an object for Any");
    }
    start = j->p;

    /* find "@type" wherever it is */
    j->p++;
    if (micro_j2p_peek(j) == '}') {
        j->p++;
        return MICRO_OK;                      /* an empty Any */
    }
    for ( ;; ) {
        j->tmp.len = 0;
        MICRO_TRY(micro_j2p_string(j, &j->tmp));
        MICRO_TRY(micro_j2p_expect(j, ':'));
        if (j->tmp.len == 5 && memcmp(j->tmp.data, "@type", 5) == 0) {
            j->tmp.len = 0;
            MICRO_TRY(micro_j2p_string(j, &j->tmp));
            if (j->tmp.len >= sizeof(url)) {
                return micro_j2p_fail(j, "@type too long");
            }
            memcpy(url, j->tmp.data, j->tmp.len);
            url[j->tmp.len] = '\0';
            url_len = j->tmp.len;
        } else {
            MICRO_TRY(micro_j2p_skip(j));
        }
        if (micro_j2p_peek(j) == ',') {
            j->p++;
            continue;
        }
        MICRO_TRY(micro_j2p_expect(j, '}'));
        break;
    }
    if (url_len == 0) {
        return micro_j2p_fail(j, "Any without \"@type\"");
    }
    name = strrchr(url, '/');
    name = name ? name + 1 : url;
    m = j->o->pool ? micro_pb_pool_message(j->o->pool, name) : NULL;
    if (m == NULL) {
        return micro_j2p_fail(j, "unknown type \"%s\" in Any", url);
    }

    MICRO_TRY(micro_buf_tag(j->out, 1, MICRO_WIRE_LEN));
    MICRO_TRY(micro_buf_varint(j->out, url_len));
    MICRO_TRY(micro_buf_append(j->out, url, url_len));
    MICRO_TRY(micro_buf_tag(j->out, 2, MICRO_WIRE_LEN));

    /* encode the embedded message from the same object, read again */
    j->p = start;
    if (m->wkt == MICRO_PB_WKT_NONE || m->wkt == MICRO_PB_WKT_EMPTY) {
        MICRO_WRAP(j, micro_j2p_object(j, m, 1));
        return MICRO_OK;
    }
    j->p++;
    rc = MICRO_EPARSE;
    for ( ;; ) {
        j->tmp.len = 0;
        MICRO_TRY(micro_j2p_string(j, &j->tmp));
        MICRO_TRY(micro_j2p_expect(j, ':'));
        if (j->tmp.len == 5 && memcmp(j->tmp.data, "value", 5) == 0) {
            MICRO_WRAP(j, micro_j2p_body(j, m));
            rc = MICRO_OK;
        } else if (j->tmp.len == 5 && memcmp(j->tmp.data, "@type", 5) == 0) {
            MICRO_TRY(micro_j2p_skip(j));
        } else {
            return micro_j2p_fail(j, "unexpected key in Any of %s",
                                  m->full_name);
        }
        if (micro_j2p_peek(j) == ',') {
            j->p++;
            continue;
        }
        MICRO_TRY(micro_j2p_expect(j, '}'));
        break;
    }
    return rc == MICRO_OK ? MICRO_OK
                          : micro_j2p_fail(j, "Any of %s without \"value\"",
                                           m->full_name);
}


/* A message's contents, in its own JSON form. */
static int
micro_j2p_body(micro_j2p_t *j, const micro_pb_message_t *m)
{
    switch (m->wkt) {
    case MICRO_PB_WKT_TIMESTAMP:
        return micro_j2p_timestamp(j);
    case MICRO_PB_WKT_DURATION:
        return micro_j2p_duration(j);
    case MICRO_PB_WKT_FIELD_MASK:
        return micro_j2p_field_mask(j);
    case MICRO_PB_WKT_STRUCT:
        return micro_j2p_struct(j);
    case MICRO_PB_WKT_LIST_VALUE:
        return micro_j2p_list(j);
    case MICRO_PB_WKT_VALUE:
        return micro_j2p_any_value(j);
    case MICRO_PB_WKT_ANY:
        return micro_j2p_any(j);
    case MICRO_PB_WKT_WRAPPER:
        if (micro_j2p_peek(j) == 'n') {
            return micro_j2p_fail(j, "null for a wrapper");
        }
        return micro_j2p_value(j, &m->fields[0], 1);
    default:
        return micro_j2p_object(j, m, 0);
    }
}


int
micro_json_to_pb(const micro_pb_message_t *m, const char *json, size_t len,
    const micro_transcode_options_t *opts, micro_buf_t *out)
{
    int                               rc;
    micro_j2p_t                       j;
    static const micro_transcode_options_t  defaults;

    memset(&j, 0, sizeof(j));
    j.start = j.p = json;
    j.end = json + len;
    j.o = opts ? opts : &defaults;
    j.out = out;
    j.tmp.allocator = out->allocator;

    rc = micro_j2p_body(&j, m);
    if (rc == MICRO_OK && micro_j2p_peek(&j) != -1) {
        rc = micro_j2p_fail(&j, "unexpected data after the JSON value");
    }
    micro_buf_free(&j.tmp);
    return rc;
}
