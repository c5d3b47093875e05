#!/usr/bin/perl
# Registration to routable: the clock starts before a new node is
# registered (the micro CLI, its start-up included) and stops when the
# gateway answers with that node's real reply. Each node is the greeter at
# NODE_ADDRESS, registered again under a node id and a label of its own;
# the call asks for the label (X-Micro-Label: run=...), so until the
# gateway has followed the registration it answers 503, and after it the
# greeter answers "Hello x". Prints p50 and p99 over N nodes.
#
#   perl bench/routable.pl GATEWAY_URL NODE_ADDRESS [N]
#
# The gateway's location needs micro_api_namespace go.micro.srv and
# micro_api_label_header X-Micro-Label.

use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(sleep clock_gettime CLOCK_MONOTONIC);

my ($gw, $node, $n) = @ARGV;
$n ||= 100;
my $micro = ($ENV{MICRO_BUILD} || 'build') . '/bin/micro';
my ($host, $port) = $gw =~ m{^http://([^:/]+):(\d+)};
my @ms;

# One request in one write (HTTP::Tiny writes the body apart, and Nagle
# then adds 40 ms); returns the reply.
sub post {
    my ($label) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port)
        or die "connect: $!";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    my $body = '{"name":"x"}';
    print $s "POST /greeter/say/hello HTTP/1.1\r\nHost: x\r\n"
        . "Connection: close\r\nX-Micro-Label: run=$label\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body";
    local $/;
    my $reply = <$s>;
    close $s;
    return $reply // '';
}

sub node_json {
    my ($label) = @_;
    return encode_json({ name => 'go.micro.srv.greeter', version => '1',
        nodes => [{ id => "routable-$label", address => $node,
                    metadata => { run => $label } }] });
}

for my $i (1 .. $n) {
    my $label = "$$-$i";
    my $t0 = clock_gettime(CLOCK_MONOTONIC);
    system($micro, 'register', 'service', node_json($label), '--ttl', '60s')
        == 0 or die "register failed";
    my $routed;
    for (1 .. 20000) {
        last if $routed = post($label) =~ /\{"msg":"Hello x"\}/;
        sleep 0.0005;
    }
    die "node $label never became routable\n" unless $routed;
    push @ms, (clock_gettime(CLOCK_MONOTONIC) - $t0) * 1000;
    system($micro, 'deregister', 'service', node_json($label)) == 0
        or die "deregister failed";
}
@ms = sort { $a <=> $b } @ms;
printf "registration to routable (%d nodes, CLI start-up included): "
    . "p50 %.1f ms, p99 %.1f ms\n", $n, $ms[int($n / 2)],
    $ms[int($n * 0.99) - ($n >= 100 ? 0 : 1)];
