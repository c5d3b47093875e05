#!/usr/bin/perl
# libmicro's server against clients that hold its connections: a request
# that trickles in is answered 408 after --read-timeout, a kept connection
# left idle is closed after --idle-timeout, beyond --max-connections new
# connections are closed at once while the open ones are still served,
# and with its file descriptors used up the service stays responsive to
# SIGTERM and deregisters. Real testsrv processes and redis.

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
local $ENV{MICRO_REGISTRY} = $t->redis_url;

# the idle timeout is far longer than the few steps a connection takes
# between its accept and its request, however slow the machine
my ($pid, $addr) = $t->service('testsrv', '--name', 'go.micro.srv.limits',
    '--read-timeout', '1', '--idle-timeout', '5');
my ($capped_pid, $capped) = $t->service('testsrv', '--name',
    'go.micro.srv.capped', '--max-connections', '8');

sub connect_to { IO::Socket::INET->new(PeerAddr => $_[0] // $addr) or die "connect: $!" }

# Whether the server closed s (EOF) within the harness's bound.
sub closed_by_server {
    my ($s) = @_;
    return MicroTest::wait_until(sub {
        IO::Select->new($s)->can_read(0.1) && !sysread($s, my $b, 4096) },
        'closed by the server');
}

# --- a request that never finishes: 408, then closed ------------------------

my $slow = connect_to();
my $head = MicroTest::rpc_request(endpoint => 'Test.Echo',
                                  body => '{"text":"' . ('x' x 100) . '"}');
print $slow substr($head, 0, length($head) - 20);    # the body cut short
my ($code, undef, $body) = MicroTest::read_response($slow);
is($code, 408, 'a request that stops half-way: 408 after --read-timeout');
like($body, qr/request timeout: the request did not arrive within 1000 ms/,
     'saying why');
ok(closed_by_server($slow), 'and the connection is closed');

# --- an idle kept connection: closed -----------------------------------------

my $kept = connect_to();
print $kept MicroTest::rpc_request(endpoint => 'Test.Echo',
                                   body => '{"text":"one"}');
($code) = MicroTest::read_response($kept);
is($code, 200, 'a call on a kept connection');
ok(closed_by_server($kept), 'left idle, it is closed after --idle-timeout');

my $silent = connect_to();
ok(closed_by_server($silent), 'so is one that never sends a request');

# --- max_connections ------------------------------------------------------------

my @held = map { connect_to($capped) } 1 .. 8;
# each answered once, so all eight are open on the server's side
for my $s (@held) {
    print $s MicroTest::rpc_request(endpoint => 'Test.Echo',
                                    body => '{"text":"held"}');
    ($code) = MicroTest::read_response($s);
    $code == 200 or die "held call: $code";
}
my $ninth = connect_to($capped);
ok(closed_by_server($ninth),
   'a ninth connection over --max-connections 8 is closed at once');
print { $held[0] } MicroTest::rpc_request(endpoint => 'Test.Echo',
                                          body => '{"text":"still"}');
($code, undef, $body) = MicroTest::read_response($held[0]);
is("$code $body", '200 {"text":"still","node":"' . $capped . '"}',
   'the open ones are still served');
close $_ for @held;
my $log = MicroTest::read_file($t->dir . '/testsrv-'
                               . (split /:/, $capped)[1] . '.log');
is(scalar(() = $log =~ /go\.micro\.srv\.capped: 8 connections open, the most max_connections allows; closing new ones/g),
   1, 'logged once');
ok(MicroTest::wait_until(sub {
    my $s = connect_to($capped);
    print $s MicroTest::rpc_request(endpoint => 'Test.Echo', body => '{}');
    (MicroTest::read_response($s))[0] == 200 }, 'served again'),
   'once they close, new connections are served again');

# --- out of file descriptors ------------------------------------------------

# a service with 32 descriptors and no connection limit of its own
my $fds_port = MicroTest::free_port();
my $fds_pid = $t->spawn('testsrv-fds', 'sh', '-c',
    "ulimit -n 32 && exec $MicroTest::BUILD/test/testsrv --name "
    . "go.micro.srv.fds --registry " . $t->redis_url
    . " --address 127.0.0.1:$fds_port --threads 2");
ok(MicroTest::wait_until(sub { MicroTest::port_open($fds_port) }, 'fds up'),
   'a service limited to 32 file descriptors');
my @flood = grep { $_ } map {
    IO::Socket::INET->new(PeerAddr => "127.0.0.1:$fds_port") } 1 .. 60;
ok(@flood >= 32, scalar(@flood) . ' connections opened against it');
# a window to measure in, not a wait for anything: a spinning thread
# burns the whole of it however fast the machine is
my $cpu0 = cpu_ticks($fds_pid);
select(undef, undef, undef, 3);
my $used = cpu_ticks($fds_pid) - $cpu0;
ok($used < 50, "its I/O threads do not spin on accept ($used ticks of CPU "
   . 'in 3 s; 300 would be one core)');
close $_ for @flood;
ok(MicroTest::wait_until(sub {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$fds_port")
        or return;
    print $s MicroTest::rpc_request(endpoint => 'Test.Echo', body => '{}');
    (MicroTest::read_response($s))[0] == 200 }, 'fds serves again'),
   'the descriptors back, it accepts and answers again');
my $status = $t->stop($fds_pid, 'TERM');
is($status, 0, 'SIGTERM stops it, with exit status 0');
my ($rc) = $t->micro('get', 'service', 'go.micro.srv.fds');
isnt($rc, 0, 'and it deregistered');

sub cpu_ticks {
    my ($p) = @_;
    my @f = split ' ', (MicroTest::read_file("/proc/$p/stat") // '');
    return ($f[13] // 0) + ($f[14] // 0);
}

$t->done;
done_testing;
