#!/usr/bin/perl
# The stats zone and micro_metrics: requests counted across two workers
# exactly, by service, endpoint, node and code, for micro_api and
# micro_web; the Prometheus text read by the official client's parser
# (python3-prometheus-client); bounded cardinality; a full zone; a reload.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use Test::More;
use MicroTest;

my $PY = '/usr/bin/python3';

my $t = MicroTest->new;
$t->redis;

my (undef, $greeter) = $t->service('greeter');
my (undef, $web_node) = $t->service('web', '--name', 'demo');

my $conf = <<'CONF';
%%MODULES%%
%%GLOBALS%%
worker_processes 2;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_stats_zone stats %%SIZE%%;

    server {
        listen 127.0.0.1:%%PORT_api%%;
        location / {
            micro_api;
            micro_api_namespace go.micro.srv;
        }
        location = /metrics {
            micro_metrics;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_web%%;
        location / {
            micro_web;
        }
    }
}
CONF

sub start {
    my ($size) = @_;
    (my $c = $conf) =~ s/%%SIZE%%/$size/;
    $t->nginx($c);
}

start('1m');
my $api = 'http://127.0.0.1:' . $t->port('api');
my $web = 'http://127.0.0.1:' . $t->port('web');

# [[name, {labels}, value], ...] as the Prometheus client parses them
sub scrape {
    my $r = $t->http(GET => "$api/metrics");
    my $file = $t->dir . '/metrics.txt';
    MicroTest::write_file($file, $r->{content});
    my $out = `$PY $FindBin::Bin/../peers/prom_parse.py < $file 2>&1`;
    my $samples = eval { decode_json($out) };
    return ($samples, $r, $out);
}

sub value {
    my ($samples, $name, %want) = @_;
    my $sum;
    for my $s (@$samples) {
        next unless $s->[0] eq $name;
        next if grep { ($s->[1]{$_} // "\0") ne $want{$_} } keys %want;
        $sum += $s->[2];
    }
    return $sum;
}

sub call_hello {
    my ($name) = @_;
    return $t->json_call(POST => "$api/greeter/say/hello",
        qq({"name":"$name"}), 'Content-Type' => 'application/json');
}

# the probes that reached a node are counted too: the counts start from
# how many of them did
my ($ok0, $web0) = (0, 0);
ok(MicroTest::wait_until(sub {
    my $hello = (call_hello('x'))[0] == 200;
    $ok0++ if $hello;
    my $info = $t->http(GET => "$web/demo/info")->{status} == 200;
    $web0++ if $info;
    $hello && $info;
}, 'routable'), 'greeter and the web app are routable');
my $bad0 = 0;
my %hello = (service => 'go.micro.srv.greeter', endpoint => 'Say.Hello',
             node => $greeter);
my %demo = (service => 'go.micro.web.demo', endpoint => '', node => $web_node);

# one client connection a request: both workers take some
call_hello('x') for 1 .. 40;
call_hello('') for 1 .. 7;
$t->http(GET => "$web/demo/info") for 1 .. 11;

# the log phase counts after the reply: wait until every one is in
my ($m, $r, $raw);
ok(MicroTest::wait_until(sub {
    ($m, $r, $raw) = scrape();
    (value($m, 'micro_requests_total', %hello, code => '200') // 0)
        >= $ok0 + 40
        && (value($m, 'micro_requests_total', %demo, code => '200') // 0)
           >= $web0 + 11;
}, 'counted'), 'the requests are counted') or diag($raw);
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'Prometheus\' text format');
ok(ref $m eq 'ARRAY', 'which the Prometheus client parses') or diag($raw);

is(value($m, 'micro_requests_total', %hello, code => '200'), $ok0 + 40,
   'exactly 40 more 200s of Say.Hello from its node, over two workers');
is(value($m, 'micro_requests_total', %hello, code => '400'), $bad0 + 7,
   'and 7 more 400s');
is(value($m, 'micro_requests_total', %demo, code => '200'), $web0 + 11,
   'micro_web: 11 more for the web app\'s node');
is(value($m, 'micro_request_duration_seconds_count', %hello),
   $ok0 + $bad0 + 47, 'the histogram counts each call');
is(value($m, 'micro_request_duration_seconds_bucket', %hello, le => '+Inf'),
   $ok0 + $bad0 + 47, 'its +Inf bucket as many');
cmp_ok(value($m, 'micro_request_duration_seconds_bucket', %hello,
             le => '0.005'), '<=',
       value($m, 'micro_request_duration_seconds_bucket', %hello,
             le => '0.01'), 'buckets are cumulative');
is(value($m, 'micro_registry_connected'), 1, 'micro_registry_connected');
is(value($m, 'micro_registry_services'), 2, 'micro_registry_services');
is(value($m, 'micro_registry_nodes'), 2, 'micro_registry_nodes');

# --- bounded cardinality ------------------------------------------------------

my $series0 = value($m, 'micro_stats_series');
for my $i (1 .. 300) {
    $t->json_call(POST => "$api/greeter/no$i/such", '{}',
                  'Content-Type' => 'application/json');
    $t->http(GET => "$api/nosuch$i/x");
}
ok(MicroTest::wait_until(sub {
    ($m) = scrape();
    (value($m, 'micro_requests_total', service => 'go.micro.srv.greeter',
           endpoint => '') // 0) >= 300;
}, 'random paths counted'), '300 calls of endpoints that do not exist: '
   . 'counted under endpoint=""');
is(value($m, 'micro_stats_series'), $series0 + 1,
   'one series for all of them; none for 300 unknown services');
my %endpoints = map { $_->[1]{endpoint} => 1 }
                grep { $_->[0] eq 'micro_requests_total' } @$m;
is_deeply([sort keys %endpoints], ['', 'Say.Hello'],
          'no endpoint label from a client\'s path');

# --- a reload keeps the counters ----------------------------------------------

my $before = value($m, 'micro_requests_total', %hello, code => '200');
kill 'HUP', $t->nginx_master;
ok(MicroTest::wait_until(sub {
    MicroTest::read_file($t->dir . '/error.log')
        =~ /gracefully shutting down/
}, 'reload'), 'reloaded');
call_hello('x');
ok(MicroTest::wait_until(sub {
    ($m) = scrape();
    (value($m, 'micro_requests_total', %hello, code => '200') // 0)
        == $before + 1;
}, 'after the reload'), 'the new workers count on from where the old '
   . 'ones were');

# --- a full zone ---------------------------------------------------------------

$t->nginx_stop;
$t->redis_cli('FLUSHALL');
start('32k');
my ($host, $wport) = split /:/, $web_node;
for my $i (1 .. 400) {
    $t->register_raw({ name => "go.micro.web.app$i", version => '1',
                       nodes => [{ id => "app$i-1", address => $web_node,
                                   metadata => {} }] });
}
ok(MicroTest::wait_until(sub {
    $t->http(GET => "$web/app400/info")->{status} == 200
}, 'the apps'), '400 web apps routable');
my $failed = 0;
for my $i (1 .. 400) {
    $failed++ unless $t->http(GET => "$web/app$i/info")->{status} == 200;
}
is($failed, 0, '400 label sets into a 32 kB zone: no request failed');
ok(MicroTest::wait_until(sub {
    ($m) = scrape();
    value($m, 'micro_stats_zone_full') == 1;
}, 'full'), 'micro_stats_zone_full says so');
my $series = value($m, 'micro_stats_series');
cmp_ok($series, '<', 400, "the zone holds $series of them");
my $log = MicroTest::read_file($t->dir . '/error.log');
my @full = $log =~ /stats zone is full/g;
is(scalar @full, 1, 'said once in the error log');
$t->http(GET => "$web/app1/info");
ok(MicroTest::wait_until(sub {
    ($m) = scrape();
    (value($m, 'micro_requests_total', service => 'go.micro.web.app1') // 0)
        == 2;
}, 'app1 again'), 'a series it holds goes on counting');

# --- configuration ------------------------------------------------------------

$t->nginx_stop;
my ($ok, $msg) = $t->nginx_test(<<'CONF', 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    micro_registry %%REDIS%%;
    server {
        location /m { micro_metrics; }
    }
}
CONF
ok(!$ok && $msg =~ /"micro_metrics" directive needs "micro_stats_zone" in the http block before it in .*bad\.conf:\d+/,
   'micro_metrics without a zone: nginx -t says so') or diag($msg);
($ok, $msg) = $t->nginx_test(<<'CONF', 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    micro_registry %%REDIS%%;
    micro_stats_zone stats 1k;
}
CONF
ok(!$ok && $msg =~ /invalid zone size "1k"/, 'a zone too small: nginx -t '
   . 'says so') or diag($msg);

$t->done;
done_testing();
