#!/usr/bin/perl
# micro_api handler=event: go-micro's event handler. POST /TOPIC/EVENT
# publishes a go.api.Event to go.micro.evt.TOPIC in the broker's format
# and answers once Redis has it; examples/audit (a libmicro subscriber)
# keeps what the gateway publishes, also while it was away; the statuses
# (405, 400, 413; 503 with Redis down or silent, and 200 once it is back).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Path qw(make_path);
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;
my $store = $t->dir . '/store';
make_path($store);
my ($audit) = $t->service('audit', '--store', $store);

$t->nginx(<<'CONF');
%%MODULES%%
%%GLOBALS%%
worker_processes 2;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;

    server {
        listen 127.0.0.1:%%PORT_events%%;
        location / {
            micro_api handler=event;
            micro_read_timeout 1s;
            client_max_body_size 4k;
        }
        location /events/ {
            micro_api handler=event;
        }
        location /shop/ {
            micro_api handler=event;
            micro_api_namespace shop.evt;
        }
    }
}
CONF
my $base = 'http://127.0.0.1:' . $t->port('events');

sub post {
    my ($path, $body, %h) = @_;
    my ($status, $json, $r) = $t->json_call(POST => "$base$path", $body,
        'Content-Type' => 'application/json', %h);
    return ($status, $json || {}, $r);
}

my ($status, $json, $r);
ok(MicroTest::wait_until(sub { (post('/customer/login', '{}'))[0] == 200 },
   'first load'), 'the gateway publishes');

($status, $json) = post('/customer/login', '{"customerId":"c1"}',
                        'X-Trace' => 'abc');
is($status, 200, 'POST /customer/login: 200');
like($json->{id}, qr/^go\.micro\.evt\.customer-login-[0-9a-f-]{36}$/,
     'with the event\'s id (topic-event-uuid, as go-micro)');
my $id = $json->{id} // '';
ok(MicroTest::wait_until(sub { -e "$store/$id" }, 'kept'),
   'a libmicro subscriber gets it');
my ($line) = MicroTest::read_file("$store/$id");
like($line, qr/^\Q$id\E\tlogin\t\d+\t\{"customerId":"c1"\}$/,
     'as a go.api.Event: name, timestamp and the body as data');

my $entry = $t->redis_cli('XREVRANGE', 'micro:topic:go.micro.evt.customer',
                          '+', '-', 'COUNT', 1);
like($entry, qr/"Micro-Id":"\Q$id\E"/, 'the entry\'s header has its '
     . 'Micro-Id');
like($entry, qr{"Content-Type":"application/protobuf"},
     'and says the body is protobuf');
like($entry, qr/X-Trace.*abc/s, 'the request\'s headers are in the event');

($status, $json) = post('/v1/customer/login', '{}');
is($status, 200, 'a version in the path');
like($json->{id}, qr/^go\.micro\.evt\.v1\.customer-customer\.login-/,
     'belongs to the topic (go.micro.evt.v1.customer, customer.login)');

($status, $json) = post('/events/customer/login', '{}');
like($json->{id}, qr/^go\.micro\.evt\.customer-login-/,
     'in a prefix location, the path below it names topic and event');
($status, $json) = post('/shop/cart/add', '{}');
like($json->{id}, qr/^shop\.evt\.cart-add-/,
     'micro_api_namespace names the topic\'s namespace');

# --- what is refused --------------------------------------------------------

$r = $t->http(GET => "$base/customer/login");
is($r->{status}, 405, 'GET: 405');
($status, $json) = post('/customer', '{}');
is($status, 400, 'no event name: 400');
like($json->{detail}, qr{POST /TOPIC/EVENT}, 'saying what is expected');
($status) = post('/bad%20topic/login', '{}');
is($status, 400, 'a topic that is not a name: 400');
($status, $json) = post('/customer/login', 'x' x 5000);
is($status, 413, 'a body over client_max_body_size: 413');
is($json->{code}, 413, 'as go-micro\'s JSON');

# --- the audit trail through the gateway, the subscriber away -------------

$t->stop($audit, 'KILL');
my @ids;
for my $i (1 .. 20) {
    ($status, $json) = post('/customer/order', qq({"order":$i}));
    push @ids, $json->{id} if $status == 200;
}
is(scalar @ids, 20, '20 events published while the audit service is down');
($audit) = $t->service('audit', '--store', $store);
ok(MicroTest::wait_until(sub { !grep { !-e "$store/$_" } @ids }, 'kept'),
   'all kept once it is back');

# --- Redis silent, down, and back ---------------------------------------------

kill 'STOP', $t->{redis_pid};
($status, $json) = post('/customer/login', '{}');
is($status, 503, 'Redis silent past micro_read_timeout: 503');
like($json->{detail}, qr/may not have been stored.*in time/,
     'saying the event may not have been stored');
kill 'CONT', $t->{redis_pid};

$t->redis_stop;
($status, $json) = post('/customer/login', '{}');
is($status, 503, 'Redis down: 503');
like($json->{detail}, qr/not stored|may not have been stored/,
     'saying so');
$t->redis;
ok(MicroTest::wait_until(sub { (post('/customer/login', '{}'))[0] == 200 },
   'back'), 'Redis back: 200 again');

$t->done;
done_testing();
