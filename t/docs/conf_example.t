#!/usr/bin/perl
# conf.example/gateway.conf as written (only its module paths, ports, Redis
# URL, descriptor set and logs moved into the test dir) does what its
# comments say, with the example services: the seed's /customer/orders to
# go.micro.api.customer Customer.Orders, /rpc to an SRV service, the api
# handler, the SRV port, the proxy handler, micro web, CORS by NGINX's own
# directives.
# (registry.conf and resolve.conf are loaded as written by core/registry.t
# and api/resolve.t.)

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

$t->service('greeter');
my (undef, $c_addr) = $t->service('customer');
$t->service('example');
$t->service('web', '--name', 'demo');
$t->python_node('httpsvc.py', 'go.micro.api.shop', 'shop-a', 'a');

$t->nginx($t->example_conf('gateway.conf'));
my $api = 'http://127.0.0.1:' . $t->port('8080');
my $srv = 'http://127.0.0.1:' . $t->port('8081');
my $web = 'http://127.0.0.1:' . $t->port('8082');

sub call {
    my ($method, $url, $body, %h) = @_;
    return $t->json_call($method, $url, $body,
                         'Content-Type' => 'application/json', %h);
}

ok(MicroTest::wait_until(sub {
    my (undef, $st) = call(GET => "$api/registry");
    my %s = %{ $st->{services} || {} };
    $s{'go.micro.api.customer'} && $s{'go.micro.srv.greeter'}
        && $s{'go.micro.api.example'} && $s{'go.micro.api.shop'}
        && $s{'go.micro.web.demo'} },
    'the example services'), 'the gateway follows the example services');

# the seed's example: /customer/orders -> go.micro.api.customer
my ($code, $j) = call(GET => "$api/customer/orders?customerId=c42&limit=1");
is($code, 200, 'GET /customer/orders: 200');
is("$j->{orders}[0]{items}[0]{sku} $j->{orders}[0]{id}",
   'sku-c42-0 9007199254740993', 'the customer service answered, as JSON');
# the access log line is written after the reply: wait for it
ok(MicroTest::wait_until(sub { MicroTest::read_file($t->dir . '/access.log')
    =~ m{"GET /customer/orders\?\S+ HTTP/1\.1" 200 .*service=go\.micro\.api\.customer endpoint=Customer\.Orders node=\Q$c_addr\E} },
    'access log'), 'resolved to go.micro.api.customer, endpoint Customer.Orders');

($code, $j) = call(POST => "$api/rpc", encode_json({
    service => 'go.micro.srv.greeter', endpoint => 'Say.Hello',
    request => { name => 'John' } }));
is("$code $j->{msg}", '200 Hello John', '/rpc reaches an SRV service');

($code, $j) = call(POST => "$api/events/customer/login",
                   '{"customerId":"c42"}');
like("$code $j->{id}", qr/^200 go\.micro\.evt\.customer-login-/,
     '/events/customer/login publishes to go.micro.evt.customer');
like($t->redis_cli('XRANGE', 'micro:topic:go.micro.evt.customer', '-', '+'),
     qr/\Q$j->{id}\E/, 'and Redis has it');

($code, $j) = call(GET => "$api/example/call?name=John");
is("$code $j->{message}", '200 got your request John',
   '/example/call through the api handler');

($code, $j) = call(POST => "$srv/greeter/say/hello", '{"name":"Jane"}');
is("$code $j->{msg}", '200 Hello Jane', 'the SRV port: /greeter/say/hello');

($code, $j) = call(GET => "$web/shop/items/7");
is("$code $j->{path}", '200 /shop/items/7',
   'the proxy handler: the whole path to the shop');

my $webs = 'http://127.0.0.1:' . $t->port('8083');
($code, $j) = call(GET => "$webs/demo/info");
is("$code $j->{service} $j->{path} $j->{base_path}",
   '200 go.micro.web.demo /info /demo',
   'micro web: /demo/info to go.micro.web.demo as /info');

my $metrics = $t->http(GET => "$api/metrics")->{content};
like($metrics, qr/^micro_requests_total\{service="go\.micro\.web\.demo",endpoint="",node="[^"]+",code="200"\} 1$/m,
     '/metrics counts it');

($code, $j) = call(GET => "$api/nobody/here");
is($code, 404, 'an unknown service: 404');
is($j->{detail}, 'service not found: go.micro.api.nobody',
   'naming the service it resolved to');

# CORS with NGINX's own directives: preflights answered by the gateway,
# the headers on every reply, errors included
my $r = $t->http(OPTIONS => "$api/customer/orders",
    headers => { Origin => 'https://app.example',
                 'Access-Control-Request-Method' => 'POST' });
is($r->{status}, 204, 'CORS preflight answered: 204');
is($r->{headers}{'access-control-allow-origin'}, 'https://app.example',
    'preflight: the origin allowed');
like($r->{headers}{'access-control-allow-methods'}, qr/POST/,
    'preflight: the methods');
like($r->{headers}{'access-control-allow-headers'}, qr/Micro-Id/,
    'preflight: the headers');
(undef, undef, $r) = call(GET => "$api/customer/orders?customerId=o", undef,
    Origin => 'https://app.example');
is($r->{headers}{'access-control-allow-origin'}, 'https://app.example',
    'replies carry Access-Control-Allow-Origin');
is($r->{headers}{'access-control-expose-headers'}, 'Micro-Id',
    'and expose Micro-Id');
($code, undef, $r) = call(POST => "$api/nobody/here", '{}',
    Origin => 'https://app.example');
is("$code $r->{headers}{'access-control-allow-origin'}",
    '404 https://app.example', 'errors too');

$t->done;
done_testing();
