/* go-micro's "micro" resolver, namespace joins and micro web routes. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include <micro.h>

typedef struct {
    const char  *path;
    const char  *ns;
    const char  *service;     /* NULL: does not resolve */
    const char  *endpoint;
} micro_case_t;


static void
test_api_rules(void **state)
{
    char                 service[256], endpoint[256];
    size_t               i;
    static micro_case_t  cases[] = {
        { "/foo/bar", "go.micro.api", "go.micro.api.foo", "Foo.Bar" },
        { "/foo/bar/baz", "go.micro.api", "go.micro.api.foo", "Bar.Baz" },
        { "/foo/bar/baz/cat", "go.micro.api", "go.micro.api.foo.bar",
          "Baz.Cat" },
        { "/v1/foo/bar", "go.micro.api", "go.micro.api.v1.foo", "Foo.Bar" },
        { "/v1/foo/bar/baz", "go.micro.api", "go.micro.api.v1.foo",
          "Bar.Baz" },
        { "/v1/foo", "go.micro.api", "go.micro.api.v1", "V1.Foo" },
        { "/foo", "go.micro.api", "go.micro.api.foo", "Foo.Call" },
        { "/foo/bar/baz-xyz", "go.micro.api", "go.micro.api.foo",
          "Bar.BazXyz" },
        { "/foo/fooBar/bazCat", "go.micro.api", "go.micro.api.foo",
          "FooBar.BazCat" },
        { "/foo-bar/baz", "go.micro.api", "go.micro.api.foo-bar",
          "FooBar.Baz" },
        { "/foo//bar/", "go.micro.api", "go.micro.api.foo", "Foo.Bar" },
        { "/foo/./x/../bar", "go.micro.api", "go.micro.api.foo", "Foo.Bar" },
        { "/foo/bar?a=1", "go.micro.api", "go.micro.api.foo", "Foo.Bar" },
        { "/customer/orders", "com.example.api", "com.example.api.customer",
          "Customer.Orders" },
        { "/foo/bar", "com.example.", "com.example.foo", "Foo.Bar" },
        { "/v1/foo/bar", "foo-", "foo-v1-foo", "Foo.Bar" },
        { "/foo/bar", "", "foo", "Foo.Bar" },
        { "/", "go.micro.api", NULL, NULL },
        { "", "go.micro.api", NULL, NULL },
        { "/foo_bar/x", "go.micro.api", NULL, NULL },
        { "/foo/-bar", "go.micro.api", NULL, NULL },
        { "/foo/bar-", "go.micro.api", NULL, NULL },
        { "/foo/ba--r", "go.micro.api", NULL, NULL },
        { "/foo/b%20r", "go.micro.api", NULL, NULL },
        { "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", "ns", NULL, NULL },
    };

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int  rc = micro_resolve_api(cases[i].path, strlen(cases[i].path),
                                    cases[i].ns, service, sizeof(service),
                                    endpoint, sizeof(endpoint));
        if (cases[i].service == NULL) {
            if (rc != MICRO_ENOTFOUND) {
                fail_msg("%s resolved to %s %s", cases[i].path, service,
                         endpoint);
            }
            continue;
        }
        if (rc != 0 || strcmp(service, cases[i].service) != 0
            || strcmp(endpoint, cases[i].endpoint) != 0)
        {
            fail_msg("%s (ns \"%s\"): got %d %s %s, want %s %s",
                     cases[i].path, cases[i].ns, rc, service, endpoint,
                     cases[i].service, cases[i].endpoint);
        }
    }
}


static void
test_api_small_buffers(void **state)
{
    char  service[8], endpoint[8];

    (void) state;
    assert_int_equal(micro_resolve_api("/customer/orders", 16, "ns", service,
                                       sizeof(service), endpoint,
                                       sizeof(endpoint)), MICRO_ENOTFOUND);
}


static void
test_proxy_rules(void **state)
{
    char                 service[256];
    size_t               i;
    static micro_case_t  cases[] = {
        { "/foo/bar/baz.js", "go.micro.api", "go.micro.api.foo", NULL },
        { "/foo", "go.micro.api", "go.micro.api.foo", NULL },
        { "/v1/foo/x", "go.micro.api", "go.micro.api.v1.foo", NULL },
        { "/v1/foo", "go.micro.api", "go.micro.api.v1.foo", NULL },
        { "/my-svc/any_thing", "", "my-svc", NULL },
        { "/my_svc/x", "go.micro.api", NULL, NULL },
        { "/", "go.micro.api", NULL, NULL },
    };

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int  rc = micro_resolve_proxy(cases[i].path, strlen(cases[i].path),
                                      cases[i].ns, service, sizeof(service));
        if (cases[i].service == NULL ? rc != MICRO_ENOTFOUND
            : rc != 0 || strcmp(service, cases[i].service) != 0)
        {
            fail_msg("proxy %s: got %d %s", cases[i].path, rc,
                     rc ? "" : service);
        }
    }
}


static void
test_path_and_host_rules(void **state)
{
    char  service[256], endpoint[256];

    (void) state;
#define PATH(p, svc, ep)                                                     \
    assert_int_equal(micro_resolve_path(p, strlen(p), "go.micro.api",       \
                     service, sizeof(service), endpoint, sizeof(endpoint)), \
                     0);                                                     \
    assert_string_equal(service, svc);                                       \
    assert_string_equal(endpoint, ep)

    PATH("/greeter/say/hello", "go.micro.api.greeter", "Say.Hello");
    PATH("/greeter/hello", "go.micro.api.greeter", "Greeter.Hello");
    PATH("/greeter", "go.micro.api.greeter", "Greeter.Call");
    PATH("/greeter/a/say-it/hello", "go.micro.api.greeter", "SayIt.Hello");
#undef PATH
    assert_int_equal(micro_resolve_path("/", 1, "ns", service,
                                        sizeof(service), endpoint,
                                        sizeof(endpoint)), MICRO_ENOTFOUND);

    assert_int_equal(micro_resolve_host("api.example.com:8080", 20,
                                        "/say/hello", 10, "", service,
                                        sizeof(service), endpoint,
                                        sizeof(endpoint)), 0);
    assert_string_equal(service, "api.example.com");
    assert_string_equal(endpoint, "Say.Hello");
    assert_int_equal(micro_resolve_host("greeter", 7, "/hello", 6,
                                        "go.micro.api", service,
                                        sizeof(service), endpoint,
                                        sizeof(endpoint)), 0);
    assert_string_equal(service, "go.micro.api.greeter");
    assert_string_equal(endpoint, "Hello.Call");
    assert_int_equal(micro_resolve_host("bad_host", 8, "/a/b", 4, "",
                                        service, sizeof(service), endpoint,
                                        sizeof(endpoint)), MICRO_ENOTFOUND);
}


static void
test_web_rules(void **state)
{
    char         service[256];
    size_t       rest_len;
    const char  *rest;

    (void) state;
    assert_int_equal(micro_resolve_web("/blog/posts/1?x", 15, "go.micro.web",
                                       service, sizeof(service), &rest,
                                       &rest_len), 0);
    assert_string_equal(service, "go.micro.web.blog");
    assert_int_equal(rest_len, 8);
    assert_memory_equal(rest, "/posts/1", 8);

    assert_int_equal(micro_resolve_web("/blog", 5, "go.micro.web", service,
                                       sizeof(service), &rest, &rest_len), 0);
    assert_int_equal(rest_len, 1);
    assert_memory_equal(rest, "/", 1);

    assert_int_equal(micro_resolve_web("/b.log/x", 8, "go.micro.web", service,
                                       sizeof(service), &rest, &rest_len),
                     MICRO_ENOTFOUND);
}


static void
test_namespaces(void **state)
{
    char  out[64];

    (void) state;
    assert_int_equal(micro_namespace_join("a-", "v1.bar", 6, out,
                                          sizeof(out)), 0);
    assert_string_equal(out, "a-v1-bar");
    assert_int_equal(micro_namespace_join("a.b", "c", 1, out, 4), MICRO_EINVAL);

    assert_true(micro_namespace_valid("go.micro.api", 12));
    assert_true(micro_namespace_valid("", 0));
    assert_false(micro_namespace_valid("go micro", 8));
    assert_false(micro_namespace_valid("go/micro", 8));
    assert_false(micro_namespace_valid("go\0x", 4));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_api_rules),
        cmocka_unit_test(test_api_small_buffers),
        cmocka_unit_test(test_proxy_rules),
        cmocka_unit_test(test_path_and_host_rules),
        cmocka_unit_test(test_web_rules),
        cmocka_unit_test(test_namespaces),
    };

    return cmocka_run_group_tests_name("resolver", tests, NULL, NULL);
}
