#!/usr/bin/perl
# micro_web, the web proxy: /{name}/rest to a node of go.micro.web.{name}
# as /rest. Real nginx, redis, the C example web service (examples/web, on
# libmicro's registry and heartbeat) and a third-party WebSocket client
# (python3-websockets).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use MicroTest;

my $PY = '/usr/bin/python3';

my $t = MicroTest->new;
$t->redis;

my ($a_pid) = $t->service('web', '--name', 'demo', '--ttl', '60');
my ($blog_pid) = $t->service('web', '--name', 'blog');
my ($chat_pid) = $t->service('web', '--name', 'chat-room');

$t->nginx(<<'CONF');
%%MODULES%%
%%GLOBALS%%
worker_processes 1;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;

    server {
        listen 127.0.0.1:%%PORT_8082%%;

        location / {
            micro_web;
            proxy_read_timeout 60s;
        }
        location /apps/ {
            micro_web;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_sub%%;
        micro_web_resolver subdomain;

        location / {
            micro_web;
        }
    }

    server {
        listen 127.0.0.1:%%PORT_domain%%;
        micro_web_resolver subdomain;
        micro_web_domain apps.example.test;

        location / {
            micro_web;
        }
    }
}
CONF

my $port = $t->port('8082');
my $web = "http://127.0.0.1:$port";

sub call { $t->json_call(@_) }

# GET with a Host header of our own (HTTP::Tiny sets its own): (status,
# JSON of the reply)
sub host_get {
    my ($port, $host, $path) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 30) or die "connect: $!";
    print $s "GET $path HTTP/1.0\r\nHost: $host\r\n\r\n";
    my $reply = do { local $/; <$s> } // '';
    my ($status) = $reply =~ m{^HTTP/1\.\d (\d+)};
    my ($body) = $reply =~ /\r\n\r\n(.*)\z/s;
    return ($status // 0, eval { decode_json($body // '') } // {});
}

ok(MicroTest::wait_until(sub {
    (call(GET => "$web/demo/info"))[0] == 200
}, 'demo routable'), 'the demo app is routable through micro_web');

# --- requests as the web service sees them ---------------------------------

my ($status, $json, $r) = call(GET => "$web/demo/info?x=1&y=%20",
    undef, 'X-Forwarded-For' => '10.1.1.1');
is($status, 200, 'GET /demo/info: 200');
is($json->{service}, 'go.micro.web.demo', 'reaches go.micro.web.demo');
is($json->{path}, '/info?x=1&y=%20', 'as /info, with the query');
is($json->{base_path}, '/demo', 'X-Micro-Web-Base-Path: /demo');
is($json->{host}, "127.0.0.1:$port", 'Host: as the client sent it');
is($json->{x_forwarded_for}, '10.1.1.1, 127.0.0.1',
   'X-Forwarded-For: the client appended');
is($json->{x_forwarded_proto}, 'http', 'X-Forwarded-Proto');
is($json->{x_forwarded_host}, "127.0.0.1:$port", 'X-Forwarded-Host');

($status, $json) = call(GET => "$web/chat-room/info");
is("$status $json->{service}", '200 go.micro.web.chat-room',
   'a name with a hyphen');

($status, $json) = call(GET => "$web/apps/demo/info");
is("$status $json->{path} $json->{base_path}", '200 /info /apps/demo',
   'below a prefix location: the app after the prefix, base path with it');

$r = $t->http(GET => "$web/demo/");
is($r->{status}, 200, 'the app\'s page');
like($r->{content}, qr{<script src="/demo/app\.js"}, 'its links under the '
     . 'base path');
$r = $t->http(GET => "$web/demo/app.js");
like($r->{content}, qr/new WebSocket/, 'and its script');

my $body = join '', map { chr(($_ * 7) % 256) } 1 .. 200_000;
$r = $t->http(POST => "$web/demo/echo", content => $body);
ok($r->{status} == 200 && $r->{content} eq $body,
   'a 200 kB request body there and back');

# /{name} is the app's root without its slash: a redirect to it
my $no_redirect = HTTP::Tiny->new(max_redirect => 0, timeout => 30);
$r = $no_redirect->get("$web/demo?a=b");
is($r->{status}, 301, '/demo: 301');
like($r->{headers}{location} // '', qr{^http://127\.0\.0\.1:$port/demo/\?a=b$},
     'to /demo/, the query kept');

# --- a reply that streams ---------------------------------------------------

# the service sends two lines and holds the last until /stream/release:
# reading them before the release shows nothing waited for the whole
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Timeout => 30) or die "connect: $!";
print $s "GET /demo/stream HTTP/1.1\r\nHost: x\r\n\r\n";
my $got = '';
MicroTest::wait_until(sub {
    sysread($s, $got, 4096, length $got) if IO::Select->new($s)->can_read(1);
    $got =~ /line 2/;
}, 'the first lines');
like($got, qr/Transfer-Encoding: chunked.*line 1\n.*line 2\n/s,
     'a chunked reply arrives line by line, before the service finished');
unlike($got, qr/last/, 'and the last line is not there yet');
is($t->http(GET => "$web/demo/stream/release")->{content}, "released\n",
   'released');
MicroTest::wait_until(sub {
    sysread($s, $got, 4096, length $got) if IO::Select->new($s)->can_read(1);
    $got =~ /\r\n0\r\n\r\n\z/;
}, 'the end of the stream');
like($got, qr/last\n\r\n0\r\n\r\n\z/, 'then the rest and the end');
close $s;

# --- keepalive: the requests share connections to the node -----------------

my ($before) = (call(GET => "$web/demo/info"))[1]->{connections};
for (1 .. 20) {
    call(GET => "$web/demo/info");
}
my $after = (call(GET => "$web/demo/info"))[1];
cmp_ok($after->{connections} - $before, '<=', 1,
       '21 requests from 21 clients: at most one new connection to the node');
cmp_ok($after->{requests}, '>', 1, 'its connection served many');

# --- WebSocket ---------------------------------------------------------------

my $ws = "ws://127.0.0.1:$port/demo/ws";
my $out = `$PY $FindBin::Bin/../peers/ws_client.py $ws hello world 2>&1`;
is_deeply(eval { decode_json($out) }, ['hello', 'world', '0001ff'],
          'WebSocket: text and binary messages echoed through micro_web')
    or diag($out);

# --- resolvers ----------------------------------------------------------------

my $sub = $t->port('sub');
($status, $json) = host_get($sub, 'blog.example.com', '/info');
is("$status $json->{service}", '200 go.micro.web.blog',
   'subdomain: blog.example.com is go.micro.web.blog');
is("$json->{path}|$json->{base_path}", '/info|',
   'the whole path, no base path');
($status, $json) = host_get($sub, 'Room.Chat.example.com:80', '/info');
is("$status $json->{service}", '200 go.micro.web.chat-room',
   'room.chat.example.com: the labels reversed and joined, as micro v2');
($status, $json) = host_get($sub, '127.0.0.1', '/demo/info');
is("$status $json->{service} $json->{path}", '200 go.micro.web.demo /info',
   'an IP address for a host: the path resolver');
($status, $json) = host_get($sub, 'example.com', '/demo/info');
is("$status $json->{service}", '200 go.micro.web.demo',
   'the domain itself: the path resolver');

my $dom = $t->port('domain');
($status, $json) = host_get($dom, 'blog.apps.example.test', '/info');
is("$status $json->{service}", '200 go.micro.web.blog',
   'micro_web_domain: the labels in front of it');
($status, $json) = host_get($dom, 'blog.example.com', '/demo/info');
is("$status $json->{service}", '200 go.micro.web.demo',
   'another domain: the path resolver');

# --- unknown apps --------------------------------------------------------------

$r = $t->http(GET => "$web/nope/x", headers => { Accept => 'text/html' });
is($r->{status}, 404, 'an app not registered: 404');
like($r->{headers}{'content-type'}, qr{^text/html}, 'a page for a browser');
like($r->{content}, qr{<h1>service not found: go\.micro\.web\.nope</h1>},
     'saying which');
($status, $json) = call(GET => "$web/nope/x", undef,
                        Accept => 'application/json');
is($status, 404, 'asked for JSON: 404');
is_deeply($json, { id => 'go.micro.web', code => 404, status => 'Not Found',
                   detail => 'service not found: go.micro.web.nope' },
          'go-micro\'s error JSON');
$r = $t->http(GET => "$web/");
is($r->{status}, 404, '/ names no app: 404');
$r = $t->http(GET => "$web/%3Cb%3E/x");
is($r->{status}, 404, 'a name that cannot be one: 404');
unlike($r->{content}, qr/<b>/, 'nothing of it unescaped in the page');

# --- a node killed under load ----------------------------------------------

my ($b_pid) = $t->service('web', '--name', 'demo', '--ttl', '60');
ok(MicroTest::wait_until(sub {
    my %seen;
    $seen{(call(GET => "$web/demo/info"))[1]{node} // ''}++ for 1 .. 10;
    keys %seen == 2;
}, 'two demo nodes'), 'a second demo node answers');
my $failed = $t->under_load(60, sub {
    $_[0]->get("$web/demo/info")->{status} == 200;
}, [20], sub { $t->stop($b_pid, 'KILL') });
is($failed, 0, 'one of two nodes killed -9 (still registered) under 60 '
   . 'GETs: none failed');

$t->stop($a_pid, 'KILL');
($status, $json) = call(GET => "$web/demo/info", undef,
                        Accept => 'application/json');
is($status, 502, 'no node can be reached: 502');

# --- configuration errors ----------------------------------------------------

$t->nginx_stop;

my ($ok, $msg) = $t->nginx_test(<<'CONF', 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    server {
        location / { micro_web; }
    }
}
CONF
ok(!$ok && $msg =~ /"micro_web" directive needs "micro_registry" in the http block before it in .*bad\.conf:\d+/,
   'micro_web without a registry: nginx -t says so') or diag($msg);
($ok, $msg) = $t->nginx_test(<<'CONF', 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    micro_registry %%REDIS%%;
    micro_web_domain "bad domain";
}
CONF
ok(!$ok && $msg =~ /invalid domain "bad domain" in .*bad\.conf:\d+/,
   'an invalid micro_web_domain: nginx -t says where') or diag($msg);

$t->done;
done_testing();
