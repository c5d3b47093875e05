/*
 * greeter: Say.Hello {"name": "John"} -> {"msg": "Hello John"}.
 *
 *   build/bin/greeter [--registry redis://127.0.0.1:6379/0] [--address ...]
 */

#include <stdio.h>

#include <micro.h>

#include "greeter.pb-c.h"


static int
say_hello(micro_request_t *r, const ProtobufCMessage *in,
    ProtobufCMessage *out, void *data)
{
    const Go__Micro__Srv__Greeter__Request  *req = (const void *) in;
    Go__Micro__Srv__Greeter__Response       *resp = (void *) out;

    (void) data;
    if (req->name[0] == '\0') {
        return micro_request_fail(r, 400, "name is required");
    }
    resp->msg = micro_request_printf(r, "Hello %s", req->name);
    return 0;
}


int
main(int argc, char **argv)
{
    micro_server_t          *s;
    micro_server_options_t   o;

    /* the methods of service Say, in the .proto's order */
    static const micro_method_handler_t  say[] = { MICRO_UNARY(say_hello) };

    micro_server_options_init(&o, "go.micro.srv.greeter");
    if (micro_server_options_args(&o, argc, argv) != 0
        || micro_server_new(&o, &s) != 0
        || micro_server_handle_service(s,
               &go__micro__srv__greeter__say__descriptor, say, NULL) != 0)
    {
        return 2;
    }
    if (micro_server_run(s) != 0) {
        fprintf(stderr, "greeter: %s\n", micro_error_detail());
        return 1;
    }
    micro_server_free(s);
    return 0;
}
