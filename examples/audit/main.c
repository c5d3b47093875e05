/*
 * audit, an SRV service (go.micro.srv.audit) that keeps every customer
 * event: it subscribes to go.micro.evt.customer (its nodes share the
 * queue go.micro.srv.audit, so each event is kept once) and writes each
 * go.api.Event to the store, a directory with one file an event named by
 * its id. The file is made whole and then linked into place, so an event
 * delivered again (a redelivery after a crash, a copy) is found there
 * and not kept twice, by any node. Audit.Count says how many it holds.
 *
 *   build/bin/audit --store DIR [--hold MS] [--visibility MS]
 *                   [--registry URL] [--address ...]
 *
 * --hold keeps each event in hand that long before writing it (for tests
 * that kill a node holding events); --visibility is how long an event
 * may stay unacknowledged before another node takes it (default 30 s).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <micro.h>

#include "api.pb-c.h"
#include "audit.pb-c.h"

static const char  *store;
static int          hold_ms;


/* Event ids become file names: only [A-Za-z0-9._-]. */
static int
audit_id_valid(const char *id)
{
    const char  *p;

    if (id == NULL || *id == '\0' || *id == '.' || strlen(id) > 128) {
        return 0;
    }
    for (p = id; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'
              || *p == '_'))
        {
            return 0;
        }
    }
    return 1;
}


/* The event written to a file of its own, then linked in as ID: 0 when
 * it is there (now or already), -1 when it could not be kept. */
static int
audit_keep(const char *id, const char *line, size_t len)
{
    int    fd, rc;
    char   tmp[4096], path[4096];

    snprintf(tmp, sizeof(tmp), "%s/.tmp-%d-%s", store, (int) getpid(), id);
    snprintf(path, sizeof(path), "%s/%s", store, id);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        return -1;
    }
    rc = write(fd, line, len) == (ssize_t) len && fsync(fd) == 0 ? 0 : -1;
    close(fd);
    if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST) {
        rc = -1;
    }
    unlink(tmp);
    return rc;
}


static int
audit_on_event(micro_delivery_t *d, const ProtobufCMessage *msg, void *data)
{
    int                   len;
    char                  line[8192];
    struct timespec       ts;
    const Go__Api__Event  *ev = (const void *) msg;
    const char           *id;

    (void) data;
    /* the event's own id, else the message's (go-micro's events carry
     * one; a bare message has its Micro-Id) */
    id = ev->id && ev->id[0] ? ev->id
                             : micro_delivery_header(d, "Micro-Id");
    if (!audit_id_valid(id)) {
        fprintf(stderr, "audit: entry %s: no usable event id: dropped\n",
                micro_delivery_entry(d));
        return 0;
    }
    if (hold_ms > 0) {
        ts.tv_sec = hold_ms / 1000;
        ts.tv_nsec = (long) (hold_ms % 1000) * 1000000;
        nanosleep(&ts, NULL);
    }
    len = snprintf(line, sizeof(line), "%s\t%s\t%lld\t%s\n", id,
                   ev->name ? ev->name : "", (long long) ev->timestamp,
                   ev->data ? ev->data : "");
    if (len >= (int) sizeof(line)) {
        len = sizeof(line) - 1;
    }
    if (audit_keep(id, line, (size_t) len) != 0) {
        fprintf(stderr, "audit: cannot keep %s: %s\n", id, strerror(errno));
        return -1;                       /* not acknowledged: again later */
    }
    return 0;
}


static int
audit_count(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    long                          n = 0;
    DIR                          *dir;
    struct dirent                *e;
    Go__Micro__Srv__Audit__CountResponse  *resp = (void *) out;

    (void) in;
    (void) data;
    dir = opendir(store);
    if (dir == NULL) {
        return micro_request_fail(r, 500, "cannot read the store: %s",
                                  strerror(errno));
    }
    while ((e = readdir(dir)) != NULL) {
        n += e->d_name[0] != '.';
    }
    closedir(dir);
    resp->events = n;
    return 0;
}


/* --name VALUE taken out of argv (the rest is libmicro's options). */
static const char *
audit_take(int *argc, char **argv, const char *name)
{
    int          i;
    const char  *v;

    for (i = 1; i + 1 < *argc; i++) {
        if (strcmp(argv[i], name) == 0) {
            v = argv[i + 1];
            memmove(&argv[i], &argv[i + 2],
                    (size_t) (*argc - i - 1) * sizeof(char *));
            *argc -= 2;
            return v;
        }
    }
    return NULL;
}


int
main(int argc, char **argv)
{
    const char                 *v;
    micro_server_t             *s;
    micro_server_options_t      o;
    micro_subscribe_options_t   so = { 0 };

    store = audit_take(&argc, argv, "--store");
    v = audit_take(&argc, argv, "--hold");
    hold_ms = v ? atoi(v) : 0;
    v = audit_take(&argc, argv, "--visibility");
    so.visibility_ms = v ? atoi(v) : 0;
    if (store == NULL) {
        fprintf(stderr, "audit: --store DIR is required\n");
        return 2;
    }
    micro_server_options_init(&o, "go.micro.srv.audit");
    if (micro_server_options_args(&o, argc, argv) != 0
        || micro_server_new(&o, &s) != 0)
    {
        return 2;
    }
    micro_server_subscribe(s, "go.micro.evt.customer",
                           &go__api__event__descriptor, audit_on_event,
                           NULL, &so);
    micro_server_handle(s, "Audit.Count",
                        &go__micro__srv__audit__count_request__descriptor,
                        &go__micro__srv__audit__count_response__descriptor,
                        audit_count, NULL);
    if (micro_server_run(s) != 0) {
        fprintf(stderr, "audit: %s\n", micro_error_detail());
        return 1;
    }
    micro_server_free(s);
    return 0;
}
