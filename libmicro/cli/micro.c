/*
 * micro: the command-line tool.
 *
 *   micro [--registry URL] list services
 *   micro [--registry URL] get service NAME [--json]
 *   micro [--registry URL] register service 'JSON' [--ttl 30s]
 *   micro [--registry URL] deregister service 'JSON'
 *   micro [--registry URL] watch
 *   micro [--registry URL] call SERVICE ENDPOINT 'JSON' [--address A]
 *         [--timeout 5s] [--metadata k=v ...] [--protocol grpc|mucp]
 *         [--descriptors FILE]
 *   micro [--registry URL] stream SERVICE ENDPOINT  (JSON lines on stdin)
 *   micro [--registry URL] health SERVICE
 *   micro [--registry URL] publish TOPIC 'JSON' [--header k=v ...]
 *   micro [--registry URL] subscribe TOPIC [--queue Q | --name N]
 *         [--from-start]
 *   micro [--registry URL] topics
 *   micro [--registry URL] replay TOPIC
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static micro_watcher_t  *micro_cli_watcher;


int
micro_cli_fail(const char *what)
{
    fprintf(stderr, "micro: %s%s%s\n", what ? what : "",
            what ? ": " : "", micro_error_detail()[0]
                              ? micro_error_detail() : "failed");
    return 1;
}


static int
micro_cli_usage(void)
{
    fprintf(stderr,
        "usage: micro [--registry URL] COMMAND\n"
        "\n"
        "commands:\n"
        "  list services                     names of registered services\n"
        "  get service NAME [--json]         versions and nodes of a service\n"
        "  register service JSON [--ttl D]   register (D like 30s, 500ms, 1m;"
        " default: no expiry)\n"
        "  deregister service JSON           remove the nodes in JSON\n"
        "  watch                             print registry events\n"
        "  call SERVICE ENDPOINT JSON        call an endpoint, print the "
        "reply\n"
        "      [--address HOST:PORT] [--timeout 5s] [--metadata k=v]...\n"
        "      [--protocol grpc|mucp] [--descriptors FILE.pb]\n"
        "  stream SERVICE ENDPOINT           a gRPC stream: JSON lines from "
        "stdin\n"
        "      [same options]                out, replies as JSON lines\n"
        "  health SERVICE                    Debug.Health on every node\n"
        "  publish TOPIC JSON [--header k=v]... publish a message, print "
        "its id\n"
        "  subscribe TOPIC [--queue Q | --name N] [--from-start]\n"
        "                                    print messages as JSON lines\n"
        "  topics                            topics, their groups and lag\n"
        "  replay TOPIC                      publish its dead letters "
        "again\n"
        "\n"
        "The registry is --registry, else $MICRO_REGISTRY, else "
        MICRO_REGISTRY_DEFAULT_URL ".\n");
    return 2;
}


/* "30s", "500ms", "2m", "1h" or a bare number of seconds, to ms. */
static int
micro_cli_duration(const char *s, int *ms)
{
    char    *end;
    double   v;

    v = strtod(s, &end);
    if (end == s || v < 0) {
        return -1;
    }
    if (*end == '\0' || strcmp(end, "s") == 0) {
        v *= 1000;
    } else if (strcmp(end, "m") == 0) {
        v *= 60000;
    } else if (strcmp(end, "h") == 0) {
        v *= 3600000;
    } else if (strcmp(end, "ms") != 0) {
        return -1;
    }
    if (v > 2147483647.0) {
        return -1;
    }
    *ms = (int) v;
    return 0;
}


/* --metadata key=value: an extra header on the call. */
static int
micro_cli_metadata(micro_cli_t *cli, const char *kv)
{
    char         *b;
    const char   *eq = strchr(kv, '=');

    if (eq == NULL || eq == kv || cli->nmetadata == MICRO_CLI_MAX_META
        || strlen(kv) >= sizeof(cli->meta_buf[0]))
    {
        fprintf(stderr, "micro: invalid --metadata \"%s\" (want key=value)\n",
                kv);
        return -1;
    }
    b = cli->meta_buf[cli->nmetadata];
    strcpy(b, kv);
    b[eq - kv] = '\0';
    cli->metadata[cli->nmetadata].key = b;
    cli->metadata[cli->nmetadata].value = b + (eq - kv) + 1;
    cli->nmetadata++;
    return 0;
}


static int
micro_cli_parse(micro_cli_t *cli, int argc, char **argv)
{
    int  i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            cli->json = 1;
        } else if (strcmp(argv[i], "--registry") == 0 && i + 1 < argc) {
            cli->registry = argv[++i];
        } else if (strncmp(argv[i], "--registry=", 11) == 0) {
            cli->registry = argv[i] + 11;
        } else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            cli->ttl = argv[++i];
        } else if (strncmp(argv[i], "--ttl=", 6) == 0) {
            cli->ttl = argv[i] + 6;
        } else if (strcmp(argv[i], "--address") == 0 && i + 1 < argc) {
            cli->address = argv[++i];
        } else if (strcmp(argv[i], "--protocol") == 0 && i + 1 < argc) {
            cli->protocol = argv[++i];
        } else if (strcmp(argv[i], "--descriptors") == 0 && i + 1 < argc) {
            cli->descriptors = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            cli->timeout = argv[++i];
        } else if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc) {
            cli->queue = argv[++i];
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            cli->name = argv[++i];
        } else if (strcmp(argv[i], "--from-start") == 0) {
            cli->from_start = 1;
        } else if ((strcmp(argv[i], "--metadata") == 0
                    || strcmp(argv[i], "--header") == 0) && i + 1 < argc)
        {
            if (micro_cli_metadata(cli, argv[++i]) != 0) {
                return -1;
            }
        } else if (strncmp(argv[i], "--", 2) == 0
                   || cli->argc == MICRO_CLI_MAX_ARGS)
        {
            fprintf(stderr, "micro: unknown option \"%s\"\n", argv[i]);
            return -1;
        } else {
            cli->argv[cli->argc++] = argv[i];
        }
    }
    return 0;
}


static int
micro_cli_list(micro_registry_t *r)
{
    size_t                 i;
    micro_service_list_t   list;

    if (micro_registry_list(r, &list) != MICRO_OK) {
        return micro_cli_fail("list services");
    }
    for (i = 0; i < list.len; i++) {
        printf("%s\n", list.items[i].name);
    }
    micro_service_list_free(&list);
    return 0;
}


static void
micro_cli_print_metadata(const micro_metadata_t *md)
{
    size_t  i;

    for (i = 0; i < md->len; i++) {
        printf("%s%s=%s", i ? "," : "", md->items[i].key, md->items[i].value);
    }
}


static void
micro_cli_print_service(const micro_service_t *s)
{
    size_t  i;

    printf("service  %s\n\nversion %s\n\n", s->name,
           s->version ? s->version : "");
    printf("ID\tAddress\tMetadata\n");
    for (i = 0; i < s->nnodes; i++) {
        printf("%s\t%s\t", s->nodes[i].id, s->nodes[i].address);
        micro_cli_print_metadata(&s->nodes[i].metadata);
        printf("\n");
    }
    for (i = 0; i < s->nendpoints; i++) {
        printf("\nEndpoint: %s\n", s->endpoints[i].name);
        if (s->endpoints[i].metadata.len) {
            printf("Metadata: ");
            micro_cli_print_metadata(&s->endpoints[i].metadata);
            printf("\n");
        }
    }
}


static int
micro_cli_get(micro_registry_t *r, const micro_cli_t *cli)
{
    char                  *json;
    size_t                 i;
    micro_service_list_t   list;

    if (micro_registry_get(r, cli->argv[2], &list) != MICRO_OK) {
        return micro_cli_fail("get service");
    }
    if (cli->json) {
        printf("[");
    }
    for (i = 0; i < list.len; i++) {
        if (cli->json) {
            json = micro_service_to_json(&list.items[i]);
            printf("%s%s", i ? "," : "", json ? json : "null");
            free(json);
        } else {
            printf("%s", i ? "\n" : "");
            micro_cli_print_service(&list.items[i]);
        }
    }
    if (cli->json) {
        printf("]\n");
    }
    micro_service_list_free(&list);
    return 0;
}


static int
micro_cli_register(micro_registry_t *r, const micro_cli_t *cli, int reg)
{
    int               rc, ttl = 0;
    const char       *what = reg ? "register service" : "deregister service";
    micro_service_t   s;

    if (cli->ttl && micro_cli_duration(cli->ttl, &ttl) != 0) {
        fprintf(stderr, "micro: invalid --ttl \"%s\"\n", cli->ttl);
        return 2;
    }
    if (micro_service_from_json(&s, cli->argv[2], strlen(cli->argv[2]))
        != MICRO_OK)
    {
        return micro_cli_fail(what);
    }
    rc = reg ? micro_registry_register(r, &s, ttl)
             : micro_registry_deregister(r, &s);
    micro_service_free(&s);
    return rc == MICRO_OK ? 0 : micro_cli_fail(what);
}


static void
micro_cli_on_signal(int signo)
{
    (void) signo;
    if (micro_cli_watcher) {
        micro_watcher_stop(micro_cli_watcher);
    }
}


static int
micro_cli_watch(micro_registry_t *r)
{
    int                   rc;
    char                 *json;
    micro_watch_event_t   ev;

    if (micro_watcher_new(r, 0, &micro_cli_watcher) != MICRO_OK) {
        return micro_cli_fail("watch");
    }
    signal(SIGINT, micro_cli_on_signal);
    signal(SIGTERM, micro_cli_on_signal);
    setvbuf(stdout, NULL, _IOLBF, 0);

    while ((rc = micro_watcher_next(micro_cli_watcher, &ev, -1))
           != MICRO_ECLOSED)
    {
        if (rc != MICRO_OK) {
            continue;
        }
        json = micro_service_to_json(&ev.service);
        printf("{\"action\":\"%s\",\"service\":%s}\n",
               micro_watch_action_name(ev.action), json ? json : "null");
        free(json);
        micro_watch_event_free(&ev);
    }
    micro_watcher_free(micro_cli_watcher);
    micro_cli_watcher = NULL;
    return 0;
}


/* Prints a failed call's go-micro error JSON on stderr. */
int
micro_cli_call_failed(const micro_rpc_error_t *err)
{
    micro_buf_t  json = { 0 };

    micro_rpc_error_json(err, &json);
    fprintf(stderr, "%.*s\n", (int) json.len, (char *) json.data);
    micro_buf_free(&json);
    return 1;
}


int
micro_cli_call_options(const micro_cli_t *cli, micro_client_options_t *o,
    micro_call_options_t *co)
{
    int  timeout = 0;

    memset(o, 0, sizeof(*o));
    memset(co, 0, sizeof(*co));
    if (cli->timeout && micro_cli_duration(cli->timeout, &timeout) != 0) {
        fprintf(stderr, "micro: invalid --timeout \"%s\"\n", cli->timeout);
        return 2;
    }
    if (cli->protocol && strcmp(cli->protocol, "grpc") != 0
        && strcmp(cli->protocol, "mucp") != 0)
    {
        fprintf(stderr, "micro: invalid --protocol \"%s\" (grpc or mucp)\n",
                cli->protocol);
        return 2;
    }
    o->registry = cli->registry;
    o->timeout_ms = timeout;
    co->address = cli->address;
    co->metadata = cli->metadata;
    co->nmetadata = cli->nmetadata;
    co->protocol = cli->protocol;
    return 0;
}


static int
micro_cli_call(const micro_cli_t *cli)
{
    int                     rc;
    micro_buf_t             body = { 0 }, reply = { 0 };
    micro_client_t         *c;
    micro_rpc_error_t       err;
    micro_cli_codec_t       codec;
    micro_call_options_t    co;
    micro_client_options_t  o;

    if (micro_cli_call_options(cli, &o, &co) != 0) {
        return 2;
    }
    if (micro_cli_codec_open(&codec, cli, cli->argv[2]) != 0) {
        return 1;
    }
    if (micro_cli_codec_encode(&codec, cli->argv[3], &body) != MICRO_OK) {
        micro_cli_codec_close(&codec);
        return micro_cli_fail("request");
    }
    if (micro_client_new(&o, &c) != MICRO_OK) {
        micro_cli_codec_close(&codec);
        micro_buf_free(&body);
        return micro_cli_fail("call");
    }
    rc = micro_client_call_raw(c, cli->argv[1], cli->argv[2],
                               micro_cli_codec_type(&codec), body.data,
                               body.len, &co, &reply, &err);
    if (rc == MICRO_OK && micro_cli_codec_print(&codec, &reply) != MICRO_OK) {
        rc = MICRO_EPARSE;
        micro_rpc_error_set(&err, "go.micro.client", 500, "%s",
                            micro_error_detail());
    }
    micro_buf_free(&body);
    micro_buf_free(&reply);
    micro_client_free(c);
    micro_cli_codec_close(&codec);
    return rc == MICRO_OK ? 0 : micro_cli_call_failed(&err);
}


/* Debug.Health on each node of the service, by address. */
static int
micro_cli_health(micro_registry_t *r, const micro_cli_t *cli)
{
    int                     rc, grpc, failed = 0;
    size_t                  i, j;
    micro_buf_t             reply = { 0 };
    micro_client_t         *c;
    micro_rpc_error_t       err;
    micro_service_list_t    list;
    micro_call_options_t    co = { 0 };

    if (micro_registry_get(r, cli->argv[1], &list) != MICRO_OK) {
        return micro_cli_fail("health");
    }
    if (micro_client_new(NULL, &c) != MICRO_OK) {
        micro_service_list_free(&list);
        return micro_cli_fail("health");
    }
    printf("service  %s\n", cli->argv[1]);
    for (i = 0; i < list.len; i++) {
        printf("\nversion %s\n\nnode\t\taddress:port\t\tstatus\n",
               list.items[i].version ? list.items[i].version : "");
        for (j = 0; j < list.items[i].nnodes; j++) {
            co.address = list.items[i].nodes[j].address;
            reply.len = 0;
            grpc = !(micro_node_protocols(&list.items[i].nodes[j])
                     & MICRO_PROTOCOL_MUCP);
            /* a gRPC-only node: gRPC's own health check */
            co.protocol = grpc ? "grpc" : NULL;
            rc = micro_client_call_raw(c, cli->argv[1], grpc
                                       ? "/grpc.health.v1.Health/Check"
                                       : "Debug.Health", grpc
                                       ? "application/protobuf"
                                       : "application/json", grpc ? "" : "{}",
                                       grpc ? 0 : 2, &co, &reply, &err);
            printf("%s\t\t%s\t\t", list.items[i].nodes[j].id, co.address);
            if (rc == MICRO_OK && grpc) {
                /* HealthCheckResponse: status 1 is SERVING */
                printf("%s\n", reply.len == 2 && reply.data[1] == 1
                                ? "{\"status\":\"SERVING\"}"
                                : "{\"status\":\"NOT_SERVING\"}");
                failed |= !(reply.len == 2 && reply.data[1] == 1);
            } else if (rc == MICRO_OK) {
                printf("%.*s\n", (int) reply.len, (char *) reply.data);
            } else {
                printf("%s\n", err.detail);
                failed = 1;
            }
        }
    }
    micro_buf_free(&reply);
    micro_client_free(c);
    micro_service_list_free(&list);
    return failed;
}


int
main(int argc, char **argv)
{
    int                        rc;
    micro_cli_t                cli = { 0 };
    micro_registry_t          *r;
    micro_registry_options_t   opts;

    if (micro_cli_parse(&cli, argc, argv) != 0 || cli.argc == 0) {
        return micro_cli_usage();
    }
    if (micro_registry_options_parse(&opts, cli.registry) != MICRO_OK) {
        return micro_cli_fail(NULL);
    }
    rc = micro_registry_new(&opts, &r);
    micro_registry_options_free(&opts);
    if (rc != MICRO_OK) {
        return micro_cli_fail(NULL);
    }

#define MICRO_CLI_IS(n, a, b)                                                \
    (cli.argc == (n) && strcmp(cli.argv[0], (a)) == 0                        \
     && strcmp(cli.argv[1], (b)) == 0)

    if (MICRO_CLI_IS(2, "list", "services")) {
        rc = micro_cli_list(r);
    } else if (MICRO_CLI_IS(3, "get", "service")) {
        rc = micro_cli_get(r, &cli);
    } else if (MICRO_CLI_IS(3, "register", "service")) {
        rc = micro_cli_register(r, &cli, 1);
    } else if (MICRO_CLI_IS(3, "deregister", "service")) {
        rc = micro_cli_register(r, &cli, 0);
    } else if (cli.argc == 1 && strcmp(cli.argv[0], "watch") == 0) {
        rc = micro_cli_watch(r);
    } else if (cli.argc == 4 && strcmp(cli.argv[0], "call") == 0) {
        rc = micro_cli_call(&cli);
    } else if (cli.argc == 3 && strcmp(cli.argv[0], "stream") == 0) {
        rc = micro_cli_stream(&cli);
    } else if (cli.argc == 2 && strcmp(cli.argv[0], "health") == 0) {
        rc = micro_cli_health(r, &cli);
    } else if (cli.argc == 3 && strcmp(cli.argv[0], "publish") == 0) {
        rc = micro_cli_publish(&cli);
    } else if (cli.argc == 2 && strcmp(cli.argv[0], "subscribe") == 0) {
        rc = micro_cli_subscribe(&cli);
    } else if (cli.argc == 1 && strcmp(cli.argv[0], "topics") == 0) {
        rc = micro_cli_topics(&cli);
    } else if (cli.argc == 2 && strcmp(cli.argv[0], "replay") == 0) {
        rc = micro_cli_replay(&cli);
    } else {
        rc = micro_cli_usage();
    }

    micro_registry_free(r);
    return rc;
}
