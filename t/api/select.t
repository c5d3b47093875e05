#!/usr/bin/perl
# micro_selector least_inflight (the power of two choices on calls in
# flight): with calls held on one node, new calls go to the other; once
# they end, both nodes are used again (the counts went back down). Held
# with testsrv's Test.Block, released by a file: no timing involved.
# micro_selector peak_ewma: once a node has taken a second to answer, the
# calls go to the node answering in milliseconds (the slow one would be
# tried again only after tens of seconds, well beyond this test).
# One worker, the test config's default: the counts are per worker.

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

my (undef, $a) = $t->service('testsrv', '--name', 'go.micro.srv.busy');
my (undef, $b) = $t->service('testsrv', '--name', 'go.micro.srv.busy');

$t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto $MicroTest::BUILD/gen/proto/services.pb;
    server {
        listen 127.0.0.1:%%PORT_least%%;
        location / {
            micro_api;
            micro_api_namespace go.micro.srv;
            micro_selector least_inflight;
            micro_read_timeout 120s;
        }
        location /ewma/ {
            rewrite ^/ewma(/.*)\$ \$1 break;
            micro_api;
            micro_api_namespace go.micro.srv;
            micro_selector peak_ewma;
            micro_read_timeout 120s;
        }
        location = /rpc { micro_rpc go.micro.srv; micro_read_timeout 120s; }
        location = /registry { micro_registry_status; }
    }
}
CONF
my $gw = 'http://127.0.0.1:' . $t->port('least');

ok(MicroTest::wait_until(sub {
    my $r = $t->http(GET => "$gw/registry");
    my $st = eval { decode_json($r->{content}) } || {};
    @{ $st->{services}{'go.micro.srv.busy'} || [] } == 2 }, 'two nodes'),
    'the gateway sees both nodes');

sub nodes_of {
    my ($n, $path) = @_;
    my %at;
    for (1 .. $n) {
        my $r = $t->http(POST => $gw . ($path // '/busy/test/echo'),
            content => '{}',
            headers => { 'Content-Type' => 'application/json' });
        $at{ $r->{status} == 200
            ? decode_json($r->{content})->{node} : "status $r->{status}" }++;
    }
    return \%at;
}

# three calls held on node a (/rpc's address puts them there)
my $release = $t->dir . '/release';
my $body = encode_json({ service => 'go.micro.srv.busy',
    endpoint => 'Test.Block', address => $a,
    request => { text => $release, n => 120000 } });
my @held;
for (1 .. 3) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $t->port('least'))
        or die "connect: $!";
    print $s "POST /rpc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body";
    push @held, $s;
}
my ($a_port) = $a =~ /:(\d+)$/;
ok(MicroTest::wait_until(sub { MicroTest::connections_to($a_port) >= 3 },
    'held calls at a'), 'three calls in flight on node a');

is_deeply(nodes_of(20), { $b => 20 },
    'least_inflight: every new call goes to the idle node b');

MicroTest::write_file($release, '');
for my $s (@held) {
    local $/;
    my $reply = <$s> // '';
    like($reply, qr/^HTTP\/1\.1 200/, 'a held call completes once released');
}

my $at = nodes_of(40);
is_deeply([ sort keys %$at ], [ sort $a, $b ],
    'with nothing in flight, both nodes take calls again');

# --- peak_ewma --------------------------------------------------------------

my (undef, $fast) = $t->service('testsrv', '--name', 'go.micro.srv.pair');
my (undef, $slow) = $t->service('testsrv', '--name', 'go.micro.srv.pair',
                                '--delay', '1000');
ok(MicroTest::wait_until(sub {
    my $r = $t->http(GET => "$gw/registry");
    my $st = eval { decode_json($r->{content}) } || {};
    @{ $st->{services}{'go.micro.srv.pair'} || [] } == 2 }, 'the pair'),
    'a fast and a slow node (1 s a call)');

# valgrind makes a process's first calls slow (it translates the code as
# it first runs): the fast node answers a few calls directly first, so
# that its first call through the gateway is the fast one it should be
for (1 .. 3) {
    $t->raw_call($fast, MicroTest::rpc_request(service => 'go.micro.srv.pair',
        endpoint => 'Test.Echo', body => '{}'));
}

# a node never called costs least, so each is tried once first
my %tried;
for (1 .. 10) {
    my ($node) = keys %{ nodes_of(1, '/ewma/pair/test/echo') };
    $tried{$node}++;
    last if keys %tried == 2;
}
is_deeply([ sort keys %tried ], [ sort $fast, $slow ],
    'peak_ewma: both nodes tried');
is_deeply(nodes_of(20, '/ewma/pair/test/echo'), { $fast => 20 },
    'peak_ewma: then every call goes to the fast node');

$t->done;

# --- micro_keepalive_timeout ------------------------------------------------

# a connection kept after a call is closed once it has been idle for
# micro_keepalive_timeout (1 s here; 60 s by default)
$t = MicroTest->new;
$t->redis;
$ENV{MICRO_REGISTRY} = $t->redis_url;
my (undef, $kept) = $t->service('testsrv');
$t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_keepalive 8;
    micro_keepalive_timeout 1s;
    server {
        listen 127.0.0.1:%%PORT_idle%%;
        location / { micro_api; micro_api_namespace go.micro.srv; }
    }
}
CONF
my $idle = 'http://127.0.0.1:' . $t->port('idle');
my ($kept_port) = $kept =~ /:(\d+)$/;
ok(MicroTest::wait_until(sub {
    $t->http(POST => "$idle/test/test/echo", content => '{}',
        headers => { 'Content-Type' => 'application/json' })->{status}
        == 200 }, 'routable'), 'a call through the gateway');
is(MicroTest::connections_to($kept_port), 1,
   'leaves its connection to the node kept');
ok(MicroTest::wait_until(sub { MicroTest::connections_to($kept_port) == 0 },
    'idle close'), 'closed once idle for micro_keepalive_timeout');
like(MicroTest::read_file($t->dir . '/error.log'),
     qr/micro: kept connection to \Q$kept\E closed after 1000 ms idle/,
     'and logged at debug level');
$t->done;

# micro_keepalive 0: no connection is kept
$t = MicroTest->new;
$t->redis;
$ENV{MICRO_REGISTRY} = $t->redis_url;
(undef, $kept) = $t->service('testsrv');
($kept_port) = $kept =~ /:(\d+)$/;
$t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_keepalive 0;
    server {
        listen 127.0.0.1:%%PORT_none%%;
        location / { micro_api; micro_api_namespace go.micro.srv; }
    }
}
CONF
my $none = 'http://127.0.0.1:' . $t->port('none');
my @codes;
ok(MicroTest::wait_until(sub {
    $t->http(POST => "$none/test/test/echo", content => '{}',
        headers => { 'Content-Type' => 'application/json' })->{status}
        == 200 }, 'routable'), 'micro_keepalive 0: calls go through');
push @codes, $t->http(POST => "$none/test/test/echo", content => '{}',
    headers => { 'Content-Type' => 'application/json' })->{status} for 1 .. 5;
is("@codes", '200 200 200 200 200', 'every one');
ok(MicroTest::wait_until(sub { MicroTest::connections_to($kept_port) == 0 },
    'closed'), 'and no connection to the node stays open');
$t->nginx_stop;                  # nginx -t below writes [emerg] to its log
my ($bad_ok, $bad_out) = $t->nginx_test(<<"CONF", 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    micro_keepalive_timeout soon;
}
CONF
ok(!$bad_ok, 'nginx -t rejects micro_keepalive_timeout soon');
like($bad_out, qr/"micro_keepalive_timeout" directive invalid value in \S+bad\.conf:\d+/,
     'and says where');
$t->done;
done_testing();
