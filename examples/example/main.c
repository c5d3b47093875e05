/*
 * example: an API service for the gateway's api handler (micro_api
 * handler=api), as go-micro's examples/api/api: each endpoint takes the
 * whole HTTP request (go.api.Request) and writes the reply (go.api.Response).
 *
 *   GET  /example/call?name=John         -> {"message":"got your request John"}
 *   POST /example/foo/bar  {"any":"json"} -> 201 {"received":{"any":"json"}}
 *
 *   build/bin/example [--registry redis://127.0.0.1:6379/0] [--address ...]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <micro.h>

#include "api.pb-c.h"

#define SERVICE  "go.micro.api.example"


/* A map<string, Pair> field's values for key (NULL when absent). */
static const Go__Api__Pair *
pair(size_t n, Go__Api__Request__GetEntry **entries, const char *key)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(entries[i]->key, key) == 0 && entries[i]->value
            && entries[i]->value->n_values > 0)
        {
            return entries[i]->value;
        }
    }
    return NULL;
}


/* rsp's body: the JSON of v (which it takes), and a header to show them. */
static int
reply(micro_request_t *r, Go__Api__Response *rsp, int status, json_t *v,
    const char *header)
{
    char                          *s, **values;
    Go__Api__Pair                 *p;
    Go__Api__Response__HeaderEntry *e, **entries;

    s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    p = micro_request_alloc(r, sizeof(*p));
    e = micro_request_alloc(r, sizeof(*e));
    entries = micro_request_alloc(r, sizeof(*entries));
    values = micro_request_alloc(r, sizeof(*values));
    if (s == NULL || p == NULL || e == NULL || entries == NULL
        || values == NULL)
    {
        free(s);
        return micro_request_fail(r, 500, "out of memory");
    }
    rsp->body = micro_request_strdup(r, s);
    free(s);

    go__api__pair__init(p);
    p->key = "X-Example";
    p->n_values = 1;
    p->values = values;
    values[0] = (char *) header;
    go__api__response__header_entry__init(e);
    e->key = "X-Example";
    e->value = p;
    entries[0] = e;
    rsp->n_header = 1;
    rsp->header = entries;
    rsp->statuscode = status;
    return 0;
}


/* Example.Call: /example/call?name=John (or name in a form). */
static int
example_call(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Go__Api__Request  *req = (const void *) in;
    const Go__Api__Pair     *name;
    char                    *msg;

    (void) data;
    name = pair(req->n_get, req->get, "name");
    if (name == NULL) {
        name = pair(req->n_post, (Go__Api__Request__GetEntry **) req->post,
                    "name");
    }
    if (name == NULL) {
        return micro_request_fail(r, 400, "no content");
    }
    msg = micro_request_printf(r, "got your request %s", name->values[0]);
    return reply(r, (void *) out, 200, json_pack("{ss}", "message", msg),
                 "Example.Call");
}


/* Foo.Bar: POST /example/foo/bar with a JSON body, echoed back. */
static int
foo_bar(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Go__Api__Request  *req = (const void *) in;
    const Go__Api__Pair     *ct;
    json_t                  *body;
    json_error_t             err;

    (void) data;
    if (strcmp(req->method, "POST") != 0) {
        return micro_request_fail(r, 400, "require post");
    }
    ct = pair(req->n_header, (Go__Api__Request__GetEntry **) req->header,
              "Content-Type");
    if (ct == NULL) {
        return micro_request_fail(r, 400, "need content-type");
    }
    if (strcmp(ct->values[0], "application/json") != 0) {
        return micro_request_fail(r, 400, "expect application/json");
    }
    body = json_loads(req->body, 0, &err);
    if (body == NULL) {
        return micro_request_fail(r, 400, "invalid JSON: %s", err.text);
    }
    return reply(r, (void *) out, 201, json_pack("{so}", "received", body),
                 "Foo.Bar");
}


int
main(int argc, char **argv)
{
    micro_server_t          *s;
    micro_server_options_t   o;

    micro_server_options_init(&o, SERVICE);
    if (micro_server_options_args(&o, argc, argv) != 0
        || micro_server_new(&o, &s) != 0)
    {
        return 2;
    }
    micro_server_handle(s, "Example.Call", &go__api__request__descriptor,
                        &go__api__response__descriptor, example_call, NULL);
    micro_server_handle(s, "Foo.Bar", &go__api__request__descriptor,
                        &go__api__response__descriptor, foo_bar, NULL);
    if (micro_server_run(s) != 0) {
        fprintf(stderr, "example: %s\n", micro_error_detail());
        return 1;
    }
    micro_server_free(s);
    return 0;
}
