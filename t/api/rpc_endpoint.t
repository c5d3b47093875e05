#!/usr/bin/perl
# go-micro's /rpc endpoint (micro_rpc): the
# service and endpoint named in the body, as JSON or a form, the request an
# object or a JSON string; namespaces it may reach, "address" limited to
# registered nodes, the Timeout header, and its errors.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;

$t->service('greeter');
my (undef, $a1) = $t->service('testsrv');
my (undef, $a2) = $t->service('testsrv');
$t->service('testsrv', '--name', 'go.micro.api.private');

# /rpc for the SRV services on 8080, for one service only on "one", and
# nowhere on 8081 (no micro_rpc: /rpc is a path like another)
$t->nginx(<<'CONF');
%%MODULES%%
%%GLOBALS%%
worker_processes 2;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto %%PROTO%%;
    micro_read_timeout 60s;

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        location = /rpc {
            micro_rpc go.micro.srv;
        }
        location = /registry {
            micro_registry_status;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8081%%;
        location / {
            micro_api;
            micro_api_namespace go.micro.srv;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_one%%;
        location = /rpc {
            micro_rpc go.micro.srv.greeter;
        }
    }
}
CONF
my $gw = 'http://127.0.0.1:' . $t->port('8080');
my $pass = 'http://127.0.0.1:' . $t->port('8081');
my $one = 'http://127.0.0.1:' . $t->port('one');

sub rpc {
    my ($body, %h) = @_;
    my $r = $t->http(POST => "$gw/rpc", content => $body,
        headers => { 'Content-Type' => 'application/json', %h });
    return ($r->{status}, eval { decode_json($r->{content}) }, $r);
}

sub error_is {
    my ($body, $status, $detail, $name, %h) = @_;
    my ($code, $j) = rpc($body, %h);
    is($code, $status, "$name: $status");
    like($j && $j->{detail} // '', $detail, "$name: says why");
}

ok(MicroTest::wait_until(sub {
    my $st = decode_json($t->http(GET => "$gw/registry")->{content});
    my $test = $st->{services}{'go.micro.srv.test'};
    $st->{services}{'go.micro.srv.greeter'} && $test && @{$test} == 2 },
    'gateway sees services'), 'the gateway has loaded the services');

# --- calls --------------------------------------------------------------

my ($code, $j, $r) = rpc(encode_json({ service => 'go.micro.srv.greeter',
    endpoint => 'Say.Hello', request => { name => 'John' } }));
is($code, 200, '/rpc: 200');
is_deeply($j, { msg => 'Hello John' }, 'the endpoint named in the body');
is($r->{headers}{'content-type'}, 'application/json', 'as JSON');

($code, $j) = rpc(encode_json({ Service => 'go.micro.srv.greeter',
    Method => 'Say.Hello', Request => '{"name":"Jane"}' }));
is($code, 200, 'request as a JSON string, "method", keys in any case: 200');
is_deeply($j, { msg => 'Hello Jane' }, 'the string decoded');

$r = $t->http(POST => "$gw/rpc", content =>
    'service=go.micro.srv.greeter&endpoint=Say.Hello&request=%7B%22name%22'
    . '%3A%22Form%22%7D',
    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is($r->{status}, 200, 'a form: 200');
is_deeply(decode_json($r->{content}), { msg => 'Hello Form' },
    'form fields read as the JSON members');

# address: that node, every time
for my $addr ($a1, $a2) {
    my %seen;
    for (1 .. 4) {
        ($code, $j) = rpc(encode_json({ service => 'go.micro.srv.test',
            endpoint => 'Test.Echo', request => { text => 'x' },
            address => $addr }));
        $seen{$code == 200 ? $j->{node} : "status $code"}++;
    }
    is_deeply(\%seen, { $addr => 4 }, "address $addr: every call goes there");
}

# the Timeout header (seconds) cuts micro_read_timeout short
error_is(encode_json({ service => 'go.micro.srv.test',
    endpoint => 'Test.Sleep', request => { ms => 3000 } }), 504,
    qr/did not answer in time/, 'Timeout: 1 on a 3 s call', Timeout => '1');

# the request id goes to the service and comes back
($code, $j, $r) = rpc(encode_json({ service => 'go.micro.srv.test',
    endpoint => 'Test.Echo', request => {} }), 'Micro-Id' => 'rpc-id-1');
is($j->{id}, 'rpc-id-1', 'Micro-Id passed to the service');
is($r->{headers}{'micro-id'}, 'rpc-id-1', 'and returned');

# \u0000 is JSON like any escape: the gateway passes it on (the service's
# protobuf-c strings end at it, so the echo stops there)
($code, $j) = rpc('{"service":"go.micro.srv.test","endpoint":"Test.Echo",'
    . '"request":{"text":"a\u0000b"}}');
is("$code $j->{text}", '200 a', 'a request holding \u0000 goes through');
($code, $j) = rpc('{"service":"go.micro.srv.test","endpoint":"Test.Echo",'
    . '"request":"{\"text\":\"a\\\\u0000b\"}"}');
is("$code $j->{text}", '200 a', 'also in a request string') or diag(explain($j));

# --- errors -------------------------------------------------------------

error_is('{"service":"go.micro.srv.test\u0000x","endpoint":"Test.Echo"}',
    400, qr/^invalid service$/, 'a service name holding \u0000');

error_is('{"service":', 400, qr/invalid request body/, 'malformed JSON');
error_is('[1]', 400, qr/invalid request body/, 'not an object');
error_is('{"endpoint":"Say.Hello"}', 400, qr/invalid service/,
    'no service');
error_is('{"service":"go micro","endpoint":"Say.Hello"}', 400,
    qr/invalid service/, 'a name that is no service name');
error_is('{"service":"go.micro.srv.greeter"}', 400, qr/invalid endpoint/,
    'no endpoint');
error_is('{"service":"go.micro.srv.greeter","endpoint":"Say.Hello",'
    . '"request":"{nope"}', 400, qr/error decoding request string/,
    'a request string that is not JSON');
error_is('{"service":"go.micro.api.private","endpoint":"Test.Echo"}', 403,
    qr/service not allowed/, 'a service outside micro_rpc\'s namespaces');
error_is('{"service":"go.micro.srvx","endpoint":"Test.Echo"}', 403,
    qr/service not allowed/, 'a name that only starts like the namespace');
error_is('{"service":"go.micro.srv.nobody","endpoint":"X.Y"}', 404,
    qr/service not found/, 'unknown service');
error_is('{"service":"go.micro.srv.test","endpoint":"Test.Nope"}', 404,
    qr/unknown endpoint Test\.Nope/, 'unknown endpoint');
error_is('{"service":"go.micro.srv.test","endpoint":"Test.Echo",'
    . '"address":"127.0.0.1:1"}', 400, qr/address is not a node/,
    'an address that is not a node of the service');
error_is('{"service":"go.micro.srv.greeter","endpoint":"Say.Hello",'
    . '"request":{"nmae":"x"}}', 400, qr/unknown field "nmae"/,
    'a request the message does not have');

$r = $t->http(GET => "$gw/rpc");
is($r->{status}, 405, 'GET /rpc: 405');
is(eval { decode_json($r->{content})->{id} }, 'go.micro.rpc',
    'in go-micro\'s error shape');

# off unless configured: on the server without micro_rpc, /rpc is a path
# like any other (the service "rpc", which is not there)
$r = $t->http(POST => "$pass/rpc", content => '{"service":"go.micro.srv.'
    . 'greeter","endpoint":"Say.Hello","request":{"name":"x"}}',
    headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 404, '/rpc where micro_rpc is not set: 404');
like($r->{content}, qr/service not found/, 'no call made');

# limited to one service
$r = $t->http(POST => "$one/rpc", content => '{"service":"go.micro.srv.'
    . 'greeter","endpoint":"Say.Hello","request":{"name":"One"}}',
    headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 200, 'micro_rpc go.micro.srv.greeter: the greeter: 200');
$r = $t->http(POST => "$one/rpc", content => '{"service":"go.micro.srv.'
    . 'test","endpoint":"Test.Echo"}',
    headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 403, 'another service of the namespace: 403');

# the greeter still answers: nothing above broke the worker
($code, $j) = rpc(encode_json({ service => 'go.micro.srv.greeter',
    endpoint => 'Say.Hello', request => { name => 'again' } }));
is_deeply($j, { msg => 'Hello again' }, 'still serving after the errors');

$t->done;
done_testing();
