#!/usr/bin/perl
# Client- and bidi-streaming gRPC methods through micro_api over a
# WebSocket, with python3-websockets as the client (t/peers/ws_stream.py)
# and grpcio, grpc-go and libmicro as the servers: a chat in lock-step,
# a client stream ended by an empty frame, an error as a close frame with
# the gRPC status, a bad message, a node killed mid-stream, a server
# stream over a WebSocket, and upgrades refused where no stream is.

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
my $py = '/usr/bin/python3';
my $client = "$MicroTest::ROOT/t/peers/ws_stream.py";

my $servers = $t->shapes_servers;
my $gosrv = $servers->{'grpc-go'}{pid};
my $lmport = $servers->{libmicro}{port};

$t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
worker_processes 1;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto $MicroTest::BUILD/gen/shapes.pb;
    micro_read_timeout 20s;

    server {
        listen 127.0.0.1:%%PORT_gw%%;
        location / {
            micro_api;
        }
        location /limited/ {
            rewrite ^/limited(/.*)\$ \$1 break;
            micro_api;
            micro_websocket_rate 5;
        }
    }
}
CONF
my $ws = 'ws://127.0.0.1:' . $t->port('gw');
my $http = 'http://127.0.0.1:' . $t->port('gw');
my %servers = map { $_ => $servers->{$_}{path} } keys %$servers;

# (replies, close code, close reason) of one client run
sub ws_run {
    my ($path, $mode, @messages) = @_;
    my @lines = map { eval { decode_json($_) } // { bad => $_ } }
                split /\n/, scalar qx($py $client $ws$path $mode @{[
                    map { "'$_'" } @messages ]} 2>&1);
    my $end = pop @lines // {};
    return ([map { $_->{reply} } @lines], $end->{code}, $end->{reason});
}

ok(MicroTest::wait_until(sub {
    (ws_run('/goshapes/shapes/chat', 'lockstep', '{}'))[1] // 0 == 1000
}, 'routable'), 'the streaming services are routable over a WebSocket');

for my $who (sort keys %servers) {
    my $p = $servers{$who};
    my ($replies, $code, $why) = ws_run("$p/shapes/chat", 'lockstep',
        '{"shape":{"name":"one"}}', '{"shape":{"name":"two"}}',
        '{"shape":{"name":"three","mood":"HAPPY"}}');
    is_deeply([map { $_->{shape}{name} } @$replies], [qw(one two three)],
              "$who: a bidi chat, a reply frame for each message");
    is($replies->[2]{shape}{mood}, 'HAPPY', "$who: transcoded both ways");
    is($code, 1000, "$who: the close frame says OK (1000)")
        or diag($why);

    ($replies, $code) = ws_run("$p/shapes/sum", 'end', '{"count":2}',
                               '{"count":3}', '{"count":5}');
    is_deeply($replies, [{ total => 10, messages => 3 }],
              "$who: a client stream, ended by an empty frame, and its "
              . 'one reply');
    is($code, 1000, "$who: then 1000");

    my $reason;
    ($replies, $code, $reason) = ws_run("$p/shapes/chat", 'open',
        '{"failStatus":7,"failDetail":"not yours"}');
    is($code, 4007, "$who: an error closes with 4000 + the gRPC status");
    like($reason, qr/not yours/, "$who: and its message as the reason");

    ($replies, $code, $reason) = ws_run("$p/shapes/count", 'open',
                                        '{"count":3}');
    is_deeply([map { $_->{n} } @$replies], [1, 2, 3],
              "$who: a server stream over a WebSocket");
}

{
    my ($replies, $code, $reason) = ws_run('/goshapes/shapes/chat', 'open',
                                           '{"shape":');
    is($code, 1007, 'a message that is not the request type closes 1007');
    like($reason, qr/./, 'saying why');
}
{
    my $r = $t->http(GET => "$http/goshapes/shapes/echo", headers => {
        Upgrade => 'websocket', Connection => 'Upgrade',
        'Sec-WebSocket-Key' => 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version' => '13' });
    is($r->{status}, 400, 'an upgrade on a unary method is 400');
    like($r->{content}, qr/streaming method/, 'which the error says');
}

{
    my ($replies, $code, $reason) = ws_run('/limited/goshapes/shapes/chat',
                                           'open', ('{}') x 20);
    is($code, 1008, 'more frames a second than micro_websocket_rate: 1008');
    like($reason, qr/micro_websocket_rate/, 'naming the directive');
    ok(@$replies < 20, 'before all 20 went through');
}

# a node killed mid-stream: the client gets a close frame, no hang
{
    open(my $run, '-|', $py, $client, "$ws/goshapes/shapes/chat", 'open',
         '{"shape":{"name":"first"}}', '{"sleepMs":60000}') or die $!;
    my $first = <$run>;
    like($first // '', qr/"first"/, 'a chat with grpc-go is under way');
    $t->stop($gosrv, 'KILL');
    my $end = decode_json(<$run> // '{}');
    close $run;
    is($end->{code}, 4014, 'killed mid-stream: the close frame says '
                           . 'UNAVAILABLE (4014)');
}

$t->done;
done_testing();
