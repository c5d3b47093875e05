#!/usr/bin/perl
# micro_api in front of gRPC servers found in the registry: grpcio's
# (t/peers/grpc_shapes.py), grpc-go's (t/peers/grpcgo) and libmicro's
# (test/grpcsrv.c, forced to gRPC by micro_protocol), all with shapes.proto
# from the descriptor set. JSON in and out, every gRPC status mapped to
# HTTP by grpc-gateway's table, deadlines, metadata both ways and the
# allow and deny lists, 5 MB messages and one over the limit, the
# transcoder's options, failover from a dead node, and calls multiplexed
# on one connection a node. Real nginx, redis and servers.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64;
use POSIX ();
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;
my $desc = "$MicroTest::BUILD/gen/shapes.pb";

# the three servers, and libmicro's as it registers itself too
my $servers = $t->shapes_servers('--max-body', 8 << 20);
my $goport = $servers->{'grpc-go'}{port};
my $gosrv = $servers->{'grpc-go'}{pid};
sub register { $t->register_grpc(@_); pass("$_[0] registered") }

$t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
worker_processes 1;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto $desc;
    client_max_body_size 16m;
    micro_max_reply_size 8m;
    micro_read_timeout 10s;

    server {
        listen 127.0.0.1:%%PORT_gw%%;

        location / {
            micro_api;
        }
        # libmicro's server speaks both; this location asks for gRPC
        location /srv/ {
            rewrite ^/srv(/.*)\$ \$1 break;
            micro_api;
            micro_api_namespace go.micro.srv;
            micro_protocol grpc;
        }
        location /opts/ {
            rewrite ^/opts(/.*)\$ \$1 break;
            micro_api;
            micro_json_options emit_defaults proto_names enums_as_ints;
        }
        location /short/ {
            rewrite ^/short(/.*)\$ \$1 break;
            micro_api;
            micro_read_timeout 300ms;
        }
        location /small/ {
            rewrite ^/small(/.*)\$ \$1 break;
            micro_api;
            micro_max_reply_size 1m;
        }
        location /allow/ {
            rewrite ^/allow(/.*)\$ \$1 break;
            micro_api;
            micro_metadata_allow x-keep-*;
        }
        location /deny/ {
            rewrite ^/deny(/.*)\$ \$1 break;
            micro_api;
            micro_metadata_deny Cookie X-Secret;
        }
    }
}
CONF
my $gw = 'http://127.0.0.1:' . $t->port('gw');

my %servers = map { $_ => $servers->{$_}{path} } keys %$servers;

sub echo {
    my ($prefix, $req, %headers) = @_;
    return $t->json_call(POST => "$gw$prefix/shapes/echo", encode_json($req),
                         'Content-Type' => 'application/json', %headers);
}

for my $who (sort keys %servers) {
    ok(MicroTest::wait_until(sub {
        (echo($servers{$who}, { shape => { name => 'x' } }))[0] == 200
    }, "$who routable"), "$who is routable through the gateway");
}

# --- unary calls, JSON both ways ---------------------------------------------

for my $who (sort keys %servers) {
    my $p = $servers{$who};
    my ($status, $json, $r) = echo($p, { shape => { name => 'circle',
        mood => 'SAD', points => [{ x => 1, y => 2 }, { x => 3 }],
        tags => { a => '5' } } });
    is($status, 200, "$who: Echo answers 200");
    is($json->{shape}{name}, 'circle', "$who: a string field comes back");
    is($json->{shape}{mood}, 'SAD', "$who: an enum by name");
    is_deeply($json->{shape}{points}, [{ x => 1, y => 2 }, { x => 3 }],
              "$who: a repeated message");
    is_deeply($json->{shape}{tags}, { a => '5' }, "$who: a map of int64");
    like($r->{headers}{'content-type'}, qr{^application/json},
         "$who: the reply is JSON");
    ok($r->{headers}{'micro-id'}, "$who: with the request's Micro-Id");
}

# --- every gRPC status, grpc-gateway's HTTP status -----------------------------

my @table = (undef, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400,
             501, 500, 503, 500, 401);
my @names = qw(OK CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED
               NOT_FOUND ALREADY_EXISTS PERMISSION_DENIED RESOURCE_EXHAUSTED
               FAILED_PRECONDITION ABORTED OUT_OF_RANGE UNIMPLEMENTED
               INTERNAL UNAVAILABLE DATA_LOSS UNAUTHENTICATED);
for my $who ('grpcio', 'grpc-go') {
    for my $code (1 .. 16) {
        my ($status, $json) = echo($servers{$who}, { fail_status => $code,
                                   fail_detail => "fail $code ünï" });
        is($status, $table[$code], "$who: $names[$code] is HTTP $table[$code]");
        is($json->{grpc_code}, $code, "$who: $names[$code]: grpc_code kept");
        is($json->{grpc_status}, $names[$code],
           "$who: $names[$code]: its name");
        is($json->{detail}, "fail $code ünï",
           "$who: $names[$code]: the message, decoded");
    }
}
# libmicro's own registration says mucp and gRPC: micro_protocol grpc
# chooses gRPC (its metadata comes back as Grpc-Metadata-*), and its
# errors are go-micro's, the service's own JSON whole
{
    my ($status, $json, $r) = echo('/srv/shapes', { echo_headers =>
                                   ['x-hello'] }, 'X-Hello' => 'there');
    is($status, 200, 'micro_protocol grpc: a node that speaks both');
    is($r->{headers}{'grpc-metadata-x-hello'}, 'there',
       'is called over gRPC');
    ($status, $json) = echo('/srv/shapes', { fail_status => 5,
                               fail_detail => 'no such shape' });
    is($status, 404, 'libmicro: NOT_FOUND is 404');
    is($json->{id}, 'go.micro.srv.shapes', "libmicro: the service's error id");
    is($json->{detail}, 'no such shape', 'libmicro: its detail');
    is($json->{grpc_status}, 'NOT_FOUND', 'libmicro: and the gRPC status');
}

# --- deadlines -----------------------------------------------------------------

for my $who (sort keys %servers) {
    my $p = $servers{$who};
    my ($status, $json) = echo("/short$p", { sleep_ms => 3000 });
    is($status, 504, "$who: a call past micro_read_timeout is 504");
    like($json->{detail}, qr/timed out after 300 ms/, "$who: it says so");
    ($status, $json) = echo($p, { shape => {} }, Timeout => 2);
    is($status, 200, "$who: with a Timeout header");
    ok($json->{remainingMs} > 0 && $json->{remainingMs} <= 2000,
       "$who: the server's deadline is the Timeout header's 2 s")
        or diag($json->{remainingMs});
    ($status, $json) = echo($p, { shape => {} }, 'grpc-timeout' => '1500m');
    ok($json->{remainingMs} > 0 && $json->{remainingMs} <= 1500,
       "$who: or the client's grpc-timeout, the shortest")
        or diag($json->{remainingMs});
    ($status, $json) = echo($p, { shape => {} });
    ok($json->{remainingMs} > 2000 && $json->{remainingMs} <= 10000,
       "$who: else micro_read_timeout's 10 s")
        or diag($json->{remainingMs});
}

# --- metadata both ways ----------------------------------------------------------

for my $who (sort keys %servers) {
    my $p = $servers{$who};
    my ($status, $json, $r) = echo($p, { echo_headers => ['x-hello',
        'cookie'] }, 'X-Hello' => 'world', Cookie => 'c=1');
    is($json->{headers}{'x-hello'}, 'world',
       "$who: a request header reaches the server as metadata");
    is($r->{headers}{'grpc-metadata-x-hello'}, 'world',
       "$who: the server's metadata comes back as Grpc-Metadata-*");
    is($json->{headers}{cookie}, 'c=1', "$who: by default every header goes");

    ($status, $json) = echo("/deny$p", { echo_headers => ['x-hello',
        'cookie', 'x-secret'] }, 'X-Hello' => 'world', Cookie => 'c=1',
        'X-Secret' => 's');
    is_deeply($json->{headers}, { 'x-hello' => 'world' },
              "$who: micro_metadata_deny keeps those named back");
    ($status, $json) = echo("/allow$p", { echo_headers => ['x-hello',
        'x-keep-me'] }, 'X-Hello' => 'world', 'X-Keep-Me' => 'yes');
    is_deeply($json->{headers}, { 'x-keep-me' => 'yes' },
              "$who: micro_metadata_allow lets only those named through");
}

# --- big messages --------------------------------------------------------------

for my $who (sort keys %servers) {
    my $p = $servers{$who};
    my ($status, $json) = echo($p, { shape => { name => 'b' x (5 << 20) } });
    is($status, 200, "$who: a 5 MB request");
    is(length($json->{shape}{name} // ''), 5 << 20,
       "$who: arrived whole, and came back");
    ($status, $json) = echo($p, { pad => 5 << 20 });
    is(length(decode_base64($json->{padding} // '')), 5 << 20,
       "$who: a 5 MB reply");
    ($status, $json) = echo("/small$p", { pad => 2 << 20 });
    is($status, 502, "$who: a reply over micro_max_reply_size is 502");
    like($json->{detail}, qr/larger than micro_max_reply_size/,
         "$who: which it says");
    ($status) = echo($p, { shape => {} });
    is($status, 200, "$who: and the next call works");
}

# --- the transcoder's options ----------------------------------------------------

{
    my ($status, $json) = echo('/opts/goshapes', { shape => { name => 'sq',
        mood => 'SAD' } });
    is($status, 200, 'micro_json_options: a call');
    ok(exists $json->{remaining_ms}, 'proto_names: remaining_ms');
    is_deeply($json->{shape}{points}, [],
              'emit_defaults: an empty repeated field');
    like($json->{shape}{mood}, qr/^\d+$/, 'enums_as_ints: the mood a number');
    ($status, $json) = echo('/goshapes', { nonsense => 1 });
    is($status, 400, 'an unknown field is refused by default');
}

# --- errors before any node is called ---------------------------------------------

{
    my ($status, $json) = $t->json_call(POST => "$gw/goshapes/shapes/echo",
        '{"shape":', 'Content-Type' => 'application/json');
    is($status, 400, 'malformed JSON is 400');
    ($status, $json) = $t->json_call(POST => "$gw/goshapes/shapes/nothing",
        '{}', 'Content-Type' => 'application/json');
    is($status, 501, 'a method the server does not have is UNIMPLEMENTED, '
                     . '501');
    is($json->{grpc_status}, 'UNIMPLEMENTED', 'which the body says');
    ($status, $json) = echo('/noshapes', {});
    is($status, 404, 'a service with no node is 404, as over mucp');
}

# --- failover, and one connection a node ---------------------------------------------

{
    my $dead = MicroTest::free_port();
    register('go.micro.api.twoshapes', $dead, $goport);
    ok(MicroTest::wait_until(sub {
        (echo('/twoshapes', { shape => {} }))[0] == 200
    }, 'twoshapes routable'), 'a service with a dead node is routable');
    my $ok = 0;
    for (1 .. 20) {
        $ok++ if (echo('/twoshapes', { shape => {} }))[0] == 200;
    }
    is($ok, 20, 'every call fails over from the dead node to the live one');

    my $before = MicroTest::connections_to($goport);
    my @kids;
    for (1 .. 4) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $n = 0;
            for (1 .. 25) {
                $n++ if (echo('/goshapes', { shape => {} }))[0] == 200;
            }
            POSIX::_exit($n == 25 ? 0 : 1);
        }
        push @kids, $pid;
    }
    my $fails = 0;
    for (@kids) { waitpid($_, 0); $fails++ if $? }
    is($fails, 0, '100 calls from 4 clients at once all answered');
    is(MicroTest::connections_to($goport), 1, 'over the one connection '
       . 'the worker keeps to the node') or diag("before: $before");
}

# a node killed between calls: the next call finds no node to take it,
# and says so; none hangs
{
    $t->stop($gosrv, 'KILL');
    my ($status, $json) = echo('/goshapes', { shape => {} });
    is($status, 502, 'a call to a node that died is 502');
    like($json->{detail}, qr/could be reached|ended before/,
         'saying the node could not be reached');
}

$t->done;
done_testing();
