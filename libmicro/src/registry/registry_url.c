/* Registry URLs: redis://[:password@]host[:port][/db][?opts], unix://path. */

#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/registry.h"


static int
micro_parse_int(const char *s, size_t len, int min, int max, int *out)
{
    long   v = 0;
    size_t i;

    if (len == 0 || len > 9) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max) {
        return 0;
    }
    *out = (int) v;
    return 1;
}


static char *
micro_strndup_or_fail(const char *s, size_t len, int *ok)
{
    char  *d = strndup(s, len);

    if (d == NULL) {
        *ok = 0;
    }
    return d;
}


/* "k=v&k=v": prefix, db, connect_timeout, command_timeout. */
static int
micro_parse_query(micro_registry_options_t *o, const char *q, const char *url)
{
    int          ok = 1;
    size_t       klen, vlen;
    const char  *amp, *eq, *v;

    while (*q) {
        amp = strchr(q, '&');
        if (amp == NULL) {
            amp = q + strlen(q);
        }
        eq = memchr(q, '=', amp - q);
        if (eq == NULL) {
            goto invalid;
        }
        klen = eq - q;
        v = eq + 1;
        vlen = amp - v;

        if (klen == 6 && strncmp(q, "prefix", 6) == 0) {
            free(o->prefix);
            o->prefix = micro_strndup_or_fail(v, vlen, &ok);
        } else if (klen == 2 && strncmp(q, "db", 2) == 0) {
            ok = micro_parse_int(v, vlen, 0, 65535, &o->db);
        } else if (klen == 15 && strncmp(q, "connect_timeout", 15) == 0) {
            ok = micro_parse_int(v, vlen, 1, 3600000, &o->connect_timeout_ms);
        } else if (klen == 15 && strncmp(q, "command_timeout", 15) == 0) {
            ok = micro_parse_int(v, vlen, 1, 3600000, &o->command_timeout_ms);
        } else {
            goto invalid;
        }
        if (!ok) {
            goto invalid;
        }
        q = *amp ? amp + 1 : amp;
    }
    return MICRO_OK;

invalid:
    return micro_error_set(MICRO_EPARSE, "invalid option \"%.*s\" in "
                           "registry URL \"%s\"", (int) (amp - q), q, url);
}


static int
micro_parse_redis(micro_registry_options_t *o, const char *p, const char *url)
{
    int          ok = 1;
    const char  *end, *at, *colon, *slash, *why = "no host";

    end = p + strcspn(p, "?");
    slash = memchr(p, '/', end - p);
    if (slash == NULL) {
        slash = end;
    }

    at = NULL;
    for (colon = p; colon < slash; colon++) {
        if (*colon == '@') {
            at = colon;
        }
    }
    if (at) {
        /* userinfo: ":password" or "user:password" (user ignored) */
        colon = memchr(p, ':', at - p);
        colon = colon ? colon + 1 : p;
        o->password = micro_strndup_or_fail(colon, at - colon, &ok);
        p = at + 1;
    }

    if (*p == '[') {
        colon = memchr(p, ']', slash - p);
        if (colon == NULL) {
            why = "an IPv6 address needs its \"]\"";
            goto invalid;
        }
        o->host = micro_strndup_or_fail(p + 1, colon - p - 1, &ok);
        colon++;
        if (colon < slash && *colon != ':') {
            why = "expected \":port\" after the IPv6 address";
            goto invalid;
        }
    } else {
        colon = memchr(p, ':', slash - p);
        if (colon == NULL) {
            colon = slash;
        }
        o->host = micro_strndup_or_fail(p, colon - p, &ok);
    }
    if (!ok || o->host == NULL || o->host[0] == '\0') {
        goto invalid;
    }
    if (colon < slash
        && !micro_parse_int(colon + 1, slash - colon - 1, 1, 65535, &o->port))
    {
        why = "the port must be a number from 1 to 65535";
        goto invalid;
    }
    if (slash < end && end - slash > 1
        && !micro_parse_int(slash + 1, end - slash - 1, 0, 65535, &o->db))
    {
        why = "the database must be a number from 0 to 65535";
        goto invalid;
    }
    return *end ? micro_parse_query(o, end + 1, url) : MICRO_OK;

invalid:
    if (!ok) {
        return micro_error_set(MICRO_ENOMEM, "out of memory");
    }
    return micro_error_set(MICRO_EPARSE, "invalid registry URL \"%s\": %s",
                           url, why);
}


int
micro_registry_options_parse(micro_registry_options_t *o, const char *url)
{
    int          rc;
    const char  *q;

    memset(o, 0, sizeof(*o));
    o->port = 6379;
    o->connect_timeout_ms = 1000;
    o->command_timeout_ms = 1000;

    if (url == NULL || url[0] == '\0') {
        url = getenv(MICRO_REGISTRY_ENV);
    }
    if (url == NULL || url[0] == '\0') {
        url = MICRO_REGISTRY_DEFAULT_URL;
    }

    if (strncmp(url, "redis://", 8) == 0) {
        rc = micro_parse_redis(o, url + 8, url);

    } else if (strncmp(url, "unix://", 7) == 0 && url[7] == '/') {
        q = strchr(url + 7, '?');
        o->unix_path = q ? strndup(url + 7, q - url - 7) : strdup(url + 7);
        rc = o->unix_path == NULL ? MICRO_ENOMEM
             : q ? micro_parse_query(o, q + 1, url) : MICRO_OK;

    } else {
        rc = micro_error_set(MICRO_EPARSE, "registry URL \"%s\" is not "
                             "redis://host:port/db or unix:///path", url);
    }

    if (rc == MICRO_OK && o->prefix == NULL) {
        o->prefix = strdup("micro:");
        rc = o->prefix ? MICRO_OK : MICRO_ENOMEM;
    }
    if (rc != MICRO_OK) {
        micro_registry_options_free(o);
    }
    return rc;
}


int
micro_registry_options_copy(micro_registry_options_t *dst,
    const micro_registry_options_t *src)
{
    *dst = *src;
    dst->host = src->host ? strdup(src->host) : NULL;
    dst->unix_path = src->unix_path ? strdup(src->unix_path) : NULL;
    dst->password = src->password ? strdup(src->password) : NULL;
    dst->prefix = strdup(src->prefix ? src->prefix : "micro:");
    if ((src->host && dst->host == NULL)
        || (src->unix_path && dst->unix_path == NULL)
        || (src->password && dst->password == NULL) || dst->prefix == NULL)
    {
        micro_registry_options_free(dst);
        return MICRO_ENOMEM;
    }
    return MICRO_OK;
}


void
micro_registry_options_free(micro_registry_options_t *o)
{
    free(o->host);
    free(o->unix_path);
    free(o->password);
    free(o->prefix);
    memset(o, 0, sizeof(*o));
}
