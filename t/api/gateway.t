#!/usr/bin/perl
# The gateway end to end: real nginx, redis and libmicro services. Resolution to calls, JSON <-> protobuf with descriptor
# sets and passthrough without, GET queries, every error status, services
# coming and going while NGINX runs, $micro_node in the log.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;

my ($g_pid, $g_addr) = $t->service('greeter');
$t->service('customer');
my ($s_pid, $s_addr) = $t->service('testsrv');

# The gateway as this file needs it: the SRV services on 8080, with the
# labels header, round robin and a retry after a 503; the API namespace
# under /customer/; a short micro_read_timeout for Test.Sleep only (60 s
# elsewhere: valgrind is slow); a 1k body limit; the same on 8081 without
# labels; and a server whose locations filter and weigh versions.
$t->nginx(<<'CONF');
%%MODULES%%
%%GLOBALS%%
worker_processes 2;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto %%PROTO%%;
    log_format micro '$remote_addr "$request" $status $request_time '
                     'service=$micro_service endpoint=$micro_endpoint '
                     'node=$micro_node upstream=$upstream_status '
                     'id=$micro_id pid=$pid';

    server {
        listen 127.0.0.1:%%PORT_8080%%;
        access_log %%TESTDIR%%/access.log micro;
        client_max_body_size 1k;
        micro_read_timeout 60s;

        location / {
            micro_api;
            micro_api_namespace go.micro.srv;
            micro_api_label_header X-Micro-Label;
            micro_selector round_robin;
            micro_next_upstream error timeout http_503;
            micro_next_upstream_tries 3;
        }
        # /customer/orders -> go.micro.api.customer Customer.Orders
        location /customer/ {
            micro_api;
        }
        location /test/test/sleep {
            micro_api;
            micro_api_namespace go.micro.srv;
            micro_read_timeout 1s;
        }
        location = /registry {
            micro_registry_status;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_8081%%;
        access_log %%TESTDIR%%/access.log micro;
        micro_read_timeout 60s;
        client_max_body_size 8m;

        location / {
            micro_api;
            micro_api_namespace go.micro.srv;
        }
        location /customer/ {
            micro_api;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_v2%%;
        micro_api_namespace go.micro.srv;

        location / {
            micro_api;
            micro_api_filter version=2;
        }
        location /none/ {
            rewrite ^/none(/.*)$ $1 break;
            micro_api;
            micro_api_filter version=2 zone=mars;
        }
        location /w/ {
            rewrite ^/w(/.*)$ $1 break;
            micro_api;
            micro_selector_weights 1=90 2=10;
        }
        location /gone/ {
            rewrite ^/gone(/.*)$ $1 break;
            micro_api;
            micro_selector_weights 7=100;
        }
    }
}
CONF
my $gw = 'http://127.0.0.1:' . $t->port('8080');
my $pass = 'http://127.0.0.1:' . $t->port('8081');

sub call {
    my ($method, $url, $body, %h) = @_;
    return $t->json_call($method, $url, $body,
                         'Content-Type' => 'application/json', %h);
}

ok(MicroTest::wait_until(sub {
    my (undef, $st) = call(GET => "$gw/registry");
    $st && $st->{services}{'go.micro.srv.greeter'}
        && $st->{services}{'go.micro.srv.test'} }, 'gateway sees services'),
    'the gateway has loaded the services');

# --- calls, with descriptors: JSON -> protobuf -> JSON -----------------------

my ($code, $j, $r) = call(POST => "$gw/greeter/say/hello", '{"name":"John"}');
is($code, 200, 'POST /greeter/say/hello: 200');
is_deeply($j, { msg => 'Hello John' }, 'greeter answers through the gateway');
is($r->{headers}{'content-type'}, 'application/json', 'as JSON');
is($r->{headers}{'content-length'}, length $r->{content},
    'with its Content-Length (the header waited for the transcoded body)');

($code, $j) = call(POST => "$gw/customer/orders",
    '{"customer_id":"c9","limit":"2"}');
is($code, 200, 'customer: 200 (proto names and a string number accepted)');
is($j->{orders}[1]{id}, '9007199254740994', 'int64 out as a string');
is($j->{orders}[0]{status}, 'DELIVERED', 'enum by name');
is_deeply($j->{orders}[1]{labels}, { channel => 'web' }, 'map');
is($j->{orders}[0]{createdAt}, '2023-11-14T22:13:20Z', 'Timestamp');
is($j->{orders}[0]{items}[0]{price}{nanos}, 500000000, 'nested message');
is($j->{totalCount}, '1000000000000', 'int64 total');
ok(!exists $j->{orders}[0]{total}{nanos}, 'proto3 zero values left out');

# a reply many times the upstream buffer, transcoded whole, and the same
# passed through
($code, $j) = call(POST => "$gw/customer/orders",
    '{"customerId":"big","limit":100}');
is("$code " . scalar @{ $j->{orders} || [] } . " $j->{orders}[99]{id}",
    '200 100 9007199254741092', 'a 40 KB reply transcoded whole');
($code, $j) = call(POST => "$pass/customer/orders",
    '{"customerId":"big","limit":100}');
is("$code " . scalar @{ $j->{orders} || [] }, '200 100',
    'and passed through');

# GET: the query string as JSON, values read as JSON first
($code, $j) = call(GET => "$gw/customer/orders?customerId=c1&limit=1");
is($code, 200, 'GET with a query: 200');
is(scalar @{ $j->{orders} }, 1, 'limit=1 read as a number');

# a form body: its fields as the JSON object
$r = $t->http(POST => "$gw/customer/orders",
    content => 'customerId=c+2&limit=1',
    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
$j = eval { decode_json($r->{content}) } || {};
is("$r->{status} $j->{customerId} " . scalar @{ $j->{orders} || [] },
    '200 c 2 1', 'a form body: fields as JSON, + as a space')
    or diag($r->{content});


# --- passthrough: JSON to the service as is ------------------------------------

($code, $j) = call(POST => "$pass/test/test/echo",
    '{"text":"through","n":"5"}');
is($code, 200, 'passthrough: 200');
is_deeply([$j->{text}, $j->{n}, $j->{node}], ['through', '5', $s_addr],
    'the service decoded the JSON itself');

($code, $j) = call(GET => "$pass/test/test/echo?text=q&n=7");
is("$code $j->{text} $j->{n}", '200 q 7', 'passthrough GET query');
($code, $j) = call(GET => "$pass/test/test/echo?text=a%20b&n=%2242%22");
is("$code $j->{text} $j->{n}", '200 a b 42',
    'query values read as JSON first ("42"), else as strings');

# a long value (qson kept 4 KB and dropped what was longer; NGINX takes
# request lines up to 8 KB), and '+' as a space where %2B is a plus (qson
# made both spaces)
my $long = 'x' x 6000;
($code, $j) = call(GET => "$pass/test/test/echo?text=$long");
is("$code " . length($j->{text} // ''), '200 6000',
   'a 6,000-byte query value reaches the service whole');
($code, $j) = call(GET => "$pass/test/test/echo?text=a+b%2Bc");
is("$code $j->{text}", '200 a b+c', "'+' is a space, %2B a plus");

# qson's nesting: a[b]=1 makes an object, a[]=x appends to an array
($code, $j) = call(GET => "$pass/test/test/echo?bag[tags][color]=red"
    . "&bag[tags][size]=L&bag[items][]=one&bag[items][]=two&text=t");
is($code, 200, 'a nested query: 200');
is_deeply($j->{bag}, { tags => { color => 'red', size => 'L' },
                       items => ['one', 'two'] },
          'a[b][c]=v nests objects, a[b][]=x appends in order');
$r = $t->http(POST => "$pass/test/test/echo",
    content => 'bag%5Btags%5D%5Bk%5D=v&bag%5Bitems%5D%5B%5D=x',
    headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
is_deeply((eval { decode_json($r->{content}) } || {})->{bag},
          { tags => { k => 'v' }, items => ['x'] },
          'the same in a form body, brackets escaped')
    or diag($r->{content});


# --- request ids and metadata --------------------------------------------------------

($code, $j, $r) = call(POST => "$pass/test/test/echo", '{}',
    'Micro-Id' => 'trace-42');
is($j->{id}, 'trace-42', "a client's Micro-Id reaches the service");
is($r->{headers}{'micro-id'}, 'trace-42', 'and comes back');
($code, $j, $r) = call(POST => "$pass/test/test/echo", '{}');
like($j->{id} // '', qr/^[0-9a-f]{32}$/, 'without one, the gateway makes one');
is($r->{headers}{'micro-id'}, $j->{id}, 'the same it returns');

# the client's headers reach the service as metadata, not the transport's
sub header_at_service {
    my ($name, %h) = @_;
    my ($c, $j) = call(POST => "$pass/test/test/header",
                       encode_json({ text => $name }), %h);
    return $c == 200 ? $j->{text} // '' : "status $c";   # "" is left out
}
is(header_at_service('Authorization', Authorization => 'Bearer t0k'),
   'Bearer t0k', 'a client header reaches the service as metadata');
is(header_at_service('X-Tenant', 'X-Tenant' => 'acme'), 'acme',
   'another one');
is(header_at_service('Micro-Endpoint', 'Micro-Endpoint' => 'Test.Fail'),
   'Test.Header', 'a client cannot choose the endpoint (Micro-* dropped)');
is(header_at_service('X-Micro-Endpoint', 'X-Micro-Endpoint' => 'Test.Fail'),
   '', 'nor by X-Micro-*');
is(header_at_service('Content-Type'), 'application/json',
   'Content-Type is the call\'s own');

# --- errors ---------------------------------------------------------------------------

sub error_is {
    my ($method, $url, $body, $want_code, $want_detail, $name, %h) = @_;
    my ($c, $e, $resp) = call($method, $url, $body, %h);
    is($c, $want_code, "$name: $want_code");
    like($e->{detail} // '', $want_detail, "$name: detail");
    is($e->{code}, $want_code, "$name: go-micro error JSON");
    is($resp->{headers}{'content-type'}, 'application/json', "$name: JSON");
}

error_is(POST => "$gw/greeter/say/hello", '{"name":', 400,
    qr/unexpected end of JSON/, 'malformed JSON');
error_is(POST => "$gw/greeter/say/hello", '{"nmae":"x"}', 400,
    qr/unknown field "nmae"/, 'unknown field');
error_is(POST => "$gw/greeter/say/hello", '{"name":1}', 400,
    qr/field "name": expected a string/, 'wrong type');
error_is(POST => "$gw/greeter/say/hello", '{}', 400,
    qr/^name is required$/, "the service's own error");
error_is(POST => "$gw/nobody/here", '{}', 404,
    qr/^service not found: go\.micro\.srv\.nobody$/,
    'unknown service (named, as resolved)');
error_is(POST => "$gw/foo_bar/x", '{}', 404, qr/not found/,
    'a path that names no service');
error_is(POST => "$pass/test/test/nope", '{}', 404,
    qr/unknown endpoint Test\.Nope/, 'unknown endpoint');
error_is(OPTIONS => "$pass/greeter/say/hello", undef, 405,
    qr/method not allowed/, 'method not allowed');
error_is(POST => "$gw/greeter/say/hello", '{"name":"' . ('x' x 2000) . '"}',
    413, qr/too large/, 'over client_max_body_size');
error_is(POST => "$gw/test/test/sleep", '{"ms":3000}', 504,
    qr/did not answer in time/, 'a service slower than micro_read_timeout');

# a node's own refusal of a body over its limit is its answer: the 413
# passes through, and is no failure of the node (5 of them, where 3
# failures would put it aside)
my (undef, $small) = $t->service('testsrv', '--name', 'go.micro.srv.small',
    '--max-body', 1000);
ok(MicroTest::wait_until(sub { (call(GET => "$gw/registry"))[1]{services}
    {'go.micro.srv.small'} }, 'small'), 'a node with a 1000-byte body limit');
my @refused;
for my $size (5_000, 100_000, 1_000_000, 4_000_000, 4_000_000) {
    my ($c, $e) = call(POST => "$pass/small/test/echo",
                       '{"text":"' . ('x' x $size) . '"}');
    push @refused, ($c == 413 && ($e->{detail} // '')
                    =~ /^request body of \d+ bytes is over the limit of 1000$/)
                   ? 'refused' : "$c " . ($e->{detail} // '');
}
is_deeply(\@refused, [ ('refused') x 5 ],
          "bodies of 5 kB to 4 MB: the node's own 413 and detail, each time");
($code, $j) = call(POST => "$pass/small/test/echo", '{"text":"fits"}');
is("$code $j->{text}", '200 fits', 'then a body within the limit: 200');
unlike(MicroTest::read_file($t->dir . '/error.log'),
       qr/node \Q$small\E of go\.micro\.srv\.small put aside/,
       'the node was not put aside for its refusals');

# a registered node that is gone
$t->micro('register', 'service', encode_json({ name => 'go.micro.srv.ghost',
    version => '1', nodes => [{ id => 'g', address => '127.0.0.1:1' }] }));
ok(MicroTest::wait_until(sub { (call(GET => "$gw/registry"))[1]{services}
    {'go.micro.srv.ghost'} }, 'ghost'), 'a dead node is registered');
error_is(POST => "$gw/ghost/x", '{}', 502, qr/no node .* could be reached/,
    'no node reachable');

# a node whose reply is not the endpoint's message: 502, not a broken 200
my $liar_port = MicroTest::free_port();
my $liar = fork() // die;
if ($liar == 0) {
    my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$liar_port",
        Listen => 8, ReuseAddr => 1) or POSIX::_exit(1);
    while (my $c = $l->accept) {
        local $/ = "\r\n\r\n";
        my $head = <$c> // next;
        my ($len) = $head =~ /Content-Length: (\d+)/i;
        read($c, my $body, $len || 0);
        print $c "HTTP/1.1 200 OK\r\nContent-Type: application/protobuf\r\n"
            . "Content-Length: 2\r\n\r\n\x0a\x09";
        close $c;
    }
    POSIX::_exit(0);
}
$t->{procs}{$liar} = 'liar';
$t->micro('register', 'service', encode_json({ name => 'go.micro.srv.liar',
    version => '1', nodes => [{ id => 'l', address => "127.0.0.1:$liar_port" }] }));
ok(MicroTest::wait_until(sub { (call(GET => "$gw/registry"))[1]{services}
    {'go.micro.srv.liar'} }, 'liar'), 'a node that sends garbage is registered');
error_is(POST => "$gw/liar/say/hello", '{"name":"x"}', 502,
    qr/reply that does not parse/, 'a reply that does not parse');

# retry safety: two nodes that read the call and drop the connection.
# A POST reached a node, so it is not sent to the other (one call in
# the record); a GET is safe to repeat, so NGINX tries the second node.
my $record = $t->dir . '/dropped';
for my $n (qw(d1 d2)) {
    $t->micro('register', 'service', encode_json({ name => 'go.micro.srv.drop',
        version => '1', nodes => [{ id => $n,
        address => $t->dropping_node($n, $record) }] }));
}
ok(MicroTest::wait_until(sub {
    @{ (call(GET => "$gw/registry"))[1]{services}{'go.micro.srv.drop'}
       || [] } == 2 }, 'droppers'), 'two nodes that drop calls');
my $calls = sub { scalar(() = MicroTest::read_file($record) =~ /\n/g) };
error_is(POST => "$pass/drop/test/echo", '{}', 502, qr/./,
    'a node that drops a POST');
is($calls->(), 1, 'the POST went to one node only: not repeated');
($code) = call(GET => "$pass/drop/test/echo");
is($code, 502, 'a GET both nodes drop: 502');
is($calls->(), 3, 'after trying each node once');

# the limits the README states: Micro-Id up to 128 bytes, 16 labels
(undef, undef, $r) = call(POST => "$pass/test/test/echo", '{}',
    'Micro-Id' => 'i' x 128);
is($r->{headers}{'micro-id'}, 'i' x 128, 'a Micro-Id of 128 bytes is kept');
(undef, undef, $r) = call(POST => "$pass/test/test/echo", '{}',
    'Micro-Id' => 'i' x 129);
like($r->{headers}{'micro-id'}, qr/^[0-9a-f]{32}$/,
     'a longer one is replaced by a new id');
my @sixteen = map { "k$_=v" } 1 .. 16;
($code) = call(POST => "$gw/greeter/say/hello", '{"name":"l"}',
    'X-Micro-Label' => join(',', @sixteen));
is($code, 503, '16 labels are read (no node has them: 503)');
($code) = call(POST => "$gw/greeter/say/hello", '{"name":"l"}',
    'X-Micro-Label' => join(',', @sixteen, 'k17=v'));
is($code, 400, 'a 17th is refused: 400');

# micro_api_filter: only nodes of version 2
my ($v1_pid, $v1) = $t->service('testsrv', '--name', 'go.micro.srv.ver',
    '--version', '1');
my ($v2_pid, $v2) = $t->service('testsrv', '--name', 'go.micro.srv.ver',
    '--version', '2');
my $v2gw = 'http://127.0.0.1:' . $t->port('v2');
ok(MicroTest::wait_until(sub {
    my $st = (call(GET => "$gw/registry"))[1];
    @{ $st->{services}{'go.micro.srv.ver'} || [] } == 2 }, 'versions'),
    'two versions of a service');
my %by;
for (1 .. 20) {
    my ($c, $e) = call(POST => "$v2gw/ver/test/echo", '{}');
    $by{ $c == 200 ? $e->{node} : $c }++;
}
is_deeply(\%by, { $v2 => 20 }, 'micro_api_filter version=2: only v2 answers');
error_is(POST => "$v2gw/none/ver/test/echo", '{}', 503,
    qr/no node of the service matches micro_api_filter/,
    'a filter no node passes');

# micro_api_label_header: the request narrows the nodes by their labels.
# Version 3 has nodes of its own (labelled zone=eu and zone=us), so a
# call that reaches version 3 is told apart by the node that answers.
my %v3;
for my $zone (qw(eu us)) {
    my ($pid, $addr) = $t->service('testsrv', '--name', 'go.micro.srv.ver',
        '--version', '3');
    $v3{$zone} = $addr;
    $t->micro('register', 'service', encode_json({ name => 'go.micro.srv.ver',
        version => '3', nodes => [{ id => "zone-$zone", address => $addr,
        metadata => { zone => $zone } }] }));
}
ok(MicroTest::wait_until(sub {
    my $st = (call(GET => "$gw/registry"))[1];
    @{ $st->{services}{'go.micro.srv.ver'} || [] } == 6 }, 'zones'),
    'nodes with zone labels');
for my $case ([ 'zone=eu', { $v3{eu} => 12 } ],
    [ ' zone=us ; version=3', { $v3{us} => 12 } ],
    [ 'version=1', { $v1 => 12 } ])
{
    my %at;
    for (1 .. 12) {
        my ($c, $e) = call(POST => "$gw/ver/test/echo", '{}',
            'X-Micro-Label' => $case->[0]);
        $at{ $c == 200 ? $e->{node} : $c }++;
    }
    is_deeply(\%at, $case->[1], "X-Micro-Label: $case->[0]: only its nodes");
}
my %any;
for (1 .. 40) {
    my ($c, $e) = call(POST => "$gw/ver/test/echo", '{}');
    $any{ $c == 200 ? $e->{node} : $c }++;
}
is_deeply([ sort keys %any ], [ sort $v1, $v2, values %v3 ],
    'no label: every node');
error_is(POST => "$gw/ver/test/echo", '{}', 503,
    qr/matches micro_api_filter and the labels asked/, 'labels no node has',
    'X-Micro-Label' => 'zone=mars');
error_is(POST => "$gw/ver/test/echo", '{}', 400,
    qr/invalid labels in X-Micro-Label/, 'labels that do not parse',
    'X-Micro-Label' => 'zone');

# micro_selector_weights 1=90 2=10: a canary's share, over 2000 calls
# (binomial: 200 expected, sd 13; the bounds are 4.5 sd away)
my $ka = HTTP::Tiny->new(keep_alive => 1, timeout => 60);
my %w;
for (1 .. 2000) {
    my $res = $ka->request(POST => "$v2gw/w/ver/test/echo", { content => '{}',
        headers => { 'Content-Type' => 'application/json' } });
    my $node = $res->{status} == 200
        ? eval { decode_json($res->{content})->{node} } : undef;
    $w{ $node // "status $res->{status}" }++;
}
is_deeply([ sort keys %w ], [ sort $v1, $v2 ],
    'weights: only versions 1 and 2 (never the nodes of 3)');
ok(($w{$v2} // 0) >= 140 && ($w{$v2} // 0) <= 260,
    "weights 1=90 2=10: version 2 took " . ($w{$v2} // 0) . " of 2000");
my %g;
for (1 .. 10) {
    my ($c, $e) = call(POST => "$v2gw/gone/ver/test/echo", '{}');
    $g{$c}++;
}
is_deeply(\%g, { 200 => 10 }, 'weights for a version with no nodes: any node');

# --- services come and go while NGINX runs ------------------------------------------

my ($n_pid, $n_addr) = $t->service('testsrv', '--name', 'go.micro.srv.late');
ok(MicroTest::wait_until(sub {
    my ($c) = call(POST => "$pass/late/test/echo", '{}');
    $c == 200 }, 'late service'), 'a service registered while NGINX runs '
    . 'becomes routable');
$t->stop($n_pid, 'TERM');          # deregisters on the way out
ok(MicroTest::wait_until(sub {
    my ($c) = call(POST => "$pass/late/test/echo", '{}');
    $c == 404 }, 'late service gone'), 'one deregistered stops receiving '
    . 'traffic');

# --- keepalive to nodes, failover when a node dies ------------------------------------

my ($gport) = $g_addr =~ /:(\d+)$/;
for (1 .. 40) {
    call(POST => "$gw/greeter/say/hello", '{"name":"k"}');
}
my $conns = MicroTest::connections_to($gport);
ok($conns >= 1 && $conns <= 2,
    "40 calls reuse kept connections (the greeter sees $conns, one a worker)");

my ($a_pid, $a_addr) = $t->service('testsrv', '--name', 'go.micro.srv.pair');
my ($b_pid, $b_addr) = $t->service('testsrv', '--name', 'go.micro.srv.pair');
ok(MicroTest::wait_until(sub {
    my $st = (call(GET => "$gw/registry"))[1];
    @{ $st->{services}{'go.micro.srv.pair'} || [] } == 2 }, 'pair'),
    'two nodes of one service');
my %seen;
for (1 .. 20) {
    my ($c, $e) = call(POST => "$pass/pair/test/echo", '{}');
    $seen{ $e->{node} }++ if $c == 200;
}
is(scalar keys %seen, 2, 'both nodes get calls');
$t->stop($a_pid, 'KILL');              # still in the registry, but dead
my $failed = 0;
for (1 .. 30) {
    my ($c) = call(POST => "$pass/pair/test/echo", '{}');
    $failed++ if $c != 200;
}
is($failed, 0, 'a node killed: no failed request, the other node answers');
# a node killed in the middle of a load of GETs (safe to repeat, so NGINX
# retries them on the other node): no failed request
my ($c_pid, $c_addr) = $t->service('testsrv', '--name', 'go.micro.srv.pair');
ok(MicroTest::wait_until(sub {
    my $st = (call(GET => "$gw/registry"))[1];
    @{ $st->{services}{'go.micro.srv.pair'} || [] } == 3 }, 'third node'),
    'a third node joins');
$failed = $t->under_load(300, sub {
    $_[0]->get("$pass/pair/test/echo?text=mid")->{status} == 200;
}, [100], sub { $t->stop($b_pid, 'KILL') });
is($failed, 0, 'a node killed mid-load: no failed request');

like(MicroTest::read_file($t->dir . '/error.log'),
    qr/micro: node \Q$a_addr\E of go\.micro\.srv\.pair put aside for 30000 ms after 3 failures/,
    'and the dead node is put aside after 3 failures');

# --- reload under load: no failed request ----------------------------------------------

# each reload is seen through: its two new workers start and answer
# requests of the load (the access log has their pid) before it ends
my $master = $t->nginx_master;
my $started = sub { [ MicroTest::read_file($t->dir . '/error.log')
                      =~ /start worker process (\d+)/g ] };
my $served_by = sub {
    my %pid = map { $_ => 1 } @_;
    return grep { /"POST \/greeter\/say\/hello .* pid=(\d+)$/ && $pid{$1} }
        split /\n/, MicroTest::read_file($t->dir . '/access.log');
};
my $reloads = 0;
$failed = $t->under_load(300, sub {
    $_[0]->request(POST => "$gw/greeter/say/hello",
        { content => '{"name":"load"}',
          headers => { 'Content-Type' => 'application/json' } })->{status}
        == 200;
}, [20, 140], sub {
    my $before = @{ $started->() };
    kill 'HUP', $master;
    my @new;
    MicroTest::wait_until(sub {
        @new = @{ $started->() }[$before .. $#{ $started->() }];
        @new >= 2 && $served_by->(@new) }, 'new workers serving');
    $reloads++ if @new >= 2 && $served_by->(@new);
});
is($failed, 0, 'two reloads under load: no failed request');
is($reloads, 2, 'and both reloads took place under it: their new workers '
   . 'answered requests of the load');

like(MicroTest::read_file($t->dir . '/access.log'),
    qr/service=go\.micro\.srv\.greeter endpoint=Say\.Hello node=\Q$g_addr\E upstream=200 id=[0-9a-f]{32}/,
    '$micro_service, $micro_endpoint, $micro_node and $micro_id in the access log');

# Redis killed (last: a restarted Redis is empty until heartbeats refill
# it): the gateway keeps routing from its snapshot
$t->redis_stop;
($code, $j) = call(POST => "$gw/greeter/say/hello", '{"name":"offline"}');
is("$code $j->{msg}", '200 Hello offline', 'redis down: still serving');
$t->redis(port => (split /:/, $t->redis_url)[2] =~ s{/0}{}r);
ok($t->every_worker("$gw/registry", 2, sub { $_[0]{registry}{connected} },
    'reconnect'), 'redis back: both workers reconnect');
# libmicro services see their registration gone and register again at
# once (a probe every second), not at their next heartbeat (TTL/3)
ok(MicroTest::wait_until(sub {
    ($t->micro('get', 'service', 'go.micro.srv.greeter'))[0] == 0 },
    'greeter back'), 'the greeter is in the restarted Redis again');
# "registered again" is written after the registration: wait for it
my $hb_log = $t->dir . "/greeter-" . (split /:/, $g_addr)[1] . '.log';
ok(MicroTest::wait_until(sub {
    MicroTest::read_file($hb_log) =~ /heartbeat: "go\.micro\.srv\.greeter" (is gone from the registry; registering it again|registered again)/
}, 'heartbeat log'), 'by its heartbeat noticing, which says so')
    or diag(MicroTest::read_file($hb_log));
my (undef, $back) = $t->service('testsrv', '--name', 'go.micro.srv.back');
ok($t->every_worker("$gw/registry", 2,
    sub { $_[0]{services}{'go.micro.srv.back'} }, 'followed again'),
    'and follow a service registered after it came back');
($code, $j) = call(POST => "$pass/back/test/echo", '{"text":"again"}');
is("$code $j->{node}", "200 $back", 'which is routable');

$t->done;
done_testing();
