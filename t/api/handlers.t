#!/usr/bin/perl
# The gateway's api handler (micro_api handler=api): the HTTP request to the
# service as a go.api.Request, its go.api.Response as the reply. Real nginx,
# redis, the example API service and testsrv.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;

$t->service('example');
$t->service('testsrv');

# go-micro's api handler for the example (go.micro.api.example) and for
# testsrv's Test.Api and Test.BadApi under /test/
$t->nginx(<<'CONF');
%%MODULES%%
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto %%PROTO%%;

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        micro_read_timeout 60s;

        location / {
            micro_api handler=api;
        }
        location /test/ {
            micro_api handler=api;
            micro_api_namespace go.micro.srv;
        }
        location = /registry {
            micro_registry_status;
        }
    }
}
CONF
my $gw = 'http://127.0.0.1:' . $t->port('8080');

sub call { $t->json_call(@_) }

ok(MicroTest::wait_until(sub {
    my (undef, $st) = call(GET => "$gw/registry");
    $st && $st->{services}{'go.micro.api.example'}
        && $st->{services}{'go.micro.srv.test'};
}, 'services in the registry'), 'the gateway sees both services');

# --- the example service (go-micro's examples/api) -------------------------

my ($status, $json, $r) = call(GET => "$gw/example/call?name=John");
is($status, 200, 'GET /example/call: 200');
is($json->{message}, 'got your request John', 'the query reached the service');
is($r->{headers}{'x-example'}, 'Example.Call', 'a header the service set');
is($r->{headers}{'content-type'}, 'application/json',
   'Content-Type defaults to application/json');
like($r->{headers}{'micro-id'} // '', qr/^[0-9a-f]{32}$/, 'a Micro-Id');

($status, $json) = call(POST => "$gw/example/call", 'name=Jane',
    'Content-Type' => 'application/x-www-form-urlencoded');
is($json->{message}, 'got your request Jane', 'a form body reached "post"');

($status, $json) = call(GET => "$gw/example/call");
is($status, 400, 'the service\'s own error: 400');
is_deeply($json, { id => 'go.micro.api.example', code => 400,
                   detail => 'no content', status => 'Bad Request' },
          'as go-micro\'s error JSON');

($status, $json, $r) = call(POST => "$gw/example/foo/bar",
    '{"a":[1,2],"b":"x"}', 'Content-Type' => 'application/json');
is($status, 201, 'POST /example/foo/bar: the status the service chose');
is_deeply($json, { received => { a => [1, 2], b => 'x' } },
          'the body reached the service as it was sent');
is($r->{headers}{'x-example'}, 'Foo.Bar', 'Foo.Bar\'s header');

($status, $json) = call(POST => "$gw/example/foo/bar", 'x',
    'Content-Type' => 'text/plain');
is($json->{detail}, 'expect application/json', 'the service read the headers');
($status, $json) = call(PUT => "$gw/example/foo/bar", '{}',
    'Content-Type' => 'application/json');
is($json->{detail}, 'require post', 'the method reached the service');

($status, $json) = call(GET => "$gw/example/nothing/here");
is($status, 404, 'an endpoint the service does not have: 404');
($status, $json) = call(GET => "$gw/nowhere/call");
is($status, 404, 'a service that does not exist: 404');

# --- the request as the service sees it ------------------------------------

($status, $json) = call(POST => "$gw/test/%61pi?a=1&b=two+words&a=%C3%A9&flag",
    "raw body\nline\x01", 'Content-Type' => 'application/octet-stream',
    'X-Forwarded-For' => '10.0.0.1', 'x-custom-header' => 'v1',
    'Micro-Id' => 'id-42');
is($status, 200, 'Test.Api: 200 (status 0 in the reply)');
is($json->{method}, 'POST', 'method');
is($json->{path}, '/test/api', 'path, decoded');
is($json->{url}, '/test/%61pi?a=1&b=two+words&a=%C3%A9&flag',
   'url as sent');
is($json->{body}, "raw body\nline\x01", 'body, as it was sent');
is_deeply($json->{get}, { a => ['1', "\x{e9}"], b => ['two words'],
                          flag => [''] }, 'get: decoded, values together');
is_deeply($json->{post}, {}, 'post: empty for a non-form body');
is_deeply($json->{header}{'X-Forwarded-For'}, ['10.0.0.1, 127.0.0.1'],
          'X-Forwarded-For: the client appended');
is_deeply($json->{header}{'X-Custom-Header'}, ['v1'],
          'header names in Go\'s canonical form');
is_deeply($json->{header}{'Content-Type'}, ['application/octet-stream'],
          'Content-Type');
like($json->{header}{'Host'}[0], qr/^127\.0\.0\.1:\d+$/, 'Host');
is_deeply($json->{header}{'Micro-Id'}, ['id-42'], 'Micro-Id');

my $big = 'x' x 300_000;       # beyond client_body_buffer_size: a temp file
($status, $json) = call(POST => "$gw/test/api", $big,
    'Content-Type' => 'text/plain');
is(length($json->{body} // ''), 300_000, 'a 300 kB body arrives whole');

($status, $json) = call(POST => "$gw/test/api", 'x=1&y=2&x=3',
    'Content-Type' => 'application/x-www-form-urlencoded; charset=utf-8');
is_deeply($json->{post}, { x => ['1', '3'], y => ['2'] },
          'a form: fields in "post"');
is($json->{body}, '', 'and no body');
is_deeply($json->{header}{'X-Forwarded-For'}, ['127.0.0.1'],
          'X-Forwarded-For is the client without one before');

# --- the reply as the service shapes it ------------------------------------

($status, undef, $r) = call(GET => "$gw/test/api?status=418&body=teapot"
    . "&type=text/plain&header=Set-Cookie:a=1&header=Set-Cookie:b=2"
    . "&header=X-One:1");
is($status, 418, 'the status of the go.api.Response');
is($r->{content}, 'teapot', 'its body');
is($r->{headers}{'content-type'}, 'text/plain', 'its Content-Type');
is_deeply($r->{headers}{'set-cookie'}, ['a=1', 'b=2'],
          'a header with two values: two lines');
is($r->{headers}{'x-one'}, '1', 'another header');

# raw: the header lines exactly as NGINX wrote them, read until NGINX
# closes the connection (HTTP/1.0); also how long that took
my $raw_took;
sub raw {
    my ($method, $path) = @_;
    my $t0 = MicroTest::now();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port('8080'),
                                  Timeout => 90) or die "connect: $!";
    print $s "$method $path HTTP/1.0\r\nHost: x\r\n\r\n";
    local $/;
    my $resp = <$s>;
    $raw_took = MicroTest::now() - $t0;
    return $resp // '';
}

# A call that ends when its reply is sent, not at micro_read_timeout
# (60 s in /test/): well under half of it, however slow the machine.
sub ends_at_once {
    my ($what) = @_;
    cmp_ok($raw_took, '<', 30, sprintf('%s: the call ends once the reply is '
           . 'sent (%.2f s, micro_read_timeout is 60 s)', $what, $raw_took));
}

my $resp = raw(GET => '/test/api?header=X-Split:a%0D%0AInjected:%20yes'
                      . '&header=Content-Length:999&header=Server:evil'
                      . '&header=Bad%20Name:1&status=204');
like($resp, qr{^HTTP/1\.1 204 }, 'status 204');
ends_at_once('204');
like($resp, qr/\r\nX-Split: a  Injected: yes\r\n/,
     'line breaks in a value become spaces');
unlike($resp, qr/\r\nInjected:/, 'no header injected');
unlike($resp, qr/Content-Length: 999/, 'Content-Length is NGINX\'s own');
unlike($resp, qr/Server: evil/, 'Server is NGINX\'s own');
unlike($resp, qr/Bad Name/, 'an invalid header name is left out');

($status, $json) = call(GET => "$gw/test/api?status=99&body=x");
is($status, 502, 'status 99 in the reply: 502');
like($json->{detail} // '', qr/does not parse/, 'as a gateway error');
($status, $json) = call(GET => "$gw/test/api?status=600&body=x");
is($status, 502, 'status 600 in the reply: 502');
($status, $json) = call(GET => "$gw/test/bad-api");
is($status, 502, 'a reply that is not a go.api.Response: 502');
is($json->{id}, 'go.micro.api', 'with the gateway\'s error JSON');

$resp = raw(HEAD => '/test/api?status=202&header=X-H:1');
like($resp, qr{^HTTP/1\.1 202 }, 'HEAD: the service\'s status');
like($resp, qr/\r\nX-H: 1\r\n/, 'and headers');
like($resp, qr/\r\n\r\n\z/, 'no body');
ends_at_once('HEAD');
unlike(MicroTest::read_file($t->dir . '/error.log'), qr/timed out/,
       'and no call timed out');

my $log = MicroTest::read_file($t->dir . '/error.log');
like($log, qr/reply header "Bad Name" is not a valid name/,
     'the left-out header is logged');
like($log, qr/go\.api\.Response has status 99/, 'the bad status is logged');

$t->done;
done_testing();
