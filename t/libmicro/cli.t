#!/usr/bin/perl
# The micro CLI against a real redis-server: register, list, get (readable
# and --json), deregister, TTL, watch, malformed entries, key prefixes and
# every error path (bad JSON, bad names, bad URL, Redis down).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
my $port = $t->redis;
my $url = $t->redis_url;
local $ENV{MICRO_REGISTRY} = $url;

sub svc {
    my ($name, $version, $id, $port, %extra) = @_;
    return encode_json({ name => $name, version => $version,
        nodes => [{ id => $id, address => "127.0.0.1:$port",
                    metadata => $extra{metadata} || {} }],
        endpoints => $extra{endpoints} || [] });
}

sub micro { $t->micro(@_) }

my ($rc, $out, $err);

# --- register, list, get --------------------------------------------------

my $endpoints = [{ name => 'Say.Hello',
    request => { name => 'Request', type => 'Request',
                 values => [{ name => 'name', type => 'string', values => undef }] },
    response => { name => 'Response', type => 'Response',
                  values => [{ name => 'msg', type => 'string', values => undef }] },
    metadata => { stream => 'false' } }];

($rc, $out, $err) = micro('register', 'service',
    svc('go.micro.srv.greeter', '1.0.0', 'greeter-1', 9001,
        metadata => { zone => 'eu' }, endpoints => $endpoints));
is($rc, 0, 'register exits 0') or diag($err);

($rc, $out) = micro('register', 'service',
    svc('go.micro.srv.greeter', '2.0.0', 'greeter-2', 9002));
is($rc, 0, 'register a second version');

micro('register', 'service', svc('go.micro.api.customer', 'latest', 'c-1', 9003));

($rc, $out) = micro('list', 'services');
is($rc, 0, 'list exits 0');
is_deeply([sort split /\n/, $out],
    ['go.micro.api.customer', 'go.micro.srv.greeter'], 'list shows both names');

($rc, $out) = micro('get', 'service', 'go.micro.srv.greeter');
is($rc, 0, 'get exits 0');
like($out, qr/^service  go\.micro\.srv\.greeter$/m, 'readable: name');
like($out, qr/^greeter-1\t127\.0\.0\.1:9001\tzone=eu$/m, 'readable: node row');
like($out, qr/^Endpoint: Say\.Hello$/m, 'readable: endpoint');

($rc, $out) = micro('get', 'service', 'go.micro.srv.greeter', '--json');
my $got = decode_json($out);
is(scalar @$got, 2, 'two versions, one entry each');
my ($v1) = grep { $_->{version} eq '1.0.0' } @$got;
is_deeply($v1->{nodes}, [{ id => 'greeter-1', address => '127.0.0.1:9001',
    metadata => { zone => 'eu' } }], 'version 1 node');
is_deeply($v1->{endpoints}, $endpoints, 'endpoint value trees round-trip');
is_deeply([sort keys %$v1],
    [qw(endpoints metadata name nodes version)], "go-micro's Service keys");

# A second node of version 1 merges into the same entry.
micro('register', 'service',
    svc('go.micro.srv.greeter', '1.0.0', 'greeter-3', 9004));
($rc, $out) = micro('get', 'service', 'go.micro.srv.greeter', '--json');
($v1) = grep { $_->{version} eq '1.0.0' } @{ decode_json($out) };
is_deeply([sort map { $_->{id} } @{ $v1->{nodes} }], ['greeter-1', 'greeter-3'],
    'nodes of one version are merged');

# --- deregister -------------------------------------------------------------

($rc) = micro('deregister', 'service',
    '{"name":"go.micro.srv.greeter","nodes":[{"id":"greeter-3"}]}');
is($rc, 0, 'deregister exits 0');
($rc, $out) = micro('get', 'service', 'go.micro.srv.greeter', '--json');
is(scalar(map { @{ $_->{nodes} } } @{ decode_json($out) }), 2,
    'deregistered node is gone');

micro('deregister', 'service', svc('go.micro.api.customer', 'latest', 'c-1', 9003));
($rc, $out, $err) = micro('get', 'service', 'go.micro.api.customer');
is($rc, 1, 'get of a service without nodes fails');
like($err, qr/^micro: get service: service "go.micro.api.customer" not found$/m,
    'and says so');
($rc, $out) = micro('list', 'services');
unlike($out, qr/customer/, 'a service without nodes is not listed');

# --- TTL ---------------------------------------------------------------------

# a TTL long enough to see the node alive first, even under valgrind
($rc) = micro('register', 'service', svc('go.micro.srv.brief', '1', 'b-1', 9005),
    '--ttl', '5s');
is($rc, 0, 'register with --ttl');
($rc, $out) = micro('list', 'services');
like($out, qr/^go\.micro\.srv\.brief$/m, 'the node is listed while it lives');
ok(MicroTest::wait_until(sub {
    my (undef, $o) = micro('list', 'services');
    $o !~ /brief/ }, 'expiry'), 'the node expires after its TTL');
($rc, undef, $err) = micro('get', 'service', 'go.micro.srv.brief');
is($rc, 1, 'an expired node is never returned');

($rc, undef, $err) = micro('register', 'service', svc('a.b', '1', 'x', 1), '--ttl', 'soon');
is($rc, 2, 'bad --ttl is a usage error');
like($err, qr/invalid --ttl "soon"/, 'and says which');

# --- watch ---------------------------------------------------------------------

my $watch_log = $t->dir . '/watch.out';
my $watch = $t->spawn('watch', $t->valgrind_prefix('watch'),
    "$MicroTest::BUILD/bin/micro", '--registry', $url, 'watch');
# The watcher subscribes before reading; wait for it to be connected.
ok(MicroTest::wait_until(sub {
    `redis-cli -p $port PUBSUB NUMSUB micro:registry:watch` =~ /\n1\s*$/ },
    'watch subscribed'), 'watch subscribes');

micro('register', 'service', svc('go.micro.srv.w', '1', 'w-1', 9100));
micro('register', 'service', svc('go.micro.srv.w', '1', 'w-1', 9100)); # refresh
micro('register', 'service', svc('go.micro.srv.w', '2', 'w-1', 9100)); # update
micro('deregister', 'service', svc('go.micro.srv.w', '2', 'w-1', 9100));
micro('register', 'service', svc('go.micro.srv.x', '1', 'x-1', 9101), '--ttl', '200ms');

my @events;
MicroTest::wait_until(sub {
    @events = map { decode_json($_) } grep { /^\{/ }
        split /\n/, MicroTest::read_file("$t->{dir}/watch.log");
    @events >= 5 }, 'five events');
is_deeply([map { "$_->{action} $_->{service}{name} $_->{service}{version}" } @events],
    ['create go.micro.srv.w 1', 'update go.micro.srv.w 2',
     'delete go.micro.srv.w 2', 'create go.micro.srv.x 1',
     'delete go.micro.srv.x 1'],
    'create, update, delete; a refresh is silent; expiry is a delete');
is($events[0]{service}{nodes}[0]{address}, '127.0.0.1:9100', 'events carry the node');
is($t->stop($watch, 'INT') >> 8, 0, 'watch exits 0 on SIGINT');

# --- malformed entries written by another program -----------------------------

micro('register', 'service', svc('go.micro.srv.mixed', '1', 'good', 9200));
for my $bad ('{not json', '{"name":"go.micro.srv.mixed","nodes":[]}',
             '{"name":"go.micro.srv.mixed","nodes":[{"id":"bad","address":"nowhere"}]}') {
    my $id = "bad" . length $bad;
    system('redis-cli', '-p', $port, 'HSET', 'micro:registry:svc:go.micro.srv.mixed',
        $id, $bad) == 0 or die;
    system('redis-cli', '-p', $port, 'ZADD', 'micro:registry:expiry', '+inf',
        "go.micro.srv.mixed $id") == 0 or die;
}
($rc, $out, $err) = micro('get', 'service', 'go.micro.srv.mixed', '--json');
is($rc, 0, 'get succeeds around malformed entries');
is_deeply([map { $_->{id} } map { @{ $_->{nodes} } } @{ decode_json($out) }],
    ['good'], 'only the good node is returned');
my @warnings = $err =~ /skipping malformed registry entry/g;
is(scalar @warnings, 3, 'each malformed entry is skipped with a warning');

# --- input errors ----------------------------------------------------------------

($rc, undef, $err) = micro('register', 'service', '{"name":');
is($rc, 1, 'malformed JSON fails');
like($err, qr/^micro: register service: invalid JSON/m, 'and says so');

($rc, undef, $err) = micro('register', 'service', svc('bad name', '1', 'n', 1));
is($rc, 1, 'invalid service name fails');
like($err, qr/invalid service name "bad name"/, 'and names it');

($rc, undef, $err) = micro('register', 'service',
    svc('go.' . ('n' x 252), '1', 'n', 9500));
is($rc, 0, 'a name of 255 characters is valid') or diag($err);
($rc, undef, $err) = micro('register', 'service',
    svc('go.' . ('n' x 253), '1', 'n', 9500));
is($rc, 1, 'one of 256 is not');
like($err, qr/invalid service name "go\.n{253}"/, 'and is named');

($rc, undef, $err) = micro('register', 'service', '{"name":"a.b","nodes":[{"id":"n","address":"host"}]}');
is($rc, 1, 'address without port fails');
like($err, qr/invalid address "host"/, 'and names it');

($rc, undef, $err) = micro('register', 'service', svc('a.b', '1', 'n', 70000));
like($err, qr/invalid address "127\.0\.0\.1:70000"/, 'port out of range');

# a host name would need a lookup in every reader of the registry
($rc, undef, $err) = micro('register', 'service', '{"name":"a.b","nodes":'
    . '[{"id":"n","address":"greeter.internal:9090"}]}');
is($rc, 1, 'an address that is a host name fails');
like($err, qr/invalid address "greeter\.internal:9090"/, 'and names it');
my $start = `timeout 60 $MicroTest::BUILD/bin/greeter --registry $url --address 127.0.0.1:0 --advertise localhost:9090 2>&1`;
is($? >> 8, 1, 'a service told to advertise a host name does not start');
like($start, qr/advertise address "localhost:9090" is not an IP address/,
     'and says why');

($rc, undef, $err) = micro('--registry', 'http://x', 'list', 'services');
is($rc, 1, 'bad registry URL fails');
like($err, qr/registry URL "http:\/\/x" is not redis:/, 'and says what is expected');

($rc, undef, $err) = micro('frobnicate');
is($rc, 2, 'unknown command is a usage error');
like($err, qr/^usage: micro/m, 'and prints usage');

# --- key prefix: two environments in one Redis -----------------------------------

micro('--registry', "$url?prefix=staging:", 'register', 'service',
    svc('go.micro.srv.staged', '1', 's-1', 9300));
($rc, $out) = micro('--registry', "$url?prefix=staging:", 'list', 'services');
is($out, "go.micro.srv.staged\n", 'prefixed registry sees its service');
($rc, $out) = micro('list', 'services');
unlike($out, qr/staged/, 'the default prefix does not');

# --- Redis down -----------------------------------------------------------------

$t->redis_stop;
($rc, undef, $err) = micro('list', 'services');
is($rc, 1, 'Redis down: list fails');
like($err, qr/cannot connect to redis at 127\.0\.0\.1:$port/, 'with a clear message');
($rc, undef, $err) = micro('register', 'service', svc('a.b', '1', 'n', 1));
is($rc, 1, 'Redis down: register fails');

# a peer that takes the connection and never answers: the URL's
# command_timeout ends the command (the test's bound is far above it)
my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 8) or die "listen: $!";
my $t0 = MicroTest::now();
($rc, undef, $err) = micro('--registry', 'redis://127.0.0.1:'
    . $silent->sockport . '/0?command_timeout=300', 'list', 'services');
my $took = MicroTest::now() - $t0;
is($rc, 1, 'a Redis that never answers: list fails');
like($err, qr/^micro: list services: .*redis did not answer in time$/m,
     'saying it timed out');
cmp_ok($took, '<', $MicroTest::TIMEOUT, sprintf('instead of hanging '
       . '(%.1f s; command_timeout=300 ms)', $took));
close $silent;

$t->redis(port => $port);
($rc) = micro('register', 'service', svc('go.micro.srv.back', '1', 'n', 9400));
is($rc, 0, 'Redis back: register works');

$t->done;
done_testing();
