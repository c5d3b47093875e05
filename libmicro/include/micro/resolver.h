/*
 * Request path -> service name and endpoint, as go-micro's "micro" resolver
 * does it for the api (v2.3 and later):
 *
 *   /foo/bar          -> NS.foo      Foo.Bar
 *   /foo/bar/baz      -> NS.foo      Bar.Baz
 *   /foo/bar/baz/cat  -> NS.foo.bar  Baz.Cat
 *   /v1/foo/bar       -> NS.v1.foo   Foo.Bar
 *   /foo              -> NS.foo      Foo.Call
 *   /foo/bar/baz-xyz  -> NS.foo      Bar.BazXyz
 *
 * and, for proxy and web routes, the name only: /foo/... -> NS.foo,
 * /v1/foo/... -> NS.v1.foo. Every path segment used must match
 * [a-zA-Z0-9]+(-[a-zA-Z0-9]+)*; anything else does not resolve.
 */

#ifndef MICRO_RESOLVER_H
#define MICRO_RESOLVER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Fills service and endpoint (NUL-terminated, truncation is an error).
 * Returns 0, or MICRO_ENOTFOUND when the path does not name a service.
 */
int micro_resolve_api(const char *path, size_t len, const char *ns,
    char *service, size_t service_size, char *endpoint, size_t endpoint_size);

int micro_resolve_proxy(const char *path, size_t len, const char *ns,
    char *service, size_t service_size);

/*
 * go-micro's other resolvers, for the api. "path": the first segment
 * names the service, the rest the endpoint (/greeter/say/hello -> NS.greeter
 * Say.Hello, /greeter/hello -> Greeter.Hello, /greeter -> Greeter.Call).
 * "host": the Host header (without its port) names the service, the path
 * the endpoint (/say/hello -> Say.Hello, /hello -> Hello.Call).
 */
int micro_resolve_path(const char *path, size_t len, const char *ns,
    char *service, size_t service_size, char *endpoint, size_t endpoint_size);
int micro_resolve_host(const char *host, size_t host_len, const char *path,
    size_t len, const char *ns, char *service, size_t service_size,
    char *endpoint, size_t endpoint_size);

/*
 * micro web's route: the first segment names the service (/foo/bar ->
 * NS.foo) and the rest is the path the service sees (/bar; "/" when
 * empty). *rest points into path.
 */
int micro_resolve_web(const char *path, size_t len, const char *ns,
    char *service, size_t service_size, const char **rest, size_t *rest_len);

/*
 * go-micro's namespace join: "" + n -> n; "a." + n -> "a.n";
 * "a-" + "v1.n" -> "a-v1-n" (dots become dashes); "a" + n -> "a.n".
 */
int micro_namespace_join(const char *ns, const char *name, size_t name_len,
    char *out, size_t size);

/* A namespace is empty or [A-Za-z0-9._-]+. */
int micro_namespace_valid(const char *ns, size_t len);

#ifdef __cplusplus
}
#endif

#endif
