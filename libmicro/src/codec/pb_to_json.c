/*
 * protobuf wire bytes -> JSON text. A message is first indexed (one entry
 * per field occurrence on the wire), the entries sorted by field number,
 * then written in field order: repeated occurrences become one array, the
 * last occurrence of a singular scalar wins, occurrences of a singular
 * message merge (decoded as the concatenation of their bytes).
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/transcode.h"
#include "core/map.h"
#include "micro/pb_wire.h"
#include "core/utf8.h"

/* messages within messages; the JSON written is held to
 * MICRO_TRANSCODE_MAX_DEPTH, what the parser reads */
#define MICRO_PB_DEPTH  256

typedef struct {
    const uint8_t                     *data;
    size_t                             len;
} micro_span_t;

typedef struct {
    uint32_t                           number;
    uint32_t                           wire;
    uint32_t                           order;     /* position on the wire */
    uint64_t                           value;     /* VARINT, I32, I64 */
    micro_span_t                       bytes;     /* LEN, GROUP */
} micro_entry_t;

/* An entry array with its capacity in front, to be reused. */
typedef struct {
    size_t                             cap;
    micro_entry_t                      e[];
} micro_entry_block_t;

#define MICRO_ENTRY_CACHE  16

typedef struct {
    const micro_transcode_options_t   *o;
    micro_buf_t                       *out;
    int                                depth;      /* messages */
    int                                json_depth; /* objects, arrays */
    /* every message needs an entry array: reuse them within one call */
    micro_entry_block_t               *cache[MICRO_ENTRY_CACHE];
    size_t                             ncache;
} micro_p2j_t;

static int micro_p2j_body(micro_p2j_t *c, const micro_pb_message_t *m,
    const micro_span_t *spans, size_t nspans);


static int
micro_p2j_fail(const char *what, const char *name)
{
    return micro_error_set(MICRO_EPARSE, "%s%s%s%s", what,
                           name ? " in \"" : "", name ? name : "",
                           name ? "\"" : "");
}


/* Well-formed input whose value JSON cannot express. */
static int
micro_p2j_unencodable(const char *what)
{
    return micro_error_set(MICRO_EENCODE, "%s", what);
}


#define MICRO_TRY(expr)                                                      \
    do {                                                                     \
        int  rc_ = (expr);                                                   \
        if (rc_ != MICRO_OK) {                                               \
            return rc_;                                                      \
        }                                                                    \
    } while (0)


static int
micro_p2j_raw(micro_p2j_t *c, const char *s)
{
    return micro_buf_append(c->out, s, strlen(s));
}


/* --- indexing ------------------------------------------------------------- */

/* Skips a group's contents up to its end tag; 0 or -1 if malformed. */
static int
micro_skip_group(const uint8_t **pp, const uint8_t *end, uint32_t number,
    int depth)
{
    uint64_t        key, v;
    const uint8_t  *p = *pp;

    if (depth > MICRO_PB_DEPTH) {
        return -1;
    }
    while (p < end) {
        if (micro_varint_get(&p, end, &key) != 0) {
            return -1;
        }
        switch (key & 7) {
        case MICRO_WIRE_VARINT:
            if (micro_varint_get(&p, end, &v) != 0) {
                return -1;
            }
            break;
        case MICRO_WIRE_I64:
            if (end - p < 8) {
                return -1;
            }
            p += 8;
            break;
        case MICRO_WIRE_I32:
            if (end - p < 4) {
                return -1;
            }
            p += 4;
            break;
        case MICRO_WIRE_LEN:
            if (micro_varint_get(&p, end, &v) != 0
                || v > (uint64_t) (end - p))
            {
                return -1;
            }
            p += v;
            break;
        case MICRO_WIRE_SGROUP:
            if (micro_skip_group(&p, end, (uint32_t) (key >> 3), depth + 1)
                != 0)
            {
                return -1;
            }
            break;
        case MICRO_WIRE_EGROUP:
            *pp = p;
            return (key >> 3) == number ? 0 : -1;
        default:
            return -1;
        }
    }
    return -1;
}


static void
micro_entries_free(micro_p2j_t *c, micro_entry_t *e)
{
    micro_entry_block_t  *b;

    if (e == NULL) {
        return;
    }
    b = (micro_entry_block_t *) ((char *) e
                                 - offsetof(micro_entry_block_t, e));
    if (c->ncache < MICRO_ENTRY_CACHE) {
        c->cache[c->ncache++] = b;
    } else {
        free(b);
    }
}


/* An entry array of at least want entries, cached or new; NULL if none. */
static micro_entry_t *
micro_entries_grow(micro_p2j_t *c, micro_entry_t *old, size_t n,
    size_t want, size_t *cap)
{
    micro_entry_block_t  *b = NULL;

    if (c->ncache && c->cache[c->ncache - 1]->cap >= want) {
        b = c->cache[--c->ncache];
    } else {
        want = want < 16 ? 16 : want;
        b = malloc(sizeof(*b) + want * sizeof(micro_entry_t));
        if (b == NULL) {
            return NULL;
        }
        b->cap = want;
    }
    if (old) {
        memcpy(b->e, old, n * sizeof(micro_entry_t));
        micro_entries_free(c, old);
    }
    *cap = b->cap;
    return b->e;
}


/* Entries arrive mostly in field order already: insertion sort, stable. */
static void
micro_entries_sort(micro_entry_t *e, size_t n)
{
    size_t         i, j;
    micro_entry_t  t;

    for (i = 1; i < n; i++) {
        if (e[i - 1].number <= e[i].number) {
            continue;
        }
        t = e[i];
        for (j = i; j > 0 && e[j - 1].number > t.number; j--) {
            e[j] = e[j - 1];
        }
        e[j] = t;
    }
}


/* Every field occurrence of the message in spans, sorted by number. */
static int
micro_index(micro_p2j_t *c, const micro_span_t *spans, size_t nspans,
    micro_entry_t **out, size_t *count, const char *name)
{
    size_t          i, n = 0, cap = 0;
    uint64_t        key, v;
    const uint8_t  *p, *end, *start;
    micro_entry_t  *e = NULL, *grown;

    for (i = 0; i < nspans; i++) {
        if (spans[i].len == 0) {
            continue;
        }
        p = spans[i].data;
        end = p + spans[i].len;
        while (p < end) {
            if (n == cap) {
                grown = micro_entries_grow(c, e, n, cap * 2, &cap);
                if (grown == NULL) {
                    micro_entries_free(c, e);
                    return micro_error_set(MICRO_ENOMEM, "out of memory");
                }
                e = grown;
            }
            memset(&e[n], 0, sizeof(*e));
            if (micro_varint_get(&p, end, &key) != 0 || (key >> 3) == 0
                || (key >> 3) > 0x1fffffff)
            {
                goto malformed;
            }
            e[n].number = (uint32_t) (key >> 3);
            e[n].wire = (uint32_t) (key & 7);
            e[n].order = (uint32_t) n;
            switch (e[n].wire) {
            case MICRO_WIRE_VARINT:
                if (micro_varint_get(&p, end, &e[n].value) != 0) {
                    goto malformed;
                }
                break;
            case MICRO_WIRE_I64:
            case MICRO_WIRE_I32:
                v = e[n].wire == MICRO_WIRE_I64 ? 8 : 4;
                if ((uint64_t) (end - p) < v) {
                    goto malformed;
                }
                e[n].value = micro_le_get(p, v);
                p += v;
                break;
            case MICRO_WIRE_LEN:
                if (micro_varint_get(&p, end, &v) != 0
                    || v > (uint64_t) (end - p))
                {
                    goto malformed;
                }
                e[n].bytes.data = p;
                e[n].bytes.len = v;
                p += v;
                break;
            case MICRO_WIRE_SGROUP:
                start = p;
                if (micro_skip_group(&p, end, e[n].number, 0) != 0) {
                    goto malformed;
                }
                e[n].bytes.data = start;
                e[n].bytes.len = (size_t) (p - start)
                                 - micro_varint_size((key & ~7ULL) | 4);
                break;
            default:
                goto malformed;
            }
            n++;
        }
    }
    micro_entries_sort(e, n);
    *out = e;
    *count = n;
    return MICRO_OK;

malformed:
    micro_entries_free(c, e);
    return micro_p2j_fail("malformed protobuf", name);
}


/* An object or an array, no deeper than the JSON parser reads. */
static int
micro_p2j_open(micro_p2j_t *c, char open)
{
    if (++c->json_depth > MICRO_TRANSCODE_MAX_DEPTH) {
        return micro_p2j_fail("nested too deeply for JSON", NULL);
    }
    return micro_buf_putc(c->out, open);
}


static int
micro_p2j_close(micro_p2j_t *c, char close)
{
    c->json_depth--;
    return micro_buf_putc(c->out, close);
}


/* --- scalars -------------------------------------------------------------- */

static int
micro_p2j_string(micro_p2j_t *c, const uint8_t *s, size_t len)
{
    size_t          i;
    char            esc[8];
    const uint8_t  *run = s;

    if (len == 0) {
        return micro_p2j_raw(c, "\"\"");
    }
    MICRO_TRY(micro_buf_putc(c->out, '"'));
    for (i = 0; i < len; i++) {
        if (s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' && s[i] != 0x7f) {
            continue;
        }
        MICRO_TRY(micro_buf_append(c->out, run, s + i - run));
        run = s + i + 1;
        switch (s[i]) {
        case '"':  MICRO_TRY(micro_p2j_raw(c, "\\\"")); break;
        case '\\': MICRO_TRY(micro_p2j_raw(c, "\\\\")); break;
        case '\n': MICRO_TRY(micro_p2j_raw(c, "\\n")); break;
        case '\r': MICRO_TRY(micro_p2j_raw(c, "\\r")); break;
        case '\t': MICRO_TRY(micro_p2j_raw(c, "\\t")); break;
        case '\b': MICRO_TRY(micro_p2j_raw(c, "\\b")); break;
        case '\f': MICRO_TRY(micro_p2j_raw(c, "\\f")); break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
            MICRO_TRY(micro_p2j_raw(c, esc));
        }
    }
    MICRO_TRY(micro_buf_append(c->out, run, s + len - run));
    return micro_buf_putc(c->out, '"');
}


static int
micro_p2j_base64(micro_p2j_t *c, const uint8_t *s, size_t len)
{
    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t             i;
    uint32_t           v;
    char               q[4];

    MICRO_TRY(micro_buf_putc(c->out, '"'));
    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) s[i] << 16 | (uint32_t) s[i + 1] << 8 | s[i + 2];
        q[0] = alphabet[v >> 18];
        q[1] = alphabet[(v >> 12) & 63];
        q[2] = alphabet[(v >> 6) & 63];
        q[3] = alphabet[v & 63];
        MICRO_TRY(micro_buf_append(c->out, q, 4));
    }
    if (i < len) {
        v = (uint32_t) s[i] << 16 | (i + 1 < len ? (uint32_t) s[i + 1] << 8
                                                 : 0);
        q[0] = alphabet[v >> 18];
        q[1] = alphabet[(v >> 12) & 63];
        q[2] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        q[3] = '=';
        MICRO_TRY(micro_buf_append(c->out, q, 4));
    }
    return micro_buf_putc(c->out, '"');
}


/* The shortest text that reads back as the same double (or float). */
static int
micro_p2j_double(micro_p2j_t *c, double d, int is_float)
{
    int   prec;
    char  buf[40];

    if (isnan(d)) {
        return micro_p2j_raw(c, "\"NaN\"");
    }
    if (isinf(d)) {
        return micro_p2j_raw(c, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (is_float ? strtof(buf, NULL) == (float) d
                     : strtod(buf, NULL) == d)
        {
            break;
        }
    }
    return micro_p2j_raw(c, buf);
}


/* A scalar's value from its wire entry; NULL f->type checks the wire. */
static int
micro_p2j_scalar(micro_p2j_t *c, const micro_pb_field_t *f, uint64_t v,
    const micro_span_t *bytes, int quote_ints)
{
    char                   buf[32];
    float                  fl;
    double                 d;
    size_t                 i;
    uint32_t               u32;
    const micro_pb_enum_t  *e;

    switch (f->type) {
    case MICRO_PB_DOUBLE:
        memcpy(&d, &v, 8);
        return micro_p2j_double(c, d, 0);
    case MICRO_PB_FLOAT:
        u32 = (uint32_t) v;
        memcpy(&fl, &u32, 4);
        return micro_p2j_double(c, fl, 1);
    case MICRO_PB_INT32:
    case MICRO_PB_SFIXED32:
        snprintf(buf, sizeof(buf), quote_ints ? "\"%d\"" : "%d",
                 (int32_t) (uint32_t) v);
        break;
    case MICRO_PB_SINT32:
        snprintf(buf, sizeof(buf), quote_ints ? "\"%d\"" : "%d",
                 (int32_t) micro_zigzag_dec((uint32_t) v));
        break;
    case MICRO_PB_UINT32:
    case MICRO_PB_FIXED32:
        snprintf(buf, sizeof(buf), quote_ints ? "\"%u\"" : "%u",
                 (uint32_t) v);
        break;
    case MICRO_PB_INT64:
    case MICRO_PB_SFIXED64:
        snprintf(buf, sizeof(buf), "\"%lld\"", (long long) (int64_t) v);
        break;
    case MICRO_PB_SINT64:
        snprintf(buf, sizeof(buf), "\"%lld\"",
                 (long long) micro_zigzag_dec(v));
        break;
    case MICRO_PB_UINT64:
    case MICRO_PB_FIXED64:
        snprintf(buf, sizeof(buf), "\"%llu\"", (unsigned long long) v);
        break;
    case MICRO_PB_BOOL:
        snprintf(buf, sizeof(buf), quote_ints ? "\"%s\"" : "%s",
                 v ? "true" : "false");
        break;
    case MICRO_PB_ENUM:
        e = f->enumeration;
        if (e->null_value) {
            return micro_p2j_raw(c, "null");
        }
        for (i = 0; !c->o->enums_as_ints && i < e->nvalues; i++) {
            if (e->values[i].number == (int32_t) v) {
                return micro_p2j_string(c, (const uint8_t *) e->values[i].name,
                                        strlen(e->values[i].name));
            }
        }
        snprintf(buf, sizeof(buf), "%d", (int32_t) v);
        break;
    case MICRO_PB_STRING:
        if (!micro_utf8_valid(bytes->data, bytes->len)) {
            return micro_p2j_fail("invalid UTF-8 in string field", f->name);
        }
        return micro_p2j_string(c, bytes->data, bytes->len);
    case MICRO_PB_BYTES:
        return micro_p2j_base64(c, bytes->data, bytes->len);
    default:
        return micro_p2j_fail("unsupported field type", f->name);
    }
    return micro_p2j_raw(c, buf);
}


/* The wire type a field's single values use. */
static uint32_t
micro_wire_of(const micro_pb_field_t *f)
{
    switch (f->type) {
    case MICRO_PB_DOUBLE:
    case MICRO_PB_FIXED64:
    case MICRO_PB_SFIXED64:
        return MICRO_WIRE_I64;
    case MICRO_PB_FLOAT:
    case MICRO_PB_FIXED32:
    case MICRO_PB_SFIXED32:
        return MICRO_WIRE_I32;
    case MICRO_PB_STRING:
    case MICRO_PB_BYTES:
    case MICRO_PB_MESSAGE:
        return MICRO_WIRE_LEN;
    case MICRO_PB_GROUP:
        return MICRO_WIRE_SGROUP;
    default:
        return MICRO_WIRE_VARINT;
    }
}


/* Calls emit for each value in a packed run of scalars. */
static int
micro_p2j_packed(micro_p2j_t *c, const micro_pb_field_t *f,
    const micro_span_t *run, int *first)
{
    size_t          w;
    uint64_t        v;
    const uint8_t  *p = run->data, *end = p + run->len;

    while (p < end) {
        w = micro_wire_of(f);
        if (w == MICRO_WIRE_VARINT) {
            if (micro_varint_get(&p, end, &v) != 0) {
                return micro_p2j_fail("malformed packed field", f->name);
            }
        } else {
            w = w == MICRO_WIRE_I64 ? 8 : 4;
            if ((size_t) (end - p) < w) {
                return micro_p2j_fail("malformed packed field", f->name);
            }
            v = micro_le_get(p, w);
            p += w;
        }
        if (!*first) {
            MICRO_TRY(micro_buf_putc(c->out, ','));
        }
        *first = 0;
        MICRO_TRY(micro_p2j_scalar(c, f, v, NULL, 0));
    }
    return MICRO_OK;
}


/* One value of f from entry e (a message's bytes go through its body). */
static int
micro_p2j_value(micro_p2j_t *c, const micro_pb_field_t *f,
    const micro_entry_t *e, size_t n)
{
    size_t         i;
    micro_span_t   stack[8], *spans;
    int            rc;

    if (f->type != MICRO_PB_MESSAGE && f->type != MICRO_PB_GROUP) {
        if (e[n - 1].wire != micro_wire_of(f)) {
            return micro_p2j_fail("wrong wire type for field", f->name);
        }
        return micro_p2j_scalar(c, f, e[n - 1].value, &e[n - 1].bytes, 0);
    }

    /* occurrences of a message merge: decode all their bytes as one */
    spans = n <= 8 ? stack : malloc(n * sizeof(*spans));
    if (spans == NULL) {
        return micro_error_set(MICRO_ENOMEM, "out of memory");
    }
    for (i = 0; i < n; i++) {
        if (e[i].wire != micro_wire_of(f)) {
            if (spans != stack) {
                free(spans);
            }
            return micro_p2j_fail("wrong wire type for field", f->name);
        }
        spans[i] = e[i].bytes;
    }
    rc = micro_p2j_body(c, f->message, spans, n);
    if (spans != stack) {
        free(spans);
    }
    return rc;
}


static int
micro_p2j_repeated(micro_p2j_t *c, const micro_pb_field_t *f,
    const micro_entry_t *e, size_t n)
{
    int     first = 1;
    size_t  i;

    MICRO_TRY(micro_p2j_open(c, '['));
    for (i = 0; i < n; i++) {
        if (e[i].wire == MICRO_WIRE_LEN && micro_wire_of(f) != MICRO_WIRE_LEN) {
            MICRO_TRY(micro_p2j_packed(c, f, &e[i].bytes, &first));
            continue;
        }
        if (!first) {
            MICRO_TRY(micro_buf_putc(c->out, ','));
        }
        first = 0;
        MICRO_TRY(micro_p2j_value(c, f, &e[i], 1));
    }
    return micro_p2j_close(c, ']');
}


/*
 * Map and Struct keys, each as JSON text ending in a NUL at offs[i] of keys
 * (escaped, so a key holding a NUL is not cut there; (size_t) -1: no key):
 * keep[i] is set where entry i is the last of its key, the one that wins.
 */
static int
micro_p2j_last_keys(const micro_buf_t *keys, const size_t *offs, size_t n,
    uint8_t *keep)
{
    int          rc = MICRO_OK;
    size_t       i;
    micro_map_t  seen = { 0 };

    for (i = 0; rc == MICRO_OK && i < n; i++) {
        if (offs[i] != (size_t) -1) {
            rc = micro_map_set(&seen, (char *) keys->data + offs[i],
                               (void *) (uintptr_t) (i + 1));
        }
    }
    for (i = 0; rc == MICRO_OK && i < n; i++) {
        keep[i] = offs[i] != (size_t) -1
                  && (uintptr_t) micro_map_get(&seen, (char *) keys->data
                                                      + offs[i]) == i + 1;
    }
    micro_map_free(&seen);
    return rc == MICRO_OK ? MICRO_OK
                          : micro_error_set(MICRO_ENOMEM, "out of memory");
}


/* A map entry's key as JSON object key text, into key (quoted). */
static int
micro_p2j_map(micro_p2j_t *c, const micro_pb_field_t *f,
    const micro_entry_t *e, size_t n)
{
    int                      rc = MICRO_OK, first = 1;
    size_t                   i, j, count, klen;
    micro_buf_t              keys = { 0 };
    micro_entry_t           *sub = NULL;
    micro_buf_t             *saved = c->out;
    size_t                  *offs = NULL;
    uint8_t                 *keep = NULL;
    const micro_pb_field_t  *kf = &f->message->fields[0];
    const micro_pb_field_t  *vf = &f->message->fields[1];
    micro_entry_t            dflt;

    for (i = 0; i < n; i++) {
        if (e[i].wire != MICRO_WIRE_LEN) {
            return micro_p2j_fail("wrong wire type for map field", f->name);
        }
    }

    /* keys as text, so the last entry of each key wins */
    offs = calloc(n + 1, sizeof(size_t));
    keep = calloc(n + 1, 1);
    if (offs == NULL || keep == NULL) {
        rc = micro_error_set(MICRO_ENOMEM, "out of memory");
        goto done;
    }
    c->out = &keys;
    for (i = 0; rc == MICRO_OK && i < n; i++) {
        offs[i] = keys.len;
        rc = micro_index(c, &e[i].bytes, 1, &sub, &count,
                         f->message->full_name);
        if (rc != MICRO_OK) {
            break;
        }
        for (j = count; j > 0 && sub[j - 1].number != 1; j--) { /* void */ }
        memset(&dflt, 0, sizeof(dflt));
        dflt.wire = micro_wire_of(kf);
        rc = micro_p2j_scalar(c, kf, j ? sub[j - 1].value : 0,
                              j ? &sub[j - 1].bytes : &dflt.bytes, 1);
        if (rc == MICRO_OK && j && sub[j - 1].wire != micro_wire_of(kf)) {
            rc = micro_p2j_fail("wrong wire type for map key", f->name);
        }
        rc = rc == MICRO_OK ? micro_buf_putc(&keys, '\0') : rc;
        micro_entries_free(c, sub);
        sub = NULL;
    }
    c->out = saved;
    offs[n] = keys.len;
    rc = rc ? rc : micro_p2j_last_keys(&keys, offs, n, keep);

    rc = rc ? rc : micro_p2j_open(c, '{');
    for (i = 0; rc == MICRO_OK && i < n; i++) {
        if (!keep[i]) {
            continue;                          /* a later entry wins */
        }
        klen = offs[i + 1] - offs[i] - 1;
        if (!first) {
            rc = micro_buf_putc(c->out, ',');
        }
        first = 0;
        if (rc == MICRO_OK) {
            if (keys.data[offs[i]] == '"') {
                rc = micro_buf_append(c->out, keys.data + offs[i], klen);
            } else {
                rc = micro_buf_putc(c->out, '"');
                rc = rc ? rc : micro_buf_append(c->out, keys.data + offs[i],
                                                klen);
                rc = rc ? rc : micro_buf_putc(c->out, '"');
            }
        }
        rc = rc ? rc : micro_buf_putc(c->out, ':');
        if (rc != MICRO_OK) {
            break;
        }

        rc = micro_index(c, &e[i].bytes, 1, &sub, &count,
                         f->message->full_name);
        if (rc != MICRO_OK) {
            break;
        }
        for (j = count; j > 0 && sub[j - 1].number != 2; j--) { /* void */ }
        if (j) {
            size_t  k = j - 1;

            /* all occurrences of the value field, for message merging */
            while (k > 0 && sub[k - 1].number == 2) {
                k--;
            }
            rc = micro_p2j_value(c, vf, &sub[k], j - k);
        } else if (vf->type == MICRO_PB_MESSAGE) {
            rc = micro_p2j_body(c, vf->message, NULL, 0);
        } else {
            memset(&dflt, 0, sizeof(dflt));
            rc = micro_p2j_scalar(c, vf, 0, &dflt.bytes, 0);
        }
        micro_entries_free(c, sub);
        sub = NULL;
    }
    rc = rc ? rc : micro_p2j_close(c, '}');

done:
    c->out = saved;
    free(offs);
    free(keep);
    micro_buf_free(&keys);
    return rc;
}


/* Does a singular field without presence hold its default? */
static int
micro_is_default(const micro_pb_field_t *f, const micro_entry_t *e)
{
    double  d;
    float   fl;
    uint32_t u32;

    switch (f->type) {
    case MICRO_PB_STRING:
    case MICRO_PB_BYTES:
        return e->bytes.len == 0;
    case MICRO_PB_DOUBLE:
        memcpy(&d, &e->value, 8);
        return d == 0 && !signbit(d);
    case MICRO_PB_FLOAT:
        u32 = (uint32_t) e->value;
        memcpy(&fl, &u32, 4);
        return fl == 0 && !signbit(fl);
    case MICRO_PB_MESSAGE:
    case MICRO_PB_GROUP:
        return 0;
    case MICRO_PB_INT32:
    case MICRO_PB_UINT32:
    case MICRO_PB_SINT32:
    case MICRO_PB_FIXED32:
    case MICRO_PB_SFIXED32:
    case MICRO_PB_ENUM:
        return (uint32_t) e->value == 0;
    default:
        return e->value == 0;
    }
}


static int
micro_p2j_default(micro_p2j_t *c, const micro_pb_field_t *f)
{
    micro_entry_t  e;

    if (f->repeated) {
        return micro_p2j_raw(c, f->message && f->message->map_entry ? "{}"
                                                                    : "[]");
    }
    if (f->type == MICRO_PB_MESSAGE || f->type == MICRO_PB_GROUP) {
        return micro_p2j_raw(c, "null");
    }
    memset(&e, 0, sizeof(e));
    return micro_p2j_scalar(c, f, 0, &e.bytes, 0);
}


/* A plain message as a JSON object. */
static int
micro_p2j_object(micro_p2j_t *c, const micro_pb_message_t *m,
    const micro_entry_t *e, size_t n, int any_type_written)
{
    int                      first = !any_type_written, rc = MICRO_OK;
    size_t                   i = 0, fi, k, *oneof_last = NULL, stack[16];
    const char              *name;
    const micro_pb_field_t  *f;

    /* the last occurrence among a oneof's members wins */
    if (m->noneofs) {
        oneof_last = m->noneofs <= 16 ? stack
                                      : calloc(m->noneofs, sizeof(size_t));
        if (oneof_last == NULL) {
            return micro_error_set(MICRO_ENOMEM, "out of memory");
        }
        memset(oneof_last, 0xff, m->noneofs * sizeof(size_t));
        for (k = 0; k < n; k++) {
            f = micro_pb_field_by_number(m, e[k].number);
            if (f && f->oneof >= 0 && (oneof_last[f->oneof] == (size_t) -1
                                       || e[oneof_last[f->oneof]].order
                                          < e[k].order))
            {
                oneof_last[f->oneof] = k;
            }
        }
    }

    MICRO_TRY(any_type_written ? MICRO_OK : micro_p2j_open(c, '{'));
    for (fi = 0; rc == MICRO_OK && fi < m->nfields; fi++) {
        f = &m->fields[fi];
        while (i < n && e[i].number < f->number) {
            i++;                                   /* unknown fields */
        }
        for (k = i; k < n && e[k].number == f->number; k++) { /* void */ }

        if (k == i) {
            if (!c->o->emit_defaults || f->presence) {
                continue;
            }
        } else if (f->oneof >= 0) {
            if (oneof_last[f->oneof] < i || oneof_last[f->oneof] >= k) {
                i = k;
                continue;
            }
        } else if (!f->repeated && !f->presence && !c->o->emit_defaults
                   && e[k - 1].wire == micro_wire_of(f)
                   && micro_is_default(f, &e[k - 1]))
        {
            i = k;
            continue;
        }

        name = c->o->proto_names ? f->name : f->json_name;
        if (!first) {
            rc = micro_buf_putc(c->out, ',');
        }
        first = 0;
        rc = rc ? rc : micro_p2j_string(c, (const uint8_t *) name,
                                        strlen(name));
        rc = rc ? rc : micro_buf_putc(c->out, ':');
        if (rc != MICRO_OK) {
            break;
        }
        if (k == i) {
            rc = micro_p2j_default(c, f);
        } else if (f->repeated && f->message && f->message->map_entry) {
            rc = micro_p2j_map(c, f, &e[i], k - i);
        } else if (f->repeated) {
            rc = micro_p2j_repeated(c, f, &e[i], k - i);
        } else {
            rc = micro_p2j_value(c, f, &e[i], k - i);
        }
        i = k;
    }
    if (oneof_last && oneof_last != stack) {
        free(oneof_last);
    }
    return rc ? rc : micro_p2j_close(c, '}');
}


/* --- well-known types ---------------------------------------------------- */

/* The last value of varint field number among entries, or 0; *bad is
 * set when the field came with another wire type. */
static uint64_t
micro_last(const micro_entry_t *e, size_t n, uint32_t number, int *bad)
{
    size_t  i;

    for (i = n; i > 0; i--) {
        if (e[i - 1].number == number) {
            *bad |= e[i - 1].wire != MICRO_WIRE_VARINT;
            return e[i - 1].value;
        }
    }
    return 0;
}


static void
micro_fraction(char *buf, size_t size, int32_t nanos)
{
    if (nanos == 0) {
        buf[0] = '\0';
    } else if (nanos % 1000000 == 0) {
        snprintf(buf, size, ".%03d", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
        snprintf(buf, size, ".%06d", nanos / 1000);
    } else {
        snprintf(buf, size, ".%09d", nanos);
    }
}


static int
micro_p2j_timestamp(micro_p2j_t *c, const micro_entry_t *e, size_t n)
{
    int       bad = 0;
    char      buf[64], frac[16];
    int64_t   secs, days, y;
    int32_t   nanos;
    unsigned  mo, d, rem;

    secs = (int64_t) micro_last(e, n, 1, &bad);
    nanos = (int32_t) micro_last(e, n, 2, &bad);
    if (bad || secs < MICRO_TIMESTAMP_MIN || secs > MICRO_TIMESTAMP_MAX
        || nanos < 0 || nanos > 999999999)
    {
        return micro_p2j_unencodable("timestamp out of range");
    }
    days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    rem = (unsigned) (secs - days * 86400);
    micro_civil_from_days(days, &y, &mo, &d);
    micro_fraction(frac, sizeof(frac), nanos);
    snprintf(buf, sizeof(buf), "\"%04lld-%02u-%02uT%02u:%02u:%02u%sZ\"",
             (long long) y, mo, d, rem / 3600, rem / 60 % 60, rem % 60, frac);
    return micro_p2j_raw(c, buf);
}


static int
micro_p2j_duration(micro_p2j_t *c, const micro_entry_t *e, size_t n)
{
    int      bad = 0;
    char     buf[64], frac[16];
    int64_t  secs;
    int32_t  nanos;

    secs = (int64_t) micro_last(e, n, 1, &bad);
    nanos = (int32_t) micro_last(e, n, 2, &bad);
    if (bad || secs < -MICRO_DURATION_MAX || secs > MICRO_DURATION_MAX
        || nanos < -999999999 || nanos > 999999999
        || (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0))
    {
        return micro_p2j_unencodable("duration out of range");
    }
    micro_fraction(frac, sizeof(frac), nanos < 0 ? -nanos : nanos);
    snprintf(buf, sizeof(buf), "\"%s%lld%ss\"",
             (secs < 0 || nanos < 0) ? "-" : "",
             (long long) (secs < 0 ? -secs : secs), frac);
    return micro_p2j_raw(c, buf);
}


static int
micro_p2j_field_mask(micro_p2j_t *c, const micro_entry_t *e, size_t n)
{
    int     first = 1;
    size_t  i, k;

    MICRO_TRY(micro_buf_putc(c->out, '"'));
    for (i = 0; i < n; i++) {
        if (e[i].number != 1 || e[i].wire != MICRO_WIRE_LEN) {
            continue;
        }
        if (!first) {
            MICRO_TRY(micro_buf_putc(c->out, ','));
        }
        first = 0;
        for (k = 0; k < e[i].bytes.len; k++) {
            uint8_t  ch = e[i].bytes.data[k];

            if (ch == '_' && k + 1 < e[i].bytes.len
                && e[i].bytes.data[k + 1] >= 'a'
                && e[i].bytes.data[k + 1] <= 'z')
            {
                MICRO_TRY(micro_buf_putc(c->out, e[i].bytes.data[++k] - 32));
            } else if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')
                       || ch == '.')
            {
                MICRO_TRY(micro_buf_putc(c->out, ch));
            } else {
                return micro_p2j_unencodable("field mask path cannot be "
                                             "written as JSON");
            }
        }
    }
    return micro_buf_putc(c->out, '"');
}


static int micro_p2j_value_wkt(micro_p2j_t *c, const micro_entry_t *e,
    size_t n);


/* A Value's bytes, decoded and written. */
static int
micro_p2j_value_bytes(micro_p2j_t *c, const micro_span_t *bytes)
{
    int             rc;
    size_t          count;
    micro_entry_t  *sub;

    if (++c->depth > MICRO_PB_DEPTH) {
        return micro_p2j_fail("nested too deeply", NULL);
    }
    rc = micro_index(c, bytes, 1, &sub, &count, "google.protobuf.Value");
    if (rc == MICRO_OK) {
        rc = micro_p2j_value_wkt(c, sub, count);
        micro_entries_free(c, sub);
    }
    c->depth--;
    return rc;
}


/* Struct: map<string, Value> fields = 1, the last entry of a key wins. */
static int
micro_p2j_struct(micro_p2j_t *c, const micro_entry_t *e, size_t n)
{
    int             rc = MICRO_OK, first = 1;
    size_t          i, j, count;
    size_t         *offs;
    uint8_t        *keep;
    micro_buf_t     keys = { 0 };
    micro_buf_t    *saved = c->out;
    micro_span_t    key, *values;
    micro_entry_t  *sub;

    offs = calloc(n + 1, sizeof(size_t));
    keep = calloc(n + 1, 1);
    values = calloc(n + 1, sizeof(micro_span_t));
    if (offs == NULL || keep == NULL || values == NULL) {
        rc = micro_error_set(MICRO_ENOMEM, "out of memory");
        goto done;
    }

    c->out = &keys;
    for (i = 0; rc == MICRO_OK && i < n; i++) {
        offs[i] = (size_t) -1;
        if (e[i].number != 1 || e[i].wire != MICRO_WIRE_LEN) {
            continue;
        }
        rc = micro_index(c, &e[i].bytes, 1, &sub, &count,
                         "google.protobuf.Struct");
        if (rc != MICRO_OK) {
            break;
        }
        key.data = NULL;
        key.len = 0;
        for (j = 0; j < count; j++) {
            if (sub[j].wire == MICRO_WIRE_LEN && sub[j].number == 1) {
                key = sub[j].bytes;
            } else if (sub[j].wire == MICRO_WIRE_LEN && sub[j].number == 2) {
                values[i] = sub[j].bytes;
            }
        }
        micro_entries_free(c, sub);
        if (!micro_utf8_valid(key.data, key.len)) {
            rc = micro_p2j_fail("invalid UTF-8 in Struct key", NULL);
            break;
        }
        offs[i] = keys.len;
        rc = micro_p2j_string(c, key.data, key.len);
        rc = rc ? rc : micro_buf_putc(&keys, '\0');
    }
    c->out = saved;
    rc = rc ? rc : micro_p2j_last_keys(&keys, offs, n, keep);

    rc = rc ? rc : micro_p2j_open(c, '{');
    for (i = 0; rc == MICRO_OK && i < n; i++) {
        if (!keep[i]) {
            continue;
        }
        rc = first ? MICRO_OK : micro_buf_putc(c->out, ',');
        first = 0;
        rc = rc ? rc : micro_p2j_raw(c, (char *) keys.data + offs[i]);
        rc = rc ? rc : micro_buf_putc(c->out, ':');
        rc = rc ? rc : micro_p2j_value_bytes(c, &values[i]);
    }
    rc = rc ? rc : micro_p2j_close(c, '}');

done:
    c->out = saved;
    free(offs);
    free(keep);
    free(values);
    micro_buf_free(&keys);
    return rc;
}


/* ListValue: repeated Value values = 1. */
static int
micro_p2j_list(micro_p2j_t *c, const micro_entry_t *e, size_t n)
{
    int     first = 1;
    size_t  i;

    MICRO_TRY(micro_p2j_open(c, '['));
    for (i = 0; i < n; i++) {
        if (e[i].number != 1 || e[i].wire != MICRO_WIRE_LEN) {
            continue;
        }
        if (!first) {
            MICRO_TRY(micro_buf_putc(c->out, ','));
        }
        first = 0;
        MICRO_TRY(micro_p2j_value_bytes(c, &e[i].bytes));
    }
    return micro_p2j_close(c, ']');
}


/* Value: whichever of its kinds came last. */
static int
micro_p2j_value_wkt(micro_p2j_t *c, const micro_entry_t *e, size_t n)
{
    int             rc;
    size_t          i, best = n, count;
    double          d;
    micro_entry_t  *sub;

    for (i = 0; i < n; i++) {
        if (e[i].number >= 1 && e[i].number <= 6
            && (best == n || e[i].order > e[best].order))
        {
            best = i;
        }
    }
    if (best == n) {
        return micro_p2j_fail("google.protobuf.Value has no kind set", NULL);
    }
    if (e[best].wire != (e[best].number == 2 ? MICRO_WIRE_I64
                         : e[best].number == 1 || e[best].number == 4
                         ? MICRO_WIRE_VARINT : MICRO_WIRE_LEN))
    {
        return micro_p2j_fail("wrong wire type in google.protobuf.Value",
                              NULL);
    }
    switch (e[best].number) {
    case 1:
        return micro_p2j_raw(c, "null");
    case 2:
        memcpy(&d, &e[best].value, 8);
        if (isnan(d) || isinf(d)) {
            return micro_p2j_unencodable("NaN or Infinity in "
                                         "google.protobuf.Value");
        }
        return micro_p2j_double(c, d, 0);
    case 3:
        if (!micro_utf8_valid(e[best].bytes.data, e[best].bytes.len)) {
            return micro_p2j_fail("invalid UTF-8 in string", NULL);
        }
        return micro_p2j_string(c, e[best].bytes.data, e[best].bytes.len);
    case 4:
        return micro_p2j_raw(c, e[best].value ? "true" : "false");
    default:
        /* the depth was counted by micro_p2j_value_bytes() */
        MICRO_TRY(micro_index(c, &e[best].bytes, 1, &sub, &count,
                              "google.protobuf.Value"));
        rc = e[best].number == 5 ? micro_p2j_struct(c, sub, count)
                                 : micro_p2j_list(c, sub, count);
        micro_entries_free(c, sub);
        return rc;
    }
}


/* Any: {"@type": url, fields...} or {"@type": url, "value": wkt}. */
static int
micro_p2j_any(micro_p2j_t *c, const micro_entry_t *e, size_t n)
{
    int                        rc, found;
    char                       name[512];
    size_t                     i, count, url = n, val = n;
    const char                *slash;
    micro_entry_t             *sub;
    const micro_pb_message_t  *m;

    for (i = 0; i < n; i++) {
        if (e[i].number == 1 && e[i].wire == MICRO_WIRE_LEN) {
            url = i;
        } else if (e[i].number == 2 && e[i].wire == MICRO_WIRE_LEN) {
            val = i;
        }
    }
    (void) found;
    if (url == n) {
        if (val == n) {
            return micro_p2j_raw(c, "{}");
        }
        return micro_p2j_fail("google.protobuf.Any without a type URL", NULL);
    }
    if (e[url].bytes.len >= sizeof(name)) {
        return micro_p2j_fail("type URL too long", NULL);
    }
    memcpy(name, e[url].bytes.data, e[url].bytes.len);
    name[e[url].bytes.len] = '\0';
    slash = strrchr(name, '/');
    m = c->o->pool ? micro_pb_pool_message(c->o->pool,
                                           slash ? slash + 1 : name)
                   : NULL;
    if (m == NULL) {
        return micro_error_set(MICRO_EPARSE, "unknown type \"%s\" in Any",
                               name);
    }

    MICRO_TRY(micro_p2j_open(c, '{'));
    MICRO_TRY(micro_p2j_raw(c, "\"@type\":"));
    MICRO_TRY(micro_p2j_string(c, (const uint8_t *) name, strlen(name)));
    if (m->wkt != MICRO_PB_WKT_NONE && m->wkt != MICRO_PB_WKT_EMPTY) {
        MICRO_TRY(micro_p2j_raw(c, ",\"value\":"));
        MICRO_TRY(micro_p2j_body(c, m, val < n ? &e[val].bytes : NULL,
                                 val < n));
        return micro_p2j_close(c, '}');
    }

    rc = micro_index(c, val < n ? &e[val].bytes : NULL, val < n, &sub,
                     &count,
                     m->full_name);
    if (rc != MICRO_OK) {
        return rc;
    }
    /* the fields follow "@type" inside the same object */
    if (count > 0 || c->o->emit_defaults) {
        rc = micro_p2j_object(c, m, sub, count, 2);
    } else {
        rc = micro_p2j_close(c, '}');
    }
    micro_entries_free(c, sub);
    return rc;
}


/* A message from its bytes (several spans merge), in its JSON form. */
static int
micro_p2j_body(micro_p2j_t *c, const micro_pb_message_t *m,
    const micro_span_t *spans, size_t nspans)
{
    int             rc;
    size_t          n;
    micro_entry_t  *e;

    if (++c->depth > MICRO_PB_DEPTH) {
        return micro_p2j_fail("nested too deeply", m->full_name);
    }
    rc = micro_index(c, spans, nspans, &e, &n, m->full_name);
    if (rc != MICRO_OK) {
        return rc;
    }

    switch (m->wkt) {
    case MICRO_PB_WKT_TIMESTAMP:
        rc = micro_p2j_timestamp(c, e, n);
        break;
    case MICRO_PB_WKT_DURATION:
        rc = micro_p2j_duration(c, e, n);
        break;
    case MICRO_PB_WKT_FIELD_MASK:
        rc = micro_p2j_field_mask(c, e, n);
        break;
    case MICRO_PB_WKT_STRUCT:
        rc = micro_p2j_struct(c, e, n);
        break;
    case MICRO_PB_WKT_LIST_VALUE:
        rc = micro_p2j_list(c, e, n);
        break;
    case MICRO_PB_WKT_VALUE:
        rc = micro_p2j_value_wkt(c, e, n);
        break;
    case MICRO_PB_WKT_ANY:
        rc = micro_p2j_any(c, e, n);
        break;
    case MICRO_PB_WKT_WRAPPER:
        if (n && e[n - 1].number == 1) {
            size_t  k = n - 1;

            while (k > 0 && e[k - 1].number == 1) {
                k--;
            }
            rc = micro_p2j_value(c, &m->fields[0], &e[k], n - k);
        } else {
            rc = micro_p2j_default(c, &m->fields[0]);
        }
        break;
    default:
        rc = micro_p2j_object(c, m, e, n, 0);
    }
    micro_entries_free(c, e);
    c->depth--;
    return rc;
}


int
micro_pb_to_json(const micro_pb_message_t *m, const uint8_t *pb, size_t len,
    const micro_transcode_options_t *opts, micro_buf_t *out)
{
    int                                     rc;
    micro_p2j_t                             c;
    micro_span_t                            span = { pb, len };
    static const micro_transcode_options_t  defaults;

    c.o = opts ? opts : &defaults;
    c.out = out;
    c.depth = 0;
    c.json_depth = 0;
    c.ncache = 0;
    rc = micro_p2j_body(&c, m, &span, 1);
    while (c.ncache) {
        free(c.cache[--c.ncache]);
    }
    return rc;
}
