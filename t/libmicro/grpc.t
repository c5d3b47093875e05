#!/usr/bin/perl
# gRPC in libmicro against real peers: grpcio's client against a libmicro
# server (test/grpcsrv.c, registered from its service descriptor);
# libmicro's client (test/grpcpeer.c) against grpcio's server, grpc-go's
# and libmicro's own, by address and by name from the registry; the CLI's
# call, stream and health over gRPC; a server killed mid-stream and one
# stopped with streams open; bad HTTP/2 peers (t/peers/h2_hostile.py).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use IPC::Open3;
use JSON::PP;
use POSIX qw(WNOHANG);
use Symbol qw(gensym);
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;
my $py = '/usr/bin/python3';
my $peers = "$MicroTest::ROOT/t/peers";
my $gen = "$MicroTest::BUILD/test/py";
my $desc = "$MicroTest::BUILD/gen/shapes.pb";
my ($rc, $out, $err);

# The "ok - NAME" / "not ok - NAME: why" lines of a peer's run, as tests;
# every case it should have run must be there.
sub cases_pass {
    my ($who, $want, $output) = @_;
    my @lines = grep { /^(not )?ok - / } split /\n/, $output;
    for (@lines) {
        my ($not, $name, $why) = /^(not )?ok - ([^:]+)(?:: (.*))?$/;
        ok(!$not, "$who: $name") or diag($why // '');
    }
    is(scalar @lines, $want, "$who: all $want cases ran");
}

# micro stream with these input lines; (exit code, stdout, stderr).
sub micro_stream {
    my ($input, @args) = @_;
    my $e = gensym;
    my $pid = open3(my $in, my $o, $e, $t->valgrind_prefix('micro'),
                    "$MicroTest::BUILD/bin/micro", 'stream', @args);
    print $in $input;
    close $in;
    local $/;
    my ($so, $se) = (<$o> // '', <$e> // '');
    waitpid($pid, 0);
    return ($? >> 8, $so, $se);
}

sub registered {
    my ($name, $what) = @_;
    my $entry;
    MicroTest::wait_until(sub {
        my ($c, $o) = $t->micro('get', 'service', $name, '--json');
        $entry = $c == 0 ? eval { decode_json($o) } : undef;
        $entry && $what->($entry);
    }, "$name registered");
    return $entry;
}

# --- a libmicro server: registered, and called by grpcio ---------------------

my ($srv, $addr) = $t->service('grpcsrv', '--max-body', 8 << 20);
my $entry = registered('go.micro.srv.shapes', sub { @{$_[0]} });
my $svc = $entry->[0] // {};
is($svc->{nodes}[0]{metadata}{protocols}, 'mucp,grpc',
   'the node says it speaks mucp and gRPC on its one port');
my %eps = map { $_->{name} => $_ } @{$svc->{endpoints} // []};
is_deeply([sort grep { /^Shapes/ } keys %eps],
          [qw(Shapes.Chat Shapes.Count Shapes.Echo Shapes.Sum)],
          'every method of the descriptor is an endpoint');
is($eps{'Shapes.Count'}{metadata}{stream}, 'true', 'streams say stream=true');
is($eps{'Shapes.Echo'}{metadata}{stream}, 'false', 'unary ones false');
is($eps{'Shapes.Echo'}{request}{name}, 'EchoRequest',
   'with their request types');

$out = qx($py $peers/grpc_client.py $gen $addr 2>&1);
cases_pass('grpcio -> libmicro', 17, $out);

# the micro transport on the same port, as before
($rc, $out) = $t->micro('call', 'go.micro.srv.shapes', 'Shapes.Echo',
                        '{"shape":{"name":"mucp"}}');
is($rc, 0, 'the micro transport still answers on that port');
like($out, qr/"name":"mucp"/, 'with the reply');
($rc, undef, $err) = $t->micro('call', 'go.micro.srv.shapes', 'Shapes.Count',
                               '{"count":1}');
like($err, qr/"code":400.*is a stream: call it over gRPC/,
     'a stream over the micro transport is a clear 400');

# --- libmicro's client against grpcio, grpc-go and libmicro -------------------

my $pyport = MicroTest::free_port();
my $pysrv = $t->spawn('grpcio', $py, "$peers/grpc_shapes.py", $gen, $pyport);
ok(MicroTest::wait_until(sub { MicroTest::port_open($pyport) }, 'grpcio'),
   'the grpcio server is up');
my $goport = MicroTest::free_port();
my $gosrv = $t->spawn('grpc-go', "$MicroTest::BUILD/test/go/gshapes",
                      '--address', "127.0.0.1:$goport");
ok(MicroTest::wait_until(sub { MicroTest::port_open($goport) }, 'grpc-go'),
   'the grpc-go server is up');

my @vg = $t->valgrind_prefix('grpcpeer');
cases_pass('libmicro -> grpcio', 14,
           scalar qx(@vg $MicroTest::BUILD/test/grpcpeer 127.0.0.1:$pyport));
cases_pass('libmicro -> grpc-go', 14,
           scalar qx(@vg $MicroTest::BUILD/test/grpcpeer 127.0.0.1:$goport));
cases_pass('libmicro -> libmicro', 14,
           scalar qx(@vg $MicroTest::BUILD/test/grpcpeer $addr libmicro));

# --- by name from the registry, and the CLI ---------------------------------

for my $peer (['go.micro.srv.pyshapes', $pyport], ['go.micro.srv.goshapes',
                                                   $goport])
{
    ($rc, undef, $err) = $t->micro('register', 'service', encode_json({
        name => $peer->[0], version => '1',
        nodes => [{ id => "$peer->[0]-1", address => "127.0.0.1:$peer->[1]",
                    metadata => { protocol => 'grpc' } }] }));
    is($rc, 0, "$peer->[0] registered with protocol=grpc") or diag($err);
    ($rc, $out, $err) = $t->micro('call', $peer->[0],
        'micro.shapes.Shapes.Echo', '{"shape":{"name":"by name","mood":"SAD"}}',
        '--descriptors', $desc);
    is($rc, 0, "micro call finds $peer->[0] and speaks gRPC to it")
        or diag($err);
    like($out, qr/"name":"by name".*"mood":"SAD"/,
         'JSON in and out through the descriptor set');
    ($rc, $out, $err) = micro_stream("{\"count\":3}\n", $peer->[0],
        '/micro.shapes.Shapes/Count', '--descriptors', $desc);
    is($rc, 0, "micro stream to $peer->[0]") or diag($err);
    is($out, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n", 'replies as JSON lines');
}

for my $name (qw(go.micro.srv.pyshapes go.micro.srv.goshapes)) {
    ($rc, $out, $err) = $t->micro('health', $name);
    is($rc, 0, "micro health on a gRPC-only node: $name") or diag($err);
    like($out, qr/"status":"SERVING"/, 'asks grpc.health.v1');
}
($rc, $out) = $t->micro('health', 'go.micro.srv.shapes');
is($rc, 0, 'micro health on a libmicro node');
like($out, qr/"status":"ok"/, 'Debug.Health');

($rc, $out, $err) = micro_stream(
    join('', map { "{\"shape\":{\"name\":\"line $_\"}}\n" } 1 .. 3),
    'go.micro.srv.shapes', 'Shapes.Chat', '--protocol', 'grpc');
is($rc, 0, 'micro stream, bidirectional, to libmicro (grpc+json)')
    or diag($err);
is(() = $out =~ /"name":"line \d"/g, 3, 'each line answered');
($rc, $out, $err) = micro_stream("{\"count\":5,\"failAfter\":2}\n",
    'go.micro.srv.shapes', 'Shapes.Count');
is($rc, 1, 'a stream that fails exits 1');
is($out, "{\"n\":1}\n{\"n\":2}\n", 'after the replies it had');
like($err, qr/"code":412.*failed after 2/, 'with the go-micro error');

# --- a server killed mid-stream, one stopped with streams open --------------

sub stream_in_background {
    my ($name, $input, @args) = @_;
    my $in = $t->dir . "/$name.in";
    MicroTest::write_file($in, $input);
    return $t->spawn($name, 'sh', '-c', join(' ', map { "'$_'" }
        $t->valgrind_prefix($name), "$MicroTest::BUILD/bin/micro", 'stream',
        @args) . " < $in");
}

sub exited {
    my ($pid) = @_;
    my $status;
    MicroTest::wait_until(sub {
        waitpid($pid, WNOHANG) == $pid and $status = $? >> 8, 1
    }, "pid $pid exits") or return undef;
    delete $t->{procs}{$pid};
    return $status;
}

my ($victim, $vaddr) = $t->service('grpcsrv');
my $s1 = stream_in_background('killed', "{\"count\":100000,\"sleepMs\":20}\n",
    'go.micro.srv.shapes', 'Shapes.Count', '--address', $vaddr,
    '--protocol', 'grpc');
ok(MicroTest::wait_until(sub {
    MicroTest::read_file($t->dir . '/killed.log') =~ /"n":3/ }, 'replies'),
   'a long stream is under way');
kill 'KILL', $victim;
waitpid($victim, 0);
delete $t->{procs}{$victim};
is(exited($s1), 1, 'the server killed -9 mid-stream: the client ends, '
                   . 'with an error, no hang');
like(MicroTest::read_file($t->dir . '/killed.log'),
     qr/"code":5\d\d.*(closed|broke)/, 'saying the connection went');

my ($graceful, $gaddr) = $t->service('grpcsrv');
my $s2 = stream_in_background('graceful', "{\"count\":20,\"sleepMs\":50}\n",
    'go.micro.srv.shapes', 'Shapes.Count', '--address', $gaddr,
    '--protocol', 'grpc');
ok(MicroTest::wait_until(sub {
    MicroTest::read_file($t->dir . '/graceful.log') =~ /"n":2\b/ },
    'replies'), 'a stream is under way');
kill 'TERM', $graceful;
is(exited($s2), 0, 'SIGTERM with a stream open: the stream finishes');
is(() = MicroTest::read_file($t->dir . '/graceful.log') =~ /"n":\d+/g, 20,
   'every reply arrived');
is($t->stop($graceful, 'TERM'), 0, 'and the server exits cleanly after');

# --- bad peers ------------------------------------------------------------

my ($tough, $taddr) = $t->service('grpcsrv', '--read-timeout', 1,
                                  '--keepalive', 1);
my ($tport) = $taddr =~ /:(\d+)$/;
sub hostile { scalar qx($py $peers/h2_hostile.py $tport $_[0] 2>&1) }
like(hostile('garbage'), qr/^goaway [1-9]/,
     'garbage frames: GOAWAY with an error, connection closed');
like(hostile('bigframe'), qr/^goaway 6$/m,
     'a frame over the size limit: GOAWAY FRAME_SIZE_ERROR');
like(hostile('badpreface'), qr{^HTTP/1.1 400},
     'a preface that goes wrong: an HTTP/1.1 400');
like(hostile('headerflood'), qr/^grpc-status 8 request headers over/m,
     'a header flood: RESOURCE_EXHAUSTED');
like(hostile('unfinished'), qr/^grpc-status 4 request timeout/m,
     'a call never finished: DEADLINE_EXCEEDED after the read timeout');
like(hostile('silent'), qr/^closed$/m,
     'a peer that answers no keepalive ping is closed');
($rc, $out) = $t->micro('call', 'go.micro.srv.shapes', 'Shapes.Echo',
    '{"shape":{"name":"still here"}}', '--address', $taddr,
    '--protocol', 'grpc');
like($out, qr/still here/, 'and the server still serves');

$t->done;
done_testing();
