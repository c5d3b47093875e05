/*
 * --descriptors FILE: the call's messages as protobuf, transcoded from
 * and to JSON with a descriptor set (protoc --include_imports
 * --descriptor_set_out), for servers that take no JSON (grpc-go, grpcio).
 * Without it, messages go as JSON and the server decodes them.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"


/* "pkg.Svc.Method" and "/pkg.Svc/Method" name Svc.Method in the pool. */
static const char *
micro_cli_method(const char *endpoint, char *buf, size_t size)
{
    char  *p, *dot, *name;

    snprintf(buf, size, "%s", endpoint[0] == '/' ? endpoint + 1 : endpoint);
    for (p = buf; *p; p++) {
        if (*p == '/') {
            *p = '.';
        }
    }
    dot = strrchr(buf, '.');
    if (dot == NULL) {
        return buf;
    }
    for (name = dot; name > buf && name[-1] != '.'; name--) {
        /* back to the service's short name */
    }
    return name;
}


int
micro_cli_codec_open(micro_cli_codec_t *k, const micro_cli_t *cli,
    const char *endpoint)
{
    int           rc;
    long          size;
    char          buf[256];
    FILE         *f;
    uint8_t      *data;
    const char   *name;

    memset(k, 0, sizeof(*k));
    if (cli->descriptors == NULL) {
        return 0;
    }
    f = fopen(cli->descriptors, "rb");
    if (f == NULL) {
        fprintf(stderr, "micro: cannot open %s\n", cli->descriptors);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    data = malloc(size > 0 ? (size_t) size : 1);
    if (data == NULL || fread(data, 1, (size_t) size, f) != (size_t) size) {
        fclose(f);
        free(data);
        fprintf(stderr, "micro: cannot read %s\n", cli->descriptors);
        return -1;
    }
    fclose(f);
    rc = micro_pb_pool_new(&k->pool);
    if (rc == MICRO_OK) {
        rc = micro_pb_pool_add_descriptor_set(k->pool, data, (size_t) size);
    }
    free(data);
    if (rc != MICRO_OK) {
        micro_cli_fail(cli->descriptors);
        micro_pb_pool_free(k->pool);
        k->pool = NULL;
        return -1;
    }
    name = micro_cli_method(endpoint, buf, sizeof(buf));
    if (micro_pb_pool_method(k->pool, name, &k->request, &k->response)
        != MICRO_OK)
    {
        fprintf(stderr, "micro: %s: no method %s\n", cli->descriptors, name);
        micro_pb_pool_free(k->pool);
        k->pool = NULL;
        return -1;
    }
    return 0;
}


const char *
micro_cli_codec_type(const micro_cli_codec_t *k)
{
    return k->pool ? "application/protobuf" : "application/json";
}


int
micro_cli_codec_encode(const micro_cli_codec_t *k, const char *json,
    micro_buf_t *out)
{
    if (k->pool == NULL) {
        return micro_buf_append(out, json, strlen(json));
    }
    return micro_json_to_pb(k->request, json, strlen(json), NULL, out);
}


int
micro_cli_codec_print(const micro_cli_codec_t *k, const micro_buf_t *msg)
{
    micro_buf_t  json = { 0 };

    if (k->pool == NULL) {
        printf("%.*s\n", (int) msg->len, msg->data ? (char *) msg->data : "");
        return MICRO_OK;
    }
    if (micro_pb_to_json(k->response, msg->data, msg->len, NULL, &json)
        != MICRO_OK)
    {
        return micro_cli_fail("reply");
    }
    printf("%.*s\n", (int) json.len, (char *) json.data);
    micro_buf_free(&json);
    return MICRO_OK;
}


void
micro_cli_codec_close(micro_cli_codec_t *k)
{
    micro_pb_pool_free(k->pool);
    k->pool = NULL;
}
