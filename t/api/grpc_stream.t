#!/usr/bin/perl
# Server-streaming methods through micro_api to gRPC servers (grpcio,
# grpc-go, libmicro): newline-delimited JSON read as it comes (the first
# message before the last is sent), server-sent events for Accept:
# text/event-stream, an error after messages as a last line or event, a
# node killed mid-stream, a stream that goes quiet past
# micro_read_timeout, and a client that goes away cancelling the call at
# the server. Real nginx, redis and servers.

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

my $servers = $t->shapes_servers;
my $gosrv = $servers->{'grpc-go'}{pid};
my $lmport = $servers->{libmicro}{port};

$t->nginx(<<"CONF");
%%MODULES%%
%%GLOBALS%%
worker_processes 1;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    micro_proto $MicroTest::BUILD/gen/shapes.pb;
    micro_read_timeout 10s;

    server {
        listen 127.0.0.1:%%PORT_gw%%;
        location / {
            micro_api;
        }
        location /quiet/ {
            rewrite ^/quiet(/.*)\$ \$1 break;
            micro_api;
            micro_read_timeout 500ms;
        }
    }
}
CONF
my $gwport = $t->port('gw');
my %servers = map { $_ => $servers->{$_}{path} } keys %$servers;

# A streaming request on a socket of its own; returns the socket after
# the reply's header, and the header.
sub open_stream {
    my ($path, $body, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$gwport",
                                  Timeout => 30) or die "connect: $!";
    print $s "POST $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . "Content-Type: application/json\r\n"
        . join('', map { "$_\r\n" } @headers)
        . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/ = "\r\n\r\n";
    my $head = <$s> // '';
    return ($s, $head);
}

# The chunked body's next data (one chunk), or undef at its end.
sub next_chunk {
    my ($s) = @_;
    local $/ = "\r\n";
    my $size = <$s> // return undef;
    $size =~ s/\r\n\z//;
    $size = hex($size);
    return undef if $size == 0;
    my $data = '';
    read($s, $data, $size - length($data), length($data))
        while length($data) < $size;
    <$s>;
    return $data;
}

sub all_chunks {
    my ($s) = @_;
    my $all = '';
    while (defined(my $c = next_chunk($s))) { $all .= $c }
    return $all;
}

ok(MicroTest::wait_until(sub {
    my ($s, $head) = open_stream('/goshapes/shapes/count', '{"count":1}');
    $head =~ m{^HTTP/1.1 200};
}, 'routable'), 'the streaming services are routable');

# --- NDJSON, read as it comes ---------------------------------------------------

for my $who (sort keys %servers) {
    my $p = $servers{$who};
    my ($s, $head) = open_stream("$p/shapes/count",
                                 '{"count":3,"sleepMs":1500}');
    like($head, qr{^HTTP/1.1 200}, "$who: a server stream answers 200");
    like($head, qr{Content-Type: application/x-ndjson}i,
         "$who: as newline-delimited JSON");
    like($head, qr{Transfer-Encoding: chunked}i, "$who: chunked");
    is(next_chunk($s), qq({"result":{"n":1}}\n),
       "$who: the first message is a line of its own");
    ok(!IO::Select->new($s)->can_read(0.5),
       "$who: it came while the server still had two to send");
    is(all_chunks($s), qq({"result":{"n":2}}\n{"result":{"n":3}}\n),
       "$who: then the others, each a line, and the end");
}

# --- server-sent events ---------------------------------------------------------

for my $who (sort keys %servers) {
    my ($s, $head) = open_stream("$servers{$who}/shapes/count",
                                 '{"count":2}', 'Accept: text/event-stream');
    like($head, qr{Content-Type: text/event-stream}i,
         "$who: Accept: text/event-stream gets events");
    like($head, qr{Cache-Control: no-cache}i, "$who: not to be cached");
    is(all_chunks($s), qq(data: {"n":1}\n\ndata: {"n":2}\n\n),
       "$who: a data: event for each message");
}

# --- errors mid-stream, and before any message -----------------------------------

for my $who (sort keys %servers) {
    my ($s) = open_stream("$servers{$who}/shapes/count",
                          '{"count":5,"failAfter":2}');
    my @lines = split /\n/, all_chunks($s);
    is(scalar @lines, 3, "$who: two messages and an error line");
    my $err = eval { decode_json($lines[2]) } // {};
    is($err->{error}{grpc_code}, 9, "$who: the error line has the gRPC code");
    is($err->{error}{http_code}, 400, "$who: and grpc-gateway's HTTP code");
    like($err->{error}{message}, qr/failed after 2/, "$who: and the message");

    ($s) = open_stream("$servers{$who}/shapes/count",
                       '{"count":5,"failAfter":2}',
                       'Accept: text/event-stream');
    like(all_chunks($s), qr/\A(data: .*\n\n){2}event: error\ndata: \{.*"grpc_code":9/s,
         "$who: over SSE, an error event");
}
{
    my ($status, $json) = $t->json_call(POST =>
        "http://127.0.0.1:$gwport/goshapes/shapes/count", '{"count":',
        'Content-Type' => 'application/json');
    is($status, 400, 'a stream whose request does not parse is 400');
}

# --- a quiet stream, a node killed mid-stream, a client that goes away -----------

{
    my ($s) = open_stream('/quiet/goshapes/shapes/count',
                          '{"count":3,"sleepMs":5000}');
    is(next_chunk($s), qq({"result":{"n":1}}\n), 'a slow stream starts');
    my $last = all_chunks($s);
    like($last, qr/"grpc_code":4.*sent nothing for 500 ms/,
         'and ends with DEADLINE_EXCEEDED when quiet past '
         . 'micro_read_timeout');
}
{
    my ($s) = open_stream('/lmshapes/shapes/count',
                          '{"count":1000,"sleepMs":100}');
    is(next_chunk($s), qq({"result":{"n":1}}\n), 'a long stream runs');
    close $s;
    ok(MicroTest::wait_until(sub {
        MicroTest::read_file($t->dir . "/grpcsrv-$lmport.log")
            =~ /Count cancelled after/
    }, 'the server told'), 'the client going away cancels the call at the '
                           . 'server');
}
{
    my ($s) = open_stream('/goshapes/shapes/count',
                          '{"count":1000,"sleepMs":100}');
    is(next_chunk($s), qq({"result":{"n":1}}\n), 'a stream from grpc-go');
    $t->stop($gosrv, 'KILL');
    my $rest = all_chunks($s);
    like($rest, qr/\{"error":\{[^\n]*"grpc_code":14[^\n]*\}\}\n\z/,
         'a node killed mid-stream: an UNAVAILABLE error line ends it');
}

$t->done;
done_testing();
