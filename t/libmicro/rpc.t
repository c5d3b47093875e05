#!/usr/bin/perl
# libmicro's RPC server and client, end to end with real processes: both
# codecs, every error status, a blocked handler not stalling others,
# pipelining in order, failover when a node is killed, graceful shutdown,
# the micro CLI's call and health, and the example services.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Select;
use JSON::PP;
use POSIX qw(WNOHANG);
use Socket qw(SOL_SOCKET SO_LINGER);
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;

my ($pid, $addr) = $t->service('testsrv');
my $dir = $t->dir;

sub call {
    my (%o) = @_;
    return $t->raw_call($o{address} || $addr, MicroTest::rpc_request(%o));
}

sub pb_varint {
    my ($v) = @_;
    my $s = '';
    while ($v >= 0x80) { $s .= chr(($v & 0x7f) | 0x80); $v >>= 7 }
    return $s . chr($v);
}

sub pb_string { my ($f, $s) = @_; chr($f << 3 | 2) . pb_varint(length $s) . $s }

# --- both codecs --------------------------------------------------------------

my ($code, $h, $body) = call(endpoint => 'Test.Echo',
    body => '{"text":"hi","n":"9007199254740993","data":"AAE="}');
is($code, 200, 'JSON call: 200');
is($h->{'content-type'}, 'application/json', 'JSON reply');
is_deeply(decode_json($body), { text => 'hi', n => '9007199254740993',
    data => 'AAE=', node => $addr }, 'JSON echoed, int64 as a string');

($code, $h, $body) = call(endpoint => 'Test.Echo',
    type => 'application/protobuf', body => pb_string(1, 'hi') . "\x10\x05",
    headers => ['Micro-Id: abc-1']);
is($code, 200, 'protobuf call: 200');
is($h->{'content-type'}, 'application/protobuf', 'protobuf reply');
is($body, pb_string(1, 'hi') . "\x10\x05" . pb_string(4, $addr)
    . pb_string(5, 'abc-1'),
    'protobuf echoed byte for byte');
is($h->{'micro-id'}, 'abc-1', 'Micro-Id comes back');

($code, undef, $body) = call(endpoint => 'Debug.Health', body => '{}');
is("$code $body", '200 {"status":"ok"}', 'Debug.Health');

# --- errors ----------------------------------------------------------------------

sub error_is {
    my ($o, $want_code, $want_detail, $name) = @_;
    my ($c, $hh, $b) = call(%$o);
    is($c, $want_code, "$name: $want_code");
    my $e = eval { decode_json($b) } || {};
    like($e->{detail} // '', $want_detail, "$name: detail");
    is($e->{code}, $want_code, "$name: code in the body");
    is_deeply(eval { decode_json($hh->{'micro-error'} // '') }, $e,
        "$name: Micro-Error header");
}

error_is({ endpoint => 'Test.Nope', body => '{}' }, 404,
    qr/^unknown endpoint Test\.Nope$/, 'unknown endpoint');
error_is({ endpoint => 'Test.Echo', service => 'go.micro.srv.other',
    body => '{}' }, 404, qr/not served here/, 'unknown service');
error_is({ endpoint => 'Test.Echo', body => '{"text":' }, 400,
    qr/^invalid request body: .*unexpected end of JSON/, 'malformed JSON');
error_is({ endpoint => 'Test.Echo', body => '{"nope":1}' }, 400,
    qr/unknown field "nope" in micro\.test\.EchoRequest/, 'unknown field');
error_is({ endpoint => 'Test.Echo', body => '{"n":true}' }, 400,
    qr/field "n": expected a number/, 'wrong type');
error_is({ endpoint => 'Test.Echo', type => 'application/protobuf',
    body => "\x0a\x09ab" }, 400, qr/not a micro\.test\.EchoRequest/,
    'undecodable protobuf');
error_is({ endpoint => 'Test.Echo', type => 'text/plain', body => 'x' }, 400,
    qr/unsupported Content-Type "text\/plain"/, 'unsupported Content-Type');
error_is({ endpoint => 'Test.Fail', body => '{"code":403,"detail":"no way"}' },
    403, qr/^no way$/, "a handler's own error");

($code, undef, $body) = $t->raw_call($addr,
    "GET / HTTP/1.1\r\nHost: x\r\nMicro-Endpoint: Test.Echo\r\n\r\n");
is($code, 405, 'GET: 405');
is(decode_json($body)->{id}, 'go.micro.server', 'from the server');

my ($small_pid, $small) = $t->service('testsrv', '--name', 'go.micro.srv.small',
    '--max-body', 1000);
($code, $h, $body) = call(address => $small, endpoint => 'Test.Echo',
    body => '{"text":"' . ('x' x 2000) . '"}');
is($code, 413, 'body over the limit: 413');
like(decode_json($body)->{detail}, qr/over the limit of 1000/, 'says the limit');
is($h->{connection}, 'close', 'and closes');

# refused before its body is read, a client still sending it gets the 413
# and can finish: the server reads and drops the rest before it closes
# (closing with the body unread reset the connection, and a reset can take
# the reply with it: a gateway sending a large body saw a 502)
{
    local $SIG{PIPE} = 'IGNORE';
    my $big = IO::Socket::INET->new(PeerAddr => $small) or die;
    print $big MicroTest::rpc_request(endpoint => 'Test.Echo',
        body => '') =~ s/Content-Length: 0/Content-Length: 4000000/r;
    ($code, $h) = MicroTest::read_response($big);
    is($code, 413, 'a body of 4 MB announced: 413 before it is sent');
    my ($sent, $failed) = (0, 0);
    for (1 .. 250) {
        my $n = syswrite($big, 'x' x 16000);
        if (defined $n) { $sent += $n } else { $failed = $!; last }
    }
    is("$sent $failed", '4000000 0',
       'the client writes its whole body after the 413, no reset');
    my $end = sysread($big, my $more, 1);
    is($end, 0, 'then the server closes: end of stream, not a reset');
    close $big;
}

# Malformed HTTP: 400, then the connection is closed.
my $s = IO::Socket::INET->new(PeerAddr => $addr) or die;
print $s "POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
($code, $h) = MicroTest::read_response($s);
is($code, 400, 'malformed HTTP: 400');
is($h->{connection}, 'close', 'with Connection: close');
is(scalar(<$s>), undef, 'and the connection is closed');
close $s;

# a client that pipelines many calls and resets the connection: the
# server's replies meet a reset socket (EPIPE), which must not kill it
{
local $SIG{PIPE} = 'IGNORE';                  # the test's own writes too
for (1 .. 5) {
    my $rst = IO::Socket::INET->new(PeerAddr => $addr) or last;
    print $rst join '', map { MicroTest::rpc_request(endpoint => 'Test.Echo',
        body => encode_json({ text => 'x' x 4000 })) } 1 .. 200;
    setsockopt($rst, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
    close $rst;                                   # RST, replies unread
}
}
ok(kill(0, $pid) && MicroTest::port_open((split /:/, $addr)[1]),
   'a client that pipelines and resets: the server goes on');

ok(kill(0, $pid), 'the server survived all of it');

# --- a blocked handler does not stall other connections --------------------------

my $gate = "$dir/gate1";
my $slow = IO::Socket::INET->new(PeerAddr => $addr) or die;
print $slow MicroTest::rpc_request(endpoint => 'Test.Block',
    body => encode_json({ text => $gate }));
($code, undef, $body) = call(endpoint => 'Test.Echo', body => '{"text":"quick"}');
is("$code " . decode_json($body)->{text}, '200 quick',
    'another call is answered while one handler is blocked');
ok(!IO::Select->new($slow)->can_read(0), 'the blocked call is still waiting');
MicroTest::write_file($gate, '');
($code, undef, $body) = MicroTest::read_response($slow);
is($code, 200, 'and completes once released');
close $slow;

# --- pipelined requests are answered in order -----------------------------------

# the second and third run while the first is held (Test.Touch leaves a
# file), and still their replies wait for the first's
$gate = "$dir/gate2";
my ($second, $third) = ("$dir/second", "$dir/third");
my $p = IO::Socket::INET->new(PeerAddr => $addr) or die;
print $p join '',
    MicroTest::rpc_request(endpoint => 'Test.Block',
        body => encode_json({ text => $gate, n => 60000 })),
    MicroTest::rpc_request(endpoint => 'Test.Touch',
        body => encode_json({ text => $second })),
    MicroTest::rpc_request(endpoint => 'Test.Touch',
        body => encode_json({ text => $third }));
ok(MicroTest::wait_until(sub { -e $second && -e $third }, 'touched'),
    'the requests after a held one are handled meanwhile');
ok(!IO::Select->new($p)->can_read(0.2),
    'but nothing is answered before the first request');
MicroTest::write_file($gate, '');
my @texts = map { (MicroTest::read_response($p))[2] } 1 .. 3;
is_deeply([map { decode_json($_)->{text} } @texts], [$gate, $second, $third],
    'three pipelined replies, in request order');

# keepalive: the same connection serves many requests
my @replies;
for my $i (1 .. 20) {
    print $p MicroTest::rpc_request(endpoint => 'Test.Echo',
        body => "{\"n\":$i}");
    my ($c, undef, $b) = MicroTest::read_response($p);
    push @replies, "$c " . ((eval { decode_json($b) } || {})->{n} // '-');
}
is_deeply(\@replies, [map { "200 $_" } 1 .. 20],
    'twenty more requests on it, each answered in turn');
my ($port) = $addr =~ /:(\d+)$/;
is(MicroTest::connections_to($port), 1, 'one connection served them all');
close $p;

# --- the CLI: call and health -------------------------------------------------------

my ($rc, $out, $err) = $t->micro('call', 'go.micro.srv.test', 'Test.Echo',
    '{"text":"via cli"}');
is($rc, 0, 'micro call exits 0') or diag($err);
is(decode_json($out)->{text}, 'via cli', 'and prints the reply');

($rc, $out, $err) = $t->micro('call', 'go.micro.srv.test', 'Test.Fail',
    '{"code":409,"detail":"taken"}');
is($rc, 1, 'an error reply exits 1');
is_deeply(decode_json($err), { id => 'go.micro.srv.test', code => 409,
    detail => 'taken', status => 'Conflict' }, 'with the error JSON on stderr');

($rc, $out) = $t->micro('call', 'go.micro.srv.test', 'Test.Echo', '{"text":"direct"}',
    '--address', $addr, '--metadata', 'Micro-Id=cli-7');
is(decode_json($out)->{text}, 'direct', 'call --address skips the registry');
is(decode_json($out)->{id}, 'cli-7', '--metadata reaches the service');
($rc, $out) = $t->micro('call', 'go.micro.srv.test', 'Test.Header',
    '{"text":"X-Tenant"}', '--metadata', 'X-Tenant=acme');
is(decode_json($out)->{text}, 'acme', 'any metadata, as a header');
($rc, undef, $err) = $t->micro('call', 'go.micro.srv.test', 'Test.Echo', '{}',
    '--metadata', 'Content-Length=0');
is($rc, 1, 'metadata may not set a header of the transport');
is((eval { decode_json($err) } || {})->{detail},
   'metadata "Content-Length" is the transport\'s own header', 'and says which');

($rc, undef, $err) = $t->micro('call', 'go.micro.srv.test', 'Test.Sleep',
    '{"ms":3000}', '--timeout', '200ms');
is($rc, 1, 'a call past its --timeout fails');
is((eval { decode_json($err) } || {})->{code}, 408, 'with 408') or diag($err);

($rc, undef, $err) = $t->micro('call', 'go.micro.srv.nothing', 'A.B', '{}');
is(decode_json($err)->{detail}, 'service go.micro.srv.nothing: not found',
    'unknown service');

($rc, $out) = $t->micro('health', 'go.micro.srv.test');
is($rc, 0, 'micro health exits 0');
like($out, qr/\Q$addr\E\t\t\{"status":"ok"\}/, 'and shows the node ok');

# --- failover: a node killed ------------------------------------------------------------

my ($a_pid, $a_addr) = $t->service('testsrv', '--name', 'go.micro.srv.fo');
my ($b_pid, $b_addr) = $t->service('testsrv', '--name', 'go.micro.srv.fo');
$t->stop($a_pid, 'KILL');
my %nodes;
my $failed = 0;
for (1 .. 12) {
    ($rc, $out) = $t->micro('call', 'go.micro.srv.fo', 'Test.Echo', '{}');
    $rc == 0 ? $nodes{ decode_json($out)->{node} }++ : $failed++;
}
is($failed, 0, 'no call fails while one of two nodes is dead');
is_deeply([keys %nodes], [$b_addr], 'the live node answered them all');
($rc, $out) = $t->micro('health', 'go.micro.srv.fo');
is($rc, 1, 'micro health reports the dead node');

# a call that reached a node is not repeated on another: two nodes that
# read it and drop the connection, one call in their record
my $record = "$dir/dropped";
for my $n (qw(d1 d2)) {
    $t->micro('register', 'service', encode_json({ name => 'go.micro.srv.drop',
        version => '1', nodes => [{ id => $n,
        address => $t->dropping_node($n, $record) }] }));
}
($rc, undef, $err) = $t->micro('call', 'go.micro.srv.drop', 'Test.Echo', '{}');
is($rc, 1, 'a node that drops the call: the call fails');
like(MicroTest::read_file($record), qr/^d[12]\n\z/,
     'after reaching one node only: not repeated');

# --- graceful shutdown ------------------------------------------------------------------

my ($g_pid, $g_addr) = $t->service('testsrv', '--name', 'go.micro.srv.grace');
$gate = "$dir/gate3";
my $inflight = IO::Socket::INET->new(PeerAddr => $g_addr) or die;
print $inflight MicroTest::rpc_request(endpoint => 'Test.Block',
    body => encode_json({ text => $gate }));
($code) = call(address => $g_addr, endpoint => 'Test.Echo', body => '{}');
is($code, 200, 'grace: serving');
kill 'TERM', $g_pid;
ok(MicroTest::wait_until(sub {
    my ($r) = $t->micro('get', 'service', 'go.micro.srv.grace');
    $r == 1 }, 'deregistration'), 'SIGTERM deregisters');
ok(!IO::Select->new($inflight)->can_read(0), 'while a call is in flight');
ok(kill(0, $g_pid), 'and the process waits for it');
MicroTest::write_file($gate, '');
($code, $h) = MicroTest::read_response($inflight);
is($code, 200, 'the in-flight call completes');
is($t->stop($g_pid, 'TERM') >> 8, 0, 'then it exits 0');

# --- the examples --------------------------------------------------------------------------

$t->service('greeter');
$t->service('customer');
($rc, $out) = $t->micro('call', 'go.micro.srv.greeter', 'Say.Hello',
    '{"name":"John"}');
is($out, "{\"msg\":\"Hello John\"}\n", 'greeter');
($rc, $out) = $t->micro('call', 'go.micro.api.customer', 'Customer.Orders',
    '{"customerId":"c7","limit":1}');
my $orders = decode_json($out);
is($orders->{orders}[0]{id}, '9007199254740993', 'customer: int64 id');
is($orders->{orders}[0]{createdAt}, '2023-11-14T22:13:20Z', 'Timestamp');
is($orders->{orders}[0]{status}, 'DELIVERED', 'enum');
is_deeply($orders->{orders}[0]{labels}, { channel => 'store' }, 'map');
is($orders->{orders}[0]{items}[0]{price}{units}, '10', 'nested int64');

# --- a foreign client: Python's standard library, by the README -----------------------

$out = `/usr/bin/python3 $FindBin::Bin/../peers/foreign_client.py $addr 2>&1`;
is($? >> 8, 0, 'the Python http.client caller succeeds') or diag($out);
like($out, qr/^json ok$/m, 'with JSON');
like($out, qr/^protobuf ok$/m, 'and with protobuf');
like($out, qr/^error ok$/m, 'and reads errors');

$t->done;
done_testing();
