#!/usr/bin/perl
# The gateway's proxy handler (micro_api handler=proxy): plain-HTTP API
# services found in the registry, behind NGINX's proxy module. Real nginx,
# redis, two nodes of a Python HTTP service
# (t/peers/httpsvc.py) and a third-party WebSocket client (python3-websockets).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MicroTest;

my $PY = '/usr/bin/python3';

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;

# A node of go.micro.api.shop: the Python service, registered by the CLI.
sub node {
    my ($name) = @_;
    return ($t->python_node('httpsvc.py', 'go.micro.api.shop', "shop-$name",
                            $name))[0];
}

my $a_pid = node('a');
my $b_pid = node('b');

# plain-HTTP API services behind NGINX's proxy module: /shop/items goes to
# a node of go.micro.api.shop, the whole path forwarded; and the same with
# the request body streamed to the node. %%REGISTRY%% is the registry URL.
my $proxy_conf = <<'CONF';
%%MODULES%%
%%GLOBALS%%
worker_processes 2;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REGISTRY%%;

    server {
        listen 127.0.0.1:%%PORT_8082%%;

        location / {
            micro_api handler=proxy;
            micro_selector round_robin;
            proxy_read_timeout 60s;
        }
        location /unbuffered/ {
            rewrite ^/unbuffered(/.*)$ $1 break;
            micro_api handler=proxy;
            proxy_request_buffering off;
        }
    }
}
CONF

sub proxy_conf {
    my ($registry) = @_;
    (my $conf = $proxy_conf) =~ s/%%REGISTRY%%/$registry/;
    return $conf;
}

$t->nginx(proxy_conf('%%REDIS%%'));
my $gw = 'http://127.0.0.1:' . $t->port('8082');

sub call { $t->json_call(@_) }

ok(MicroTest::wait_until(sub {
    my (undef, undef, $r) = call(GET => "$gw/shop/ready");
    $r->{status} == 200;
}, 'the shop routable'), 'the shop is routable through the gateway');

# --- requests as the node sees them ----------------------------------------

my ($status, $json, $r) = call(GET => "$gw/shop/items/42?color=red&x=%20",
    undef, 'X-Forwarded-For' => '10.1.1.1', 'X-Custom' => 'kept');
is($status, 200, 'GET: 200');
is($json->{method}, 'GET', 'the method');
is($json->{path}, '/shop/items/42?color=red&x=%20', 'the whole path and query');
is($json->{headers}{Host}, '127.0.0.1:' . $t->port('8082'),
   'Host: as the client sent it');
is($json->{headers}{'X-Forwarded-For'}, '10.1.1.1, 127.0.0.1',
   'X-Forwarded-For: the client appended');
is($json->{headers}{'X-Custom'}, 'kept', 'the client\'s headers');
like($json->{headers}{'Micro-Id'} // '', qr/^[0-9a-f]{32}$/,
     'a Micro-Id for the node');
is($r->{headers}{'micro-id'}, $json->{headers}{'Micro-Id'},
   'the same one to the client');
ok(!exists $json->{headers}{Connection}, 'no "Connection: close" (kept)');
is($r->{headers}{'x-node'}, $json->{node}, 'the node\'s own headers');

($status, $json) = call(POST => "$gw/shop/orders", '{"item":42}',
    'Content-Type' => 'application/json', 'Micro-Id' => 'order-7');
is($json->{method}, 'POST', 'POST');
is($json->{body}, '{"item":42}', 'the body');
is($json->{headers}{'Micro-Id'}, 'order-7', 'the client\'s Micro-Id kept');
for my $m (qw(PUT PATCH DELETE)) {
    ($status, $json) = call($m => "$gw/shop/orders/1", 'x');
    is($json->{method}, $m, "$m goes through");
}

($status, $json, $r) = call(GET => "$gw/shop/big/chunked");
is($status, 200, 'a chunked reply');
is($json->{path}, '/shop/big/chunked', 'arrives whole');

($status, $json, $r) = call(GET => "$gw/shop/x/status/418");
is($status, 418, 'the node\'s status');
is($json->{path}, '/shop/x/status/418', 'with the node\'s own body');

($status, $json, $r) = call(GET => "$gw/v1/shop/x");
is($status, 404, '/v1/shop: go.micro.api.v1.shop, not registered: 404');
is($json->{id}, 'go.micro.api', 'go-micro\'s error JSON');
is($json->{detail}, 'service not found: go.micro.api.v1.shop',
   'service not found, and which');
($status, $json) = call(GET => "$gw/");
is($status, 404, '/ names no service: 404');
($status, $json) = call(GET => "$gw/bad_name/x");
is($status, 404, 'an invalid name: 404');

# with proxy_request_buffering off the node gets the request before its
# body is all in (here it answers at once; the client never sends the rest)
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
    PeerPort => $t->port('8082'), Timeout => 30) or die "connect: $!";
print $sock "POST /unbuffered/shop/early HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 100\r\nConnection: close\r\n\r\nhalf";
my $reply = eval {
    local $SIG{ALRM} = sub { die "no reply\n" };
    alarm 30;
    local $/;
    my $all = <$sock>;
    alarm 0;
    $all;
} // $@;
like($reply, qr{^HTTP/1\.1 200 .*\r\n\r\nearly\z}s,
     'proxy_request_buffering off: the body streams to the node');
close $sock;

# --- selection, keepalive, failover -----------------------------------------

# round robin is per worker: one kept client connection stays on one
my (%nodes, %conns);
my $kept = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
for (1 .. 20) {
    my $res = $kept->get("$gw/shop/n");
    $json = eval { decode_json($res->{content}) } || {};
    $nodes{$json->{node}}++ if $res->{status} == 200;
    $conns{"$json->{node}:$json->{conn}"}++ if $res->{status} == 200;
}
is_deeply(\%nodes, { a => 10, b => 10 }, 'round_robin over the two nodes');
cmp_ok(scalar(keys %conns), '<=', 2,
       'one kept connection a node (' . join(' ', sort keys %conns) . ')');

my $master = $t->nginx_master;
my $failed_reload = $t->under_load(200, sub {
    $_[0]->request(POST => "$gw/shop/orders",
        { content => '{"n":1}' })->{status} == 200;
}, [20, 100], sub { kill 'HUP', $master });
is($failed_reload, 0, 'two reloads under 200 POSTs: none failed (new '
   . 'workers wait for their registry)');

# node b killed -9 in the middle of a load of GETs: NGINX's proxy module
# retries them on node a
my %answered;
my $failed = $t->under_load(60, sub {
    my $res = $_[0]->get("$gw/shop/after");
    my $node = eval { decode_json($res->{content})->{node} } // '';
    MicroTest::write_file($t->dir . "/answered.$node", '') if $node;
    return $res->{status} == 200;
}, [20], sub { $t->stop($b_pid, 'KILL') });
is($failed, 0, 'node b killed -9 (still registered) under 60 GETs: none '
   . 'failed');
ok(-e $t->dir . '/answered.b' && -e $t->dir . '/answered.a',
   'both nodes answered some before the kill');
my ($after_status, $after) = call(GET => "$gw/shop/after");
is("$after_status $after->{node}", '200 a', 'node a answers after it');

# --- WebSocket ---------------------------------------------------------------

my $ws = 'ws://127.0.0.1:' . $t->port('8082') . '/shop/live';
my $out = `$PY $FindBin::Bin/../peers/ws_client.py $ws hello world 2>&1`;
my $replies = eval { decode_json($out) };
is_deeply($replies, ['a: hello', 'a: world', unpack('H*', "a: \x00\x01\xff")],
          'WebSocket: text and binary messages through the 101 tunnel')
    or diag($out);

$t->stop($a_pid, 'KILL');
($status, $json) = call(GET => "$gw/shop/none");
is($status, 502, 'no node can be reached: 502');
is($json->{detail}, 'no node of the service could be reached',
   'as go-micro\'s error JSON');

$t->done;

# --- a worker that has not loaded its registry yet ------------------------

# Redis answers only once the request is held: the request waits for the
# load, then goes to the node. The gate makes it so, with no timing.
$t = MicroTest->new;
$t->redis;
$ENV{MICRO_REGISTRY} = $t->redis_url;
$a_pid = node('a');
my ($gate_port, $gate) = $t->tcp_gate($t->{redis_port});
$t->nginx(proxy_conf("redis://127.0.0.1:$gate_port/0"));
$sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
    PeerPort => $t->port('8082'), Timeout => 30) or die "connect: $!";
print $sock "GET /shop/held HTTP/1.0\r\nHost: x\r\n\r\n";
ok(MicroTest::wait_until(sub { MicroTest::read_file($t->dir . '/error.log')
    =~ /waiting for the first registry load/ }, 'held'),
    'a request before the first registry load is held');
MicroTest::write_file($gate, '');
$reply = do { local $/; <$sock> } // '';
like($reply, qr{^HTTP/1\.1 200 .*"path": "/shop/held"}s,
     'and answered by the node once the load arrives');
close $sock;
$t->done;

# Redis down from the start: the request waits 5 s for a load, then 404
$t = MicroTest->new;
$t->redis;
$t->redis_stop;
$t->nginx(proxy_conf('%%REDIS%%'));
my $t0 = MicroTest::now();
($status, $json) = call(POST => 'http://127.0.0.1:' . $t->port('8082')
                        . '/shop/x', '{"n":1}');
my $waited = MicroTest::now() - $t0;
is($status, 404, 'no registry at all: 404');
is($json->{detail}, 'service not found: go.micro.api.shop',
   'service not found');
cmp_ok($waited, '>=', 4.9, sprintf('after waiting for the load (%.1f s, '
       . 'at least 5)', $waited));
$t->done;

# --- configuration (nginx -t, its own error log) ---------------------------

$t = MicroTest->new;
$t->redis;
sub bad_location {
    my ($location) = @_;
    return <<"CONF";
%%MODULES%%
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    server {
        listen 127.0.0.1:%%PORT_bad%%;
        location / {
$location
        }
    }
}
CONF
}

my ($good, $msg) = $t->nginx_test(bad_location(
    "            micro_api handler=proxy;\n"
    . "            proxy_pass http://127.0.0.1:1;"), 'bad.conf');
ok(!$good, 'proxy_pass beside handler=proxy: nginx -t fails');
like($msg, qr/"proxy_pass" directive is duplicate in .*bad\.conf:\d+/,
     'and says where') or diag($msg);

($good, $msg) = $t->nginx_test(bad_location(
    '            micro_api handler=grpc;'), 'bad.conf');
like($msg, qr/invalid parameter "handler=grpc": expected handler=rpc, handler=api, handler=proxy or handler=event in .*bad\.conf:\d+/,
     'an unknown handler: nginx -t names it') or diag($msg);

$t->done;
done_testing();
