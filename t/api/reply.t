#!/usr/bin/perl
# Replies as services frame them: with Content-Length, chunked, or ended
# by closing the connection, passed through as JSON or transcoded from
# protobuf, and micro_max_reply_size over what the gateway holds. The
# service is in another language (t/peers/microsvc.py, Python's standard
# library); real nginx and redis.

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

my (undef, $node) = $t->python_node('microsvc.py', 'go.micro.api.greeter',
                                   'greeter-py');

$t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
worker_processes 1;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto $MicroTest::BUILD/gen/proto/services.pb;

    server {
        listen 127.0.0.1:%%PORT_gw%%;
        micro_read_timeout 10s;

        # JSON passed through as it comes
        location /json/ {
            rewrite ^/json(/.*)\$ \$1 break;
            micro_api;
        }

        # JSON in, protobuf to the service, its reply transcoded
        location / {
            micro_max_reply_size 1k;
            micro_api;
        }
    }
}
CONF
my $gw = 'http://127.0.0.1:' . $t->port('gw');

sub hello {
    my ($path, $framing, %headers) = @_;
    return $t->json_call(POST => "$gw$path/greeter/say/hello",
        '{"name":"Ann"}', 'Content-Type' => 'application/json',
        'X-Framing' => $framing, %headers);
}

ok(MicroTest::wait_until(sub { (hello('', 'length'))[0] == 200 },
                         'the greeter routable'), 'the greeter is routable');

for my $framing (qw(length chunked close)) {
    for my $path ('', '/json') {
        my $how = $path ? 'passed through' : 'transcoded';
        my ($status, $json, $r) = hello($path, $framing);
        is($status, 200, "$framing, $how: 200");
        is($json && $json->{msg}, 'Hello Ann', "$framing, $how: the reply")
            or diag($r->{content});
        is($r->{headers}{'content-type'}, 'application/json',
           "$framing, $how: JSON");
    }
}

# Every framing again, twice, on the kept connections: nothing left of a
# reply spoils the next one
for my $framing (qw(chunked length close chunked length)) {
    my ($status, $json) = hello('', $framing);
    is($json && $json->{msg}, 'Hello Ann', "then $framing again");
}

# The limit is on what the gateway holds to transcode, not on what it
# streams: 1k over a 2,000-byte reply is a 502 naming the limit
my ($status, $json) = hello('', 'chunked', 'X-Reply-Pad' => 900);
is($status, 200, 'a reply within micro_max_reply_size: 200');
is(length($json->{msg} // ''), 909, 'and whole');
for my $framing (qw(length chunked close)) {
    ($status, $json) = hello('', $framing, 'X-Reply-Pad' => 2000);
    is($status, 502, "a $framing reply over micro_max_reply_size: 502");
    is($json && $json->{detail},
       'the reply of go.micro.api.greeter Say.Hello is larger than '
       . 'micro_max_reply_size (1024 bytes)', 'the error says why')
        or diag(encode_json($json // {}));
}
($status, $json) = hello('/json', 'chunked', 'X-Reply-Pad' => 2000);
is(length($json->{msg} // ''), 2009, 'a streamed reply has no such limit');
($status, $json) = hello('', 'length');
is($json && $json->{msg}, 'Hello Ann', 'the next call is answered');

my $log = MicroTest::read_file($t->dir . '/error.log');
like($log, qr/\Qmicro api: the reply of go.micro.api.greeter Say.Hello from $node is larger than micro_max_reply_size (1024 bytes)\E/,
     'the error log names the service, endpoint and node');
unlike($log, qr/zero size buf/, 'no "zero size buf" alert');
unlike($log, qr/sent more than its Content-Length/,
       'a refused reply is not taken for one longer than it said');

$t->nginx_stop;
my ($ok, $out) = $t->nginx_test(<<'CONF', 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    micro_registry %%REDIS%%;
    server {
        listen 127.0.0.1:%%PORT_gw%%;
        micro_max_reply_size lots;
    }
}
CONF
ok(!$ok, 'nginx -t refuses a size that is not one');
my ($line) = $out =~ /"micro_max_reply_size" directive invalid value in \S+bad\.conf:(\d+)/;
ok($line, 'and says which directive') or diag($out);
like((split /\n/, MicroTest::read_file($t->dir . '/bad.conf'))[$line - 1],
     qr/micro_max_reply_size lots/, 'and where');

$t->done;
done_testing;
