#!/usr/bin/perl
# The dashboard in a real browser: Debian's chromium, headless, driven by
# chromium-driver (t/lib/WebDriver.pm). The web apps and one of them with
# its WebSocket, the registry with its search, markup in the registry
# staying text, live updates from the worker's watch, the call form, the
# stats. Screenshots are kept in build/screenshots/.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Path qw(make_path);
use JSON::PP;
use Test::More;
use MicroTest;
use WebDriver;

my $shots = "$MicroTest::BUILD/screenshots";
make_path($shots);

my $t = MicroTest->new;
$t->redis;
$t->service('greeter');
$t->service('web', '--name', 'demo');

my $evil = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
$t->register_raw({ name => 'go.micro.srv.evil', version => '1',
                   metadata => { note => $evil },
                   nodes => [{ id => 'evil-1', address => '127.0.0.1:1',
                               metadata => { note => $evil } }] });

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
            proxy_read_timeout 1h;
        }
    }
    server {
        listen 127.0.0.1:%%PORT_nocall%%;
        location /dashboard/ {
            micro_web_dashboard;
        }
    }
}
CONF

my $site = 'http://127.0.0.1:' . $t->port('web');
my $dash = "$site/dashboard/";
ok(MicroTest::wait_until(sub {
    $t->http(GET => "$site/demo/info")->{status} == 200
}, 'routable'), 'the gateway is up');

my $b = WebDriver->new($t);

# --- the web apps, and one of them -------------------------------------------

$b->get($dash);
my $app = $b->find('#apps a');
is($b->text($app), 'demo', 'the index lists the web app');
$b->screenshot("$shots/index.png");
$b->click($app);
my $h1 = $b->find('h1');
is($b->text($h1), 'go.micro.web.demo', 'its link opens the app through '
   . 'micro_web');
$b->clear($b->find('#message'));
$b->type($b->find('#message'), 'hello from chromium');
$b->click($b->find('#echo button'));
my $echo = $b->find('#replies li');
is($b->text($echo), 'hello from chromium', 'the app\'s WebSocket echo, in '
   . 'the browser through micro_web');

# --- the registry ----------------------------------------------------------------

$b->get("${dash}registry");
$b->find('.service[data-name="go.micro.srv.greeter"]');
my @groups = map { $b->text($_) } $b->find_all('#services h2');
is_deeply(\@groups, ['go.micro.srv', 'go.micro.web'],
          'services grouped by namespace');
my ($endpoint) = $b->find_all('.service[data-name="go.micro.srv.greeter"] '
                              . '.endpoint');
like($b->text($endpoint), qr/Say\.Hello.*request.*name string/s,
     'an endpoint with its request fields');

my $card = $b->find('.service[data-name="go.micro.srv.evil"]');
like($b->text($card), qr/\Q$evil\E/,
     'markup in the registry is shown as text');
is($b->script('return window.pwned === undefined'), JSON::PP::true,
   'and never runs');
is(scalar $b->find_all('.service img'), 0, 'nor becomes an element');
$b->screenshot("$shots/registry.png");

$b->type($b->find('#search'), 'greet');
ok(MicroTest::wait_until(sub {
    my @names = $b->attrs('.service', 'data-name');
    "@names" eq 'go.micro.srv.greeter';
}, 'search'), 'the search box keeps the services that match');

# the page open (without a search) while a service registers, then goes
$b->get("${dash}registry");
$b->find('.service[data-name="go.micro.srv.greeter"]');

# registered and deregistered while the page is open
my $live = { name => 'go.micro.srv.live', version => '1',
             nodes => [{ id => 'live-1', address => '127.0.0.1:3',
                         metadata => {} }] };
$t->register_raw($live);
ok(MicroTest::wait_until(sub {
    scalar $b->find_all('.service[data-name="go.micro.srv.live"]')
}, 'live'), 'a service registering appears without a reload');
$t->redis_cli('HDEL', 'micro:registry:svc:go.micro.srv.live', 'live-1');
$t->redis_cli('PUBLISH', 'micro:registry:watch', JSON::PP->new->canonical
    ->encode({ action => 'delete', service => $live }));
ok(MicroTest::wait_until(sub {
    !$b->find_all('.service[data-name="go.micro.srv.live"]')
}, 'gone'), 'and goes when it deregisters');
is($b->text_of('#live'), 'live', 'the page says it follows');

# --- the call form ---------------------------------------------------------------

$b->get("${dash}call");
$b->find('#service option[value="go.micro.srv.greeter"]');
$b->script('const s = document.getElementById("service");'
           . 's.value = "go.micro.srv.greeter";'
           . 's.dispatchEvent(new Event("change"));');
my $request = $b->find('#request');
is_deeply(decode_json($b->script('return document.getElementById('
                                 . '"request").value')),
          { name => '' }, 'the request pre-filled from its fields');
$b->clear($request);
$b->type($request, '{"name": "John"}');
$b->click($b->find('#send'));
is(decode_json($b->text_of('#reply'))->{msg}, 'Hello John', 'sent, the '
   . 'reply shown');
like($b->text_of('#status'), qr/^HTTP 200 in [\d.]+ ms$/,
     'with its status and time');
$b->clear($request);
$b->type($request, '{"name": 7}');
$b->click($b->find('#send'));
ok(MicroTest::wait_until(sub {
    $b->text_of('#status') =~ /^HTTP 400/
}, 'error'), 'an error with its status');
like($b->text_of('#reply'), qr/expected a string/, 'and go-micro\'s '
   . 'detail');
$b->screenshot("$shots/call.png");

$b->get('http://127.0.0.1:' . $t->port('nocall') . '/dashboard/call');
like($b->text_of('#not-allowed'), qr/Calls are not allowed here/,
     'without rpc=, the form says calls are not allowed');

# --- stats --------------------------------------------------------------------------

$b->get("${dash}stats");
my $row;
ok(MicroTest::wait_until(sub {
    ($row) = grep { /^go\.micro\.srv\.greeter Say\.Hello/ }
             $b->texts('#stats tr.row');
    $row;
}, 'stats row'), 'the stats list Say.Hello');
like($row, qr/^go\.micro\.srv\.greeter Say\.Hello 2 /,
     'with its two calls');
$b->screenshot("$shots/stats.png");
ok(-s "$shots/stats.png" > 1000, 'screenshots kept in build/screenshots');

$b->quit;
$t->done;
done_testing();
