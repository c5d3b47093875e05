/* The service model: ownership, copying, validation and merging. */

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/service.h"


void
micro_metadata_free(micro_metadata_t *md)
{
    size_t  i;

    for (i = 0; i < md->len; i++) {
        free(md->items[i].key);
        free(md->items[i].value);
    }
    free(md->items);
    md->items = NULL;
    md->len = 0;
}


static void
micro_value_free(micro_value_t *v)
{
    size_t  i;

    for (i = 0; i < v->nvalues; i++) {
        micro_value_free(&v->values[i]);
    }
    free(v->values);
    free(v->name);
    free(v->type);
}


void
micro_service_free(micro_service_t *s)
{
    size_t             i;
    micro_endpoint_t  *e;

    for (i = 0; i < s->nendpoints; i++) {
        e = &s->endpoints[i];
        free(e->name);
        if (e->request) {
            micro_value_free(e->request);
            free(e->request);
        }
        if (e->response) {
            micro_value_free(e->response);
            free(e->response);
        }
        micro_metadata_free(&e->metadata);
    }
    for (i = 0; i < s->nnodes; i++) {
        free(s->nodes[i].id);
        free(s->nodes[i].address);
        micro_metadata_free(&s->nodes[i].metadata);
    }
    free(s->endpoints);
    free(s->nodes);
    free(s->name);
    free(s->version);
    micro_metadata_free(&s->metadata);
    memset(s, 0, sizeof(*s));
}


void
micro_service_list_free(micro_service_list_t *list)
{
    size_t  i;

    for (i = 0; i < list->len; i++) {
        micro_service_free(&list->items[i]);
    }
    free(list->items);
    list->items = NULL;
    list->len = 0;
}


/* strdup that keeps NULL as NULL; *ok drops to 0 on allocation failure. */
static char *
micro_dup(const char *s, int *ok)
{
    char  *d;

    if (s == NULL) {
        return NULL;
    }
    d = strdup(s);
    if (d == NULL) {
        *ok = 0;
    }
    return d;
}


static void
micro_metadata_copy(micro_metadata_t *dst, const micro_metadata_t *src,
    int *ok)
{
    size_t  i;

    dst->items = NULL;
    dst->len = 0;
    if (src->len == 0) {
        return;
    }
    dst->items = calloc(src->len, sizeof(micro_pair_t));
    if (dst->items == NULL) {
        *ok = 0;
        return;
    }
    dst->len = src->len;
    for (i = 0; i < src->len; i++) {
        dst->items[i].key = micro_dup(src->items[i].key, ok);
        dst->items[i].value = micro_dup(src->items[i].value, ok);
    }
}


static micro_value_t *
micro_value_copy(const micro_value_t *src, int *ok)
{
    size_t          i;
    micro_value_t  *v;

    v = calloc(1, sizeof(micro_value_t));
    if (v == NULL) {
        *ok = 0;
        return NULL;
    }
    v->name = micro_dup(src->name, ok);
    v->type = micro_dup(src->type, ok);
    if (src->nvalues == 0) {
        return v;
    }
    v->values = calloc(src->nvalues, sizeof(micro_value_t));
    if (v->values == NULL) {
        *ok = 0;
        return v;
    }
    v->nvalues = src->nvalues;
    for (i = 0; i < src->nvalues; i++) {
        micro_value_t  *c = micro_value_copy(&src->values[i], ok);

        if (c) {
            v->values[i] = *c;
            free(c);
        }
    }
    return v;
}


int
micro_service_copy(micro_service_t *dst, const micro_service_t *src)
{
    int                      ok = 1;
    size_t                   i;
    micro_endpoint_t        *e;
    const micro_endpoint_t  *se;

    memset(dst, 0, sizeof(*dst));
    dst->name = micro_dup(src->name, &ok);
    dst->version = micro_dup(src->version, &ok);
    micro_metadata_copy(&dst->metadata, &src->metadata, &ok);

    if (src->nendpoints) {
        dst->endpoints = calloc(src->nendpoints, sizeof(micro_endpoint_t));
        if (dst->endpoints == NULL) {
            goto failed;
        }
        dst->nendpoints = src->nendpoints;
    }
    for (i = 0; i < src->nendpoints; i++) {
        e = &dst->endpoints[i];
        se = &src->endpoints[i];
        e->name = micro_dup(se->name, &ok);
        e->request = se->request ? micro_value_copy(se->request, &ok) : NULL;
        e->response = se->response ? micro_value_copy(se->response, &ok)
                                   : NULL;
        micro_metadata_copy(&e->metadata, &se->metadata, &ok);
    }

    if (src->nnodes) {
        dst->nodes = calloc(src->nnodes, sizeof(micro_node_t));
        if (dst->nodes == NULL) {
            goto failed;
        }
        dst->nnodes = src->nnodes;
    }
    for (i = 0; i < src->nnodes; i++) {
        dst->nodes[i].id = micro_dup(src->nodes[i].id, &ok);
        dst->nodes[i].address = micro_dup(src->nodes[i].address, &ok);
        micro_metadata_copy(&dst->nodes[i].metadata, &src->nodes[i].metadata,
                            &ok);
    }

    if (ok) {
        return MICRO_OK;
    }

failed:
    micro_service_free(dst);
    return micro_error_set(MICRO_ENOMEM, "out of memory copying a service");
}


const char *
micro_metadata_get(const micro_metadata_t *md, const char *key)
{
    size_t  i;

    for (i = 0; i < md->len; i++) {
        if (strcmp(md->items[i].key, key) == 0) {
            return md->items[i].value;
        }
    }
    return NULL;
}


unsigned
micro_node_protocols(const micro_node_t *node)
{
    size_t       len;
    unsigned     set = 0;
    const char  *p;

    p = micro_metadata_get(&node->metadata, "protocols");
    if (p == NULL) {
        p = micro_metadata_get(&node->metadata, "protocol");
    }
    while (p && *p) {
        len = strcspn(p, ", ");
        if (len == 4 && strncmp(p, "mucp", 4) == 0) {
            set |= MICRO_PROTOCOL_MUCP;
        } else if (len == 4 && strncmp(p, "grpc", 4) == 0) {
            set |= MICRO_PROTOCOL_GRPC;
        }
        p += len;
        p += strspn(p, ", ");
    }
    return set ? set : MICRO_PROTOCOL_MUCP;
}


int
micro_metadata_set(micro_metadata_t *md, const char *key, const char *value)
{
    size_t         i;
    char          *v;
    micro_pair_t  *items;

    v = strdup(value);
    if (v == NULL) {
        return MICRO_ENOMEM;
    }
    for (i = 0; i < md->len; i++) {
        if (strcmp(md->items[i].key, key) == 0) {
            free(md->items[i].value);
            md->items[i].value = v;
            return MICRO_OK;
        }
    }
    items = realloc(md->items, (md->len + 1) * sizeof(micro_pair_t));
    if (items == NULL) {
        free(v);
        return MICRO_ENOMEM;
    }
    md->items = items;
    items[md->len].key = strdup(key);
    if (items[md->len].key == NULL) {
        free(v);
        return MICRO_ENOMEM;
    }
    items[md->len].value = v;
    md->len++;
    return MICRO_OK;
}


int
micro_name_valid(const char *name)
{
    size_t  i, len;

    if (name == NULL) {
        return 0;
    }
    len = strlen(name);
    if (len == 0 || len > MICRO_NAME_MAX || !isalnum((unsigned char) name[0])) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if (!isalnum((unsigned char) name[i]) && !strchr("._:-", name[i])) {
            return 0;
        }
    }
    return 1;
}


int
micro_node_id_valid(const char *id)
{
    size_t  i, len;

    if (id == NULL) {
        return 0;
    }
    len = strlen(id);
    if (len == 0 || len > MICRO_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!isgraph((unsigned char) id[i])) {
            return 0;
        }
    }
    return 1;
}


static int
micro_port_valid(const char *p)
{
    long   port;
    char  *end;

    if (!isdigit((unsigned char) *p)) {
        return 0;
    }
    port = strtol(p, &end, 10);
    return *end == '\0' && port > 0 && port <= 65535;
}


/*
 * An IP literal and a port: a host name would need a lookup, which
 * blocks, in every reader (an NGINX worker most of all).
 */
int
micro_address_valid(const char *address)
{
    char             host[INET6_ADDRSTRLEN + 1];
    size_t           len;
    const char      *colon;
    struct in6_addr  ip;

    if (address == NULL || strlen(address) > MICRO_NAME_MAX) {
        return 0;
    }

    if (address[0] == '[') {
        colon = strchr(address, ']');
        if (colon == NULL || colon[1] != ':') {
            return 0;
        }
        len = (size_t) (colon - address - 1);
        if (len == 0 || len >= sizeof(host)) {
            return 0;
        }
        memcpy(host, address + 1, len);
        host[len] = '\0';
        return inet_pton(AF_INET6, host, &ip) == 1
               && micro_port_valid(colon + 2);
    }

    colon = strrchr(address, ':');
    if (colon == NULL || (size_t) (colon - address) >= sizeof(host)) {
        return 0;
    }
    len = (size_t) (colon - address);
    memcpy(host, address, len);
    host[len] = '\0';
    return inet_pton(AF_INET, host, &ip) == 1 && micro_port_valid(colon + 1);
}


int
micro_service_validate(const micro_service_t *s)
{
    size_t  i;

    if (!micro_name_valid(s->name)) {
        return micro_error_set(MICRO_EINVAL, "invalid service name \"%s\"",
                               s->name ? s->name : "");
    }
    if (s->version && strlen(s->version) > MICRO_VERSION_MAX) {
        return micro_error_set(MICRO_EINVAL, "version of \"%s\" is too long",
                               s->name);
    }
    for (i = 0; i < s->nnodes; i++) {
        if (!micro_node_id_valid(s->nodes[i].id)) {
            return micro_error_set(MICRO_EINVAL,
                                   "invalid node id \"%s\" in \"%s\"",
                                   s->nodes[i].id ? s->nodes[i].id : "",
                                   s->name);
        }
        if (!micro_address_valid(s->nodes[i].address)) {
            return micro_error_set(MICRO_EINVAL,
                                   "invalid address \"%s\" of node \"%s\"",
                                   s->nodes[i].address ? s->nodes[i].address
                                                       : "",
                                   s->nodes[i].id);
        }
    }
    return MICRO_OK;
}


static int
micro_str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}


int
micro_service_list_merge(micro_service_list_t *list, micro_service_t *src)
{
    size_t            i;
    micro_node_t     *nodes;
    micro_service_t  *dst, *items;

    for (i = 0; i < list->len; i++) {
        dst = &list->items[i];
        if (!micro_str_eq(dst->name, src->name)
            || !micro_str_eq(dst->version, src->version))
        {
            continue;
        }
        nodes = realloc(dst->nodes,
                        (dst->nnodes + src->nnodes) * sizeof(micro_node_t));
        if (nodes == NULL) {
            return MICRO_ENOMEM;
        }
        memcpy(nodes + dst->nnodes, src->nodes,
               src->nnodes * sizeof(micro_node_t));
        dst->nodes = nodes;
        dst->nnodes += src->nnodes;
        free(src->nodes);
        src->nodes = NULL;
        src->nnodes = 0;
        micro_service_free(src);
        return MICRO_OK;
    }

    items = realloc(list->items, (list->len + 1) * sizeof(micro_service_t));
    if (items == NULL) {
        return MICRO_ENOMEM;
    }
    list->items = items;
    items[list->len++] = *src;
    memset(src, 0, sizeof(*src));
    return MICRO_OK;
}
