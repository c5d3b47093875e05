/* go-micro's Service JSON, both ways, through jansson. */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "micro/error.h"
#include "micro/service.h"


static json_t *
micro_metadata_to_json(const micro_metadata_t *md)
{
    size_t   i;
    json_t  *o;

    o = json_object();
    for (i = 0; o && i < md->len; i++) {
        if (json_object_set_new(o, md->items[i].key,
                                json_string(md->items[i].value)) != 0)
        {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}


static json_t *
micro_value_to_json(const micro_value_t *v)
{
    size_t   i;
    json_t  *o, *values;

    if (v == NULL) {
        return json_null();
    }
    /* go-micro leaves Values nil on leaves, which Go encodes as null */
    values = v->nvalues ? json_array() : json_null();
    for (i = 0; values && i < v->nvalues; i++) {
        json_array_append_new(values, micro_value_to_json(&v->values[i]));
    }
    o = json_pack("{s:s, s:s, s:o*}", "name", v->name ? v->name : "",
                  "type", v->type ? v->type : "", "values", values);
    return o;
}


char *
micro_service_to_json(const micro_service_t *s)
{
    char                    *out;
    size_t                   i;
    json_t                  *root, *eps, *nodes, *o;
    const micro_endpoint_t  *e;

    eps = json_array();
    for (i = 0; eps && i < s->nendpoints; i++) {
        e = &s->endpoints[i];
        o = json_pack("{s:s, s:o*, s:o*, s:o*}",
                      "name", e->name ? e->name : "",
                      "request", micro_value_to_json(e->request),
                      "response", micro_value_to_json(e->response),
                      "metadata", micro_metadata_to_json(&e->metadata));
        json_array_append_new(eps, o);
    }

    nodes = json_array();
    for (i = 0; nodes && i < s->nnodes; i++) {
        o = json_pack("{s:s, s:s, s:o*}",
                      "id", s->nodes[i].id ? s->nodes[i].id : "",
                      "address", s->nodes[i].address
                                 ? s->nodes[i].address : "",
                      "metadata",
                      micro_metadata_to_json(&s->nodes[i].metadata));
        json_array_append_new(nodes, o);
    }

    root = json_pack("{s:s, s:s, s:o*, s:o*, s:o*}",
                     "name", s->name ? s->name : "",
                     "version", s->version ? s->version : "",
                     "metadata", micro_metadata_to_json(&s->metadata),
                     "endpoints", eps, "nodes", nodes);
    if (root == NULL) {
        micro_error_set(MICRO_ENOMEM, "out of memory encoding a service");
        return NULL;
    }

    out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return out;
}


/* Decoding: every helper returns 0 or sets the detail and returns EPARSE. */

static int
micro_json_string(json_t *o, const char *key, char **dst, const char *where)
{
    json_t  *v;

    v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        return MICRO_OK;
    }
    if (!json_is_string(v)) {
        return micro_error_set(MICRO_EPARSE, "%s: \"%s\" is not a string",
                               where, key);
    }
    *dst = strdup(json_string_value(v));
    return *dst ? MICRO_OK : MICRO_ENOMEM;
}


static int
micro_json_metadata(json_t *o, micro_metadata_t *md, const char *where)
{
    int          rc;
    json_t      *m, *v;
    const char  *key;

    m = json_object_get(o, "metadata");
    if (m == NULL || json_is_null(m)) {
        return MICRO_OK;
    }
    if (!json_is_object(m)) {
        return micro_error_set(MICRO_EPARSE,
                               "%s: \"metadata\" is not an object", where);
    }
    json_object_foreach(m, key, v) {
        if (!json_is_string(v)) {
            return micro_error_set(MICRO_EPARSE,
                                   "%s: metadata \"%s\" is not a string",
                                   where, key);
        }
        rc = micro_metadata_set(md, key, json_string_value(v));
        if (rc != MICRO_OK) {
            return rc;
        }
    }
    return MICRO_OK;
}


static int
micro_json_array(json_t *o, const char *key, json_t **arr, const char *where)
{
    *arr = json_object_get(o, key);
    if (*arr == NULL || json_is_null(*arr)) {
        *arr = NULL;
        return MICRO_OK;
    }
    if (!json_is_array(*arr)) {
        return micro_error_set(MICRO_EPARSE, "%s: \"%s\" is not an array",
                               where, key);
    }
    return MICRO_OK;
}


static int
micro_json_value(json_t *o, micro_value_t *v, int depth)
{
    int      rc;
    size_t   i;
    json_t  *values, *item;

    if (!json_is_object(o)) {
        return micro_error_set(MICRO_EPARSE, "endpoint value is not an object");
    }
    if (depth > MICRO_VALUE_DEPTH) {
        return micro_error_set(MICRO_EPARSE, "endpoint value nested deeper "
                               "than %d", MICRO_VALUE_DEPTH);
    }
    if ((rc = micro_json_string(o, "name", &v->name, "value")) != MICRO_OK
        || (rc = micro_json_string(o, "type", &v->type, "value")) != MICRO_OK
        || (rc = micro_json_array(o, "values", &values, "value")) != MICRO_OK)
    {
        return rc;
    }
    if (values == NULL || json_array_size(values) == 0) {
        return MICRO_OK;
    }
    v->values = calloc(json_array_size(values), sizeof(micro_value_t));
    if (v->values == NULL) {
        return MICRO_ENOMEM;
    }
    json_array_foreach(values, i, item) {
        v->nvalues++;
        rc = micro_json_value(item, &v->values[i], depth + 1);
        if (rc != MICRO_OK) {
            return rc;
        }
    }
    return MICRO_OK;
}


static int
micro_json_value_ptr(json_t *o, const char *key, micro_value_t **dst)
{
    json_t  *v;

    v = json_object_get(o, key);
    if (v == NULL || json_is_null(v)) {
        return MICRO_OK;
    }
    *dst = calloc(1, sizeof(micro_value_t));
    if (*dst == NULL) {
        return MICRO_ENOMEM;
    }
    return micro_json_value(v, *dst, 1);
}


static int
micro_json_endpoints(json_t *root, micro_service_t *s)
{
    int                rc;
    size_t             i;
    json_t            *arr, *o;
    micro_endpoint_t  *e;

    if ((rc = micro_json_array(root, "endpoints", &arr, "service"))
        != MICRO_OK || arr == NULL || json_array_size(arr) == 0)
    {
        return rc;
    }
    s->endpoints = calloc(json_array_size(arr), sizeof(micro_endpoint_t));
    if (s->endpoints == NULL) {
        return MICRO_ENOMEM;
    }
    json_array_foreach(arr, i, o) {
        e = &s->endpoints[s->nendpoints++];
        if (!json_is_object(o)) {
            return micro_error_set(MICRO_EPARSE, "endpoint is not an object");
        }
        if ((rc = micro_json_string(o, "name", &e->name, "endpoint"))
               != MICRO_OK
            || (rc = micro_json_value_ptr(o, "request", &e->request))
               != MICRO_OK
            || (rc = micro_json_value_ptr(o, "response", &e->response))
               != MICRO_OK
            || (rc = micro_json_metadata(o, &e->metadata, "endpoint"))
               != MICRO_OK)
        {
            return rc;
        }
    }
    return MICRO_OK;
}


static int
micro_json_nodes(json_t *root, micro_service_t *s)
{
    int            rc;
    size_t         i;
    json_t        *arr, *o;
    micro_node_t  *n;

    if ((rc = micro_json_array(root, "nodes", &arr, "service")) != MICRO_OK
        || arr == NULL || json_array_size(arr) == 0)
    {
        return rc;
    }
    s->nodes = calloc(json_array_size(arr), sizeof(micro_node_t));
    if (s->nodes == NULL) {
        return MICRO_ENOMEM;
    }
    json_array_foreach(arr, i, o) {
        n = &s->nodes[s->nnodes++];
        if (!json_is_object(o)) {
            return micro_error_set(MICRO_EPARSE, "node is not an object");
        }
        if ((rc = micro_json_string(o, "id", &n->id, "node")) != MICRO_OK
            || (rc = micro_json_string(o, "address", &n->address, "node"))
               != MICRO_OK
            || (rc = micro_json_metadata(o, &n->metadata, "node"))
               != MICRO_OK)
        {
            return rc;
        }
    }
    return MICRO_OK;
}


int
micro_service_from_json(micro_service_t *s, const char *json, size_t len)
{
    int           rc;
    json_t       *root;
    json_error_t  err;

    memset(s, 0, sizeof(*s));

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (root == NULL) {
        return micro_error_set(MICRO_EPARSE, "invalid JSON at %d:%d: %s",
                               err.line, err.column, err.text);
    }
    if (!json_is_object(root)) {
        rc = micro_error_set(MICRO_EPARSE, "service is not a JSON object");
        goto done;
    }

    if ((rc = micro_json_string(root, "name", &s->name, "service"))
           != MICRO_OK
        || (rc = micro_json_string(root, "version", &s->version, "service"))
           != MICRO_OK
        || (rc = micro_json_metadata(root, &s->metadata, "service"))
           != MICRO_OK
        || (rc = micro_json_endpoints(root, s)) != MICRO_OK
        || (rc = micro_json_nodes(root, s)) != MICRO_OK)
    {
        goto done;
    }

    if (s->name == NULL) {
        rc = micro_error_set(MICRO_EPARSE, "service has no \"name\"");
    }

done:
    if (rc == MICRO_ENOMEM) {
        micro_error_set(rc, "out of memory decoding a service");
    }
    if (rc != MICRO_OK) {
        micro_service_free(s);
    }
    json_decref(root);
    return rc;
}
