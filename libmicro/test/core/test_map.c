/*
 * The string map under the registry cache, the selector's node state and
 * the transcoder's key sets: open addressing with tombstones, growth,
 * rehash in place, values freed.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "micro/error.h"
#include "core/map.h"


static void
test_map_set_get_remove(void **state)
{
    int          i, v[2000];
    char         key[32];
    micro_map_t  m = { 0 };

    (void) state;
    assert_null(micro_map_get(&m, "none"));
    assert_null(micro_map_remove(&m, "none"));

    /* through several growths */
    for (i = 0; i < 2000; i++) {
        v[i] = i;
        snprintf(key, sizeof(key), "key-%d", i);
        assert_int_equal(micro_map_set(&m, key, &v[i]), MICRO_OK);
    }
    assert_int_equal(m.len, 2000);
    for (i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_ptr_equal(micro_map_get(&m, key), &v[i]);
    }

    /* a set of a present key replaces its value, the count stays */
    assert_int_equal(micro_map_set(&m, "key-7", &v[8]), MICRO_OK);
    assert_ptr_equal(micro_map_get(&m, "key-7"), &v[8]);
    assert_int_equal(m.len, 2000);

    /* removes leave tombstones that later look-ups step over */
    for (i = 0; i < 2000; i += 2) {
        snprintf(key, sizeof(key), "key-%d", i);
        assert_non_null(micro_map_remove(&m, key));
    }
    assert_int_equal(m.len, 1000);
    for (i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        if (i % 2) {
            assert_ptr_equal(micro_map_get(&m, key), &v[i == 7 ? 8 : i]);
        } else {
            assert_null(micro_map_get(&m, key));
        }
    }
    micro_map_free(&m);
}


/* Churn: sets and removes of new keys, so tombstones pile up, rehash in
 * place and never hide a live key or grow the table without bound. */
static void
test_map_churn(void **state)
{
    int          i, one = 1;
    char         key[32];
    micro_map_t  m = { 0 };

    (void) state;
    assert_int_equal(micro_map_set(&m, "stays", &one), MICRO_OK);
    for (i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "gone-%d", i);
        assert_int_equal(micro_map_set(&m, key, &one), MICRO_OK);
        assert_non_null(micro_map_remove(&m, key));
    }
    assert_ptr_equal(micro_map_get(&m, "stays"), &one);
    assert_int_equal(m.len, 1);
    assert_true(m.cap <= 64);
    micro_map_free(&m);
}


static void
test_map_free_all(void **state)
{
    micro_map_t  m = { 0 };

    (void) state;
    /* valgrind sees a leak if the values are not freed */
    assert_int_equal(micro_map_set(&m, "a", malloc(16)), MICRO_OK);
    assert_int_equal(micro_map_set(&m, "b", malloc(16)), MICRO_OK);
    micro_map_free_all(&m);
    assert_int_equal(m.len, 0);
}


/* int64 values: set, replaced (the old copy freed: valgrind sees it),
 * removed and freed with the rest. */
static void
test_map_i64(void **state)
{
    int64_t      *v;
    micro_map_t   m = { 0 };

    (void) state;
    assert_int_equal(micro_map_set_i64(&m, "t", 5), MICRO_OK);
    assert_int_equal(micro_map_set_i64(&m, "t", -7), MICRO_OK);
    v = micro_map_get(&m, "t");
    assert_non_null(v);
    assert_int_equal(*v, -7);
    assert_int_equal(m.len, 1);
    assert_int_equal(micro_map_set_i64(&m, "u", 1), MICRO_OK);
    free(micro_map_remove(&m, "t"));
    assert_null(micro_map_get(&m, "t"));
    micro_map_free_all(&m);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_map_set_get_remove),
        cmocka_unit_test(test_map_churn),
        cmocka_unit_test(test_map_free_all),
        cmocka_unit_test(test_map_i64),
    };

    return cmocka_run_group_tests_name("map", tests, NULL, NULL);
}
