#!/usr/bin/perl
# micro_web_dashboard over HTTP: its pages and their JSON forms, the
# security headers, the live event stream fed by the worker's watch, and
# a reload with streams open. t/web/browser.t drives it in chromium.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;

my (undef, $g1) = $t->service('greeter');
$t->service('web', '--name', 'demo');

$t->nginx(<<'CONF');
%%MODULES%%
%%GLOBALS%%
worker_processes 2;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_stats_zone stats 1m;

    server {
        listen 127.0.0.1:%%PORT_web%%;

        location /dashboard/ {
            micro_web_dashboard rpc=/rpc;
        }
        location = /rpc {
            micro_rpc go.micro.srv;
        }
        location / {
            micro_web;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_plain%%;
        location /d/ {
            micro_web_dashboard apps=/apps/;
        }
    }
}
CONF

my $port = $t->port('web');
my $base = "http://127.0.0.1:$port/dashboard/";

sub json_get {
    my ($url) = @_;
    my $r = $t->http(GET => $url, headers => { Accept => 'application/json' });
    return ($r, eval { decode_json($r->{content}) });
}

ok(MicroTest::wait_until(sub {
    my (undef, $j) = json_get("${base}registry");
    $j && grep { $_->{name} eq 'go.micro.web.demo' } @{ $j->{services} };
}, 'registry'), 'the dashboard follows the registry');

# --- pages and their JSON ----------------------------------------------------

my $r = $t->http(GET => $base);
is($r->{status}, 200, 'the index page');
like($r->{headers}{'content-type'}, qr{^text/html}, 'as HTML');
my $csp = $r->{headers}{'content-security-policy'} // '';
like($csp, qr/script-src 'self'/, 'a Content-Security-Policy: scripts from '
     . 'the dashboard only');
unlike($csp, qr/unsafe-inline/, 'no inline scripts');
is($r->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
like($r->{content}, qr{<script src="/dashboard/assets/app\.js" defer>},
     'the page loads its script from the module');
unlike($r->{content}, qr/<script>/, 'and has none inline');

my ($jr, $j) = json_get($base);
is_deeply($j, { apps => [{ name => 'demo', service => 'go.micro.web.demo' }] },
          'Accept: application/json: the web apps');

($jr, $j) = json_get("${base}registry");
my ($greeter) = grep { $_->{name} eq 'go.micro.srv.greeter' }
                @{ $j->{services} };
is($greeter->{nodes}[0]{address}, $g1, 'the registry: nodes');
is($greeter->{endpoints}[0]{name}, 'Say.Hello', 'endpoints');
is($greeter->{endpoints}[0]{request}{values}[0]{name}, 'name',
   'and their request fields');

my (undef, $g2) = $t->service('greeter');
ok(MicroTest::wait_until(sub {
    (undef, $j) = json_get("${base}registry?service=go.micro.srv.greeter");
    $j && @{ $j->{services} } == 1
        && @{ $j->{services}[0]{nodes} || [] } == 2;
}, 'two nodes'), '?service=: that service, two nodes of one version as one '
   . 'entry');
is(scalar @{ $j->{services} }, 1, 'and no other service');

($jr, $j) = json_get("${base}stats");
is($j->{enabled}, JSON::PP::true, 'stats: the zone as JSON');
is(scalar @{ $j->{bounds} }, 11, 'with the histogram\'s bounds');

$r = $t->http(GET => "${base}assets/app.js");
like($r->{headers}{'content-type'}, qr{^text/javascript}, 'the script');
like($r->{content}, qr/textContent/, 'is the dashboard\'s');
$r = $t->http(GET => "${base}assets/app.css");
like($r->{headers}{'content-type'}, qr{^text/css}, 'the style');
is($t->http(GET => "${base}assets/index.html")->{status}, 404,
   'the shell is not served raw');
is($t->http(GET => "${base}nope")->{status}, 404, 'an unknown page: 404');
is($t->http(POST => "${base}registry")->{status}, 405, 'POST: 405');

$r = $t->http(GET => 'http://127.0.0.1:' . $t->port('plain') . '/d/call');
like($r->{content}, qr{data-rpc=""}, 'without rpc=, the call form has none');
like($r->{content}, qr{data-apps="/apps/"}, 'apps= names where apps are');

# --- registry strings stay data ----------------------------------------------

my $evil = '<script>window.pwned=1</script><img src=x onerror=alert(1)>';
$t->register_raw({ name => 'go.micro.srv.evil', version => '1',
                   metadata => { note => $evil },
                   nodes => [{ id => 'evil-1', address => '127.0.0.1:1',
                               metadata => { note => $evil } }] });
ok(MicroTest::wait_until(sub {
    (undef, $j) = json_get("${base}registry?service=go.micro.srv.evil");
    $j && @{ $j->{services} };
}, 'evil'), 'a service whose metadata holds markup');
is($j->{services}[0]{nodes}[0]{metadata}{note}, $evil,
   'is data in the JSON');
$r = $t->http(GET => "${base}registry");
unlike($r->{content}, qr/pwned|onerror/, 'and never in the page\'s HTML');

# --- live: server-sent events from the worker's watch ---------------------------

sub events {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 30) or die "connect: $!";
    print $s "GET /dashboard/events HTTP/1.1\r\nHost: x\r\n\r\n";
    return $s;
}

sub read_until {
    my ($s, $buf, $re) = @_;
    return MicroTest::wait_until(sub {
        sysread($s, $$buf, 4096, length $$buf)
            if IO::Select->new($s)->can_read(0.5);
        $$buf =~ $re;
    }, "$re");
}

my $es = events();
my $got = '';
ok(read_until($es, \$got, qr/following the registry/),
   'the event stream opens');
like($got, qr{^HTTP/1\.1 200 .*Content-Type: text/event-stream}s,
     'as text/event-stream');
$got = '';
$t->register_raw({ name => 'go.micro.srv.late', version => '1',
                   nodes => [{ id => 'late-1', address => '127.0.0.1:2',
                               metadata => {} }] });
ok(read_until($es, \$got, qr/event: registry\ndata: changed\n\n/),
   'a service registering: a "registry" event');

# a reload with streams open: the old workers still exit
my $log = $t->dir . '/error.log';
my @before = MicroTest::read_file($log) =~ /worker process (\d+)\n/g;
kill 'HUP', $t->nginx_master;
ok(MicroTest::wait_until(sub {
    my $l = MicroTest::read_file($log);
    !grep { $l !~ /\b$_#$_: exit\n/ } @before;
}, 'old workers gone'), 'a reload with an event stream open: the old '
   . 'workers exit');
close $es;

$es = events();
$got = '';
ok(read_until($es, \$got, qr/following the registry/),
   'a new stream from the new workers');
close $es;

$t->done;
done_testing();
