/*
 * The snapshot under the registry cache and the gateway, with no Redis:
 * create, update, delete by node id, the service gone with its last node,
 * iteration, and nodes carried across a reload until their expiry.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "micro/error.h"
#include "micro/snapshot.h"
#include "redis_fixture.h"


/* An entry of one node, id "nN" at port 9000 + N. */
static void
entry(micro_service_t *s, const char *name, const char *version,
    const char *id)
{
    micro_test_service(s, name, version, id, 9000 + atoi(id + 1));
}


static int
count_services(const char *name, const micro_snapshot_service_t *svc,
    void *data)
{
    (void) name;
    (void) svc;
    (*(int *) data)++;
    return 0;
}


static int
stop_at_first(const char *name, const micro_snapshot_service_t *svc,
    void *data)
{
    (void) name;
    (void) svc;
    (*(int *) data)++;
    return 7;
}


static void
test_snapshot_apply(void **state)
{
    int                              n;
    micro_service_t                  e;
    micro_snapshot_t                *s;
    const micro_snapshot_service_t  *svc;

    (void) state;
    assert_int_equal(micro_snapshot_new(&s), MICRO_OK);
    assert_null(micro_snapshot_get(s, "go.micro.srv.a"));

    /* two nodes of a, one of b */
    entry(&e, "go.micro.srv.a", "1", "n1");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_CREATE, &e), 0);
    entry(&e, "go.micro.srv.a", "1", "n2");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_CREATE, &e), 0);
    entry(&e, "go.micro.srv.b", "1", "n3");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_CREATE, &e), 0);
    assert_int_equal(micro_snapshot_size(s), 2);
    svc = micro_snapshot_get(s, "go.micro.srv.a");
    assert_non_null(svc);
    assert_int_equal(svc->len, 2);

    /* an update of n1 (a new version) replaces it, no third entry */
    entry(&e, "go.micro.srv.a", "2", "n1");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_UPDATE, &e), 0);
    svc = micro_snapshot_get(s, "go.micro.srv.a");
    assert_int_equal(svc->len, 2);
    assert_string_equal(strcmp(svc->entries[0].nodes[0].id, "n1") == 0
                        ? svc->entries[0].version : svc->entries[1].version,
                        "2");

    /* deletes by node id; an unknown one changes nothing */
    entry(&e, "go.micro.srv.a", "", "n9");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_DELETE, &e), 0);
    assert_int_equal(micro_snapshot_get(s, "go.micro.srv.a")->len, 2);
    entry(&e, "go.micro.srv.a", "", "n1");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_DELETE, &e), 0);
    svc = micro_snapshot_get(s, "go.micro.srv.a");
    assert_int_equal(svc->len, 1);
    assert_string_equal(svc->entries[0].nodes[0].id, "n2");

    /* the last node gone: the service is gone */
    entry(&e, "go.micro.srv.a", "", "n2");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_DELETE, &e), 0);
    assert_null(micro_snapshot_get(s, "go.micro.srv.a"));
    assert_int_equal(micro_snapshot_size(s), 1);

    n = 0;
    assert_int_equal(micro_snapshot_foreach(s, count_services, &n), 0);
    assert_int_equal(n, 1);
    entry(&e, "go.micro.srv.c", "1", "n4");
    assert_int_equal(micro_snapshot_apply(s, MICRO_WATCH_CREATE, &e), 0);
    n = 0;
    assert_int_equal(micro_snapshot_foreach(s, stop_at_first, &n), 7);
    assert_int_equal(n, 1);
    micro_snapshot_free(s);
}


/* The node ids of a service's entries, sorted, as "n1 n2". */
static const char *
ids_of(const micro_snapshot_t *s, const char *name)
{
    size_t                           i, k;
    const char                      *ids[8], *t;
    static char                      out[64];
    const micro_snapshot_service_t  *svc;

    out[0] = '\0';
    svc = micro_snapshot_get(s, name);
    for (i = 0; svc && i < svc->len && i < 8; i++) {
        ids[i] = svc->entries[i].nodes[0].id;
        for (k = i; k > 0 && strcmp(ids[k - 1], ids[k]) > 0; k--) {
            t = ids[k]; ids[k] = ids[k - 1]; ids[k - 1] = t;
        }
    }
    for (k = 0; k < i; k++) {
        strcat(out, k ? " " : "");
        strcat(out, ids[k]);
    }
    return out;
}


/*
 * Stale beats empty: a reload that finds Redis emptier keeps the nodes it
 * lacks until their own expiry, those with none for keep_ms; they then go,
 * and a node registered again is no longer a carried one.
 */
static void
test_snapshot_carry(void **state)
{
    micro_service_t    e;
    micro_snapshot_t  *old, *reload;

    (void) state;
    assert_int_equal(micro_snapshot_new(&old), MICRO_OK);
    assert_int_equal(micro_snapshot_new(&reload), MICRO_OK);

    /* at t=1000: n1 expires at 5000, n2 at 2000, n3 never; n4 of b too */
    entry(&e, "go.micro.srv.a", "1", "n1");
    micro_snapshot_apply_until(old, MICRO_WATCH_CREATE, &e, 5000);
    entry(&e, "go.micro.srv.a", "1", "n2");
    micro_snapshot_apply_until(old, MICRO_WATCH_CREATE, &e, 2000);
    entry(&e, "go.micro.srv.a", "1", "n3");
    micro_snapshot_apply(old, MICRO_WATCH_CREATE, &e);
    entry(&e, "go.micro.srv.b", "1", "n4");
    micro_snapshot_apply_until(old, MICRO_WATCH_CREATE, &e, 9000);

    /* the reload at t=3000 found only n4 (registered again) */
    entry(&e, "go.micro.srv.b", "1", "n4");
    micro_snapshot_apply_until(reload, MICRO_WATCH_CREATE, &e, 33000);
    assert_int_equal(micro_snapshot_carry(reload, old, 3000, 30000), 2);
    micro_snapshot_free(old);
    assert_string_equal(ids_of(reload, "go.micro.srv.a"), "n1 n3");
    assert_string_equal(ids_of(reload, "go.micro.srv.b"), "n4");
    assert_false(micro_snapshot_get(reload, "go.micro.srv.b")->life[0]
                 .carried);

    /* n1 goes at 5000, n3 (no expiry) at 33000, with the service */
    assert_int_equal(micro_snapshot_expire(reload, 4999), 0);
    assert_int_equal(micro_snapshot_expire(reload, 5000), 1);
    assert_string_equal(ids_of(reload, "go.micro.srv.a"), "n3");
    assert_int_equal(micro_snapshot_expire(reload, 32999), 0);
    assert_int_equal(micro_snapshot_expire(reload, 33000), 1);
    assert_null(micro_snapshot_get(reload, "go.micro.srv.a"));

    /* n4 is not carried: its expiry is Redis's to apply, by a delete */
    assert_int_equal(micro_snapshot_expire(reload, 99000), 0);
    assert_string_equal(ids_of(reload, "go.micro.srv.b"), "n4");

    /* a carried node registered again is a live one */
    assert_int_equal(micro_snapshot_new(&old), MICRO_OK);
    entry(&e, "go.micro.srv.c", "1", "n5");
    micro_snapshot_apply_until(old, MICRO_WATCH_CREATE, &e, 8000);
    assert_int_equal(micro_snapshot_carry(reload, old, 4000, 30000), 1);
    entry(&e, "go.micro.srv.c", "1", "n5");
    micro_snapshot_apply_until(reload, MICRO_WATCH_CREATE, &e, 40000);
    assert_int_equal(micro_snapshot_expire(reload, 99000), 0);
    assert_string_equal(ids_of(reload, "go.micro.srv.c"), "n5");
    micro_snapshot_free(old);
    micro_snapshot_free(reload);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_snapshot_apply),
        cmocka_unit_test(test_snapshot_carry),
    };

    return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
