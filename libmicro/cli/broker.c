/* The micro CLI's broker commands: publish, subscribe, topics, replay. */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"


static int
micro_cli_broker(const micro_cli_t *cli, micro_broker_t **b)
{
    int                        rc;
    micro_registry_options_t   opts;

    if (micro_registry_options_parse(&opts, cli->registry) != MICRO_OK) {
        return micro_cli_fail(NULL);
    }
    rc = micro_broker_new(&opts, NULL, b);
    micro_registry_options_free(&opts);
    return rc == MICRO_OK ? 0 : micro_cli_fail(NULL);
}


int
micro_cli_publish(const micro_cli_t *cli)
{
    int               rc;
    char              id[MICRO_BROKER_ID_MAX];
    json_t           *body;
    json_error_t      jerr;
    micro_pair_t      header[MICRO_CLI_MAX_META + 1];
    micro_broker_t   *b;
    micro_message_t   m;

    body = json_loads(cli->argv[2], JSON_DECODE_ANY, &jerr);
    if (body == NULL) {
        fprintf(stderr, "micro: publish: the message is not JSON: %s "
                "(column %d)\n", jerr.text, jerr.column);
        return 2;
    }
    json_decref(body);
    if (micro_cli_broker(cli, &b) != 0) {
        return 1;
    }
    memcpy(header, cli->metadata, cli->nmetadata * sizeof(micro_pair_t));
    header[cli->nmetadata].key = "Content-Type";
    header[cli->nmetadata].value = "application/json";
    m.header.items = header;
    m.header.len = cli->nmetadata + 1;
    m.body = cli->argv[2];
    m.len = strlen(cli->argv[2]);
    rc = micro_broker_publish(b, cli->argv[1], &m, id, sizeof(id));
    micro_broker_free(b);
    if (rc != MICRO_OK) {
        return micro_cli_fail("publish");
    }
    printf("%s\n", id);
    return 0;
}


/* One message as a JSON line: the body as JSON when it is, else text. */
static int
micro_cli_print_message(micro_delivery_t *d, void *data)
{
    char                   *line;
    size_t                  i;
    json_t                 *o, *h, *body;
    const micro_message_t  *m = micro_delivery_message(d);

    (void) data;
    h = json_object();
    for (i = 0; i < m->header.len; i++) {
        json_object_set_new(h, m->header.items[i].key,
                            json_string(m->header.items[i].value));
    }
    body = json_loadb(m->body, m->len, JSON_DECODE_ANY, NULL);
    if (body == NULL) {
        body = json_stringn(m->body, m->len);
    }
    o = json_pack("{s:s, s:s*, s:s, s:i, s:o, s:o*}",
                  "topic", micro_delivery_topic(d),
                  "id", micro_delivery_header(d, MICRO_BROKER_HEADER_ID),
                  "entry", micro_delivery_entry(d),
                  "deliveries", micro_delivery_count(d),
                  "header", h, "body", body);
    line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (line == NULL) {
        return -1;
    }
    printf("%s\n", line);
    fflush(stdout);
    free(line);
    return 0;
}


static void
micro_cli_broker_error(int code, const char *detail, void *data)
{
    (void) code;
    (void) data;
    fprintf(stderr, "micro: subscribe: %s\n", detail);
}


int
micro_cli_subscribe(const micro_cli_t *cli)
{
    int                         rc, signo;
    sigset_t                    set;
    micro_broker_t             *b;
    micro_subscription_t       *sub;
    micro_subscribe_options_t   o = { 0 };

    if (cli->queue && cli->name) {
        fprintf(stderr, "micro: subscribe: --queue or --name, not both\n");
        return 2;
    }
    if (micro_cli_broker(cli, &b) != 0) {
        return 1;
    }
    o.queue = cli->queue;
    o.name = cli->name;
    o.from_start = cli->from_start;
    o.on_error = micro_cli_broker_error;

    /* the subscription's thread inherits the mask: signals come here */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    rc = micro_broker_subscribe(b, cli->argv[1], &o,
                                micro_cli_print_message, NULL, &sub);
    if (rc != MICRO_OK) {
        micro_broker_free(b);
        return micro_cli_fail("subscribe");
    }
    fprintf(stderr, "micro: subscribed to %s\n", cli->argv[1]);
    sigwait(&set, &signo);
    micro_subscription_close(sub);
    micro_broker_free(b);
    return 0;
}


int
micro_cli_topics(const micro_cli_t *cli)
{
    size_t               i, j;
    micro_broker_t      *b;
    micro_topic_list_t   list;
    micro_topic_info_t  *t;

    if (micro_cli_broker(cli, &b) != 0) {
        return 1;
    }
    if (micro_broker_topics(b, &list) != MICRO_OK) {
        micro_broker_free(b);
        return micro_cli_fail("topics");
    }
    printf("TOPIC\tLENGTH\tDEAD\tGROUP\tCONSUMERS\tPENDING\tLAG\n");
    for (i = 0; i < list.len; i++) {
        t = &list.items[i];
        if (t->ngroups == 0) {
            printf("%s\t%lld\t%lld\t-\t0\t0\t-\n", t->topic, t->length,
                   t->dead);
        }
        for (j = 0; j < t->ngroups; j++) {
            printf("%s\t%lld\t%lld\t%s\t%zu\t%lld\t", t->topic, t->length,
                   t->dead, t->groups[j].name, t->groups[j].consumers,
                   t->groups[j].pending);
            if (t->groups[j].lag < 0) {
                printf("?\n");
            } else {
                printf("%lld\n", t->groups[j].lag);
            }
        }
    }
    micro_topic_list_free(&list);
    micro_broker_free(b);
    return 0;
}


int
micro_cli_replay(const micro_cli_t *cli)
{
    long long        n;
    micro_broker_t  *b;

    if (micro_cli_broker(cli, &b) != 0) {
        return 1;
    }
    n = micro_broker_replay(b, cli->argv[1]);
    micro_broker_free(b);
    if (n < 0) {
        return micro_cli_fail("replay");
    }
    printf("%lld dead letters of %s published again\n", n, cli->argv[1]);
    return 0;
}
