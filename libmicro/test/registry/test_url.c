/* Registry URLs and their defaults. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <micro.h>


static void
test_defaults(void **state)
{
    micro_registry_options_t  o;

    (void) state;
    unsetenv(MICRO_REGISTRY_ENV);
    assert_int_equal(micro_registry_options_parse(&o, NULL), 0);
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 6379);
    assert_int_equal(o.db, 0);
    assert_null(o.password);
    assert_string_equal(o.prefix, "micro:");
    assert_int_equal(o.connect_timeout_ms, 1000);
    assert_int_equal(o.command_timeout_ms, 1000);
    micro_registry_options_free(&o);
}


static void
test_environment(void **state)
{
    micro_registry_options_t  o;

    (void) state;
    setenv(MICRO_REGISTRY_ENV, "redis://10.1.2.3:7000/2", 1);
    assert_int_equal(micro_registry_options_parse(&o, NULL), 0);
    assert_string_equal(o.host, "10.1.2.3");
    assert_int_equal(o.port, 7000);
    assert_int_equal(o.db, 2);
    micro_registry_options_free(&o);

    /* an explicit URL wins over the environment */
    assert_int_equal(micro_registry_options_parse(&o, "redis://h"), 0);
    assert_string_equal(o.host, "h");
    micro_registry_options_free(&o);
    unsetenv(MICRO_REGISTRY_ENV);
}


static void
test_full_url(void **state)
{
    micro_registry_options_t  o;

    (void) state;
    assert_int_equal(micro_registry_options_parse(&o,
        "redis://user:s3cret@redis.local:6380/5?prefix=staging:"
        "&connect_timeout=250&command_timeout=750"), 0);
    assert_string_equal(o.host, "redis.local");
    assert_int_equal(o.port, 6380);
    assert_int_equal(o.db, 5);
    assert_string_equal(o.password, "s3cret");
    assert_string_equal(o.prefix, "staging:");
    assert_int_equal(o.connect_timeout_ms, 250);
    assert_int_equal(o.command_timeout_ms, 750);
    micro_registry_options_free(&o);

    assert_int_equal(micro_registry_options_parse(&o, "redis://:pw@[::1]:7/1"),
                     0);
    assert_string_equal(o.host, "::1");
    assert_string_equal(o.password, "pw");
    assert_int_equal(o.port, 7);
    micro_registry_options_free(&o);
}


static void
test_unix_socket(void **state)
{
    micro_registry_options_t  o;

    (void) state;
    assert_int_equal(micro_registry_options_parse(&o,
                     "unix:///run/redis/redis.sock?db=3&prefix=x:"), 0);
    assert_null(o.host);
    assert_string_equal(o.unix_path, "/run/redis/redis.sock");
    assert_int_equal(o.db, 3);
    assert_string_equal(o.prefix, "x:");
    micro_registry_options_free(&o);
}


static void
test_bad_urls(void **state)
{
    size_t                     i;
    micro_registry_options_t   o;
    static const char         *bad[] = {
        "http://localhost", "redis://", "redis://h:0", "redis://h:99999",
        "redis://h:x", "redis://h/db", "redis://h?frobnicate=1",
        "redis://h?connect_timeout=0", "redis://[::1", "unix://relative",
        "redis://h/1?prefix",
    };

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (micro_registry_options_parse(&o, bad[i]) != MICRO_EPARSE) {
            fail_msg("\"%s\" was accepted", bad[i]);
        }
        assert_non_null(strstr(micro_error_detail(), bad[i]));
    }
}


/* A bad URL's error says which part is wrong. */
static void
test_bad_url_says_why(void **state)
{
    size_t                     i;
    micro_registry_options_t   o;
    static const char         *cases[][2] = {
        { "redis://127.0.0.1:99999/0", "the port must be a number from 1 to "
                                       "65535" },
        { "redis://127.0.0.1:x/0", "the port must be" },
        { "redis://127.0.0.1/db", "the database must be a number" },
        { "redis://:6379/0", "no host" },
        { "redis://[::1/0", "needs its \"]\"" },
    };

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(micro_registry_options_parse(&o, cases[i][0]),
                         MICRO_EPARSE);
        if (strstr(micro_error_detail(), cases[i][1]) == NULL) {
            fail_msg("%s: \"%s\" does not say \"%s\"", cases[i][0],
                     micro_error_detail(), cases[i][1]);
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_full_url),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_bad_url_says_why),
    };

    return cmocka_run_group_tests_name("registry URL", tests, NULL, NULL);
}
