#!/usr/bin/perl
# The registry inside NGINX workers (conf.example/registry.conf): services
# registered while NGINX runs appear, deregistered and expired ones go,
# Redis down keeps the last snapshot, Redis back is followed again, reload
# keeps working, malformed entries are skipped, and nginx -t names bad
# configuration.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
my $redis = $t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;

$t->micro('register', 'service', svc('go.micro.api.before', 'b-1', 9001));
$t->nginx($t->example_conf('registry.conf'));
my $port = $t->port('8080');

sub svc {
    my ($name, $id, $port) = @_;
    return encode_json({ name => $name, version => '1',
        nodes => [{ id => $id, address => "127.0.0.1:$port" }] });
}

sub status {
    my $r = $t->http(GET => "http://127.0.0.1:$port/registry");
    return $r->{status} == 200 ? decode_json($r->{content}) : {};
}

# Both workers of registry.conf must see it: each follows the registry.
sub eventually {
    my ($cond, $what) = @_;
    return $t->every_worker("http://127.0.0.1:$port/registry", 2, $cond,
                            $what);
}

sub nodes_of {
    my ($st, $name) = @_;
    return [sort map { $_->{nodes}[0]{id} } @{ $st->{services}{$name} || [] }];
}

ok(eventually(sub { @{ nodes_of($_[0], 'go.micro.api.before') } == 1 },
    'initial load'), 'a service registered before start is loaded');
is(status()->{registry}{connected}, JSON::PP::true, 'connected to redis');

$t->micro('register', 'service', svc('go.micro.api.new', 'n-1', 9002));
ok(eventually(sub { nodes_of($_[0], 'go.micro.api.new')->[0] }, 'create'),
    'a service registered while NGINX runs appears');
$t->micro('register', 'service', svc('go.micro.api.new', 'n-2', 9003));
ok(eventually(sub { @{ nodes_of($_[0], 'go.micro.api.new') } == 2 },
    'second node'), 'and its second node');

$t->micro('deregister', 'service', svc('go.micro.api.new', 'n-1', 9002));
ok(eventually(sub { "@{ nodes_of($_[0], 'go.micro.api.new') }" eq 'n-2' },
    'delete'), 'a deregistered node goes');

# seen first (the TTL is long enough to see it under valgrind), then gone
my ($rc, undef, $err) = $t->micro('register', 'service',
    svc('go.micro.api.brief', 'x-1', 9004), '--ttl', '4s');
is($rc, 0, 'a node registered with a TTL of 4 s') or diag($err);
ok(MicroTest::wait_until(sub {
    nodes_of(status(), 'go.micro.api.brief')->[0] }, 'brief node'),
    'is followed while it lives');
ok(eventually(sub { !$_[0]{services}{'go.micro.api.brief'} }, 'expiry'),
    'and goes when it expires (the reaper turns expiry into a delete)');

# another program's malformed entries are skipped with a warning
sub redis_cli { system("redis-cli -p $redis @_ >/dev/null") == 0 or die }
redis_cli(q|HSET micro:registry:svc:go.micro.api.bad bad '{not json'|);
redis_cli(q{EVAL "redis.call('ZADD', KEYS[1], '+inf', 'go.micro.api.bad bad')"}
    . q{ 1 micro:registry:expiry});
redis_cli(q{SADD micro:registry:services go.micro.api.bad});
$t->micro('register', 'service', svc('go.micro.api.bad', 'good', 9005));
ok(eventually(sub { "@{ nodes_of($_[0], 'go.micro.api.bad') }" eq 'good' },
    'good node'), 'only the valid entry is used');

# a node that expires while Redis is down (its 3 s are long over when
# Redis is back: the reconnects below take 16 s)
$t->micro('register', 'service', svc('go.micro.api.short', 's-1', 9008),
          '--ttl', '3s');
ok(eventually(sub { nodes_of($_[0], 'go.micro.api.short')->[0] }, 'short'),
    'a node with a TTL of 3 s');

# Redis down: the last snapshot stays
$t->redis_stop;
ok(eventually(sub { !$_[0]{registry}{connected} }, 'disconnect'),
    'redis killed: the workers notice');
is_deeply(nodes_of(status(), 'go.micro.api.new'), ['n-2'],
    'and keep serving the last snapshot');
# it tries again and again, 100 ms after the loss doubling to 5 s, and
# says so once: one warning per worker however many tries fail
my $log = $t->dir . '/error.log';
my %tries;
ok(MicroTest::wait_until(sub {
    %tries = ();
    for (split /\n/, MicroTest::read_file($log)) {
        push @{ $tries{$1} }, $2 if /\[debug\] (\d+)#.*micro: registry: next connect in (\d+) ms/;
    }
    (grep { "@$_" =~ /5000 5000$/ } values %tries) == 2 }, 'backoff at 5 s'),
    'redis down: both workers reconnect with backoff up to 5 s');
is_deeply([ map { [ grep { $_ } (split ' ', "@$_")[0 .. 7] ] } values %tries ],
    [ ([100, 200, 400, 800, 1600, 3200, 5000, 5000]) x 2 ],
    'doubling from 100 ms')
    or diag(explain(\%tries));
my @warned = MicroTest::read_file($log)
    =~ /\[warn\] \d+#.*micro: registry at 127\.0\.0\.1:$redis: .*serving the last snapshot/g;
is(scalar @warned, 2, 'and one warning a worker, after 8 failed tries');

# Redis back (empty, as after a restart): followed again, and stale
# beats empty: the nodes it lost stay until their own expiry would have
# passed (n-2 has none: 30 s), the expired one goes
$t->redis(port => $redis);
$t->micro('register', 'service', svc('go.micro.api.after', 'a-1', 9006));
ok(eventually(sub { $_[0]{registry}{connected}
                    && nodes_of($_[0], 'go.micro.api.after')->[0]
                    && !$_[0]{services}{'go.micro.api.short'} }, 'resync'),
    'redis back: new registrations seen, the expired node gone');
is_deeply(nodes_of(status(), 'go.micro.api.new'), ['n-2'],
    'a node Redis lost is kept (not a 404 until it registers again)');
my @kept = MicroTest::read_file($log) =~ /\[warn\] \d+#.*micro: registry at 127\.0\.0\.1:$redis: (\d+) nodes are gone from it before their expiry; kept until it passes/g;
is_deeply(\@kept, [3, 3], 'each worker says how many it kept')
    or diag(explain(\@kept));

# reload keeps it all
my $pid = MicroTest::read_file($t->dir . '/nginx.pid');
chomp $pid;
kill 'HUP', $pid;
$t->micro('register', 'service', svc('go.micro.api.reloaded', 'r-1', 9007));
ok(eventually(sub { nodes_of($_[0], 'go.micro.api.reloaded')->[0]
                    && nodes_of($_[0], 'go.micro.api.after')->[0] },
    'after reload'), 'after nginx -s reload the new workers follow too');

$t->nginx_stop;
unlike(MicroTest::read_file($t->dir . '/error.log'), qr/open socket/,
    'no socket left open at exit');

# binary upgrade (USR2, then WINCH and QUIT to the old master): the new
# binary's workers follow the registry. nginx upgrades only as a daemon,
# so this one runs daemonized, and the test stops it itself.
{
    my $d = $t->dir . '/upgrade';
    mkdir $d;
    chmod 0755, $d;
    my $conf = $t->expand(<<"CONF");
%%MODULES%%
pid $d/nginx.pid;
error_log $d/error.log notice;
worker_processes 2;
events { worker_connections 1024; }
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    server {
        listen 127.0.0.1:%%PORT_upgrade%%;
        location = /registry { micro_registry_status; }
    }
}
CONF
    MicroTest::write_file("$d/nginx.conf", $conf);
    my $up = $t->port('upgrade');
    # under valgrind, the new binary too (exec followed)
    system($t->valgrind_prefix('nginx-upgrade', trace_children => 1),
        $MicroTest::NGINX, '-p', "$d/", '-c', "$d/nginx.conf",
        '-e', "$d/error.log") == 0 or die "nginx did not start";
    # the pid file is rewritten during the upgrade: read only whole pids
    my $pid_in = sub { (MicroTest::read_file("$d/nginx.pid") =~ /^(\d+)\n/)[0] };
    my $old = MicroTest::wait_until($pid_in, 'pid') or die 'no pid file';
    kill 'USR2', $old;
    my $new;
    ok(MicroTest::wait_until(sub { -s "$d/nginx.pid.oldbin"
        && ($new = $pid_in->()) && $new != $old }, 'new binary'),
        'USR2 starts the new binary');
    die 'no new master' unless $new && $new != $old;
    kill 'WINCH', $old;
    kill 'QUIT', $old;
    ok(MicroTest::wait_until(sub { !kill 0, $old }, 'old master gone'),
        'the old master exits');
    $t->micro('register', 'service', svc('go.micro.api.upgraded', 'u-1', 9010));
    ok(MicroTest::wait_until(sub {
        my $r = $t->http(GET => "http://127.0.0.1:$up/registry");
        $r->{status} == 200 && $r->{content} =~ /go\.micro\.api\.upgraded/ },
        'upgraded'), "the new binary's workers follow the registry");
    kill 'QUIT', $new;
    ok(MicroTest::wait_until(sub { !kill 0, $new }, 'new master gone'),
        'and it stops');
    unlike(MicroTest::read_file("$d/error.log"),
        qr/\[(alert|emerg)\]|open socket|exited on signal/,
        'no alerts across the upgrade');
}

# a registry that takes the connection and never answers: the URL's
# timeouts end the wait (a warning, then tries again with backoff),
# where the worker used to wait on it for good
{
    my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Listen => 64) or die "listen: $!";
    my $url = 'redis://127.0.0.1:' . $silent->sockport
        . '/0?connect_timeout=200&command_timeout=300';
    my $log = $t->dir . '/error.log';
    my $from = length MicroTest::read_file($log);   # this nginx's lines
    my $new = sub { substr(MicroTest::read_file($log), $from) };
    $t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    micro_registry $url;
    server {
        listen 127.0.0.1:%%PORT_silent%%;
        location = /registry { micro_registry_status; }
    }
}
CONF
    ok(MicroTest::wait_until(sub { my @tries = $new->()
        =~ /next connect in \d+ ms/g; @tries >= 3 }, 'retries'),
        'a silent registry: the worker gives up on it and tries again');
    like($new->(),
         qr/\[warn\].*micro: registry at 127\.0\.0\.1:\d+: redis did not answer in time/,
         'saying why');
    $t->nginx_stop;
    close $silent;
}

# 16 versions are as many as micro_selector_weights takes
my ($sixteen_ok, $sixteen_out) = $t->nginx_test(<<"CONF", 'weights.conf');
%%MODULES%%
%%GLOBALS%%
http {
    micro_selector_weights @{[ join ' ', map { "$_=1" } 1 .. 16 ]};
}
CONF
ok($sixteen_ok, 'micro_selector_weights takes 16 versions')
    or diag($sixteen_out);

# nginx -t names what is wrong and where
for my $case (
    [ 'micro_registry http://x;', qr/invalid registry "http:\/\/x": registry URL "http:\/\/x" is not redis/ ],
    [ 'micro_registry redis://redis.local:6379/0;', qr/must be an IP address/ ],
    [ "micro_registry redis://127.0.0.1/0;\n    micro_registry redis://127.0.0.1/1;", qr/"micro_registry" directive is duplicate/ ],
    [ 'server { location / { micro_registry_status; } }', qr/needs "micro_registry" in the http block/ ],
    [ 'server { location / { micro_api; } }', qr/needs "micro_registry" in the http block/ ],
    [ 'micro_api_filter version;', qr/invalid filter "version": expected key=value/ ],
    [ 'micro_selector fastest;', qr/invalid value "fastest"/ ],
    [ 'micro_api_resolver dns;', qr/invalid value "dns"/ ],
    [ 'micro_selector_weights 1=90 2=ten;', qr/invalid weight "2=ten": expected version=weight/ ],
    [ 'micro_selector_weights 1=90 1=10;', qr/duplicate version "1" in "1=10"/ ],
    [ 'micro_api_filter zone=eu zone=us;', qr/duplicate key "zone" in "zone=us"/ ],
    [ 'micro_api_label_header "bad header";', qr/invalid header name "bad header"/ ],
    [ 'micro_api_label_header X-Label:;', qr/invalid header name "X-Label:"/ ],
    [ 'micro_registry redis://127.0.0.1:99999/0;', qr/the port must be a number from 1 to 65535/ ],
    [ 'micro_selector_weights ' . join(' ', map { "$_=1" } 1 .. 17) . ';',
      qr/"micro_selector_weights" directive takes 16 versions at most/ ],
    [ 'server { location / { micro_rpc; } }', qr/needs "micro_registry" in the http block/ ],
    [ "micro_registry redis://127.0.0.1/0;\n    server { location / { micro_rpc go/srv; } }", qr/invalid namespace "go\/srv"/ ],
) {
    my ($ok, $out) = $t->nginx_test(<<"CONF", 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    $case->[0]
}
CONF
    (my $name = $case->[0]) =~ s/\s+/ /g;
    ok(!$ok, "nginx -t rejects: $name");
    like($out, qr/$case->[1].* in \S+bad\.conf:\d+/, 'and says why and where');
}

$t->done;
done_testing();
