#!/usr/bin/perl
# Registration to routable: register a new service (the micro CLI), then
# call it through the gateway until the gateway routes it (the node
# answers, even if only to say the name is not its own). Prints p50 and p99
# over N services.
#
#   perl bench/routable.pl GATEWAY_URL NODE_ADDRESS [N]

use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);

my ($gw, $node, $n) = @ARGV;
$n ||= 100;
my $micro = ($ENV{MICRO_BUILD} || 'build') . '/bin/micro';
my ($host, $port) = $gw =~ m{^http://([^:/]+):(\d+)};
my @ms;

# One request in one write (HTTP::Tiny writes the body apart, and Nagle
# then adds 40 ms); returns the reply.
sub post {
    my ($path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port)
        or die "connect: $!";
    setsockopt($s, IPPROTO_TCP, TCP_NODELAY, 1);
    my $body = '{"name":"x"}';
    print $s "POST $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body";
    local $/;
    my $reply = <$s>;
    close $s;
    return $reply // '';
}

for my $i (1 .. $n) {
    my $name = "lat$$" . "x$i";
    system($micro, 'register', 'service', encode_json({
        name => "go.micro.srv.$name", version => '1',
        nodes => [{ id => "$name-1", address => $node }] }), '--ttl', '60s') == 0
        or die "register failed";
    my $t0 = time;
    for (1 .. 10000) {
        last if post("/$name/say/hello") !~ /"go\.micro\.api"/;
        sleep 0.0005;
    }
    push @ms, (time - $t0) * 1000;
}
@ms = sort { $a <=> $b } @ms;
printf "registration to routable (%d services): p50 %.1f ms, p99 %.1f ms\n",
    $n, $ms[int($n / 2)], $ms[int($n * 0.99) - ($n >= 100 ? 0 : 1)];
